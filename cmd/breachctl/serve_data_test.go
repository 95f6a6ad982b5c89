package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/mailpit"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// serveFixture is a small demo, delivered to a real Mailpit: a case with a
// completed run, its notices sent, for the serve tests.
type serveFixture struct {
	caseFile, caseURL, usersURL string
	env                         map[string]string
	c                           *incident.Case
	st                          *store.Store
	udb                         *sqlx.DB // as the case file connects (read-only role)
	admin                       *sqlx.DB // the test's own connection (to read e-mail addresses)
	mp                          *mailpit.Server
}

func newServeFixture(t *testing.T) *serveFixture {
	t.Helper()
	caseURL, _ := pgtest.NewDB(t)
	usersURL, admin := pgtest.NewDB(t)
	mp := mailpit.Start(t)
	out := filepath.Join(t.TempDir(), "demo")
	env := map[string]string{"BREACHCTL_DATABASE_URL": caseURL}
	r := runCLI(t, env, "demo", "--out", out, "--users", "400", "--requests", "30000", "--seed", "5", "--smtp", mp.SMTPURL(), "--users-db", usersURL)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	f := &serveFixture{caseFile: filepath.Join(out, "incident", "incident.yaml"), caseURL: caseURL, usersURL: usersURL, env: env, admin: admin, mp: mp}
	var err error
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if f.c, err = incident.Load(f.caseFile, getenv, logs.CaseProblems); err != nil {
		t.Fatal(err)
	}
	if f.st, err = store.Open(context.Background(), caseURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	// The user database as the case file reaches it (a read-only role).
	if f.udb, err = store.Connect(context.Background(), f.c.Users.DatabaseURL); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.udb.Close() })
	return f
}

func (f *serveFixture) data() *caseData {
	return &caseData{c: f.c, st: f.st, udb: f.udb}
}

// affected lists the latest run's affected people.
func (f *serveFixture) affected(t *testing.T) []store.AffectedAccount {
	t.Helper()
	r, err := f.st.LatestRun(context.Background(), f.c.ID)
	if err != nil {
		t.Fatal(err)
	}
	as, err := f.st.ListAffected(context.Background(), f.c.ID, r.Run)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) < 3 {
		t.Fatalf("the demo affected %d people: too few to test with", len(as))
	}
	return as
}

// TestNoticeAsSent: the support desk's view of a notice is the message
// handed to the mail server, byte for byte (the ledger's digest), and says
// so; when it no longer matches, it says that instead.
func TestNoticeAsSent(t *testing.T) {
	f := newServeFixture(t)
	ctx := context.Background()
	cd := f.data()
	as := f.affected(t)
	for _, a := range as[:3] {
		n, err := cd.Notice(ctx, 1, a.UserID)
		if err != nil {
			t.Fatalf("notice of %s: %v", a.UserID, err)
		}
		if !n.Verified {
			t.Errorf("notice of %s: not verified: %s", a.UserID, n.Note)
		}
		if n.Kind != store.NoticeFirst || n.State != store.NoticeSent || n.Subject == "" || n.Text == "" {
			t.Errorf("notice of %s: kind %q state %q subject %q, text %d bytes", a.UserID, n.Kind, n.State, n.Subject, len(n.Text))
		}
		var to string
		for _, h := range n.Headers {
			if h[0] == "To" {
				to = h[1]
			}
		}
		var email string
		if err := f.admin.Get(&email, "SELECT email FROM sim_users WHERE id = $1", a.UserID); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(to, email) {
			t.Errorf("notice of %s: To %q is not the person's address", a.UserID, to)
		}
	}
	// The ledger's digest no longer matches (as when the templates changed).
	u := as[0].UserID
	if _, err := f.st.DB.Exec(`UPDATE breachctl.notices SET message_sha256 = repeat('0', 64) WHERE case_id = $1 AND user_id = $2`, f.c.ID, u); err != nil {
		t.Fatal(err)
	}
	n, err := cd.Notice(ctx, 1, u)
	if err != nil {
		t.Fatal(err)
	}
	if n.Verified || !strings.Contains(n.Note, "Differs from what was sent") {
		t.Errorf("tampered digest: verified %v, note %q", n.Verified, n.Note)
	}
	// A notice sent before digests were recorded.
	if _, err := f.st.DB.Exec(`UPDATE breachctl.notices SET message_sha256 = NULL, message_date = NULL WHERE case_id = $1 AND user_id = $2`, f.c.ID, u); err != nil {
		t.Fatal(err)
	}
	if n, err = cd.Notice(ctx, 1, u); err != nil {
		t.Fatal(err)
	}
	if n.Verified || !strings.Contains(n.Note, "not proven identical") {
		t.Errorf("no digest: verified %v, note %q", n.Verified, n.Note)
	}
	// Nobody's notice: not found.
	if _, err := cd.Notice(ctx, 1, "no-such-user"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("unknown user: %v", err)
	}
}

// TestSelfCheckData: the self-check answer is the person's own row and
// notice state, and a person who is not affected is told so.
func TestSelfCheckData(t *testing.T) {
	f := newServeFixture(t)
	ctx := context.Background()
	cd := f.data()
	a := f.affected(t)[0]
	sc, err := cd.SelfCheck(ctx, a.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Affected || sc.Level != a.Level || strings.Join(sc.Categories, ",") != strings.Join(a.Categories, ",") {
		t.Errorf("self-check of %s = %+v, want level %s categories %v", a.UserID, sc, a.Level, a.Categories)
	}
	if sc.Notice == nil || sc.Notice.State != store.NoticeSent || sc.Notice.SentAt == nil {
		t.Errorf("self-check of %s: notice %+v, want sent", a.UserID, sc.Notice)
	}
	sc, err = cd.SelfCheck(ctx, "' OR 1=1 --")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Affected || sc.Notice != nil || len(sc.Categories) != 0 {
		t.Errorf("SQL-looking id: %+v, want not affected", sc)
	}
}

// TestLookupEmail: the case file's lookup_query finds a person by address,
// whatever its case, and finds nobody for SQL-looking input.
func TestLookupEmail(t *testing.T) {
	f := newServeFixture(t)
	ctx := context.Background()
	cd := f.data()
	a := f.affected(t)[1]
	var email string
	if err := f.admin.Get(&email, "SELECT email FROM sim_users WHERE id = $1", a.UserID); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{email, strings.ToUpper(email)} {
		ids, err := cd.LookupEmail(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0] != a.UserID {
			t.Errorf("lookup of user %s's address (as %q): %v", a.UserID, in, ids)
		}
	}
	for _, in := range []string{"' OR 1=1 --", "x@example.invalid", ""} {
		ids, err := cd.LookupEmail(ctx, in)
		if err != nil || len(ids) != 0 {
			t.Errorf("lookup %q = %v, %v; want nobody", in, ids, err)
		}
	}
}

// TestNoticeAsSentRevised: after a revised run, the desk shows each kind of
// notice as it went out: the update to a person whose exposure grew, the
// first notice to a person newly affected, and, for a person told under
// run 1 and recorded in run 2 as already sent, run 1's message — each
// verified against the digest recorded when it was handed over.
func TestNoticeAsSentRevised(t *testing.T) {
	rc := newRevisedCase(t)
	rc.send("run 2")
	ctx := context.Background()
	getenv := func(k string) (string, bool) { v, ok := rc.env[k]; return v, ok }
	c, err := incident.Load(rc.caseFile, getenv, logs.CaseProblems)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, rc.env["BREACHCTL_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	udb, err := store.Connect(ctx, c.Users.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer udb.Close()
	cd := &caseData{c: c, st: st, udb: udb}
	var told string // told under run 1, unchanged since
	for u := range rc.before {
		if !slices.Contains(rc.grew, u) {
			told = u
			break
		}
	}
	for _, tc := range []struct {
		what, user, kind string
		note             string
	}{
		{"update", rc.grew[0], store.NoticeUpdate, ""},
		{"first notice, newly affected", rc.added[0], store.NoticeFirst, ""},
		{"already sent in run 1", told, store.NoticeFirst, "this is run 1's message"},
	} {
		if tc.user == "" {
			t.Fatalf("%s: no such person in the simulation", tc.what)
		}
		n, err := cd.Notice(ctx, 2, tc.user)
		if err != nil {
			t.Fatalf("%s (user %s): %v", tc.what, tc.user, err)
		}
		if !n.Verified || n.Kind != tc.kind || !strings.Contains(n.Note, tc.note) {
			t.Errorf("%s (user %s): kind %s, verified %v, note %q", tc.what, tc.user, n.Kind, n.Verified, n.Note)
		}
	}
	// A notice never handed over says so, and is not called sent.
	u := rc.added[1]
	if _, err := st.DB.Exec(`UPDATE breachctl.notices SET state = 'failed', sent_at = NULL, message_sha256 = NULL, message_date = NULL
		WHERE case_id = $1 AND run = 2 AND user_id = $2`, c.ID, u); err != nil {
		t.Fatal(err)
	}
	n, err := cd.Notice(ctx, 2, u)
	if err != nil {
		t.Fatal(err)
	}
	if n.Verified || !strings.Contains(n.Note, "Not handed to the mail server (failed)") || strings.Contains(n.Note, "Sent before") {
		t.Errorf("failed notice: verified %v, note %q", n.Verified, n.Note)
	}
}
