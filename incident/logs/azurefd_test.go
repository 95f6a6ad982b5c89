package logs

import (
	"strings"
	"testing"
)

// benchAzureFDLine is a FrontDoorAccessLog record with the documented
// properties, values our own.
var benchAzureFDLine = []byte(`{"time":"2017-06-22T00:41:00.1234567Z","resourceId":"/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CDN/PROFILES/SHOP","category":"FrontDoorAccessLog","operationName":"Microsoft.Cdn/Profiles/AccessLog/Write","properties":{"trackingReference":"0a1b2c3d4e5f","httpMethod":"GET","httpVersion":"2.0.0","requestUri":"https://www.example-market.jp:443/items/123456?ref=top","hostName":"www.example-market.jp","requestBytes":"1024","responseBytes":"5380","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)","clientIp":"198.51.100.7","clientPort":"51234","socketIp":"198.51.100.7","timeToFirstByte":"0.012","timeTaken":"0.020","requestProtocol":"HTTPS","securityProtocol":"TLS 1.3","rulesEngineMatchNames":[],"httpStatusCode":"200","httpStatusDetails":"200","pop":"TYO","cacheStatus":"HIT","errorInfo":"NoError","ErrorInfo":"NoError","result":"N/A","endpoint":"shop-abc.z01.azurefd.net","routingRuleName":"default","originName":"N/A","userId":"u-4711"}}`)

func TestAzureFrontDoorParse(t *testing.T) {
	none := Identity{}
	rec := func(props string) string {
		return `{"time":"2017-06-22T00:41:00Z","category":"FrontDoorAccessLog","properties":{` + props + `}}`
	}
	tests := []struct {
		name   string
		id     Identity
		line   string
		want   Record
		reject string
	}{
		{name: "documented properties, hit, full URL split", id: Identity{Kind: "field", Name: "userId"}, line: string(benchAzureFDLine),
			want: Record{Time: ns("2017-06-22T00:41:00.1234567Z"), Pop: b("TYO"), ClientIP: b("198.51.100.7"), Method: b("GET"), Host: b("www.example-market.jp"), Path: b("/items/123456"), Query: b("ref=top"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT"), Identity: b("u-4711")}},
		{name: "miss, host from the URL", id: none, line: rec(`"httpMethod":"GET","requestUri":"https://shop.example/mypage/profile","clientIp":"203.0.113.9","httpStatusCode":"200","pop":"OSA","cacheStatus":"MISS"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("OSA"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage/profile"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS")}},
		{name: "remote hit from the regional cache", id: none, line: rec(`"requestUri":"https://shop.example/p","clientIP":"2001:db8::7","httpStatusCode":200,"pop":"OSA","cacheStatus":"REMOTE_HIT"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Pop: b("OSA"), ClientIP: b("2001:db8::7"), Host: b("shop.example"), Path: b("/p"), Status: 200, Cache: CacheCached, CacheRaw: b("REMOTE_HIT")}},
		{name: "partial hit", id: none, line: rec(`"requestUri":"https://shop.example/big.iso","httpStatusCode":"206","cacheStatus":"PARTIAL_HIT"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/big.iso"), Status: 206, Cache: CacheCached, CacheRaw: b("PARTIAL_HIT")}},
		{name: "caching off for the route", id: none, line: rec(`"requestUri":"https://shop.example/api?x=1","httpStatusCode":"200","cacheStatus":"CONFIG_NOCACHE"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/api"), Query: b("x=1"), Status: 200, Cache: CacheOrigin, CacheRaw: b("CONFIG_NOCACHE")}},
		{name: "N/A: denied at the edge", id: none, line: rec(`"requestUri":"https://shop.example/","httpStatusCode":"403","cacheStatus":"N/A"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/"), Status: 403, Cache: CacheOrigin, CacheRaw: b("N/A")}},
		{name: "unknown cache value is kept", id: none, line: rec(`"requestUri":"https://shop.example/","httpStatusCode":"200","cacheStatus":"TCP_EXPIRED_HIT"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/"), Status: 200, Cache: CacheUnknown, CacheRaw: b("TCP_EXPIRED_HIT")}},
		{name: "flattened AzureDiagnostics export, top-level identity", id: Identity{Kind: "field", Name: "userId_s"},
			line: `{"TimeGenerated":"2017-06-22T00:41:00.5Z","Category":"FrontDoorAccessLog","clientIp_s":"203.0.113.9:50000","httpMethod_s":"GET","requestUri_s":"https://shop.example:443/mypage","hostName_s":"shop.example","httpStatusCode_s":"200","pop_s":"TYO","cacheStatus_s":"MISS","userId_s":"u-1"}`,
			want: Record{Time: ns("2017-06-22T00:41:00.5Z"), Pop: b("TYO"), ClientIP: b("203.0.113.9"), Method: b("GET"), Host: b("shop.example"), Path: b("/mypage"), Status: 200, Cache: CacheFill, CacheRaw: b("MISS"), Identity: b("u-1")}},
		{name: "N/A identity is anonymous", id: Identity{Kind: "field", Name: "userId"}, line: rec(`"requestUri":"https://shop.example/","httpStatusCode":"200","cacheStatus":"HIT","userId":"N/A"`),
			want: Record{Time: ns("2017-06-22T00:41:00Z"), Coarse: true, Host: b("shop.example"), Path: b("/"), Status: 200, Cache: CacheCached, CacheRaw: b("HIT")}},

		{name: "host name in the address field", id: none, line: rec(`"requestUri":"https://shop.example/","clientIp":"proxy.example.net","httpStatusCode":"200","cacheStatus":"HIT"`),
			reject: `clientIp "proxy.example.net" is not an IP address`},
		{name: "request URI neither path nor URL", id: none, line: rec(`"requestUri":"shop.example/mypage","httpStatusCode":"200","cacheStatus":"HIT"`),
			reject: `request target "shop.example/mypage" is neither a path beginning with / nor a full URL`},
		{name: "Event Hubs batch", id: none, line: `{"records":[{"time":"2017-06-22T00:41:00Z","properties":{}}]}`,
			reject: `a {"records":[…]} batch inside a file (the Event Hubs form): give each batch its own file, or write one record per line`},
		{name: "no time", id: none, line: `{"properties":{"requestUri":"https://shop.example/","httpStatusCode":"200","cacheStatus":"HIT"}}`, reject: "time missing"},
		{name: "no status", id: none, line: rec(`"requestUri":"https://shop.example/","cacheStatus":"HIT"`), reject: "httpStatusCode missing"},
		{name: "no cache status", id: none, line: rec(`"requestUri":"https://shop.example/","httpStatusCode":"200"`), reject: "cacheStatus missing"},
		{name: "no request URI", id: none, line: rec(`"httpStatusCode":"200","cacheStatus":"HIT"`), reject: "requestUri missing"},
		{name: "status not a number", id: none, line: rec(`"requestUri":"https://shop.example/","httpStatusCode":"OK","cacheStatus":"HIT"`), reject: `httpStatusCode "OK" is not a status number`},
		{name: "truncated", id: none, line: string(benchAzureFDLine[:300]), reject: "line ends inside the object (truncated?)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewAzureFrontDoor(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			expectParse(t, p, []byte(tc.line), tc.reject, tc.want)
		})
	}
}

func TestNewAzureFrontDoorErrors(t *testing.T) {
	for _, tc := range []struct {
		id   Identity
		want string
	}{
		{Identity{Kind: "cookie", Name: "sid"}, "hold no cookies"},
		{Identity{Kind: "remote_user"}, "remote_user does not exist"},
		{Identity{Kind: "field", Name: "a..b"}, "empty part"},
	} {
		if _, err := NewAzureFrontDoor(tc.id); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewAzureFrontDoor(%+v) = %v, want an error containing %q", tc.id, err, tc.want)
		}
	}
}

func TestAzureFrontDoorZeroAllocs(t *testing.T) {
	for _, id := range []Identity{{Kind: "field", Name: "userId"}, {}} {
		p, err := NewAzureFrontDoor(id)
		if err != nil {
			t.Fatal(err)
		}
		line := make([]byte, len(benchAzureFDLine))
		var rec Record
		allocs := testing.AllocsPerRun(100, func() {
			copy(line, benchAzureFDLine)
			rec = Record{}
			if err := p.Parse(line, &rec); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("identity %+v: %v allocations per line, want 0", id, allocs)
		}
	}
}

func FuzzAzureFrontDoor(f *testing.F) {
	f.Add(benchAzureFDLine)
	for _, s := range []string{
		`{"TimeGenerated":"2017-06-22T00:41:00.5Z","clientIp_s":"203.0.113.9:50000","requestUri_s":"https://shop.example:443/mypage","httpStatusCode_s":"200","cacheStatus_s":"MISS","userId_s":"u-1"}`,
		`{"time":"2017-06-22T00:41:00Z","properties":{"requestUri":"shop.example/mypage","clientIp":"x","httpStatusCode":"200","cacheStatus":"HIT"}}`,
		`{"records":[{"time":"2017-06-22T00:41:00Z","properties":{}}]}`,
	} {
		f.Add([]byte(s))
	}
	p, err := NewAzureFrontDoor(Identity{Kind: "field", Name: "userId"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var rec Record
		err := p.Parse(line, &rec)
		checkTarget(t, line, &rec, err)
	})
}

func BenchmarkAzureFrontDoorParse(b *testing.B) {
	p, err := NewAzureFrontDoor(Identity{Kind: "field", Name: "userId"})
	if err != nil {
		b.Fatal(err)
	}
	line := make([]byte, len(benchAzureFDLine))
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	var rec Record
	for i := 0; i < b.N; i++ {
		copy(line, benchAzureFDLine)
		rec = Record{}
		if err := p.Parse(line, &rec); err != nil {
			b.Fatal(err)
		}
	}
}
