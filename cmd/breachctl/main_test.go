package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/pgtest"
)

type cliResult struct {
	code     int
	out, err string
}

// runCLI runs breachctl in-process with the given environment only.
func runCLI(t testing.TB, env map[string]string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb}, getenv)
	return cliResult{code, out.String(), errb.String()}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown flag", []string{"validate", "--bogus"}, 2, "unknown flag: --bogus"},
		{"no case file", []string{"validate"}, 2, "no case file: pass -f incident.yaml"},
		{"stray argument", []string{"validate", "-f", "x.yaml", "extra"}, 2, `takes no arguments, got "extra"`},
		{"missing case file", []string{"validate", "-f", "/nonexistent/incident.yaml"}, 1, "read case file"},
		{"no case database", []string{"db", "migrate"}, 2, "no case database: pass --db URL"},
		{"simulate without out", []string{"simulate"}, 2, "simulate needs --out DIR"},
		{"bad memory limit", []string{"ingest", "-f", "x.yaml", "--memory-limit", "lots"}, 2, `--memory-limit "lots"`},
		{"simulate bad format", []string{"simulate", "--out", "x", "--format", "iis"}, 2, `--format "iis"`},
		{"bad engine", []string{"ingest", "-f", "x.yaml", "--engine", "spark"}, 2, `--engine "spark": use streaming, postgres or citus`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, tc.args...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", r.code, tc.wantCode, r.err)
			}
			if !strings.Contains(r.err, tc.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", r.err, tc.wantErr)
			}
			if strings.Count(strings.TrimSpace(r.err), "\n") > 0 {
				t.Errorf("stderr has more than one line: %q", r.err)
			}
			if strings.Contains(r.err, "goroutine") || strings.Contains(r.out, "Usage:") {
				t.Errorf("usage or stack trace printed on error: out=%q err=%q", r.out, r.err)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	r := runCLI(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.out, "breachctl ") {
		t.Errorf("version: code %d out %q", r.code, r.out)
	}
	r = runCLI(t, nil, "--help")
	if r.code != 0 || !strings.Contains(r.out, "Exit codes:") || !strings.Contains(r.out, "2  bad usage or a bad case file") {
		t.Errorf("--help does not document exit codes: %q", r.out)
	}
}

func TestValidateBrokenCaseFile(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "timezone: Asia/Tokyo", "timezone: Asia/Tokio", 1)
	broken = strings.Replace(broken, "end:   2017-06-22T15:38:00+09:00", "end:   2017-06-22T08:00:00+09:00", 1)
	// valid.yaml's logs entry (combined log_format, identity cookie:sid)
	// cannot give the identity; give it one, so that exactly the two
	// problems above are in the report.
	broken = strings.Replace(broken, "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", 1)
	path := filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, map[string]string{"USERS_DATABASE_URL": "postgres://x@y/z"}, "validate", "-f", path)
	if r.code != 2 {
		t.Fatalf("exit code = %d, want 2; stderr %q", r.code, r.err)
	}
	for _, want := range []string{"2 problems", `timezone (line 3): "Asia/Tokio" is not in the time zone database`, "window.end (line 6): must be after window.start"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr missing %q:\n%s", want, r.err)
		}
	}
}

// writeCase writes valid.yaml plus one log file into a temp dir, with the
// user database pointing at a fresh database holding users and sessions tables.
func writeCase(t *testing.T, edit func(string) string) (path string, env map[string]string) {
	t.Helper()
	usersURL, udb := pgtest.NewDB(t)
	udb.MustExec(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, locale text, country text, region text,
		has_postal_address bool, has_phone bool, has_bank_account bool, has_payment_card bool);
		CREATE TABLE sessions (session_id text PRIMARY KEY, user_id bigint)`)
	// Connect as a role that can only read: a superuser is refused.
	_, usersURL = pgtest.NewReader(t, udb, usersURL, "users", "sessions")
	caseURL, _ := pgtest.NewDB(t)
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// These logs carry no cache result, deliberately: the tests that use
	// them are not about the cache (issue 14: say so, or it is an error).
	s := strings.Replace(string(src), "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", 1)
	if edit != nil {
		s = edit(s)
	}
	path = filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	line := `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc"` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte(strings.Repeat(line, 5)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, map[string]string{"USERS_DATABASE_URL": usersURL, "BREACHCTL_DATABASE_URL": caseURL}
}

const combinedWithCookie = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie"`

func TestValidateEnvironment(t *testing.T) {
	t.Run("all good", func(t *testing.T) {
		path, env := writeCase(t, nil)
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 0 {
			t.Fatalf("exit %d\nout:\n%s\nerr:\n%s", r.code, r.out, r.err)
		}
		for _, want := range []string{"ok    case file", "ok    case database:", "ok    user database: reachable", "ok    logs[0]: 1 files", "all 4 checks passed"} {
			if !strings.Contains(r.out, want) {
				t.Errorf("output missing %q:\n%s", want, r.out)
			}
		}
	})
	t.Run("glob matches nothing", func(t *testing.T) {
		path, env := writeCase(t, func(s string) string { return strings.Replace(s, "logs/*.log", "logs/*.gz", 1) })
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 1 || !strings.Contains(r.out, `FAIL  logs: logs[0].paths[0]: "logs/*.gz" matches no file`) {
			t.Errorf("exit %d, out:\n%s", r.code, r.out)
		}
	})
	t.Run("wrong format", func(t *testing.T) {
		path, env := writeCase(t, func(s string) string {
			s = strings.Replace(s, "    log_format: '"+combinedWithCookie+"'\n", "", 1)
			return strings.Replace(s, "format: nginx", "format: cloudflare", 1)
		})
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 1 || !strings.Contains(r.out, "FAIL  logs/a.log: 5 of its first 5 lines do not parse as cloudflare (e.g. line 1: ") {
			t.Errorf("exit %d, out:\n%s", r.code, r.out)
		}
	})
	t.Run("log_format that cannot give the identity", func(t *testing.T) {
		path, env := writeCase(t, func(s string) string { return strings.Replace(s, ` "$http_cookie"'`, `'`, 1) })
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 2 || !strings.Contains(r.err, "logs[0].log_format (line 25): identity cookie:sid: log_format has neither $cookie_sid nor $http_cookie") {
			t.Errorf("exit %d, err:\n%s", r.code, r.err)
		}
	})
	t.Run("users query lacks a column", func(t *testing.T) {
		path, env := writeCase(t, func(s string) string { return strings.Replace(s, "SELECT id, email, name,", "SELECT id, name,", 1) })
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 1 || !strings.Contains(r.out, "FAIL  user database: users.users_query: returns id, name") || !strings.Contains(r.out, "but not email") {
			t.Errorf("exit %d, out:\n%s", r.code, r.out)
		}
	})
	t.Run("unreachable user database", func(t *testing.T) {
		path, env := writeCase(t, nil)
		env["USERS_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/users?sslmode=disable&connect_timeout=2"
		r := runCLI(t, env, "validate", "-f", path)
		if r.code != 1 || !strings.Contains(r.out, "FAIL  user database: users.database_url: no server answers") {
			t.Errorf("exit %d, out:\n%s", r.code, r.out)
		}
	})
}

func TestDBMigrate(t *testing.T) {
	url, _ := pgtest.NewDB(t)
	env := map[string]string{"DATABASE_URL": url}
	r := runCLI(t, env, "db", "migrate")
	if r.code != 0 || !strings.Contains(r.out, "applied 0001_init") {
		t.Fatalf("first migrate: exit %d out %q err %q", r.code, r.out, r.err)
	}
	files, err := filepath.Glob("../../incident/store/migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	r = runCLI(t, env, "db", "migrate")
	if want := fmt.Sprintf("up to date (schema version %d)", len(files)); r.code != 0 || !strings.Contains(r.out, want) {
		t.Fatalf("second migrate: exit %d out %q err %q", r.code, r.out, r.err)
	}
	// --db wins over the environment.
	r = runCLI(t, map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/x"}, "--db", url, "db", "migrate")
	if r.code != 0 {
		t.Fatalf("--db: exit %d err %q", r.code, r.err)
	}
}

// TestSimulateThenValidate: the simulated case file validates against the
// databases and logs it was written with.
func TestSimulateThenValidate(t *testing.T) {
	caseURL, _ := pgtest.NewDB(t)
	usersURL, _ := pgtest.NewDB(t)
	out := filepath.Join(t.TempDir(), "incident")
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	r := runCLI(t, env, "simulate", "--out", out, "--users", "500", "--requests", "20000", "--users-db", usersURL, "--seed", "3")
	if r.code != 0 {
		t.Fatalf("simulate: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"500 users", "20000 lines", "truth.json", "people confirmed"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("simulate output missing %q:\n%s", want, r.out)
		}
	}
	r = runCLI(t, env, "validate", "-f", filepath.Join(out, "incident.yaml"))
	// The simulated logs hold a damaged line or two: validate shows them
	// (one check line per such file), and passes.
	if r.code != 0 || !strings.Contains(r.out, "checks passed") || !strings.Contains(r.out, "ok    logs[0]: ") {
		t.Fatalf("validate of the simulated case: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	// A second simulate into the same directory refuses to overwrite it.
	r = runCLI(t, env, "simulate", "--out", out, "--users-db", usersURL)
	if r.code != 1 || !strings.Contains(r.err, "not empty") {
		t.Errorf("simulate into a used directory: exit %d err %q", r.code, r.err)
	}
}
