package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNotifyRenderRepeatable renders a simulated case's notices twice with a
// fixed --date: identical bytes, files 0600 and directories 0700, and the
// manifest lists one notice per affected person.
func TestNotifyRenderRepeatable(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx")
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.err)
	}
	r := runCLI(t, env, "affected", "-f", caseFile, "--format", "jsonl")
	if r.code != 0 {
		t.Fatalf("affected: exit %d: %s", r.code, r.err)
	}
	affected := strings.Count(r.out, "\n")
	if affected == 0 {
		t.Fatal("nobody affected: the test would prove nothing")
	}
	render := func(out string) map[string][]byte {
		t.Helper()
		r := runCLI(t, env, "notify", "render", "-f", caseFile, "--out", out, "--date", "2017-06-30T10:00:00+09:00")
		if r.code != 0 {
			t.Fatalf("notify render: exit %d: %s", r.code, r.err)
		}
		files := map[string][]byte{}
		err := filepath.Walk(out, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			mode := info.Mode().Perm()
			if info.IsDir() && p != out && mode != 0o700 {
				t.Errorf("%s: mode %o, want 0700", p, mode)
			}
			if !info.IsDir() {
				if mode != 0o600 {
					t.Errorf("%s: mode %o, want 0600", p, mode)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				rel, _ := filepath.Rel(out, p)
				files[rel] = b
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	dir := t.TempDir()
	a := render(filepath.Join(dir, "a"))
	b := render(filepath.Join(dir, "b"))
	if len(a) != affected+1 {
		t.Errorf("%d files, want %d notices + manifest", len(a), affected)
	}
	for name, content := range a {
		if !bytes.Equal(content, b[name]) {
			t.Errorf("%s differs between two renders with the same --date", name)
		}
	}
	var caseID string
	for name := range a {
		if strings.HasSuffix(name, "manifest.jsonl") {
			caseID = filepath.Dir(name)
		}
	}
	lines := strings.Split(strings.TrimSpace(string(a[filepath.Join(caseID, "manifest.jsonl")])), "\n")
	if len(lines) != affected {
		t.Fatalf("manifest: %d lines, want %d", len(lines), affected)
	}
	for _, l := range lines {
		var e struct {
			UserID        string   `json:"user_id"`
			MessageID     string   `json:"message_id"`
			Path          string   `json:"path"`
			SHA256        string   `json:"sha256"`
			Jurisdictions []string `json:"jurisdictions"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Path != e.UserID+".eml" || e.MessageID == "" || len(e.SHA256) != 64 || len(e.Jurisdictions) == 0 {
			t.Errorf("manifest line %s", l)
		}
		if _, ok := a[filepath.Join(caseID, e.Path)]; !ok {
			t.Errorf("manifest names %s, not written", e.Path)
		}
	}
}

// TestNotifySendDeadServer: with no server answering, nothing is lost:
// exit 1 with a clear error, and the ledger holds every notice as pending.
func TestNotifySendDeadServer(t *testing.T) {
	caseFile, env, _ := simulateCase(t, "nginx")
	if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.err)
	}
	r := runCLI(t, env, "notify", "send", "-f", caseFile, "--smtp", "smtp://127.0.0.1:1", "--timeout", "2s")
	if r.code != 1 || !strings.Contains(r.err, "127.0.0.1:1") || !strings.Contains(r.err, "pending") {
		t.Fatalf("send to a dead server: exit %d, stderr %q; want exit 1 naming the server and the pending notices", r.code, r.err)
	}
	r = runCLI(t, env, "notify", "status", "-f", caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("status: exit %d: %s", r.code, r.err)
	}
	var st struct {
		Counts struct {
			Total   int `json:"total"`
			Pending int `json:"pending"`
			Sent    int `json:"sent"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status json: %v\n%s", err, r.out)
	}
	if st.Counts.Total == 0 || st.Counts.Pending != st.Counts.Total || st.Counts.Sent != 0 {
		t.Errorf("ledger after a dead server: %+v; want everything pending", st.Counts)
	}
}
