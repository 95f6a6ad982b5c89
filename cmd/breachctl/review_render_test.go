package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// oddIDsSQL gives the simulated users ids an organisation may well have
// that are not file names as they are: URNs, paths, Windows accounts, a dot
// first, more than 200 bytes, and ordinary ones.
const oddIDsSQL = `
CREATE FUNCTION odd_id(i bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE i % 6
    WHEN 0 THEN 'urn:user:' || i
    WHEN 1 THEN 'dept/' || i
    WHEN 2 THEN '.' || i
    WHEN 3 THEN 'DOMAIN\' || i
    WHEN 4 THEN repeat('x', 210) || i
    ELSE i::text END $$;
ALTER TABLE sim_sessions DROP CONSTRAINT IF EXISTS sim_sessions_user_id_fkey;
ALTER TABLE sim_users ALTER COLUMN id TYPE text USING odd_id(id);
ALTER TABLE sim_sessions ALTER COLUMN user_id TYPE text USING odd_id(user_id);
`

// recorder is an in-process SMTP server that keeps each message's
// Message-ID by recipient.
type recorder struct {
	mu   sync.Mutex
	got  map[string][]string // recipient -> Message-IDs
	addr string
}

func startRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{got: map[string][]string{}}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &recSession{rec: rec}, nil
	}))
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return rec
}

type recSession struct {
	rec *recorder
	to  []string
}

func (s *recSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *recSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *recSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	var id string
	for _, l := range strings.Split(string(raw), "\r\n") {
		if strings.HasPrefix(l, "Message-ID: ") {
			id = strings.TrimPrefix(l, "Message-ID: ")
			break
		}
	}
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	for _, to := range s.to {
		s.rec.got[to] = append(s.rec.got[to], id)
	}
	s.to = nil
	return nil
}
func (s *recSession) Reset()        { s.to = nil }
func (s *recSession) Logout() error { return nil }

type manifestLine struct {
	UserID    string `json:"user_id"`
	MessageID string `json:"message_id"`
	SHA256    string `json:"sha256"`
	Path      string `json:"path"`
	Rejected  string `json:"rejected"`
}

// readOutbox checks that cdir holds no temporary file and that every
// manifest line's sha256 is its file's, and returns the lines.
func readOutbox(t *testing.T, cdir, when string) []manifestLine {
	t.Helper()
	entries, err := os.ReadDir(cdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("%s: temporary file %s left in the outbox", when, e.Name())
		}
	}
	raw, err := os.ReadFile(filepath.Join(cdir, "manifest.jsonl"))
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
	var lines []manifestLine
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		var l manifestLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: manifest line %q: %v", when, sc.Text(), err)
		}
		lines = append(lines, l)
		if l.Path == "" {
			continue
		}
		if strings.ContainsAny(l.Path, `/\:`) || strings.HasPrefix(l.Path, ".") {
			t.Errorf("%s: user %q: path %q is not a plain file name", when, l.UserID, l.Path)
			continue
		}
		b, err := os.ReadFile(filepath.Join(cdir, l.Path))
		sum := sha256.Sum256(b)
		if err != nil || hex.EncodeToString(sum[:]) != l.SHA256 {
			t.Errorf("%s: user %q: %s does not have the manifest's sha256 (%v)", when, l.UserID, l.Path, err)
		}
	}
	return lines
}

// TestNotifyOddUserIDs (issue 21, items 8 and 12): people whose user ids
// hold a colon, a slash, a backslash, a dot first or more than 200 bytes
// are rendered and sent like everyone else; a render after a killed one
// removes its temporary files and leaves a manifest that matches the files.
func TestNotifyOddUserIDs(t *testing.T) {
	caseURL, _ := pgtest.NewDB(t)
	usersURL, udb := pgtest.NewDB(t)
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	out := filepath.Join(t.TempDir(), "incident")
	if r := runCLI(t, env, "simulate", "--out", out, "--users", "300", "--requests", "20000", "--users-db", usersURL); r.code != 0 {
		t.Fatalf("simulate: exit %d\n%s", r.code, r.err)
	}
	if _, err := udb.Exec(oddIDsSQL); err != nil {
		t.Fatalf("odd ids: %v", err)
	}
	caseFile := filepath.Join(out, "incident.yaml")
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.err)
	}
	r := runCLI(t, env, "affected", "-f", caseFile, "--format", "jsonl")
	if r.code != 0 {
		t.Fatalf("affected: exit %d: %s", r.code, r.err)
	}
	affected := map[string]bool{}
	kinds := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		var a struct {
			UserID string `json:"user_id"`
		}
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatal(err)
		}
		affected[a.UserID] = true
		switch {
		case strings.HasPrefix(a.UserID, "urn:"):
			kinds["colon"] = true
		case strings.HasPrefix(a.UserID, "dept/"):
			kinds["slash"] = true
		case strings.HasPrefix(a.UserID, "."):
			kinds["dot"] = true
		case strings.Contains(a.UserID, `\`):
			kinds["backslash"] = true
		case len(a.UserID) > 200:
			kinds["long"] = true
		}
	}
	if len(kinds) != 5 {
		t.Fatalf("affected ids cover %v; the test needs all five odd kinds", kinds)
	}

	box := filepath.Join(t.TempDir(), "outbox")
	cdir := filepath.Join(box, "sim-cache-leak")
	render := func(date string) []manifestLine {
		t.Helper()
		r := runCLI(t, env, "notify", "render", "-f", caseFile, "--out", box, "--date", date)
		if r.code != 0 {
			t.Fatalf("notify render: exit %d: %s", r.code, r.err)
		}
		return readOutbox(t, cdir, "render at "+date)
	}
	lines := render("2017-06-30T10:00:00+09:00")
	if len(lines) != len(affected) {
		t.Errorf("manifest: %d lines, want %d", len(lines), len(affected))
	}
	for _, l := range lines {
		if !affected[l.UserID] {
			t.Errorf("manifest: user %q is not affected", l.UserID)
		}
		if l.Rejected != "" {
			t.Errorf("render refused user %q: %s", l.UserID, l.Rejected)
		}
	}

	// A render killed while writing: its temporary files (whole notices)
	// stay behind; the next render removes them and its manifest matches.
	for _, n := range []string{"." + lines[0].Path + ".tmp-31337", ".manifest.jsonl.tmp-4242"} {
		if err := os.WriteFile(filepath.Join(cdir, n), []byte("To: someone@example.com\r\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if again := render("2017-07-01T10:00:00+09:00"); len(again) != len(lines) {
		t.Errorf("re-render: %d manifest lines, want %d", len(again), len(lines))
	}
	entries, _ := os.ReadDir(cdir)
	if len(entries) != len(lines)+1 {
		t.Errorf("outbox holds %d entries, want %d notices and the manifest", len(entries), len(lines))
	}

	// send accepts every id render wrote: one message each, none failed.
	rec := startRecorder(t)
	r = runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", "smtp://"+rec.addr, "--timeout", "10s")
	if r.code != 0 {
		t.Fatalf("notify send: exit %d: %s%s", r.code, r.out, r.err)
	}
	r = runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.err)
	}
	var st struct {
		Counts struct {
			Total  int `json:"total"`
			Sent   int `json:"sent"`
			Failed int `json:"failed"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, r.out)
	}
	if st.Counts.Total != len(affected) || st.Counts.Sent != len(affected) || st.Counts.Failed != 0 {
		t.Errorf("ledger after send: %+v; want all %d sent, none failed", st.Counts, len(affected))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	msgs := 0
	for _, ids := range rec.got {
		msgs += len(ids)
	}
	byMsgID := map[string]bool{}
	for _, l := range lines {
		byMsgID[l.MessageID] = true
	}
	if msgs != len(affected) {
		t.Errorf("server got %d messages, want %d", msgs, len(affected))
	}
	for to, ids := range rec.got {
		for _, id := range ids {
			if !byMsgID[id] {
				t.Errorf("message to %s has Message-ID %s, not in the manifest", to, id)
			}
		}
	}
}
