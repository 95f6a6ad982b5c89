package logs

import (
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// Lines written for these tests from the varnishncsa(1) manual (see
// varnish.go).
const varnishCDN = `varnishncsa -F '%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-agent}i" "%{Cookie}i" %{Varnish:handling}x %{Varnish:time_firstbyte}x'`

func TestVarnishParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	tests := []struct {
		name   string
		format string
		id     Identity
		fields map[string]string
		line   string
		want   Record
		reject string
	}{
		{name: "default format: full URL in %r", format: "",
			line: `192.0.2.30 - - [22/Jun/2017:09:41:07 +0900] "GET http://www.shop.example/mypage/profile?x=1 HTTP/1.1" 200 3120 "-" "Mozilla/5.0 (Macintosh)"`,
			want: Record{Time: ns("2017-06-22T00:41:07Z"), Coarse: true, ClientIP: b("192.0.2.30"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/profile"), Query: b("x=1"), Status: 200, Cache: CacheUnknown}},
		{name: "handling hit with the session cookie", format: varnishCDN, id: cookie,
			line: `192.0.2.31 - - [22/Jun/2017:09:41:08 +0900] "GET http://www.shop.example/mypage/bank HTTP/1.1" 200 812 "-" "UA" "sid=77aa; lang=ja" hit 0.000112`,
			want: Record{Time: ns("2017-06-22T00:41:08Z"), Coarse: true, ClientIP: b("192.0.2.31"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/bank"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("77aa")}},
		{name: "miss is a fill", format: varnishCDN, id: cookie,
			line: `192.0.2.32 - - [22/Jun/2017:09:41:09 +0900] "GET http://www.shop.example/mypage/bank HTTP/1.1" 200 812 "-" "UA" "sid=88bb" miss 0.081000`,
			want: Record{Time: ns("2017-06-22T00:41:09Z"), Coarse: true, ClientIP: b("192.0.2.32"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/bank"), Status: 200, Cache: CacheFill, CacheRaw: b("miss"), Identity: b("88bb")}},
		{name: "pass, pipe and synth never stored", format: varnishCDN, id: cookie,
			line: `192.0.2.33 - - [22/Jun/2017:09:41:09 +0900] "POST http://www.shop.example/cart HTTP/1.1" 303 0 "-" "UA" "-" pass 0.020000`,
			want: Record{Time: ns("2017-06-22T00:41:09Z"), Coarse: true, ClientIP: b("192.0.2.33"), Method: b("POST"), Host: b("www.shop.example"), Path: b("/cart"), Status: 303, Cache: CacheOrigin, CacheRaw: b("pass")}},
		{name: "synth", format: varnishCDN, id: cookie,
			line: `192.0.2.34 - - [22/Jun/2017:09:41:09 +0900] "GET http://www.shop.example/old HTTP/1.1" 301 0 "-" "UA" "-" synth 0.000050`,
			want: Record{Time: ns("2017-06-22T00:41:09Z"), Coarse: true, ClientIP: b("192.0.2.34"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/old"), Status: 301, Cache: CacheOrigin, CacheRaw: b("synth")}},
		{name: "hitmiss, VCL_Log identity, msec time, Host header, %U%q",
			format: `%{msec}t %h "%m %U%q" %s %{Host}i %{Varnish:hitmiss}x %{VCL_Log:uid}x`, id: Identity{Kind: "field", Name: "VCL_Log:uid"},
			line: `1498092069500 2001:db8::9 "GET /mypage/bank?tab=2" 200 www.shop.example hit u-42`,
			want: Record{Time: ns("2017-06-22T00:41:09.5Z"), ClientIP: b("2001:db8::9"), Method: b("GET"), Host: b("www.shop.example"), Path: b("/mypage/bank"), Query: b("tab=2"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("u-42")}},
		{name: "default_format expanded, unknown handling kept", format: `%{Varnish:default_format}x %{Varnish:handling}x`,
			line: `192.0.2.35 - - [22/Jun/2017:09:41:10 +0900] "GET http://h.example/a HTTP/1.1" 200 1 "-" "-" -`,
			want: Record{Time: ns("2017-06-22T00:41:10Z"), Coarse: true, ClientIP: b("192.0.2.35"), Method: b("GET"), Host: b("h.example"), Path: b("/a"), Status: 200, Cache: CacheUnknown, CacheRaw: b("-")}},
		{name: "host name in %h", format: "",
			line:   `proxy.internal - - [22/Jun/2017:09:41:07 +0900] "GET http://h.example/ HTTP/1.1" 200 1 "-" "-"`,
			reject: `%h "proxy.internal" is not an IP address`},
		{name: "wrong field count", format: varnishCDN, id: cookie,
			line:   `192.0.2.36 - - [22/Jun/2017:09:41:07 +0900] "GET http://h.example/ HTTP/1.1" 200 1 "-" "-" hit 0.1`,
			reject: `%{User-agent}i: quoted value not closed (truncated line?)`},
		{name: "path not starting with /", format: "",
			line:   `192.0.2.37 - - [22/Jun/2017:09:41:07 +0900] "GET mypage HTTP/1.1" 200 1 "-" "-"`,
			reject: `request target "mypage" is neither a path beginning with / nor a full URL`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewVarnish(tc.format, tc.id, tc.fields)
			if err != nil {
				t.Fatalf("NewVarnish: %v", err)
			}
			expectParseExact(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestVarnishCompile(t *testing.T) {
	for _, tc := range []struct {
		format string
		id     Identity
		want   string
	}{
		{`%h "%r" %s`, Identity{}, "varnishncsa format has no time"},
		{`%h %t "%r" %s %a`, Identity{}, "%a is not a varnishncsa format directive"},
		{"", Identity{Kind: "field", Name: "VCL_Log:uid"}, "has no directive VCL_Log:uid"},
	} {
		if _, err := NewVarnish(tc.format, tc.id, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewVarnish(%q) error = %v, want %q", tc.format, err, tc.want)
		}
	}
	// The default format has no cache result: a case file problem naming
	// what to add.
	probs := CaseProblems(&incident.Case{Logs: []incident.LogSource{{Format: "varnish"}}})
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "%{Varnish:handling}x") {
		t.Errorf("problems = %+v, want one naming %%{Varnish:handling}x", probs)
	}
	p, err := NewParser(incident.LogSource{Format: "varnish", LogFormat: varnishCDN, Identity: "cookie:sid"})
	if err != nil || !CapabilitiesOf(p).Cache {
		t.Errorf("handling logged: err %v, capabilities %+v, want Cache", err, CapabilitiesOf(p))
	}
}

var benchVarnishLine = []byte(`203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET http://www.example-market.jp/items/123456?ref=top HTTP/1.1" 200 5123 "https://www.example-market.jp/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36" "_ga=GA1.2.1234567.1498000000; sid=0123456789abcdef0123456789abcdef; lang=ja" hit 0.000112`)

func TestVarnishZeroAllocs(t *testing.T) {
	p, err := NewVarnish(varnishCDN, Identity{Kind: "cookie", Name: "sid"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if allocs := testing.AllocsPerRun(100, func() {
		rec = Record{}
		if err := p.Parse(benchVarnishLine, &rec); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
	}
}

func BenchmarkVarnishParse(b *testing.B) {
	p, err := NewVarnish(varnishCDN, Identity{Kind: "cookie", Name: "sid"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchVarnishLine)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		rec = Record{}
		if err := p.Parse(benchVarnishLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzVarnish(f *testing.F) {
	f.Add(string(benchVarnishLine))
	f.Add(`1498092069500 2001:db8::9 "GET /mypage/bank?tab=2" 200 www.shop.example hit u-42`)
	f.Add(`proxy.internal - - [22/Jun/2017:09:41:07 +0900] "GET http://h.example/ HTTP/1.1" 200 1 "-" "-"`)
	p1, err := NewVarnish(varnishCDN, Identity{Kind: "cookie", Name: "sid"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	p2, err := NewVarnish(`%{msec}t %h "%m %U%q" %s %{Host}i %{Varnish:hitmiss}x %{VCL_Log:uid}x`, Identity{Kind: "field", Name: "VCL_Log:uid"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range []Parser{p1, p2} {
			var rec Record
			err := p.Parse([]byte(line), &rec)
			checkParseResult(t, []byte(line), &rec, err)
		}
	})
}
