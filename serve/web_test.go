package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/pgtest"
	"github.com/breachctl/breachctl/internal/syncbuf"
	"github.com/breachctl/breachctl/notify/deliver"
)

func TestMain(m *testing.M) {
	BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// webFakeData is the case the web tests show: u1 is affected and has a
// notice; alice@example.com is u1; shared@example.com is u1 and u2.
type webFakeData struct {
	mu        sync.Mutex
	noQuery   bool
	addresses []string // what LookupEmail was asked
	disclosed []string // user ids Disclose was asked
}

const webCase = "case-1"

func (f *webFakeData) CaseID() string { return webCase }
func (f *webFakeData) Title() string  { return "Cache leak <March>" }
func (f *webFakeData) LatestRun(ctx context.Context) (int, error) {
	return 2, nil
}

func (f *webFakeData) Runs(ctx context.Context) ([]revision.RunInfo, error) {
	fin := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	return []revision.RunInfo{
		{Run: 1, State: "done", StartedAt: fin.Add(-time.Hour), FinishedAt: &fin, Affected: &revision.Levels{Confirmed: 1200, Possible: 3, People: 1203}},
		{Run: 2, State: "done", StartedAt: fin, FinishedAt: &fin, Affected: &revision.Levels{Confirmed: 1, People: 1}, Evidence: revision.Evidence{ComparedTo: 1}},
	}, nil
}

func (f *webFakeData) TriageHTML(ctx context.Context, run int, w *BufferedPage) error {
	if run != 1 && run != 2 {
		return fmt.Errorf("run %d: %w", run, store.ErrNotFound)
	}
	fmt.Fprintf(w, `<!doctype html><html><head><style>h1{color:red}</style></head><body class="t"><h1>Triage of run %d</h1><svg width="1"></svg></body></html>`, run)
	return nil
}

func (f *webFakeData) Diff(ctx context.Context, from, to int) (*revision.Diff, error) {
	if from == 0 {
		from = 1
	}
	if to == 0 {
		to = 2
	}
	return revision.Compare(webCase, from, to, nil, nil), nil
}

func (f *webFakeData) Disclose(ctx context.Context, run int, userID string) (*triage.Disclosure, error) {
	f.mu.Lock()
	f.disclosed = append(f.disclosed, userID)
	f.mu.Unlock()
	d := &triage.Disclosure{Case: webCase, Run: run, UserID: userID, Categories: []string{}, TimeZone: "Asia/Tokyo"}
	if userID == "u1" {
		first := time.Date(2026, 2, 28, 23, 0, 0, 0, time.UTC)
		d.Affected, d.Level, d.Categories = true, "confirmed", []string{"address", "orders"}
		d.CategoryLevels = map[string]string{"address": "confirmed", "orders": "possible"}
		d.Views, d.Viewers, d.FirstExposed, d.LastExposed = 3, 2, &first, &first
		d.Rules = []triage.RuleExposure{{Name: "cdn-cache", Kind: "cache", How: "the CDN served their account page to others", Confirmed: 3}}
		d.Pages = []triage.PageExposure{{Rule: "cdn-cache", Path: "/account", Categories: []string{"address"}, Confirmed: 3, First: &first, Last: &first}}
	}
	return d, nil
}

func (f *webFakeData) PersonNotices(ctx context.Context, userID string) ([]store.Notice, error) {
	if userID != "u1" {
		return nil, nil
	}
	return []store.Notice{{CaseID: webCase, Run: 2, UserID: "u1", Channel: "email", State: "sent", Attempts: 1, Kind: store.NoticeFirst}}, nil
}

const webRawNotice = "From: privacy@example.com\r\nTo: Alice <alice@example.com>\r\nSubject: About your data\r\n\r\nDear Alice,\r\n"

func (f *webFakeData) Notice(ctx context.Context, run int, userID string) (*RenderedNotice, error) {
	if userID != "u1" || run != 2 {
		return nil, fmt.Errorf("notice of run %d: %w", run, store.ErrNotFound)
	}
	return &RenderedNotice{Run: 2, Kind: "first", State: "sent", Subject: "About your data",
		Date:    time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC),
		Headers: [][2]string{{"Subject", "About your data"}, {"To", "Alice <alice@example.com>"}},
		Text:    "Dear Alice,\n<b>not bold</b>\n", Raw: []byte(webRawNotice),
		Verified: false, Note: "recorded before digests were kept"}, nil
}

func (f *webFakeData) Ledger(ctx context.Context, run int) (*deliver.StatusReport, error) {
	return &deliver.StatusReport{Case: webCase, Run: run, Counts: store.NoticeCounts{Total: 5, Sent: 3, Failed: 1, Uncertain: 1},
		Failures: []store.NoticeReason{{Reason: "550 mailbox unavailable", Count: 1}}, Uncertain: []string{"u7"}}, nil
}

func (f *webFakeData) Obligations(ctx context.Context, run int, now time.Time) ([]report.Obligation, error) {
	d := time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)
	return []report.Obligation{
		{ID: "a", Law: "GDPR", Duty: "notify the authority (Art. 33)", To: report.ToRegulator, People: 1203, Deadline: d, Status: report.StatusDone},
		{ID: "b", Law: "APPI", Duty: "preliminary report to the PPC", To: report.ToRegulator, People: 1203, Deadline: d.Add(48 * time.Hour), Status: report.StatusDue},
		{ID: "c", Law: "California", Duty: "notify residents", To: report.ToIndividuals, People: 7, Deadline: d.Add(96 * time.Hour), Status: report.StatusDue},
	}, nil
}

func (f *webFakeData) LookupEmail(ctx context.Context, email string) ([]string, error) {
	f.mu.Lock()
	f.addresses = append(f.addresses, email)
	f.mu.Unlock()
	if f.noQuery {
		return nil, ErrNoLookupQuery
	}
	switch strings.ToLower(email) {
	case "alice@example.com":
		return []string{"u1"}, nil
	case "shared@example.com":
		return []string{"u1", "u2"}, nil
	}
	return nil, nil
}

func (f *webFakeData) SelfCheck(ctx context.Context, userID string) (*SelfCheck, error) {
	return nil, errors.New("not in the web tests")
}

// lockedBuffer collects a server's log from its goroutines.
type lockedBuffer = syncbuf.Buffer

type webEnv struct {
	t    testing.TB
	st   *store.Store
	data *webFakeData
	srv  *Server
	ts   *httptest.Server
	logs *lockedBuffer
	// clock is the server's clock (the login limiter's time).
	mu    sync.Mutex
	clock time.Time
}

const webPassword = "correct horse battery"

// newWebEnv is a server on a fresh case database with the accounts sup
// (support), ana (analyst), adm (admin) and off (disabled analyst), all
// with webPassword.
func newWebEnv(t testing.TB, useTLS bool) *webEnv {
	t.Helper()
	dbURL, _ := pgtest.NewDB(t)
	ctx := context.Background()
	st, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	e := &webEnv{t: t, st: st, data: &webFakeData{}, logs: &lockedBuffer{}, clock: time.Now()}
	for _, a := range []struct{ name, role string }{{"sup", store.RoleSupport}, {"ana", store.RoleAnalyst}, {"adm", store.RoleAdmin}, {"off", store.RoleAnalyst}} {
		h, err := HashPassword(webPassword)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddStaff(ctx, a.name, a.role, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.UpdateStaff(ctx, "off", store.RoleAnalyst, true, ""); err != nil {
		t.Fatal(err)
	}
	e.srv, err = New(Config{Data: e.data, Store: st, TLS: useTLS, Now: e.now,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if useTLS {
		e.ts = httptest.NewTLSServer(e.srv.Handler())
	} else {
		e.ts = httptest.NewServer(e.srv.Handler())
	}
	t.Cleanup(e.ts.Close)
	return e
}

func (e *webEnv) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.clock
}

func (e *webEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock = e.clock.Add(d)
}

// client is a browser: a cookie jar, redirects not followed.
func (e *webEnv) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := e.ts.Client()
	return &http.Client{Jar: jar, Transport: c.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signedIn is a browser with a session of account name (made in the
// store, so the login limiter is not used), and the session's CSRF token.
func (e *webEnv) signedIn(name string) (*http.Client, string) {
	e.t.Helper()
	tok, csrf := randomToken(), randomToken()
	if err := e.st.CreateSession(context.Background(), tokenHash(tok), name, csrf, "127.0.0.1", time.Now().Add(time.Hour)); err != nil {
		e.t.Fatal(err)
	}
	c := e.client()
	u, _ := url.Parse(e.ts.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: tok, Path: "/"}})
	return c, csrf
}

type webResp struct {
	*http.Response
	body string
}

func (e *webEnv) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) webResp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.ts.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return webResp{res, string(b)}
}

func (e *webEnv) get(c *http.Client, path string) webResp { return e.do(c, "GET", path, nil, nil) }

func (e *webEnv) post(c *http.Client, path string, form url.Values) webResp {
	return e.do(c, "POST", path, form, nil)
}

func (e *webEnv) audit(f store.AuditFilter) []store.AuditEntry {
	e.t.Helper()
	es, err := e.st.AuditLog(context.Background(), webCase, f)
	if err != nil {
		e.t.Fatal(err)
	}
	return es
}

// loginForm fetches /login and returns the form's CSRF token (its cookie
// is in c's jar).
func (e *webEnv) loginForm(c *http.Client) string {
	e.t.Helper()
	r := e.get(c, "/login")
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /login: %d", r.StatusCode)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(r.body)
	if m == nil {
		e.t.Fatalf("no csrf field in the login form:\n%s", r.body)
	}
	return m[1]
}

func (e *webEnv) login(c *http.Client, name, pw, next string) webResp {
	e.t.Helper()
	csrf := e.loginForm(c)
	return e.post(c, "/login", url.Values{"csrf": {csrf}, "name": {name}, "password": {pw}, "next": {next}})
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var wantHeaders = map[string]string{
	"Content-Security-Policy": contentSecurityPolicy,
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}

func checkSecurityHeaders(t *testing.T, what string, h http.Header, useTLS bool) {
	t.Helper()
	for k, v := range wantHeaders {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
	if hsts := h.Get("Strict-Transport-Security"); (hsts != "") != useTLS {
		t.Errorf("%s: Strict-Transport-Security = %q with TLS %v", what, hsts, useTLS)
	}
}

func TestWebSecurityHeaders(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			e := newWebEnv(t, useTLS)
			sup, _ := e.signedIn("sup")
			ana, _ := e.signedIn("ana")
			for _, tc := range []struct {
				name    string
				c       *http.Client
				path    string
				status  int
				noStore bool
			}{
				{"healthz", e.client(), "/healthz", 200, true},
				{"login", e.client(), "/login", 200, true},
				{"404", e.client(), "/no/such/page", 404, true},
				{"no session", e.client(), "/lookup", 303, true},
				{"lookup page", sup, "/lookup", 200, true},
				{"person", sup, "/person?user=u1", 200, true},
				{"wrong role", sup, "/case/", 403, true},
				{"triage", ana, "/case/triage", 200, true},
				{"stylesheet", e.client(), "/static/app.css", 200, false},
			} {
				r := e.get(tc.c, tc.path)
				if r.StatusCode != tc.status {
					t.Errorf("%s: status %d, want %d", tc.name, r.StatusCode, tc.status)
				}
				checkSecurityHeaders(t, tc.name, r.Header, useTLS)
				if cc := r.Header.Get("Cache-Control"); (cc == "no-store") != tc.noStore {
					t.Errorf("%s: Cache-Control %q", tc.name, cc)
				}
			}
		})
	}
}

func TestWebHealthz(t *testing.T) {
	e := newWebEnv(t, false)
	r := e.get(e.client(), "/healthz")
	if r.StatusCode != 200 || r.body != "ok\n" {
		t.Fatalf("healthz: %d %q, want 200 ok", r.StatusCode, r.body)
	}
	e.st.DB.Close() // the case database goes away
	r = e.get(e.client(), "/healthz")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("healthz without a database: %d, want 503", r.StatusCode)
	}
	checkSecurityHeaders(t, "healthz 503", r.Header, false)
}

func TestWebPanicBecomes500(t *testing.T) {
	logs := &lockedBuffer{}
	s, err := New(Config{Data: &webFakeData{}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := s.secure(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom for alice@example.com") }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/explode?email=alice@example.com", nil))
	if rec.Code != 500 {
		t.Fatalf("status %d, want 500", rec.Code)
	}
	checkSecurityHeaders(t, "panic", rec.Header(), false)
	if !strings.Contains(rec.Body.String(), "Something went wrong") {
		t.Errorf("500 page: %q", rec.Body.String())
	}
	if got := logs.String(); !strings.Contains(got, "path=/explode") || strings.Contains(got, "email=") {
		t.Errorf("log: %q, want the path and never the query string", got)
	}
}

func TestWebRun(t *testing.T) {
	e := newWebEnv(t, false)
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Run(ctx, ln, "", "") }()
	res, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("healthz through Run: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// TestWebRunTLSNeedsBoth: a certificate without a key is a mistake.
func TestWebRunTLSNeedsBoth(t *testing.T) {
	e := newWebEnv(t, true)
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := e.srv.Run(context.Background(), ln, "cert.pem", ""); err == nil {
		t.Fatal("Run with a certificate and no key: nil error")
	}
}

func TestWebTemplatesAllUsed(t *testing.T) {
	files, err := templateFiles()
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{"templates/base.html": true}
	for _, n := range pageNames {
		declared["templates/"+n+".html"] = true
	}
	present := map[string]bool{}
	for _, f := range files {
		present[f] = true
		if !declared[f] {
			t.Errorf("%s is present but no page uses it", f)
		}
	}
	for f := range declared {
		if !present[f] {
			t.Errorf("%s is declared but missing", f)
		}
	}
	// Every page is rendered by some handler.
	var src strings.Builder
	for _, f := range []string{"auth.go", "pages.go", "pages_lookup.go", "pages_case.go", "pages_admin.go", "web.go", "web_audit.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	for _, n := range pageNames {
		if !strings.Contains(src.String(), `, "`+n+`", `) {
			t.Errorf("page %s is never rendered", n)
		}
	}
}

// TestClientAddrBehindProxy (review M2): behind a trusted proxy the
// client's address comes from X-Forwarded-For (the rightmost hop that is
// not a trusted proxy); from anyone else the header is ignored.
func TestClientAddrBehindProxy(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}}}
	for _, tc := range []struct {
		peer, xff, want string
	}{
		{"10.0.0.5:4000", "198.51.100.7", "198.51.100.7:0"},
		{"10.0.0.5:4000", "198.51.100.7, 10.0.0.9", "198.51.100.7:0"},
		{"10.0.0.5:4000", "203.0.113.66, 198.51.100.7", "198.51.100.7:0"}, // the client wrote the left one
		{"[fd00::1]:4000", "2001:db8::7", "[2001:db8::7]:0"},
		{"203.0.113.1:4000", "198.51.100.7", "203.0.113.1:4000"}, // not a proxy: header ignored
		{"10.0.0.5:4000", "", "10.0.0.5:4000"},
		{"10.0.0.5:4000", "not-an-address", "10.0.0.5:4000"},
		{"10.0.0.5:4000", "10.0.0.7", "10.0.0.5:4000"}, // only proxies
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.clientAddr(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}
