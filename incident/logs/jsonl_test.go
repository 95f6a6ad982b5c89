package logs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// simJSONLFields is the mapping the simulator writes into its case file.
var simJSONLFields = map[string]string{"time": "ts", "ip": "client", "method": "method", "host": "host", "path": "uri_path", "query": "qs", "status": "code", "cache": "cache", "pop": "edge"}

// benchJSONLLine is a JSON access-log line as an nginx log_format with
// escape=json or an application logger writes it.
var benchJSONLLine = []byte(`{"ts":"2017-06-22T00:41:00.123Z","edge":"NRT51","client":"198.51.100.7","method":"GET","host":"www.example-market.jp","uri_path":"/items/123456","qs":"ref=top","code":200,"bytes":5123,"duration_ms":12.5,"cache":"HIT","session":"0123456789abcdef0123456789abcdef","referer":"https://www.example-market.jp/","ua":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.110 Safari/537.36"}`)

// nestedJSONLFields maps a logger that nests the request (dotted paths).
var nestedJSONLFields = map[string]string{"time": "time", "ip": "request.remote_ip", "method": "request.method", "host": "request.host", "path": "request.uri", "status": "status", "cache": "cache.status", "pop": "edge.id"}

func TestJSONLParse(t *testing.T) {
	session := Identity{Kind: "field", Name: "session"}
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00.123Z"), Pop: b("NRT51"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"),
		Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("0123456789abcdef0123456789abcdef")}
	minimal := Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS")}
	with := func(r Record, f func(r *Record)) Record { f(&r); return r }
	minFields := map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}
	tests := []struct {
		name   string
		fields map[string]string
		id     Identity
		line   string
		want   Record
		reject string // substring of the reason; empty = must parse
	}{
		{name: "typical line", fields: simJSONLFields, id: session, line: string(benchJSONLLine), want: std},
		{name: "simulator: anonymous session null", fields: simJSONLFields, id: session,
			line: `{"ts":"2017-06-22T00:41:00Z","edge":"NRT51","client":"2001:db8::7","method":"GET","host":"www.example-market.jp","uri_path":"/mypage/bank","qs":"","code":302,"cache":"BYPASS","session":null,"ua":"ExampleMarket/3.1.9 (Android 7.0; \"SOV34\"; ja_JP)"}`,
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("NRT51"), ClientIP: b("2001:db8::7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/mypage/bank"), Query: b(""), Status: 302, Cache: CacheOrigin, CacheRaw: b("BYPASS")}},
		{name: "nested objects, dotted paths, whole URI split", fields: nestedJSONLFields, id: Identity{Kind: "field", Name: "user.id"},
			line: `{"time":1498092060.5,"request":{"remote_ip":"192.0.2.1","method":"POST","host":"shop.example","uri":"/login?next=%2Fmypage&q=\u3042","headers":{"Cookie":["a=1"]}},"status":"403","cache":{"status":"MISS"},"edge":{"id":7},"user":{"id":42}}`,
			want: Record{Time: ns("2017-06-22T00:41:00.5Z"), Pop: b("7"), ClientIP: b("192.0.2.1"), Method: b("POST"), Host: b("shop.example"), Path: b("/login"), Query: b("next=%2Fmypage&q=あ"), Status: 403, Cache: CacheFill, CacheRaw: b("MISS"), Identity: b("42")}},
		{name: "a top-level key spelled with dots", fields: map[string]string{"time": "t", "path": "http.path", "status": "http.status", "cache": "c"}, id: session,
			line: `{"t":"2017-06-22T00:41:00Z","http.path":"/dots","http.status":200,"c":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/dots") })},
		{name: "nested wins over dotted key", fields: map[string]string{"time": "t", "path": "http.path", "status": "s", "cache": "c"}, id: session,
			line: `{"t":"2017-06-22T00:41:00Z","http.path":"/dots","http":{"path":"/nested"},"s":200,"c":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/nested") })},
		{name: "RFC 3339 with an offset", fields: minFields, id: session,
			line: `{"t":"2017-06-22T09:41:00+09:00","p":"/","s":200,"c":"MISS"}`, want: minimal},
		{name: "time_local", fields: minFields, id: session, line: `{"t":"22/Jun/2017:09:41:00 +0900","p":"/","s":200,"c":"MISS"}`, want: minimal},
		{name: "milliseconds", fields: minFields, id: session, line: `{"t":1498092060123,"p":"/","s":200,"c":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Time = ns("2017-06-22T00:41:00.123Z"); r.Coarse = false })},
		{name: "nanoseconds string", fields: minFields, id: session, line: `{"t":"1498092060123456789","p":"/","s":200,"c":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Time = ns("2017-06-22T00:41:00.123456789Z"); r.Coarse = false })},
		{name: "path with query and no query key", fields: minFields, id: session, line: `{"t":"2017-06-22T00:41:00Z","p":"/a?b=c&d=%E3%81%82","s":200,"c":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/a"); r.Query = b("b=c&d=%E3%81%82") })},
		{name: "query key absent in the line: split the path", fields: simJSONLFields, id: session,
			line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/a?x=1","code":200,"cache":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/a"); r.Query = b("x=1") })},
		{name: "query with a leading ?", fields: simJSONLFields, id: session,
			line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/a","qs":"?x=1","code":200,"cache":"MISS"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/a"); r.Query = b("x=1") })},
		{name: "escapes and UTF-8 in values", fields: simJSONLFields, id: session,
			line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"\/商品\/\u0041","host":"ex\u0061mple.jp","code":200,"cache":"MISS","session":"s\"1"}`,
			want: with(minimal, func(r *Record) { r.Path = b("/商品/A"); r.Host = b("example.jp"); r.Identity = b(`s"1`) })},
		{name: "dash identity is anonymous", fields: simJSONLFields, id: session,
			line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":200,"cache":"MISS","session":"-"}`, want: minimal},
		{name: "identity from fields.identity", fields: map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c", "identity": "auth.user"}, id: Identity{},
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","auth":{"user":"alice"}}`, want: with(minimal, func(r *Record) { r.Identity = b("alice") })},
		{name: "cookie header string", fields: minFields, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookie":"a=1; sid=xyz"}`, want: with(minimal, func(r *Record) { r.Identity = b("xyz") })},
		{name: "Cookie header string, capitalised", fields: minFields, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","Cookie":"sid=abc"}`, want: with(minimal, func(r *Record) { r.Identity = b("abc") })},
		{name: "cookies object", fields: minFields, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookies":{"other":"1","sid":"obj"}}`, want: with(minimal, func(r *Record) { r.Identity = b("obj") })},
		{name: "cookies object without the cookie", fields: minFields, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookies":{"other":"1"}}`, want: minimal},
		{name: "null cookie is skipped for the next source", fields: minFields, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookie":null,"cookies":{"sid":"second"}}`, want: with(minimal, func(r *Record) { r.Identity = b("second") })},
		{name: "cookie field named in fields.identity", fields: map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c", "identity": "req.headers.cookie"}, id: cookie,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookie":"sid=not-this","req":{"headers":{"cookie":"sid=this"}}}`, want: with(minimal, func(r *Record) { r.Identity = b("this") })},
		{name: "empty cache is ORIGIN, unknown wording kept", fields: minFields, id: session,
			line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":""}`, want: with(minimal, func(r *Record) { r.Cache = CacheOrigin; r.CacheRaw = b("") })},
		{name: "CRLF", fields: minFields, id: session, line: "{\"t\":\"2017-06-22T00:41:00Z\",\"p\":\"/\",\"s\":200,\"c\":\"MISS\"}\r\n", want: minimal},

		{name: "not JSON", fields: minFields, id: session, line: `ts=2017-06-22T00:41:00Z path=/`, reject: "not a JSON object"},
		{name: "truncated mid-string", fields: simJSONLFields, id: session, line: string(benchJSONLLine[:100]), reject: "unterminated string"},
		{name: "truncated after a value", fields: simJSONLFields, id: session, line: string(benchJSONLLine[:len(benchJSONLLine)-1]), reject: "line ends inside"},
		{name: "missing time", fields: simJSONLFields, id: session, line: `{"uri_path":"/","code":200,"cache":"MISS"}`, reject: "ts (time) missing"},
		{name: "null time", fields: simJSONLFields, id: session, line: `{"ts":null,"uri_path":"/","code":200,"cache":"MISS"}`, reject: "ts (time) missing"},
		{name: "missing path", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","code":200,"cache":"MISS"}`, reject: "uri_path (path) missing"},
		{name: "missing status", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","cache":"MISS"}`, reject: "code (status) missing"},
		{name: "missing cache", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":200}`, reject: "cache (cache) missing"},
		{name: "bad time", fields: simJSONLFields, id: session, line: `{"ts":"June 22","uri_path":"/","code":200,"cache":"MISS"}`, reject: `ts (time) "June 22" is not an RFC 3339 or Unix time`},
		{name: "time of the wrong type", fields: simJSONLFields, id: session, line: `{"ts":{"s":1},"uri_path":"/","code":200,"cache":"MISS"}`, reject: "ts (time) is an object, want a string or a number"},
		{name: "status not a number", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":"OK","cache":"MISS"}`, reject: `code (status) "OK" is not a status number`},
		{name: "status of the wrong type", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":true,"cache":"MISS"}`, reject: "code (status) is true/false, want a number"},
		{name: "path of the wrong type", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":7,"code":200,"cache":"MISS"}`, reject: "uri_path (path) is a number, want a string"},
		{name: "cache of the wrong type", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":200,"cache":{"s":1}}`, reject: "cache (cache) is an object, want a string"},
		{name: "identity of the wrong type", fields: simJSONLFields, id: session, line: `{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":200,"cache":"HIT","session":{"id":1}}`, reject: "session (identity) is an object"},
		{name: "cookie of the wrong type", fields: minFields, id: cookie, line: `{"t":"2017-06-22T00:41:00Z","p":"/","s":200,"c":"MISS","cookie":7}`, reject: "cookie is a number, want a Cookie header string or an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewJSONL(tc.fields, tc.id)
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

func TestNewJSONLErrors(t *testing.T) {
	session := Identity{Kind: "field", Name: "session"}
	tests := []struct {
		fields map[string]string
		id     Identity
		want   string
	}{
		{map[string]string{"path": "p", "status": "s", "cache": "c"}, session, "fields.time: required for jsonl"},
		{map[string]string{"time": "t", "status": "s", "cache": "c"}, session, "fields.path: required for jsonl"},
		{map[string]string{"time": "t", "path": "p", "cache": "c"}, session, "fields.status: required for jsonl"},
		{map[string]string{"time": "t", "path": "p", "status": "s"}, session, "fields.cache: required for jsonl"},
		{map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c", "bytes": "b"}, session, "fields.bytes: unknown record part"},
		{map[string]string{"time": "t", "path": "a..b", "status": "s", "cache": "c"}, session, "fields.path"},
		{map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}, Identity{Kind: "remote_user"}, "remote_user"},
		{map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c", "identity": "user"}, session, "name different keys"},
	}
	for _, tc := range tests {
		if _, err := NewJSONL(tc.fields, tc.id); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewJSONL(%v, %+v) error = %v, want %q", tc.fields, tc.id, err, tc.want)
		}
	}
}

// TestJSONLWithoutIdentity: an entry that names no identity (breachctl logs
// parse checking a format) reads every request as anonymous.
func TestJSONLWithoutIdentity(t *testing.T) {
	p, err := NewJSONL(map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}, Identity{})
	if err != nil {
		t.Fatalf("NewJSONL without identity: %v", err)
	}
	var rec Record
	if err := p.Parse([]byte(`{"t":"2017-06-22T00:41:00Z","p":"/mypage","s":200,"c":"HIT","sid":"abc"}`), &rec); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if rec.Identity != nil || rec.Cache != CacheCached || string(rec.Path) != "/mypage" {
		t.Errorf("record = identity %q cache %v path %q; want anonymous, CACHED, /mypage", rec.Identity, rec.Cache, rec.Path)
	}
}

func TestJSONLZeroAllocs(t *testing.T) {
	for _, tc := range []struct {
		fields map[string]string
		line   []byte
	}{
		{simJSONLFields, benchJSONLLine},
		{nestedJSONLFields, []byte(`{"time":"2017-06-22T00:41:00.5Z","request":{"remote_ip":"192.0.2.1","method":"POST","host":"shop.example","uri":"/login?next=%2Fmypage"},"status":403,"cache":{"status":"MISS"},"edge":{"id":"NRT"},"session":"s1"}`)},
	} {
		p, err := NewJSONL(tc.fields, Identity{Kind: "field", Name: "session"})
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len(tc.line))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, tc.line)
			rec = Record{}
			if err := p.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
		}
	}
}

func BenchmarkJSONL(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewJSONL(simJSONLFields, Identity{Kind: "field", Name: "session"}) }, benchJSONLLine, false)
}

func FuzzJSONL(f *testing.F) {
	f.Add(benchJSONLLine)
	for _, s := range []string{
		`{"ts":"2017-06-22T00:41:00Z","edge":"NRT51","client":"2001:db8::7","uri_path":"/mypage/bank","qs":"","code":302,"cache":"BYPASS","session":null,"ua":"ExampleMarket/3.1.9 (Android 7.0; \"SOV34\"; ja_JP)"}`,
		`{"ts":1498092060123,"uri_path":"/a?x=1","code":"200","cache":"MISS","session":42,"req":{"h":[1,{"a":"}"}]}}`,
		`{"ts":"22/Jun/2017:09:41:00 +0900","uri_path":"\/商品\/\u0041\ud83d\ude00","code":200,"cache":"hit"}`,
		`{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":200,"cache":"MISS","session":"-"}`,
		`{"ts":"2017-06-22T00:41:00Z","uri_path":"/","code":`,
		`{"ts":{"s":1},"uri_path":7,"code":true,"cache":1}`,
		// Client addresses that reject the line, or lose their port.
		`{"ts":"2017-06-22T00:41:00Z","client":"localhost","uri_path":"/","code":200,"cache":"MISS"}`,
		`{"ts":"2017-06-22T00:41:00Z","client":"-","uri_path":"/","code":200,"cache":"MISS"}`,
		`{"ts":"2017-06-22T00:41:00Z","client":"198.51.100.7:8080","uri_path":"/","code":200,"cache":"MISS"}`,
		`{"ts":"2017-06-22T00:41:00Z","client":"1:2:3:4:5:6:7:8:9","uri_path":"/","code":200,"cache":"MISS"}`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewJSONL(simJSONLFields, Identity{Kind: "field", Name: "session"})
	if err != nil {
		f.Fatal(err)
	}
	pc, err := NewJSONL(map[string]string{"time": "ts", "path": "uri_path", "status": "code", "cache": "cache", "host": "req.host"}, Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, p := range []Parser{p, pc} {
			line := append([]byte(nil), in...)
			var rec Record
			err := p.Parse(line, &rec)
			checkParseResult(t, in, &rec, err)
			if err == nil && !json.Valid(in) {
				t.Fatalf("accepted invalid JSON %q", in)
			}
		}
	})
}
