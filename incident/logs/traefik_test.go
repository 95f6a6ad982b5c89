package logs

import (
	"strings"
	"testing"
)

// A Traefik access log entry (format json) with the Cookie request header
// and the Cache-Status response header kept.
var benchTraefikLine = []byte(`{"ClientAddr":"198.51.100.7:51234","ClientHost":"198.51.100.7","ClientPort":"51234","ClientUsername":"-","DownstreamContentSize":5123,"DownstreamStatus":200,"Duration":512000,"OriginContentSize":5123,"OriginDuration":480000,"OriginStatus":200,"Overhead":32000,"RequestAddr":"www.example-market.jp","RequestContentSize":0,"RequestCount":42,"RequestHost":"www.example-market.jp","RequestMethod":"GET","RequestPath":"/items/123456?ref=top","RequestPort":"-","RequestProtocol":"HTTP/2.0","RequestScheme":"https","RetryAttempts":0,"RouterName":"web@docker","ServiceName":"web@docker","StartLocal":"2017-06-22T09:41:00.123456789+09:00","StartUTC":"2017-06-22T00:41:00.123456789Z","downstream_Cache-Status":"Souin; hit; ttl=118","request_Cookie":"_ga=GA1.2.1; sid=0123456789abcdef","entryPointName":"websecure","level":"info","msg":"","time":"2017-06-22T09:41:00+09:00"}`)

func TestTraefikParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00.123456789Z"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"),
		Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("0123456789abcdef")}
	entry := func(more string) string {
		return `{"ClientAddr":"198.51.100.7:51234","DownstreamStatus":200,"RequestHost":"www.example-market.jp","RequestMethod":"GET","RequestPath":"/items/123456?ref=top","StartUTC":"2017-06-22T00:41:00.123456789Z"` + more + `}`
	}
	cache := func(raw string, c Cache) Record {
		r := std
		r.Identity, r.CacheRaw, r.Cache = nil, b(raw), c
		return r
	}
	runPresetCases(t, NewTraefik, []presetCase{
		{name: "documented entry", id: cookie, line: string(benchTraefikLine), want: std},
		{name: "ClientAddr without ClientHost: the port dropped", line: entry(`,"downstream_X-Cache":"MISS"`), want: cache("MISS", CacheFill)},
		{name: "no cache header kept: unknown", line: entry(``), want: cache("", CacheUnknown)},
		{name: "a field identity from a kept header", id: Identity{Kind: "field", Name: "request_X-User-Id"}, line: entry(`,"downstream_Cache-Status":"c; fwd=uri-miss; stored","request_X-User-Id":"u7"`),
			want: func() Record { r := cache("fwd=uri-miss; stored", CacheFill); r.Identity = b("u7"); return r }()},
		{name: "a host name in ClientHost", line: entry(`,"ClientHost":"client.example"`), reject: `ClientHost (ip) "client.example" is not an IP address`},
		{name: "a full URL in RequestPath", line: strings.Replace(entry(``), `"/items`, `"http://www.example-market.jp/items`, 1), want: cache("", CacheUnknown)},
		{name: "a path without /", line: strings.Replace(entry(``), `"/items`, `"items`, 1), reject: `request target "items/123456?ref=top" is neither a path beginning with / nor a full URL`},
		{name: "an unknown X-Cache kept", line: entry(`,"downstream_X-Cache":"TCP_HIT"`), want: cache("TCP_HIT", CacheUnknown)},
		{name: "no time", line: `{"DownstreamStatus":200,"RequestPath":"/"}`, reject: "StartUTC (time) missing"},
		{name: "the common (text) format instead", line: `198.51.100.7 - - [22/Jun/2017:00:41:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-" 1 "web@docker" "http://10.0.0.2:80" 1ms`,
			reject: "not a JSON object (does not start with '{')"},
	})
}

func TestTraefikZeroAllocs(t *testing.T) {
	p, err := NewTraefik(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	zeroAllocs(t, p, string(benchTraefikLine))
}

func BenchmarkTraefik(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewTraefik(Identity{Kind: "cookie", Name: "sid"}) }, benchTraefikLine, false)
}

func FuzzTraefik(f *testing.F) {
	p, err := NewTraefik(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	fuzzPreset(f, []string{string(benchTraefikLine), `{"ClientAddr":"[::1]:1","DownstreamStatus":"200","RequestPath":"//h","StartUTC":"2017-06-22T00:41:00Z","request_Cookie":7}`}, p)
}
