package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/internal/mailpit"
	"github.com/breachctl/breachctl/notify/deliver"
)

// inApp is an in-app message service as a company would run one: it
// checks each request's signature, keeps the first message of each
// Idempotency-Key and answers 2xx to its repeats.
type inApp struct {
	t      *testing.T
	secret []byte

	mu       sync.Mutex
	received map[string]int    // Idempotency-Key -> requests
	accepted map[string]string // Idempotency-Key -> user id
	badSig   int
}

func newInApp(t *testing.T, secret []byte) (*inApp, *httptest.Server) {
	a := &inApp{t: t, secret: secret, received: map[string]int{}, accepted: map[string]string{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv
}

func (a *inApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := deliver.VerifyWebhookSignature(a.secret, r.Header.Get("Breachctl-Signature"), body, time.Now(), 5*time.Minute); err != nil {
		a.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	var m struct {
		MessageID string `json:"message_id"`
		UserID    string `json:"user_id"`
		Subject   string `json:"subject"`
		Text      string `json:"text"`
		HTML      string `json:"html"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.UserID == "" || m.Subject == "" || m.Text == "" || m.HTML == "" ||
		strings.Trim(m.MessageID, "<>") != key {
		http.Error(w, "bad message", http.StatusBadRequest)
		a.t.Errorf("in-app message %q: %v (key %q)", m.MessageID, err, key)
		return
	}
	a.received[key]++
	if _, dup := a.accepted[key]; !dup {
		a.accepted[key] = m.UserID
	}
	w.WriteHeader(http.StatusCreated)
}

func (a *inApp) snapshot() (received map[string]int, accepted map[string]string, badSig int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps(a.received), maps(a.accepted), a.badSig
}

func maps[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// channelCase is a simulated cache leak whose case file sends by e-mail to
// everyone, by letter where the law requires it or e-mail did not reach
// the person, and in-app to everyone; whose order pages showed health data
// (HIPAA); and whose users have postal addresses, some with e-mail
// consent, some with no e-mail address.
type channelCase struct {
	caseFile string
	env      map[string]string
	cdb, udb *sqlx.DB
	affected map[string]affectedInfo
}

type affectedInfo struct {
	country string
	hipaa   bool
	consent bool
	noEmail bool
}

func newChannelCase(t *testing.T, webhookURL string) *channelCase {
	t.Helper()
	caseFile, env, _ := simulateCase(t, "nginx")
	raw, err := os.ReadFile(caseFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{"postal_address, email_consent FROM sim_users", "categories: [purchase_history, postal_address]}", "  channels:\n"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the simulated case file has no %q", want)
		}
	}
	text = strings.Replace(text, "categories: [purchase_history, postal_address]}", "categories: [purchase_history, postal_address, health]}", 1)
	// The simulator's policy (e-mail, letters), with in-app messages.
	head, rest, _ := strings.Cut(text, "  channels:\n")
	for strings.HasPrefix(rest, "    ") {
		_, rest, _ = strings.Cut(rest, "\n")
	}
	text = head + fmt.Sprintf(`  channels:
    - {channel: email, when: [always]}
    - channel: letter
      when: [required, fallback]
      return_address: ["1-1 Example-cho", "Chiyoda-ku, Tokyo 100-0001", "Japan"]
    - {channel: webhook, when: [always], url: %q}
`, webhookURL) + rest
	if err := os.WriteFile(caseFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := incident.Load(caseFile, os.LookupEnv)
	if err != nil {
		t.Fatalf("the case file with channels: %v", err)
	}
	if len(c.Notify.Channels) != 3 {
		t.Fatalf("notify.channels = %+v", c.Notify.Channels)
	}
	udb := sqlx.MustOpen("postgres", env["TEST_USERS_OWNER_URL"])
	t.Cleanup(func() { udb.Close() })
	udb.MustExec(`UPDATE sim_users SET email_consent = (id % 3 = 0),
		postal_address = CASE WHEN country = 'JP' THEN '〒100-0001' || E'\n' || '東京都千代田区千代田' || (id % 9 + 1) || '丁目' || E'\n' || '日本'
			ELSE (id % 900 + 10) || ' Main Street' || E'\n' || 'Springfield ' || region || E'\n' || country END`)
	cdb := sqlx.MustOpen("postgres", env["BREACHCTL_DATABASE_URL"])
	t.Cleanup(func() { cdb.Close() })
	return &channelCase{caseFile: caseFile, env: env, cdb: cdb, udb: udb}
}

// load reads the affected people of run 1 and their records.
func (cc *channelCase) load(t *testing.T) {
	t.Helper()
	var rows []struct {
		UserID     string `db:"user_id"`
		Categories string `db:"categories"`
	}
	if err := cc.cdb.Select(&rows, `SELECT user_id, array_to_string(categories, ',') AS categories FROM breachctl.affected WHERE run = 1`); err != nil {
		t.Fatal(err)
	}
	cc.affected = map[string]affectedInfo{}
	for _, r := range rows {
		var u struct {
			Country string `db:"country"`
			Consent bool   `db:"email_consent"`
			Email   string `db:"email"`
		}
		if err := cc.udb.Get(&u, `SELECT country, email_consent, email FROM sim_users WHERE id = $1`, r.UserID); err != nil {
			t.Fatal(err)
		}
		cc.affected[r.UserID] = affectedInfo{country: u.Country, consent: u.Consent, noEmail: u.Email == "",
			hipaa: slices.Contains(strings.Split(r.Categories, ","), "health")}
	}
}

// TestChannelsEndToEnd: some people have no e-mail address, some bounce,
// some are HIPAA-covered or live in the US without e-mail consent. E-mail
// goes to everyone who has an address; after the bounces, letters go to
// exactly the people the law asks a letter for and those e-mail did not
// reach, and in-app messages to everyone; the letter writer and the in-app
// sender are each killed with SIGKILL mid-way and resumed; every person is
// reached once per channel, the in-app service received every message with
// a valid signature, and the letters' text (pdftotext, Japanese included)
// holds their recipient and notice.
func TestChannelsEndToEnd(t *testing.T) {
	if _, err := exec.LookPath("pdftotext"); err != nil && os.Getenv("CI") == "" {
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	secret := []byte("an in-app signing secret of at least 32 bytes")
	app, srv := newInApp(t, secret)
	cc := newChannelCase(t, srv.URL)
	cc.env["BREACHCTL_WEBHOOK_SECRET"] = string(secret)
	if r := runCLI(t, cc.env, "ingest", "-f", cc.caseFile); r.code != 0 {
		t.Fatalf("ingest: exit %d: %s", r.code, r.err)
	}
	cc.load(t)
	ids := make([]string, 0, len(cc.affected))
	for u := range cc.affected {
		ids = append(ids, u)
	}
	sort.Strings(ids)
	// Three people outside the US with nothing health-related lose their
	// address; three more will bounce.
	var plain []string
	for _, u := range ids {
		if a := cc.affected[u]; a.country != "US" && !a.hipaa {
			plain = append(plain, u)
		}
	}
	if len(plain) < 8 {
		t.Fatalf("only %d affected people outside the US without health data: the fixture is too small", len(plain))
	}
	noEmail, bounced := plain[:3], plain[3:6]
	for _, u := range noEmail {
		cc.udb.MustExec(`UPDATE sim_users SET email = '' WHERE id = $1`, u)
	}
	cc.load(t)
	var us, hipaa, consent int
	for _, a := range cc.affected {
		if a.country == "US" {
			us++
		}
		if a.hipaa {
			hipaa++
		}
		if a.consent {
			consent++
		}
	}
	if us == 0 || hipaa == 0 || consent == 0 {
		t.Fatalf("fixture: %d US, %d HIPAA, %d with consent among %d affected: each must be some", us, hipaa, consent, len(cc.affected))
	}

	// Letters before any e-mail: the ones the law requires go out, the
	// fallbacks wait for e-mail.
	required := 0
	for _, a := range cc.affected {
		if !a.consent && (a.country == "US" || a.hipaa) {
			required++
		}
	}
	// The preview writes them for review and records nothing.
	prev := t.TempDir()
	if r := runCLI(t, cc.env, "notify", "render", "-f", cc.caseFile, "--channel", "letter", "--out", prev); r.code != 0 ||
		!strings.Contains(r.out, fmt.Sprintf("preview: %d letters", required)) {
		t.Fatalf("letter preview: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	if m, _ := filepath.Glob(filepath.Join(prev, "*", "letters-preview", "*.pdf")); len(m) < required {
		t.Errorf("the preview holds %d PDFs, want at least %d", len(m), required)
	}
	var rows int
	if err := cc.cdb.Get(&rows, `SELECT count(*) FROM breachctl.notices WHERE channel = 'letter'`); err != nil || rows != 0 {
		t.Errorf("the preview recorded %d letter notices (%v), want none", rows, err)
	}
	out := t.TempDir()
	if r := runCLI(t, cc.env, "notify", "letters", "-f", cc.caseFile, "--out", out); r.code != 0 {
		t.Fatalf("letters before any e-mail: exit %d: %s", r.code, r.err)
	} else if !strings.Contains(r.err, fmt.Sprintf("%d people wait for an earlier channel", len(ids)-required)) ||
		!strings.Contains(r.out, fmt.Sprintf("batch 1: %d letters", required)) {
		t.Errorf("letters before any e-mail: want %d required letters written and the others waiting:\n%s\n%s", required, r.err, r.out)
	}

	// E-mail: everyone with an address.
	mp := mailpit.Start(t)
	r := runCLI(t, cc.env, "notify", "send", "-f", cc.caseFile, "--smtp", mp.SMTPURL())
	if r.code != 1 || !strings.Contains(r.err, "3 notices failed permanently") {
		t.Fatalf("e-mail send: exit %d (want 1: three people have no address): %s\n%s", r.code, r.err, r.out)
	}
	if got, want := len(mp.Messages(t)), len(ids)-3; got != want {
		t.Fatalf("mailpit holds %d messages, want %d", got, want)
	}
	// The e-mail send put the in-app messages the policy owes everyone in
	// the ledger too: the notice duties stay open until they go out.
	var pendingInApp int
	if err := cc.cdb.Get(&pendingInApp, `SELECT count(*) FROM breachctl.notices WHERE channel = 'webhook' AND state = 'pending'`); err != nil || pendingInApp != len(ids) {
		t.Errorf("%d in-app messages pending after the e-mail send (%v), want %d", pendingInApp, err, len(ids))
	}
	if ob := runCLI(t, cc.env, "obligations", "-f", cc.caseFile, "--format", "json"); strings.Contains(ob.out, `"status": "done"`) {
		t.Errorf("a notice duty is done while in-app messages are owed:\n%s", ob.out)
	}
	// Three bounce.
	var mbox strings.Builder
	for _, u := range bounced {
		var id string
		if err := cc.cdb.Get(&id, `SELECT message_id FROM breachctl.notices WHERE channel = 'email' AND user_id = $1`, u); err != nil {
			t.Fatal(err)
		}
		mbox.WriteString("From MAILER-DAEMON Fri Jun 23 10:00:05 2017\n" + dsn(id, "gone@example.net", "failed", "5.1.1") + "\n")
	}
	mboxPath := filepath.Join(t.TempDir(), "bounces.mbox")
	if err := os.WriteFile(mboxPath, []byte(mbox.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, cc.env, "notify", "bounces", "-f", cc.caseFile, "--mbox", mboxPath); r.code != 0 ||
		!strings.Contains(r.out, "3 people's e-mail notices are marked bounced: now due on the next channel of notify.channels (letter)") {
		t.Fatalf("bounces: exit %d: %s\n%s", r.code, r.err, r.out)
	}

	// Letters: killed once mid-batch, then resumed.
	want := map[string]bool{}
	for u, a := range cc.affected {
		if (!a.consent && (a.country == "US" || a.hipaa)) || a.noEmail || slices.Contains(bounced, u) {
			want[u] = true
		}
	}
	killMidway(t, cc.env, []string{"notify", "letters", "-f", cc.caseFile, "--out", out, "--workers", "1"}, func() bool {
		m, _ := filepath.Glob(filepath.Join(out, "*", "letters-*.partial", "*.pdf"))
		return len(m) >= 2
	})
	r = runCLI(t, cc.env, "notify", "letters", "-f", cc.caseFile, "--out", out)
	if r.code != 0 || !strings.Contains(r.out, "left incomplete by an earlier run") {
		t.Fatalf("letters after the kill: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	t.Logf("notify letters:\n%s", r.out)
	if r := runCLI(t, cc.env, "notify", "letters", "-f", cc.caseFile, "--out", out); r.code != 0 || !strings.Contains(r.out, "no letter is due") {
		t.Fatalf("letters again: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	got := lettersHandedOver(t, out)
	for u := range want {
		if got[u] != 1 {
			t.Errorf("user %s: %d letters handed over, want 1", u, got[u])
		}
	}
	for u, n := range got {
		if !want[u] {
			t.Errorf("user %s: %d letters, want none (the policy does not send them one)", u, n)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(out, "*", "*.partial")); len(m) > 0 {
		t.Errorf("incomplete batch directories left: %v", m)
	}
	checkLetterText(t, cc, out)

	// In-app: killed once mid-way, then resumed.
	killMidway(t, cc.env, []string{"notify", "send", "-f", cc.caseFile, "--channel", "webhook", "--rate", "40", "--workers", "2"}, func() bool {
		_, acc, _ := app.snapshot()
		return len(acc) >= 10
	})
	for i := 0; i < 2; i++ {
		r := runCLI(t, cc.env, "notify", "send", "-f", cc.caseFile, "--channel", "webhook")
		if r.code != 0 && !strings.Contains(r.err, "uncertain") {
			t.Fatalf("in-app resume: exit %d: %s", r.code, r.err)
		}
	}
	received, accepted, badSig := app.snapshot()
	if badSig != 0 {
		t.Errorf("%d requests had no valid signature", badSig)
	}
	byUser := map[string]int{}
	for _, u := range accepted {
		byUser[u]++
	}
	for _, u := range ids {
		if byUser[u] != 1 {
			t.Errorf("user %s: %d in-app messages accepted, want 1", u, byUser[u])
		}
	}
	var doubt []string
	if err := cc.cdb.Select(&doubt, `SELECT message_id FROM breachctl.notices WHERE channel = 'webhook' AND uncertain_count > 0`); err != nil {
		t.Fatal(err)
	}
	for key, n := range received {
		if n > 1 && !slices.Contains(doubt, "<"+key+">") {
			t.Errorf("in-app message %s received %d times, and the ledger never held it in doubt", key, n)
		}
	}

	// Every ledger row ended where it should; e-mail was never resent.
	var states []struct {
		Channel string `db:"channel"`
		State   string `db:"state"`
		N       int    `db:"n"`
	}
	if err := cc.cdb.Select(&states, `SELECT channel, state, count(*) AS n FROM breachctl.notices WHERE run = 1 GROUP BY 1, 2 ORDER BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	wantStates := fmt.Sprintf("email bounced 3, email failed 3, email sent %d, letter sent %d, webhook sent %d", len(ids)-6, len(want), len(ids))
	var gotStates []string
	for _, s := range states {
		gotStates = append(gotStates, fmt.Sprintf("%s %s %d", s.Channel, s.State, s.N))
	}
	if strings.Join(gotStates, ", ") != wantStates {
		t.Errorf("ledger: %s\nwant   %s", strings.Join(gotStates, ", "), wantStates)
	}
	if n := len(mp.Messages(t)); n != len(ids)-3 {
		t.Errorf("mailpit holds %d messages after the other channels, want %d (e-mail is never resent)", n, len(ids)-3)
	}

	// A letter comes back: recorded, and notify status says so.
	var back string
	for u := range want {
		back = u
		break
	}
	if r := runCLI(t, cc.env, "notify", "mark-returned", "-f", cc.caseFile, "--user", back, "--user", "no-such-user"); r.code != 1 ||
		!strings.Contains(r.out, "1 letters of run 1 recorded returned") || !strings.Contains(r.out, "no-such-user") {
		t.Errorf("mark-returned: exit %d: %s\n%s", r.code, r.err, r.out)
	}
	// Another, from the mailing house's list: mailing.csv's rows, matched by
	// their Message-ID; the same list again changes nothing.
	var csvRows [][]string
	csvs, _ := filepath.Glob(filepath.Join(out, "*", "letters-*", "mailing.csv"))
	for _, p := range csvs {
		f, _ := os.Open(p)
		rows, _ := csv.NewReader(f).ReadAll()
		f.Close()
		if csvRows == nil {
			csvRows = rows[:1]
		}
		for _, row := range rows[1:] {
			if row[4] != back && len(csvRows) < 2 {
				csvRows = append(csvRows, row)
			}
		}
	}
	returned := filepath.Join(t.TempDir(), "returned.csv")
	rf, err := os.Create(returned)
	if err != nil {
		t.Fatal(err)
	}
	if err := csv.NewWriter(rf).WriteAll(csvRows); err != nil {
		t.Fatal(err)
	}
	rf.Close()
	for i := 0; i < 2; i++ {
		if r := runCLI(t, cc.env, "notify", "mark-returned", "-f", cc.caseFile, "--csv", returned); r.code != 0 ||
			!strings.Contains(r.out, "1 letters (by their Message-ID) recorded returned") {
			t.Errorf("mark-returned --csv #%d: exit %d: %s\n%s", i+1, r.code, r.err, r.out)
		}
	}
	st := runCLI(t, cc.env, "notify", "status", "-f", cc.caseFile)
	if !strings.Contains(st.out, "letter     returned 2, handed over "+fmt.Sprint(len(want)-2)+"\n") ||
		!strings.Contains(st.out, "bounced           3") {
		t.Errorf("status:\n%s", st.out)
	}
}

// killMidway runs breachctl in a child process and kills it with SIGKILL
// once ready() holds.
func killMidway(t *testing.T, env map[string]string, args []string, ready func() bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReviewFilesHelperProcess$")
	cmd.Env = append(os.Environ(), "BREACHCTL_REVIEW_HELPER=1", "BREACHCTL_REVIEW_ARGS="+strings.Join(args, "\x1f"))
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for !ready() {
		select {
		case err := <-exited:
			t.Fatalf("%s exited before it was killed (%v):\n%s", args[1], err, outBuf.String())
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("%s: nothing happened in 60 s:\n%s", args[1], outBuf.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if err := <-exited; !strings.Contains(fmt.Sprint(err), "killed") {
		t.Fatalf("%s was not killed (%v)", args[1], err)
	}
}

// lettersHandedOver counts each user id's letters across the finished
// batches' mailing.csv files, checking each file named is there and 0600.
func lettersHandedOver(t *testing.T, out string) map[string]int {
	t.Helper()
	got := map[string]int{}
	csvs, _ := filepath.Glob(filepath.Join(out, "*", "letters-*", "mailing.csv"))
	if len(csvs) == 0 {
		t.Fatal("no finished letter batch")
	}
	for _, p := range csvs {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, row := range rows[1:] {
			got[row[4]]++
			fi, err := os.Stat(filepath.Join(filepath.Dir(p), row[1]))
			if err != nil {
				t.Errorf("%s: %v", p, err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", row[1], fi.Mode().Perm())
			}
		}
	}
	return got
}

// checkLetterText extracts the text of one Japanese and one English letter
// and finds their recipient's address and the notice's subject.
func checkLetterText(t *testing.T, cc *channelCase, out string) {
	t.Helper()
	csvs, _ := filepath.Glob(filepath.Join(out, "*", "letters-*", "mailing.csv"))
	checked := map[bool]bool{}
	for _, p := range csvs {
		f, _ := os.Open(p)
		rows, _ := csv.NewReader(f).ReadAll()
		f.Close()
		for _, row := range rows[1:] {
			ja := row[7] == "ja"
			if checked[ja] || (!ja && row[7] != "en") {
				continue
			}
			txt, err := exec.Command("pdftotext", "-enc", "UTF-8", filepath.Join(filepath.Dir(p), row[1]), "-").Output()
			if err != nil {
				t.Fatalf("pdftotext %s: %v", row[1], err)
			}
			flat := strings.Join(strings.Fields(string(txt)), "")
			var addr string
			if err := cc.udb.Get(&addr, `SELECT postal_address FROM sim_users WHERE id = $1`, row[4]); err != nil {
				t.Fatal(err)
			}
			for _, want := range append(strings.Split(addr, "\n"), row[9]) {
				if !strings.Contains(flat, strings.Join(strings.Fields(want), "")) {
					t.Errorf("letter %s (%s): no %q in its text:\n%s", row[1], row[7], want, txt)
				}
			}
			subject := "お知らせ"
			if !ja {
				subject = "notice"
			}
			if !strings.Contains(strings.ToLower(flat), subject) {
				t.Errorf("letter %s (%s): no %q in its text:\n%s", row[1], row[7], subject, txt)
			}
			checked[ja] = true
		}
	}
	if !checked[true] || !checked[false] {
		t.Errorf("letters checked: Japanese %v, English %v; want both", checked[true], checked[false])
	}
}
