package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/serve"
)

var lcSecret = strings.Repeat("k", 32)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// selfCheckServer verifies each token and refuses a replay, as serve does.
func selfCheckServer(t *testing.T, status int) (*httptest.Server, func() (int, int)) {
	var mu sync.Mutex
	seen := map[string]bool{}
	replays := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		uid, _, err := serve.VerifySelfCheck([]byte(lcSecret), tok, time.Now(), 0)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || r.URL.Path != "/api/v1/self-check" || (uid != "u-1" && uid != "u-2") {
			http.Error(w, "bad", http.StatusUnauthorized)
			return
		}
		if seen[tok] {
			replays++
			http.Error(w, "replay", http.StatusUnauthorized)
			return
		}
		seen[tok] = true
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, func() (int, int) { mu.Lock(); defer mu.Unlock(); return len(seen), replays }
}

func TestSelfCheckMode(t *testing.T) {
	srv, counts := selfCheckServer(t, http.StatusOK)
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"-url", srv.URL, "-c", "4", "-d", "300ms", "-ids", "u-1, u-2"}, &out, &errw,
		env(map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}))
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out.String(), errw.String())
	}
	used, replays := counts()
	if used == 0 || replays != 0 {
		t.Errorf("%d tokens used, %d replays; want some and none", used, replays)
	}
	for _, want := range []string{"requests    ", "errors      0", "requests/s", "p50", "p99", "statuses    200: ", "ok\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFailures(t *testing.T) {
	failing, _ := selfCheckServer(t, http.StatusTooManyRequests)
	ok, _ := selfCheckServer(t, http.StatusOK)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"non-2xx", []string{"-url", failing.URL, "-c", "2", "-d", "100ms", "-ids", "u-1"}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}, 1, "429: the server's rate limits"},
		{"wrong secret", []string{"-url", ok.URL, "-c", "2", "-d", "100ms", "-ids", "u-1"}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": strings.Repeat("x", 32)}, 1, "statuses    401: "},
		{"min rps missed", []string{"-url", ok.URL, "-c", "1", "-d", "100ms", "-ids", "u-1", "-min-rps", "1e9"}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}, 1, "target at least"},
		{"max p99 missed", []string{"-url", ok.URL, "-c", "1", "-d", "100ms", "-ids", "u-1", "-max-p99", "1ns"}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}, 1, "FAIL  p99"},
		{"no server", []string{"-url", "http://127.0.0.1:1", "-c", "1", "-d", "50ms", "-ids", "u-1"}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}, 1, "transport: "},
		{"no secret", []string{"-url", ok.URL, "-ids", "u-1"}, nil, 2, "at least 32"},
		{"no ids", []string{"-url", ok.URL}, map[string]string{"BREACHCTL_SELFCHECK_SECRET": lcSecret}, 2, "no user ids"},
		{"bad mode", []string{"-url", ok.URL, "-ids", "u-1", "-mode", "x"}, nil, 2, "use selfcheck or lookup"},
		{"lookup without password", []string{"-url", ok.URL, "-ids", "u-1", "-mode", "lookup", "-user", "desk"}, nil, 2, "BREACHCTL_LOAD_PASSWORD"},
		{"bad url", []string{"-url", "ftp://x", "-ids", "u-1"}, nil, 2, "-url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			code := run(context.Background(), tc.args, &out, &errw, env(tc.env))
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errw.String())
			}
			if got := out.String() + errw.String(); !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, got)
			}
		})
	}
}

// staffServer is a sign-in form with a CSRF token and a cookie, and person
// pages for a signed-in session.
func staffServer(t *testing.T) (*httptest.Server, func() int) {
	var mu sync.Mutex
	pages := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "pre", Value: "p1", Path: "/"})
		w.Write([]byte(`<form method="post"><input type="hidden" value="c&amp;1" name="csrf"><input name="name"></form>`))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("pre")
		if err != nil || c.Value != "p1" || r.FormValue("csrf") != "c&1" || r.FormValue("name") != "desk" || r.FormValue("password") != "pw" {
			http.Error(w, "no", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", Path: "/"})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /person/{id}", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("session"); err != nil || c.Value != "s1" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if id := r.PathValue("id"); id != "u 1" && id != "u/2" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		pages++
		mu.Unlock()
		w.Write([]byte("person"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() int { mu.Lock(); defer mu.Unlock(); return pages }
}

func TestLookupMode(t *testing.T) {
	srv, pages := staffServer(t)
	tests := []struct {
		name     string
		password string
		code     int
		want     string
	}{
		{"signed in", "pw", 0, "errors      0"},
		{"wrong password", "nope", 1, "sign in as desk: POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errw bytes.Buffer
			before := pages()
			code := run(context.Background(), []string{"-url", srv.URL + "/", "-mode", "lookup", "-user", "desk", "-c", "3", "-d", "200ms", "-ids", "u 1,u/2"},
				&out, &errw, env(map[string]string{"BREACHCTL_LOAD_PASSWORD": tc.password}))
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out.String(), errw.String())
			}
			if got := out.String() + errw.String(); !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, got)
			}
			if tc.code == 0 && pages() == before {
				t.Error("no person page was served")
			}
		})
	}
}

func TestCSRFToken(t *testing.T) {
	tests := []struct {
		page string
		want string
		ok   bool
	}{
		{`<input type="hidden" name="csrf" value="abc">`, "abc", true},
		{`<INPUT value='x&#43;y' NAME='csrf' type=hidden>`, "x+y", true},
		{`<input name=csrf value=z9>`, "z9", true},
		{`<input name="csrf_other" value="no"><input name="csrf" value="yes">`, "yes", true},
		{`<input name="name" value="no">`, "", false},
	}
	for _, tc := range tests {
		got, ok := csrfToken([]byte(tc.page))
		if got != tc.want || ok != tc.ok {
			t.Errorf("csrfToken(%q) = %q, %v; want %q, %v", tc.page, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tc := range tests {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v, want 0", got)
	}
}
