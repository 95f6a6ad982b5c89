package logs

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

const simFormat = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_cookie" $upstream_cache_status $host $hostname $msec`

func ns(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

func TestNginxParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	tests := []struct {
		name   string
		format string
		id     Identity
		line   string
		want   Record
		reject string // substring of the reason; empty = must parse
	}{
		{name: "combined", format: "", id: Identity{Kind: "remote_user"},
			line: `83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash.png HTTP/1.1" 200 203023 "http://semicomplete.com/" "Mozilla/5.0 (Macintosh)"`,
			want: Record{Time: ns("2015-05-17T10:05:03Z"), Coarse: true, ClientIP: b("83.149.9.216"), Method: b("GET"), Path: b("/presentations/logstash.png"), Status: 200, Cache: CacheOrigin}},
		{name: "remote user and escaped quotes in the agent", format: "", id: Identity{Kind: "remote_user"},
			line: `2001:db8::1 - alice [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile?tab=a%20b&q=%E3%81%82 HTTP/2.0" 200 512 "-" "Mozilla/5.0 \"quoted\" (X11)"`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("2001:db8::1"), Method: b("GET"), Path: b("/mypage/profile"), Query: b("tab=a%20b&q=%E3%81%82"), Status: 200, Cache: CacheOrigin, Identity: b("alice")}},
		{name: "unescaped quote inside the agent", format: "", id: Identity{Kind: "remote_user"},
			line: `10.0.0.1 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 5 "-" "Evil "agent" v1"`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("10.0.0.1"), Method: b("GET"), Path: b("/"), Status: 200, Cache: CacheOrigin}},
		{name: "simulator layout with msec and cookie header", format: simFormat, id: cookie,
			line: `198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 1234 "-" "UA" "_ga=GA1.2.3; sid=0123abcd; lang=ja" HIT www.example.jp NRT51 1498092060.123`,
			want: Record{Time: ns("2017-06-22T00:41:00.123Z"), Pop: b("NRT51"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example.jp"), Path: b("/mypage/bank"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("0123abcd")}},
		{name: "anonymous: cookie header dash", format: simFormat, id: cookie,
			line: `198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 302 0 "-" "UA" "-" MISS www.example.jp NRT51 1498092060.124`,
			want: Record{Time: ns("2017-06-22T00:41:00.124Z"), Pop: b("NRT51"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example.jp"), Path: b("/mypage/bank"), Status: 302, Cache: CacheFill, CacheRaw: b("MISS")}},
		{name: "cookie variable and iso time and request_uri", format: `$time_iso8601 $remote_addr $request_method $request_uri $status $upstream_cache_status $cookie_sid $server_name`, id: cookie,
			line: `2017-06-22T09:41:00+09:00 192.0.2.1 POST /login?next=%2Fmypage 403 BYPASS s3cr3t shop.example`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("192.0.2.1"), Method: b("POST"), Host: b("shop.example"), Path: b("/login"), Query: b("next=%2Fmypage"), Status: 403, Cache: CacheOrigin, CacheRaw: b("BYPASS"), Identity: b("s3cr3t")}},
		{name: "pasted directive, braces, named pop field", format: `log_format cdn escape=json '${remote_addr} [$time_local] "$request" $status '
                     '$upstream_cache_status edge=$edge_name';`, id: Identity{Kind: "field", Name: "remote_addr"},
			line: `192.0.2.1 [22/Jun/2017:09:41:00 +0900] "GET /a HTTP/1.1" 200 EXPIRED edge=KIX1`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("192.0.2.1"), Method: b("GET"), Path: b("/a"), Status: 200, Cache: CacheFill, CacheRaw: b("EXPIRED"), Identity: b("192.0.2.1")}},
		{name: "unknown cache wording is kept, not guessed", format: simFormat, id: cookie,
			line: `1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "UA" "-" SCARCE h p 1498092060.000`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Pop: b("p"), ClientIP: b("1.2.3.4"), Method: b("GET"), Host: b("h"), Path: b("/"), Status: 200, Cache: CacheUnknown, CacheRaw: b("SCARCE")}},
		// A request line whose target is not a path (a TLS handshake sent to
		// the HTTP port) is rejected and counted, never read as a path that
		// no route can match (issue 14: a path must start with /).
		{name: "garbage request line is rejected, with the reason", format: "", id: Identity{Kind: "remote_user"},
			line:   `1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "\x16\x03\x01" 400 150 "-" "-"`,
			reject: `request target "\\x16\\x03\\x01" is neither a path beginning with / nor a full URL`},
		{name: "full URL in the request line is split into host and path", format: "", id: Identity{Kind: "remote_user"},
			line: `1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "GET https://shop.example:443/mypage/bank?x=1 HTTP/1.1" 200 1 "-" "-"`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("1.2.3.4"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/bank"), Query: b("x=1"), Status: 200, Cache: CacheOrigin}},
		{name: "truncated mid-field", format: "", id: Identity{Kind: "remote_user"},
			line:   `46.118.127.106 - - [20/May/2015:12:05:17 +0000] "GET /x HTTP/1.1" 200 235 "-" "Mozilla/5.0 (compatible; Googlebot/2.1`,
			reject: `$http_user_agent: quoted value not closed`},
		{name: "bad time", format: "", id: Identity{Kind: "remote_user"},
			line:   `1.2.3.4 - - [32/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
			reject: `time "32/Jun/2017:09:41:00 +0900" is not valid`},
		{name: "bad status", format: "", id: Identity{Kind: "remote_user"},
			line:   `1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" OK 1 "-" "-"`,
			reject: `status "OK" is not a number`},
		{name: "trailing text", format: "", id: Identity{Kind: "remote_user"},
			line:   `1.2.3.4 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-" extra`,
			reject: `quoted value not closed`},
		{name: "wrong layout", format: "", id: Identity{Kind: "remote_user"},
			line: `{"json": true}`, reject: `expected " - " after it`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewNginx(tc.format, tc.id, "")
			if tc.name == "pasted directive, braces, named pop field" {
				p, err = NewNginx(tc.format, tc.id, "edge_name")
				tc.want.Pop = b("KIX1")
			}
			if err != nil {
				t.Fatalf("NewNginx: %v", err)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				if err == nil || !strings.Contains(err.Error(), tc.reject) {
					t.Fatalf("Parse error = %v, want a reject containing %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tc.want.CacheRaw == nil {
				rec.CacheRaw = nil
			}
			if d := diffRecord(rec, tc.want); d != "" {
				t.Errorf("record differs: %s", d)
			}
		})
	}
}

func TestNginxCompileErrors(t *testing.T) {
	tests := []struct {
		format string
		id     Identity
		want   string
	}{
		{`$remote_addr $status`, Identity{Kind: "remote_user"}, "no time"},
		{`[$time_local] "$request"`, Identity{Kind: "remote_user"}, "no $status"},
		{`[$time_local] $status`, Identity{Kind: "remote_user"}, "no request path"},
		{`[$time_local] "$request" $status`, Identity{Kind: "remote_user"}, "no $remote_user"},
		{`[$time_local] "$request" $status`, Identity{Kind: "cookie", Name: "sid"}, "neither $cookie_sid nor $http_cookie"},
		{`[$time_local] "$request" $status$body_bytes_sent`, Identity{Kind: "remote_user"}, "not separated"},
		{`[${time_local] "$request" $status`, Identity{Kind: "remote_user"}, "unclosed ${"},
		{`no variables`, Identity{Kind: "remote_user"}, "no $variables"},
	}
	for _, tc := range tests {
		if _, err := NewNginx(tc.format, tc.id, ""); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewNginx(%q) error = %v, want %q", tc.format, err, tc.want)
		}
	}
}

func TestNginxZeroAllocs(t *testing.T) {
	p, err := NewNginx(simFormat, Identity{Kind: "cookie", Name: "sid"}, "")
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(`198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 1234 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)" "_ga=GA1.2.3; sid=0123abcd; lang=ja" HIT www.example.jp NRT51 1498092060.123`)
	var rec Record
	allocs := testing.AllocsPerRun(100, func() {
		rec = Record{}
		if err := p.Parse(line, &rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
	}
}

// TestRealApacheLog reads a real server's log (not written for this project):
// every line is accounted for and at most the one truncated line is rejected.
func TestRealApacheLog(t *testing.T) {
	const path = "../../../shared/realdata/apache_combined_10k.log"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data not present at %s: %v", path, err)
	}
	p, err := NewNginx("", Identity{Kind: "remote_user"}, "")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := Read(context.Background(), []Input{{Path: path, Name: "apache", Parser: p}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := stats[0]
	if s.Lines != 10000 || s.Parsed+s.Rejected != s.Lines {
		t.Fatalf("lines %d parsed %d rejected %d: want 10000 lines, all accounted for", s.Lines, s.Parsed, s.Rejected)
	}
	if s.Rejected > 1 {
		t.Errorf("rejected %d lines, want at most the one truncated line; rejects: %+v", s.Rejected, s.Rejects)
	}
	if s.Truncated || s.Compressed {
		t.Errorf("truncated=%v compressed=%v, want plain and complete", s.Truncated, s.Compressed)
	}
	// Apache combined has no cache field: every line's cache result is
	// ORIGIN ("-"/absent), never guessed as a hit.
	if len(s.UnknownCache) != 0 {
		t.Errorf("unknown cache wordings %v", s.UnknownCache)
	}
}

func b(s string) []byte { return []byte(s) }

func diffRecord(got, want Record) string {
	var d []string
	eq := func(name string, g, w []byte) {
		if string(g) != string(w) {
			d = append(d, name+": got "+q(g)+" want "+q(w))
		}
	}
	if got.Time != want.Time {
		d = append(d, "Time: got "+time.Unix(0, got.Time).UTC().Format(time.RFC3339Nano)+" want "+time.Unix(0, want.Time).UTC().Format(time.RFC3339Nano))
	}
	if got.Coarse != want.Coarse {
		d = append(d, "Coarse differs")
	}
	if got.Status != want.Status {
		d = append(d, "Status differs")
	}
	if got.Cache != want.Cache {
		d = append(d, "Cache: got "+got.Cache.String()+" want "+want.Cache.String())
	}
	eq("Pop", got.Pop, want.Pop)
	eq("ClientIP", got.ClientIP, want.ClientIP)
	eq("Method", got.Method, want.Method)
	eq("Host", got.Host, want.Host)
	eq("Path", got.Path, want.Path)
	eq("Query", got.Query, want.Query)
	eq("CacheRaw", got.CacheRaw, want.CacheRaw)
	eq("Identity", got.Identity, want.Identity)
	return strings.Join(d, "; ")
}

func q(b []byte) string { return `"` + string(b) + `"` }
