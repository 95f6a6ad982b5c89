package correlate_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
)

// rulesCase is the test case with exposure.rules in place of the cache
// keys: rulesYAML replaces everything from "exposure:" on.
func rulesCase(t testing.TB, rulesYAML string) *incident.Case {
	t.Helper()
	src := sessionCaseYAML[:strings.Index(sessionCaseYAML, "exposure:")] + rulesYAML + `notify:
  from: Example Market Privacy Office <privacy@example.jp>
  default_locale: ja
`
	src = strings.Replace(src, "    identity: cookie:sid\n", "    identity: cookie:sid\n    subject: field:x_user\n    user_agent: field:ua\n", 1)
	c, err := incident.Parse([]byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("incident.Parse(rules case) = %v, want no error", err)
	}
	return c
}

// ownerResolver adds owners_query answers to the fake resolver.
type ownerResolver struct {
	*fakeResolver
	owners map[string][]string
	asked  []string
}

func (o *ownerResolver) Owners(ctx context.Context, query string, ids []string) (map[string][]string, error) {
	o.checkIDs("Owners", ids)
	o.asked = append(o.asked, ids...)
	out := map[string][]string{}
	for _, id := range ids {
		if us, ok := o.owners[id]; ok {
			out[id] = us
		}
	}
	return out, nil
}

var testOwners = map[string][]string{
	"o1": {"1", "2"}, // a shared household order
	"o2": {"3"},
	"o9": {"9"}, // user 9 has no user record
}

const objectRules = `exposure:
  rules:
    - kind: object
      name: enum
      routes:
        - {match: 're:^/api/users/(?P<user>[0-9]+)/profile$', categories: [name, email]}
        - {match: /api/orders, object: query:order_id, categories: [purchase_history]}
      owners_query: SELECT object_id, user_id FROM orders WHERE object_id = ANY($1)
`

const ownerRules = `exposure:
  rules:
    - kind: owner
      name: mixup
      routes: [{match: "/mypage/*", categories: [name, postal_address]}]
`

const actorRules = `exposure:
  rules:
    - kind: actor
      name: takeover
      actors: {cidrs: [203.0.113.0/24], user_agents: [stuffer]}
      login: {match: /login, success: [302], failure: [401], threshold: 3}
      routes: [{match: "/account/*", categories: [payment_card]}]
`

// ev is an expected event: "rule kind victim level viewer cats".
func evString(e correlate.Event) string {
	return strings.TrimSpace(fmt.Sprintf("%s %s %s %s %s [%s] %s", e.Rule, e.Kind, e.Victim, e.Level, e.Viewer, catList(e.Categories), e.Path))
}

// afString is an expected person: "user level cats views viewers rules".
func afString(a correlate.Affected) string {
	return fmt.Sprintf("%s %s [%s] views=%d viewers=%d rules=%s", a.UserID, a.Level, joinCats(a.Categories), a.Views, a.Viewers, strings.Join(a.Rules, ","))
}

func TestRuleKinds(t *testing.T) {
	anonIP := "ip:198.51.100.7"
	tests := []struct {
		name     string
		rules    string
		recs     []rrec
		events   []string
		affected []string
	}{
		{
			name:  "object: a user id in the path",
			rules: objectRules,
			recs: []rrec{
				origin("10:00:00", "sess-b", "/api/users/1/profile"),                   // user 2 sees user 1: confirmed
				origin("10:00:01", "sess-a", "/api/users/1/profile"),                   // user 1's own: nothing
				origin("10:00:02", "", "/api/users/3/profile"),                         // anonymous: possible
				origin("10:00:03", "sess-x", "/api/users/4/profile"),                   // unresolved requester: possible
				origin("10:00:04", "sess-b", "/api/users/3/profile").st(404),           // not found: nothing
				origin("10:00:05", "sess-b", "/api/users/3/profile/edit"),              // not the route
				origin("09:40:59", "sess-b", "/api/users/3/profile"),                   // before the window
				origin("10:00:06", "sess-b", "/api/users/99/profile"),                  // nobody: unresolved
				origin("10:00:07", "sess-b", "/api/users/1/profile").st(206),           // 2xx counts
				origin("15:38:00", "sess-b", "/api/users/3/profile"),                   // at the window's end: out
				hit("10:00:08", "sess-c", "/api/users/1/profile").from("198.51.100.8"), // cached or not: counts
			},
			events: []string{
				"enum exposure 1 confirmed user:2 [email,name] /api/users/1/profile",
				"enum exposure 3 possible " + anonIP + " [email,name] /api/users/3/profile",
				"enum exposure 4 possible " + identityViewer("sess-x") + " [email,name] /api/users/4/profile",
				"enum unresolved  confirmed user:2 [email,name] /api/users/99/profile",
				"enum exposure 1 confirmed user:2 [email,name] /api/users/1/profile",
				"enum exposure 1 confirmed user:3 [email,name] /api/users/1/profile",
			},
			affected: []string{
				"1 confirmed [email,name] views=3 viewers=2 rules=enum",
				"3 possible [email,name] views=0 viewers=0 rules=enum",
				"4 possible [email,name] views=0 viewers=0 rules=enum",
			},
		},
		{
			name:  "object: an object id in the query, owners from owners_query",
			rules: objectRules,
			recs: []rrec{
				origin("10:00:00", "sess-c", "/api/orders").q("order_id=o1"),         // owners 1 and 2: both confirmed
				origin("10:00:01", "sess-c", "/api/orders").q("order_id=o2"),         // user 3's own order
				origin("10:00:02", "sess-c", "/api/orders").q("x=1&order_id=zzz"),    // no owner: unattributed
				origin("10:00:03", "sess-c", "/api/orders"),                          // names nothing
				origin("10:00:04", "sess-a", "/api/orders").q("order_id=o1"),         // user 1 co-owns it: user 2 exposed to 1
				origin("10:00:05", "sess-b", "/api/orders").q("order_id=o%39"),       // o9, percent-encoded: owner unknown
				origin("10:00:06", "sess-d", "/api/orders").q("order_id=o2").st(500), // not counted
				origin("10:00:07", "sess-d", "/api/orders").q("order_id=o2&x=%zz"),   // a bad escape elsewhere
			},
			events: []string{
				"enum exposure 1 confirmed user:3 [purchase_history] /api/orders",
				"enum exposure 2 confirmed user:3 [purchase_history] /api/orders",
				"enum unattributed   user:3 [] /api/orders",
				"enum unresolved  confirmed user:2 [purchase_history] /api/orders",
				"enum exposure 3 confirmed user:4 [purchase_history] /api/orders",
			},
			affected: []string{
				"1 confirmed [purchase_history] views=1 viewers=1 rules=enum",
				"2 confirmed [purchase_history] views=1 viewers=1 rules=enum",
				"3 confirmed [purchase_history] views=1 viewers=1 rules=enum",
			},
		},
		{
			name: "object: only listed viewers count, and they are confirmed",
			rules: `exposure:
  rules:
    - kind: object
      name: bucket
      routes: [{match: 're:^/files/(?P<object>[^/]+)$', categories: [government_id]}]
      owners_query: SELECT object_id, user_id FROM documents WHERE object_id = ANY($1)
      viewers: {anonymous: true}
      from: 2017-06-22T10:00:00+09:00
`,
			recs: []rrec{
				origin("10:00:00", "", "/files/o1"),                       // anonymous outsider: both owners confirmed
				origin("10:00:01", "sess-c", "/files/o1"),                 // a logged-in request is not a listed viewer
				origin("09:59:59", "", "/files/o2"),                       // before the rule's from
				origin("10:00:02", "", "/files/o2").st(403),               // refused
				origin("10:00:03", "", "/files/nobody").from("192.0.2.9"), // no owner
			},
			events: []string{
				"bucket exposure 1 confirmed " + anonIP + " [government_id] /files/o1",
				"bucket exposure 2 confirmed " + anonIP + " [government_id] /files/o1",
				"bucket unattributed   ip:192.0.2.9 [] /files/nobody",
			},
			affected: []string{
				"1 confirmed [government_id] views=1 viewers=1 rules=bucket",
				"2 confirmed [government_id] views=1 viewers=1 rules=bucket",
			},
		},
		{
			name:  "owner: the subject differs from the requester",
			rules: ownerRules,
			recs: []rrec{
				origin("10:00:00", "sess-b", "/mypage/profile").subject("1"),         // cross-wired: 1 shown to 2
				origin("10:00:01", "sess-a", "/mypage/profile").subject("1"),         // their own
				origin("10:00:02", "sess-b", "/mypage/profile"),                      // no subject logged
				origin("10:00:03", "sess-b", "/mypage/profile").subject("3").st(500), // an error page
				origin("10:00:04", "sess-b", "/public/news").subject("3"),            // not a private route
				origin("10:00:05", "", "/mypage/profile").subject("3"),               // anonymous: possible
				origin("10:00:06", "sess-a2", "/mypage/address").subject("4"),        // 4 shown to 1 (second session)
			},
			events: []string{
				"mixup exposure 1 confirmed user:2 [name,postal_address] /mypage/profile",
				"mixup exposure 3 possible " + anonIP + " [name,postal_address] /mypage/profile",
				"mixup exposure 4 confirmed user:1 [name,postal_address] /mypage/address",
			},
			affected: []string{
				"1 confirmed [name,postal_address] views=1 viewers=1 rules=mixup",
				"3 possible [name,postal_address] views=0 viewers=0 rules=mixup",
				"4 confirmed [name,postal_address] views=1 viewers=1 rules=mixup",
			},
		},
		{
			name:  "actor: listed infrastructure, thresholds, logins and views",
			rules: actorRules,
			recs: []rrec{
				origin("10:00:00", "sess-c", "/login").st(302).from("203.0.113.5"),                    // taken over: possible
				origin("10:00:01", "sess-c", "/account/card").from("203.0.113.5"),                     // and viewed: confirmed
				origin("10:00:02", "sess-d", "/account/card").from("198.51.100.9"),                    // before the address is flagged
				origin("10:00:03", "", "/login").st(401).from("198.51.100.9"),                         // three failures:
				origin("10:00:04", "", "/login").st(401).from("198.51.100.9"),                         //  the threshold
				origin("10:00:05", "", "/login").st(401).from("198.51.100.9"),                         //  is reached
				origin("10:00:06", "sess-b", "/login").st(401).from("198.51.100.10"),                  // two failures only
				origin("10:00:07", "sess-b", "/login").st(401).from("198.51.100.10"),                  //
				origin("10:00:08", "sess-b", "/login").st(302).from("198.51.100.10"),                  // a real user's login
				origin("10:00:09", "sess-b", "/account/card").from("198.51.100.10"),                   // and their own page
				origin("10:00:10", "sess-a", "/account/x").from("192.0.2.1").agent("stuffer-bot/1.0"), // listed user agent
				origin("10:00:11", "", "/login").st(302).from("203.0.113.6").subject("2"),             // the log names the account
				origin("10:00:12", "sess-c", "/news").from("203.0.113.5"),                             // a public page
				origin("10:00:13", "sess-e", "/account/card").from("203.0.113.5"),                     // user 5 has no record
				origin("10:00:14", "sess-c", "/account/card").st(500).from("203.0.113.5"),             // an error page
			},
			events: []string{
				"takeover exposure 3 possible ip:203.0.113.5 [payment_card] /login",
				"takeover exposure 3 confirmed ip:203.0.113.5 [payment_card] /account/card",
				"takeover exposure 4 confirmed ip:198.51.100.9 [payment_card] /account/card",
				"takeover exposure 1 confirmed ip:192.0.2.1 [payment_card] /account/x",
				"takeover exposure 2 possible ip:203.0.113.6 [payment_card] /login",
				"takeover unresolved  confirmed ip:203.0.113.5 [payment_card] /account/card",
			},
			affected: []string{
				"1 confirmed [payment_card] views=1 viewers=1 rules=takeover",
				"2 possible [payment_card] views=0 viewers=0 rules=takeover",
				"3 confirmed [payment_card] views=1 viewers=1 rules=takeover",
				"4 confirmed [payment_card] views=1 viewers=1 rules=takeover",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := rulesCase(t, tc.rules)
			for _, split := range []bool{false, true} {
				res := &ownerResolver{fakeResolver: newResolver(t, nil), owners: testOwners}
				out := runOnce(t, c, tc.recs, res, split)
				var got []string
				for _, e := range out.Events() {
					got = append(got, evString(e))
				}
				if !slices.Equal(got, tc.events) {
					t.Errorf("split=%v events:\ngot  %s\nwant %s", split, strings.Join(got, "\n     "), strings.Join(tc.events, "\n     "))
				}
				var gotA []string
				for _, a := range out.Affected {
					gotA = append(gotA, afString(a))
				}
				if !slices.Equal(gotA, tc.affected) {
					t.Errorf("split=%v affected:\ngot  %s\nwant %s", split, strings.Join(gotA, "\n     "), strings.Join(tc.affected, "\n     "))
				}
				if n := len(out.Summary.Rules); n != 1 || out.Summary.Rules[0].Matched == 0 {
					t.Errorf("Summary.Rules = %+v, want one rule that matched requests", out.Summary.Rules)
				}
			}
		})
	}
}

// A case with a cache rule and other rules: the cache rule's events and
// people are exactly those of the cache rule alone, and the summary breaks
// the result down by rule.
func TestRulesBesideTheCache(t *testing.T) {
	cacheOnly := loadCase(t, "session")
	mixed := rulesCase(t, `exposure:
  rules:
    - kind: cache
      cache_key: [pop, host, path, query]
      cacheable_status: [200]
      routes:
        - {match: /mypage/profile, categories: [name, postal_address, phone]}
        - {match: "/mypage/bank*", categories: [bank_account]}
    - kind: object
      name: enum
      routes: [{match: 're:^/api/users/(?P<user>[0-9]+)/profile$', categories: [name, email]}]
    - kind: actor
      actors: {ips: [203.0.113.5]}
      routes: [{match: "/account/*", categories: [payment_card]}]
`)
	cacheRecs := []rrec{
		fill("10:00:00.000", "sess-a", profile),
		hit("10:00:01.000", "sess-b", profile),
		fill("10:00:02.000", "sess-c", bank),
		hit("10:00:02.500", "", bank),
	}
	recs := append(slices.Clone(cacheRecs),
		origin("10:00:03", "sess-b", "/api/users/1/profile"),
		origin("10:00:04", "sess-d", "/account/card").from("203.0.113.5"),
	)
	res := func() correlate.Resolver { return &ownerResolver{fakeResolver: newResolver(t, nil)} }
	alone := runOnce(t, cacheOnly, cacheRecs, res(), false)
	both := runOnce(t, mixed, recs, res(), true)
	var cacheEvents []correlate.Event
	for _, e := range both.Events() {
		if e.Rule == "cache" {
			cacheEvents = append(cacheEvents, e)
		}
	}
	want := alone.Events()
	if len(cacheEvents) != len(want) {
		t.Fatalf("cache events beside other rules: %d, alone %d", len(cacheEvents), len(want))
	}
	for i := range want {
		if eventString(cacheEvents[i]) != eventString(want[i]) || want[i].Rule != "cache" {
			t.Errorf("cache event %d: %s, alone %s (rule %q)", i, eventString(cacheEvents[i]), eventString(want[i]), want[i].Rule)
		}
	}
	var got []string
	for _, a := range both.Affected {
		got = append(got, afString(a))
	}
	wantA := []string{
		"1 confirmed [email,name,phone,postal_address] views=2 viewers=1 rules=cache,enum",
		"3 possible [bank_account] views=0 viewers=0 rules=cache",
		"4 confirmed [payment_card] views=1 viewers=1 rules=actor",
	}
	// user 3's bank page went to an anonymous viewer: confirmed.
	wantA[1] = "3 confirmed [bank_account] views=1 viewers=1 rules=cache"
	if !slices.Equal(got, wantA) {
		t.Errorf("affected:\ngot  %s\nwant %s", strings.Join(got, "\n     "), strings.Join(wantA, "\n     "))
	}
	sums := both.Summary.Rules
	if len(sums) != 3 {
		t.Fatalf("Summary.Rules has %d rules, want 3", len(sums))
	}
	type row struct {
		name, kind      string
		confirmed, poss int
		events          int64
		top             string
	}
	wantRows := []row{
		{"cache", "cache", 2, 0, 2, "ip:198.51.100.7"},
		{"enum", "object", 1, 0, 1, "user:2"},
		{"actor", "actor", 1, 0, 1, "ip:203.0.113.5"},
	}
	for i, w := range wantRows {
		s := sums[i]
		if s.Name != w.name || s.Kind != w.kind || s.Confirmed != w.confirmed || s.Possible != w.poss || s.ConfirmedEvents != w.events ||
			len(s.TopViewers) == 0 || s.TopViewers[0].Viewer != w.top || s.Matched == 0 {
			t.Errorf("rule %d summary = %+v, want %+v", i, s, w)
		}
	}
}
