package logs

import (
	"testing"
)

// A Fastly log line in the documented JSON log format, after the syslog
// header a syslog endpoint adds.
var benchFastlyLine = []byte(`{"timestamp":"2017-06-22T09:41:00+0900","client_ip":"198.51.100.7","geo_country":"Japan","request_method":"GET","host":"www.example-market.jp","url":"/items/123456?ref=top","request_protocol":"HTTP/2","request_referer":"https://www.example-market.jp/","request_user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","fastly_info.state":"HIT-CLUSTER","response_status":200,"response_body_size":5123,"pop":"NRT","request_cookie":"_ga=GA1.2.1; sid=0123456789abcdef"}`)

func TestFastlyParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("NRT"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"),
		Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT-CLUSTER"), Identity: b("0123456789abcdef")}
	with := func(f func(r *Record)) Record { r := std; f(&r); return r }
	min := func(state, more string) string {
		return `{"timestamp":"2017-06-22T00:41:00Z","client_ip":"198.51.100.7","request_method":"GET","host":"www.example-market.jp","url":"/items/123456?ref=top","response_status":200,"pop":"NRT","fastly_info.state":"` + state + `"` + more + `}`
	}
	anon := func(state string, c Cache) Record {
		return with(func(r *Record) { r.Identity = nil; r.CacheRaw = b(state); r.Cache = c })
	}
	runPresetCases(t, NewFastly, []presetCase{
		{name: "documented JSON format", id: cookie, line: string(benchFastlyLine), want: std},
		{name: "syslog header: the node is not the pop when pop is logged", id: cookie, line: `<134>2017-06-22T00:41:00Z cache-nrt1234 breachlog[336442]: ` + string(benchFastlyLine), want: std},
		{name: "syslog header gives the pop", id: Identity{},
			line: `<134>2017-06-22T00:41:00Z cache-nrt1234 breachlog[1]: {"timestamp":"2017-06-22T00:41:00Z","client_ip":"198.51.100.7","request_method":"GET","host":"www.example-market.jp","url":"/items/123456?ref=top","response_status":200,"fastly_info.state":"MISS"}`,
			want: with(func(r *Record) {
				r.Identity = nil
				r.Pop = b("cache-nrt1234")
				r.CacheRaw = b("MISS")
				r.Cache = CacheFill
			})},
		{name: "New Relic default keys: request is the method, cache_status", id: Identity{Kind: "field", Name: "user"},
			line: `{"timestamp":"2017-06-22T00:41:00","client_ip":"198.51.100.7","request":"GET","host":"www.example-market.jp","url":"/items/123456?ref=top","status":"200","cache_status":"PASS","user":"u1"}`,
			want: with(func(r *Record) { r.Pop = nil; r.CacheRaw = b("PASS"); r.Cache = CacheOrigin; r.Identity = b("u1") })},
		{name: "a time that is no time", line: min("HIT", `,"timestamp":"22 June"`), reject: `timestamp (time) "22 June" is not an RFC 3339 or Unix time`},
		{name: "begin:msec time, cache_status, field identity", id: Identity{Kind: "field", Name: "user"},
			line: `{"time_start":1498092060123,"client_ip":"198.51.100.7","request":"GET","host":"www.example-market.jp","url":"/items/123456?ref=top","status":"200","cache_status":"PASS","user":"u1","datacenter":"NRT"}`,
			want: with(func(r *Record) {
				r.Time = ns("2017-06-22T00:41:00.123Z")
				r.Coarse = false
				r.CacheRaw = b("PASS")
				r.Cache = CacheOrigin
				r.Identity = b("u1")
			})},
		{name: "HIT-STALE is CACHED", line: min("HIT-STALE", ""), want: anon("HIT-STALE", CacheCached)},
		{name: "MISS-REFRESH is CACHED", line: min("MISS-REFRESH", ""), want: anon("MISS-REFRESH", CacheCached)},
		{name: "MISS-CLUSTER-WAIT is FILL", line: min("MISS-CLUSTER-WAIT", ""), want: anon("MISS-CLUSTER-WAIT", CacheFill)},
		{name: "HIT-SYNTH is made by Fastly: ORIGIN", line: min("HIT-SYNTH", ""), want: anon("HIT-SYNTH", CacheOrigin)},
		{name: "HITPASS is ORIGIN", line: min("HITPASS", ""), want: anon("HITPASS", CacheOrigin)},
		{name: "NONE stays unknown, raw kept", line: min("NONE", ""), want: anon("NONE", CacheUnknown)},
		{name: "a full URL is split", line: `{"timestamp":"2017-06-22T00:41:00Z","client_ip":"198.51.100.7","request_method":"GET","url":"https://www.example-market.jp:443/items/123456?ref=top","response_status":200,"pop":"NRT","fastly_info.state":"HIT"}`,
			want: anon("HIT", CacheCached)},
		{name: "a host name in client_ip", line: min("HIT", `,"client_ip":"www.example.jp"`), reject: `client_ip (ip) "www.example.jp" is not an IP address`},
		{name: "a path without /", line: `{"timestamp":"2017-06-22T00:41:00Z","url":"items/1","response_status":200,"fastly_info.state":"HIT"}`,
			reject: `request target "items/1" is neither a path beginning with / nor a full URL`},
		{name: "a field missing", line: `{"timestamp":"2017-06-22T00:41:00Z","url":"/","fastly_info.state":"HIT"}`, reject: "response_status (status) missing"},
		{name: "no cache state", line: `{"timestamp":"2017-06-22T00:41:00Z","url":"/","response_status":200}`, reject: "fastly_info.state (cache) missing"},
		{name: "a broken syslog header", line: `<134> {"timestamp":"2017-06-22T00:41:00Z"}`, reject: `the line starts with '<' but not with a syslog header "<PRI>TIME HOST TAG: "`},
		{name: "truncated", line: string(benchFastlyLine[:60]), reject: "malformed JSON at byte 60: unterminated string (truncated?)"},
	})
}

func TestFastlyZeroAllocs(t *testing.T) {
	p, err := NewFastly(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	zeroAllocs(t, p, `<134>2017-06-22T00:41:00Z cache-nrt1234 breachlog[336442]: `+string(benchFastlyLine))
}

func BenchmarkFastly(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewFastly(Identity{Kind: "cookie", Name: "sid"}) }, benchFastlyLine, false)
}

func FuzzFastly(f *testing.F) {
	pc, err := NewFastly(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	pf, err := NewFastly(Identity{Kind: "field", Name: "user"})
	if err != nil {
		f.Fatal(err)
	}
	fuzzPreset(f, []string{string(benchFastlyLine), `<134>2017-06-22T00:41:00Z cache-nrt1234 x[1]: ` + string(benchFastlyLine),
		`{"time_start":1498092060123,"client_ip":"host.example","request":"GET","url":"http://h/x?y","status":"200","cache_status":"PASS","user":7}`,
		`<1>a b c: {}`, `<`}, pc, pf)
}
