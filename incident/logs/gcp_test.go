package logs

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// A Cloud CDN cache hit as Cloud Logging exports it (one entry per line).
var benchGCPLine = []byte(`{"insertId":"1oek5rg3l3fxj7","jsonPayload":{"@type":"type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry","cacheId":"NRT-4e2a19c3","statusDetails":"response_from_cache"},"httpRequest":{"requestMethod":"GET","requestUrl":"https://www.example-market.jp/items/123456?ref=top","requestSize":"577","status":200,"responseSize":"5123","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","remoteIp":"198.51.100.7","cacheLookup":true,"cacheHit":true,"latency":"0.001234s"},"resource":{"type":"http_load_balancer","labels":{"project_id":"shop","url_map_name":"web","forwarding_rule_name":"web-https"}},"timestamp":"2017-06-22T00:41:00.123456Z","severity":"INFO","logName":"projects/shop/logs/requests","trace":"projects/shop/traces/abc","receiveTimestamp":"2017-06-22T00:41:01.5Z","labels":{"user":"u42"}}`)

func TestGCPParse(t *testing.T) {
	user := Identity{Kind: "field", Name: "labels.user"}
	std := Record{Time: ns("2017-06-22T00:41:00.123456Z"), Pop: b("NRT-4e2a19c3"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"),
		Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("hit"), Identity: b("u42")}
	entry := func(req string) string {
		return `{"jsonPayload":{"cacheId":"NRT-4e2a19c3"},"httpRequest":{"requestMethod":"GET","requestUrl":"https://www.example-market.jp/items/123456?ref=top","status":200,"remoteIp":"198.51.100.7"` + req + `},"timestamp":"2017-06-22T00:41:00.123456Z"}`
	}
	cache := func(raw string, c Cache) Record {
		r := std
		r.Identity, r.CacheRaw, r.Cache = nil, b(raw), c
		return r
	}
	runPresetCases(t, NewGCP, []presetCase{
		{name: "documented cache hit", id: user, line: string(benchGCPLine), want: std},
		{name: "a hit revalidated with the origin", line: entry(`,"cacheLookup":true,"cacheHit":true,"cacheValidatedWithOriginServer":true`), want: cache("validated", CacheCached)},
		{name: "a miss that filled the cache", line: entry(`,"cacheLookup":true,"cacheFillBytes":"5123"`), want: cache("fill", CacheFill)},
		{name: "a miss", line: entry(`,"cacheLookup":true`), want: cache("miss", CacheFill)},
		{name: "no lookup (false is left out)", line: entry(``), want: cache("nolookup", CacheOrigin)},
		{name: "booleans as strings", line: entry(`,"cacheLookup":"true","cacheHit":"false"`), want: cache("miss", CacheFill)},
		{name: "remoteIp with a port", line: strings.Replace(entry(`,"cacheLookup":true,"cacheHit":true`), `"198.51.100.7"`, `"198.51.100.7:51234"`, 1), want: cache("hit", CacheCached)},
		{name: "a host name in remoteIp", line: strings.Replace(entry(``), `"198.51.100.7"`, `"lb.example"`, 1), reject: `httpRequest.remoteIp "lb.example" is not an IP address`},
		{name: "a path, not a URL", line: strings.Replace(entry(``), `https://www.example-market.jp/items`, `items`, 1),
			reject: `request target "items/123456?ref=top" is neither a path beginning with / nor a full URL`},
		{name: "not a request entry", line: `{"timestamp":"2017-06-22T00:41:00Z","textPayload":"started"}`, reject: "httpRequest.status missing (not a load balancer request entry?)"},
		{name: "cacheHit of the wrong type", line: entry(`,"cacheHit":1`), reject: "httpRequest.cacheHit is a number, want true or false"},
	})
	if _, err := NewGCP(Identity{Kind: "cookie", Name: "sid"}); err == nil || !strings.Contains(err.Error(), "no cookies") {
		t.Errorf("cookie identity: error %v, want one saying the logs have no cookies", err)
	}
}

// TestGCPUnknownByCacheValues: cache_values remaps a composed wording.
func TestGCPCacheValues(t *testing.T) {
	p, err := NewParser(incidentLogSource("gcp", map[string]string{"nolookup": "FILL"}))
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	line := `{"httpRequest":{"requestUrl":"http://h/p","status":200},"timestamp":"2017-06-22T00:41:00Z"}`
	if err := p.Parse([]byte(line), &rec); err != nil || rec.Cache != CacheFill || string(rec.CacheRaw) != "nolookup" {
		t.Errorf("cache %v %q err %v, want FILL nolookup", rec.Cache, rec.CacheRaw, err)
	}
}

// TestGCPExportedArray: gcloud logging read --format=json writes a
// pretty-printed array.
func TestGCPExportedArray(t *testing.T) {
	data := "[\n  {\n    \"httpRequest\": {\n      \"cacheHit\": true,\n      \"cacheLookup\": true,\n      \"remoteIp\": \"198.51.100.7\",\n      \"requestMethod\": \"GET\",\n      \"requestUrl\": \"https://www.example.jp/a\",\n      \"status\": 200\n    },\n    \"timestamp\": \"2017-06-22T00:41:00Z\"\n  },\n  {\n    \"httpRequest\": {\n      \"requestUrl\": \"www.example.jp/b\",\n      \"status\": 200\n    },\n    \"timestamp\": \"2017-06-22T00:41:01Z\"\n  }\n]\n"
	path := writeFile(t, t.TempDir(), "gcp.json", []byte(data), false)
	p, err := NewGCP(Identity{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	stats, err := Read(context.Background(), []Input{{Path: path, Name: "gcp.json", Parser: p}}, Options{NewSink: func(int) Sink { return collect{&mu, &seen} }})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(seen)
	st := stats[0]
	if !st.Records || st.Lines != 2 || st.Parsed != 1 || len(st.Rejects) != 1 || st.Rejects[0].Line != 13 || strings.Join(seen, " ") != "0:2:1498092060" {
		t.Errorf("stats %+v records %v; want 2 records, 1 parsed (line 2), 1 rejected at line 13", st, seen)
	}
}

func TestGCPZeroAllocs(t *testing.T) {
	p, err := NewGCP(Identity{Kind: "field", Name: "labels.user"})
	if err != nil {
		t.Fatal(err)
	}
	zeroAllocs(t, p, string(benchGCPLine))
}

func BenchmarkGCP(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewGCP(Identity{Kind: "field", Name: "labels.user"}) }, benchGCPLine, false)
}

func FuzzGCP(f *testing.F) {
	p, err := NewGCP(Identity{Kind: "field", Name: "labels.user"})
	if err != nil {
		f.Fatal(err)
	}
	fuzzPreset(f, []string{string(benchGCPLine),
		`{"httpRequest":{"requestUrl":"http://h:80","status":"200","cacheHit":"true","remoteIp":"[::1]:80"},"timestamp":1498092060}`,
		`{"httpRequest":{"requestUrl":"//h?x","status":200,"cacheLookup":null},"timestamp":"2017-06-22T00:41:00Z","labels":{"user":1}}`}, p)
}

func incidentLogSource(format string, cacheValues map[string]string) incident.LogSource {
	return incident.LogSource{Format: format, CacheValues: cacheValues}
}
