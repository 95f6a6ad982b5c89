package logs

import "testing"

func TestSplitTarget(t *testing.T) {
	tests := []struct {
		in, host, path, query string
		reject                bool
	}{
		{in: "/mypage/profile?tab=1", path: "/mypage/profile", query: "tab=1"},
		{in: "/", path: "/"},
		{in: "https://www.example.jp:443/mypage/bank?x=1", host: "www.example.jp", path: "/mypage/bank", query: "x=1"},
		{in: "HTTP://Shop.Example/mypage", host: "Shop.Example", path: "/mypage"},
		{in: "http://user:pw@shop.example:8080", host: "shop.example", path: "/"},
		{in: "https://shop.example?q=1", host: "shop.example", path: "/", query: "q=1"},
		{in: "https://[2001:db8::1]:443/a", host: "2001:db8::1", path: "/a"},
		{in: "//cdn.example/a?b", host: "cdn.example", path: "/a", query: "b"},
		{in: "*", reject: true},
		{in: "mypage/profile", reject: true},
		{in: "shop.example/mypage", reject: true},
		{in: "ftp://x/y", reject: true},
		{in: "https:///nohost", reject: true},
		{in: "", reject: true},
	}
	for _, tc := range tests {
		var rec Record
		err := splitTarget([]byte(tc.in), &rec)
		if tc.reject {
			if err == nil {
				t.Errorf("splitTarget(%q) = path %q, want a reject", tc.in, rec.Path)
			}
			continue
		}
		if err != nil {
			t.Errorf("splitTarget(%q): %v", tc.in, err)
			continue
		}
		if string(rec.Host) != tc.host || string(rec.Path) != tc.path || string(rec.Query) != tc.query {
			t.Errorf("splitTarget(%q) = host %q path %q query %q; want %q %q %q", tc.in, rec.Host, rec.Path, rec.Query, tc.host, tc.path, tc.query)
		}
	}
	// A host the line already gave wins over the URL's.
	rec := Record{Host: []byte("edge.example")}
	if err := splitTarget([]byte("https://origin.example/a"), &rec); err != nil || string(rec.Host) != "edge.example" {
		t.Errorf("host = %q (%v), want the line's own", rec.Host, err)
	}
}
