package logs

import (
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// benchALBLine is an entry with every field of the current documentation,
// values our own.
var benchALBLine = []byte(`https 2017-06-22T00:41:00.123456Z app/shop-alb/50dc6c495c0c9188 198.51.100.7:51234 10.0.0.1:80 0.000 0.012 0.000 200 200 512 5380 "GET https://www.example-market.jp:443/items/123456?ref=top HTTP/1.1" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/shop/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "www.example-market.jp" "arn:aws:acm:ap-northeast-1:123456789012:certificate/12345678-1234-1234-1234-123456789012" 0 2017-06-22T00:41:00.111000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd`)

func TestALBParse(t *testing.T) {
	none := Identity{}
	const tail = ` - - arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/t/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354"`
	tests := []struct {
		name   string
		id     Identity
		line   string
		want   Record
		reject string
	}{
		{name: "every current field", id: none, line: string(benchALBLine),
			want: Record{Time: ns("2017-06-22T00:41:00.123456Z"), Pop: b("app/shop-alb/50dc6c495c0c9188"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheOrigin}},
		{name: "2016 entry: 18 fields, plain http", id: none,
			line: `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0"` + tail,
			want: Record{Time: ns("2017-06-22T00:41:00.186641Z"), Pop: b("app/my-lb/50dc6c495c0c9188"), ClientIP: b("192.168.131.39"), Method: b("GET"), Host: b("www.example.com"), Path: b("/"), Status: 200, Cache: CacheOrigin}},
		{name: "h2, IPv6 client, target not reached, more fields than documented", id: Identity{Kind: "field", Name: "trace_id"},
			line: `h2 2017-06-22T00:41:00.000001Z app/my-lb/50dc6c495c0c9188 [2001:db8::1]:443 - -1 -1 -1 502 - 34 366 "POST https://shop.example:443/api/v1/cart?x=1 HTTP/2.0" "app \"quoted\" 1.0"` + tail + ` "shop.example" "-" 1 2017-06-22T00:41:00.000000Z "forward" "-" "-" "-" "-" "-" "-" TID_1 "transformed-host" "-" "-"`,
			want: Record{Time: ns("2017-06-22T00:41:00.000001Z"), Pop: b("app/my-lb/50dc6c495c0c9188"), ClientIP: b("2001:db8::1"), Method: b("POST"), Host: b("shop.example"), Path: b("/api/v1/cart"), Query: b("x=1"), Status: 502, Cache: CacheOrigin, Identity: b("Root=1-58337262-36d228ad5d99923122bbe354")}},

		{name: "too few fields", id: none, line: `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0"`,
			reject: "has 14 fields, an ALB access log entry has at least 18"},
		{name: "host name in the client field", id: none,
			line:   `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 client.example.net:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0"` + tail,
			reject: `client:port "client.example.net:2817" is not an IP address`},
		{name: "request target not a URL", id: none,
			line:   `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET www.example.com/mypage HTTP/1.1" "curl/7.46.0"` + tail,
			reject: `request target "www.example.com/mypage" is neither a path beginning with / nor a full URL`},
		{name: "request the load balancer could not parse", id: none,
			line:   `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 400 - 0 0 "- http://www.example.com:80- -" "-"` + tail,
			reject: "request method is -: the load balancer could not parse the request"},
		{name: "not an ALB line (Classic ELB)", id: none,
			line:   `2017-06-22T00:41:00.186641Z my-elb 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - - a b c d`,
			reject: `type "2017-06-22T00:41:00.…" is not an ALB request type (http, https, h2, grpcs, ws, wss)`},
		{name: "bad time", id: none,
			line:   `http 22/Jun/2017:00:41:00 app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0"` + tail,
			reject: `time "22/Jun/2017:00:41:00" is not an ISO 8601 time`},
		{name: "status not a number", id: none,
			line:   `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 - 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0"` + tail,
			reject: `elb_status_code "-" is not a status number`},
		{name: "unterminated quote", id: none,
			line:   `http 2017-06-22T00:41:00.186641Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1`,
			reject: "field 13 (request) opens a quote it does not close"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewALB(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			expectParse(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestALBCase(t *testing.T) {
	// An ALB caches nothing: the case file must say it knows.
	src := incident.LogSource{Format: "alb"}
	_, problems := compileCase(&incident.Case{Logs: []incident.LogSource{src}})
	if len(problems) != 1 || !strings.Contains(problems[0].Msg, "no cache: ingest the logs of the CDN") {
		t.Errorf("problems %+v, want one saying an ALB has no cache", problems)
	}
	src.AcceptMissing = []string{"cache"}
	if _, problems = compileCase(&incident.Case{Logs: []incident.LogSource{src}}); len(problems) != 0 {
		t.Errorf("with accept_missing: [cache]: problems %+v, want none", problems)
	}
	src.CacheValues = map[string]string{"x": "FILL"}
	if _, problems = compileCase(&incident.Case{Logs: []incident.LogSource{src}}); len(problems) != 1 {
		t.Errorf("cache_values on alb: problems %+v, want one", problems)
	}
}

func TestNewALBErrors(t *testing.T) {
	for _, tc := range []struct {
		id   Identity
		want string
	}{
		{Identity{Kind: "cookie", Name: "sid"}, "hold no cookies"},
		{Identity{Kind: "remote_user"}, "remote_user does not exist"},
		{Identity{Kind: "field", Name: "sid"}, `ALB access logs have no field "sid"`},
	} {
		if _, err := NewALB(tc.id); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewALB(%+v) = %v, want an error containing %q", tc.id, err, tc.want)
		}
	}
}

func TestALBZeroAllocs(t *testing.T) {
	p, err := NewALB(Identity{Kind: "field", Name: "conn_trace_id"})
	if err != nil {
		t.Fatal(err)
	}
	var rec Record
	allocs := testing.AllocsPerRun(100, func() {
		rec = Record{}
		if err := p.Parse(benchALBLine, &rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || string(rec.Identity) != "TID_1234abcd" {
		t.Errorf("%v allocations per line, identity %q; want 0 and TID_1234abcd", allocs, rec.Identity)
	}
}

func FuzzALB(f *testing.F) {
	f.Add(benchALBLine)
	for _, s := range []string{
		`h2 2017-06-22T00:41:00.000001Z app/my-lb/5 [2001:db8::1]:443 - -1 -1 -1 502 - 34 366 "POST https://shop.example:443/api?x=1 HTTP/2.0" "app \"q\" 1.0" - - arn "Root=1"`,
		`http 2017-06-22T00:41:00.186641Z app/my-lb/5 192.168.131.39:2817 - -1 -1 -1 400 - 0 0 "- http://www.example.com:80- -" "-" - - a "b"`,
		`http 2017-06-22T00:41:00Z a b:1 c 0 0 0 200 200 1 1 "GET //x HTTP/1.1" "`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewALB(Identity{Kind: "field", Name: "trace_id"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		err := p.Parse(line, &rec)
		checkTarget(t, line, &rec, err)
	})
}

func BenchmarkALBParse(b *testing.B) {
	p, err := NewALB(Identity{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchALBLine)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		rec = Record{}
		if err := p.Parse(benchALBLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
