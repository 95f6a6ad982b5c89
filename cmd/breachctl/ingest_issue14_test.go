package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cacheLogFormat logs the cache result and the session cookie.
const cacheLogFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status`

// nginxLine is one line of cacheLogFormat at a Tokyo wall-clock time.
func nginxLine(clock, path, cache string) string {
	return `203.0.113.9 - - [22/Jun/2017:` + clock + ` +0900] "GET ` + path + ` HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc" ` + cache
}

// writeScanCase writes valid.yaml (logs with a cache result) and one log
// file, for commands that need no database (ingest --dry-run).
func writeScanCase(t *testing.T, lines []string, edit func(string) string) (path string, env map[string]string) {
	t.Helper()
	dir := t.TempDir()
	src, err := os.ReadFile("../../incident/testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "    identity: cookie:sid\n", "    identity: cookie:sid\n    log_format: '"+cacheLogFormat+"'\n", 1)
	if edit != nil {
		s = edit(s)
	}
	path = filepath.Join(dir, "incident.yaml")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "logs", "a.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, map[string]string{"USERS_DATABASE_URL": "postgres://nobody@127.0.0.1:1/users"}
}

// TestIngestMarginZero: --margin 0 keeps the declared window only (it was
// read as the default, one hour).
func TestIngestMarginZero(t *testing.T) {
	path, env := writeScanCase(t, []string{
		nginxLine("09:11:00", "/a", "MISS"), // 30 minutes before window.start
		nginxLine("09:41:00", "/b", "MISS"),
		nginxLine("16:00:00", "/c", "MISS"), // 22 minutes after window.end
	}, nil)
	for _, tc := range []struct {
		margin, want string
	}{
		{"0", "outside the window ± margin 2 "},
		{"0s", "outside the window ± margin 2 "},
		{"1h", "outside the window ± margin 0 "},
		{"", "outside the window ± margin 0 "}, // the default: 1h
	} {
		args := []string{"ingest", "-f", path, "--dry-run"}
		if tc.margin != "" {
			args = append(args, "--margin", tc.margin)
		}
		r := runCLI(t, env, args...)
		if r.code != 0 || !strings.Contains(r.out, tc.want) {
			t.Errorf("--margin %q: exit %d, want %q in:\n%s%s", tc.margin, r.code, tc.want, r.out, r.err)
		}
	}
}

// TestDryRunRejects: a dry run lists --rejects N rejects of each file (it
// listed the first only).
func TestDryRunRejects(t *testing.T) {
	lines := []string{nginxLine("09:41:00", "/a", "MISS")}
	for i := 0; i < 6; i++ {
		lines = append(lines, "garbage "+strings.Repeat("x", i))
	}
	path, env := writeScanCase(t, lines, nil)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 3}, {[]string{"--rejects", "5"}, 5}, {[]string{"--rejects", "40"}, 6}, {[]string{"--rejects", "1"}, 1},
	} {
		r := runCLI(t, env, append([]string{"ingest", "-f", path, "--dry-run"}, tc.args...)...)
		got := strings.Count(r.out, "then line ")
		if strings.Contains(r.out, "6 rejected, first at line 2: ") {
			got++
		}
		if r.code != 0 || got != tc.want {
			t.Errorf("%v: exit %d, %d rejects listed, want %d:\n%s%s", tc.args, r.code, got, tc.want, r.out, r.err)
		}
	}
	if r := runCLI(t, env, "ingest", "-f", path, "--dry-run", "--rejects", "-1"); r.code != 2 {
		t.Errorf("--rejects -1: exit %d, want 2", r.code)
	}
}

// TestUnknownCacheOrder: unknown cache values are listed by count, then
// value, the same on every run (they came in map order).
func TestUnknownCacheOrder(t *testing.T) {
	var lines []string
	for v, n := range map[string]int{"PASS": 3, "ZETA": 1, "ALPHA": 1, "REMOTE_HIT": 2, "HIT": 4} {
		for i := 0; i < n; i++ {
			lines = append(lines, nginxLine("09:42:00", "/a", v))
		}
	}
	path, env := writeScanCase(t, lines, nil)
	want := `logs/a.log: unknown cache results (not used as hits or fills; map them with logs[].cache_values): "PASS" 3, "REMOTE_HIT" 2, "ALPHA" 1, "ZETA" 1` + "\n"
	for i := 0; i < 10; i++ {
		r := runCLI(t, env, "ingest", "-f", path, "--dry-run")
		if r.code != 0 || !strings.Contains(r.out, want) {
			t.Fatalf("exit %d, want %q in:\n%s%s", r.code, want, r.out, r.err)
		}
	}
}

// TestIngestStoresUnknownCache: each file's unknown cache values reach the
// case database and triage (text, JSON with evidence[].unknown_cache and
// totals.unknown_cache, HTML).
func TestIngestStoresUnknownCache(t *testing.T) {
	path, env := writeCase(t, func(s string) string {
		s = strings.Replace(s, "    log_format: '"+combinedWithCookie+"'\n    accept_missing: [cache]\n", "    log_format: '"+cacheLogFormat+"'\n", 1)
		return s
	})
	lines := []string{
		nginxLine("09:42:00", "/mypage/profile", "MISS"),
		nginxLine("09:43:00", "/mypage/profile", "PASS"),
		nginxLine("09:44:00", "/mypage/profile", "PASS"),
		nginxLine("09:45:00", "/mypage/profile", "ODD"),
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "logs", "a.log"), []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env, "ingest", "-f", path)
	if r.code != 0 || !strings.Contains(r.out, `logs/a.log: unknown cache results (not used as hits or fills; map them with logs[].cache_values): "PASS" 2, "ODD" 1`) {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.out, r.err)
	}
	r = runCLI(t, env, "triage", "-f", path, "--format", "json")
	var s struct {
		Evidence []struct {
			UnknownCache map[string]int64 `json:"unknown_cache"`
		} `json:"evidence"`
		Totals struct {
			UnknownCache        map[string]int64 `json:"unknown_cache"`
			PrivateUnknownCache int64            `json:"private_unknown_cache"`
		} `json:"totals"`
	}
	if err := json.Unmarshal([]byte(r.out), &s); err != nil || r.code != 0 {
		t.Fatalf("triage json: exit %d %v\n%s", r.code, err, r.out)
	}
	if len(s.Evidence) != 1 || s.Evidence[0].UnknownCache["PASS"] != 2 || s.Evidence[0].UnknownCache["ODD"] != 1 ||
		s.Totals.UnknownCache["PASS"] != 2 || s.Totals.PrivateUnknownCache != 3 {
		t.Errorf("triage json: %s", r.out)
	}
	html := filepath.Join(t.TempDir(), "t.html")
	r = runCLI(t, env, "triage", "-f", path, "--html", html)
	if r.code != 0 || !strings.Contains(r.out, `Unknown cache results (lines): "PASS" 2, "ODD" 1`) || !strings.Contains(r.out, "3 private-page responses with an unknown cache result") {
		t.Errorf("triage text: exit %d\n%s%s", r.code, r.out, r.err)
	}
	page, err := os.ReadFile(html)
	if err != nil || !strings.Contains(string(page), `<tr><td><code>PASS</code></td><td class="n">2</td></tr><tr><td><code>ODD</code></td>`) {
		t.Errorf("triage html lacks the unknown cache values (%v)", err)
	}
}

// TestDryRunNeedsOnlyLogs: a dry run reads the logs only, so its case file
// needs only id, timezone, window and logs[]; validate still wants it all.
func TestDryRunNeedsOnlyLogs(t *testing.T) {
	path, _ := writeScanCase(t, []string{nginxLine("09:41:00", "/a", "MISS")}, func(string) string {
		return "id: quick-look\ntimezone: Asia/Tokyo\nwindow:\n  start: 2017-06-22T09:41:00+09:00\n  end:   2017-06-22T15:38:00+09:00\n" +
			"logs:\n  - paths: [\"logs/*.log\"]\n    format: nginx\n    identity: cookie:sid\n    log_format: '" + cacheLogFormat + "'\n"
	})
	r := runCLI(t, nil, "ingest", "-f", path, "--dry-run")
	if r.code != 0 || !strings.Contains(r.out, "case quick-look, dry run: 1 files") || !strings.Contains(r.out, "parsed 1, rejected 0") {
		t.Errorf("dry run: exit %d\n%s%s", r.code, r.out, r.err)
	}
	// What it reads is still checked.
	bad := strings.Replace(mustRead(t, path), "format: nginx", "format: nginks", 1)
	bad = strings.Replace(bad, "end:   2017-06-22T15:38", "end:   2017-06-22T08:00", 1)
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, nil, "ingest", "-f", path, "--dry-run")
	if r.code != 2 || !strings.Contains(r.err, "2 problems") || !strings.Contains(r.err, "window.end") || !strings.Contains(r.err, "logs[0].format") {
		t.Errorf("dry run of a bad case: exit %d\n%s", r.code, r.err)
	}
	// validate and a real ingest do not relax.
	for _, cmd := range []string{"validate", "ingest"} {
		r = runCLI(t, nil, cmd, "-f", path)
		if r.code != 2 || !strings.Contains(r.err, "users.database_url") || !strings.Contains(r.err, "exposure.routes") {
			t.Errorf("%s: exit %d\n%s", cmd, r.code, r.err)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
