package logs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// cfJSONLine is a standard logging (v2) JSON line as delivered to Firehose
// or S3: the documented field names as keys, every value a string, fields
// in the order the delivery selected, the real-time fields among them.
var cfJSONLine = `{"date":"2017-06-22","time":"00:41:00","x-edge-location":"NRT51-C1","asn":"2516","timestamp(ms)":"1498092060123","origin-fbl":"0.120","origin-lbl":"0.121","c-ip":"198.51.100.7","cs-method":"GET","cs(Host)":"d111111abcdef8.cloudfront.net","cs-uri-stem":"/mypage/profile","sc-status":"200","cs(Referer)":"https://www.example-market.jp/","cs(User-Agent)":"Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)","cs-uri-query":"tab=a%2520b&q=%25E3%2581%2582","cs(Cookie)":"_ga=GA1.2.1234567.1498000000;%20sid=0123456789abcdef;%20lang=ja","x-edge-result-type":"Miss","x-edge-request-id":"SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==","x-host-header":"www.example-market.jp","cs-protocol":"https","x-edge-response-result-type":"Miss","cs-protocol-version":"HTTP/2.0","x-edge-detailed-result-type":"OriginShieldHit","sc-content-type":"text/html","c-country":"JP","cache-behavior-path-pattern":"/mypage/*"}`

// cfJSON returns cfJSONLine with the string values of keys replaced (key,
// value pairs; a value "DROP" removes the key, RAW:x writes x unquoted).
func cfJSON(set ...string) string {
	s := cfJSONLine
	for i := 0; i+1 < len(set); i += 2 {
		k, v := `"`+set[i]+`":`, set[i+1]
		start := strings.Index(s, k)
		if start < 0 {
			s = s[:len(s)-1] + `,` + k + `"` + v + `"}`
			continue
		}
		end := start + len(k)
		if s[end] == '"' {
			end += 1 + strings.IndexByte(s[end+1:], '"') + 1
		} else {
			end += strings.IndexAny(s[end:], ",}")
		}
		switch {
		case v == "DROP":
			if s[end] == ',' {
				end++
			} else if s[start-1] == ',' {
				start--
			}
			s = s[:start] + s[end:]
		case strings.HasPrefix(v, "RAW:"):
			s = s[:start] + k + v[4:] + s[end:]
		default:
			s = s[:start] + k + `"` + v + `"` + s[end:]
		}
	}
	return s
}

func TestCloudFrontV2JSON(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00.123Z"), Pop: b("NRT51-C1"), ClientIP: b("198.51.100.7"), Method: b("GET"),
		Host: b("www.example-market.jp"), Path: b("/mypage/profile"), Query: b("tab=a%20b&q=%E3%81%82"), Status: 200,
		Cache: CacheCached, CacheRaw: b("OriginShieldHit"), Identity: b("0123456789abcdef")}
	with := func(f func(r *Record)) Record { r := std; f(&r); return r }
	tests := []struct {
		name   string
		id     Identity
		line   string
		want   Record
		reject string // substring of the reason; empty = must parse
	}{
		{name: "typical line: timestamp(ms), origin shield hit", id: cookie, line: cfJSONLine, want: std},
		{name: "no timestamp(ms): date and time, whole seconds", id: cookie, line: cfJSON("timestamp(ms)", "DROP"),
			want: with(func(r *Record) { r.Time = ns("2017-06-22T00:41:00Z"); r.Coarse = true })},
		{name: "hit", id: cookie, line: cfJSON("x-edge-result-type", "Hit", "x-edge-response-result-type", "Hit", "x-edge-detailed-result-type", "Hit"),
			want: with(func(r *Record) { r.CacheRaw = b("Hit") })},
		{name: "miss without the detailed type", id: cookie, line: cfJSON("x-edge-detailed-result-type", "DROP"),
			want: with(func(r *Record) { r.Cache = CacheFill; r.CacheRaw = b("Miss") })},
		{name: "disconnect after a hit", id: cookie, line: cfJSON("x-edge-result-type", "Error", "x-edge-response-result-type", "Hit", "x-edge-detailed-result-type", "ClientCommError"),
			want: with(func(r *Record) { r.CacheRaw = b("Hit") })},
		{name: "error", id: cookie, line: cfJSON("sc-status", "403", "x-edge-result-type", "Error", "x-edge-response-result-type", "Error", "x-edge-detailed-result-type", "ClientGeoBlocked"),
			want: with(func(r *Record) { r.Status = 403; r.Cache = CacheOrigin; r.CacheRaw = b("ClientGeoBlocked") })},
		{name: "unknown cache value kept", id: cookie, line: cfJSON("x-edge-detailed-result-type", "RegionalEdgeHit"),
			want: with(func(r *Record) { r.Cache = CacheUnknown; r.CacheRaw = b("RegionalEdgeHit") })},
		{name: "numbers instead of strings", id: cookie, line: cfJSON("sc-status", "RAW:200", "timestamp(ms)", "RAW:1498092060123"), want: std},
		{name: "dashes: no pop, no query, no cookie", id: cookie, line: cfJSON("x-edge-location", "-", "cs-uri-query", "-", "cs(Cookie)", "-"),
			want: with(func(r *Record) { r.Pop = nil; r.Query = nil; r.Identity = nil })},
		{name: "IPv6 viewer", id: cookie, line: cfJSON("c-ip", "2001:db8::7"), want: with(func(r *Record) { r.ClientIP = b("2001:db8::7") })},
		{name: "host falls back to cs(Host)", id: cookie, line: cfJSON("x-host-header", "DROP"), want: with(func(r *Record) { r.Host = b("d111111abcdef8.cloudfront.net") })},
		{name: "full URL in cs-uri-stem is split", id: cookie, line: cfJSON("x-host-header", "DROP", "cs(Host)", "DROP", "cs-uri-stem", "https://shop.example.jp/mypage/profile"),
			want: with(func(r *Record) { r.Host = b("shop.example.jp") })},
		{name: "field identity", id: Identity{Kind: "field", Name: "x-edge-request-id"}, line: cfJSONLine,
			want: with(func(r *Record) { r.Identity = b("SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==") })},
		{name: "no identity", id: Identity{}, line: cfJSONLine, want: with(func(r *Record) { r.Identity = nil })},
		{name: "spaces and CRLF", id: cookie, line: strings.ReplaceAll(cfJSONLine, `":"`, `" : "`) + "\r", want: std},

		{name: "host name in the address field", id: cookie, line: cfJSON("c-ip", "viewer.example.net"), reject: `c-ip "viewer.example.net" is not an IP address`},
		{name: "path not starting with /", id: cookie, line: cfJSON("cs-uri-stem", "mypage/profile"), reject: `cs-uri-stem "mypage/profile" is neither a path beginning with / nor a full URL`},
		{name: "no status", id: cookie, line: cfJSON("sc-status", "DROP"), reject: "sc-status missing"},
		{name: "status not a number", id: cookie, line: cfJSON("sc-status", "OK"), reject: `sc-status "OK" is not a number`},
		{name: "no result type at all", id: cookie, line: cfJSON("x-edge-result-type", "DROP", "x-edge-response-result-type", "DROP", "x-edge-detailed-result-type", "DROP"),
			reject: "x-edge-result-type missing"},
		{name: "no time at all", id: cookie, line: cfJSON("timestamp(ms)", "DROP", "time", "DROP"), reject: "date and time missing (and no timestamp(ms))"},
		{name: "bad timestamp(ms)", id: cookie, line: cfJSON("timestamp(ms)", "soon"), reject: `timestamp(ms) "soon" is not a Unix time`},
		{name: "no path", id: cookie, line: cfJSON("cs-uri-stem", "DROP"), reject: "cs-uri-stem missing"},
		{name: "value of the wrong type", id: cookie, line: cfJSON("cs-uri-stem", "RAW:[\"/\"]"), reject: "cs-uri-stem is an array, want a string or a number"},
		{name: "truncated", id: cookie, line: cfJSONLine[:200], reject: "unterminated string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewCloudFront(tc.id)
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

// TestCloudFrontCacheValues: logs[].cache_values reach both the tab-separated
// and the JSON reader.
func TestCloudFrontCacheValues(t *testing.T) {
	p, err := NewParser(incident.LogSource{Format: "cloudfront", Identity: "cookie:sid", CacheValues: map[string]string{"RegionalEdgeHit": "CACHED"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-detailed-result-type", "RegionalEdgeHit"),
		cfJSON("x-edge-detailed-result-type", "RegionalEdgeHit"),
	} {
		var rec Record
		if err := p.Parse([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Cache != CacheCached || string(rec.CacheRaw) != "RegionalEdgeHit" {
			t.Errorf("%.20s…: cache %v %q, want CACHED RegionalEdgeHit", line, rec.Cache, rec.CacheRaw)
		}
	}
}

// TestCloudFrontV2File reads JSON lines through Read: every line counted,
// one rejected with its reason.
func TestCloudFrontV2File(t *testing.T) {
	content := cfJSONLine + "\n" + cfJSON("timestamp(ms)", "1498092061456", "cs(Cookie)", "-") + "\n" + cfJSON("c-ip", "example.net") + "\n"
	path := filepath.Join(t.TempDir(), "cf-v2.log")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	hp, err := NewCloudFront(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	sink := &cfSink{}
	stats, err := Read(context.Background(), []Input{{Path: path, Name: "cf", Parser: hp}}, Options{Workers: 1, NewSink: func(int) Sink { return sink }})
	if err != nil {
		t.Fatal(err)
	}
	if s := stats[0]; s.Lines != 3 || s.Parsed != 2 || s.Rejected != 1 {
		t.Fatalf("lines %d parsed %d rejected %d (%+v), want 3, 2, 1", s.Lines, s.Parsed, s.Rejected, s.Rejects)
	}
	want := "2017-06-22T00:41:00.123Z 200 0123456789abcdef /mypage/profile\n2017-06-22T00:41:01.456Z 200  /mypage/profile"
	if got := strings.Join(sink.got, "\n"); got != want {
		t.Errorf("records:\n%s\nwant:\n%s", got, want)
	}
}

func TestCloudFrontV2ZeroAllocs(t *testing.T) {
	for _, id := range []Identity{{Kind: "cookie", Name: "sid"}, {Kind: "field", Name: "x-edge-request-id"}, {}} {
		hp, err := NewCloudFront(id)
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len(cfJSONLine))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, cfJSONLine)
			rec = Record{}
			if err := hp.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: Parse allocates %.1f times per line, want 0", id, allocs)
		}
	}
}

func BenchmarkCloudFrontV2JSON(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCloudFront(Identity{Kind: "cookie", Name: "sid"}) }, []byte(cfJSONLine), true)
}

func FuzzCloudFrontV2JSON(f *testing.F) {
	for _, s := range []string{
		cfJSONLine,
		cfJSON("timestamp(ms)", "DROP", "sc-status", "RAW:200"),
		cfJSON("x-edge-result-type", "Error", "x-edge-response-result-type", "Hit", "x-edge-detailed-result-type", "ClientCommError"),
		cfJSON("c-ip", "[2001:db8::1]:443", "cs-uri-stem", "https://a.example/x?y"),
		cfJSON("c-ip", "evil.example"),
		cfJSON("cs(Cookie)", "sid%3D%22x%22%3B%20a%3D%2", "cs-uri-query", "a=%E3%81%82%"),
		`{"date":"2017-06-22","time":"00:41:00","cs-uri-stem":"/","sc-status":"200","x-edge-result-type":"Hit"}`,
		`{"timestamp(ms)":"1","cs-uri-stem":"/","sc-status":"000","x-edge-detailed-result-type":"\u0048it"}`,
		cfJSONLine[:100],
	} {
		f.Add([]byte(s))
	}
	hp, err := NewCloudFront(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 || in[0] != '{' {
			return
		}
		line := append([]byte(nil), in...)
		var rec Record
		err := hp.Parse(line, &rec)
		checkParseResult(t, in, &rec, err)
		if err == nil && (len(rec.Path) == 0 || rec.Path[0] != '/') {
			t.Fatalf("path %q of %q does not begin with /", rec.Path, in)
		}
	})
}
