package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/pgembed"
	"github.com/breachctl/breachctl/notify/letter"
	"github.com/breachctl/breachctl/serve"
)

type demoOptions struct {
	out      string
	users    int
	requests int
	format   string
	scenario string
	seed     uint64
	smtp     string
	noSend   bool
	usersDB  string
	serve    bool
	listen   string
}

const demoLong = `Run the whole pipeline on a simulated incident, end to end, in the spirit
of the June 2017 case (a CDN served cached "My Page" responses to other
customers for about six hours):

  simulate → validate → ingest → triage (terminal + HTML) → notify render →
  notify send (when an SMTP server is given or Mailpit answers on
  127.0.0.1:1025) → notify letters (the letters the law requires, as PDFs
  for a mailing house) → obligations → regulator reports

Everything is written under --out (removed and re-created when it holds an
earlier demo), and the end of the output says what to open first.

Databases: the case database is --db / $BREACHCTL_DATABASE_URL /
$DATABASE_URL when set; the simulated users go to --users-db, else the case
database (never $USERS_DATABASE_URL: in an incident that is the real one). When none is set and no PostgreSQL answers on
127.0.0.1:5432 ($BREACHCTL_DEMO_LOCAL_PG: another address, or "none" not to
look), the demo starts a private, throwaway PostgreSQL from the
machine's own binaries (initdb + pg_ctl in a temporary directory, Unix socket
only) and removes it afterwards.

--scenario picks the kind of incident (simulate --help lists them); the
default, cache, is the case above.

--serve then serves the case (breachctl serve) on --listen with a demo
admin account, prints its password and a ready self-check request, and runs
until Ctrl-C.

The default size (50,000 users, 2 million requests) takes well under a minute.`

func newDemoCmd(d *deps) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole pipeline on a simulated incident, end to end",
		Long:  demoLong,
		Example: `  breachctl demo
  breachctl demo --smtp smtp://127.0.0.1:1025 --out /tmp/demo
  breachctl demo --users 200000 --requests 10000000 --format cloudfront`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), d, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "breachctl-demo", "directory for everything the demo writes")
	f.IntVar(&o.users, "users", 50000, "number of simulated users")
	f.IntVar(&o.requests, "requests", 2000000, "number of simulated requests (log lines)")
	f.StringVar(&o.format, "format", "nginx", "log format: nginx, cloudfront, cloudflare or jsonl")
	f.StringVar(&o.scenario, "scenario", "cache", "kind of incident to simulate: "+scenarioNames()+" (see simulate --help)")
	f.Uint64Var(&o.seed, "seed", 1, "simulation seed")
	f.StringVar(&o.smtp, "smtp", "", "deliver the notices to this SMTP server (default: Mailpit on 127.0.0.1:1025 when it answers)")
	f.BoolVar(&o.noSend, "no-send", false, "render the notices but do not send them")
	f.BoolVar(&o.serve, "serve", false, "at the end, serve the case in a browser (breachctl serve) with a demo account, until Ctrl-C")
	f.StringVar(&o.listen, "listen", "127.0.0.1:8080", "with --serve: the address to serve on")
	f.StringVar(&o.usersDB, "users-db", "", "database for the simulated users (default: the case database; never $USERS_DATABASE_URL, which may be your real one)")
	return cmd
}

// demoCaseID is the simulated case's id; the demo replaces it on every run.
const demoCaseID = "demo-cdn-cache-leak"

// demoCase is the case id of a scenario's demo.
func demoCase(scenario string) string {
	if scenario == "" || scenario == "cache" {
		return demoCaseID
	}
	return "demo-" + scenario
}

// demoMarker marks a directory the demo wrote, so a rerun may replace it.
const demoMarker = ".breachctl-demo"

func runDemo(ctx context.Context, d *deps, o demoOptions) error {
	start := time.Now()
	if err := prepareDemoDir(o.out); err != nil {
		return err
	}
	w := d.io.Out
	step := 0
	const steps = 10
	title := func(s string) {
		step++
		fmt.Fprintf(w, "\n── %d/%d %s ──\n", step, steps, s)
	}

	// Databases.
	caseURL, usersURL, stop, err := demoDatabases(ctx, d, o.usersDB)
	if err != nil {
		return err
	}
	if stop != nil {
		defer stop()
	}
	saved := d.dbURL
	d.dbURL = caseURL
	defer func() { d.dbURL = saved }()

	// A rerun replaces the earlier demo's case (its runs and ledger), so the
	// notices are sent again rather than recorded as sent in an earlier run.
	st, err := d.store(ctx)
	if err != nil {
		return err
	}
	err = st.DeleteCase(ctx, demoCase(o.scenario))
	st.Close()
	if err != nil {
		return err
	}

	incDir := filepath.Join(o.out, "incident")
	caseFile := filepath.Join(incDir, "incident.yaml")
	title("simulate an incident")
	if err := runSimulate(ctx, d, simulateOptions{out: incDir, users: o.users, requests: o.requests,
		format: o.format, scenario: o.scenario, seed: o.seed, usersDB: usersURL, caseID: demoCase(o.scenario), ttl: 30 * time.Second}); err != nil {
		return err
	}
	title("validate the case file, databases and logs")
	if err := runValidate(ctx, d, validateOptions{caseFile: caseFile}); err != nil {
		return err
	}
	title("ingest: parse, correlate, resolve, store run")
	if err := runIngest(ctx, d, ingestOptions{caseFile: caseFile, margin: time.Hour, memoryLimit: "900MiB"}); err != nil {
		return err
	}
	title("triage")
	triageHTML := filepath.Join(o.out, "triage.html")
	if err := runTriage(ctx, d, triageOptions{caseFile: caseFile, format: "text", html: triageHTML}); err != nil {
		return err
	}
	if err := runAffected(ctx, d, affectedOptions{caseFile: caseFile, format: "csv", out: filepath.Join(o.out, "affected.csv")}); err != nil {
		return err
	}
	title("render the notices")
	outbox := filepath.Join(o.out, "outbox")
	if err := runNotifyRender(ctx, d, notifyRenderOptions{noticeFlags: noticeFlags{caseFile: caseFile, workers: 2}, out: outbox}); err != nil {
		return err
	}
	title("deliver the notices")
	smtpURL := o.smtp
	sent := false
	switch {
	case o.noSend:
		fmt.Fprintln(w, "skipped (--no-send)")
	case smtpURL == "" && !answers("127.0.0.1:1025"):
		fmt.Fprintln(w, "skipped: no --smtp given and no Mailpit on 127.0.0.1:1025 (make demo starts one)")
	default:
		if smtpURL == "" {
			smtpURL = "smtp://127.0.0.1:1025"
		}
		if err := runNotifySend(ctx, d, notifySendOptions{noticeFlags: noticeFlags{caseFile: caseFile, workers: 4}, smtp: smtpURL,
			uncertain: "resend", maxAttempts: 5, backoff: 5 * time.Second, timeout: 60 * time.Second}); err != nil {
			return err
		}
		sent = true
	}
	title("write the letters the law requires")
	letters := filepath.Join(o.out, "letters")
	wroteLetters := false
	if _, err := letter.LoadFonts(""); err != nil {
		fmt.Fprintf(w, "skipped: %v\n", err)
	} else {
		if err := runNotifyLetters(ctx, d, notifyLettersOptions{noticeFlags: noticeFlags{caseFile: caseFile, workers: 2}, out: letters}); err != nil {
			return err
		}
		wroteLetters = true
	}
	title("delivery status")
	if err := runNotifyStatus(ctx, d, notifyStatusOptions{caseFile: caseFile, format: "text"}); err != nil {
		return err
	}
	title("obligations: which laws, by when")
	if err := runObligations(ctx, d, obligationsOptions{caseFile: caseFile, format: "text"}); err != nil {
		return err
	}
	title("regulator reports")
	reports := filepath.Join(o.out, "reports")
	if err := os.MkdirAll(reports, 0o700); err != nil {
		return err
	}
	for _, kind := range report.Kinds {
		for _, format := range []string{"md", "html", "json"} {
			path := filepath.Join(reports, kind+"."+format)
			if err := runReport(ctx, d, reportOptions{caseFile: caseFile, kind: kind, format: format, out: path}); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(w, "wrote %d reports (md, html, json) to %s\n", len(report.Kinds), reports)

	fmt.Fprintf(w, "\ndemo finished in %s. Open first:\n", time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(w, "  %-34s the triage report for the security lead and legal (offline HTML)\n", triageHTML)
	fmt.Fprintf(w, "  %-34s who was affected (user ids, level, categories, views)\n", filepath.Join(o.out, "affected.csv"))
	fmt.Fprintf(w, "  %-34s one .eml notice per person, and manifest.jsonl\n", outbox+"/")
	if wroteLetters {
		fmt.Fprintf(w, "  %-34s the letters for the mailing house: a PDF each, print PDFs, mailing.csv\n", letters+"/")
	}
	fmt.Fprintf(w, "  %-34s APPI (Japanese), GDPR Art. 33, California AG, HIPAA\n", reports+"/")
	fmt.Fprintf(w, "  %-34s what the simulation really served: the oracle\n", filepath.Join(incDir, "truth.json"))
	if sent && (o.smtp == "" || o.smtp == "smtp://127.0.0.1:1025") {
		fmt.Fprintf(w, "  %-34s the delivered notices in Mailpit's web UI\n", "http://127.0.0.1:8025/")
	}
	if o.serve {
		if err := demoServe(ctx, d, o, caseFile); err != nil {
			return err
		}
	}
	if stop != nil {
		fmt.Fprintln(w, "(the private PostgreSQL is removed now; pass --db to keep the case database)")
	}
	return nil
}

// demoAccount is the staff account demo --serve signs in with.
const demoAccount = "demo-admin"

// demoServe serves the demo case with a demo admin account (its password
// made anew each time) until ctx ends.
func demoServe(ctx context.Context, d *deps, o demoOptions, caseFile string) error {
	w := d.io.Out
	fmt.Fprintf(w, "\n── serve the case in a browser ──\n")
	pw := generatePassword()
	hash, err := serve.HashPassword(pw)
	if err != nil {
		return err
	}
	st, err := d.store(ctx)
	if err != nil {
		return err
	}
	err = st.AddStaff(ctx, demoAccount, store.RoleAdmin, hash)
	if errors.Is(err, store.ErrExists) {
		err = st.UpdateStaff(ctx, demoAccount, store.RoleAdmin, false, hash)
	}
	var sample string
	if err == nil {
		sample, err = demoSampleUser(ctx, st, demoCase(o.scenario))
	}
	st.Close()
	if err != nil {
		return err
	}
	// The self-check API needs a secret: the configured one, else one made
	// for this demo only.
	getenv := d.getenv
	secret := []byte(d.env("BREACHCTL_SELFCHECK_SECRET"))
	if len(secret) == 0 {
		var b [32]byte
		_, _ = rand.Read(b[:])
		secret = []byte(hex.EncodeToString(b[:]))
		d.getenv = func(k string) (string, bool) {
			if k == "BREACHCTL_SELFCHECK_SECRET" {
				return string(secret), true
			}
			return getenv(k)
		}
		defer func() { d.getenv = getenv }()
	}
	return runServe(ctx, d, serveOptions{caseFile: caseFile, listen: o.listen, sessionTTL: 8 * time.Hour}, func(addr string) {
		fmt.Fprintf(w, "serving %s\n", addr)
		fmt.Fprintf(w, "  sign in as %s with password %s (admin; made anew by each demo)\n", demoAccount, pw)
		if sample != "" {
			var nonce [16]byte
			_, _ = rand.Read(nonce[:])
			tok := serve.SignSelfCheck(secret, sample, time.Now().Add(serve.DefaultSelfCheckMaxTTL), nonce[:])
			fmt.Fprintf(w, "  look up user %s, or ask as that person would through the company's site (answers once, for %s):\n", sample, serve.DefaultSelfCheckMaxTTL)
			fmt.Fprintf(w, "    curl -H 'Authorization: Bearer %s' %sapi/v1/self-check\n", tok, addr)
		}
		fmt.Fprintln(w, "  Ctrl-C stops it.")
	})
}

// demoSampleUser is an affected person of the demo's latest run to show
// (the first confirmed one by id), "" when nobody is affected.
func demoSampleUser(ctx context.Context, st *store.Store, caseID string) (string, error) {
	r, err := st.LatestRun(ctx, caseID)
	if err != nil {
		return "", err
	}
	as, err := st.ListAffected(ctx, caseID, r.Run)
	if err != nil {
		return "", err
	}
	pick := ""
	for _, a := range as {
		if a.Level == "confirmed" && (pick == "" || lessUserID(a.UserID, pick)) {
			pick = a.UserID
		}
	}
	return pick, nil
}

// lessUserID orders numeric ids by number, others as strings.
func lessUserID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// prepareDemoDir makes dir empty: it may be absent, empty, or an earlier demo.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) == 0:
	default:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usageErrorf("--out %s exists and is not an earlier demo's directory: give an empty or new directory", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("written by breachctl demo; a rerun replaces this directory\n"), 0o600)
}

// demoDatabases picks the case and user databases: configured ones, else
// the local server, else a private throwaway one (stop removes it).
func demoDatabases(ctx context.Context, d *deps, usersDB string) (caseURL, usersURL string, stop func(), err error) {
	if u, err := d.caseDBURL(); err == nil {
		// Not $USERS_DATABASE_URL: during a real incident that is the
		// organisation's user database, and the simulator writes tables.
		users := usersDB
		if users == "" {
			users = u
		}
		return u, users, nil, nil
	}
	local := d.env("BREACHCTL_DEMO_LOCAL_PG")
	if local == "" {
		local = "127.0.0.1:5432"
	}
	if local != "none" && answers(local) {
		u := "postgres://postgres@" + local + "/breachctl_demo?sslmode=disable"
		if err := ensureDatabase(ctx, d, "postgres://postgres@"+local+"/postgres?sslmode=disable", "breachctl_demo"); err == nil {
			fmt.Fprintf(d.io.Err, "demo: using database breachctl_demo on the PostgreSQL at %s\n", local)
			return u, u, nil, nil
		}
	}
	fmt.Fprintln(d.io.Err, "demo: no database configured and none answers: starting a private PostgreSQL ...")
	srv, err := pgembed.Start(ctx)
	if err == nil {
		fmt.Fprintf(d.io.Err, "demo: private PostgreSQL in %s (Unix socket only; removed at the end)\n", srv.Dir())
	}
	if err != nil {
		return "", "", nil, fmt.Errorf("%w (or pass --db URL)", err)
	}
	stop = func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(d.io.Err, "demo: stopping the private PostgreSQL: %v\n", err)
		}
	}
	if err := ensureDatabase(ctx, d, srv.URL("postgres"), "breachctl_demo"); err != nil {
		stop()
		return "", "", nil, err
	}
	u := srv.URL("breachctl_demo")
	return u, u, stop, nil
}

func ensureDatabase(ctx context.Context, d *deps, adminURL, name string) error {
	db, err := d.connectUsers(ctx, adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.GetContext(ctx, &n, "SELECT count(*) FROM pg_database WHERE datname = $1", name); err != nil {
		return fmt.Errorf("%s: %w", store.Redact(adminURL), err)
	}
	if n == 0 {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
			return fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return nil
}

// answers reports whether something accepts TCP connections at addr.
func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
