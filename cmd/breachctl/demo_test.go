package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/internal/mailpit"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// TestDemoEndToEnd runs the whole pipeline (breachctl demo) against a real
// PostgreSQL and a real Mailpit and checks it against the simulator's truth:
// the affected set and levels equal the truth, every affected person gets
// exactly one notice and it reaches Mailpit, and the reports' numbers are
// the affected counts.
func TestDemoEndToEnd(t *testing.T) {
	caseURL, _ := pgtest.NewDB(t)
	usersURL, _ := pgtest.NewDB(t)
	mp := mailpit.Start(t)
	out := filepath.Join(t.TempDir(), "demo")
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	r := runCLI(t, env, "demo", "--out", out, "--users", "3000", "--requests", "150000", "--seed", "11", "--smtp", mp.SMTPURL(), "--users-db", usersURL)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	for _, want := range []string{"triage.html", "affected.csv", "outbox", "reports", "Open first"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("demo output does not mention %q:\n%s", want, r.out)
		}
	}

	// The truth.
	raw, err := os.ReadFile(filepath.Join(out, "incident", "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth truthAll
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	wantConfirmed := 0
	for _, a := range truth.Affected {
		want[a.UserID] = a.RuleLevel
		if a.RuleLevel == "confirmed" {
			wantConfirmed++
		}
	}
	if len(want) == 0 {
		t.Fatal("the simulation exposed nobody: the test would prove nothing")
	}

	// The affected list equals the truth.
	f, err := os.Open(filepath.Join(out, "affected.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, row := range rows[1:] {
		got[row[0]] = row[1]
	}
	for id, lvl := range want {
		if got[id] != lvl {
			t.Errorf("user %s: level %q, truth %q", id, got[id], lvl)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("user %s reported affected, not in the truth", id)
		}
	}

	// One rendered notice per affected person, and each delivered once.
	mf, err := os.Open(filepath.Join(out, "outbox", "demo-cdn-cache-leak", "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	manifest := map[string]string{} // message id -> user id
	sc := bufio.NewScanner(mf)
	for sc.Scan() {
		var e struct {
			UserID    string `json:"user_id"`
			MessageID string `json:"message_id"`
			Rejected  string `json:"rejected"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if e.Rejected != "" {
			t.Errorf("user %s rejected: %s", e.UserID, e.Rejected)
			continue
		}
		if _, dup := manifest[e.MessageID]; dup {
			t.Errorf("message id %s twice in the manifest", e.MessageID)
		}
		manifest[strings.Trim(e.MessageID, "<>")] = e.UserID
	}
	if len(manifest) != len(want) {
		t.Errorf("manifest has %d notices, truth %d affected people", len(manifest), len(want))
	}
	delivered := map[string]int{}
	for _, m := range mp.Messages(t) {
		delivered[strings.Trim(m.MessageID, "<>")]++
	}
	if len(delivered) != len(manifest) {
		t.Errorf("Mailpit holds %d distinct messages, the manifest %d", len(delivered), len(manifest))
	}
	for id, user := range manifest {
		if delivered[id] != 1 {
			t.Errorf("user %s: message %s delivered %d times, want 1", user, id, delivered[id])
		}
	}

	// The reports' numbers are the affected counts.
	for _, kind := range []string{"appi-preliminary", "appi-final", "gdpr-art33", "us-ca-ag", "hipaa-hhs"} {
		raw, err := os.ReadFile(filepath.Join(out, "reports", kind+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Numbers struct {
				People struct{ Confirmed, Possible, Total int }
			}
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		p := rep.Numbers.People
		if p.Total != len(want) || p.Confirmed != wantConfirmed || p.Confirmed+p.Possible != p.Total {
			t.Errorf("%s: people %+v, truth %d total, %d confirmed", kind, p, len(want), wantConfirmed)
		}
	}
}

// TestDemoPrivateDatabase: with no database configured and none to find,
// demo runs on a private PostgreSQL it starts from the machine's binaries,
// and removes it afterwards.
func TestDemoPrivateDatabase(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	env := map[string]string{"BREACHCTL_DEMO_LOCAL_PG": "none"}
	r := runCLI(t, env, "demo", "--out", out, "--users", "500", "--requests", "20000", "--no-send")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	i := strings.Index(r.err, "private PostgreSQL in ")
	if i < 0 {
		t.Fatalf("demo did not start a private PostgreSQL:\n%s", r.err)
	}
	dir := strings.Fields(r.err[i+len("private PostgreSQL in "):])[0]
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private PostgreSQL directory %s still exists after the demo (stat: %v)", dir, err)
	}
	for _, f := range []string{"triage.html", "affected.csv", "reports/appi-final.md"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("demo did not write %s: %v", f, err)
		}
	}
}
