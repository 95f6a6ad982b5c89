package logs

import (
	"testing"

	"github.com/breachctl/breachctl/incident"
)

func akamaiSource(cacheValues map[string]string) incident.LogSource {
	return incident.LogSource{Format: "akamai", CacheValues: cacheValues}
}

// checkTarget is checkParseResult plus the path invariant: a parsed
// record's path begins with '/'.
func checkTarget(t *testing.T, line []byte, rec *Record, err error) {
	t.Helper()
	checkParseResult(t, line, rec, err)
	if err == nil && (len(rec.Path) == 0 || rec.Path[0] != '/') {
		t.Fatalf("path %q of %q does not begin with /", rec.Path, line)
	}
}

// benchAkamaiLine is a DataStream 2 JSON line with the default data set's
// fields, in the documentation's sample order, values our own.
var benchAkamaiLine = []byte(`{"version":"1","cp":"123456","reqId":"1239f220","reqTimeSec":"1498092060.123","bytes":"4995","cliIP":"198.51.100.7","statusCode":"200","proto":"HTTPS","reqHost":"www.example-market.jp","reqMethod":"GET","reqPath":"/items/123456","reqPort":"443","rspContentLen":"5000","rspContentType":"text/html","UA":"Mozilla%2F5.0+%28Windows+NT+10.0%29","tlsOverheadTimeMSec":"0","tlsVersion":"TLSv1.3","objSize":"484","uncompressedSize":"484","overheadBytes":"232","totalBytes":"0","queryStr":"ref=top","breadcrumbs":"//BC/%5Ba=23.33.41.20,c=g,k=0,l=1%5D","accLang":"ja-JP","cookie":"_ga=GA1.2.1;%20sid=0123456789abcdef","referer":"https%3A%2F%2Fwww.example-market.jp%2F","maxAgeSec":"3600","reqEndTimeMSec":"3","turnAroundTimeMSec":"11","transferTimeMSec":"125","dnsLookupTimeMSec":"50","lastByte":"1","edgeIP":"23.50.51.173","country":"JP","state":"Tokyo","city":"TOKYO","serverCountry":"JP","billingRegion":"8","cacheStatus":"1","cacheable":"1","streamId":"12345"}`)

func TestAkamaiParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	base := `"reqTimeSec":"1498092060","cliIP":"203.0.113.9","reqMethod":"GET","reqHost":"shop.example","statusCode":"200","edgeIP":"23.50.51.173"`
	tests := []struct {
		name   string
		id     Identity
		line   string
		want   Record
		reject string
	}{
		{name: "documented fields, hit", id: cookie, line: string(benchAkamaiLine),
			want: Record{Time: ns("2017-06-22T00:41:00.123Z"), Pop: b("23.50.51.173"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("1/1"), Identity: b("0123456789abcdef")}},
		{name: "cacheable miss is a fill", id: cookie, line: `{` + base + `,"reqPath":"/mypage/profile","cacheStatus":"0","cacheable":"1","cookie":"sid=abc"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("23.50.51.173"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/profile"), Status: 200, Cache: CacheFill, CacheRaw: b("0/1"), Identity: b("abc")}},
		{name: "not cacheable is origin; numbers instead of strings", id: Identity{},
			line: `{"reqTimeSec":1498092060,"cliIP":"2001:db8::1","reqPath":"/api/me","statusCode":302,"cacheStatus":0,"cacheable":0}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("2001:db8::1"), Path: b("/api/me"), Status: 302, Cache: CacheOrigin, CacheRaw: b("0/0")}},
		{name: "cacheStatus alone: 1 is cached", id: Identity{Kind: "field", Name: "customField"},
			line: `{` + base + `,"reqPath":"/p","cacheStatus":"1","customField":"u-42"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("23.50.51.173"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/p"), Status: 200, Cache: CacheCached, CacheRaw: b("1"), Identity: b("u-42")}},
		{name: "cacheStatus 0 without cacheable stays unknown", id: cookie,
			line: `{` + base + `,"reqPath":"/p","cacheStatus":"0"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("23.50.51.173"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/p"), Status: 200, Cache: CacheUnknown, CacheRaw: b("0")}},
		{name: "undocumented cacheStatus number is unknown, kept", id: cookie,
			line: `{` + base + `,"reqPath":"/p","cacheStatus":"2","cacheable":"1"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("23.50.51.173"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/p"), Status: 200, Cache: CacheUnknown, CacheRaw: b("2/1")}},
		{name: "full URL in reqPath is split", id: cookie,
			line: `{"reqTimeSec":"1498092060","reqPath":"https://other.example:443/a?b=c","statusCode":"200","cacheStatus":"1","cacheable":"1"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("other.example"), Path: b("/a"), Query: b("b=c"), Status: 200, Cache: CacheCached, CacheRaw: b("1/1")}},
		{name: "dash query and dash cookie are empty", id: cookie,
			line: `{` + base + `,"reqPath":"/p","queryStr":"-","cookie":"-","cacheStatus":"1","cacheable":"1"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("23.50.51.173"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/p"), Status: 200, Cache: CacheCached, CacheRaw: b("1/1")}},

		{name: "host name in the address field", id: cookie, line: `{"reqTimeSec":"1498092060","cliIP":"client.example.net","reqPath":"/","statusCode":"200","cacheStatus":"1"}`,
			reject: `cliIP "client.example.net" is not an IP address`},
		{name: "path not starting with /", id: cookie, line: `{"reqTimeSec":"1498092060","reqPath":"path1/file.ext","statusCode":"200","cacheStatus":"1"}`,
			reject: `request target "path1/file.ext" is neither a path beginning with / nor a full URL`},
		{name: "no cacheStatus", id: cookie, line: `{"reqTimeSec":"1498092060","reqPath":"/","statusCode":"200"}`,
			reject: "cacheStatus missing (add Cache status to the stream's data set)"},
		{name: "no time", id: cookie, line: `{"reqPath":"/","statusCode":"200","cacheStatus":"1"}`, reject: "reqTimeSec missing"},
		{name: "bad time", id: cookie, line: `{"reqTimeSec":"22/Jun/2017","reqPath":"/","statusCode":"200","cacheStatus":"1"}`, reject: `reqTimeSec "22/Jun/2017" is not an RFC 3339 or Unix time`},
		{name: "no status", id: cookie, line: `{"reqTimeSec":"1498092060","reqPath":"/","cacheStatus":"1"}`, reject: "statusCode missing"},
		{name: "no path", id: cookie, line: `{"reqTimeSec":"1498092060","statusCode":"200","cacheStatus":"1"}`, reject: "reqPath missing"},
		{name: "cacheStatus of the wrong type", id: cookie, line: `{"reqTimeSec":"1498092060","reqPath":"/","statusCode":"200","cacheStatus":true}`, reject: "cacheStatus is true/false, want a string or a number"},
		{name: "structured line", id: cookie, line: `1 12345 123456 1239f220 1573840000 4995 128.147.28.68 206 HTTPS test.hostname.net GET /path1/file.ext`, reject: "not a JSON object"},
		{name: "truncated", id: cookie, line: string(benchAkamaiLine[:200]), reject: "unterminated string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewAkamai(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			expectParse(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestAkamaiCacheValues(t *testing.T) {
	p, err := NewParser(akamaiSource(map[string]string{"0": "FILL"}))
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := p.Parse([]byte(`{"reqTimeSec":"1498092060","reqPath":"/","statusCode":"200","cacheStatus":"0"}`), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Cache != CacheFill || string(rec.CacheRaw) != "0" {
		t.Errorf("cache %v %q, want FILL \"0\" from cache_values", rec.Cache, rec.CacheRaw)
	}
}

func TestNewAkamaiErrors(t *testing.T) {
	for _, id := range []Identity{{Kind: "remote_user"}, {Kind: "header", Name: "x"}, {Kind: "field", Name: "a..b"}} {
		if _, err := NewAkamai(id); err == nil {
			t.Errorf("NewAkamai(%+v) succeeded, want an error", id)
		}
	}
}

func TestAkamaiZeroAllocs(t *testing.T) {
	for _, id := range []Identity{{Kind: "cookie", Name: "sid"}, {Kind: "field", Name: "reqId"}, {}} {
		p, err := NewAkamai(id)
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len(benchAkamaiLine))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, benchAkamaiLine)
			rec = Record{}
			if err := p.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("identity %+v: %v allocations per line, want 0", id, allocs)
		}
	}
}

func FuzzAkamai(f *testing.F) {
	f.Add(benchAkamaiLine)
	for _, s := range []string{
		`{"reqTimeSec":1498092060,"cliIP":"2001:db8::1","reqPath":"/api/me","statusCode":302,"cacheStatus":0,"cacheable":0}`,
		`{"reqTimeSec":"1498092060","reqPath":"https://other.example:443/a?b=c","statusCode":"200","cacheStatus":"1","cacheable":"1","cookie":"a%3Db;%20sid=x"}`,
		`{"reqTimeSec":"1498092060","cliIP":"client.example.net","reqPath":"/","statusCode":"200","cacheStatus":"1"}`,
		`{"reqTimeSec":"1498092060","reqPath":"path1/file.ext","statusCode":"200","cacheStatus":"9","cacheable":"x"}`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewAkamai(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		err := p.Parse(line, &rec)
		checkTarget(t, line, &rec, err)
	})
}

func BenchmarkAkamaiParse(b *testing.B) {
	p, err := NewAkamai(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		b.Fatal(err)
	}
	line := make([]byte, len(benchAkamaiLine))
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		copy(line, benchAkamaiLine)
		rec = Record{}
		if err := p.Parse(line, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
