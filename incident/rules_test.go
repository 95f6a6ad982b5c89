package incident

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// rulesYAML replaces valid.yaml's exposure block with rules (and gives
// the logs a subject, which owner rules need, unless noSubject).
func rulesYAML(t *testing.T, rules string, noSubject bool) string {
	t.Helper()
	b, err := os.ReadFile("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "exposure:\n"), strings.Index(s, "notify:\n")
	s = s[:i] + rules + s[j:]
	if !noSubject {
		s = strings.Replace(s, "    identity: cookie:sid\n", "    identity: cookie:sid\n    subject: field:upstream_http_x_user_id\n", 1)
	}
	return s
}

func TestRulesValid(t *testing.T) {
	src := rulesYAML(t, `exposure:
  rules:
    - kind: cache
      cache_key: [pop, host, path, query]
      routes: [{match: /mypage/profile, categories: [name]}]
    - kind: object
      routes:
        - {match: 're:^/api/users/(?P<user>[0-9]+)$', categories: [name, email]}
        - {match: /api/orders, object: query:order_id, categories: [purchase_history]}
      owners_query: SELECT object_id, user_id FROM orders WHERE object_id = ANY($1)
      viewers: {cidrs: [203.0.113.0/24, "::ffff:198.51.100.0/120"], anonymous: true}
    - kind: object
      from: 2017-06-22T10:00:00+09:00
      routes: [{match: /api/me, user: subject, categories: [email]}]
    - kind: owner
      routes: [{match: "/account/*", categories: [name]}]
    - kind: actor
      actors: {ips: [203.0.113.7]}
      login: {match: /login, threshold: 5}
      routes: [{match: "/settings/*", categories: [payment_card, name]}]
`, false)
	c, err := Parse([]byte(src), testEnv)
	if err != nil {
		t.Fatalf("Parse() = %v, want no error", err)
	}
	var names []string
	for _, r := range c.Exposure.Rules {
		names = append(names, r.Name+":"+r.Kind)
	}
	if got := strings.Join(names, " "); got != "cache:cache object:object object-2:object owner:owner actor:actor" {
		t.Errorf("rule names = %s", got)
	}
	if len(c.Exposure.Routes) != 1 || c.Exposure.CacheKey[0] != "pop" || c.Exposure.CacheableStatus[0] != 200 {
		t.Errorf("the cache rule's keys were not carried to Exposure: %+v", c.Exposure)
	}
	obj := c.Exposure.Rules[1]
	if len(obj.Statuses) != 100 || obj.Statuses[0] != 200 || len(obj.Viewers.Prefixes) != 2 || obj.Viewers.Prefixes[1].String() != "198.51.100.0/24" {
		t.Errorf("object rule defaults: statuses %v, viewers %v", obj.Statuses[:3], obj.Viewers.Prefixes)
	}
	if r := c.Exposure.Rules[2]; !r.Start.Equal(mustRFC3339(t, "2017-06-22T10:00:00+09:00")) || !r.End.Equal(c.End) {
		t.Errorf("object-2 range = %v – %v", r.Start, r.End)
	}
	a := c.Exposure.Rules[4]
	if a.Login.Success[0] != 200 || a.Login.Failure[0] != 401 || strings.Join(catNames(a.Login.Categories), ",") != "payment_card,name" {
		t.Errorf("actor login defaults = %+v", a.Login)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings = %v, want none", c.Warnings)
	}
	// The short form is one cache rule named cache.
	c, err = Parse(mustRead(t, "testdata/valid.yaml"), testEnv)
	if err != nil || len(c.Exposure.Rules) != 1 || c.Exposure.Rules[0].Name != "cache" || c.Exposure.CacheRule() == nil {
		t.Fatalf("short form: rules %+v, err %v", c.Exposure.Rules, err)
	}
}

func TestRulesProblems(t *testing.T) {
	tests := []struct {
		name      string
		rules     string
		noSubject bool
		want      []string
		warn      []string
	}{
		{name: "a pattern without the named capture", rules: `
    - kind: object
      routes: [{match: 're:^/api/users/([0-9]+)$', categories: [name]}]`,
			want: []string{`exposure.rules[0].routes[0].match (line 37): names no victim: use a regular expression with a named group`}},
		{name: "a group the pattern does not have", rules: `
    - kind: object
      routes: [{match: 're:^/api/users/(?P<id>[0-9]+)$', user: 'path:uid', categories: [name]}]`,
			want: []string{`exposure.rules[0].routes[0].user (line 37): the route's regular expression has no named group "uid"`}},
		{name: "an object without owners_query", rules: `
    - kind: object
      routes: [{match: 're:^/files/(?P<object>.+)$', categories: [name]}]`,
			want: []string{`exposure.rules[0].owners_query (line 36): required when a route names an object`}},
		{name: "owners_query that is not needed", rules: `
    - kind: object
      routes: [{match: 're:^/u/(?P<user>.+)$', categories: [name]}]
      owners_query: SELECT object_id, user_id FROM t WHERE object_id = ANY($1)`,
			want: []string{`exposure.rules[0].owners_query (line 38): no route names an object`}},
		{name: "a field of another kind", rules: `
    - kind: owner
      routes: [{match: /a, categories: [name]}]
      owners_query: SELECT 1`,
			want: []string{`exposure.rules[0].owners_query (line 38): a owner rule takes no owners_query (it belongs to: object); remove it`}},
		{name: "an owner rule without subjects", noSubject: true, rules: `
    - kind: owner
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].kind (line 35): an owner rule reads whose data each response carried from logs[].subject`}},
		{name: "an actor rule with nobody", rules: `
    - kind: actor
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].actors (line 36): required: the attacker's ips, cidrs, user_agents or identities, or login.threshold`}},
		{name: "addresses that do not parse", rules: `
    - kind: actor
      actors: {ips: [203.0.113.0/24], cidrs: [203.0.113.300/24]}
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].actors.ips[0] (line 37): "203.0.113.0/24" is not an IP address (networks go under cidrs)`,
				`exposure.rules[0].actors.cidrs[0] (line 37): "203.0.113.300/24" is not a network`}},
		{name: "user agents the logs do not carry", rules: `
    - kind: actor
      actors: {user_agents: [python-requests]}
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].actors.user_agents (line 37): user agents are read from logs[].user_agent`}},
		{name: "an unknown kind", rules: `
    - kind: ddos
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].kind (line 36): "ddos" is not a rule kind; use one of: cache, object, owner, actor`}},
		{name: "a range outside the window", rules: `
    - kind: owner
      from: 2017-06-22T09:00:00+09:00
      routes: [{match: /a, categories: [name]}]`,
			want: []string{`exposure.rules[0].from (line 37): must be inside the window`}},
		{name: "two rules with one name", rules: `
    - {kind: owner, name: x, routes: [{match: /a, categories: [name]}]}
    - {kind: owner, name: x, routes: [{match: /b, categories: [name]}]}`,
			want: []string{`exposure.rules[1].name (line 37): "x" is also the name of exposure.rules[0]`}},
		{name: "a second cache rule", rules: `
    - {kind: cache, cache_key: [path], routes: [{match: /a, categories: [name]}]}
    - {kind: cache, cache_key: [path], routes: [{match: /b, categories: [name]}]}`,
			want: []string{`exposure.rules[1].kind (line 37): only one cache rule is supported`}},
		{name: "overlapping routes are a warning", rules: `
    - {kind: owner, routes: [{match: "/mypage/*", categories: [name]}]}
    - kind: actor
      actors: {ips: [192.0.2.1]}
      routes: [{match: /mypage/profile, categories: [name]}]`,
			warn: []string{`exposure.rules[1].routes[0].match (line 39): takes the same paths as exposure.rules[0].routes[0] (e.g. /mypage/profile)`}},
		{name: "a regular expression overlapping a path", rules: `
    - kind: object
      routes: [{match: 're:^/api/users/(?P<user>[0-9]+)$', categories: [name]}]
    - kind: actor
      actors: {ips: [192.0.2.1]}
      routes: [{match: "/api/users/1*", categories: [name]}]`,
			warn: []string{`exposure.rules[1].routes[0].match (line 40): takes the same paths as exposure.rules[0].routes[0] (e.g. /api/users/1)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := rulesYAML(t, "exposure:\n  rules:"+tc.rules+"\n", tc.noSubject)
			c, err := Parse([]byte(src), testEnv)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Parse() = %v, want no error", err)
				}
				got := ""
				for _, w := range c.Warnings {
					got += w.String() + "\n"
				}
				for _, w := range tc.warn {
					if !strings.Contains(got, w) {
						t.Errorf("warnings:\n%s\nwant %q", got, w)
					}
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse() = %v, want a ValidationError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error:\n%v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// Rules and the short form together: the short form must move into a rule.
func TestRulesAndShortForm(t *testing.T) {
	src := rulesYAML(t, `exposure:
  routes: [{match: /a, categories: [name]}]
  rules:
    - {kind: owner, routes: [{match: /b, categories: [name]}]}
`, false)
	_, err := Parse([]byte(src), testEnv)
	if err == nil || !strings.Contains(err.Error(), "exposure.rules is given: move cache_key, cacheable_status and routes into a rule of kind cache") {
		t.Errorf("Parse() = %v", err)
	}
}

func catNames(cs []Category) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c)
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustRFC3339(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
