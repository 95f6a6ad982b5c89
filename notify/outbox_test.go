package notify

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/breachctl/breachctl/incident/correlate"
)

func readManifest(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("manifest line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// renderTo renders notices into an outbox the way `notify render` does.
func renderTo(t *testing.T, r *Renderer, dir, caseID string, notices []Notice) {
	t.Helper()
	o, err := NewOutbox(dir, caseID)
	if err != nil {
		t.Fatal(err)
	}
	err = RenderAll(context.Background(), r, notices, 3, func(m *Message, err error) error {
		var re *RecipientError
		switch {
		case errors.As(err, &re):
			return o.Reject(re.UserID, re.Reason)
		case err != nil:
			return err
		}
		return o.Write(m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Prune(); err != nil {
		t.Fatal(err)
	}
}

func TestOutbox(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	notices := []Notice{}
	for _, g := range goldenCases(c) {
		notices = append(notices, g.n)
	}
	bad := notice(c, "0666", map[string]string{"email": "confirmed"}, 1, 1, correlate.Contact{Email: "x@example.com\r\nBcc: y@example.com"})
	notices = append(notices[:2], append([]Notice{bad}, notices[2:]...)...)

	dir := filepath.Join(t.TempDir(), "out")
	renderTo(t, r, dir, c.ID, notices)
	cdir := filepath.Join(dir, c.ID)
	for _, d := range []string{dir, cdir} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, fi.Mode().Perm(), err)
		}
	}
	lines := readManifest(t, filepath.Join(cdir, ManifestFile))
	if len(lines) != len(notices) {
		t.Fatalf("manifest has %d lines, want %d", len(lines), len(notices))
	}
	first := map[string][]byte{}
	for i, n := range notices {
		l := lines[i]
		if l["user_id"] != n.Account.UserID {
			t.Errorf("line %d: user_id %v, want %s (input order)", i, l["user_id"], n.Account.UserID)
		}
		if n.Account.UserID == "0666" {
			want := map[string]any{"user_id": "0666", "rejected": "email address contains a line break or NUL character"}
			if !reflect.DeepEqual(l, want) {
				t.Errorf("rejected line = %v, want %v", l, want)
			}
			if _, err := os.Stat(filepath.Join(cdir, "0666.eml")); !os.IsNotExist(err) {
				t.Errorf("a rejected person has a .eml: %v", err)
			}
			continue
		}
		path := filepath.Join(cdir, fmt.Sprint(l["path"]))
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
		}
		sum := sha256.Sum256(raw)
		if l["sha256"] != hex.EncodeToString(sum[:]) || l["path"] != n.Account.UserID+".eml" {
			t.Errorf("line %d: sha256 %v path %v; want %x and %s.eml", i, l["sha256"], l["path"], sum, n.Account.UserID)
		}
		if l["message_id"] != MessageID(c, n.Account.UserID) || l["locale"] == "" || l["jurisdictions"] == nil {
			t.Errorf("line %d = %v", i, l)
		}
		first[path] = raw
	}
	manifest1, _ := os.ReadFile(filepath.Join(cdir, ManifestFile))

	// A stale notice (someone no longer affected) is removed; a re-render
	// with the same date writes identical files.
	if err := os.WriteFile(filepath.Join(cdir, "9999.eml"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	renderTo(t, newRenderer(t, c), dir, c.ID, notices)
	for path, raw := range first {
		again, _ := os.ReadFile(path)
		if string(again) != string(raw) {
			t.Errorf("%s differs after a re-render", path)
		}
	}
	manifest2, _ := os.ReadFile(filepath.Join(cdir, ManifestFile))
	if string(manifest1) != string(manifest2) {
		t.Errorf("manifest differs after a re-render")
	}
	if _, err := os.Stat(filepath.Join(cdir, "9999.eml")); !os.IsNotExist(err) {
		t.Errorf("stale 9999.eml kept: %v", err)
	}
	entries, _ := os.ReadDir(cdir)
	if len(entries) != len(first)+1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("outbox holds %v, want %d notices and the manifest (no temporary files)", names, len(first))
	}
}

func TestOutboxErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewOutbox(dir, "../x"); err == nil {
		t.Errorf("NewOutbox(../x): no error")
	}
	o, err := NewOutbox(dir, "case-1")
	if err != nil {
		t.Fatal(err)
	}
	// A path in the user id names no path: the notice stays in the case
	// directory under an escaped name (issue 21, item 8).
	if err := o.Write(&Message{UserID: "../../etc/passwd", Raw: []byte("x")}); err != nil {
		t.Errorf("Write with a path in the user id: %v", err)
	}
	if got, want := FileName("../../etc/passwd"), "%%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.eml"; got != want {
		t.Errorf("FileName(../../etc/passwd) = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "case-1", FileName("../../etc/passwd"))); err != nil {
		t.Errorf("the notice of ../../etc/passwd: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want only case-1", dir, len(entries))
	}
	for _, id := range []string{"", "a\x00b", "bad\xff"} {
		if err := o.Write(&Message{UserID: id, Raw: []byte("x")}); err == nil {
			t.Errorf("Write(user %q): no error", id)
		}
	}
	if err := o.Write(&Message{UserID: "1", Raw: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if err := o.Reject("1", "again"); err == nil {
		t.Errorf("the same user twice: no error")
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Write(&Message{UserID: "2", Raw: []byte("x")}); err == nil {
		t.Errorf("Write after Close: no error")
	}
}

func TestRenderAllOrder(t *testing.T) {
	c := loadCase(t)
	r := newRenderer(t, c)
	var notices []Notice
	for i := 0; i < 300; i++ {
		email := fmt.Sprintf("user%d@example.com", i)
		if i%37 == 5 {
			email = "broken\n@example.com"
		}
		notices = append(notices, notice(c, fmt.Sprint(i), map[string]string{"email": "confirmed"}, 1, 1, correlate.Contact{Email: email, Locale: []string{"ja", "en"}[i%2]}))
	}
	for _, workers := range []int{0, 1, 4} {
		i := 0
		err := RenderAll(context.Background(), r, notices, workers, func(m *Message, err error) error {
			want := notices[i].Account.UserID
			var re *RecipientError
			switch {
			case errors.As(err, &re):
				if re.UserID != want {
					t.Errorf("workers %d: emit %d got rejection of %s, want %s", workers, i, re.UserID, want)
				}
			case err != nil:
				t.Errorf("workers %d: %v", workers, err)
			case m.UserID != want:
				t.Errorf("workers %d: emit %d got %s, want %s", workers, i, m.UserID, want)
			}
			i++
			return nil
		})
		if err != nil || i != len(notices) {
			t.Errorf("workers %d: RenderAll = %v after %d emits, want nil after %d", workers, err, i, len(notices))
		}
	}

	stop := errors.New("stop")
	n := 0
	err := RenderAll(context.Background(), r, notices, 4, func(*Message, error) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 10 {
		t.Errorf("RenderAll = %v after %d emits, want stop after 10", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RenderAll(ctx, r, notices, 4, func(*Message, error) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("RenderAll(cancelled) = %v", err)
	}
}
