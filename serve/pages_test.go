package serve

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident/store"
)

func TestWebLookup(t *testing.T) {
	const markup = "<script>alert(1)</script>"
	const sqlish = "' OR 1=1 --"
	for _, tc := range []struct {
		name     string
		form     url.Values
		status   int
		want     []string // in the page
		notWant  []string
		action   string   // audit action, "" for no audit row
		auditIDs []string // user ids in the audit rows
		detail   string
	}{
		{"by user id", url.Values{"user": {"u1"}}, 200,
			[]string{"confirmed", "cdn-cache", "the CDN served their account page to others", "2026-02-28 23:00:00 UTC", "2026-03-01 08:00:00 JST", `href="/notice?user=u1&amp;run=2"`},
			nil, store.AuditLookupID, []string{"u1"}, "by user id, run 2"},
		{"by user id, not affected", url.Values{"user": {"u9"}, "run": {"1"}}, 200,
			[]string{"Not affected in run 1", "No notice was planned"}, []string{"cdn-cache"}, store.AuditLookupID, []string{"u9"}, "by user id, run 1"},
		{"by e-mail, one", url.Values{"email": {"Alice@Example.com"}}, 200,
			[]string{"cdn-cache"}, []string{"Alice@Example.com", "alice@example.com"}, store.AuditLookupEmail, []string{"u1"}, "by e-mail: 1 found, run 2"},
		{"by e-mail, several", url.Values{"email": {"shared@example.com"}}, 200,
			[]string{"2 accounts have that address", `href="/person?user=u1&amp;run=2"`, `href="/person?user=u2&amp;run=2"`},
			[]string{"cdn-cache"}, store.AuditLookupEmail, []string{"u1", "u2"}, "by e-mail: 2 found, run 2"},
		{"by e-mail, none", url.Values{"email": {"nobody@example.com"}}, 200,
			[]string{"Nobody with that address"}, nil, store.AuditLookupEmail, []string{""}, "by e-mail: 0 found, run 2"},
		{"markup as a user id", url.Values{"user": {markup}}, 200,
			[]string{"&lt;script&gt;alert(1)&lt;/script&gt;", "Not affected"}, []string{markup}, store.AuditLookupID, []string{markup}, "by user id, run 2"},
		{"markup as an e-mail address", url.Values{"email": {markup + "@x"}}, 200,
			[]string{"Nobody with that address", "&lt;script&gt;"}, []string{markup}, store.AuditLookupEmail, []string{""}, "by e-mail: 0 found, run 2"},
		{"SQL as a user id", url.Values{"user": {sqlish}}, 200,
			[]string{"Not affected", "&#39; OR 1=1 --"}, []string{"cdn-cache"}, store.AuditLookupID, []string{sqlish}, "by user id, run 2"},
		{"SQL as an e-mail address", url.Values{"email": {sqlish + "@x"}}, 200,
			[]string{"Nobody with that address"}, nil, store.AuditLookupEmail, []string{""}, "by e-mail: 0 found, run 2"},
		{"not an address", url.Values{"email": {"alice"}}, 400, []string{"not an e-mail address"}, nil, "", nil, ""},
		{"nothing typed", url.Values{"user": {" "}}, 400, []string{"Type a user id or an e-mail address"}, nil, "", nil, ""},
		{"bad run", url.Values{"user": {"u1"}, "run": {"x"}}, 400, nil, []string{"cdn-cache"}, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newWebEnv(t, false)
			c, csrf := e.signedIn("sup")
			tc.form.Set("csrf", csrf)
			r := e.post(c, "/lookup", tc.form)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.body)
			}
			checkPage(t, r.body, tc.want, tc.notWant)
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
			}
			es := e.audit(store.AuditFilter{})
			if len(es) != len(tc.auditIDs) {
				t.Fatalf("%d audit rows, want %d: %+v", len(es), len(tc.auditIDs), es)
			}
			for i, a := range es {
				if a.Actor != "sup" || a.Role != store.RoleSupport || a.Action != tc.action || a.UserID != tc.auditIDs[i] ||
					a.Remote != "127.0.0.1" || a.Detail != tc.detail || a.CaseID != webCase {
					t.Errorf("audit row %d: %+v, want sup/support/%s/%q/127.0.0.1/%q", i, a, tc.action, tc.auditIDs[i], tc.detail)
				}
			}
			// The address typed is never recorded nor logged.
			if em := tc.form.Get("email"); em != "" {
				var n int
				if err := e.st.DB.Get(&n, `SELECT count(*) FROM breachctl.audit WHERE strpos(lower(detail || user_id || actor || remote), lower($1)) > 0`, em); err != nil || n != 0 {
					t.Errorf("the address is in %d audit rows (%v)", n, err)
				}
				if strings.Contains(strings.ToLower(e.logs.String()), strings.ToLower(em)) {
					t.Errorf("the address is in the log:\n%s", e.logs.String())
				}
			}
		})
	}
}

func TestWebLookupNoQuery(t *testing.T) {
	e := newWebEnv(t, false)
	e.data.noQuery = true
	c, csrf := e.signedIn("sup")
	r := e.post(c, "/lookup", url.Values{"csrf": {csrf}, "email": {"alice@example.com"}})
	if r.StatusCode != 200 || !strings.Contains(r.body, "the case file has no users.lookup_query") {
		t.Fatalf("%d, want the no-lookup-query message:\n%s", r.StatusCode, r.body)
	}
	if n := len(e.audit(store.AuditFilter{})); n != 0 {
		t.Errorf("%d audit rows for a lookup that could not be made", n)
	}
}

func TestWebPersonAndNotice(t *testing.T) {
	e := newWebEnv(t, false)
	c, _ := e.signedIn("sup")
	for _, tc := range []struct {
		name, path string
		status     int
		want       []string
		detail     string // audit detail ("" for none)
		action     string
	}{
		{"person", "/person?user=u1&run=2", 200, []string{"cdn-cache", "/account"}, "run 2", store.AuditPerson},
		{"person, latest run", "/person?user=u1", 200, []string{"run 2"}, "run 2", store.AuditPerson},
		{"notice", "/notice?user=u1&run=2", 200,
			[]string{"Not verified: recorded before digests were kept", "<pre>Dear Alice,\n&lt;b&gt;not bold&lt;/b&gt;\n</pre>", "About your data",
				`href="/notice/raw?run=2&amp;user=u1"`}, "run 2", store.AuditNotice},
		{"notice not found", "/notice?user=u2&run=2", 404, []string{"Not found: the notice"}, "run 2", store.AuditNotice},
		{"notice without run", "/notice?user=u1", 400, nil, "", ""},
		{"person without id", "/person", 400, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.audit(store.AuditFilter{}))
			r := e.get(c, tc.path)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("page lacks %q:\n%s", w, r.body)
				}
			}
			es := e.audit(store.AuditFilter{})
			if tc.detail == "" {
				if len(es) != before {
					t.Errorf("audited a refused request")
				}
				return
			}
			if len(es) != before+1 {
				t.Fatalf("%d new audit rows, want 1", len(es)-before)
			}
			if a := es[len(es)-1]; a.Action != tc.action || a.Detail != tc.detail || a.Actor != "sup" {
				t.Errorf("audit %+v, want %s %q by sup", a, tc.action, tc.detail)
			}
		})
	}

	before := len(e.audit(store.AuditFilter{}))
	r := e.get(c, "/notice/raw?user=u1&run=2")
	if r.StatusCode != 200 || r.body != webRawNotice {
		t.Fatalf("raw notice: %d %q", r.StatusCode, r.body)
	}
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "message/rfc822" || !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("raw notice: Content-Type %q, Content-Disposition %q", ct, cd)
	}
	checkSecurityHeaders(t, "raw notice", r.Header, false)
	es := e.audit(store.AuditFilter{UserID: "u1"})
	if len(e.audit(store.AuditFilter{})) != before+1 || es[len(es)-1].Detail != "run 2: raw message downloaded" {
		t.Errorf("raw download not audited: %+v", es[len(es)-1])
	}
	if strings.Contains(e.logs.String(), "alice@example.com") {
		t.Errorf("the address is in the log")
	}
}

// TestWebAuditFailureRefuses: when the audit row cannot be written, no
// person data is sent.
func TestWebAuditFailureRefuses(t *testing.T) {
	e := newWebEnv(t, false)
	c, csrf := e.signedIn("sup")
	if r := e.get(c, "/lookup"); r.StatusCode != 200 { // the session is read (and cached) first
		t.Fatalf("lookup page: %d", r.StatusCode)
	}
	if _, err := e.st.DB.Exec(`ALTER TABLE breachctl.audit RENAME TO audit_gone`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		form   url.Values
	}{
		{"lookup by id", "POST", "/lookup", url.Values{"csrf": {csrf}, "user": {"u1"}}},
		{"lookup by e-mail", "POST", "/lookup", url.Values{"csrf": {csrf}, "email": {"alice@example.com"}}},
		{"lookup by e-mail, several", "POST", "/lookup", url.Values{"csrf": {csrf}, "email": {"shared@example.com"}}},
		{"person", "GET", "/person?user=u1", nil},
		{"notice", "GET", "/notice?user=u1&run=2", nil},
		{"raw notice", "GET", "/notice/raw?user=u1&run=2", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(c, tc.method, tc.path, tc.form, nil)
			if r.StatusCode != 500 {
				t.Fatalf("status %d, want 500", r.StatusCode)
			}
			for _, leak := range []string{"cdn-cache", "Dear Alice", "u2", "About your data"} {
				if strings.Contains(r.body, leak) {
					t.Errorf("refused page shows %q", leak)
				}
			}
			if !strings.Contains(r.body, "could not be recorded in the audit log") {
				t.Errorf("refusal does not say why: %s", r.body)
			}
		})
	}
	e.data.mu.Lock()
	defer e.data.mu.Unlock()
	if len(e.data.disclosed) != 0 {
		t.Errorf("Disclose was called for %v before the audit row was written", e.data.disclosed)
	}
}

func TestWebCasePages(t *testing.T) {
	e := newWebEnv(t, false)
	c, _ := e.signedIn("ana")
	sup, csrf := e.signedIn("sup")
	if r := e.post(sup, "/lookup", url.Values{"csrf": {csrf}, "user": {"u1"}}); r.StatusCode != 200 {
		t.Fatalf("lookup: %d", r.StatusCode)
	}
	if r := e.post(sup, "/lookup", url.Values{"csrf": {csrf}, "user": {"u5"}}); r.StatusCode != 200 {
		t.Fatalf("lookup: %d", r.StatusCode)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		want       []string
		notWant    []string
	}{
		{"runs", "/case/", 200, []string{"1,200", "1,203", `href="/case/diff?from=1&amp;to=2"`, `href="/case/triage?run=2"`}, nil},
		{"triage latest", "/case/triage", 200, []string{`<body class="t">` + triageBackLink + `<h1>Triage of run 2</h1>`, "<svg"}, nil},
		{"triage run 1", "/case/triage?run=1", 200, []string{"Triage of run 1"}, nil},
		{"triage no such run", "/case/triage?run=9", 404, []string{"Not found"}, nil},
		{"triage bad run", "/case/triage?run=-1", 400, nil, nil},
		{"diff", "/case/diff?from=1&to=2", 200, []string{"<pre>case-1: run 1 → run 2", "PEOPLE"}, nil},
		{"ledger", "/case/ledger?run=2", 200, []string{"550 mailbox unavailable", `href="/person?user=u7&amp;run=2"`}, nil},
		{"obligations", "/case/obligations", 200, []string{`class="status-due next"><td>2026-03-07 00:00:00 UTC <strong>next due</strong>`, "APPI", "1,203"}, nil},
		{"audit", "/audit", 200, []string{"lookup-id", "by user id, run 2", ">u1<", ">u5<"}, nil},
		{"audit filtered", "/audit?user=u5", 200, []string{">u5<"}, []string{">u1<"}},
		{"title escaped", "/case/", 200, []string{"Cache leak &lt;March&gt;"}, []string{"<March>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get(c, tc.path)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.body)
			}
			checkPage(t, r.body, tc.want, tc.notWant)
		})
	}
}

func TestWebAdminAccounts(t *testing.T) {
	e := newWebEnv(t, false)
	adm, csrf := e.signedIn("adm")
	ctx := context.Background()
	const pw = "a long enough password"
	for _, tc := range []struct {
		name   string
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"add", "/admin/accounts", url.Values{"name": {"newbie"}, "role": {"support"}, "password": {pw}}, 303, "/admin/accounts?done=added"},
		{"add again", "/admin/accounts", url.Values{"name": {"newbie"}, "role": {"support"}, "password": {pw}}, 400, "There is an account of that name already"},
		{"short password", "/admin/accounts", url.Values{"name": {"shorty"}, "role": {"support"}, "password": {"elevenchars"}}, 400, "too short"},
		{"bad name", "/admin/accounts", url.Values{"name": {"<b>x</b>"}, "role": {"support"}, "password": {pw}}, 400, "1 to 64 letters"},
		{"bad role", "/admin/accounts", url.Values{"name": {"x2"}, "role": {"root"}, "password": {pw}}, 400, "Choose a role"},
		{"disable self", "/admin/accounts/update", url.Values{"name": {"adm"}, "role": {"admin"}, "disabled": {"on"}}, 400, "cannot disable your own"},
		{"no such account", "/admin/accounts/update", url.Values{"name": {"ghost"}, "role": {"support"}}, 404, "no such account"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", csrf)
			r := e.post(adm, tc.path, tc.form)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.body)
			}
			if got := r.Header.Get("Location") + r.body; !strings.Contains(got, tc.want) {
				t.Errorf("response lacks %q:\n%s", tc.want, got)
			}
		})
	}
	list := e.get(adm, "/admin/accounts")
	if list.StatusCode != 200 || !strings.Contains(list.body, "newbie") || strings.Contains(list.body, "$2a$") {
		t.Fatalf("accounts page: %d, lists newbie / no hashes:\n%s", list.StatusCode, list.body)
	}

	// The new account signs in, and sees lookups only.
	nb := e.client()
	if r := e.login(nb, "newbie", pw, "/lookup"); r.StatusCode != 303 {
		t.Fatalf("the new account cannot sign in: %d", r.StatusCode)
	}
	if r := e.get(nb, "/case/"); r.StatusCode != 403 {
		t.Fatalf("support account on /case/: %d", r.StatusCode)
	}
	// Promoted to analyst: the store ends its sessions (and the cache
	// forgets them at once); it signs in again with the new role.
	if r := e.post(adm, "/admin/accounts/update", url.Values{"csrf": {csrf}, "name": {"newbie"}, "role": {"analyst"}}); r.StatusCode != 303 {
		t.Fatalf("change role: %d", r.StatusCode)
	}
	if r := e.get(nb, "/lookup"); r.StatusCode != 303 {
		t.Errorf("session after a role change: %d, want 303 (signed out)", r.StatusCode)
	}
	if r := e.login(nb, "newbie", pw, "/case/"); r.StatusCode != 303 {
		t.Fatalf("sign-in after role change: %d", r.StatusCode)
	}
	if r := e.get(nb, "/case/"); r.StatusCode != 200 {
		t.Errorf("analyst on /case/: %d", r.StatusCode)
	}
	// Password reset and disable.
	const pw2 = "another long password"
	if r := e.post(adm, "/admin/accounts/update", url.Values{"csrf": {csrf}, "name": {"newbie"}, "role": {"analyst"}, "password": {pw2}}); r.StatusCode != 303 {
		t.Fatalf("reset password: %d", r.StatusCode)
	}
	if r := e.login(e.client(), "newbie", pw, "/"); r.StatusCode != 401 {
		t.Errorf("old password after reset: %d, want 401", r.StatusCode)
	}
	if r := e.login(e.client(), "newbie", pw2, "/"); r.StatusCode != 303 {
		t.Errorf("new password after reset: %d, want 303", r.StatusCode)
	}
	if r := e.post(adm, "/admin/accounts/update", url.Values{"csrf": {csrf}, "name": {"newbie"}, "role": {"analyst"}, "disabled": {"on"}}); r.StatusCode != 303 {
		t.Fatalf("disable: %d", r.StatusCode)
	}
	if a, err := e.st.GetStaff(ctx, "newbie"); err != nil || !a.Disabled || a.Role != store.RoleAnalyst {
		t.Errorf("after disable: %+v %v", a, err)
	}
	if r := e.login(e.client(), "newbie", pw2, "/"); r.StatusCode != 401 {
		t.Errorf("disabled account signs in: %d", r.StatusCode)
	}
	if r := e.post(adm, "/admin/accounts/update", url.Values{"csrf": {csrf}, "name": {"newbie"}, "role": {"analyst"}}); r.StatusCode != 303 {
		t.Fatalf("enable: %d", r.StatusCode)
	}
	if r := e.login(e.client(), "newbie", pw2, "/"); r.StatusCode != 303 {
		t.Errorf("re-enabled account cannot sign in: %d", r.StatusCode)
	}
	if strings.Contains(e.logs.String(), pw) || strings.Contains(e.logs.String(), pw2) {
		t.Errorf("a password is in the log")
	}
}

// TestWebRequestLog: one line per request with the route pattern and the
// account, never the query string.
func TestWebRequestLog(t *testing.T) {
	e := newWebEnv(t, false)
	c, _ := e.signedIn("sup")
	e.get(c, "/person?user=u1&secret=alice@example.com")
	logs := e.logs.String()
	if !strings.Contains(logs, `route="GET /person"`) || !strings.Contains(logs, "staff=sup") || !strings.Contains(logs, "status=200") {
		t.Errorf("request log line lacks route, staff or status:\n%s", logs)
	}
	if strings.Contains(logs, "alice@example.com") || strings.Contains(logs, "secret=") {
		t.Errorf("query string in the log:\n%s", logs)
	}
}

// TestWebConcurrentLookups: many signed-in lookups at once each get their
// own audit row (group commit).
func TestWebConcurrentLookups(t *testing.T) {
	e := newWebEnv(t, false)
	c, csrf := e.signedIn("sup")
	const n = 60
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.post(c, "/lookup", url.Values{"csrf": {csrf}, "user": {"u1"}})
			codes[i] = r.StatusCode
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Errorf("lookup %d: %d", i, code)
		}
	}
	if got := len(e.audit(store.AuditFilter{UserID: "u1"})); got != n {
		t.Errorf("%d audit rows, want %d", got, n)
	}
}

// BenchmarkWebLookup: signed-in lookups by user id, each audited (group
// commit) on the real case database, 25 clients per CPU (-cpu 2: 50).
func BenchmarkWebLookup(b *testing.B) {
	e := newWebEnv(b, false)
	c, csrf := e.signedIn("sup")
	form := url.Values{"csrf": {csrf}, "user": {"u1"}}
	b.SetParallelism(25) // 50 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r := e.post(c, "/lookup", form); r.StatusCode != http.StatusOK {
				b.Errorf("lookup: %d", r.StatusCode)
			}
		}
	})
}

// TestWebAddressNeverAnID (review M5, L4): an address typed in the user id
// box is looked up as an address (never recorded as an id); an address or
// invalid UTF-8 in a URL's user is refused before anything is audited.
func TestWebAddressNeverAnID(t *testing.T) {
	e := newWebEnv(t, false)
	sup, csrf := e.signedIn("sup")
	r := e.do(sup, "POST", "/lookup", url.Values{"user": {"Alice@Example.com"}, "csrf": {csrf}}, nil)
	if r.StatusCode != 200 {
		t.Fatalf("address in the user id box: %d %s", r.StatusCode, r.body)
	}
	for _, a := range e.audit(store.AuditFilter{}) {
		if strings.Contains(a.UserID+a.Detail, "@") || a.Action != store.AuditLookupEmail || a.UserID != "u1" {
			t.Errorf("audit row %+v: want a lookup by address finding u1, no address", a)
		}
	}
	before := len(e.audit(store.AuditFilter{}))
	for _, path := range []string{"/person?user=alice%40example.com", "/notice?user=alice%40example.com&run=1", "/person?user=%FF", "/notice/raw?user=%FFx&run=1"} {
		if r := e.get(sup, path); r.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", path, r.StatusCode)
		}
	}
	if after := len(e.audit(store.AuditFilter{})); after != before {
		t.Errorf("refused requests were audited: %d rows → %d", before, after)
	}
}

// TestWithoutArgument (review M4): a lookup error never carries the
// address into the log, whatever its case.
func TestWithoutArgument(t *testing.T) {
	err := withoutArgument(&pq.Error{Code: "22P02", Message: `invalid input syntax for type uuid: "foo@bar.com"`}, "Foo@Bar.com")
	if strings.Contains(strings.ToLower(err.Error()), "foo@bar.com") || !strings.Contains(err.Error(), "22P02") {
		t.Errorf("database error: %q", err)
	}
	err = withoutArgument(errors.New(`lookup of FOO@BAR.COM timed out`), "foo@bar.com")
	if strings.Contains(strings.ToLower(err.Error()), "foo@bar.com") {
		t.Errorf("other error: %q", err)
	}
}

// checkPage checks that a page has every want and none of notWant.
func checkPage(t *testing.T, body string, want, notWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q:\n%s", w, body)
		}
	}
	for _, w := range notWant {
		if strings.Contains(body, w) {
			t.Errorf("page has %q", w)
		}
	}
}
