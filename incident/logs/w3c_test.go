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

// iisFields is IIS's default W3C field set plus cookie, host and bytes.
const iisFields = "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken x-cache"

var benchW3CLine = []byte("2017-06-22 00:41:00 W3SVC1 WEB01 10.0.0.5 GET /items/123456 ref=top 443 - 198.51.100.7 Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36 _ga=GA1.2.1;+sid=0123456789abcdef;+lang=ja https://www.example-market.jp/ www.example-market.jp 200 0 0 5380 512 15 HIT")

func newW3CWith(t testing.TB, fields map[string]string, id Identity, header string) Parser {
	t.Helper()
	hp, err := NewW3C(fields, id)
	if err != nil {
		t.Fatal(err)
	}
	p, err := hp.Header([]byte(header))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestW3CParse(t *testing.T) {
	cache := map[string]string{"cache": "x-cache"}
	cookie := Identity{Kind: "cookie", Name: "sid"}
	const iisDefault = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
	tests := []struct {
		name   string
		fields map[string]string
		id     Identity
		header string
		line   string
		want   Record
		reject string
	}{
		{name: "IIS with cookie, host and an x- cache field", fields: cache, id: cookie, header: iisFields, line: string(benchW3CLine),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("WEB01"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("0123456789abcdef")}},
		{name: "IIS default fields, no cache field, user name identity", id: Identity{Kind: "field", Name: "cs-username"}, header: iisDefault,
			line: "2017-06-22 00:41:00 10.0.0.5 GET /mypage/profile - 443 CORP\\alice 2001:db8::1 Mozilla/5.0+(X11) - 200 0 0 31",
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, ClientIP: b("2001:db8::1"), Method: b("GET"), Path: b("/mypage/profile"), Status: 200, Cache: CacheOrigin, Identity: b("CORP\\alice")}},
		{name: "fraction of a second, other order, pop field, no identity", fields: map[string]string{"cache": "x-edge-result", "pop": "x-pop"}, header: "#Fields: x-pop c-ip date time cs-method cs-uri-stem sc-status x-edge-result",
			line: "NRT1 203.0.113.9:5000 2017-06-22 00:41:00.250 GET /p 200 TCP_MISS",
			want: Record{Time: ns("2017-06-22T00:41:00.25Z"), Pop: b("NRT1"), ClientIP: b("203.0.113.9"), Method: b("GET"), Path: b("/p"), Status: 200, Cache: CacheFill, CacheRaw: b("TCP_MISS")}},
		{name: "full URL in cs-uri is split", fields: cache, header: "#Fields: date time cs-uri sc-status x-cache",
			line: "2017-06-22 00:41:00 https://shop.example:443/mypage?a=1 200 MISS",
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/mypage"), Query: b("a=1"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS")}},
		{name: "unknown cache value is kept", fields: cache, header: "#Fields: date time cs-uri-stem sc-status x-cache",
			line: "2017-06-22 00:41:00 / 200 TCP_DENIED",
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Path: b("/"), Status: 200, Cache: CacheUnknown, CacheRaw: b("TCP_DENIED")}},

		{name: "a space inside a value: one field too many", fields: cache, id: cookie, header: iisFields,
			line:   "2017-06-22 00:41:00 W3SVC1 WEB01 10.0.0.5 GET /items/1 - 443 - 198.51.100.7 Mozilla/5.0 (X11) - - www.example.jp 200 0 0 5380 512 15 HIT",
			reject: "has 23 fields, the #Fields header names 22 (a value with a space in it?)"},
		{name: "too few fields", fields: cache, header: "#Fields: date time cs-uri-stem sc-status x-cache", line: "2017-06-22 00:41:00 / 200",
			reject: "has 4 fields, the #Fields header names 5"},
		{name: "host name in c-ip", header: "#Fields: date time c-ip cs-uri-stem sc-status", line: "2017-06-22 00:41:00 proxy.example.net / 200",
			reject: `c-ip "proxy.example.net" is not an IP address`},
		{name: "stem not starting with /", header: "#Fields: date time cs-uri-stem sc-status", line: "2017-06-22 00:41:00 mypage/profile 200",
			reject: `request target "mypage/profile" is neither a path beginning with / nor a full URL`},
		{name: "bad date", header: "#Fields: date time cs-uri-stem sc-status", line: "22/06/2017 00:41:00 / 200",
			reject: `date "22/06/2017" time "00:41:00" is not a valid date and time`},
		{name: "bad status", header: "#Fields: date time cs-uri-stem sc-status", line: "2017-06-22 00:41:00 / OK",
			reject: `sc-status "OK" is not a status number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newW3CWith(t, tc.fields, tc.id, tc.header)
			var rec Record
			err := p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tc.reject && !strings.Contains(pe.Reason, tc.reject) {
					t.Fatalf("Parse error = %v, want the reason %q", err, tc.reject)
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

func TestW3CHeader(t *testing.T) {
	hp, err := NewW3C(map[string]string{"cache": "x-cache"}, Identity{Kind: "cookie", Name: "sid"})
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	if err := hp.Parse([]byte("2017-06-22 00:41:00 / 200 HIT"), &rec); err == nil || !strings.Contains(err.Error(), "no #Fields header before this line") {
		t.Errorf("a line before #Fields: %v, want a reject", err)
	}
	for _, h := range []string{"#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0", "#Date: 2017-06-22 00:00:00"} {
		if p, err := hp.Header([]byte(h)); err != nil || p != Parser(hp) {
			t.Errorf("Header(%q) = %v, %v; want the parser unchanged", h, p, err)
		}
	}
	for _, tc := range []struct{ header, want string }{
		{"#Fields: date time cs-uri-stem sc-status cs(Cookie)", "the #Fields header has no x-cache (fields.cache) field"},
		{"#Fields: date time cs-uri-stem x-cache sc-status", "no cs(Cookie) (identity cookie:sid) field"},
		{"#Fields: time cs-uri-stem x-cache", "no date, no sc-status, no cs(Cookie) (identity cookie:sid) field"},
		{"#Fields:", "names no fields"},
	} {
		if _, err := hp.Header([]byte(tc.header)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Header(%q) = %v, want an error containing %q", tc.header, err, tc.want)
		}
	}
	if _, err := NewW3C(map[string]string{"status": "sc-status"}, Identity{}); err == nil || !strings.Contains(err.Error(), "fields.status") {
		t.Errorf("fields.status: %v, want an error", err)
	}
}

func TestW3CCapabilities(t *testing.T) {
	// IIS logs no cache result: an error unless fields.cache names one or
	// the case file accepts it.
	src := incident.LogSource{Format: "w3c"}
	if _, problems := compileCase(&incident.Case{Logs: []incident.LogSource{src}}); len(problems) != 1 || !strings.Contains(problems[0].Msg, "IIS logs no cache result") {
		t.Errorf("problems %+v, want one saying IIS logs no cache result", problems)
	}
	src.Fields = map[string]string{"cache": "x-cache"}
	if _, problems := compileCase(&incident.Case{Logs: []incident.LogSource{src}}); len(problems) != 0 {
		t.Errorf("with fields.cache: problems %+v, want none", problems)
	}
}

// TestW3CFile reads a file through the reader: the header lines are not
// data lines, a line before #Fields and lines after a bad one reject.
func TestW3CFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u_ex170622.log")
	content := "2017-06-22 00:40:00 / 200 HIT\n" +
		"#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n#Date: 2017-06-22 00:00:00\n" +
		"#Fields: date time c-ip cs-uri-stem sc-status x-cache\n" +
		"2017-06-22 00:41:00 203.0.113.9 /a 200 HIT\n2017-06-22 00:41:01 203.0.113.9 /b 200 MISS\n" +
		"#Fields: date time cs-uri-stem\n2017-06-22 00:41:02 /c\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewParser(incident.LogSource{Format: "w3c", Fields: map[string]string{"cache": "x-cache"}})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := Read(context.Background(), []Input{{Path: path, Name: "a", Parser: p}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st := stats[0]; st.Lines != 4 || st.Parsed != 2 || st.Rejected != 2 {
		t.Errorf("lines %d parsed %d rejected %d, want 4 2 2", st.Lines, st.Parsed, st.Rejected)
	}
}

func TestW3CZeroAllocs(t *testing.T) {
	p := newW3CWith(t, map[string]string{"cache": "x-cache"}, Identity{Kind: "cookie", Name: "sid"}, iisFields)
	line := make([]byte, len(benchW3CLine))
	var rec Record
	allocs := testing.AllocsPerRun(100, func() {
		copy(line, benchW3CLine)
		rec = Record{}
		if err := p.Parse(line, &rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per line, want 0", allocs)
	}
}

func FuzzW3C(f *testing.F) {
	f.Add(benchW3CLine)
	for _, s := range []string{
		"2017-06-22 00:41:00.250 W3SVC1 WEB01 10.0.0.5 GET https://x.example/a?b 443 - [2001:db8::1]:5 - a=1;+sid=2 - - 200 0 0 1 1 1 MISS",
		"2017-06-22 00:41:00 W3SVC1 WEB01 10.0.0.5 GET mypage - 443 - proxy.example - - - - 200 0 0 1 1 1 HIT",
		"2017-06-22 00:41:00  ",
	} {
		f.Add([]byte(s))
	}
	p := newW3CWith(f, map[string]string{"cache": "x-cache"}, Identity{Kind: "cookie", Name: "sid"}, iisFields)
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		err := p.Parse(line, &rec)
		if errors.Is(err, errHeader) {
			return
		}
		checkTarget(t, line, &rec, err)
	})
}

func BenchmarkW3CParse(b *testing.B) {
	p := newW3CWith(b, map[string]string{"cache": "x-cache"}, Identity{Kind: "cookie", Name: "sid"}, iisFields)
	line := make([]byte, len(benchW3CLine))
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		copy(line, benchW3CLine)
		rec = Record{}
		if err := p.Parse(line, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
