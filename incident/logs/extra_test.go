package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// The lines below were written for these tests from each format's field
// list (see the format's file), not copied from any log.

const (
	extraNginxFormat = `log_format owner '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_user_agent" "$cookie_sid" "$upstream_http_x_user_id" $upstream_cache_status';`
	extraApache      = `%h %l %u %t "%r" %>s %b "%{User-Agent}i" "%{Cookie}i" "%{X-User-Id}o" %{X-Cache}o`
	extraW3CHeader   = "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs-host sc-status time-taken"
)

// TestExtraFields: logs[].subject and logs[].user_agent are read like the
// identity, in each format: present, absent ("-" or no key: empty), and a
// present value the format cannot read rejects the line naming the key.
// The rest of the record is the primary parser's, unchanged.
func TestExtraFields(t *testing.T) {
	nginx := incident.LogSource{Format: "nginx", LogFormat: extraNginxFormat, Identity: "cookie:sid",
		Subject: "field:upstream_http_x_user_id", UserAgent: "field:http_user_agent"}
	apache := incident.LogSource{Format: "apache", LogFormat: extraApache, Identity: "cookie:sid", Fields: map[string]string{"cache": "X-Cache"},
		Subject: "field:X-User-Id", UserAgent: "field:User-Agent"}
	cloudfront := incident.LogSource{Format: "cloudfront", Identity: "cookie:sid", Subject: "cookie:uid", UserAgent: "field:cs(User-Agent)"}
	cloudfrontHdr := incident.LogSource{Format: "cloudfront", Identity: "cookie:sid", Subject: "field:x-user-id", UserAgent: "field:cs(User-Agent)"}
	cloudflare := incident.LogSource{Format: "cloudflare", Identity: "cookie:sid", Subject: "field:ResponseHeaders.x-user-id", UserAgent: "field:ClientRequestUserAgent"}
	jsonlFields := map[string]string{"time": "ts", "path": "uri", "status": "status", "cache": "cache"}
	jsonlField := incident.LogSource{Format: "jsonl", Fields: jsonlFields, Identity: "field:sid", Subject: "field:uid", UserAgent: "field:ua"}
	withIdent := map[string]string{"identity": "sid"}
	for k, v := range jsonlFields {
		withIdent[k] = v
	}
	jsonlFieldsIdentity := incident.LogSource{Format: "jsonl", Fields: withIdent, Subject: "field:uid", UserAgent: "field:ua"}
	withCookies := map[string]string{"identity": "headers.cookie"}
	for k, v := range jsonlFields {
		withCookies[k] = v
	}
	jsonlCookies := incident.LogSource{Format: "jsonl", Fields: withCookies, Identity: "cookie:sid", Subject: "cookie:uid", UserAgent: "field:headers.user-agent"}
	alb := incident.LogSource{Format: "alb", UserAgent: "field:user_agent", Subject: "field:trace_id"}
	w3c := incident.LogSource{Format: "w3c", Identity: "cookie:sid", Subject: "field:cs-username", UserAgent: "field:cs(User-Agent)"}
	fastly := incident.LogSource{Format: "fastly", Identity: "cookie:sid", Subject: "field:user_id", UserAgent: "field:user_agent"}

	albLine := func(ua, trace string) string {
		return `https 2017-06-22T00:41:00.123456Z app/shop-alb/50dc6c495c0c9188 203.0.113.9:51234 10.0.0.1:80 0.000 0.012 0.000 200 200 512 5380 "GET https://www.example.jp:443/mypage/profile HTTP/1.1" "` + ua +
			`" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/shop/73e2d6bc24d8a067 "` + trace +
			`" "www.example.jp" "-" 0 2017-06-22T00:41:00.111000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234`
	}
	cfLine := func(path, ua, cookie string) string {
		return "2017-06-22\t00:41:00\tNRT57-C1\t5380\t203.0.113.9\tGET\td111111abcdef8.cloudfront.net\t" + path + "\t200\t-\t" + ua + "\t-\t" + cookie +
			"\tHit\tSOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==\twww.example.jp\thttps\t412\t0.002\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51234\t0.001\tHit\ttext/html\t5123\t-\t-"
	}
	cfCustom := "#Fields: date time x-edge-location c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Cookie) x-edge-result-type x-user-id"

	tests := []struct {
		name     string
		src      incident.LogSource
		headers  []string // header lines before the line (cloudfront, w3c)
		line     string
		identity string // the primary's, unchanged
		path     string
		subject  string
		ua       string
		reject   string // a reason containing it; empty = must parse
	}{
		{name: "nginx: upstream user id and agent", src: nginx,
			line:     `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "python-requests/2.31.0" "abc" "1042" HIT`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "python-requests/2.31.0"},
		{name: "nginx: absent (-) is empty", src: nginx,
			line: `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "-" "-" "-" MISS`,
			path: "/mypage/profile"},
		{name: "nginx: escapes and percent-encoding in the line", src: nginx,
			line:     `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/%E3%83%9E%E3%82%A4 HTTP/1.1" 200 512 "UA \x22q\x22" "abc" "1042" HIT`,
			identity: "abc", path: "/mypage/%E3%83%9E%E3%82%A4", subject: "1042", ua: `UA \x22q\x22`},
		{name: "nginx: subject from a cookie", src: incident.LogSource{Format: "nginx", LogFormat: `$remote_addr [$time_local] "$request" $status "$http_cookie" $upstream_cache_status`, Identity: "cookie:sid", Subject: "cookie:uid"},
			line:     `203.0.113.9 [22/Jun/2017:09:41:00 +0900] "GET /a HTTP/1.1" 200 "sid=abc; uid=77" HIT`,
			identity: "abc", path: "/a", subject: "77"},
		{name: "nginx: the field cut off by a truncated line", src: nginx,
			line:   `203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "ua" "abc" "1042`,
			reject: "quoted value not closed"},

		{name: "apache: response header and request header", src: apache,
			line:     `203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET /mypage/bank HTTP/1.1" 200 2048 "Mozilla/5.0 \"q\"" "lang=ja; sid=f00dcafe" "2001" HIT`,
			identity: "f00dcafe", path: "/mypage/bank", subject: "2001", ua: `Mozilla/5.0 \"q\"`},
		{name: "apache: absent", src: apache,
			line: `203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET /mypage/bank HTTP/1.1" 200 2048 "-" "-" "-" MISS`,
			path: "/mypage/bank"},

		{name: "cloudfront: subject cookie and the agent decoded", src: cloudfront,
			line:     cfLine("/mypage/profile", "Mozilla/5.0%20(Windows%20NT%2010.0)", "sid=abc123;%20uid=1042"),
			identity: "abc123", path: "/mypage/profile", subject: "1042", ua: "Mozilla/5.0 (Windows NT 10.0)"},
		{name: "cloudfront: absent", src: cloudfront,
			line: cfLine("/mypage/profile", "-", "-"), path: "/mypage/profile"},
		{name: "cloudfront: a field of the #Fields header", src: cloudfrontHdr, headers: []string{"#Version: 1.0", cfCustom},
			line:     "2017-06-22\t00:41:00\tNRT57-C1\t203.0.113.9\tGET\t/mypage/profile\t200\tcurl/8.0\tsid=abc\tHit\t1042",
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "curl/8.0"},
		{name: "cloudfront: a field the standard order lacks, no #Fields header", src: cloudfrontHdr,
			line:   cfLine("/mypage/profile", "-", "sid=abc"),
			reject: "subject: no #Fields header before this line, and the standard fields have no x-user-id field (subject field:x-user-id)"},
		{name: "cloudfront: a #Fields header without the field", src: cloudfrontHdr, headers: []string{"#Fields: " + CloudFrontFields},
			reject: "subject: the #Fields header has no x-user-id field, needed for subject field:x-user-id"},

		{name: "cloudflare: a response header and the agent", src: cloudflare,
			line:     `{"EdgeStartTimestamp":1498092060123456789,"ClientIP":"203.0.113.9","ClientRequestURI":"/mypage/profile?tab=1","ClientRequestUserAgent":"python-requests/2.31.0","EdgeResponseStatus":200,"CacheCacheStatus":"hit","ResponseHeaders":{"x-user-id":"1042"},"Cookies":{"sid":"abc"}}`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "python-requests/2.31.0"},
		{name: "cloudflare: escapes everywhere (each parser reads the line as it was)", src: cloudflare,
			line:     `{"EdgeStartTimestamp":1498092060123456789,"ClientIP":"203.0.113.9","ClientRequestURI":"\/mypage\/profile?q=%22","ClientRequestUserAgent":"UA \"q\" \u00e9","EdgeResponseStatus":200,"CacheCacheStatus":"hit","ResponseHeaders":{"x-user-id":"10\u0034\u0032"},"Cookies":{"sid":"a\"b"}}`,
			identity: `a"b`, path: "/mypage/profile", subject: "1042", ua: `UA "q" é`},
		{name: "cloudflare: a number", src: cloudflare,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/p","EdgeResponseStatus":200,"CacheCacheStatus":"hit","ResponseHeaders":{"x-user-id":1042}}`,
			path: "/p", subject: "1042"},
		{name: "cloudflare: absent", src: cloudflare,
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/p","EdgeResponseStatus":200,"CacheCacheStatus":"hit"}`, path: "/p"},
		{name: "cloudflare: an object where the agent should be", src: cloudflare,
			line:   `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/p","EdgeResponseStatus":200,"CacheCacheStatus":"hit","ClientRequestUserAgent":{"a":1}}`,
			reject: "user_agent: ClientRequestUserAgent is an object"},

		{name: "jsonl: identity field:NAME", src: jsonlField,
			line:     `{"ts":"2017-06-22T00:41:00.123Z","uri":"/mypage/profile","status":200,"cache":"HIT","sid":"abc","uid":1042,"ua":"okhttp/4.9"}`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "okhttp/4.9"},
		{name: "jsonl: identity in fields.identity", src: jsonlFieldsIdentity,
			line:     `{"ts":"2017-06-22T00:41:00.123Z","uri":"/mypage/profile","status":200,"cache":"HIT","sid":"abc","uid":"1042","ua":"okhttp/4.9"}`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "okhttp/4.9"},
		{name: "jsonl: cookies of the header fields.identity names", src: jsonlCookies,
			line:     `{"ts":"2017-06-22T00:41:00.123Z","uri":"/mypage/profile","status":200,"cache":"HIT","headers":{"cookie":"sid=abc; uid=1042","user-agent":"curl/8.0"}}`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "curl/8.0"},
		{name: "jsonl: absent and null", src: jsonlField,
			line: `{"ts":"2017-06-22T00:41:00.123Z","uri":"/p","status":200,"cache":"HIT","uid":null}`, path: "/p"},
		{name: "jsonl: an array where the subject should be", src: jsonlField,
			line:   `{"ts":"2017-06-22T00:41:00.123Z","uri":"/p","status":200,"cache":"HIT","uid":[1]}`,
			reject: "subject: uid (subject) is an array"},

		{name: "alb: the agent field", src: alb,
			line: albLine("python-requests/2.31.0", "Root=1-58337262"), path: "/mypage/profile", subject: "Root=1-58337262", ua: "python-requests/2.31.0"},
		{name: "alb: absent", src: alb,
			line: albLine("-", "-"), path: "/mypage/profile"},

		{name: "w3c: the agent as logged and cs-username", src: w3c, headers: []string{"#Software: Microsoft Internet Information Services 10.0", extraW3CHeader},
			line:     "2017-06-22 00:41:00 10.0.0.5 GET /mypage/profile tab=1 443 1042 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) sid=abc;+lang=ja www.example.jp 200 15",
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "Mozilla/5.0+(Windows+NT+10.0)"},
		{name: "w3c: absent", src: w3c, headers: []string{extraW3CHeader},
			line: "2017-06-22 00:41:00 10.0.0.5 GET /mypage/profile - 443 - 203.0.113.9 - - www.example.jp 200 15", path: "/mypage/profile"},
		{name: "w3c: a #Fields header without the field", src: w3c, headers: []string{"#Fields: date time cs-method cs-uri-stem cs(User-Agent) cs(Cookie) sc-status"},
			reject: "subject: the #Fields header has no cs-username (subject field:cs-username) field"},

		{name: "fastly: after its syslog header", src: fastly,
			line:     `<134>2017-06-22T00:41:00Z cache-nrt1234 breachlog[123]: {"timestamp":"2017-06-22T00:41:00+0000","client_ip":"203.0.113.9","url":"/mypage/profile?tab=1","response_status":200,"fastly_info.state":"HIT-CLUSTER","request_cookie":"sid=abc","user_id":"1042","user_agent":"curl/8.0"}`,
			identity: "abc", path: "/mypage/profile", subject: "1042", ua: "curl/8.0"},

		{name: "prefix stays outermost", src: incident.LogSource{Format: "cloudflare", Prefix: `\S+ \S+: `, Identity: "cookie:sid", Subject: "field:uid"},
			line: `2017-06-22T00:41:00Z host: {"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/p","EdgeResponseStatus":200,"CacheCacheStatus":"hit","uid":"9"}`,
			path: "/p", subject: "9"},
		{name: "cache_values reach the further parsers", src: incident.LogSource{Format: "cloudflare", Identity: "cookie:sid", Subject: "field:uid", CacheValues: map[string]string{"shield": "CACHED"}},
			line: `{"EdgeStartTimestamp":1498092060,"ClientRequestURI":"/p","EdgeResponseStatus":200,"CacheCacheStatus":"shield","uid":"9"}`,
			path: "/p", subject: "9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParser(tc.src)
			if err != nil {
				t.Fatalf("NewParser: %v", err)
			}
			for _, h := range tc.headers {
				hp, ok := p.(HeaderParser)
				if !ok {
					t.Fatalf("%T is not a HeaderParser", p)
				}
				if p, err = hp.Header([]byte(h)); err != nil {
					if tc.reject != "" && strings.Contains(err.Error(), tc.reject) {
						return
					}
					t.Fatalf("Header(%q): %v", h, err)
				}
			}
			if tc.line == "" {
				t.Fatalf("no error from the headers, want %q", tc.reject)
			}
			var rec Record
			err = p.Parse([]byte(tc.line), &rec)
			if tc.reject != "" {
				var pe *ParseError
				if !errors.As(err, &pe) || !strings.Contains(pe.Reason, tc.reject) {
					t.Fatalf("Parse error = %v, want a reject containing %q", err, tc.reject)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			for _, c := range []struct{ name, got, want string }{
				{"Identity", string(rec.Identity), tc.identity},
				{"Path", string(rec.Path), tc.path},
				{"Subject", string(rec.Subject), tc.subject},
				{"UserAgent", string(rec.UserAgent), tc.ua},
			} {
				if c.got != c.want {
					t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
				}
			}
			if (tc.subject == "") != (rec.Subject == nil) || (tc.ua == "") != (rec.UserAgent == nil) {
				t.Errorf("an empty Subject or UserAgent is not nil (or a set one is): %q %q", rec.Subject, rec.UserAgent)
			}
		})
	}
}

// TestExtraFieldsEveryFormat: in every format (its README example line),
// a further field is read, and the rest of the record is exactly the one
// read without it.
func TestExtraFieldsEveryFormat(t *testing.T) {
	const iisExample = "#Fields: date time s-sitename s-computername s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Cookie) cs(Referer) cs-host sc-status sc-substatus sc-win32-status sc-bytes cs-bytes time-taken"
	tests := map[string]struct {
		src    incident.LogSource // the example's configuration
		header string
		spec   string // user_agent
		want   string
	}{
		"nginx":           {src: incident.LogSource{LogFormat: CombinedFormat + ` "$http_cookie" $upstream_cache_status`}, spec: "field:http_user_agent", want: "Mozilla/5.0"},
		"apache":          {src: incident.LogSource{LogFormat: ApacheCombined + ` "%{Cookie}i" %{X-Cache}o`}, spec: "field:User-Agent", want: "Mozilla/5.0"},
		"varnish":         {src: incident.LogSource{LogFormat: `%h %l %u %t "%r" %s %b "%{Referer}i" "%{User-Agent}i" "%{Cookie}i" %{Varnish:hitmiss}x`}, spec: "field:User-Agent", want: "Mozilla/5.0"},
		"haproxy":         {src: incident.LogSource{Fields: map[string]string{"zone": "+09:00", "request_captures": "Host,Cookie", "response_captures": "X-Cache"}}, spec: "cookie:sid", want: "abc"},
		"cloudfront":      {spec: "field:cs(User-Agent)", want: "Mozilla/5.0 (Windows NT 10.0)"},
		"cloudflare":      {spec: "field:RayID", want: "3723d2a4bb5a1c2e"},
		"jsonl":           {src: incident.LogSource{Fields: map[string]string{"time": "ts", "path": "uri", "status": "status", "cache": "cache", "ip": "ip"}}, spec: "field:sid", want: "abc"},
		"akamai":          {spec: "field:streamId", want: "12345"},
		"azure-frontdoor": {src: incident.LogSource{Identity: "-"}, spec: "field:userAgent", want: ""},
		"alb":             {src: incident.LogSource{Identity: "-"}, spec: "field:user_agent", want: "Mozilla/5.0"},
		"w3c":             {header: iisExample, spec: "field:cs(User-Agent)", want: "Mozilla/5.0+(Windows+NT+10.0)"},
		"fastly":          {spec: "field:pop", want: "NRT"},
		"gcp":             {src: incident.LogSource{Identity: "-"}, spec: "field:insertId", want: "1oek5rg3l3fxj7"},
		"caddy":           {spec: "field:request.proto", want: "HTTP/2.0"},
		"traefik":         {spec: "field:RouterName", want: "web@docker"},
	}
	for _, f := range Formats() {
		t.Run(f.Name, func(t *testing.T) {
			tc, ok := tests[f.Name]
			if !ok {
				t.Fatalf("no case for format %s: add one", f.Name)
			}
			src := tc.src
			src.Format = f.Name
			switch src.Identity {
			case "":
				src.Identity = "cookie:sid"
			case "-":
				src.Identity = ""
			}
			plain, err := NewParser(src)
			if err != nil {
				t.Fatalf("NewParser: %v", err)
			}
			src.UserAgent = tc.spec
			withX, err := NewParser(src)
			if err != nil {
				t.Fatalf("NewParser with user_agent: %v", err)
			}
			if tc.header != "" {
				if plain, err = plain.(HeaderParser).Header([]byte(tc.header)); err != nil {
					t.Fatal(err)
				}
				if withX, err = withX.(HeaderParser).Header([]byte(tc.header)); err != nil {
					t.Fatal(err)
				}
			}
			var a, b Record
			if err := plain.Parse([]byte(f.Example), &a); err != nil {
				t.Fatalf("the example does not parse: %v", err)
			}
			if err := withX.Parse([]byte(f.Example), &b); err != nil {
				t.Fatalf("the example does not parse with user_agent: %v", err)
			}
			if string(b.UserAgent) != tc.want {
				t.Errorf("UserAgent: got %q, want %q", b.UserAgent, tc.want)
			}
			b.UserAgent = nil
			if d := diffRecord(b, a); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestExtraFieldsCaseProblems: a subject or user_agent the format cannot
// read is a case-file problem on that key, worded about it.
func TestExtraFieldsCaseProblems(t *testing.T) {
	tests := []struct {
		name string
		src  incident.LogSource
		want string // "path: message" (a prefix of it)
	}{
		{"nginx: a variable the log_format lacks", incident.LogSource{Format: "nginx", Identity: "remote_user", Subject: "field:upstream_http_x_user_id"},
			"logs[0].subject: subject field:upstream_http_x_user_id: log_format has no $upstream_http_x_user_id"},
		{"nginx: the agent from a cookie the log_format lacks", incident.LogSource{Format: "nginx", Identity: "remote_user", UserAgent: "cookie:ua"},
			"logs[0].user_agent: user_agent cookie:ua: log_format has neither $cookie_ua nor $http_cookie"},
		{"apache: a directive the LogFormat lacks", incident.LogSource{Format: "apache", LogFormat: "combined", Identity: "remote_user", Subject: "field:X-User-Id"},
			"logs[0].subject: subject field:X-User-Id: the LogFormat has no directive X-User-Id"},
		{"cloudfront: remote_user", incident.LogSource{Format: "cloudfront", Identity: "cookie:sid", Subject: "remote_user"},
			"logs[0].subject: subject remote_user does not exist in CloudFront logs"},
		{"cloudflare: remote_user", incident.LogSource{Format: "cloudflare", Identity: "cookie:sid", UserAgent: "remote_user"},
			"logs[0].user_agent: user_agent remote_user does not exist in Cloudflare logs"},
		{"alb: a field it does not have", incident.LogSource{Format: "alb", Subject: "field:x-user-id"},
			`logs[0].subject: subject field:x-user-id: ALB access logs have no field "x-user-id"`},
		{"alb: cookies", incident.LogSource{Format: "alb", UserAgent: "cookie:ua"},
			"logs[0].user_agent: user_agent cookie:ua: ALB access logs hold no cookies"},
		{"w3c: remote_user", incident.LogSource{Format: "w3c", Identity: "cookie:sid", Subject: "remote_user"},
			"logs[0].subject: subject remote_user: name W3C's cs-username field as subject field:cs-username"},
		{"jsonl: remote_user", incident.LogSource{Format: "jsonl", Identity: "field:sid", Fields: map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}, Subject: "remote_user"},
			"logs[0].subject: subject remote_user does not exist in JSON lines"},
		{"gcp: cookies", incident.LogSource{Format: "gcp", UserAgent: "cookie:ua"},
			"logs[0].user_agent: user_agent cookie:ua: Google Cloud load balancer logs record no cookies"},
		{"not a spec", incident.LogSource{Format: "nginx", Identity: "remote_user", Subject: "header:x"},
			`logs[0].subject: subject "header:x": want cookie:NAME, field:NAME or remote_user`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &incident.Case{Logs: []incident.LogSource{tc.src}}
			c.Logs[0].AcceptMissing = []string{"cache", "identity"}
			var got []string
			for _, p := range CaseProblems(c) {
				got = append(got, p.Path+": "+p.Msg)
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
				t.Fatalf("problems = %q, want one beginning %q", got, tc.want)
			}
		})
	}
}

// TestExtraFieldsNotWrapped: an entry without subject or user_agent gets
// its format's parser itself (no cost), one with either a wrapper that
// keeps what the reader asks of the parser (headers, JSON framing).
func TestExtraFieldsNotWrapped(t *testing.T) {
	for _, f := range Formats() {
		src := incident.LogSource{Format: f.Name}
		switch f.Name {
		case "jsonl":
			src.Fields = map[string]string{"time": "t", "path": "p", "status": "s", "cache": "c"}
		case "haproxy":
			src.LogFormat, src.Fields = `%ci [%tr] %ST %{+Q}r`, map[string]string{"zone": "+00:00"}
		}
		plain, err := NewParser(src)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if _, ok := plain.(*withExtras); ok {
			t.Errorf("%s: wrapped without subject or user_agent", f.Name)
		}
		src.Subject = "field:uid"
		if f.Name == "nginx" || f.Name == "apache" || f.Name == "varnish" || f.Name == "haproxy" || f.Name == "alb" {
			continue // field:uid is not in their default layouts
		}
		withX, err := NewParser(src)
		if err != nil {
			t.Fatalf("%s with subject: %v", f.Name, err)
		}
		_, h1 := plain.(HeaderParser)
		_, h2 := withX.(HeaderParser)
		_, j1 := plain.(jsonRecordParser)
		_, j2 := withX.(jsonRecordParser)
		if h1 != h2 || j1 != j2 {
			t.Errorf("%s: header parser %v→%v, JSON records %v→%v", f.Name, h1, h2, j1, j2)
		}
		if CapabilitiesOf(plain) != CapabilitiesOf(withX) {
			t.Errorf("%s: capabilities %+v→%+v", f.Name, CapabilitiesOf(plain), CapabilitiesOf(withX))
		}
	}
}

// TestExtraFieldsCaseFile: through the whole case file, a subject or
// user_agent the format reads is accepted (CloudFront's and W3C's field
// names have parentheses), and one it cannot read is reported on its key
// and line.
func TestExtraFieldsCaseFile(t *testing.T) {
	b, err := os.ReadFile("../testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	entry := func(format, extra string) string {
		return strings.Replace(strings.Replace(string(b), "format: nginx", "format: "+format, 1),
			"    identity: cookie:sid\n", "    identity: cookie:sid\n"+extra, 1)
	}
	tests := []struct {
		name string
		yaml string
		want string // "" = valid
	}{
		{"cloudfront agent field", entry("cloudfront", "    user_agent: field:cs(User-Agent)\n    subject: cookie:uid\n"), ""},
		{"w3c agent field", entry("w3c", "    user_agent: field:cs(User-Agent)\n    subject: field:cs-username\n    accept_missing: [cache]\n"), ""},
		{"cloudflare fields", entry("cloudflare", "    user_agent: field:ClientRequestUserAgent\n    subject: field:ResponseHeaders.x-user-id\n"), ""},
		{"nginx variable missing", entry("nginx", "    subject: field:upstream_http_x_user_id\n    log_format: '$remote_addr [$time_local] \"$request\" $status \"$http_cookie\" $upstream_cache_status'\n"),
			"logs[0].subject (line 25): subject field:upstream_http_x_user_id: log_format has no $upstream_http_x_user_id"},
		{"alb cookie", entry("alb", "    accept_missing: [cache]\n    user_agent: cookie:ua\n"),
			"logs[0].user_agent (line 26): user_agent cookie:ua: ALB access logs hold no cookies"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if strings.Contains(tc.name, "alb") {
				y = strings.Replace(y, "    identity: cookie:sid\n", "    identity: field:trace_id\n", 1)
			}
			_, err := incident.Parse([]byte(y), caseEnv, CaseProblems)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Parse error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// extraSink keeps "line subject ua" per record.
type extraSink struct {
	mu  sync.Mutex
	got []string
}

func (s *extraSink) Record(_ int, line int64, rec *Record) {
	s.mu.Lock()
	s.got = append(s.got, fmt.Sprintf("%d %s|%s|%s", line, rec.Identity, rec.Subject, rec.UserAgent))
	s.mu.Unlock()
}

// TestExtraFieldsRead: through the file reader, the wrapper keeps what the
// reader asks of a parser: CloudFront's headers (each #Fields line reaching
// every parser; one without the subject's field makes the lines after it
// rejects naming the subject), and JSON files
// framed as an array of records.
func TestExtraFieldsRead(t *testing.T) {
	dir := t.TempDir()
	cfFields := "#Fields: date time x-edge-location c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Cookie) x-edge-result-type x-user-id"
	tests := []struct {
		name    string
		src     incident.LogSource
		content string
		want    []string
		rejects []string
	}{
		{name: "cloudfront with headers",
			src: incident.LogSource{Format: "cloudfront", Identity: "cookie:sid", Subject: "field:x-user-id", UserAgent: "field:cs(User-Agent)"},
			content: "#Version: 1.0\n" + cfFields + "\n" +
				"2017-06-22\t00:41:00\tNRT57\t203.0.113.9\tGET\t/mypage/profile\t200\tcurl/8.0%20(x)\tsid=abc\tHit\t1042\n" +
				"2017-06-22\t00:41:01\tNRT57\t203.0.113.9\tGET\t/mypage/profile\t200\t-\tsid=def\tMiss\t-\n" +
				"#Fields: date time x-edge-location c-ip cs-method cs-uri-stem sc-status cs(User-Agent) cs(Cookie) x-edge-result-type\n" +
				"2017-06-22\t00:41:02\tNRT57\t203.0.113.9\tGET\t/mypage/profile\t200\tcurl/8.0\tsid=abc\tHit\n",
			want:    []string{"3 abc|1042|curl/8.0 (x)", "4 def||"},
			rejects: []string{"6: no usable #Fields header (line 5: subject: the #Fields header has no x-user-id field, needed for subject field:x-user-id)"}},
		{name: "jsonl as one JSON array",
			src: incident.LogSource{Format: "jsonl", Fields: map[string]string{"time": "ts", "path": "uri", "status": "status", "cache": "cache", "identity": "sid"}, Subject: "field:uid", UserAgent: "field:ua"},
			content: "[\n" +
				`{"ts":"2017-06-22T00:41:00Z","uri":"/a","status":200,"cache":"HIT","sid":"abc","uid":7,"ua":"x \"y\""},` + "\n" +
				`{"ts":"2017-06-22T00:41:01Z","uri":"/b","status":200,"cache":"HIT","sid":"def","uid":{"id":7}}` + "\n]\n",
			want:    []string{`2 abc|7|x "y"`},
			rejects: []string{"3: subject: uid (subject) is an object, want a string or a number"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewParser(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprint(i))
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			sink := &extraSink{}
			stats, err := Read(context.Background(), []Input{{Path: path, Name: tc.name, Parser: p}}, Options{Workers: 1, NewSink: func(int) Sink { return sink }})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(sink.got, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("records:\n%s\nwant:\n%s", got, want)
			}
			var rejects []string
			for _, r := range stats[0].Rejects {
				rejects = append(rejects, fmt.Sprintf("%d: %s", r.Line, r.Reason))
			}
			if got, want := strings.Join(rejects, "\n"), strings.Join(tc.rejects, "\n"); got != want {
				t.Errorf("rejects:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// FuzzExtraFields: no input panics; a line the format's parser accepts is
// accepted with subject and user_agent set, with the same record, or
// rejected for one of them (the reason says which); a line it rejects is
// rejected the same way.
func FuzzExtraFields(f *testing.F) {
	for _, s := range []string{
		`203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /mypage/profile HTTP/1.1" 200 512 "python-requests/2.31.0" "abc" "1042" HIT`,
		`203.0.113.9 - - [22/Jun/2017:09:41:00 +0900] "GET /m%20p HTTP/1.1" 200 512 "UA \x22q\x22" "-" "-" MISS`,
		`203.0.113.80 - - [22/Jun/2017:09:41:07 +0900] "GET /mypage/bank HTTP/1.1" 200 2048 "Mozilla/5.0 \"q\"" "lang=ja; sid=f00dcafe" "2001" HIT`,
		`{"EdgeStartTimestamp":1498092060123456789,"ClientRequestURI":"\/mypage\/profile?q=%22","ClientRequestUserAgent":"UA \"q\" \u00e9","EdgeResponseStatus":200,"CacheCacheStatus":"hit","ResponseHeaders":{"x-user-id":"10\u0034\u0032"},"Cookies":{"sid":"a\"b"}}`,
		`{"ts":"2017-06-22T00:41:00.123Z","uri":"/p","status":200,"cache":"HIT","sid":"abc","uid":[1],"ua":{"x":1}}`,
		"2017-06-22\t00:41:00\tNRT57-C1\t5380\t203.0.113.9\tGET\td1.cloudfront.net\t/p\t200\t-\tcurl/8.0%20(x)\t-\tsid=abc;%20uid=1042\tHit\tX\twww.example.jp\thttps\t412\t0.002\t-\tTLSv1.3\tTLS_AES_128_GCM_SHA256\tHit\tHTTP/2.0\t-\t-\t51234\t0.001\tHit\ttext/html\t5123\t-\t-",
		"2017-06-22 00:41:00 10.0.0.5 GET /mypage/profile tab=1 443 1042 203.0.113.9 Mozilla/5.0+(Windows+NT+10.0) sid=abc;+uid=7 www.example.jp 200 15",
		``, `{`, `"`,
	} {
		f.Add(s)
	}
	jsonlFields := map[string]string{"time": "ts", "path": "uri", "status": "status", "cache": "cache"}
	type pair struct{ plain, withX Parser }
	var pairs []pair
	for _, src := range []incident.LogSource{
		{Format: "nginx", LogFormat: extraNginxFormat, Identity: "cookie:sid", Subject: "field:upstream_http_x_user_id", UserAgent: "field:http_user_agent"},
		{Format: "apache", LogFormat: extraApache, Identity: "cookie:sid", Subject: "field:X-User-Id", UserAgent: "field:User-Agent"},
		{Format: "cloudflare", Identity: "cookie:sid", Subject: "field:ResponseHeaders.x-user-id", UserAgent: "field:ClientRequestUserAgent"},
		{Format: "jsonl", Fields: jsonlFields, Identity: "field:sid", Subject: "field:uid", UserAgent: "field:ua"},
		{Format: "cloudfront", Identity: "cookie:sid", Subject: "cookie:uid", UserAgent: "field:cs(User-Agent)"},
		{Format: "w3c", Identity: "cookie:sid", Subject: "cookie:uid", UserAgent: "field:cs(User-Agent)"},
	} {
		withX, err := NewParser(src)
		if err != nil {
			f.Fatal(err)
		}
		src.Subject, src.UserAgent = "", ""
		plain, err := NewParser(src)
		if err != nil {
			f.Fatal(err)
		}
		if src.Format == "w3c" {
			h := []byte(extraW3CHeader)
			if plain, err = plain.(HeaderParser).Header(h); err != nil {
				f.Fatal(err)
			}
			if withX, err = withX.(HeaderParser).Header(h); err != nil {
				f.Fatal(err)
			}
		}
		pairs = append(pairs, pair{plain, withX})
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range pairs {
			var a, b Record
			errA := p.plain.Parse([]byte(line), &a)
			errB := p.withX.Parse([]byte(line), &b)
			if !errors.Is(errB, errHeader) { // a header line: both say so
				checkParseResult(t, []byte(line), &b, errB)
			}
			switch {
			case errA != nil && (errB == nil || errB.Error() != errA.Error()):
				t.Fatalf("%q: without: %v; with: %v", line, errA, errB)
			case errA == nil && errB != nil:
				if r := errB.Error(); !strings.HasPrefix(r, "subject: ") && !strings.HasPrefix(r, "user_agent: ") {
					t.Fatalf("%q: accepted without, rejected with: %v", line, errB)
				}
			case errA == nil:
				if d := diffRecord(b, a); d != "" {
					t.Fatalf("%q: %s", line, d)
				}
			}
		}
	})
}

// BenchmarkExtraFields: an nginx line through NewParser's parser without
// subject and user_agent (the format's parser itself), and with them.
func BenchmarkExtraFields(b *testing.B) {
	for _, bc := range []struct{ name, subject, ua string }{
		{"none", "", ""},
		{"subject", "field:host", ""},
		{"subject+user_agent", "field:host", "field:http_user_agent"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := NewParser(incident.LogSource{Format: "nginx", LogFormat: simFormat, Identity: "cookie:sid", Subject: bc.subject, UserAgent: bc.ua})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchNginxLine)))
			b.ReportAllocs()
			var rec Record
			for i := 0; i < b.N; i++ {
				rec = Record{}
				if err := p.Parse(benchNginxLine, &rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
