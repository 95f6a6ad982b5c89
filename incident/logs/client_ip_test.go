package logs

import (
	"strings"
	"testing"
)

// TestClientAddressMustBeIP (issue 21 item 3): in every format, a client
// address field that is not an IP address rejects the line with a reason
// naming the field; an optional port is dropped. An empty or "-" address
// is rejected too where the format has the field; a format (or a line of a
// JSON format) that has no address field at all is accepted without one.
func TestClientAddressMustBeIP(t *testing.T) {
	cookie := Identity{Kind: "cookie", Name: "sid"}
	nginx := func(addr string) string {
		return addr + ` - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 1234 "-" "UA" "sid=abc" HIT www.example.jp NRT51 1498092060.123`
	}
	cf := func(addr string) string { return cfLine(CloudFrontFields, "c-ip", addr) }
	cfl := func(ip string) string {
		return `{"EdgeStartTimestamp":1498092060,` + ip + `"ClientRequestURI":"/mypage/bank","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`
	}
	jl := func(ip string) string {
		return `{"ts":"2017-06-22T00:41:00Z",` + ip + `"uri_path":"/mypage/bank","code":200,"cache":"HIT","session":"s"}`
	}
	parsers := map[string]func() (Parser, error){
		"nginx":        func() (Parser, error) { return NewNginx(simFormat, cookie, "") },
		"nginx-noaddr": func() (Parser, error) { return NewNginx(`[$time_local] "$request" $status "$http_cookie"`, cookie, "") },
		"cloudfront":   func() (Parser, error) { return NewCloudFront(cookie) },
		"cloudflare":   func() (Parser, error) { return NewCloudflare(cookie) },
		"jsonl":        func() (Parser, error) { return NewJSONL(simJSONLFields, Identity{Kind: "field", Name: "session"}) },
		"jsonl-noip": func() (Parser, error) {
			return NewJSONL(map[string]string{"time": "ts", "path": "uri_path", "status": "code", "cache": "cache"}, Identity{Kind: "field", Name: "session"})
		},
	}
	tests := []struct {
		name, parser, line string
		want               string // the ClientIP kept; "" with reject empty: none
		reject             string // substring of the reason; empty = must parse
	}{
		{"nginx IPv4", "nginx", nginx("198.51.100.7"), "198.51.100.7", ""},
		{"nginx IPv6", "nginx", nginx("2001:db8::7"), "2001:db8::7", ""},
		{"nginx IPv4 with port", "nginx", nginx("198.51.100.7:51234"), "198.51.100.7", ""},
		{"nginx [IPv6]:port", "nginx", nginx("[2001:db8::7]:443"), "2001:db8::7", ""},
		{"nginx host name", "nginx", nginx("evil.example"), "", `$remote_addr "evil.example" is not an IP address`},
		{"nginx garbage", "nginx", nginx("<script>alert(1)</script>"), "", "is not an IP address"},
		{"nginx dash", "nginx", nginx("-"), "", "$remote_addr is empty"},
		{"nginx unix socket", "nginx", nginx("unix:"), "", "unix socket"},
		{"nginx two addresses", "nginx", nginx("198.51.100.7,10.0.0.1"), "", "is not an IP address"},
		{"nginx format without $remote_addr", "nginx-noaddr", `[22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 "sid=abc"`, "", ""},
		{"cloudfront IPv6", "cloudfront", cf("2001:db8::7"), "2001:db8::7", ""},
		{"cloudfront host name", "cloudfront", cf("evil.example"), "", `c-ip "evil.example" is not an IP address`},
		{"cloudfront dash", "cloudfront", cf("-"), "", "c-ip is empty"},
		{"cloudfront empty", "cloudfront", cf(""), "", "c-ip is empty"},
		{"cloudflare IPv4", "cloudflare", cfl(`"ClientIP":"198.51.100.7",`), "198.51.100.7", ""},
		{"cloudflare garbage", "cloudflare", cfl(`"ClientIP":"1.2.3",`), "", `ClientIP "1.2.3" is not an IP address`},
		{"cloudflare empty", "cloudflare", cfl(`"ClientIP":"",`), "", "ClientIP is empty"},
		{"cloudflare not a string", "cloudflare", cfl(`"ClientIP":17,`), "", "ClientIP is a number"},
		{"cloudflare field not in the job", "cloudflare", cfl(``), "", ""},
		{"cloudflare null", "cloudflare", cfl(`"ClientIP":null,`), "", ""},
		{"jsonl IPv6 with port", "jsonl", jl(`"client":"[::1]:8080",`), "::1", ""},
		{"jsonl host name", "jsonl", jl(`"client":"localhost",`), "", `client (ip) "localhost" is not an IP address`},
		{"jsonl dash", "jsonl", jl(`"client":"-",`), "", "client (ip) is empty"},
		{"jsonl key absent", "jsonl", jl(``), "", ""},
		{"jsonl no ip field", "jsonl-noip", jl(`"client":"not an address",`), "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsers[tc.parser]()
			if err != nil {
				t.Fatal(err)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				if err == nil || !strings.Contains(err.Error(), tc.reject) {
					t.Fatalf("Parse(%q) = %v, want a reject saying %q", tc.line, err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want no error", tc.line, err)
			}
			if string(rec.ClientIP) != tc.want {
				t.Errorf("ClientIP = %q, want %q", rec.ClientIP, tc.want)
			}
		})
	}
}

// TestClientAddressRejectsAreCounted: the lines rejected for their address
// are counted and kept with their reason; parsed + rejected == lines.
func TestClientAddressRejectsAreCounted(t *testing.T) {
	p, err := NewNginx(simFormat, Identity{Kind: "cookie", Name: "sid"}, "")
	if err != nil {
		t.Fatal(err)
	}
	var data strings.Builder
	for _, addr := range []string{"198.51.100.7", "evil.example", "[2001:db8::1]:443", "-", "203.0.113.9:51234"} {
		data.WriteString(addr + ` - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/bank HTTP/1.1" 200 1234 "-" "UA" "sid=abc" HIT www.example.jp NRT51 1498092060.123` + "\n")
	}
	path := writeFile(t, t.TempDir(), "a.log", []byte(data.String()), false)
	stats, err := Read(t.Context(), []Input{{Path: path, Name: "a.log", Parser: p}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := stats[0]
	if s.Lines != 5 || s.Parsed != 3 || s.Rejected != 2 || s.Parsed+s.Rejected != s.Lines {
		t.Errorf("lines %d parsed %d rejected %d, want 5, 3, 2", s.Lines, s.Parsed, s.Rejected)
	}
	want := []Reject{{Line: 2, Reason: `$remote_addr "evil.example" is not an IP address`},
		{Line: 4, Reason: "$remote_addr is empty: a request without a client address is not accepted as evidence"}}
	if len(s.Rejects) != len(want) || s.Rejects[0] != want[0] || s.Rejects[1] != want[1] {
		t.Errorf("rejects %+v, want %+v", s.Rejects, want)
	}
}
