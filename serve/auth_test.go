package serve

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/store"
)

func TestWebNoSession(t *testing.T) {
	e := newWebEnv(t, false)
	for _, tc := range []struct {
		method, path string
		status       int
		location     string
	}{
		{"GET", "/", 303, "/login?next=%2F"},
		{"GET", "/lookup", 303, "/login?next=%2Flookup"},
		{"GET", "/person?user=u1&run=2", 303, "/login?next=%2Fperson%3Fuser%3Du1%26run%3D2"},
		{"GET", "/case/triage", 303, "/login?next=%2Fcase%2Ftriage"},
		{"GET", "/admin/accounts", 303, "/login?next=%2Fadmin%2Faccounts"},
		{"POST", "/lookup", 401, ""},
		{"POST", "/logout", 401, ""},
		{"POST", "/admin/accounts", 401, ""},
	} {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			r := e.do(e.client(), tc.method, tc.path, url.Values{"user": {"u1"}}, nil)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.status)
			}
			if got := r.Header.Get("Location"); got != tc.location {
				t.Errorf("Location %q, want %q", got, tc.location)
			}
			if strings.Contains(r.body, "cdn-cache") {
				t.Errorf("person data shown without a session")
			}
		})
	}
	if n := len(e.audit(store.AuditFilter{})); n != 0 {
		t.Errorf("%d audit rows without a session, want 0", n)
	}
}

func TestWebRoles(t *testing.T) {
	e := newWebEnv(t, false)
	clients := map[string]*http.Client{}
	for _, n := range []string{"sup", "ana", "adm"} {
		clients[n], _ = e.signedIn(n)
	}
	paths := []string{"/", "/lookup", "/person?user=u1", "/notice?user=u1&run=2", "/notice/raw?user=u1&run=2",
		"/case/", "/case/triage", "/case/diff", "/case/ledger", "/case/obligations", "/audit", "/admin/accounts"}
	// Minimum role of each path.
	need := map[string]string{"/case/": "ana", "/case/triage": "ana", "/case/diff": "ana", "/case/ledger": "ana",
		"/case/obligations": "ana", "/audit": "ana", "/admin/accounts": "adm"}
	rank := map[string]int{"sup": 1, "ana": 2, "adm": 3}
	for _, who := range []string{"sup", "ana", "adm"} {
		for _, p := range paths {
			t.Run(who+p, func(t *testing.T) {
				want := 200
				if n, ok := need[p]; ok && rank[who] < rank[n] {
					want = 403
				}
				r := e.get(clients[who], p)
				if r.StatusCode != want {
					t.Fatalf("status %d, want %d", r.StatusCode, want)
				}
				if want == 403 && !strings.Contains(r.body, "role does not allow") {
					t.Errorf("403 page: %q", r.body)
				}
			})
		}
	}
	// Navigation follows the role.
	for who, want := range map[string][]bool{"sup": {false, false}, "ana": {true, false}, "adm": {true, true}} {
		body := e.get(clients[who], "/lookup").body
		if got := strings.Contains(body, `href="/case/"`); got != want[0] {
			t.Errorf("%s: case link in nav %v, want %v", who, got, want[0])
		}
		if got := strings.Contains(body, `href="/admin/accounts"`); got != want[1] {
			t.Errorf("%s: accounts link in nav %v, want %v", who, got, want[1])
		}
	}
}

func TestWebCSRF(t *testing.T) {
	e := newWebEnv(t, false)
	sup, csrf := e.signedIn("sup")
	ana, anaCSRF := e.signedIn("ana")
	for _, tc := range []struct {
		name   string
		c      *http.Client
		path   string
		form   url.Values
		origin string
		fetch  string // Sec-Fetch-Site
		status int
	}{
		{"missing token", sup, "/lookup", url.Values{"user": {"u1"}}, "", "", 403},
		{"bad token", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {"x" + csrf[1:]}}, "", "", 403},
		{"another session's token", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {anaCSRF}}, "", "", 403},
		{"cross-origin", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "https://evil.example", "", 403},
		{"cross-site fetch", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "null", "cross-site", 403},
		{"same-site fetch", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "", "same-site", 403},
		{"null origin without a token", sup, "/lookup", url.Values{"user": {"u1"}}, "null", "", 403},
		{"logout without token", sup, "/logout", url.Values{}, "", "", 403},
		{"admin action by analyst", ana, "/admin/accounts", url.Values{"csrf": {anaCSRF}, "name": {"x1"}, "role": {"admin"}, "password": {webPassword}}, "", "", 403},
		{"same origin", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, e.ts.URL, "", 200},
		{"no origin", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "", "", 200},
		// What a browser sends for this site's own form under
		// Referrer-Policy no-referrer (Chromium, seen in the browser test).
		{"own form, null origin", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "null", "same-origin", 200},
		{"null origin, older browser", sup, "/lookup", url.Values{"user": {"u1"}, "csrf": {csrf}}, "null", "", 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.audit(store.AuditFilter{}))
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			if tc.fetch != "" {
				hdr["Sec-Fetch-Site"] = tc.fetch
			}
			r := e.do(tc.c, "POST", tc.path, tc.form, hdr)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tc.status, r.body)
			}
			after := len(e.audit(store.AuditFilter{}))
			if tc.status == 403 && (after != before || strings.Contains(r.body, "cdn-cache")) {
				t.Errorf("a refused POST was answered or audited")
			}
		})
	}
	if _, err := e.st.GetStaff(context.Background(), "x1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the analyst's account add went through: %v", err)
	}
	// The login form has its own token.
	c := e.client()
	e.loginForm(c)
	for _, tc := range []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"login without token", url.Values{"name": {"sup"}, "password": {webPassword}}, nil},
		{"login with a wrong token", url.Values{"name": {"sup"}, "password": {webPassword}, "csrf": {randomToken()}}, nil},
		{"login cross-origin", url.Values{"name": {"sup"}, "password": {webPassword}}, map[string]string{"Origin": "http://evil.example"}},
	} {
		if r := e.do(c, "POST", "/login", tc.form, tc.hdr); r.StatusCode != 403 || cookieNamed(r.Response, sessionCookie) != nil {
			t.Errorf("%s: status %d (session cookie %v), want 403 and none", tc.name, r.StatusCode, cookieNamed(r.Response, sessionCookie))
		}
	}
}

func TestWebLogin(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		e := newWebEnv(t, useTLS)
		c := e.client()
		r := e.login(c, "ana", webPassword, "/case/ledger?run=2")
		if r.StatusCode != 303 || r.Header.Get("Location") != "/case/ledger?run=2" {
			t.Fatalf("tls %v: sign-in: %d to %q, want 303 to the next page", useTLS, r.StatusCode, r.Header.Get("Location"))
		}
		ck := cookieNamed(r.Response, sessionCookie)
		if ck == nil {
			t.Fatalf("tls %v: no session cookie", useTLS)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure != useTLS || len(ck.Value) < 43 {
			t.Errorf("tls %v: cookie %+v: want HttpOnly, SameSite=Strict, Path=/, Secure=%v, 32 random bytes", useTLS, ck, useTLS)
		}
		// The store keeps only the token's SHA-256.
		var n int
		if err := e.st.DB.Get(&n, `SELECT count(*) FROM breachctl.staff_sessions WHERE token_sha256 = $1`, tokenHash(ck.Value)); err != nil || n != 1 {
			t.Errorf("tls %v: sessions with the token's hash: %d (%v), want 1", useTLS, n, err)
		}
		if err := e.st.DB.Get(&n, `SELECT count(*) FROM breachctl.staff_sessions WHERE token_sha256 = $1`, ck.Value); err != nil || n != 0 {
			t.Errorf("tls %v: the raw token is stored", useTLS)
		}
		if r := e.get(c, "/case/ledger?run=2"); r.StatusCode != 200 {
			t.Errorf("tls %v: signed in, ledger: %d", useTLS, r.StatusCode)
		}
	}

	e := newWebEnv(t, false)
	for _, tc := range []struct {
		name, user, pw, next string
		status               int
		location             string
	}{
		{"good", "sup", webPassword, "/lookup", 303, "/lookup"},
		{"off-site next", "sup", webPassword, "//evil.example/x", 303, "/"},
		{"absolute next", "sup", webPassword, "https://evil.example/", 303, "/"},
		{"backslash next", "sup", webPassword, "/\\evil.example", 303, "/"},
		{"bad password", "sup", "wrong password!!", "/", 401, ""},
		{"unknown account", "nobody", webPassword, "/", 401, ""},
		{"disabled account", "off", webPassword, "/", 401, ""},
		{"markup as a name", "<script>alert(1)</script>", webPassword, "/", 401, ""},
		{"SQL as a name", "' OR 1=1 --", "' OR 1=1 --", "/", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			r := e.login(c, tc.user, tc.pw, tc.next)
			if r.StatusCode != tc.status || r.Header.Get("Location") != tc.location {
				t.Fatalf("%d to %q, want %d to %q", r.StatusCode, r.Header.Get("Location"), tc.status, tc.location)
			}
			if tc.status == 401 {
				if cookieNamed(r.Response, sessionCookie) != nil {
					t.Errorf("a refused sign-in set a session cookie")
				}
				if !strings.Contains(r.body, loginRefused) {
					t.Errorf("refusal does not say %q", loginRefused)
				}
				if strings.Contains(r.body, "<script>alert(1)") {
					t.Errorf("markup from the form is echoed raw")
				}
			}
		})
	}
}

func TestWebLoginRateLimit(t *testing.T) {
	e := newWebEnv(t, false)
	c := e.client()
	for i := 1; i <= loginBurst; i++ {
		if r := e.login(c, "sup", "wrong password "+strconv.Itoa(i), "/"); r.StatusCode != 401 {
			t.Fatalf("attempt %d: %d, want 401", i, r.StatusCode)
		}
	}
	r := e.login(c, "sup", webPassword, "/")
	if r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("attempt %d: %d, want 429", loginBurst+1, r.StatusCode)
	}
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 600 {
		t.Errorf("Retry-After %q, want 1..600 seconds", r.Header.Get("Retry-After"))
	}
	if cookieNamed(r.Response, sessionCookie) != nil {
		t.Errorf("a rate-limited sign-in set a session cookie")
	}
	checkSecurityHeaders(t, "429", r.Header, false)
	e.advance(loginWindow / loginBurst)
	if r := e.login(c, "sup", webPassword, "/"); r.StatusCode != 303 {
		t.Fatalf("after waiting: %d, want 303", r.StatusCode)
	}
}

func TestLoginLimiterKeys(t *testing.T) {
	l := newLoginLimiter(3, 3*time.Minute)
	now := time.Now()
	for i := 0; i < 3; i++ {
		if w := l.allow("name:a", now); w != 0 {
			t.Fatalf("attempt %d waits %v", i+1, w)
		}
	}
	if w := l.allow("name:a", now); w <= 0 || w > time.Minute {
		t.Errorf("4th attempt: wait %v, want (0, 1m]", w)
	}
	if w := l.allow("name:b", now); w != 0 {
		t.Errorf("another key is limited: %v", w)
	}
	if w := l.allow("name:a", now.Add(time.Minute)); w != 0 {
		t.Errorf("a minute later: wait %v, want 0", w)
	}
}

func TestWebLogout(t *testing.T) {
	e := newWebEnv(t, false)
	c := e.client()
	if r := e.login(c, "sup", webPassword, "/lookup"); r.StatusCode != 303 {
		t.Fatalf("sign-in: %d", r.StatusCode)
	}
	u, _ := url.Parse(e.ts.URL)
	var tok string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			tok = ck.Value
		}
	}
	page := e.get(c, "/lookup")
	if page.StatusCode != 200 {
		t.Fatalf("lookup page: %d", page.StatusCode)
	}
	csrf := regexpCSRF(t, page.body)
	r := e.post(c, "/logout", url.Values{"csrf": {csrf}})
	if r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("sign-out: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if ck := cookieNamed(r.Response, sessionCookie); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign-out does not clear the cookie: %+v", ck)
	}
	// The old token, replayed, is signed out (the session cache too).
	old := e.client()
	old.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: tok, Path: "/"}})
	if r := e.get(old, "/lookup"); r.StatusCode != 303 {
		t.Errorf("old session after sign-out: %d, want 303 to /login", r.StatusCode)
	}
	if _, err := e.st.GetSession(context.Background(), tokenHash(tok)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session still in the store: %v", err)
	}
}

func regexpCSRF(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("no csrf field in %s", body)
	}
	rest := body[i+len(`name="csrf" value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestAuditBatcher(t *testing.T) {
	var calls, rows atomic.Int64
	gate := make(chan struct{})
	b := newAuditBatcher(func(ctx context.Context, es []store.AuditEntry) error {
		if calls.Add(1) == 1 {
			<-gate // hold the first commit so the others pile up
		}
		rows.Add(int64(len(es)))
		for _, e := range es {
			if e.UserID == "fail" {
				return errors.New("disk full")
			}
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make([]error, 50)
	wg.Add(1)
	go func() { defer wg.Done(); errs[0] = b.record(context.Background(), store.AuditEntry{UserID: "u0"}) }()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.record(context.Background(), store.AuditEntry{UserID: "u" + strconv.Itoa(i)})
		}()
	}
	time.Sleep(50 * time.Millisecond)
	close(gate)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	if rows.Load() != 50 || calls.Load() >= 50 {
		t.Errorf("%d rows in %d commits, want 50 rows in fewer commits", rows.Load(), calls.Load())
	}
	if err := b.record(context.Background(), store.AuditEntry{UserID: "fail"}); err == nil {
		t.Errorf("a failed commit returned nil")
	}
}

// TestLoginLimiterBounded: a flood of distinct keys (names, addresses)
// cannot grow a limiter past its bound.
func TestLoginLimiterBounded(t *testing.T) {
	l := newLoginLimiter(10, time.Minute)
	now := time.Now()
	for i := 0; i < loginMaxKeys+5000; i++ {
		l.allow("addr:"+strconv.Itoa(i), now)
	}
	if n := len(l.m); n > loginMaxKeys {
		t.Errorf("%d keys kept, bound %d", n, loginMaxKeys)
	}
	// wait takes nothing and adds no key.
	before := len(l.m)
	if w := l.wait("name:new", now); w != 0 || len(l.m) != before {
		t.Errorf("wait on a new key: %v, keys %d → %d", w, before, len(l.m))
	}
}

// TestWebLoginLimitAbuse: sign-in attempts cannot lock an account out from
// one address, nor grow the limiters with junk names, and one IPv6 /64 is
// one address.
func TestWebLoginLimitAbuse(t *testing.T) {
	e := newWebEnv(t, false)
	c := e.client()
	// From one address: its 10 attempts, then 429s that do not count
	// against the account.
	for i := 1; i <= loginBurst+20; i++ {
		e.login(c, "sup", "wrong password "+strconv.Itoa(i), "/")
	}
	if w := e.srv.staff.names.wait("name:sup", e.now()); w != 0 {
		t.Errorf("the account is limited after %d failures from one address: wait %v", loginBurst, w)
	}
	// Junk names (invalid, huge): no per-name key at all.
	e.advance(loginWindow)
	for i := 0; i < 5; i++ {
		e.login(c, strings.Repeat("x", 2000)+strconv.Itoa(i), "pw", "/")
	}
	if n := len(e.srv.staff.names.m); n != 1 {
		t.Errorf("per-name keys after junk names: %d, want 1 (sup)", n)
	}
	// The per-name limit counts failures only, from anywhere.
	l := newLoginLimiter(loginNameBurst, loginWindow)
	for i := 0; i < loginNameBurst; i++ {
		l.allow("name:x", e.now())
	}
	if l.wait("name:x", e.now()) == 0 {
		t.Errorf("%d failures did not limit the name", loginNameBurst)
	}
	if a, b := addressKey("[2001:db8::1]:5000"), addressKey("[2001:db8::ffff]:6000"); a != b {
		t.Errorf("one /64, two keys: %s, %s", a, b)
	}
}
