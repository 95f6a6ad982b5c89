package logs

import (
	"errors"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// TestJSONLSource: the keys issue 14 adds to jsonl (url, request,
// time_format, time_zone, fields.date, boolean cache values).
func TestJSONLSource(t *testing.T) {
	base := map[string]string{"time": "t", "status": "s", "cache": "c"}
	fields := func(extra ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	rec := func(time string, coarse bool, f func(r *Record)) Record {
		r := Record{Time: ns(time), Coarse: coarse, Path: b("/p"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS")}
		if f != nil {
			f(&r)
		}
		return r
	}
	tests := []struct {
		name   string
		src    incident.LogSource
		line   string
		want   Record
		reject string
	}{
		{name: "url: a full URL split into host, path and query", src: incident.LogSource{Fields: fields("url", "u")},
			line: `{"t":"2017-06-22T00:41:00Z","u":"https://shop.example:8443/p?q=1","s":200,"c":"MISS"}`,
			want: rec("2017-06-22T00:41:00Z", true, func(r *Record) { r.Host = b("shop.example"); r.Query = b("q=1") })},
		{name: "url: a host key wins over the URL's", src: incident.LogSource{Fields: fields("url", "u", "host", "h")},
			line: `{"t":"2017-06-22T00:41:00Z","u":"https://shop.example/p","h":"www.example","s":200,"c":"MISS"}`,
			want: rec("2017-06-22T00:41:00Z", true, func(r *Record) { r.Host = b("www.example") })},
		{name: "url without / rejects", src: incident.LogSource{Fields: fields("url", "u")},
			line: `{"t":"2017-06-22T00:41:00Z","u":"shop.example/p","s":200,"c":"MISS"}`, reject: `request target "shop.example/p" is neither a path beginning with / nor a full URL`},
		{name: "request line", src: incident.LogSource{Fields: fields("request", "r")},
			line: `{"t":"2017-06-22T00:41:00Z","r":"POST /p?a=b HTTP/1.1","s":200,"c":"MISS"}`,
			want: rec("2017-06-22T00:41:00Z", true, func(r *Record) { r.Method = b("POST"); r.Query = b("a=b") })},
		{name: "no path, url or request in the line", src: incident.LogSource{Fields: fields("url", "u", "request", "r")},
			line: `{"t":"2017-06-22T00:41:00Z","s":200,"c":"MISS"}`, reject: "u (url), r (request) missing"},
		{name: "boolean cache with cache_values", src: incident.LogSource{Format: "jsonl", Fields: fields("path", "p"), CacheValues: map[string]string{"true": "CACHED", "false": "FILL"}},
			line: `{"t":"2017-06-22T00:41:00Z","p":"/p","s":200,"c":true}`,
			want: rec("2017-06-22T00:41:00Z", true, func(r *Record) { r.Cache = CacheCached; r.CacheRaw = b("true") })},
		{name: "boolean cache without cache_values: unknown", src: incident.LogSource{Fields: fields("path", "p")},
			line: `{"t":"2017-06-22T00:41:00Z","p":"/p","s":200,"c":false}`,
			want: rec("2017-06-22T00:41:00Z", true, func(r *Record) { r.Cache = CacheUnknown; r.CacheRaw = b("false") })},
		{name: "unix_ms", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "unix_ms"},
			line: `{"t":1498092060123,"p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00.123Z", false, nil)},
		{name: "unix_s with a fraction", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "unix_s"},
			line: `{"t":"1498092060.5","p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00.5Z", false, nil)},
		{name: "unix_us (a short value the digits would misread)", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "unix_us"},
			line: `{"t":1000000,"p":"/p","s":200,"c":"MISS"}`, want: rec("1970-01-01T00:00:01Z", false, nil)},
		{name: "unix_ns", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "unix_ns"},
			line: `{"t":1498092060123456789,"p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00.123456789Z", false, nil)},
		{name: "unix_ms rejects text", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "unix_ms"},
			line: `{"t":"2017-06-22T00:41:00Z","p":"/p","s":200,"c":"MISS"}`, reject: `t (time) "2017-06-22T00:41:00Z" is not a Unix time in milliseconds`},
		{name: "rfc3339 rejects a number", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "rfc3339"},
			line: `{"t":1498092060,"p":"/p","s":200,"c":"MISS"}`, reject: "t (time) is a number, want an RFC 3339 string"},
		{name: "a Go layout in a zone", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "02/01/2006 15:04:05.000", TimeZone: "Asia/Tokyo"},
			line: `{"t":"22/06/2017 09:41:00.250","p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00.25Z", false, nil)},
		{name: "a layout that does not match", src: incident.LogSource{Fields: fields("path", "p"), TimeFormat: "2006-01-02 15:04:05"},
			line: `{"t":"2017-06-22T00:41:00Z","p":"/p","s":200,"c":"MISS"}`, reject: `t (time) "2017-06-22T00:41:00Z" does not match time_format "2006-01-02 15:04:05"`},
		{name: "date and time apart (default layout, UTC)", src: incident.LogSource{Fields: fields("path", "p", "date", "d")},
			line: `{"d":"2017-06-22","t":"00:41:00","p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00Z", true, nil)},
		{name: "date and time apart in a zone", src: incident.LogSource{Fields: fields("path", "p", "date", "d"), TimeFormat: "2006/01/02 15:04:05", TimeZone: "Asia/Tokyo"},
			line: `{"d":"2017/06/22","t":"09:41:00","p":"/p","s":200,"c":"MISS"}`, want: rec("2017-06-22T00:41:00Z", true, nil)},
		{name: "date missing", src: incident.LogSource{Fields: fields("path", "p", "date", "d")},
			line: `{"t":"00:41:00","p":"/p","s":200,"c":"MISS"}`, reject: "d (date) missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			src.Format = "jsonl"
			p, err := NewParser(src)
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Reason != tc.reject {
					t.Fatalf("Parse error = %v\nwant reason %q", err, tc.reject)
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

func TestJSONLSourceErrors(t *testing.T) {
	f := map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}
	fd := map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c", "date": "d"}
	for _, tc := range []struct {
		src  incident.LogSource
		want string
	}{
		{incident.LogSource{Format: "jsonl", Fields: f, TimeFormat: "yyyy-mm-dd"}, `time_format: "yyyy-mm-dd" is not a time format`},
		{incident.LogSource{Format: "jsonl", Fields: f, TimeZone: "Asia/Tokyo"}, "time_zone: only a time_format layout without a zone"},
		{incident.LogSource{Format: "jsonl", Fields: f, TimeFormat: "2006-01-02 15:04", TimeZone: "Mars/Olympus"}, `time_zone: "Mars/Olympus" is not a time zone`},
		{incident.LogSource{Format: "jsonl", Fields: fd, TimeFormat: "unix_s"}, "time_format: unix_s cannot read a date and a time apart"},
		{incident.LogSource{Format: "jsonl", Fields: map[string]string{"time": "t", "status": "s", "cache": "c", "url": ""}}, "fields.path: required for jsonl"},
		{incident.LogSource{Format: "nginx", LogFormat: "$remote_addr", TimeFormat: "unix_s"}, "format nginx takes no time_format"},
		{incident.LogSource{Format: "gcp", Identity: "cookie:sid"}, "no cookies"},
	} {
		if _, err := NewParser(tc.src); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewParser(%+v) error = %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestJSONLURLZeroAllocs: the url and request paths stay allocation-free.
func TestJSONLURLZeroAllocs(t *testing.T) {
	for _, f := range []map[string]string{
		{"time": "t", "url": "u", "status": "s", "cache": "c"},
		{"time": "t", "request": "u", "status": "s", "cache": "c"},
	} {
		p, err := NewJSONL(f, Identity{Kind: "cookie", Name: "sid"})
		if err != nil {
			t.Fatal(err)
		}
		u := "https://shop.example/p?q=1"
		if f["request"] != "" {
			u = "GET /p?q=1 HTTP/1.1"
		}
		zeroAllocs(t, p, `{"t":1498092060123,"u":"`+u+`","s":200,"c":true,"cookie":"sid=x"}`)
	}
}
