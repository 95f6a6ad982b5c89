package notify

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/breachctl/breachctl/internal/safefile"
)

// ManifestFile is the outbox's index, one JSON object a line.
const ManifestFile = "manifest.jsonl"

// ManifestEntry is one line of manifest.jsonl: a rendered notice, or (with
// Rejected set and no path) a person who could not be sent one.
type ManifestEntry struct {
	UserID        string   `json:"user_id"`
	Locale        string   `json:"locale,omitempty"`
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	MessageID     string   `json:"message_id,omitempty"`
	SHA256        string   `json:"sha256,omitempty"`
	Path          string   `json:"path,omitempty"` // relative to the case's directory
	Rejected      string   `json:"rejected,omitempty"`
	// Kind and RefersTo for an update or a correction (absent for a
	// first notice).
	Kind     string `json:"kind,omitempty"`
	RefersTo string `json:"refers_to,omitempty"`
}

// Outbox writes rendered notices to DIR/<case id>/<file name> (0600, each
// written atomically; the name is FileName's) and indexes them in
// DIR/<case id>/manifest.jsonl, in the order they are given.
//
// manifest.jsonl never lists a notice whose file differs from it: NewOutbox
// removes the previous manifest before any notice is overwritten, and Close
// puts the new one in place (renamed, after the notices are synced) only
// when the render completed. While a render runs, and after one crashed,
// failed or was cancelled (Abort), there is no manifest.jsonl: render
// again. NewOutbox also removes the temporary files a killed render left,
// and holds the case directory (an advisory lock) until Close or Abort, so
// two renders never write one outbox at once.
//
// Files of people not written this time (no longer affected, or now
// rejected) stay until Prune removes them: call it after a complete
// render, never after an interrupted one. Its methods may be called from
// several goroutines; the manifest follows the order of the calls.
type Outbox struct {
	dir     string // DIR/<case id>
	mu      sync.Mutex
	tmp     *os.File
	w       *bufio.Writer
	unlock  func()
	written map[string]bool   // file names written
	folded  map[string]string // lower-cased file name -> user id (taken)
	seen    map[string]bool   // user ids
	closed  bool
	err     error
}

var caseIDRe = regexp.MustCompile(`^[a-z0-9-]+$`)

// NewOutbox prepares DIR/<case id> (directories created 0700): it takes the
// directory's lock, removes stale temporary files and the previous
// manifest.
func NewOutbox(dir, caseID string) (*Outbox, error) {
	if !caseIDRe.MatchString(caseID) || len(caseID) > 63 {
		return nil, fmt.Errorf("outbox: case id %q must match [a-z0-9-]+", caseID)
	}
	if dir == "" {
		return nil, errors.New("outbox: no directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	cdir := filepath.Join(dir, caseID)
	if err := os.Mkdir(cdir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if fi, err := os.Lstat(cdir); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("outbox: %s is not a directory", cdir)
	}
	if err := os.Chmod(cdir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	unlock, err := safefile.LockDir(cdir)
	if errors.Is(err, safefile.ErrLocked) {
		return nil, fmt.Errorf("outbox: %s is being written by another notify render: wait for it to end, or render to another --out", cdir)
	} else if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			unlock()
		}
	}()
	// A killed render's temporary files (whole notices: personal data).
	if _, err := safefile.RemoveTemps(cdir); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	// The previous manifest goes before any notice it lists is
	// overwritten, durably: a crash from here on leaves no manifest rather
	// than one whose hashes the files no longer have.
	if err := os.Remove(filepath.Join(cdir, ManifestFile)); err == nil {
		if err := syncDir(cdir); err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("outbox: remove the previous manifest: %w", err)
	}
	tmp, err := os.CreateTemp(cdir, "."+ManifestFile+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("outbox: %w", err)
	}
	ok = true
	return &Outbox{dir: cdir, tmp: tmp, w: bufio.NewWriterSize(tmp, 64<<10), unlock: unlock,
		written: map[string]bool{}, folded: map[string]string{}, seen: map[string]bool{}}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported for directories everywhere
	return nil
}

// Dir returns DIR/<case id>.
func (o *Outbox) Dir() string { return o.dir }

// Write stores m under FileName(m.UserID) and adds its manifest line.
func (o *Outbox) Write(m *Message) error {
	if reason := badUserID(m.UserID); reason != "" {
		return fmt.Errorf("outbox: %s", reason)
	}
	sum := sha256.Sum256(m.Raw)
	name, err := o.begin(m.UserID, true)
	if err != nil {
		return err
	}
	// Not synced one by one (that cost a millisecond each): Close syncs the
	// file system once before the manifest that lists them is put in place.
	if err := safefile.WriteUnsynced(filepath.Join(o.dir, name), func(w io.Writer) error {
		_, err := w.Write(m.Raw)
		return err
	}); err != nil {
		return o.fail(fmt.Errorf("outbox: notice for user %s: %w", quoteID(m.UserID), err))
	}
	jur := m.Jurisdictions
	if jur == nil {
		jur = []string{}
	}
	e := ManifestEntry{UserID: m.UserID, Locale: m.Locale, Jurisdictions: jur,
		MessageID: m.MessageID, SHA256: hex.EncodeToString(sum[:]), Path: name}
	if m.Kind != "" && m.Kind != "first" {
		e.Kind, e.RefersTo = m.Kind, m.RefersTo
	}
	return o.add(name, e)
}

// Reject records that userID gets no notice, and why (a RecipientError's
// Reason: never an address or name).
func (o *Outbox) Reject(userID, reason string) error {
	if _, err := o.begin(userID, false); err != nil {
		return err
	}
	if reason == "" {
		reason = "rejected"
	}
	return o.add("", ManifestEntry{UserID: userID, Rejected: reason})
}

// begin claims userID and, for a notice, its file name: FileName's, or,
// when a file name differing only in case is already taken in this render
// (one file on a case-insensitive file system), the hashed form, which
// no other id shares in any case.
func (o *Outbox) begin(userID string, file bool) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return "", errors.New("outbox: closed")
	case o.err != nil:
		return "", o.err
	case o.seen[userID]:
		return "", fmt.Errorf("outbox: user %s given twice", quoteID(userID))
	}
	o.seen[userID] = true
	if !file {
		return "", nil
	}
	name := FileName(userID)
	if _, taken := o.folded[strings.ToLower(name)]; taken {
		name = hashedFileName(userID)
	}
	o.folded[strings.ToLower(name)] = userID
	return name, nil
}

func (o *Outbox) fail(err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		o.err = err
	}
	return err
}

func (o *Outbox) add(file string, e ManifestEntry) error {
	var v any = e
	if e.Rejected == "" {
		// Every field, jurisdictions even when empty.
		v = struct {
			UserID        string   `json:"user_id"`
			Locale        string   `json:"locale"`
			Jurisdictions []string `json:"jurisdictions"`
			MessageID     string   `json:"message_id"`
			SHA256        string   `json:"sha256"`
			Path          string   `json:"path"`
		}{e.UserID, e.Locale, e.Jurisdictions, e.MessageID, e.SHA256, e.Path}
	}
	// Message-IDs keep their <angle brackets> readable (no \u003c).
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return o.fail(fmt.Errorf("outbox: %w", err))
	}
	line := buf.Bytes()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return o.err
	}
	if file != "" {
		o.written[file] = true
	}
	if _, err := o.w.Write(line); err != nil {
		o.err = fmt.Errorf("outbox: manifest: %w", err)
		return o.err
	}
	return nil
}

// Close completes the manifest and renames it into place, after syncing
// the notices it lists; call it after a complete render (Abort after an
// interrupted one). After a failed Write, Close discards the new manifest
// and returns the failure: the outbox then has no manifest. Close releases
// the outbox's lock.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	defer o.unlock()
	discard := func(err error) error {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
		return err
	}
	if o.err != nil {
		return discard(o.err)
	}
	if err := o.w.Flush(); err != nil {
		return discard(fmt.Errorf("outbox: manifest: %w", err))
	}
	if err := safefile.SyncFS(o.dir); err != nil {
		return discard(fmt.Errorf("outbox: %w", err))
	}
	if err := o.tmp.Sync(); err != nil {
		return discard(fmt.Errorf("outbox: manifest: %w", err))
	}
	if err := o.tmp.Close(); err != nil {
		return discard(fmt.Errorf("outbox: manifest: %w", err))
	}
	if err := os.Rename(o.tmp.Name(), filepath.Join(o.dir, ManifestFile)); err != nil {
		return discard(fmt.Errorf("outbox: manifest: %w", err))
	}
	_ = syncDir(o.dir) // make the renames durable
	return nil
}

// Abort ends an interrupted render: the new manifest is discarded (the
// outbox has none until a render completes), the notices written so far
// stay, and the lock is released. It is a no-op after Close.
func (o *Outbox) Abort() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	defer o.unlock()
	o.tmp.Close()
	if err := os.Remove(o.tmp.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Prune removes the .eml files this outbox did not write: the notices of
// people no longer affected (or now rejected) from an earlier render, so
// that the directory matches the manifest. Call it only after a complete
// render, preferably before Close (while the outbox is locked); it returns
// the names of the files it removed.
func (o *Outbox) Prune() ([]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return nil, fmt.Errorf("outbox: not pruned after a failed write: %w", o.err)
	}
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	var removed []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, ".eml") || strings.HasPrefix(n, ".") || o.written[n] {
			continue
		}
		if o.sameAsWritten(n) {
			continue // n is a written file, spelt in another case (a case-insensitive file system)
		}
		if err := os.Remove(filepath.Join(o.dir, n)); err != nil {
			return removed, fmt.Errorf("outbox: remove stale notice %s: %w", n, err)
		}
		removed = append(removed, n)
	}
	return removed, nil
}

// sameAsWritten reports whether the directory entry n is the very file of a
// name written in this render that differs from n only in case.
func (o *Outbox) sameAsWritten(n string) bool {
	id, ok := o.folded[strings.ToLower(n)]
	if !ok {
		return false
	}
	w := FileName(id)
	if !o.written[w] {
		w = hashedFileName(id)
	}
	a, err1 := os.Stat(filepath.Join(o.dir, n))
	b, err2 := os.Stat(filepath.Join(o.dir, w))
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// maxStem bounds a notice's file name before ".eml" (file systems allow
// 255 bytes).
const maxStem = 200

// FileName is the name of userID's notice in the outbox: the id itself
// plus ".eml" when it is an ordinary portable name (1 to 200 bytes of
// [A-Za-z0-9._-], not starting with a dot, not a Windows device name such
// as CON or NUL); else "%" and the id with every byte outside
// [A-Za-z0-9_-] written %XX (upper-case hex); and when that would pass 200
// bytes, "%", the start of that escaped form, "=" and 32 hex digits of the
// id's SHA-256. An ordinary name has no "%", an escaped one no "=", so no
// two ids share a name. The manifest gives each id's path; an id whose
// name differs only in case from another's in the same render (one file on
// macOS or Windows) is written under the hashed form instead.
func FileName(userID string) string {
	if plainFileName(userID) {
		return userID + ".eml"
	}
	if esc, whole := escapeID(userID, maxStem-1); whole {
		return "%" + esc + ".eml"
	}
	return hashedFileName(userID)
}

func hashedFileName(userID string) string {
	esc, _ := escapeID(userID, 64)
	sum := sha256.Sum256([]byte(userID))
	return "%" + esc + "=" + hex.EncodeToString(sum[:16]) + ".eml"
}

func plainFileName(id string) bool {
	if id == "" || len(id) > maxStem || id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(portableByte(c) || c == '.') {
			return false
		}
	}
	base, _, _ := strings.Cut(id, ".")
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return false
	}
	if len(base) == 4 && base[3] >= '0' && base[3] <= '9' {
		if p := strings.ToUpper(base[:3]); p == "COM" || p == "LPT" {
			return false
		}
	}
	return true
}

func portableByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// escapeID percent-escapes id's bytes outside [A-Za-z0-9_-] while the
// result stays within limit bytes; whole says whether all of id fit.
func escapeID(id string, limit int) (esc string, whole bool) {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		c := id[i]
		n := 1
		if !portableByte(c) {
			n = 3
		}
		if b.Len()+n > limit {
			return b.String(), false
		}
		if n == 1 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String(), true
}
