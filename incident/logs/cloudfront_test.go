package logs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cfSample holds a value for every CloudFront field name, for building lines.
var cfSample = map[string]string{
	"date": "2017-06-22", "time": "00:41:00", "x-edge-location": "NRT51-C1", "sc-bytes": "5380",
	"c-ip": "198.51.100.7", "cs-method": "GET", "cs(Host)": "d111111abcdef8.cloudfront.net",
	"cs-uri-stem": "/mypage/profile", "sc-status": "200", "cs(Referer)": "https://www.example-market.jp/",
	"cs(User-Agent)": "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/58.0.3029.110%20Safari/537.36",
	"cs-uri-query":   "tab=a%2520b&q=%25E3%2581%2582", "cs(Cookie)": "_ga=GA1.2.1234567.1498000000;%20sid=0123456789abcdef;%20lang=ja",
	"x-edge-result-type": "Hit", "x-edge-request-id": "SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==",
	"x-host-header": "www.example-market.jp", "cs-protocol": "https", "cs-bytes": "412", "time-taken": "0.002",
	"x-forwarded-for": "-", "ssl-protocol": "TLSv1.2", "ssl-cipher": "ECDHE-RSA-AES128-GCM-SHA256",
	"x-edge-response-result-type": "Hit", "cs-protocol-version": "HTTP/2.0", "fle-status": "-",
	"fle-encrypted-fields": "-", "c-port": "51234", "time-to-first-byte": "0.001",
	"x-edge-detailed-result-type": "Hit", "sc-content-type": "text/html", "sc-content-len": "5123",
	"sc-range-start": "-", "sc-range-end": "-", "x-user": "u-42",
	"timestamp(ms)": "1498092060123", "c-country": "JP", "asn": "2516", "origin-fbl": "0.120", "origin-lbl": "0.121",
}

// cfLine builds a tab-separated line in the given #Fields order, with the
// sample values changed by set (name, value pairs).
func cfLine(order string, set ...string) string {
	vals := map[string]string{}
	for k, v := range cfSample {
		vals[k] = v
	}
	for i := 0; i+1 < len(set); i += 2 {
		vals[set[i]] = set[i+1]
	}
	names := strings.Fields(order)
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = vals[n]
	}
	return strings.Join(out, "\t")
}

// cfOld is the order of older (2017) logs: 24 fields, no fle-*/c-port/....
const cfOld = "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version"

// cfV2 is a standard logging (v2) W3C selection with timestamp(ms), the
// detailed result type and no date or time.
const cfV2 = "timestamp(ms) c-ip cs-method x-host-header cs-uri-stem cs-uri-query sc-status x-edge-location x-edge-detailed-result-type cs(Cookie) c-country"

// cfShuffled is a custom order (as a real-time log configuration may have).
const cfShuffled = "c-ip time date x-edge-result-type cs-uri-query cs-uri-stem sc-status x-user cs(Cookie) cs-method x-host-header x-edge-location"

var benchCloudFrontLine = []byte(cfLine(CloudFrontFields))

// benchCloudFrontMissLine is a miss: the detailed result type is read too.
var benchCloudFrontMissLine = []byte(cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-response-result-type", "Miss", "x-edge-detailed-result-type", "Miss"))

func TestCloudFrontParse(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	std := Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("NRT51-C1"), ClientIP: b("198.51.100.7"), Method: b("GET"),
		Host: b("www.example-market.jp"), Path: b("/mypage/profile"), Query: b("tab=a%20b&q=%E3%81%82"), Status: 200,
		Cache: CacheCached, CacheRaw: b("Hit"), Identity: b("0123456789abcdef")}
	with := func(f func(r *Record)) Record { r := std; f(&r); return r }
	tests := []struct {
		name    string
		id      Identity
		headers []string // header lines given before the line, in order
		line    string
		want    Record
		reject  string // substring of the reason; empty = must parse
	}{
		{name: "default order before any header", id: cookie, line: cfLine(CloudFrontFields), want: std},
		{name: "version and fields headers", id: cookie, headers: []string{"#Version: 1.0", "#Fields: " + CloudFrontFields}, line: cfLine(CloudFrontFields), want: std},
		{name: "older version, fewer fields", id: cookie, headers: []string{"#Version: 1.0", "#Fields: " + cfOld}, line: cfLine(cfOld), want: std},
		{name: "another order, custom identity field", id: Identity{Kind: "field", Name: "x-user"}, headers: []string{"#Fields: " + cfShuffled},
			line: cfLine(cfShuffled), want: with(func(r *Record) { r.Host = b("www.example-market.jp"); r.Identity = b("u-42") })},
		{name: "header with CRLF and extra spaces", id: cookie, headers: []string{"#Fields:  " + strings.ReplaceAll(cfOld, " ", "  ") + " \r"}, line: cfLine(cfOld) + "\r", want: std},
		{name: "IPv6 client, dashes, no query, no cookie", id: cookie,
			line: cfLine(CloudFrontFields, "c-ip", "2001:db8:85a3::8a2e:370:7334", "cs-uri-query", "-", "cs(Cookie)", "-", "x-edge-location", "-"),
			want: with(func(r *Record) {
				r.ClientIP = b("2001:db8:85a3::8a2e:370:7334")
				r.Query = nil
				r.Identity = nil
				r.Pop = nil
			})},
		{name: "viewer closed the connection: status 000", id: cookie,
			line: cfLine(CloudFrontFields, "sc-status", "000", "x-edge-result-type", "Error", "x-edge-response-result-type", "Error", "x-edge-detailed-result-type", "ClientHungUpRequest"),
			want: with(func(r *Record) { r.Status = 0; r.Cache = CacheOrigin; r.CacheRaw = b("ClientHungUpRequest") })},
		{name: "miss", id: cookie, line: cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-response-result-type", "Miss", "x-edge-detailed-result-type", "Miss"),
			want: with(func(r *Record) { r.Cache = CacheFill; r.CacheRaw = b("Miss") })},
		{name: "refresh hit", id: cookie, line: cfLine(CloudFrontFields, "x-edge-result-type", "RefreshHit", "x-edge-response-result-type", "RefreshHit", "x-edge-detailed-result-type", "RefreshHit"),
			want: with(func(r *Record) { r.CacheRaw = b("RefreshHit") })},
		// x-edge-detailed-result-type is used when logged.
		{name: "origin shield hit: the edge missed, the shield's stored object was served", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-response-result-type", "Miss", "x-edge-detailed-result-type", "OriginShieldHit"),
			want: with(func(r *Record) { r.Cache = CacheCached; r.CacheRaw = b("OriginShieldHit") })},
		{name: "origin shield hit as the result type (older reference)", id: cookie, headers: []string{"#Fields: " + cfOld},
			line: cfLine(cfOld, "x-edge-result-type", "OriginShieldHit", "x-edge-response-result-type", "OriginShieldHit"),
			want: with(func(r *Record) { r.CacheRaw = b("OriginShieldHit") })},
		{name: "response made by an origin-request Lambda@Edge function", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-response-result-type", "Miss", "x-edge-detailed-result-type", "MissGeneratedResponse"),
			want: with(func(r *Record) { r.Cache = CacheFill; r.CacheRaw = b("MissGeneratedResponse") })},
		{name: "origin DNS error, as in the reference's example file", id: cookie,
			line: cfLine(CloudFrontFields, "sc-status", "502", "x-edge-result-type", "Error", "x-edge-response-result-type", "Error", "x-edge-detailed-result-type", "OriginDnsError"),
			want: with(func(r *Record) { r.Status = 502; r.Cache = CacheOrigin; r.CacheRaw = b("OriginDnsError") })},
		{name: "Lambda@Edge execution error", id: cookie,
			line: cfLine(CloudFrontFields, "sc-status", "503", "x-edge-result-type", "LambdaExecutionError", "x-edge-response-result-type", "LambdaExecutionError", "x-edge-detailed-result-type", "LambdaExecutionError"),
			want: with(func(r *Record) { r.Status = 503; r.Cache = CacheOrigin; r.CacheRaw = b("LambdaExecutionError") })},
		{name: "viewer disconnected during a cached response: read as the hit it was", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Error", "x-edge-response-result-type", "Hit", "x-edge-detailed-result-type", "ClientCommError"),
			want: with(func(r *Record) { r.Cache = CacheCached; r.CacheRaw = b("Hit") })},
		{name: "disconnect during a miss, older logs without the detailed type", id: cookie, headers: []string{"#Fields: " + cfOld},
			line: cfLine(cfOld, "x-edge-result-type", "Error", "x-edge-response-result-type", "Miss"),
			want: with(func(r *Record) { r.Cache = CacheFill; r.CacheRaw = b("Miss") })},
		{name: "a dash in the detailed type falls back to the result type", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-detailed-result-type", "-"),
			want: with(func(r *Record) { r.Cache = CacheFill; r.CacheRaw = b("Miss") })},
		{name: "a hit is not refined (the reference: the detailed type is the same)", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Hit", "x-edge-detailed-result-type", "OriginShieldHit"),
			want: with(func(r *Record) { r.CacheRaw = b("Hit") })},
		{name: "truncated after the core fields of a miss", id: cookie,
			line: strings.Join(strings.Split(cfLine(CloudFrontFields, "x-edge-result-type", "Miss"), "\t")[:16], "\t"), reject: "has 16 fields, the #Fields header names 33"},
		{name: "unknown detailed type stays unknown, raw kept", id: cookie,
			line: cfLine(CloudFrontFields, "x-edge-result-type", "Miss", "x-edge-response-result-type", "Miss", "x-edge-detailed-result-type", "RegionalEdgeHit"),
			want: with(func(r *Record) { r.Cache = CacheUnknown; r.CacheRaw = b("RegionalEdgeHit") })},
		{name: "unknown result type stays unknown, raw kept", id: cookie, headers: []string{"#Fields: " + cfOld},
			line: cfLine(cfOld, "x-edge-result-type", "Stale", "x-edge-response-result-type", "Stale"),
			want: with(func(r *Record) { r.Cache = CacheUnknown; r.CacheRaw = b("Stale") })},
		{name: "the two newest fields after the 33", id: cookie, line: cfLine(CloudFrontFields+" "+cloudFrontNewer, "distribution-tenant-id", "dt_2abc", "connection-id", "conn-1"), want: std},
		{name: "v2 W3C file with timestamp(ms): millisecond time", id: cookie, headers: []string{"#Fields: " + cfV2},
			line: cfLine(cfV2), want: with(func(r *Record) { r.Time = ns("2017-06-22T00:41:00.123Z"); r.Coarse = false })},
		{name: "no identity: every request anonymous", id: Identity{}, line: cfLine(CloudFrontFields), want: with(func(r *Record) { r.Identity = nil })},
		{name: "full URL in cs-uri-stem is split", id: cookie, headers: []string{"#Fields: " + strings.Replace(cfOld, "x-host-header ", "", 1)},
			line: cfLine(strings.Replace(cfOld, "x-host-header ", "", 1), "cs-uri-stem", "https://shop.example.jp:443/mypage/profile", "cs(Host)", "-"),
			want: with(func(r *Record) { r.Host = b("shop.example.jp") })},
		{name: "UTF-8 and encoded query, encoded cookie separators", id: cookie,
			line: cfLine(CloudFrontFields, "cs-uri-query", "q=%E3%81%82%E3%81%84&name=%22x%22", "cs(Cookie)", "sid%3D%22quoted%22%3B%20a%3Db"),
			want: with(func(r *Record) { r.Query = b(`q=あい&name="x"`); r.Identity = b("quoted") })},
		{name: "UTF-8 path as logged", id: cookie, line: cfLine(CloudFrontFields, "cs-uri-stem", "/商品/%E3%81%82"),
			want: with(func(r *Record) { r.Path = b("/商品/%E3%81%82") })},
		{name: "cookie name must match whole", id: cookie, line: cfLine(CloudFrontFields, "cs(Cookie)", "xsid=1;%20sidx=2"),
			want: with(func(r *Record) { r.Identity = nil })},
		{name: "identity from a standard field", id: Identity{Kind: "field", Name: "c-ip"}, line: cfLine(CloudFrontFields),
			want: with(func(r *Record) { r.Identity = b("198.51.100.7") })},
		{name: "host falls back to cs(Host)", id: cookie, headers: []string{"#Fields: " + strings.Replace(cfOld, "x-host-header ", "", 1)},
			line: cfLine(strings.Replace(cfOld, "x-host-header ", "", 1)), want: with(func(r *Record) { r.Host = b("d111111abcdef8.cloudfront.net") })},
		{name: "more fields than the header is fine", id: cookie, headers: []string{"#Fields: " + cfOld}, line: cfLine(CloudFrontFields), want: std},

		{name: "truncated mid-field", id: cookie, line: cfLine(CloudFrontFields)[:200], reject: "has 11 fields, the #Fields header names 33"},
		{name: "truncated in the last field", id: cookie, headers: []string{"#Fields: " + cfOld}, line: cfLine(cfOld)[:len(cfLine(cfOld))-9], reject: "has 23 fields, the #Fields header names 24"},
		{name: "one field", id: cookie, line: "garbage", reject: "has 1 fields"},
		{name: "space-separated", id: cookie, line: strings.ReplaceAll(cfLine(CloudFrontFields), "\t", " "), reject: "has 1 fields"},
		{name: "bad status", id: cookie, line: cfLine(CloudFrontFields, "sc-status", "abc"), reject: `sc-status "abc" is not a number`},
		{name: "dash status", id: cookie, line: cfLine(CloudFrontFields, "sc-status", "-"), reject: `sc-status "-" is not a number`},
		{name: "bad date", id: cookie, line: cfLine(CloudFrontFields, "date", "2017-02-30"), reject: `date "2017-02-30" time "00:41:00" is not a valid`},
		{name: "host name in the address field", id: cookie, line: cfLine(CloudFrontFields, "c-ip", "viewer.example.net"), reject: `c-ip "viewer.example.net" is not an IP address`},
		{name: "empty address field", id: cookie, line: cfLine(CloudFrontFields, "c-ip", "-"), reject: "c-ip is empty"},
		{name: "path not starting with /", id: cookie, line: cfLine(CloudFrontFields, "cs-uri-stem", "mypage/profile"), reject: `cs-uri-stem "mypage/profile" is neither a path beginning with / nor a full URL`},
		{name: "bad timestamp(ms)", id: cookie, headers: []string{"#Fields: " + cfV2}, line: cfLine(cfV2, "timestamp(ms)", "yesterday"), reject: `timestamp(ms) "yesterday" is not a Unix time in milliseconds`},
		{name: "one field short of the v2 header", id: cookie, headers: []string{"#Fields: " + cfV2}, line: cfLine(cfV2)[:strings.LastIndex(cfLine(cfV2), "\t")], reject: "has 10 fields, the #Fields header names 11"},
		{name: "a JSON line after a #Fields header is not read as JSON", id: cookie, headers: []string{"#Fields: " + cfV2}, line: cfJSONLine, reject: "has 1 fields, the #Fields header names 11"},
		{name: "identity field not in the default order", id: Identity{Kind: "field", Name: "x-user"}, line: cfLine(CloudFrontFields), reject: "no #Fields header before this line, and the standard fields have no x-user field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hp, err := NewCloudFront(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			var p Parser = hp
			for _, h := range tc.headers {
				if p, err = hp.Header([]byte(h)); err != nil {
					t.Fatalf("Header(%q): %v", h, err)
				}
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

func TestCloudFrontHeader(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	hp, err := NewCloudFront(cookie)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := hp.Header([]byte("#Version: 1.0")); err != nil || p != Parser(hp) {
		t.Errorf("#Version: got %v, %v; want the same parser", p, err)
	}
	if p, err := hp.Header([]byte("# a comment")); err != nil || p != Parser(hp) {
		t.Errorf("comment: got %v, %v; want the same parser", p, err)
	}
	// A parser from a header is itself a HeaderParser.
	p, err := hp.Header([]byte("#Fields: " + cfOld))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.(HeaderParser); !ok {
		t.Errorf("parser from #Fields is a %T, want a HeaderParser", p)
	}
	for _, tc := range []struct {
		id     Identity
		header string
		want   string
	}{
		{cookie, "#Fields: date time cs-uri-stem x-edge-result-type", "no sc-status field"},
		{cookie, "#Fields: time cs-uri-stem sc-status x-edge-result-type", "no date field"},
		{cookie, "#Fields: date time sc-status x-edge-result-type cs(Cookie)", "no cs-uri-stem field"},
		{cookie, "#Fields: date time cs-uri-stem sc-status cs(Cookie)", "no x-edge-result-type field"},
		{cookie, "#Fields: timestamp(ms) cs-uri-stem sc-status x-edge-detailed-result-type", "no cs(Cookie) field"},
		{Identity{}, "#Fields: time cs-uri-stem sc-status x-edge-result-type", "no date field (and no timestamp(ms))"},
		{cookie, "#Fields: date time cs-uri-stem sc-status x-edge-result-type", "no cs(Cookie) field, needed for identity cookie:sid"},
		{Identity{Kind: "field", Name: "x-user"}, "#Fields: " + cfOld, "no x-user field"},
		{cookie, "#Fields:", "names no fields"},
		{cookie, "date time", "not a header line"},
	} {
		hp, _ := NewCloudFront(tc.id)
		if _, err := hp.Header([]byte(tc.header)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Header(%q) error = %v, want %q", tc.header, err, tc.want)
		}
	}
	// Parse leaves header lines to Header.
	var rec Record
	if err := hp.Parse([]byte("#Fields: date"), &rec); !errors.Is(err, errHeader) {
		t.Errorf("Parse(header line) = %v, want errHeader", err)
	}
}

func TestNewCloudFrontErrors(t *testing.T) {
	for _, id := range []Identity{{Kind: "remote_user"}, {Kind: "header", Name: "x"}, {Kind: "field", Name: "a..b"}} {
		if _, err := NewCloudFront(id); err == nil {
			t.Errorf("NewCloudFront(%+v) succeeded, want an error", id)
		}
	}
}

// TestCloudFrontFile reads a file through Read: CRLF endings, #Version and
// #Fields lines (not counted as lines), and a second #Fields header in the
// middle (concatenated files) that changes the order.
func TestCloudFrontFile(t *testing.T) {
	content := "#Version: 1.0\r\n#Fields: " + cfOld + "\r\n" +
		cfLine(cfOld) + "\r\n" +
		cfLine(cfOld, "sc-status", "404", "cs(Cookie)", "-") + "\r\n" +
		"#Version: 1.0\r\n#Fields: " + cfShuffled + "\r\n" +
		cfLine(cfShuffled, "time", "00:42:00") + "\r\n" +
		cfLine(cfShuffled)[:40] + "\r\n"
	path := filepath.Join(t.TempDir(), "E2EXAMPLE.2017-06-22-00.abcd1234")
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
	s := stats[0]
	if s.Lines != 4 || s.Parsed != 3 || s.Rejected != 1 {
		t.Fatalf("lines %d parsed %d rejected %d (%+v), want 4, 3, 1", s.Lines, s.Parsed, s.Rejected, s.Rejects)
	}
	want := []string{
		"2017-06-22T00:41:00Z 200 0123456789abcdef /mypage/profile",
		"2017-06-22T00:41:00Z 404  /mypage/profile",
		"2017-06-22T00:42:00Z 200 0123456789abcdef /mypage/profile",
	}
	if strings.Join(sink.got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(sink.got, "\n"), strings.Join(want, "\n"))
	}
}

type cfSink struct {
	mu  sync.Mutex
	got []string
}

func (s *cfSink) Record(_ int, _ int64, r *Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, strings.Join([]string{
		time.Unix(0, r.Time).UTC().Format(time.RFC3339Nano), strconv.Itoa(r.Status), string(r.Identity), string(r.Path),
	}, " "))
}

func TestCloudFrontZeroAllocs(t *testing.T) {
	hp, err := NewCloudFront(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range [][]byte{benchCloudFrontLine, benchCloudFrontMissLine} {
		line := make([]byte, len(l))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, l)
			rec = Record{}
			if err := hp.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("Parse allocates %.1f times per line, want 0", allocs)
		}
	}
}

func BenchmarkCloudFront(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCloudFront(Identity{Kind: "cookie", Name: "sid"}) }, benchCloudFrontLine, true)
}

func BenchmarkCloudFrontMiss(b *testing.B) {
	benchParser(b, func() (Parser, error) { return NewCloudFront(Identity{Kind: "cookie", Name: "sid"}) }, benchCloudFrontMissLine, true)
}

func FuzzCloudFront(f *testing.F) {
	f.Add("", []byte(cfLine(CloudFrontFields)))
	f.Add("#Fields: "+cfOld, []byte(cfLine(cfOld)+"\r"))
	f.Add("#Fields: "+cfShuffled, []byte(cfLine(cfShuffled, "cs-uri-query", "a=%E3%81%82%", "cs(Cookie)", "sid%3D%22x%22%3B%20a%3D%2")))
	f.Add("#Version: 1.0", []byte(cfLine(CloudFrontFields, "sc-status", "000", "c-ip", "2001:db8::1")))
	f.Add("#Fields: date time cs-uri-stem sc-status x-edge-result-type cs(Cookie)", []byte("2017-06-22\t00:41:00\t/\t200\tHit\tsid=1"))
	f.Add("", []byte(cfLine(CloudFrontFields)[:100]))
	f.Add("", []byte("#Fields: date time"))
	f.Add("", benchCloudFrontMissLine)
	f.Add("", []byte(cfLine(CloudFrontFields, "x-edge-result-type", "Error", "x-edge-response-result-type", "Hit", "x-edge-detailed-result-type", "ClientCommError")))
	f.Add("#Fields: "+cfV2, []byte(cfLine(cfV2, "cs-uri-stem", "https://a.example/p")))
	f.Add("", []byte(cfJSONLine))
	// Client addresses that reject the line, or lose their port.
	f.Add("", []byte(cfLine(CloudFrontFields, "c-ip", "evil.example")))
	f.Add("", []byte(cfLine(CloudFrontFields, "c-ip", "-")))
	f.Add("", []byte(cfLine(CloudFrontFields, "c-ip", "[::1]:80")))
	f.Add("", []byte(cfLine(CloudFrontFields, "c-ip", "203.0.113.256")))
	hp, err := NewCloudFront(Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string, in []byte) {
		var p Parser = hp
		if header != "" {
			np, err := hp.Header([]byte(header))
			if err != nil {
				return
			}
			p = np
		}
		line := append([]byte(nil), in...)
		var rec Record
		err := p.Parse(line, &rec)
		if !(errors.Is(err, errHeader) && len(in) > 0 && in[0] == '#') {
			checkParseResult(t, in, &rec, err)
		}
		// The in-place decoder agrees with percentDecode.
		if got, want := decodeInPlace(append([]byte(nil), in...)), percentDecode(nil, in); !bytes.Equal(got, want) {
			t.Fatalf("decodeInPlace(%q) = %q, want %q", in, got, want)
		}
	})
}

func TestDecodeInPlace(t *testing.T) {
	for _, s := range []string{
		"", "plain", "%", "%4", "%41", "a%41", "%41b", "%zz%41%", "%%41", "a+b%20c", "%E3%81%82%e3%81%84", "x%2", "100%", "%2520", "%4g%41",
	} {
		want := string(percentDecode(nil, []byte(s)))
		if got := string(decodeInPlace([]byte(s))); got != want {
			t.Errorf("decodeInPlace(%q) = %q, want %q (as percentDecode)", s, got, want)
		}
	}
}

func TestIndexTab(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for pos := -1; pos < n; pos++ {
			b := []byte(strings.Repeat("\x08\x0a\x89a", 10)[:n])
			if pos >= 0 {
				b[pos] = '\t'
				if pos+2 < n {
					b[pos+2] = '\t'
				}
			}
			if got, want := indexTab(b), bytes.IndexByte(b, '\t'); got != want {
				t.Fatalf("indexTab(%q) = %d, want %d", b, got, want)
			}
		}
	}
}
