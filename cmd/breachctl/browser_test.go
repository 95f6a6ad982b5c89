package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/syncbuf"
)

// lockedBuffer collects a server's log from its goroutines.
type lockedBuffer = syncbuf.Buffer

// startServe runs `breachctl serve` on the fixture's case on a free
// loopback port until the test ends, and returns its address (with a
// trailing slash) and its log.
func startServe(t *testing.T, f *serveFixture, env map[string]string) (string, *lockedBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logb := &lockedBuffer{}
	getenv := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		v, ok := f.env[k]
		return v, ok
	}
	d := newDeps(IO{In: strings.NewReader(""), Out: io.Discard, Err: logb}, getenv)
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, d, serveOptions{caseFile: f.caseFile, listen: "127.0.0.1:0", sessionTTL: time.Hour}, func(a string) { addr <- a })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v\n%s", err, logb.String())
			}
		case <-time.After(15 * time.Second):
			t.Errorf("serve did not stop within 15 s of its context ending")
		}
	})
	select {
	case a := <-addr:
		return a, logb
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logb.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start\n%s", logb.String())
	}
	return "", nil
}

// addStaff adds an account through the command, the password on stdin.
func addStaff(t *testing.T, f *serveFixture, name, role, password string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) (string, bool) { v, ok := f.env[k]; return v, ok }
	code := Main(context.Background(), []string{"serve", "users", "add", name, "--role", role, "--password-stdin"},
		IO{In: strings.NewReader(password + "\n"), Out: &out, Err: &errb}, getenv)
	if code != 0 {
		t.Fatalf("serve users add %s: exit %d: %s", name, code, errb.String())
	}
}

// TestBrowserSupportDesk drives a real headless Chromium through the
// support desk: sign in, look a person up by e-mail address, open the
// notice they were sent, and check the audit log recorded the lookup (who,
// whom, from where, never the address).
func TestBrowserSupportDesk(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("Chromium is not installed (Debian package chromium; `make test` installs it): the browser test needs a real browser")
	}
	f := newServeFixture(t)
	const password = "correct horse battery staple"
	addStaff(t, f, "desk", store.RoleSupport, password)
	addr, logb := startServe(t, f, nil)

	person := f.affected(t)[2]
	var email string
	if err := f.admin.Get(&email, "SELECT email FROM sim_users WHERE id = $1", person.UserID); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	// One deadline for the whole browser session (it ends the browser).
	tctx, cancelTimeout := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancelTimeout()
	actx, cancelAlloc := chromedp.NewExecAllocator(tctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	fail := func(step string, err error) {
		t.Helper()
		t.Fatalf("browser: %s: %v\nserve log:\n%s", step, err, logb.String())
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	// Not signed in: the lookup page sends the browser to sign in first.
	if err := chromedp.Do(bctx,
		chromedp.Navigate(addr+"lookup"),
		chromedp.WaitVisible(css(`input[name=password]`)),
		chromedp.SendKeys(css(`input[name=name]`), "desk"),
		chromedp.SendKeys(css(`input[name=password]`), password),
		chromedp.Submit(css(`input[name=password]`)),
		chromedp.WaitVisible(css(`input[name=email]`)),
	); err != nil {
		fail("sign in", err)
	}
	afterLogin, err := chromedp.Run(bctx, chromedp.Location())
	if err != nil {
		fail("location", err)
	}
	if err := chromedp.Do(bctx,
		chromedp.SendKeys(css(`input[name=email]`), email),
		chromedp.Submit(css(`input[name=email]`)),
		chromedp.WaitVisible(css(`a[href^="/notice?"]`)),
	); err != nil {
		fail("look up by e-mail", err)
	}
	personPage, err := chromedp.Run(bctx, chromedp.Text(css(`main`)))
	if err != nil {
		fail("person page", err)
	}
	if err := chromedp.Do(bctx,
		chromedp.Click(css(`a[href^="/notice?"]`)),
		chromedp.WaitVisible(css(`pre`)),
	); err != nil {
		fail("open the notice", err)
	}
	noticeText, err := chromedp.Run(bctx, chromedp.Text(css(`pre`)))
	if err != nil {
		fail("notice text", err)
	}
	verified, err := chromedp.Run(bctx, chromedp.Text(css(`.verified`)))
	if err != nil {
		fail("notice verified", err)
	}
	if !strings.HasSuffix(afterLogin, "/lookup") {
		t.Errorf("after signing in the browser is at %s, want the page asked for (/lookup)", afterLogin)
	}
	if !strings.Contains(personPage, person.UserID) || !strings.Contains(personPage, person.Level) {
		t.Errorf("person page does not show user %s (%s):\n%s", person.UserID, person.Level, personPage)
	}
	if !strings.Contains(verified, "Verified") {
		t.Errorf("the notice is not shown as verified: %q", verified)
	}
	if len(noticeText) < 200 {
		t.Errorf("the notice's text is %d characters: %q", len(noticeText), noticeText)
	}

	// The audit log: the lookup by address and the notice, by desk, with
	// the person's id and the browser's address, never the e-mail address.
	r := runCLI(t, f.env, "audit", "-f", f.caseFile, "--format", "json")
	if r.code != 0 {
		t.Fatalf("audit: exit %d: %s", r.code, r.err)
	}
	if strings.Contains(strings.ToLower(r.out), strings.ToLower(email)) {
		t.Fatalf("the audit log holds the e-mail address:\n%s", r.out)
	}
	var es []store.AuditEntry
	if err := json.Unmarshal([]byte(r.out), &es); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		if e.Actor != "desk" || e.Role != store.RoleSupport || !strings.HasPrefix(e.Remote, "127.0.0.1") {
			t.Errorf("audit entry %+v: want actor desk (support) from 127.0.0.1", e)
		}
		if e.UserID == person.UserID {
			seen[e.Action] = true
		}
	}
	for _, want := range []string{store.AuditLookupEmail, store.AuditNotice} {
		if !seen[want] {
			t.Errorf("no %s audit entry for user %s in %+v", want, person.UserID, es)
		}
	}
	if strings.Contains(logb.String(), email) {
		t.Errorf("the server's log holds the e-mail address")
	}
	// The text audit lists it too, for a person.
	r = runCLI(t, f.env, "audit", "-f", f.caseFile, "--user", person.UserID)
	if r.code != 0 || !strings.Contains(r.out, "lookup-email") || !strings.Contains(r.out, "desk") {
		t.Errorf("audit --user %s: exit %d\n%s%s", person.UserID, r.code, r.out, r.err)
	}
}
