package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cloudflare lines: nanosecond times, a cookie, cache values known and not.
var logsParseLines = []string{
	`{"EdgeStartTimestamp":1498092060123456789,"ClientIP":"203.0.113.9","ClientRequestMethod":"GET","ClientRequestHost":"www.example.jp","ClientRequestURI":"/mypage/profile?tab=1","EdgeResponseStatus":200,"CacheCacheStatus":"miss","EdgeColoCode":"NRT","Cookies":{"sid":"abc"}}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:01Z","ClientIP":"host.example","ClientRequestURI":"/x","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:02.5Z","ClientIP":"2001:db8::1","ClientRequestURI":"/a","EdgeResponseStatus":200,"CacheCacheStatus":"zzz"}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:03Z","ClientIP":"198.51.100.1","ClientRequestURI":"/b","EdgeResponseStatus":200,"CacheCacheStatus":"qqq"}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:04Z","ClientIP":"198.51.100.1","ClientRequestURI":"/c","EdgeResponseStatus":200,"CacheCacheStatus":"zzz"}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:05Z","ClientIP":"198.51.100.1","ClientRequestURI":"/d","EdgeResponseStatus":200,"CacheCacheStatus":"aaa"}`,
	`{"EdgeStartTimestamp":"2017-06-22T00:41:06Z","ClientIP":"198.51.100.1","ClientRequestURI":"/e","EdgeResponseStatus":200,"CacheCacheStatus":"qqq"}`,
	`not json at all`,
}

func writeLog(t *testing.T, name string, lines []string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLogsParseJSONL(t *testing.T) {
	p := writeLog(t, "cf.log", logsParseLines)
	r := runCLI(t, nil, "logs", "parse", "--format", "cloudflare", "--identity", "cookie:sid", p)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.err)
	}
	var recs []map[string]any
	dec := json.NewDecoder(strings.NewReader(r.out))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("output is not JSON lines: %v\n%s", err, r.out)
		}
		recs = append(recs, m)
	}
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6:\n%s", len(recs), r.out)
	}
	want := map[string]any{"time": "2017-06-22T00:41:00.123456789Z", "pop": "NRT", "ip": "203.0.113.9", "method": "GET",
		"host": "www.example.jp", "path": "/mypage/profile", "query": "tab=1", "status": 200.0, "cache": "FILL",
		"cache_raw": "miss", "identity": "abc", "file": p, "line": 1.0}
	for k, v := range want {
		if recs[0][k] != v {
			t.Errorf("record 1 %s = %v, want %v", k, recs[0][k], v)
		}
	}
	if len(recs[0]) != len(want) {
		t.Errorf("record 1 has %d fields, want %d: %v", len(recs[0]), len(want), recs[0])
	}
	if recs[1]["time"] != "2017-06-22T00:41:02.5Z" || recs[1]["line"] != 3.0 || recs[1]["cache"] != "UNKNOWN" || recs[1]["cache_raw"] != "zzz" || recs[1]["identity"] != "" {
		t.Errorf("record 2 = %v, want line 3, time to the half second, UNKNOWN zzz, anonymous", recs[1])
	}
	for _, want := range []string{
		p + `:2: ClientIP "host.example" is not an IP address` + "\n",
		p + ":8: ",
		"1 files, 8 lines: 6 parsed, 2 rejected\n",
		"cache: FILL 1, CACHED 0, ORIGIN 0, UNKNOWN 5\n",
		// by count, then by value
		`"qqq" 2, "zzz" 2, "aaa" 1` + "\n",
	} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
	if strings.Index(r.err, ":2: ") > strings.Index(r.err, ":8: ") {
		t.Errorf("rejects not in line order:\n%s", r.err)
	}
}

func TestLogsParseCSVAndLimit(t *testing.T) {
	p := writeLog(t, "cf.log", logsParseLines)
	r := runCLI(t, nil, "logs", "parse", "--format", "cloudflare", "--identity", "cookie:sid", "--output", "csv", "--limit", "3", "--cache-values", "zzz=CACHED", p)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.err)
	}
	rows, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != "time,pop,ip,method,host,path,query,status,cache,cache_raw,identity,file,line" {
		t.Fatalf("rows = %q, want the header and 2 records", rows)
	}
	if got := strings.Join(rows[2], ","); got != "2017-06-22T00:41:02.5Z,,2001:db8::1,,,/a,,200,CACHED,zzz,,"+p+",3" {
		t.Errorf("row 2 = %s", got)
	}
	if !strings.Contains(r.err, "1 files, 3 lines (the first 3 of each file): 2 parsed, 1 rejected") || strings.Contains(r.err, "unknown cache values") {
		t.Errorf("stderr:\n%s", r.err)
	}
}

func TestLogsParseFailures(t *testing.T) {
	p := writeLog(t, "x.log", []string{"one", "two", `{"EdgeStartTimestamp":"2017-06-22T00:41:06Z","ClientIP":"198.51.100.1","ClientRequestURI":"/e","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`})
	ctl := writeLog(t, "ctl\x1b[31m.log", []string{"\x1b]0;owned\x07"})
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		wantErr  string
		wantNot  string
		wantOutN int
	}{
		{"no format", []string{p}, 2, "logs parse needs --format", "", 0},
		{"unknown format", []string{"--format", "iis6", p}, 2, `"iis6" is not a supported format`, "", 0},
		{"bad cache value class", []string{"--format", "cloudflare", "--identity", "cookie:sid", "--cache-values", "x=HITS", p}, 2, `"HITS" is not a cache class`, "", 0},
		{"no files", []string{"--format", "cloudflare", "--identity", "cookie:sid"}, 2, "needs one or more files", "", 0},
		{"bad output", []string{"--format", "cloudflare", "--identity", "cookie:sid", "--output", "xml", p}, 2, `--output "xml"`, "", 0},
		{"more rejects than parses", []string{"--format", "cloudflare", "--identity", "cookie:sid", p}, 1, "more lines rejected (2) than parsed (1)", "", 1},
		{"nothing parses, escaped", []string{"--format", "cloudflare", "--identity", "cookie:sid", ctl}, 1, "no line parsed as cloudflare", "\x1b", 0},
		{"missing file", []string{"--format", "cloudflare", "--identity", "cookie:sid", "/nonexistent/x.log"}, 1, "no line parsed", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, append([]string{"logs", "parse"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.err, tc.wantErr) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nwant %q", r.code, tc.code, r.err, tc.wantErr)
			}
			if tc.wantNot != "" && strings.Contains(r.err, tc.wantNot) {
				t.Errorf("stderr holds %q:\n%q", tc.wantNot, r.err)
			}
			if n := strings.Count(r.out, "\n"); n != tc.wantOutN {
				t.Errorf("%d records printed, want %d:\n%s", n, tc.wantOutN, r.out)
			}
		})
	}
}

func TestLogsParseStdin(t *testing.T) {
	var out, errb bytes.Buffer
	in := strings.NewReader(strings.Join(logsParseLines[:1], "\n") + "\n")
	code := Main(context.Background(), []string{"logs", "parse", "--format", "cloudflare", "--identity", "cookie:sid", "-"}, IO{In: in, Out: &out, Err: &errb}, func(string) (string, bool) { return "", false })
	if code != 0 || !strings.Contains(out.String(), `"file":"-","line":1}`) {
		t.Errorf("exit %d out %s err %s", code, out.String(), errb.String())
	}
}

func TestLogsParseHelpListsFormats(t *testing.T) {
	r := runCLI(t, nil, "logs", "parse", "--help")
	for _, want := range []string{"cloudfront", "cloudflare", "jsonl", "nginx", "Exit codes"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestLogsParseNoIdentity: an identity is optional; every record is then
// anonymous.
func TestLogsParseNoIdentity(t *testing.T) {
	p := writeLog(t, "a.log", []string{`203.0.113.9 - alice [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "Mozilla/5.0" "sid=abc" HIT`})
	lf := `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status`
	r := runCLI(t, nil, "logs", "parse", "--format", "nginx", "--log-format", lf, p)
	if r.code != 0 || !strings.Contains(r.out, `"cache":"CACHED","cache_raw":"HIT","identity":""`) {
		t.Errorf("exit %d out %s err %s", r.code, r.out, r.err)
	}
}

// TestLogsParseJSONArray: a Cloud Logging export (a pretty-printed JSON
// array) is read record by record, each record's first line named, and the
// summary says it counted JSON records, not lines.
func TestLogsParseJSONArray(t *testing.T) {
	p := writeLog(t, "gcp.json", []string{
		`[`,
		`  {`,
		`    "timestamp": "2017-06-22T00:41:00.123456Z",`,
		`    "httpRequest": {"requestMethod": "GET", "requestUrl": "https://www.example.jp/mypage/profile?tab=1",`,
		`      "status": 200, "remoteIp": "203.0.113.9", "cacheLookup": true, "cacheHit": true},`,
		`    "jsonPayload": {"cacheId": "NRT-1"}`,
		`  },`,
		`  {"timestamp": "2017-06-22T00:41:01Z", "httpRequest": {"requestMethod": "GET", "requestUrl": "mypage", "status": 200, "remoteIp": "203.0.113.9"}}`,
		`]`,
	})
	r := runCLI(t, nil, "logs", "parse", "--format", "gcp", p)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(r.out, "\n", 2)[0]), &rec); err != nil {
		t.Fatalf("output: %v\n%s", err, r.out)
	}
	for k, v := range map[string]any{"host": "www.example.jp", "path": "/mypage/profile", "query": "tab=1", "cache": "CACHED", "pop": "NRT-1", "line": 2.0} {
		if rec[k] != v {
			t.Errorf("record %s = %v, want %v", k, rec[k], v)
		}
	}
	for _, want := range []string{":8: ", "1 files, 2 JSON records: 1 parsed, 1 rejected"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.err)
		}
	}
}

// TestLogsParseJSONArrayEveryJSONFormat: every JSON format reads a file
// that is a pretty-printed JSON array, record by record.
func TestLogsParseJSONArrayEveryJSONFormat(t *testing.T) {
	for _, tc := range []struct{ format, record string }{
		{"akamai", `{"reqTimeSec": "1498092060.123", "cliIP": "203.0.113.9", "reqMethod": "GET", "reqHost": "www.example.jp",
    "reqPath": "/mypage/profile", "statusCode": "200", "cacheStatus": "1", "cacheable": "1", "edgeIP": "23.50.51.173"}`},
		{"azure-frontdoor", `{"time": "2017-06-22T00:41:00.1230000Z", "category": "FrontDoorAccessLog",
    "properties": {"clientIp": "203.0.113.9", "httpMethod": "GET", "requestUri": "https://www.example.jp:443/mypage/profile",
      "hostName": "www.example.jp", "httpStatusCode": "200", "cacheStatus": "HIT", "pop": "NRT"}}`},
		{"caddy", `{"ts": 1498092060.123, "request": {"remote_ip": "203.0.113.9", "method": "GET", "host": "www.example.jp",
    "uri": "/mypage/profile", "headers": {}}, "status": 200, "resp_headers": {"Cache-Status": ["caddy; hit"]}}`},
	} {
		t.Run(tc.format, func(t *testing.T) {
			p := writeLog(t, "a.json", []string{"[", "  " + tc.record + ",", "  " + tc.record, "]"})
			r := runCLI(t, nil, "logs", "parse", "--format", tc.format, p)
			if r.code != 0 || !strings.Contains(r.err, "1 files, 2 JSON records: 2 parsed, 0 rejected") {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
			}
			if !strings.Contains(r.out, `"path":"/mypage/profile"`) || !strings.Contains(r.out, `"cache":"CACHED"`) || !strings.Contains(r.out, `"line":2`) {
				t.Errorf("records:\n%s", r.out)
			}
		})
	}
}

// TestLogsParseRecordsWrapper: Azure Monitor's {"records": [...]} batches
// are read record by record; one cut before its closing brace is flagged.
func TestLogsParseRecordsWrapper(t *testing.T) {
	rec := `{"time": "2017-06-22T00:41:00.1230000Z", "category": "FrontDoorAccessLog", "properties": {"clientIp": "203.0.113.9", "httpMethod": "GET", "requestUri": "https://www.example.jp:443/mypage/profile", "hostName": "www.example.jp", "httpStatusCode": "200", "cacheStatus": "REMOTE_HIT", "pop": "NRT"}}`
	p := writeLog(t, "batch.json", []string{`{`, `  "records": [`, "    " + rec + ",", "    " + rec, `  ]`, `}`})
	r := runCLI(t, nil, "logs", "parse", "--format", "azure-frontdoor", p)
	if r.code != 0 || !strings.Contains(r.err, "1 files, 2 JSON records: 2 parsed, 0 rejected") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	if !strings.Contains(r.out, `"line":3`) || !strings.Contains(r.out, `"line":4`) || !strings.Contains(r.out, `"cache":"CACHED"`) {
		t.Errorf("records (want lines 3 and 4, CACHED):\n%s", r.out)
	}
	cut := writeLog(t, "cut.json", []string{`{"records": [`, rec, `]`})
	r = runCLI(t, nil, "logs", "parse", "--format", "azure-frontdoor", cut)
	if !strings.Contains(r.err, "TRUNCATED") || !strings.Contains(r.err, `closing its {"records": [...]} object`) {
		t.Errorf("a batch cut before its '}' is not flagged:\n%s", r.err)
	}
}

// --subject and --user-agent add their columns (and JSONL fields) and
// read them as ingest will; without them the output is unchanged.
func TestLogsParseSubjectAndUserAgent(t *testing.T) {
	lf := `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$cookie_sid" "$upstream_cache_status" $upstream_http_x_user_id`
	p := writeLog(t, "n.log", []string{
		`198.51.100.7 - - [22/Jun/2017:10:00:00 +0900] "GET /mypage/profile HTTP/1.1" 200 10 "-" "Mozilla/5.0 (X11)" "s1" "MISS" 42`,
		`198.51.100.8 - - [22/Jun/2017:10:00:01 +0900] "GET /mypage/profile HTTP/1.1" 200 10 "-" "curl/8.0" "s2" "HIT" -`,
	})
	r := runCLI(t, nil, "logs", "parse", "--format", "nginx", "--log-format", lf, "--identity", "cookie:sid",
		"--subject", "field:upstream_http_x_user_id", "--user-agent", "field:http_user_agent", "--output", "csv", p)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.err)
	}
	rows, err := csv.NewReader(strings.NewReader(r.out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || !strings.HasSuffix(strings.Join(rows[0], ","), ",file,line,subject,user_agent") {
		t.Fatalf("rows = %q", rows)
	}
	if got := rows[1][len(rows[1])-2:]; got[0] != "42" || got[1] != "Mozilla/5.0 (X11)" {
		t.Errorf("row 1 subject, user agent = %q", got)
	}
	if got := rows[2][len(rows[2])-2:]; got[0] != "" || got[1] != "curl/8.0" {
		t.Errorf("row 2 subject, user agent = %q (a - subject is empty)", got)
	}
	r = runCLI(t, nil, "logs", "parse", "--format", "nginx", "--log-format", lf, "--identity", "cookie:sid", p)
	if strings.Contains(r.out, "subject") || strings.Contains(r.out, "user_agent") {
		t.Errorf("without the flags the records carry no subject or user_agent:\n%s", r.out)
	}
}
