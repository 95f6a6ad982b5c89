package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/breachctl/breachctl/incident/report"
	"github.com/breachctl/breachctl/incident/revision"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/incident/triage"
	"github.com/breachctl/breachctl/internal/pgtest"
	"github.com/breachctl/breachctl/notify/deliver"
)

const scCase = "case-17"

// scData is a Data with only the self-check answered: people by user id;
// anyone else is not affected.
type scData struct {
	mu      sync.Mutex
	people  map[string]*SelfCheck
	err     error  // SelfCheck fails with it when set
	liar    string // when set, every answer claims to be about this user id
	noRun   bool   // store.ErrNotFound: no completed run
	calls   int
	lastRun int
}

var errSCNotBuilt = errors.New("not in the self-check fake")

func (d *scData) CaseID() string                                   { return scCase }
func (d *scData) Title() string                                    { return "Self-check test case" }
func (d *scData) LatestRun(context.Context) (int, error)           { return 3, nil }
func (d *scData) Runs(context.Context) ([]revision.RunInfo, error) { return nil, errSCNotBuilt }
func (d *scData) TriageHTML(context.Context, int, *BufferedPage) error {
	return errSCNotBuilt
}
func (d *scData) Diff(context.Context, int, int) (*revision.Diff, error) { return nil, errSCNotBuilt }
func (d *scData) Disclose(context.Context, int, string) (*triage.Disclosure, error) {
	return nil, errSCNotBuilt
}
func (d *scData) PersonNotices(context.Context, string) ([]store.Notice, error) {
	return nil, errSCNotBuilt
}
func (d *scData) Notice(context.Context, int, string) (*RenderedNotice, error) {
	return nil, errSCNotBuilt
}
func (d *scData) Ledger(context.Context, int) (*deliver.StatusReport, error) {
	return nil, errSCNotBuilt
}
func (d *scData) Obligations(context.Context, int, time.Time) ([]report.Obligation, error) {
	return nil, errSCNotBuilt
}
func (d *scData) LookupEmail(context.Context, string) ([]string, error) { return nil, errSCNotBuilt }

func (d *scData) SelfCheck(_ context.Context, userID string) (*SelfCheck, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.err != nil {
		return nil, d.err
	}
	if d.noRun {
		return nil, fmt.Errorf("latest run: %w", store.ErrNotFound)
	}
	if d.liar != "" {
		return &SelfCheck{Case: scCase, Run: 3, UserID: d.liar, Affected: true, Level: "confirmed"}, nil
	}
	if p, ok := d.people[userID]; ok {
		c := *p
		return &c, nil
	}
	return &SelfCheck{Case: scCase, Run: 3, UserID: userID}, nil
}

func scTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func newSCData() *scData {
	return &scData{people: map[string]*SelfCheck{
		"u-1001": {Case: scCase, Run: 3, UserID: "u-1001", Affected: true, Level: "confirmed",
			Categories: []string{"email", "postal_address"}, CategoryLevels: map[string]string{"email": "confirmed", "postal_address": "likely"},
			FirstExposed: scTime("2017-06-01T10:00:00Z"), LastExposed: scTime("2017-06-02T11:00:00Z"), TimeZone: "Europe/Berlin",
			Notice: &SelfCheckNotice{Run: 2, Kind: "first", State: "sent", SentAt: scTime("2017-06-05T09:00:00Z")}},
		"u-2002": {Case: scCase, Run: 3, UserID: "u-2002", Affected: true, Level: "likely",
			Categories: []string{"phone"}, TimeZone: "Europe/Berlin"},
	}}
}

type scEnv struct {
	srv  *Server
	st   *store.Store
	data *scData
	h    http.Handler
}

var scSecret = bytes.Repeat([]byte("s3cret-"), 6)

// newSCEnv is a server on a fresh case database; mod changes its config.
func newSCEnv(t *testing.T, mod func(*Config)) *scEnv {
	t.Helper()
	url, _ := pgtest.NewDB(t)
	ctx := context.Background()
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	d := newSCData()
	cfg := Config{Data: d, Store: st, SelfCheckSecret: scSecret, Now: func() time.Time { return tokNow },
		SelfCheckAddrRate: rate.Inf}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &scEnv{srv: s, st: st, data: d, h: s.Handler()}
}

var scNonce = 0

// token is a fresh token for userID, valid for five minutes.
func (e *scEnv) token(userID string) string {
	scNonce++
	nonce := bytes.Repeat([]byte{byte(scNonce)}, 16)
	nonce[0], nonce[1] = byte(scNonce>>8), byte(scNonce>>16)
	return SignSelfCheck(scSecret, userID, tokNow.Add(5*time.Minute), nonce)
}

// get sends GET /api/v1/self-check with an Authorization header (none
// when auth is "") from remote.
func (e *scEnv) get(auth, remote string) *httptest.ResponseRecorder {
	return e.do(http.MethodGet, auth, remote)
}

func (e *scEnv) do(method, auth, remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/api/v1/self-check", nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if remote != "" {
		r.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func wantJSONError(t *testing.T, w *httptest.ResponseRecorder, code int, msg string) {
	t.Helper()
	if w.Code != code {
		t.Fatalf("status %d, want %d (body %q)", w.Code, code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	if len(body) != 1 || body["error"] != msg {
		t.Errorf("body %q, want only {\"error\": %q}", w.Body.String(), msg)
	}
}

func TestSelfCheckAnswers(t *testing.T) {
	e := newSCEnv(t, nil)
	w := e.get("Bearer "+e.token("u-1001"), "")
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200 (body %q)", w.Code, w.Body.String())
	}
	for h, want := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"} {
		if got := w.Header().Get(h); got != want {
			t.Errorf("%s %q, want %q", h, got, want)
		}
	}
	var got SelfCheck
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", w.Body.String(), err)
	}
	want := *e.data.people["u-1001"]
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("answer\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if strings.Contains(w.Body.String(), "u-2002") || strings.Contains(w.Body.String(), "phone") {
		t.Errorf("the answer mentions another person: %s", w.Body.String())
	}
	if n := e.srv.SelfCheckStats()["answered"]; n != 1 {
		t.Errorf("answered %d, want 1", n)
	}
}

func TestSelfCheckNotAffected(t *testing.T) {
	tests := []struct{ name, userID string }{
		{"unknown person", "u-9999"},
		{"sql-looking id", "1'; DROP TABLE breachctl.audit; --"},
		{"sql-looking id 2", `" OR 1=1 OR "`},
		{"markup-looking id", `<script>alert(1)</script>`},
		{"markup and ampersand", `<img src=x onerror=alert(1)>&amp;`},
	}
	e := newSCEnv(t, nil)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := e.get("Bearer "+e.token(tc.userID), "")
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200 (body %q)", w.Code, w.Body.String())
			}
			body := w.Body.String()
			if strings.ContainsAny(body, "<>") || strings.Contains(body, "&amp;") {
				t.Errorf("markup not escaped in %s", body)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if got["user_id"] != tc.userID || got["affected"] != false || got["case"] != scCase {
				t.Errorf("got %s, want user_id %q, affected false, case %s", body, tc.userID, scCase)
			}
			if cats, ok := got["categories"].([]any); !ok || len(cats) != 0 {
				t.Errorf("categories %v, want []", got["categories"])
			}
		})
	}
	// The audit table survived the SQL-looking id.
	es, err := e.st.AuditLog(context.Background(), scCase, store.AuditFilter{})
	if err != nil || len(es) != len(tests) {
		t.Fatalf("audit: %d entries, %v; want %d", len(es), err, len(tests))
	}
}

func TestSelfCheckUnauthorized(t *testing.T) {
	e := newSCEnv(t, nil)
	used := e.token("u-1001")
	if w := e.get("Bearer "+used, ""); w.Code != http.StatusOK {
		t.Fatalf("first use: status %d, want 200", w.Code)
	}
	other := bytes.Repeat([]byte("x"), 32)
	tests := []struct {
		name      string
		auth      string
		reason    string
		challenge string
	}{
		{"no header", "", ReasonMissing, `Bearer`},
		{"basic", "Basic dTpw", ReasonMalformed, `Bearer error="invalid_token"`},
		{"bearer without token", "Bearer ", ReasonMalformed, `Bearer error="invalid_token"`},
		{"garbage", "Bearer not-a-token", ReasonMalformed, `Bearer error="invalid_token"`},
		{"huge", "Bearer " + strings.Repeat("A", 5000), ReasonMalformed, `Bearer error="invalid_token"`},
		{"wrong secret", "Bearer " + SignSelfCheck(other, "u-1001", tokNow.Add(time.Minute), nil), ReasonBadSignature, `Bearer error="invalid_token"`},
		{"expired", "Bearer " + SignSelfCheck(scSecret, "u-1001", tokNow.Add(-time.Minute), nil), ReasonExpired, `Bearer error="invalid_token"`},
		{"too far", "Bearer " + SignSelfCheck(scSecret, "u-1001", tokNow.Add(time.Hour), nil), ReasonTooFar, `Bearer error="invalid_token"`},
		{"replayed", "Bearer " + used, ReasonReplayed, `Bearer error="invalid_token"`},
		{"replayed, lower-case scheme", "bearer " + used, ReasonReplayed, `Bearer error="invalid_token"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.srv.SelfCheckStats()
			w := e.get(tc.auth, "")
			wantJSONError(t, w, http.StatusUnauthorized, "invalid token")
			if got := w.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			after := e.srv.SelfCheckStats()
			for k := range after {
				d := after[k] - before[k]
				if want := int64(map[bool]int{true: 1}[k == tc.reason]); d != want {
					t.Errorf("%s counted %d more, want %d", k, d, want)
				}
			}
		})
	}
	// The replayed token was answered (and audited) once.
	es, err := e.st.AuditLog(context.Background(), scCase, store.AuditFilter{UserID: "u-1001"})
	if err != nil || len(es) != 1 {
		t.Errorf("audit of u-1001: %d entries, %v; want 1", len(es), err)
	}
	// Persisted on flush, in one write per reason.
	if err := e.srv.flushSelfCheckRefusals(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err := e.srv.flushSelfCheckRefusals(context.Background()); err != nil { // nothing new: nothing added
		t.Fatalf("second flush: %v", err)
	}
	got := map[string]int64{}
	rs, err := e.st.SelfCheckRefusals(context.Background(), scCase)
	if err != nil {
		t.Fatalf("SelfCheckRefusals: %v", err)
	}
	for _, r := range rs {
		got[r.Reason] += r.Count
	}
	want := map[string]int64{ReasonMissing: 1, ReasonMalformed: 4, ReasonBadSignature: 1, ReasonExpired: 1, ReasonTooFar: 1, ReasonReplayed: 2}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refusals in the case database %v, want %v", got, want)
	}
	stats := e.srv.SelfCheckStats()
	for r, n := range want {
		if stats[r] != n {
			t.Errorf("SelfCheckStats()[%s] = %d, want %d", r, stats[r], n)
		}
	}
}

func TestSelfCheckAudit(t *testing.T) {
	e := newSCEnv(t, nil)
	if w := e.get("Bearer "+e.token("u-2002"), "198.51.100.9:40000"); w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", w.Code)
	}
	es, err := e.st.AuditLog(context.Background(), scCase, store.AuditFilter{})
	if err != nil {
		t.Fatalf("AuditLog: %v", err)
	}
	if len(es) != 1 {
		t.Fatalf("%d audit entries, want 1: %+v", len(es), es)
	}
	a := es[0]
	if a.Actor != store.ActorSelfCheck || a.Action != store.AuditSelfCheck || a.UserID != "u-2002" ||
		a.Remote != "198.51.100.9" || a.Detail != "run 3" || !a.At.Equal(tokNow) {
		t.Errorf("audit entry %+v, want actor/action self-check, user u-2002, remote 198.51.100.9, detail run 3, at %v", a, tokNow)
	}
}

func TestSelfCheckRateLimits(t *testing.T) {
	t.Run("per address", func(t *testing.T) {
		e := newSCEnv(t, func(c *Config) { c.SelfCheckAddrRate, c.SelfCheckAddrBurst = 1, 3 })
		for i := range 3 {
			if w := e.get("Bearer "+e.token("u-1001"), "203.0.113.5:1000"); w.Code != http.StatusOK {
				t.Fatalf("request %d: status %d, want 200", i+1, w.Code)
			}
		}
		w := e.get("Bearer "+e.token("u-1001"), "203.0.113.5:2000")
		wantJSONError(t, w, http.StatusTooManyRequests, "too many requests")
		if ra := w.Header().Get("Retry-After"); ra != "1" {
			t.Errorf("Retry-After %q, want 1", ra)
		}
		// Even without a token: the address is limited first.
		wantJSONError(t, e.get("", "203.0.113.5:3000"), http.StatusTooManyRequests, "too many requests")
		// Another address is not limited; another host of the same IPv6 /64 is.
		if w := e.get("Bearer "+e.token("u-1001"), "203.0.113.6:1000"); w.Code != http.StatusOK {
			t.Errorf("another address: status %d, want 200", w.Code)
		}
		for i := range 3 {
			e.get("Bearer "+e.token("u-1001"), fmt.Sprintf("[2001:db8::%d]:1000", i+1))
		}
		wantJSONError(t, e.get("Bearer "+e.token("u-1001"), "[2001:db8::ffff]:1000"), http.StatusTooManyRequests, "too many requests")
		if n := e.srv.SelfCheckStats()[ReasonRateLimited]; n != 3 {
			t.Errorf("rate-limited counted %d, want 3", n)
		}
	})
	t.Run("per token", func(t *testing.T) {
		e := newSCEnv(t, nil) // 5 a minute, bursts of 5
		tok := e.token("u-1001")
		codes := []int{}
		for range 7 {
			codes = append(codes, e.get("Bearer "+tok, "").Code)
		}
		if want := []int{200, 401, 401, 401, 401, 429, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("one token seven times: %v, want %v", codes, want)
		}
		forged := "Bearer " + SignSelfCheck(bytes.Repeat([]byte("f"), 32), "u-1001", tokNow.Add(time.Minute), nil)
		codes = codes[:0]
		for range 7 {
			codes = append(codes, e.get(forged, "").Code)
		}
		if want := []int{401, 401, 401, 401, 401, 429, 429}; fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Errorf("one forged token seven times: %v, want %v", codes, want)
		}
		w := e.get(forged, "")
		if ra := w.Header().Get("Retry-After"); ra != "12" {
			t.Errorf("Retry-After %q, want 12 (5 a minute)", ra)
		}
		// Another token is not limited.
		if w := e.get("Bearer "+e.token("u-1001"), ""); w.Code != http.StatusOK {
			t.Errorf("another token: status %d, want 200", w.Code)
		}
		st := e.srv.SelfCheckStats()
		if st[ReasonRateLimited] != 5 || st[ReasonReplayed] != 4 || st[ReasonBadSignature] != 5 || st["answered"] != 2 {
			t.Errorf("stats %v, want rate-limited 5, replayed 4, bad-signature 5, answered 2", st)
		}
	})
}

func TestSelfCheckNotServed(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Config)
		data   func(*scData)
		method string
		code   int
		msg    string
	}{
		{"no secret", func(c *Config) { c.SelfCheckSecret = nil }, nil, http.MethodGet, http.StatusServiceUnavailable, "the self-check is not configured on this server"},
		{"POST", nil, nil, http.MethodPost, http.StatusMethodNotAllowed, "method not allowed: use GET"},
		{"HEAD", nil, nil, http.MethodHead, http.StatusMethodNotAllowed, ""},
		{"DELETE", nil, nil, http.MethodDelete, http.StatusMethodNotAllowed, "method not allowed: use GET"},
		{"no completed run", nil, func(d *scData) { d.noRun = true }, http.MethodGet, http.StatusServiceUnavailable, "the case has no completed run yet"},
		{"data fails", nil, func(d *scData) { d.err = errors.New("boom u-1001@example.com") }, http.MethodGet, http.StatusInternalServerError, "internal error"},
		{"answer about someone else", nil, func(d *scData) { d.liar = "u-2002" }, http.MethodGet, http.StatusInternalServerError, "internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSCEnv(t, tc.mod)
			if tc.data != nil {
				tc.data(e.data)
			}
			w := e.do(tc.method, "Bearer "+e.token("u-1001"), "")
			if tc.method == http.MethodHead {
				if w.Code != tc.code {
					t.Fatalf("status %d, want %d", w.Code, tc.code)
				}
			} else {
				wantJSONError(t, w, tc.code, tc.msg)
			}
			if tc.code == http.StatusMethodNotAllowed {
				if a := w.Header().Get("Allow"); a != "GET" {
					t.Errorf("Allow %q, want GET", a)
				}
			}
			if strings.Contains(w.Body.String(), "u-1001") || strings.Contains(w.Body.String(), "u-2002") {
				t.Errorf("the refusal tells about a person: %q", w.Body.String())
			}
			es, err := e.st.AuditLog(context.Background(), scCase, store.AuditFilter{})
			if err != nil || len(es) != 0 {
				t.Errorf("audit: %d entries, %v; want none", len(es), err)
			}
		})
	}
}

func TestSelfCheckShortSecretRefused(t *testing.T) {
	_, err := New(Config{Data: newSCData(), SelfCheckSecret: []byte("short")})
	if err == nil {
		t.Fatal("New accepted a 5-byte secret")
	}
}

// When the token's use cannot be recorded there is no answer.
func TestSelfCheckFailsClosed(t *testing.T) {
	e := newSCEnv(t, nil)
	if _, err := e.st.DB.Exec(`DROP TABLE breachctl.selfcheck_tokens`); err != nil {
		t.Fatal(err)
	}
	w := e.get("Bearer "+e.token("u-1001"), "")
	wantJSONError(t, w, http.StatusInternalServerError, "internal error")
	if strings.Contains(w.Body.String(), "confirmed") || strings.Contains(w.Body.String(), "email") {
		t.Errorf("data sent although the use was not recorded: %q", w.Body.String())
	}
	if e.data.calls != 1 {
		t.Errorf("Data.SelfCheck called %d times, want 1", e.data.calls)
	}
	if n := e.srv.SelfCheckStats()["answered"]; n != 0 {
		t.Errorf("answered %d, want 0", n)
	}
}

// Background writes the counts when it ends and prunes expired tokens.
func TestSelfCheckBackground(t *testing.T) {
	e := newSCEnv(t, nil)
	ctx := context.Background()
	if _, err := e.st.UseSelfCheckToken(ctx, scCase, "old", time.Now().Add(-time.Hour), nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.get("Bearer nope", "")
	}
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.srv.Background(bctx) }()
	// The prune at start: the old token can be used again (it would be
	// refused as expired anyway).
	deadline := time.Now().Add(10 * time.Second)
	for {
		fresh, err := e.st.UseSelfCheckToken(ctx, scCase, "old", time.Now().Add(-time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		if fresh {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired token was not pruned")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Background: %v", err)
	}
	rs, err := e.st.SelfCheckRefusals(ctx, scCase)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Reason != ReasonMalformed || rs[0].Count != 3 {
		t.Errorf("refusals %+v, want malformed 3", rs)
	}
}

// Many clients at once: each fresh token is answered and audited exactly
// once, each replay refused, whichever request comes first.
func TestSelfCheckConcurrent(t *testing.T) {
	e := newSCEnv(t, func(c *Config) { c.SelfCheckTokenRate = rate.Inf })
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	const clients, perClient = 16, 10
	tokens := make([]string, clients*perClient)
	for i := range tokens {
		tokens[i] = e.token(fmt.Sprint("u-", i%7))
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				// Every token is sent twice, by two clients.
				for _, tok := range []string{tokens[c*perClient+i], tokens[(c+1)%clients*perClient+i]} {
					r, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/self-check", nil)
					r.Header.Set("Authorization", "Bearer "+tok)
					resp, err := srv.Client().Do(r)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					mu.Lock()
					codes[resp.StatusCode]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	n := len(tokens)
	if codes[200] != n || codes[401] != n || len(codes) != 2 {
		t.Errorf("statuses %v, want 200: %d, 401: %d", codes, n, n)
	}
	es, err := e.st.AuditLog(context.Background(), scCase, store.AuditFilter{})
	if err != nil || len(es) != n {
		t.Errorf("audit: %d entries, %v; want %d", len(es), err, n)
	}
	if st := e.srv.SelfCheckStats(); st["answered"] != int64(n) || st[ReasonReplayed] != int64(n) {
		t.Errorf("stats %v, want answered and replayed %d", st, n)
	}
}
