package logs

import (
	"strings"
	"testing"
)

// A Caddy access log entry (format json) behind the cache-handler module.
var benchCaddyLine = []byte(`{"level":"info","ts":1498092060.123456,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"10.0.0.5","remote_port":"51234","client_ip":"198.51.100.7","proto":"HTTP/2.0","method":"GET","host":"www.example-market.jp","uri":"/items/123456?ref=top","headers":{"User-Agent":["Mozilla/5.0 (Windows NT 10.0; Win64; x64)"],"Cookie":["_ga=GA1.2.1; sid=0123456789abcdef"],"Accept":["*/*"]},"tls":{"resumed":false,"version":772,"cipher_suite":4865,"proto":"h2","server_name":"www.example-market.jp"}},"bytes_read":0,"user_id":"","duration":0.000512,"size":5123,"status":200,"resp_headers":{"Server":["Caddy"],"Cache-Status":["Souin; hit; ttl=118; key=GET-https-www.example-market.jp-/items/123456?ref=top"],"Content-Type":["text/html"]}}`)

func TestCaddyParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00.123456Z"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"),
		Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("0123456789abcdef")}
	entry := func(resp string) string {
		return `{"ts":1498092060.123456,"request":{"remote_ip":"198.51.100.7","method":"GET","host":"www.example-market.jp","uri":"/items/123456?ref=top"},"status":200,"resp_headers":{` + resp + `}}`
	}
	cache := func(raw string, c Cache) Record {
		r := std
		r.Identity, r.CacheRaw, r.Cache = nil, b(raw), c
		return r
	}
	runPresetCases(t, NewCaddy, []presetCase{
		{name: "documented entry, cache-handler hit", id: cookie, line: string(benchCaddyLine), want: std},
		{name: "stored miss: FILL", line: entry(`"Cache-Status":["Souin; fwd=uri-miss; stored; key=GET-https-x-/"]`), want: cache("fwd=uri-miss; stored", CacheFill)},
		{name: "not stored: ORIGIN", line: entry(`"Cache-Status":["Souin; fwd=bypass; detail=UNCACHEABLE-REQUEST"]`), want: cache("fwd=bypass", CacheOrigin)},
		{name: "several caches: the one nearest the client", line: entry(`"Cache-Status":["Origin; fwd=uri-miss; stored, Souin; hit; ttl=3"]`), want: cache("hit", CacheCached)},
		{name: "X-Cache", line: entry(`"X-Cache":["MISS"]`), want: cache("MISS", CacheFill)},
		{name: "no cache header: unknown, not ORIGIN", line: entry(`"Server":["Caddy"]`), want: cache("", CacheUnknown)},
		{name: "stale without stored stays unknown", line: entry(`"Cache-Status":["Souin; fwd=stale"]`), want: cache("fwd=stale", CacheUnknown)},
		{name: "an unknown Cache-Status is kept as logged", line: entry(`"Cache-Status":["Souin; fwd=odd"]`), want: cache("Souin; fwd=odd", CacheUnknown)},
		{name: "a field identity", id: Identity{Kind: "field", Name: "user_id"}, line: strings.Replace(string(benchCaddyLine), `"user_id":""`, `"user_id":"alice"`, 1),
			want: func() Record { r := std; r.Identity = b("alice"); return r }()},
		{name: "remote_ip with a host name", line: strings.Replace(entry(``), `"198.51.100.7"`, `"proxy.internal"`, 1), reject: `request.remote_ip (ip) "proxy.internal" is not an IP address`},
		{name: "a full URL in uri", line: strings.Replace(entry(`"X-Cache":["HIT"]`), `"/items`, `"https://www.example-market.jp/items`, 1), want: cache("HIT", CacheCached)},
		{name: "a uri without /", line: strings.Replace(entry(``), `"/items`, `"items`, 1), reject: `request target "items/123456?ref=top" is neither a path beginning with / nor a full URL`},
		{name: "a header of the wrong shape", line: entry(`"Cache-Status":[1]`), reject: "resp_headers.Cache-Status (cache) is an array of other than strings, want a string"},
		{name: "no status", line: `{"ts":1498092060,"request":{"uri":"/"}}`, reject: "status (status) missing"},
	})
}

func TestCaddyZeroAllocs(t *testing.T) {
	p, err := NewCaddy(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	zeroAllocs(t, p, string(benchCaddyLine))
}

func BenchmarkCaddy(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCaddy(Identity{Kind: "cookie", Name: "sid"}) }, benchCaddyLine, false)
}

func FuzzCaddy(f *testing.F) {
	p, err := NewCaddy(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	fuzzPreset(f, []string{string(benchCaddyLine),
		`{"ts":1498092060,"request":{"remote_ip":"::1","uri":"/?a","headers":{"Cookie":[]}},"status":200,"resp_headers":{"Cache-Status":["a;;fwd=;stored, ;hit"]}}`}, p)
}

func TestCacheStatusWord(t *testing.T) {
	for in, want := range map[string]string{
		"HIT": "HIT", "Souin; hit": "hit", "Souin; fwd=miss; stored": "fwd=miss; stored", "Souin; fwd=miss": "fwd=miss",
		"a; fwd=miss; stored, b; fwd=bypass": "fwd=bypass", "Souin; fwd=odd": "Souin; fwd=odd", "": "",
	} {
		if got := string(cacheStatusWord([]byte(in))); got != want {
			t.Errorf("cacheStatusWord(%q) = %q, want %q", in, got, want)
		}
	}
}
