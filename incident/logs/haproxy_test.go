package logs

import (
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// Lines written for these tests in the layout of the HAProxy manual's
// httplog example (section 8.2.3) and its custom log-format variables.
func TestHAProxyParse(t *testing.T) {
	jst := map[string]string{"zone": "+09:00"}
	caps := map[string]string{"zone": "+09:00", "request_captures": "Host,Cookie", "response_captures": "X-Cache"}
	tests := []struct {
		name   string
		format string
		id     Identity
		fields map[string]string
		line   string
		want   Record
		reject string
	}{
		{name: "httplog with a syslog header, no captures", fields: jst,
			line: `Jun 22 09:41:07 lb1 haproxy[14389]: 192.0.2.50:33317 [22/Jun/2017:09:41:07.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET /index.html HTTP/1.1"`,
			want: Record{Time: ns("2017-06-22T00:41:07.655Z"), ClientIP: b("192.0.2.50"), Method: b("GET"), Path: b("/index.html"), Status: 200, Cache: CacheUnknown}},
		{name: "httplog without syslog header, captured host, cookie and X-Cache", fields: caps, id: Identity{Kind: "cookie", Name: "sid"},
			line: `192.0.2.51:40001 [22/Jun/2017:09:41:08.001] https-in~ shop/web2 0/0/1/20/21 200 812 - - ---- 3/3/0/0/0 0/0 {www.shop.example|lang=ja; sid=9f9f} {HIT} "GET /mypage/bank?tab=1 HTTP/1.1"`,
			want: Record{Time: ns("2017-06-22T00:41:08.001Z"), ClientIP: b("192.0.2.51"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/bank"), Query: b("tab=1"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("9f9f")}},
		{name: "empty captures: anonymous, no X-Cache", fields: caps, id: Identity{Kind: "cookie", Name: "sid"},
			line: `haproxy[1]: 192.0.2.52:40002 [22/Jun/2017:09:41:08.002] https-in~ shop/web2 0/0/1/20/21 200 812 - - ---- 3/3/0/0/0 0/0 {www.shop.example|} {} "GET / HTTP/1.1"`,
			want: Record{Time: ns("2017-06-22T00:41:08.002Z"), ClientIP: b("192.0.2.52"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/"), Status: 200, Cache: CacheUnknown, CacheRaw: b("")}},
		{name: "IPv6 client with port", fields: jst,
			line: `2001:db8::5:51000 [22/Jun/2017:09:41:09.100] http-in app/a 0/0/0/1/1 304 0 - - ---- 1/1/0/0/0 0/0 "GET /a HTTP/1.1"`,
			want: Record{Time: ns("2017-06-22T00:41:09.1Z"), ClientIP: b("2001:db8::5"), Method: b("GET"), Path: b("/a"), Status: 304, Cache: CacheUnknown}},
		{name: "custom log-format: timestamp and ms, res.cache_hit, req.cook identity, HP HQ",
			format: `log-format "%ci:%cp %Ts.%ms %HM %HP%HQ %ST %[res.cache_hit] %[req.cook(sid)] %H"`, id: Identity{Kind: "cookie", Name: "sid"},
			line: `192.0.2.53:1234 1498092069.250 GET /mypage/profile?x=2 200 1 ab12 lb-nrt-1`,
			want: Record{Time: ns("2017-06-22T00:41:09.25Z"), Pop: b("lb-nrt-1"), ClientIP: b("192.0.2.53"), Method: b("GET"), Path: b("/mypage/profile"), Query: b("x=2"), Status: 200, Cache: CacheCached, CacheRaw: b("1"), Identity: b("ab12")}},
		{name: "custom log-format: trl with offset, quoted request, not from cache, field identity",
			format: `%ci [%trl] %{+Q}r %ST %[res.cache_hit] %[var(txn.uid)]`, id: Identity{Kind: "field", Name: "var(txn.uid)"},
			line: `192.0.2.54 [22/Jun/2017:09:41:10 +0900] "GET /mypage/bank HTTP/1.1" 200 0 u-7`,
			want: Record{Time: ns("2017-06-22T00:41:10Z"), Coarse: true, ClientIP: b("192.0.2.54"), Method: b("GET"), Path: b("/mypage/bank"), Status: 200, Cache: CacheFill, CacheRaw: b("0"), Identity: b("u-7")}},
		{name: "absolute URI (HTTP/2) split into host and path", fields: jst,
			line: `192.0.2.55:5 [22/Jun/2017:09:41:11.000] h2-in app/a 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 "GET https://www.shop.example/mypage HTTP/2.0"`,
			want: Record{Time: ns("2017-06-22T00:41:11Z"), ClientIP: b("192.0.2.55"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage"), Status: 200, Cache: CacheUnknown}},
		{name: "unknown captured cache value kept", fields: caps,
			line: `192.0.2.56:5 [22/Jun/2017:09:41:12.000] in b/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 {h.example|} {TCP_MEM_HIT} "GET /x HTTP/1.1"`,
			want: Record{Time: ns("2017-06-22T00:41:12Z"), ClientIP: b("192.0.2.56"), Method: b("GET"), Host: b("h.example"), Path: b("/x"), Status: 200, Cache: CacheUnknown, CacheRaw: b("TCP_MEM_HIT")}},
		// Lines that look valid but are not.
		{name: "host name in the address", fields: jst,
			line:   `lb.internal:33317 [22/Jun/2017:09:41:07.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 "GET / HTTP/1.1"`,
			reject: `%ci "lb.internal" is not an IP address`},
		{name: "wrong capture count", fields: caps,
			line:   `192.0.2.57:5 [22/Jun/2017:09:41:12.000] in b/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 {h.example} {HIT} "GET /x HTTP/1.1"`,
			reject: `%hr: 1 captured headers, the case file names 2`},
		{name: "truncated line", fields: jst,
			line:   `192.0.2.58:5 [22/Jun/2017:09:41:12.000] in b/s 0/0/0/1/1 200 10 - - ---- 1/1/0/0/0 0/0 "GET /x HTT`,
			reject: `%{+Q}r: quoted value not closed (truncated line?)`},
		{name: "bad request", fields: jst,
			line:   `192.0.2.59:5 [22/Jun/2017:09:41:12.000] in in/<NOSRV> -1/-1/-1/-1/0 400 187 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>"`,
			reject: `request target "<BADREQ>" is neither a path beginning with / nor a full URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewHAProxy(tc.format, tc.id, tc.fields)
			if err != nil {
				t.Fatalf("NewHAProxy: %v", err)
			}
			expectParseExact(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestHAProxyCompile(t *testing.T) {
	for _, tc := range []struct {
		format string
		id     Identity
		fields map[string]string
		want   string
	}{
		{"", Identity{}, nil, "fields.zone: %tr and %t are the proxy's local time"},
		{`%ci %ST %r`, Identity{}, nil, "log-format has no time"},
		{`%ci %Ts %r`, Identity{}, nil, "no status"},
		{`%ci [%trl] %{+Q}r %ST`, Identity{Kind: "cookie", Name: "sid"}, nil, "identity cookie:sid: the log-format has no cookie"},
		{"", Identity{Kind: "remote_user"}, map[string]string{"zone": "Z"}, "HAProxy logs no remote user"},
		{`%ci %Ts %ST "%r" "%hr"`, Identity{}, nil, "fields.request_captures: the log-format logs %hr"},
		{`%ci %Ts %ST %r %[res.cache_hit`, Identity{}, nil, "unclosed %["},
		{"", Identity{}, map[string]string{"zone": "Z", "captures": "x"}, `unknown field "captures"`},
	} {
		if _, err := NewHAProxy(tc.format, tc.id, tc.fields); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewHAProxy(%q) error = %v, want %q", tc.format, err, tc.want)
		}
	}
	// httplog has no cache result: a case-file problem naming what to add.
	c := &incident.Case{Logs: []incident.LogSource{{Format: "haproxy", Fields: map[string]string{"zone": "+09:00"}}}}
	if probs := CaseProblems(c); len(probs) != 1 || !strings.Contains(probs[0].Msg, "%[res.cache_hit]") {
		t.Errorf("problems = %+v, want one naming %%[res.cache_hit]", probs)
	}
	c.Logs[0].Fields["response_captures"] = "X-Cache"
	if probs := CaseProblems(c); len(probs) != 0 {
		t.Errorf("X-Cache captured: problems = %+v, want none", probs)
	}
}

var benchHAProxyLine = []byte(`Jun 22 09:41:07 lb1 haproxy[14389]: 203.0.113.80:51234 [22/Jun/2017:09:41:07.655] https-in~ shop/web2 0/0/1/20/21 200 5123 - - ---- 3/3/0/0/0 0/0 {www.example-market.jp|_ga=GA1.2.1234567.1498000000; sid=0123456789abcdef0123456789abcdef; lang=ja} {HIT} "GET /items/123456?ref=top HTTP/1.1"`)

func newBenchHAProxy(tb testing.TB) Parser {
	p, err := NewHAProxy("", Identity{Kind: "cookie", Name: "sid"}, map[string]string{"zone": "+09:00", "request_captures": "Host,Cookie", "response_captures": "X-Cache"})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestHAProxyZeroAllocs(t *testing.T) {
	p := newBenchHAProxy(t)
	var rec Record
	if allocs := testing.AllocsPerRun(100, func() {
		rec = Record{}
		if err := p.Parse(benchHAProxyLine, &rec); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
	}
	if string(rec.Identity) != "0123456789abcdef0123456789abcdef" || rec.Cache != CacheCached {
		t.Errorf("identity %q cache %v", rec.Identity, rec.Cache)
	}
}

func BenchmarkHAProxyParse(b *testing.B) {
	p := newBenchHAProxy(b)
	b.SetBytes(int64(len(benchHAProxyLine)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		rec = Record{}
		if err := p.Parse(benchHAProxyLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzHAProxy(f *testing.F) {
	f.Add(string(benchHAProxyLine))
	f.Add(`2001:db8::5:51000 [22/Jun/2017:09:41:09.100] http-in app/a 0/0/0/1/1 304 0 - - ---- 1/1/0/0/0 0/0 "GET /a HTTP/1.1"`)
	f.Add(`192.0.2.53:1234 1498092069.250 GET /mypage/profile?x=2 200 1 ab12 lb-nrt-1`)
	f.Add(`x[1]: ]: {|} "`)
	p1 := newBenchHAProxy(f)
	p2, err := NewHAProxy(`%ci:%cp %Ts.%ms %HM %HP%HQ %ST %[res.cache_hit] %[req.cook(sid)] %H`, Identity{Kind: "cookie", Name: "sid"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	p3, err := NewHAProxy("", Identity{}, map[string]string{"zone": "-05:30"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range []Parser{p1, p2, p3} {
			var rec Record
			err := p.Parse([]byte(line), &rec)
			checkParseResult(t, []byte(line), &rec, err)
		}
	})
}
