package logs

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// Lines written for these tests from mod_log_config's directive list and
// mod_cache's logging section (see apache.go), not copied from any log.
const apacheCDN = `LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" \"%{Cookie}i\" %{X-Cache}o %v" cdn`

func TestApacheParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	tests := []struct {
		name   string
		format string
		id     Identity
		fields map[string]string
		line   string
		want   Record
		reject string // exact reason; empty = must parse
	}{
		{name: "combined nickname, remote user", format: "combined", id: Identity{Kind: "remote_user"},
			line: `192.0.2.44 - carol [05/Mar/2024:17:02:09 +0100] "GET /account/orders?page=2 HTTP/1.1" 200 7311 "https://shop.example/" "Mozilla/5.0 (X11; Linux x86_64)"`,
			want: Record{Time: ns("2024-03-05T16:02:09Z"), Coarse: true, ClientIP: b("192.0.2.44"), Method: b("GET"), Path: b("/account/orders"), Query: b("page=2"), Status: 200, Cache: CacheOrigin, Identity: b("carol")}},
		{name: "common: no agent, no identity", format: "common",
			line: `198.51.100.23 - - [05/Mar/2024:17:02:10 +0000] "POST /login HTTP/1.1" 302 -`,
			want: Record{Time: ns("2024-03-05T17:02:10Z"), Coarse: true, ClientIP: b("198.51.100.23"), Method: b("POST"), Path: b("/login"), Status: 302, Cache: CacheOrigin}},
		{name: "pasted directive: cookie header and X-Cache HIT", format: apacheCDN, id: cookie,
			line: `203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET /mypage/bank HTTP/1.1" 200 2048 "-" "Mozilla/5.0 \"q\"" "lang=ja; sid=f00dcafe" HIT www.shop.example`,
			want: Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, ClientIP: b("203.0.113.80"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/bank"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("f00dcafe")}},
		{name: "X-Cache MISS is a fill, REVALIDATE cached", format: apacheCDN, id: cookie,
			line: `203.0.113.81 - - [22/Jun/2017:09:41:08 +0900] "GET /mypage/profile HTTP/1.1" 200 99 "-" "-" "sid=0a0b" MISS www.shop.example`,
			want: Record{Time: ns("2017-06-22T00:41:08Z"), Coarse: true, ClientIP: b("203.0.113.81"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/profile"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS"), Identity: b("0a0b")}},
		{name: "no X-Cache header: mod_cache not involved", format: apacheCDN, id: cookie,
			line: `203.0.113.82 - - [22/Jun/2017:09:41:09 +0900] "GET /api/cart HTTP/1.1" 200 10 "-" "-" "-" - www.shop.example`,
			want: Record{Time: ns("2017-06-22T00:41:09Z"), Coarse: true, ClientIP: b("203.0.113.82"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/api/cart"), Status: 200, Cache: CacheOrigin, CacheRaw: b("-")}},
		{name: "cache-status env with its reason, %a before %h, cookie directive, msec time, %U%q, Host header",
			format: `%{msec}t %h %a %{c}a "%m %U%q %H" %>s %{Host}i %{sid}C "%{cache-status}e"`, id: cookie,
			line: `1498092067123 10.0.0.5 2001:db8::7 10.0.0.1 "GET /mypage/bank?tab=1 HTTP/2.0" 200 shop.example s3ss10n "cache miss: attempting entity save"`,
			want: Record{Time: ns("2017-06-22T00:41:07.123Z"), ClientIP: b("2001:db8::7"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/bank"), Query: b("tab=1"), Status: 200, Cache: CacheFill, CacheRaw: b("cache miss: attempting entity save"), Identity: b("s3ss10n")}},
		{name: "cache-status conditional hit", format: `%{usec}t %a "%r" %s "%{cache-status}e"`,
			line: `1498092067123456 192.0.2.9 "GET /p HTTP/1.1" 304 "conditional cache hit: entity refreshed"`,
			want: Record{Time: ns("2017-06-22T00:41:07.123456Z"), ClientIP: b("192.0.2.9"), Method: b("GET"), Path: b("/p"), Status: 304, Cache: CacheCached, CacheRaw: b("conditional cache hit: entity refreshed")}},
		{name: "documented strftime with msec_frac and a separate zone",
			format: `%a [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %{X-Cache}o`,
			line:   `192.0.2.10 [22/Jun/2017 09:41:07.250 +0900] "GET /a HTTP/1.1" 200 HIT`,
			want:   Record{Time: ns("2017-06-22T00:41:07.25Z"), ClientIP: b("192.0.2.10"), Method: b("GET"), Path: b("/a"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT")}},
		{name: "CLF strftime with spaces before a space literal",
			format: `%{%d/%b/%Y:%H:%M:%S %z}t %a "%r" %>s`,
			line:   `22/Jun/2017:09:41:07 +0900 192.0.2.11 "GET /b HTTP/1.1" 404`,
			want:   Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, ClientIP: b("192.0.2.11"), Method: b("GET"), Path: b("/b"), Status: 404, Cache: CacheOrigin}},
		{name: "ISO strftime without zone, zone from fields", format: `%{%F %T}t|%a|%r|%>s|%{X-Cache-Status}o`, fields: map[string]string{"zone": "+09:00"},
			line: `2017-06-22 09:41:07|192.0.2.12|GET /c HTTP/1.1|200|EXPIRED`,
			want: Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, ClientIP: b("192.0.2.12"), Method: b("GET"), Path: b("/c"), Status: 200, Cache: CacheUnknown, CacheRaw: b("EXPIRED")}},
		{name: "sec time and its fraction", format: `%{sec}t.%{usec_frac}t %a "%r" %>s`,
			line: `1498092067.000500 192.0.2.13 "GET / HTTP/1.1" 200`,
			want: Record{Time: ns("2017-06-22T00:41:07.0005Z"), ClientIP: b("192.0.2.13"), Method: b("GET"), Path: b("/"), Status: 200, Cache: CacheOrigin}},
		{name: "field identity from a request header, named cache and pop directives",
			format: `%a %t "%r" %>s "%{X-User-Id}i" %{X-Edge-Result}o %{X-Pop}o`, id: Identity{Kind: "field", Name: "X-User-Id"},
			fields: map[string]string{"cache": "%{X-Edge-Result}o", "pop": "X-Pop"},
			line:   `192.0.2.14 [22/Jun/2017:09:41:07 +0900] "GET /mypage HTTP/1.1" 200 "u-1001" HIT NRT`,
			want:   Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, Pop: b("NRT"), ClientIP: b("192.0.2.14"), Method: b("GET"), Path: b("/mypage"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("u-1001")}},
		{name: "full URL in the request is split into host and path", format: "combined",
			line: `192.0.2.15 - - [22/Jun/2017:09:41:07 +0900] "GET http://shop.example:8080/mypage/bank?x=1 HTTP/1.1" 200 1 "-" "-"`,
			want: Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, ClientIP: b("192.0.2.15"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/bank"), Query: b("x=1"), Status: 200, Cache: CacheOrigin}},
		{name: "unknown cache value is kept, not guessed", format: apacheCDN, id: cookie,
			line: `203.0.113.83 - - [22/Jun/2017:09:41:10 +0900] "GET /x HTTP/1.1" 200 1 "-" "-" "-" TCP_HIT www.shop.example`,
			want: Record{Time: ns("2017-06-22T00:41:10Z"), Coarse: true, ClientIP: b("203.0.113.83"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/x"), Status: 200, Cache: CacheUnknown, CacheRaw: b("TCP_HIT")}},
		// Lines that look valid but are not.
		{name: "host name in %h (HostnameLookups on)", format: "combined",
			line:   `crawler.example.net - - [22/Jun/2017:09:41:07 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
			reject: `%h "crawler.example.net" is not an IP address`},
		{name: "wrong field count: common line read as combined", format: "combined",
			line:   `192.0.2.16 - - [22/Jun/2017:09:41:07 +0900] "GET / HTTP/1.1" 200 1`,
			reject: `%b: expected " \"" after it, not found (truncated line?)`},
		{name: "path not starting with /", format: "combined",
			line:   `192.0.2.17 - - [22/Jun/2017:09:41:07 +0900] "GET mypage/bank HTTP/1.1" 200 1 "-" "-"`,
			reject: `request target "mypage/bank" is neither a path beginning with / nor a full URL`},
		{name: "strftime value that is not a date", format: `%{%d/%b/%Y:%H:%M:%S %z}t %a "%r" %>s`,
			line:   `22/Jux/2017:09:41:07 +0900 192.0.2.11 "GET /b HTTP/1.1" 404`,
			reject: `%{%d/%b/%Y:%H:%M:%S %z}t: time "22/Jux/2017:09:41:07 +0900" is not valid`},
		{name: "bad msec_frac", format: `%{sec}t.%{msec_frac}t %a "%r" %>s`,
			line:   `1498092067.12x 192.0.2.13 "GET / HTTP/1.1" 200`,
			reject: `fraction of a second "12x" is not valid`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewApache(tc.format, tc.id, tc.fields)
			if err != nil {
				t.Fatalf("NewApache: %v", err)
			}
			expectParseExact(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestApacheCompile(t *testing.T) {
	tests := []struct {
		format string
		id     Identity
		fields map[string]string
		want   string // substring of the error
	}{
		{`%h "%r" %>s`, Identity{}, nil, "LogFormat has no time"},
		{`%h %t "%r"`, Identity{}, nil, "LogFormat has no status"},
		{`%h %t %>s`, Identity{}, nil, "LogFormat has no request path"},
		{`%{%d/%b/%Y:%H:%M:%S}t %h "%r" %>s`, Identity{}, nil, "has no zone (%z)"},
		{`%{%j}t %h "%r" %>s`, Identity{}, nil, "strftime conversion %j is not supported"},
		{`%h %t "%r" %>s %Z`, Identity{}, nil, "%Z is not an Apache LogFormat directive"},
		{`%h %t "%r" %>s`, Identity{Kind: "remote_user"}, nil, "identity remote_user: the LogFormat has no %u"},
		{`%h %t "%r" %>s`, Identity{Kind: "cookie", Name: "sid"}, nil, "neither %{sid}C nor %{Cookie}i"},
		{`%h %t "%r" %>s`, Identity{Kind: "field", Name: "X-User"}, nil, "has no directive X-User"},
		{`%h %t "%r" %>s%b`, Identity{}, nil, "%>s and %b are not separated"},
		{`%h %t "%r" %>s`, Identity{}, map[string]string{"cache": "%{X-Cache}o"}, "fields.cache: the LogFormat has no directive %{X-Cache}o"},
		{`%h %t "%r" %>s`, Identity{}, map[string]string{"zone": "JST"}, `fields.zone: "JST" is not an offset`},
		{`%h %t "%r" %>s`, Identity{}, map[string]string{"host": "x"}, `unknown field "host"`},
		{`LogFormat combined`, Identity{}, nil, "expected a quoted format"},
		{`%h %t "%r" %>s %{X-Cache`, Identity{}, nil, "unclosed %{"},
	}
	for _, tc := range tests {
		_, err := NewApache(tc.format, tc.id, tc.fields)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewApache(%q) error = %v, want %q", tc.format, err, tc.want)
		}
	}
}

// TestApacheCapabilities: a LogFormat without a cache directive is a case
// file problem that says what to add, unless accept_missing says so.
func TestApacheCapabilities(t *testing.T) {
	for _, tc := range []struct {
		format string
		cache  bool
	}{
		{"combined", false},
		{apacheCDN, true},
		{`%a %t "%r" %>s "%{cache-status}e"`, true},
	} {
		p, err := NewParser(incident.LogSource{Format: "apache", LogFormat: tc.format, Identity: "cookie:sid", Fields: nil})
		if tc.format == "combined" || strings.HasPrefix(tc.format, "%a") {
			p, err = NewParser(incident.LogSource{Format: "apache", LogFormat: tc.format})
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.format, err)
		}
		if got := CapabilitiesOf(p).Cache; got != tc.cache {
			t.Errorf("%s: Cache = %v, want %v", tc.format, got, tc.cache)
		}
	}
	c := &incident.Case{Logs: []incident.LogSource{{Format: "apache", LogFormat: "combined"}}}
	probs := CaseProblems(c)
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "%{X-Cache}o") {
		t.Errorf("problems = %+v, want one naming %%{X-Cache}o", probs)
	}
	c.Logs[0].AcceptMissing = []string{"cache"}
	if probs := CaseProblems(c); len(probs) != 0 {
		t.Errorf("accept_missing: problems = %+v, want none", probs)
	}
	// cache_values extend the vocabulary.
	p, err := NewParser(incident.LogSource{Format: "apache", LogFormat: apacheCDN, Identity: "cookie:sid", CacheValues: map[string]string{"TCP_HIT": "CACHED"}})
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := p.Parse([]byte(`203.0.113.83 - - [22/Jun/2017:09:41:10 +0900] "GET /x HTTP/1.1" 200 1 "-" "-" "-" TCP_HIT h`), &rec); err != nil || rec.Cache != CacheCached {
		t.Errorf("cache_values: err %v cache %v, want CACHED", err, rec.Cache)
	}
}

// TestApacheRealLog: the real 10,000-line Apache log (not written for this
// project), read as format apache with the combined nickname: every line
// accounted for, at most its one truncated line rejected.
func TestApacheRealLog(t *testing.T) {
	const path = "../../../shared/realdata/apache_combined_10k.log"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data not present at %s: %v", path, err)
	}
	p, err := NewParser(incident.LogSource{Format: "apache", LogFormat: "combined", Identity: "remote_user"})
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
	if len(s.UnknownCache) != 0 {
		t.Errorf("unknown cache wordings %v", s.UnknownCache)
	}
}

var benchApacheLine = []byte(`203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET /items/123456?ref=top HTTP/1.1" 200 5123 "https://www.example-market.jp/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36" "_ga=GA1.2.1234567.1498000000; sid=0123456789abcdef0123456789abcdef; lang=ja" HIT www.example-market.jp`)

func TestApacheZeroAllocs(t *testing.T) {
	for _, f := range []struct{ format, line string }{
		{apacheCDN, string(benchApacheLine)},
		{`%a [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %{X-Cache}o %{sid}C`, `192.0.2.10 [22/Jun/2017 09:41:07.250 +0900] "GET /a HTTP/1.1" 200 HIT abc`},
	} {
		p, err := NewApache(f.format, Identity{Kind: "cookie", Name: "sid"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		line := []byte(f.line)
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			rec = Record{}
			if err := p.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Parse allocates %.1f times per line, want 0", f.format, allocs)
		}
	}
}

func BenchmarkApacheParse(b *testing.B) {
	p, err := NewApache(apacheCDN, Identity{Kind: "cookie", Name: "sid"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchApacheLine)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		rec = Record{}
		if err := p.Parse(benchApacheLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzApache(f *testing.F) {
	for _, s := range []string{
		string(benchApacheLine),
		`192.0.2.10 [22/Jun/2017 09:41:07.250 +0900] "GET /a HTTP/1.1" 200 HIT abc`,
		`1498092067123 10.0.0.5 2001:db8::7 10.0.0.1 "GET /mypage/bank?tab=1 HTTP/2.0" 200 shop.example s3ss10n "cache miss: attempting entity save"`,
		`crawler.example.net - - [22/Jun/2017:09:41:07 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`,
		`22/Jun/2017:09:41:07 +0900 192.0.2.11 "GET /b HTTP/1.1" 404`,
		``, `"`, `[`,
	} {
		f.Add(s)
	}
	var parsers []Parser
	for _, lf := range []string{"combined", apacheCDN,
		`%a [%{%d/%b/%Y %T}t.%{msec_frac}t %{%z}t] "%r" %>s %{X-Cache}o %{sid}C`,
		`%{msec}t %h %a %{c}a "%m %U%q %H" %>s %{Host}i %{sid}C "%{cache-status}e"`,
		`%{%d/%b/%Y:%H:%M:%S %z}t %a "%r" %>s`,
	} {
		p, err := NewApache(lf, Identity{Kind: "cookie", Name: "sid"}, nil)
		if err != nil {
			p, err = NewApache(lf, Identity{}, nil)
		}
		if err != nil {
			f.Fatal(err)
		}
		parsers = append(parsers, p)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range parsers {
			var rec Record
			err := p.Parse([]byte(line), &rec)
			checkParseResult(t, []byte(line), &rec, err)
		}
	})
}
