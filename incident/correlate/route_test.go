package correlate

import (
	"testing"

	"github.com/breachctl/breachctl/incident"
)

// TestRouteGate: the common-prefix gate turns away only paths no route
// matches, and the first matching route wins, for route sets with a long
// common prefix, none beyond "/", an exact path that is a prefix of
// another, a regular expression anchored with ^ (its literal start is a
// gate), and one that is not (no gate).
func TestRouteGate(t *testing.T) {
	sets := []struct {
		matches []string
		gate    string
	}{
		{[]string{"/mypage/profile", "/mypage/bank*", "/mypage/card", "/mypage/orders*"}, "/mypage/"},
		{[]string{"/mypage/profile*", "/account"}, "/"},
		{[]string{"/mypage", "/mypage/bank*"}, "/mypage"},
		{[]string{"/mypage/bank*"}, "/mypage/bank"},
		{[]string{"/mypage/card", `re:^/users/[0-9]+/card$`}, "/"},
		{[]string{`re:^/users/[0-9]+/card$`}, "/users/"},
		{[]string{"/users/1*", `re:/card$`}, ""},
	}
	paths := []string{"", "/", "/m", "/mypage", "/mypage/", "/mypage/profile", "/mypage/profile/x", "/mypage/bank",
		"/mypage/bank/edit", "/mypage/card", "/mypage/orders?x", "/account", "/accounts", "/users/42/card", "/items/1", "mypage/card"}
	for _, set := range sets {
		c := &incident.Case{}
		for _, m := range set.matches {
			c.Exposure.Routes = append(c.Exposure.Routes, incident.Route{Match: m})
		}
		col, err := NewCollector(c)
		if err != nil {
			t.Fatal(err)
		}
		if col.gate != set.gate {
			t.Errorf("routes %q: gate %q, want %q", set.matches, col.gate, set.gate)
		}
		for _, p := range paths {
			want := -1
			for i, m := range col.routes {
				if m.MatchBytes([]byte(p)) {
					want = i
					break
				}
			}
			if got := col.route([]byte(p)); got != want {
				t.Errorf("routes %q, path %q: route %d, want %d", set.matches, p, got, want)
			}
		}
	}
}
