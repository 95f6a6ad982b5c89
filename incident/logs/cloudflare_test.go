package logs

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// benchCloudflareLine is a Logpush http_requests line with the dashboard's
// default fields plus what breachctl reads (cache status, colo, cookies)
// and the user agent.
var benchCloudflareLine = []byte(`{"CacheCacheStatus":"hit","ClientIP":"198.51.100.7","ClientRequestHost":"www.example-market.jp","ClientRequestMethod":"GET","ClientRequestURI":"/items/123456?ref=top","ClientRequestUserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36","EdgeColoCode":"NRT","EdgeEndTimestamp":1498092060187000000,"EdgeResponseBytes":5380,"EdgeResponseStatus":200,"EdgeStartTimestamp":1498092060123456789,"RayID":"3723d2a4bb5a1c2e","Cookies":{"sid":"0123456789abcdef0123456789abcdef"}}`)

// benchCloudflareWideLine has many more fields, nested headers included.
var benchCloudflareWideLine = []byte(`{"CacheCacheStatus":"hit","CacheResponseBytes":5123,"CacheResponseStatus":200,"ClientASN":2516,"ClientCountry":"jp","ClientDeviceType":"desktop","ClientIP":"198.51.100.7","ClientRequestBytes":1024,"ClientRequestHost":"www.example-market.jp","ClientRequestMethod":"GET","ClientRequestProtocol":"HTTP/2","ClientRequestReferer":"https://www.example-market.jp/","ClientRequestURI":"/items/123456?ref=top","ClientRequestUserAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36","ClientSSLProtocol":"TLSv1.2","EdgeColoCode":"NRT","EdgeEndTimestamp":1498092060187000000,"EdgeResponseBytes":5380,"EdgeResponseContentType":"text/html","EdgeResponseStatus":200,"EdgeStartTimestamp":1498092060123456789,"OriginResponseStatus":0,"RayID":"3723d2a4bb5a1c2e","WAFAction":"unknown","Cookies":{"sid":"0123456789abcdef0123456789abcdef"},"RequestHeaders":{"accept-language":"ja,en;q=0.8"}}`)

func TestCloudflareParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	tests := []struct {
		name   string
		id     Identity
		line   string
		want   Record
		reject string // substring of the reason; empty = must parse
	}{
		{name: "typical line, nanosecond number", id: cookie, line: string(benchCloudflareLine),
			want: Record{Time: ns("2017-06-22T00:41:00.123456789Z"), Pop: b("NRT"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("0123456789abcdef0123456789abcdef")}},
		{name: "wide line", id: cookie, line: string(benchCloudflareWideLine),
			want: Record{Time: ns("2017-06-22T00:41:00.123456789Z"), Pop: b("NRT"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("0123456789abcdef0123456789abcdef")}},
		{name: "RFC 3339 string, IPv6, cookie header", id: cookie,
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientIP":"2001:db8::1","ClientRequestMethod":"GET","ClientRequestHost":"shop.example","ClientRequestURI":"/mypage/profile","EdgeResponseStatus":200,"CacheCacheStatus":"miss","EdgeColoCode":"KIX","RequestHeaders":{"cookie":"_ga=1; sid=abc; x=y"}}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("KIX"), ClientIP: b("2001:db8::1"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/profile"), Status: 200, Cache: CacheFill, CacheRaw: b("miss"), Identity: b("abc")}},
		{name: "RFC 3339 with fraction and offset", id: cookie,
			line: `{"EdgeStartTimestamp":"2017-06-22T09:41:00.5+09:00","ClientRequestURI":"/","EdgeResponseStatus":304,"CacheCacheStatus":"revalidated"}`,
			want: Record{Time: ns("2017-06-22T00:41:00.5Z"), Path: b("/"), Status: 304, Cache: CacheCached, CacheRaw: b("revalidated")}},
		{name: "Unix seconds", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/a?b=c","EdgeResponseStatus":200,"CacheCacheStatus":"dynamic"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/a"), Query: b("b=c"), Status: 200, Cache: CacheOrigin, CacheRaw: b("dynamic")}},
		{name: "Unix seconds with fraction", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060.25,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
			want: Record{Time: ns("2017-06-22T00:41:00.25Z"), Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "Unix milliseconds", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060123,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"expired"}`,
			want: Record{Time: ns("2017-06-22T00:41:00.123Z"), Path: b("/"), Status: 200, Cache: CacheFill, CacheRaw: b("expired")}},
		{name: "escapes in URI and agent, UTF-8 and percent-encoded query", id: cookie,
			line: `{"ClientRequestUserAgent":"Mozilla \"quoted\" \\ \u0041\ud83d\ude00","ClientRequestURI":"\/search?q=%E3%81%82&w=\u3042\u0026x=1","EdgeStartTimestamp":"2017-06-22T00:41:00Z","EdgeResponseStatus":200,"CacheCacheStatus":"hit","Cookies":{"sid":"s\u0031"}}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/search"), Query: b("q=%E3%81%82&w=あ&x=1"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("s1")}},
		{name: "nested values skipped, braces in strings", id: cookie,
			line: `{"ResponseHeaders":{"x":"}{][","y":[{"z":[1,2,{"w":"\"}"}]}]},"WAFRuleIDs":["a","b"],"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/{}","EdgeResponseStatus":200,"CacheCacheStatus":"hit","Extra":{"Cookies":{"sid":"not this"}},"Cookies":{"other":"1","sid":"this"}}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/{}"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("this")}},
		{name: "fallbacks: path and query, colo id, origin status", id: cookie,
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestPath":"/p","ClientRequestQuery":"?a=1","OriginResponseStatus":502,"CacheCacheStatus":"bypass","EdgeColoID":27}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("27"), Path: b("/p"), Query: b("a=1"), Status: 502, Cache: CacheOrigin, CacheRaw: b("bypass")}},
		{name: "null and dash identities are anonymous", id: Identity{Kind: "field", Name: "User"},
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","User":null}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "field identity, number", id: Identity{Kind: "field", Name: "UserID"},
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","UserID":4711}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("4711")}},
		{name: "field identity, dotted path", id: Identity{Kind: "field", Name: "RequestHeaders.x-user"},
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","RequestHeaders":{"x-user":"u-9"}}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("u-9")}},
		{name: "field identity is another record field", id: Identity{Kind: "field", Name: "ClientIP"},
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientIP":"192.0.2.\u0031","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("192.0.2.1"), Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("192.0.2.1")}},
		{name: "no cookie at all", id: cookie,
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","Cookies":{}}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "CRLF and spaces", id: cookie,
			line: "{ \"EdgeStartTimestamp\" : \"2017-06-22T00:41:00Z\", \"ClientRequestURI\" : \"/\", \"EdgeResponseStatus\" : \"200\", \"CacheCacheStatus\" : \"HIT\" }\r\n",
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT")}},
		{name: "unknown cache wording is kept", id: cookie,
			line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"unknown"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheUnknown, CacheRaw: b("unknown")}},

		// Logpull: the same fields; EdgeStartTimestamp as Unix nanoseconds
		// (default), Unix seconds (timestamps=unix) or RFC 3339.
		{name: "Logpull default: nanoseconds, CacheResponseStatus", id: cookie,
			line: `{"CacheCacheStatus":"miss","CacheResponseStatus":200,"ClientIP":"192.0.2.10","ClientRequestHost":"www.example.jp","ClientRequestMethod":"GET","ClientRequestURI":"/mypage/bank?x=1","EdgeEndTimestamp":1498092060200000000,"EdgeResponseBytes":3120,"EdgeResponseStatus":200,"EdgeStartTimestamp":1498092060000000001,"RayID":"3723d2a4bb5a1c2f"}`,
			want: Record{Time: ns("2017-06-22T00:41:00.000000001Z"), ClientIP: b("192.0.2.10"), Method: b("GET"), Host: b("www.example.jp"), Path: b("/mypage/bank"), Query: b("x=1"), Status: 200, Cache: CacheFill, CacheRaw: b("miss")}},
		{name: "Logpull timestamps=unix, no edge status: the cache's", id: cookie,
			line: `{"CacheCacheStatus":"hit","CacheResponseStatus":200,"OriginResponseStatus":0,"ClientRequestURI":"/","EdgeStartTimestamp":1498092060}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "Logpull timestamps=rfc3339", id: cookie,
			line: `{"CacheCacheStatus":"stale","ClientRequestURI":"/","EdgeResponseStatus":200,"EdgeStartTimestamp":"2017-06-22T00:41:00Z"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("stale")}},
		{name: "no identity", id: Identity{},
			line: string(benchCloudflareLine),
			want: Record{Time: ns("2017-06-22T00:41:00.123456789Z"), Pop: b("NRT"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "full URL in ClientRequestURI: split, host from the URL", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"https://shop.example.jp:443/mypage/profile?tab=2","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example.jp"), Path: b("/mypage/profile"), Query: b("tab=2"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "full URL in ClientRequestURI: ClientRequestHost kept", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestHost":"www.example.jp","ClientRequestURI":"https://shop.example.jp/p","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("www.example.jp"), Path: b("/p"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "ClientRequestPath with a double slash is a path", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestPath":"//cdn/a.js","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("//cdn/a.js"), Status: 200, Cache: CacheCached, CacheRaw: b("hit")}},
		{name: "ClientRequestPath with an empty query", id: cookie,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestPath":"/p","ClientRequestQuery":"","EdgeResponseStatus":200,"CacheCacheStatus":"ignored"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/p"), Status: 200, Cache: CacheCached, CacheRaw: b("ignored")}},

		{name: "host name in the address field", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientIP":"viewer.example.net","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: `ClientIP "viewer.example.net" is not an IP address`},
		{name: "path not starting with /", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"mypage/profile","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: `request target "mypage/profile" is neither a path beginning with / nor a full URL`},
		{name: "ClientRequestPath not starting with /", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestPath":"p","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: `request target "p" is neither a path beginning with / nor a full URL`},
		{name: "CacheResponseStatus not a number", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","CacheResponseStatus":"x","CacheCacheStatus":"hit"}`, reject: `CacheResponseStatus "x" is not a status number`},
		{name: "not JSON", id: cookie, line: `198.51.100.7 - - [22/Jun/2017:09:41:00 +0900] "GET / HTTP/1.1" 200 1`, reject: "not a JSON object"},
		{name: "truncated mid-string", id: cookie, line: string(benchCloudflareLine[:300]), reject: "unterminated string"},
		{name: "truncated between members", id: cookie, line: `{"EdgeStartTimestamp":"2017-06-22T00:41:00Z",`, reject: "line ends inside"},
		{name: "no timestamp", id: cookie, line: `{"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "EdgeStartTimestamp missing"},
		{name: "null timestamp", id: cookie, line: `{"EdgeStartTimestamp":null,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "EdgeStartTimestamp missing"},
		{name: "timestamp of the wrong type", id: cookie, line: `{"EdgeStartTimestamp":true,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "EdgeStartTimestamp is true/false, want a string or a number"},
		{name: "bad timestamp string", id: cookie, line: `{"EdgeStartTimestamp":"yesterday","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: `EdgeStartTimestamp "yesterday" is not`},
		{name: "timestamp of 20 digits", id: cookie, line: `{"EdgeStartTimestamp":14980920601234567890,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "EdgeStartTimestamp 14980920601234567890 is not a Unix time"},
		{name: "no status", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","CacheCacheStatus":"hit"}`, reject: "EdgeResponseStatus missing"},
		{name: "status not a number", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":"abc","CacheCacheStatus":"hit"}`, reject: `EdgeResponseStatus "abc" is not a status number`},
		{name: "status fraction", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200.5,"CacheCacheStatus":"hit"}`, reject: `EdgeResponseStatus "200.5" is not`},
		{name: "no cache status", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200}`, reject: "CacheCacheStatus missing"},
		{name: "no URI", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "ClientRequestURI missing"},
		{name: "URI of the wrong type", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":["/"],"EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "ClientRequestURI is an array, want a string"},
		{name: "client IP of the wrong type", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientIP":17,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, reject: "ClientIP is a number, want a string"},
		{name: "cookie object value of the wrong type", id: cookie, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","Cookies":{"sid":{}}}`, reject: "Cookies.sid is an object"},
		{name: "identity field of the wrong type", id: Identity{Kind: "field", Name: "User"}, line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit","User":[1]}`, reject: "User is an array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewCloudflare(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.reject) {
					t.Fatalf("Parse error = %v, want a ParseError containing %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := diffRecord(rec, tc.want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestCloudflareCacheStatus maps every CacheCacheStatus value the Logpush
// field list documents.
func TestCloudflareCacheStatus(t *testing.T) {
	want := map[string]Cache{
		"miss": CacheFill, "expired": CacheFill,
		"hit": CacheCached, "stale": CacheCached, "updating": CacheCached, "revalidated": CacheCached, "ignored": CacheCached, "stream_hit": CacheCached,
		"bypass": CacheOrigin, "dynamic": CacheOrigin,
		// A Worker's main request (its subrequest carries the cache
		// status), a WAF block, a redirect rule: not known to be ORIGIN.
		"unknown": CacheUnknown, "none": CacheUnknown, "deferred": CacheUnknown,
		"HIT": CacheCached, "": CacheUnknown, "refreshhit": CacheUnknown,
	}
	p, err := NewCloudflare(Identity{})
	if err != nil {
		t.Fatal(err)
	}
	for v, c := range want {
		var rec Record
		line := `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"` + v + `"}`
		if err := p.Parse([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if rec.Cache != c || string(rec.CacheRaw) != v {
			t.Errorf("CacheCacheStatus %q: %v %q, want %v %q", v, rec.Cache, rec.CacheRaw, c, v)
		}
	}
	// cache_values override and extend.
	np, err := NewParser(incident.LogSource{Format: "cloudflare", CacheValues: map[string]string{"unknown": "ORIGIN", "deferred": "CACHED"}})
	if err != nil {
		t.Fatal(err)
	}
	for v, c := range map[string]Cache{"unknown": CacheOrigin, "deferred": CacheCached, "none": CacheUnknown, "hit": CacheCached} {
		var rec Record
		if err := np.Parse([]byte(`{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"`+v+`"}`), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Cache != c {
			t.Errorf("with cache_values, %q: %v, want %v", v, rec.Cache, c)
		}
	}
}

func TestCloudflareRejectReasonIsShort(t *testing.T) {
	p, _ := NewCloudflare(Identity{Kind: "cookie", Name: "sid"})
	secret := strings.Repeat("s3cr3t-", 30)
	var rec Record
	err := p.Parse([]byte(`{"EdgeStartTimestamp":"`+secret+`","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`), &rec)
	if err == nil || strings.Count(err.Error(), "s3cr3t") > 6 {
		t.Errorf("reason %q: want the value cut to 40 bytes", err)
	}
}

func TestNewCloudflareErrors(t *testing.T) {
	for _, id := range []Identity{{Kind: "remote_user"}, {Kind: "header", Name: "x"}, {Kind: "field", Name: "a..b"}} {
		if _, err := NewCloudflare(id); err == nil {
			t.Errorf("NewCloudflare(%+v) succeeded, want an error", id)
		}
	}
}

func TestCloudflareZeroAllocs(t *testing.T) {
	for _, id := range []Identity{{Kind: "cookie", Name: "sid"}, {Kind: "field", Name: "RayID"}} {
		p, err := NewCloudflare(id)
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len(benchCloudflareWideLine))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, benchCloudflareWideLine)
			rec = Record{}
			if err := p.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: Parse allocates %.1f times per line, want 0", id, allocs)
		}
	}
}

func BenchmarkCloudflare(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCloudflare(Identity{Kind: "cookie", Name: "sid"}) }, benchCloudflareLine, false)
}

func BenchmarkCloudflareWide(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCloudflare(Identity{Kind: "cookie", Name: "sid"}) }, benchCloudflareWideLine, false)
}

// benchParser measures Parse over line. fresh gives it a fresh copy each
// time (included in the time), for a line Parse decodes in place; the JSON
// benchmark lines have no escapes, so Parse leaves them as they are.
func benchParser(b *testing.B, newParser func() (Parser, error), line []byte, fresh bool) {
	p, err := newParser()
	if err != nil {
		b.Fatal(err)
	}
	buf := append([]byte(nil), line...)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		if fresh {
			copy(buf, line)
		}
		rec = Record{}
		if err := p.Parse(buf, &rec); err != nil {
			b.Fatal(err)
		}
	}
	if !fresh && string(buf) != string(line) {
		b.Fatal("Parse changed the line: benchmark it with fresh copies")
	}
}

// checkParseResult fails unless err is nil or a *ParseError with a short
// reason, and a parsed record is plausible.
func checkParseResult(t *testing.T, line []byte, rec *Record, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %T %v is not a *ParseError for %q", err, err, line)
		}
		if pe.Reason == "" || len(pe.Reason) > 200 {
			t.Fatalf("reason %q: want a short, non-empty reason", pe.Reason)
		}
		return
	}
	if rec.Status < 0 || rec.Status > 999 {
		t.Fatalf("status %d for %q", rec.Status, line)
	}
	if rec.ClientIP != nil {
		if _, err := netip.ParseAddr(string(rec.ClientIP)); err != nil {
			t.Fatalf("client address %q of %q is not an IP address: %v", rec.ClientIP, line, err)
		}
	}
}

func FuzzCloudflare(f *testing.F) {
	f.Add(benchCloudflareLine)
	f.Add(benchCloudflareWideLine)
	for _, s := range []string{
		`{"EdgeStartTimestamp":"2017-06-22T09:41:00.5+09:00","ClientRequestURI":"/","EdgeResponseStatus":304,"CacheCacheStatus":"revalidated"}`,
		`{"EdgeStartTimestamp":1498092060,"ClientRequestPath":"/p","ClientRequestQuery":"?a=1","OriginResponseStatus":502,"CacheCacheStatus":"bypass","EdgeColoID":27,"RequestHeaders":{"cookie":"a=1; sid=x"}}`,
		`{"ClientRequestUserAgent":"Mozilla \"quoted\" \\ \u0041\ud83d\ude00","ClientRequestURI":"\/search?q=%E3%81%82&w=\u3042","EdgeStartTimestamp":1498092060123,"EdgeResponseStatus":"200","CacheCacheStatus":"hit","Cookies":{"sid":"s\u0031"}}`,
		`{"ResponseHeaders":{"x":"}{][","y":[{"z":[1,2,{"w":"\"}"}]}]},"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestURI":"/{}","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
		`{"EdgeStartTimestamp":"2017-06-22T00:41:00Z",`,
		`not json`,
		// Client addresses that reject the line, or lose their port.
		`{"EdgeStartTimestamp":1498092060,"ClientIP":"evil.example","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
		`{"EdgeStartTimestamp":1498092060,"ClientIP":"","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
		`{"EdgeStartTimestamp":1498092060,"ClientIP":"[2001:db8::1]:443","ClientRequestURI":"/","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`,
		`{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"https://shop.example/p?q","CacheResponseStatus":200,"CacheCacheStatus":"stream_hit"}`,
		`{"EdgeStartTimestamp":"2017-06-22T00:41:00Z","ClientRequestPath":"//x","ClientRequestQuery":"?","OriginResponseStatus":200,"CacheCacheStatus":"unknown"}`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewCloudflare(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		line := append([]byte(nil), in...)
		var rec Record
		err := p.Parse(line, &rec)
		checkParseResult(t, in, &rec, err)
		if err == nil && !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		if err == nil && (len(rec.Path) == 0 || rec.Path[0] != '/') {
			t.Fatalf("path %q of %q does not begin with /", rec.Path, in)
		}
	})
}

// TestCDNFormatExamples: the README's example line of each format parses,
// with the identity its Config describes.
func TestCDNFormatExamples(t *testing.T) {
	for _, name := range []string{"cloudfront", "cloudflare"} {
		f, ok := LookupFormat(name)
		if !ok {
			t.Fatalf("no format %s", name)
		}
		p, err := NewParser(incident.LogSource{Format: name, Identity: "cookie:sid"})
		if err != nil {
			t.Fatal(err)
		}
		var rec Record
		if err := p.Parse([]byte(f.Example), &rec); err != nil {
			t.Fatalf("%s: Example does not parse: %v", name, err)
		}
		if string(rec.Identity) != "abc123" || string(rec.Path) != "/mypage/profile" || rec.Cache != CacheCached || string(rec.ClientIP) != "203.0.113.9" {
			t.Errorf("%s: Example read as %+v", name, rec)
		}
	}
}
