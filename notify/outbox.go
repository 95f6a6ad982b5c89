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
}

// Outbox writes rendered notices to DIR/<case id>/<user id>.eml (0600, each
// written atomically) and indexes them in DIR/<case id>/manifest.jsonl, in
// the order they are given. The manifest is written to a temporary file and
// renamed into place by Close, so a reader sees the old manifest or the
// complete new one. Files of people not written this time (no longer
// affected, or now rejected) stay until Prune removes them: call it after a
// complete render, never after an interrupted one. Its methods may be
// called from several goroutines; the manifest follows the order of the
// calls.
type Outbox struct {
	dir     string // DIR/<case id>
	mu      sync.Mutex
	tmp     *os.File
	w       *bufio.Writer
	written map[string]bool // file names
	seen    map[string]bool // user ids
	closed  bool
	err     error
}

var caseIDRe = regexp.MustCompile(`^[a-z0-9-]+$`)

// NewOutbox prepares DIR/<case id> (directories created 0700).
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
	tmp, err := os.CreateTemp(cdir, "."+ManifestFile+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{dir: cdir, tmp: tmp, w: bufio.NewWriterSize(tmp, 64<<10),
		written: map[string]bool{}, seen: map[string]bool{}}, nil
}

// Dir returns DIR/<case id>.
func (o *Outbox) Dir() string { return o.dir }

// Write stores m as <user id>.eml and adds its manifest line.
func (o *Outbox) Write(m *Message) error {
	if reason := badUserID(m.UserID); reason != "" {
		return fmt.Errorf("outbox: %s", reason)
	}
	name := m.UserID + ".eml"
	sum := sha256.Sum256(m.Raw)
	if err := o.begin(m.UserID); err != nil {
		return err
	}
	// Not synced one by one (that cost a millisecond each): Close syncs the
	// file system once before the manifest that lists them is put in place.
	if err := safefile.WriteUnsynced(filepath.Join(o.dir, name), func(w io.Writer) error {
		_, err := w.Write(m.Raw)
		return err
	}); err != nil {
		return o.fail(fmt.Errorf("outbox: %w", err))
	}
	jur := m.Jurisdictions
	if jur == nil {
		jur = []string{}
	}
	return o.add(name, ManifestEntry{UserID: m.UserID, Locale: m.Locale, Jurisdictions: jur,
		MessageID: m.MessageID, SHA256: hex.EncodeToString(sum[:]), Path: name})
}

// Reject records that userID gets no notice, and why (a RecipientError's
// Reason: never an address or name).
func (o *Outbox) Reject(userID, reason string) error {
	if err := o.begin(userID); err != nil {
		return err
	}
	if reason == "" {
		reason = "rejected"
	}
	return o.add("", ManifestEntry{UserID: userID, Rejected: reason})
}

func (o *Outbox) begin(userID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.closed:
		return errors.New("outbox: closed")
	case o.err != nil:
		return o.err
	case o.seen[userID]:
		return fmt.Errorf("outbox: user %s given twice", quoteID(userID))
	}
	o.seen[userID] = true
	return nil
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

// Close completes the manifest and renames it into place (after an
// interrupted render it lists what was written). After a failed Write,
// Close discards the new manifest and returns the failure; the previous
// manifest stays.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
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
	if d, err := os.Open(o.dir); err == nil {
		_ = d.Sync() // make the renames durable
		d.Close()
	}
	return nil
}

// Prune removes the .eml files this outbox did not write: the notices of
// people no longer affected (or now rejected) from an earlier render, so
// that the directory matches the manifest. Call it only after a complete
// render; it returns the user ids whose files it removed.
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
		if e.Type().IsRegular() && strings.HasSuffix(n, ".eml") && !strings.HasPrefix(n, ".") && !o.written[n] {
			if err := os.Remove(filepath.Join(o.dir, n)); err != nil {
				return removed, fmt.Errorf("outbox: remove stale notice: %w", err)
			}
			removed = append(removed, strings.TrimSuffix(n, ".eml"))
		}
	}
	return removed, nil
}
