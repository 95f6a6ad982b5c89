package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/pgtest"
	"github.com/breachctl/breachctl/serve"
)

// runCLIStdin is runCLI with standard input.
func runCLIStdin(t *testing.T, env map[string]string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := Main(context.Background(), args, IO{In: strings.NewReader(stdin), Out: &out, Err: &errb}, getenv)
	return cliResult{code, out.String(), errb.String()}
}

// TestServeUsersCommands: accounts are added, listed, changed and refused
// with clear usage errors; passwords are only ever stored hashed.
func TestServeUsersCommands(t *testing.T) {
	caseURL, db := pgtest.NewDB(t)
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	const pw = "a long enough password"
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"add", pw + "\n", []string{"serve", "users", "add", "alice", "--role", "admin", "--password-stdin"}, 0, "added account alice (admin)"},
		{"add again", pw + "\n", []string{"serve", "users", "add", "alice", "--role", "admin", "--password-stdin"}, 2, "exists already"},
		{"bad role", pw + "\n", []string{"serve", "users", "add", "bob", "--role", "root", "--password-stdin"}, 2, `--role "root"`},
		{"bad name", pw + "\n", []string{"serve", "users", "add", "bob smith", "--role", "support", "--password-stdin"}, 2, "account name"},
		{"short password", "short\n", []string{"serve", "users", "add", "bob", "--role", "support", "--password-stdin"}, 2, "too short"},
		{"no password", "", []string{"serve", "users", "add", "bob", "--role", "support"}, 2, "--password-stdin"},
		{"generate", "", []string{"serve", "users", "add", "carol", "--role", "analyst", "--generate"}, 0, "added account carol (analyst)"},
		{"set role and disable", "", []string{"serve", "users", "set", "carol", "--role", "support", "--disable"}, 0, "support, disabled"},
		{"set unknown", "", []string{"serve", "users", "set", "nobody", "--enable"}, 2, "no account nobody"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLIStdin(t, env, tc.stdin, tc.args...)
			if r.code != tc.code || !strings.Contains(r.err+r.out, tc.want) {
				t.Errorf("exit %d, want %d; output %q %q, want %q", r.code, tc.code, r.out, r.err, tc.want)
			}
		})
	}
	r := runCLI(t, env, "serve", "users", "list")
	if r.code != 0 || !strings.Contains(r.out, "alice") || !strings.Contains(r.out, "carol") || !strings.Contains(r.out, "disabled") {
		t.Errorf("users list: exit %d\n%s%s", r.code, r.out, r.err)
	}
	var hashes []string
	if err := db.Select(&hashes, "SELECT password_hash FROM breachctl.staff"); err != nil {
		t.Fatal(err)
	}
	for _, h := range hashes {
		if !strings.HasPrefix(h, "$2") || strings.Contains(h, pw) {
			t.Errorf("stored password %q is not a bcrypt hash", h)
		}
	}
}

// TestServeRefusals: serve refuses what would be unsafe or cannot work,
// before it listens.
func TestServeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"plain HTTP on the network", nil, []string{"serve", "-f", "x.yaml", "--listen", "0.0.0.0:8080"}, "not a loopback address"},
		{"bad trusted proxy", nil, []string{"serve", "-f", "x.yaml", "--trusted-proxy", "proxy.local"}, "--trusted-proxy \"proxy.local\""},
		{"certificate without key", nil, []string{"serve", "-f", "x.yaml", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{"short secret", map[string]string{"BREACHCTL_SELFCHECK_SECRET": "short"}, []string{"serve", "-f", "x.yaml"}, "BREACHCTL_SELFCHECK_SECRET"},
		{"token without secret", nil, []string{"serve", "token", "100"}, "BREACHCTL_SELFCHECK_SECRET is not set"},
		{"token too long", map[string]string{"BREACHCTL_SELFCHECK_SECRET": strings.Repeat("k", 40)}, []string{"serve", "token", "100", "--ttl", "2h"}, "--ttl 2h0m0s"},
		{"audit bad format", nil, []string{"audit", "-f", "x.yaml", "--format", "xml"}, `--format "xml"`},
		{"audit bad since", nil, []string{"audit", "-f", "x.yaml", "--since", "yesterday"}, `--since "yesterday"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.env, tc.args...)
			if r.code != 2 || !strings.Contains(r.err, tc.want) {
				t.Errorf("exit %d, want 2; stderr %q, want %q", r.code, r.err, tc.want)
			}
		})
	}
}

// TestServeSelfCheckEndToEnd: the company's backend signs a token for one
// person (breachctl serve token), the self-check API answers with that
// person's own exposure and notice state once, refuses the replay and a
// forged token (401, counted), and audits the answer.
func TestServeSelfCheckEndToEnd(t *testing.T) {
	f := newServeFixture(t)
	secret := strings.Repeat("s3cr3t-", 6)
	env := map[string]string{"BREACHCTL_SELFCHECK_SECRET": secret}
	addr, _ := startServe(t, f, env)
	person := f.affected(t)[0]
	tokEnv := map[string]string{"BREACHCTL_SELFCHECK_SECRET": secret}
	r := runCLI(t, tokEnv, "serve", "token", person.UserID)
	if r.code != 0 {
		t.Fatalf("serve token: exit %d: %s", r.code, r.err)
	}
	token := strings.TrimSpace(r.out)
	get := func(tok string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", addr+"api/v1/self-check", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get(token)
	if code != 200 {
		t.Fatalf("self-check: %d %s", code, body)
	}
	var sc serve.SelfCheck
	if err := json.Unmarshal(body, &sc); err != nil {
		t.Fatal(err)
	}
	if sc.UserID != person.UserID || !sc.Affected || sc.Level != person.Level || sc.Notice == nil || sc.Notice.State != store.NoticeSent {
		t.Errorf("self-check of %s = %s", person.UserID, body)
	}
	for _, other := range f.affected(t)[1:] {
		if strings.Contains(string(body), `"`+other.UserID+`"`) {
			t.Errorf("the answer names another person (%s): %s", other.UserID, body)
		}
	}
	if code, body = get(token); code != 401 {
		t.Errorf("replayed token: %d %s, want 401", code, body)
	}
	forged := token[:len(token)-2] + "AA"
	if code, body = get(forged); code != 401 {
		t.Errorf("forged token: %d %s, want 401", code, body)
	}
	r = runCLI(t, f.env, "audit", "-f", f.caseFile, "--actor", store.ActorSelfCheck, "--format", "json")
	var es []store.AuditEntry
	if err := json.Unmarshal([]byte(r.out), &es); err != nil {
		t.Fatalf("audit: %v\n%s%s", err, r.out, r.err)
	}
	if len(es) != 1 || es[0].UserID != person.UserID || es[0].Action != store.AuditSelfCheck {
		t.Errorf("audit of self-checks = %+v, want one for %s", es, person.UserID)
	}
}
