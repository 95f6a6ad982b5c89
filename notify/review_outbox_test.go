package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/correlate"
)

// oddUserIDs are user ids an organisation may well have that cannot be a
// file name as they are (issue 21, item 8), plus ordinary ones and ids
// that spell another id's escaped file name.
var oddUserIDs = []string{
	"1001",
	"a.b_c-D",
	"urn:user:1",
	"a/b",
	`a\b`,
	"../../etc/passwd",
	".hidden",
	".",
	"..",
	strings.Repeat("x", 201),
	strings.Repeat("y", 400) + "/z",
	strings.Repeat("é", 150),
	"user 7",
	"太郎",
	"CON",
	"nul.txt",
	"%a%2Fb",   // the escaped stem of a/b, as a literal id
	"%25a",     // an escape of an escape
	"a%2Fb",    // a/b escaped without the marker
	"Abc",      // differs from the next only by case
	"abc",      // (one file on macOS and Windows)
	"A/b",      // likewise, escaped
	"a/B",      //
	"with=eq",  // the hashed form's separator
	"-leading", // a dash first is an ordinary name
}

var portableName = regexp.MustCompile(`^[A-Za-z0-9_%=-][A-Za-z0-9._%=-]*\.eml$`)

// TestOutboxAnyUserID renders and writes a notice for each odd user id:
// none is refused, every file lies in the case directory under a portable
// name no other id shares (not even by case), ordinary ids keep
// <user id>.eml, and the manifest keeps the real id next to the path.
func TestOutboxAnyUserID(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	root := filepath.Join(t.TempDir(), "root")
	dir := filepath.Join(root, "out")
	var notices []Notice
	for i, id := range oddUserIDs {
		notices = append(notices, notice(c, id, map[string]string{"email": "confirmed"}, 1, 1,
			correlate.Contact{Email: fmt.Sprintf("user%d@example.com", i), Locale: "en"}))
	}
	for _, n := range notices {
		if _, err := r.Render(n); err != nil {
			t.Errorf("Render(user %q) = %v, want a notice", n.Account.UserID, err)
		}
	}
	renderTo(t, r, dir, c.ID, notices)
	cdir := filepath.Join(dir, c.ID)

	lines := readManifest(t, filepath.Join(cdir, ManifestFile))
	if len(lines) != len(oddUserIDs) {
		t.Fatalf("manifest has %d lines, want %d", len(lines), len(oddUserIDs))
	}
	byFold := map[string]string{}
	for i, l := range lines {
		id := oddUserIDs[i]
		if l["user_id"] != id {
			t.Errorf("line %d: user_id %q, want %q", i, l["user_id"], id)
			continue
		}
		if l["rejected"] != nil {
			t.Errorf("user %q rejected: %v", id, l["rejected"])
			continue
		}
		p, _ := l["path"].(string)
		if !portableName.MatchString(p) || len(p) > 255 {
			t.Errorf("user %q: path %q is not a portable file name of at most 255 bytes", id, p)
			continue
		}
		if prev, dup := byFold[strings.ToLower(p)]; dup {
			t.Errorf("users %q and %q share the file %q (ignoring case)", prev, id, p)
		}
		byFold[strings.ToLower(p)] = id
		raw, err := os.ReadFile(filepath.Join(cdir, p))
		if err != nil {
			t.Errorf("user %q: %v", id, err)
			continue
		}
		if sum := sha256.Sum256(raw); l["sha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("user %q: sha256 %v does not match %s", id, l["sha256"], p)
		}
		if !strings.Contains(string(raw), fmt.Sprintf("user%d@example.com", i)) {
			t.Errorf("user %q: %s is not their notice", id, p)
		}
	}
	for _, id := range []string{"1001", "a.b_c-D", "Abc", "-leading"} {
		if got := FileName(id); got != id+".eml" {
			t.Errorf("FileName(%q) = %q, want %q (ordinary ids keep their name)", id, got, id+".eml")
		}
	}
	// Nothing outside the case directory.
	for _, d := range []string{root, dir} {
		entries, _ := os.ReadDir(d)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("%s holds %v, want only the next directory down", d, names)
		}
	}
	entries, _ := os.ReadDir(cdir)
	if len(entries) != len(oddUserIDs)+1 {
		t.Errorf("case directory holds %d entries, want %d notices and the manifest", len(entries), len(oddUserIDs))
	}
}

// TestFileNameCollisions: FileName is deterministic and no two ids share a
// name, in particular an escaped name and an id literally equal to it.
func TestFileNameCollisions(t *testing.T) {
	ids := append([]string{}, oddUserIDs...)
	for _, id := range oddUserIDs {
		n := FileName(id)
		stem := strings.TrimSuffix(n, ".eml")
		ids = append(ids, stem, n, strings.TrimPrefix(stem, "%"), strings.ToUpper(stem))
	}
	seen := map[string]string{}
	for _, id := range ids {
		n := FileName(id)
		if again := FileName(id); again != n {
			t.Errorf("FileName(%q) = %q then %q", id, n, again)
		}
		if prev, ok := seen[n]; ok && prev != id {
			t.Errorf("FileName(%q) = FileName(%q) = %q", id, prev, n)
		}
		seen[n] = id
	}
}

// brokenDate is another notice date, so that a re-render changes every file.
var brokenDate = time.Date(2017, 7, 1, 10, 0, 0, 0, time.FixedZone("JST", 9*3600))

func manyNotices(t *testing.T, n int) []Notice {
	c := loadCase(t)
	var notices []Notice
	for i := 0; i < n; i++ {
		notices = append(notices, notice(c, fmt.Sprintf("u%04d", i), map[string]string{"email": "confirmed"}, 1, 1,
			correlate.Contact{Email: fmt.Sprintf("user%d@example.com", i), Locale: "en"}))
	}
	return notices
}

// checkOutboxConsistent fails when a manifest line's sha256 does not match
// its file or (unless crashed) a temporary file is left in cdir. It returns
// the manifest's lines (nil when there is none).
func checkOutboxConsistent(t *testing.T, cdir, when string, crashed bool) []map[string]any {
	t.Helper()
	entries, err := os.ReadDir(cdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !crashed && strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s: temporary file %s left in the outbox", when, e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(cdir, ManifestFile)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	lines := readManifest(t, filepath.Join(cdir, ManifestFile))
	bad := 0
	for _, l := range lines {
		p, _ := l["path"].(string)
		if p == "" {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(cdir, p))
		sum := sha256.Sum256(raw)
		if err != nil || l["sha256"] != hex.EncodeToString(sum[:]) {
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d manifest lines name a sha256 their file does not have", when, bad, len(lines))
	}
	return lines
}

// TestOutboxInterruptedRender (issue 21, item 12): a re-render that
// crashes, fails or is cancelled half-way never leaves manifest.jsonl
// listing a sha256 its file does not have, and the next render removes the
// temporary files (personal data) a crashed one left behind.
func TestOutboxInterruptedRender(t *testing.T) {
	c := loadCase(t)
	notices := manyNotices(t, 120)
	newR := func(date time.Time) *Renderer {
		r, err := NewRenderer(c, Options{Date: date})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	tests := []struct {
		name string
		// interrupt re-renders into dir with r and stops half-way as a
		// crash, a failed write or a cancellation would.
		interrupt func(t *testing.T, r *Renderer, dir, cdir string)
	}{
		{"crash", func(t *testing.T, r *Renderer, dir, cdir string) {
			o, err := NewOutbox(dir, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range notices[:40] {
				m, err := r.Render(n)
				if err != nil {
					t.Fatal(err)
				}
				if err := o.Write(m); err != nil {
					t.Fatal(err)
				}
			}
			// The process dies while writing the next notice: its
			// temporary file stays, and so does the manifest's.
			if err := os.WriteFile(filepath.Join(cdir, "."+FileName("u0040")+".tmp-123456"), []byte("To: user40@example.com\r\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			abandon(o)
		}},
		{"failed write", func(t *testing.T, r *Renderer, dir, cdir string) {
			// A directory where notice 40 goes: its rename fails.
			if err := os.Remove(filepath.Join(cdir, FileName("u0040"))); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(cdir, FileName("u0040")), 0o700); err != nil {
				t.Fatal(err)
			}
			o, err := NewOutbox(dir, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			err = RenderAll(context.Background(), r, notices, 3, func(m *Message, err error) error {
				if err != nil {
					return err
				}
				return o.Write(m)
			})
			if err == nil {
				t.Fatal("RenderAll wrote onto a directory without an error")
			}
			if err := o.Close(); err == nil {
				t.Errorf("Close after a failed write: no error")
			}
			os.Remove(filepath.Join(cdir, FileName("u0040")))
		}},
		{"cancelled", func(t *testing.T, r *Renderer, dir, cdir string) {
			o, err := NewOutbox(dir, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			written := 0
			err = RenderAll(ctx, r, notices, 3, func(m *Message, err error) error {
				if err != nil {
					return err
				}
				if written == 40 {
					cancel()
				}
				written++
				return o.Write(m)
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("RenderAll = %v, want context.Canceled", err)
			}
			if err := o.Abort(); err != nil {
				t.Errorf("Abort: %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			cdir := filepath.Join(dir, c.ID)
			renderTo(t, newR(fixedDate), dir, c.ID, notices)
			if lines := checkOutboxConsistent(t, cdir, "first render", false); len(lines) != len(notices) {
				t.Fatalf("first render: manifest has %d lines, want %d", len(lines), len(notices))
			}

			tc.interrupt(t, newR(brokenDate), dir, cdir)
			// A crash leaves temporary files (the next render removes
			// them); a failed or cancelled render leaves none.
			if lines := checkOutboxConsistent(t, cdir, "after the interrupted render", tc.name == "crash"); lines != nil {
				t.Errorf("after the interrupted render: manifest.jsonl lists %d notices; want none until a render completes", len(lines))
			}

			renderTo(t, newR(brokenDate), dir, c.ID, notices)
			lines := checkOutboxConsistent(t, cdir, "after the next render", false)
			if len(lines) != len(notices) {
				t.Errorf("next render: manifest has %d lines, want %d", len(lines), len(notices))
			}
			entries, _ := os.ReadDir(cdir)
			if len(entries) != len(notices)+1 {
				t.Errorf("next render: %d entries, want %d notices and the manifest", len(entries), len(notices))
			}
		})
	}
}

// abandon leaves o as a killed process would: its temporary manifest stays
// and its lock ends with the process.
func abandon(o *Outbox) {
	o.tmp.Close()
	o.unlock()
}

// TestOutboxLocked: a second render into the same outbox while one runs is
// refused (it would remove the first one's temporary files and manifest),
// with a one-line reason; it may start once the first ends.
func TestOutboxLocked(t *testing.T) {
	dir := t.TempDir()
	a, err := NewOutbox(dir, "case-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Write(&Message{UserID: "1", Raw: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	b, err := NewOutbox(dir, "case-1")
	if err == nil {
		b.Abort()
		t.Fatal("a second NewOutbox on a locked outbox: no error")
	}
	if !strings.Contains(err.Error(), "another notify render") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %q, want one line naming another notify render", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	lines := checkOutboxConsistent(t, filepath.Join(dir, "case-1"), "after the refused render", false)
	if len(lines) != 1 {
		t.Errorf("manifest has %d lines, want 1", len(lines))
	}
	c, err := NewOutbox(dir, "case-1")
	if err != nil {
		t.Fatalf("NewOutbox after Close: %v", err)
	}
	if err := c.Abort(); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxPruneCaseVariant: on a case-sensitive file system the notice
// of a person no longer affected is removed even when a person now
// affected has the same id in another case.
func TestOutboxPruneCaseVariant(t *testing.T) {
	dir := t.TempDir()
	write := func(ids ...string) []string {
		o, err := NewOutbox(dir, "case-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := o.Write(&Message{UserID: id, Raw: []byte(id)}); err != nil {
				t.Fatal(err)
			}
		}
		removed, err := o.Prune()
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		return removed
	}
	write("abc", "a/b")
	removed := write("Abc", "A/b")
	cdir := filepath.Join(dir, "case-1")
	same := false
	if a, err := os.Stat(filepath.Join(cdir, "abc.eml")); err == nil {
		if b, err := os.Stat(filepath.Join(cdir, "Abc.eml")); err == nil {
			same = os.SameFile(a, b)
		}
	}
	if same {
		t.Skip("case-insensitive file system")
	}
	if got, want := fmt.Sprint(removed), fmt.Sprint([]string{FileName("a/b"), "abc.eml"}); got != want {
		t.Errorf("Prune removed %s, want %s", got, want)
	}
	lines := checkOutboxConsistent(t, cdir, "after the second render", false)
	entries, _ := os.ReadDir(cdir)
	if len(lines) != 2 || len(entries) != 3 {
		t.Errorf("%d manifest lines and %d entries, want 2 and 3", len(lines), len(entries))
	}
}
