package correlate_test

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// The fuzzed case: one rule of each kind but the cache.
const fuzzRules = `exposure:
  rules:
    - kind: object
      name: enum
      routes:
        - {match: 're:^/api/users/(?P<user>[0-9]+)/profile$', categories: [name, email]}
        - {match: /api/orders, object: query:order_id, categories: [purchase_history]}
      owners_query: SELECT object_id, user_id FROM orders WHERE object_id = ANY($1)
    - kind: owner
      name: mixup
      routes: [{match: "/mypage/*", categories: [name, postal_address, phone]}]
    - kind: actor
      name: takeover
      actors: {cidrs: [203.0.113.0/24]}
      login: {match: /login, success: [302], failure: [401], threshold: 2}
      routes: [{match: "/account/*", categories: [payment_card, bank_account]}]
`

var (
	fzPaths = []string{"/api/users/1/profile", "/api/users/2/profile", "/api/users/3/profile", "/api/users/99/profile",
		"/api/orders", "/api/orders", "/mypage/profile", "/mypage/x", "/login", "/login", "/account/card", "/account/bank",
		"/api/users/1/profile/edit", "/news", "/account/card", "/mypage/profile"}
	fzOrders    = []string{"order_id=o1", "order_id=o2", "order_id=o9", "order_id=zz", "x=1", "order_id=o%31&y=2", "", "order_id="}
	fzStatuses  = []int{200, 200, 302, 401, 401, 404, 500, 206}
	fzIdents    = []string{"", "sess-a", "sess-a2", "sess-b", "sess-c", "sess-d", "sess-x", ""}
	fzIPs       = []string{"203.0.113.5", "203.0.113.77", "198.51.100.9", "198.51.100.10", "", "192.0.2.1", "198.51.100.9", "198.51.100.10"}
	fzSubjects  = []string{"", "", "1", "2", "3", "9", "", "4"}
	fzNotOnFile = map[string][]incident.Category{
		"2": {incident.CatEmail, incident.CatBankAccount},
		"3": {incident.CatPaymentCard, incident.CatBankAccount, incident.CatPurchaseHistory},
		"4": {incident.CatName, incident.CatPostalAddress, incident.CatPhone},
	}
)

// decodeRuleRecords turns bytes into up to 64 records, three bytes each:
// b0 path, status; b1 identity, address, query; b2 time step, subject.
func decodeRuleRecords(data []byte) []genRec {
	t := at("09:40:57")
	var out []genRec
	for i := 0; i+3 <= len(data) && len(out) < 64; i += 3 {
		b0, b1, b2 := data[i], data[i+1], data[i+2]
		if b2&0x1f == 0x1f {
			t += 2 * int64(time.Hour)
		} else {
			t += int64(b2&0x1f) * 300 * int64(time.Millisecond)
		}
		r := logs.Record{Time: t, Pop: []byte("NRT"), Host: []byte(host), Method: []byte("GET"), Cache: logs.CacheOrigin}
		r.Path = []byte(fzPaths[b0&15])
		r.Status = fzStatuses[b0>>4&7]
		r.Identity = []byte(fzIdents[b1&7])
		r.ClientIP = []byte(fzIPs[b1>>3&7])
		if string(r.Path) == "/api/orders" {
			r.Query = []byte(fzOrders[b1>>5&7])
		}
		r.Subject = []byte(fzSubjects[b2>>5&7])
		out = append(out, genRec{file: int(b0>>7) % 2, line: int64(i/3 + 1), rec: r})
	}
	return out
}

// refRules is a plain reading of the rules' semantics (README, "Exposure
// rules") over records: the events as "rule kind victim level viewer
// [cats]" and the people as afString does.
func refRules(recs []genRec) (events, affected []string) {
	users := testUsers(fzNotOnFile)
	start, end := at("09:41:00"), at("15:38:00")
	userRe := regexp.MustCompile(`^/api/users/([0-9]+)/profile$`)
	cidr := netip.MustParsePrefix("203.0.113.0/24")
	catsOf := func(uid string, route []incident.Category) []incident.Category {
		var out []incident.Category
		for _, c := range route {
			if users[uid].OnFile(c) {
				out = append(out, c)
			}
		}
		return out
	}
	type person struct {
		confirmed     bool
		cats          map[incident.Category]bool
		views         int
		viewers       map[string]bool
		rules         map[string]bool
		anyExposureEv bool
	}
	people := map[string]*person{}
	emit := func(rule, victim, level, viewer string, route []incident.Category) {
		if users[victim] == nil {
			events = append(events, fmt.Sprintf("%s unresolved  %s %s [%s]", rule, level, viewer, catList(route)))
			return
		}
		cats := catsOf(victim, route)
		if len(cats) == 0 {
			events = append(events, fmt.Sprintf("%s empty %s %s %s [%s]", rule, victim, level, viewer, ""))
			return
		}
		events = append(events, fmt.Sprintf("%s exposure %s %s %s [%s]", rule, victim, level, viewer, catList(cats)))
		p := people[victim]
		if p == nil {
			p = &person{cats: map[incident.Category]bool{}, viewers: map[string]bool{}, rules: map[string]bool{}}
			people[victim] = p
		}
		p.rules[rule] = true
		for _, c := range cats {
			p.cats[c] = true
		}
		if level == "confirmed" {
			p.confirmed = true
			p.views++
			p.viewers[viewer] = true
		}
	}
	requester := func(r *logs.Record) (uid, viewer string) {
		id := string(r.Identity)
		if id == "" {
			if len(r.ClientIP) == 0 {
				return "", "anonymous"
			}
			return "", "ip:" + string(r.ClientIP)
		}
		if u, ok := testSessions[id]; ok {
			return u, "user:" + u
		}
		return "", identityViewer(id)
	}
	address := func(r *logs.Record) string {
		if len(r.ClientIP) == 0 {
			return "anonymous"
		}
		return "ip:" + string(r.ClientIP)
	}
	// direct: object and owner rules' level for a victim.
	direct := func(rule, victim string, r *logs.Record, route []incident.Category) {
		uid, viewer := requester(r)
		if uid != "" && uid == victim {
			return
		}
		level := "possible"
		if uid != "" {
			level = "confirmed"
		}
		emit(rule, victim, level, viewer, route)
	}
	ok2xx := func(s int) bool { return s >= 200 && s < 300 }
	fails := map[string]int{}
	for _, g := range recs {
		r := &g.rec
		if r.Time >= start && r.Time < end && string(r.Path) == "/login" && r.Status == 401 {
			fails[string(r.ClientIP)]++
		}
	}
	infra := func(r *logs.Record) bool {
		if a, err := netip.ParseAddr(string(r.ClientIP)); err == nil && cidr.Contains(a) {
			return true
		}
		return len(r.ClientIP) > 0 && fails[string(r.ClientIP)] >= 2
	}
	for _, g := range recs {
		r := &g.rec
		if r.Time < start || r.Time >= end {
			continue
		}
		path := string(r.Path)
		// object
		if ok2xx(r.Status) {
			if m := userRe.FindStringSubmatch(path); m != nil {
				direct("enum", m[1], r, []incident.Category{incident.CatName, incident.CatEmail})
			} else if path == "/api/orders" {
				var obj string
				for _, kv := range strings.Split(string(r.Query), "&") {
					if k, v, _ := strings.Cut(kv, "="); k == "order_id" {
						obj = strings.ReplaceAll(v, "%31", "1")
						break
					}
				}
				if obj != "" {
					owners := testOwners[obj]
					if uid, _ := requester(r); uid != "" && slices.Contains(owners, uid) {
						owners = nil // a party to the object: nobody exposed
					} else if len(owners) == 0 {
						_, viewer := requester(r)
						events = append(events, fmt.Sprintf("enum unattributed   %s []", viewer))
					}
					for _, o := range owners {
						direct("enum", o, r, []incident.Category{incident.CatPurchaseHistory})
					}
				}
			}
		}
		// owner
		if ok2xx(r.Status) && strings.HasPrefix(path, "/mypage/") && len(r.Subject) > 0 {
			direct("mixup", string(r.Subject), r, []incident.Category{incident.CatName, incident.CatPostalAddress, incident.CatPhone})
		}
		// actor
		if infra(r) {
			card := []incident.Category{incident.CatPaymentCard, incident.CatBankAccount}
			switch {
			case path == "/login" && r.Status == 302:
				switch {
				case len(r.Subject) > 0:
					emit("takeover", string(r.Subject), "possible", address(r), card)
				case len(r.Identity) > 0:
					emit("takeover", testSessions[string(r.Identity)], "possible", address(r), card)
				}
			case path != "/login" && strings.HasPrefix(path, "/account/") && ok2xx(r.Status) && len(r.Identity) > 0:
				emit("takeover", testSessions[string(r.Identity)], "confirmed", address(r), card)
			}
		}
	}
	for uid, p := range people {
		level := "possible"
		if p.confirmed {
			level = "confirmed"
		}
		var cats []incident.Category
		for c := range p.cats {
			cats = append(cats, c)
		}
		slices.Sort(cats)
		var rules []string
		for r := range p.rules {
			rules = append(rules, r)
		}
		slices.Sort(rules)
		affected = append(affected, fmt.Sprintf("%s %s [%s] views=%d viewers=%d rules=%s", uid, level, joinCats(cats), p.views, len(p.viewers), strings.Join(rules, ",")))
	}
	slices.Sort(affected)
	slices.Sort(events)
	return events, affected
}

// FuzzRules checks the object, owner and actor rules against refRules,
// with the records fed to one sink in order and to two in reverse.
func FuzzRules(f *testing.F) {
	for _, seed := range fuzzRuleSeeds() {
		f.Add(seed)
	}
	c := rulesCase(f, fuzzRules)
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := decodeRuleRecords(data)
		wantEv, wantAf := refRules(recs)
		order := make([]int, len(recs))
		for i := range order {
			order[i] = i
		}
		for _, n := range []int{1, 2} {
			o := order
			if n == 2 {
				o = reversed(order)
			}
			got := runGenWith(t, c, recs, o, n, func(i int) int { return i % n }, func() any {
				return &ownerResolver{fakeResolver: newResolver(t, fzNotOnFile), owners: testOwners}
			})
			var gotEv []string
			for _, e := range got.Events() {
				s := fmt.Sprintf("%s %s %s %s %s [%s]", e.Rule, e.Kind, e.Victim, e.Level, e.Viewer, catList(e.Categories))
				if e.Kind == "empty" {
					s = fmt.Sprintf("%s %s %s %s %s []", e.Rule, e.Kind, e.Victim, e.Level, e.Viewer)
				}
				gotEv = append(gotEv, s)
			}
			slices.Sort(gotEv)
			var gotAf []string
			for _, a := range got.Affected {
				gotAf = append(gotAf, afString(a))
			}
			slices.Sort(gotAf)
			if !slices.Equal(gotEv, wantEv) {
				t.Errorf("sinks=%d events:\ngot  %s\nwant %s", n, strings.Join(gotEv, "\n     "), strings.Join(wantEv, "\n     "))
			}
			if !slices.Equal(gotAf, wantAf) {
				t.Errorf("sinks=%d affected:\ngot  %s\nwant %s", n, strings.Join(gotAf, "\n     "), strings.Join(wantAf, "\n     "))
			}
		}
	})
}

// The seeds exercise every rule: the fuzz starts from inputs where each
// rule finds someone, not from inputs where nothing happens.
func TestFuzzRulesSeedsFindPeople(t *testing.T) {
	seeds := fuzzRuleSeeds()
	rules := map[string]bool{}
	for _, s := range seeds {
		ev, _ := refRules(decodeRuleRecords(s))
		for _, e := range ev {
			if strings.Contains(e, " exposure ") {
				rules[strings.Fields(e)[0]] = true
			}
		}
	}
	for _, r := range []string{"enum", "mixup", "takeover"} {
		if !rules[r] {
			t.Errorf("no seed makes rule %s expose anyone (found: %v)", r, rules)
		}
	}
}

// enc is one fuzz record: indexes into fzPaths, fzStatuses, fzIdents,
// fzIPs, fzOrders and fzSubjects, and the time step (x 300 ms).
func enc(path, status, ident, ip, order, step, subj int) []byte {
	return []byte{byte(path | status<<4), byte(ident | ip<<3 | order<<5), byte(step | subj<<5)}
}

func fuzzRuleSeeds() [][]byte {
	seed := func(recs ...[]byte) []byte { return slices.Concat(recs...) }
	return [][]byte{
		seed(enc(0, 0, 3, 0, 0, 20, 0), enc(4, 0, 4, 1, 0, 1, 0), enc(4, 0, 4, 1, 3, 1, 0), enc(3, 0, 6, 4, 0, 1, 0),
			enc(1, 7, 0, 5, 0, 1, 0), enc(12, 0, 3, 0, 0, 1, 0)),
		seed(enc(6, 0, 3, 0, 0, 20, 2), enc(7, 0, 1, 0, 0, 1, 2), enc(6, 0, 0, 5, 0, 1, 4), enc(6, 6, 3, 0, 0, 1, 3),
			enc(13, 0, 3, 0, 0, 1, 3), enc(15, 0, 5, 2, 0, 1, 5)),
		seed(enc(8, 2, 4, 0, 0, 20, 0), enc(10, 0, 4, 0, 0, 1, 0), enc(11, 0, 5, 2, 0, 1, 0), enc(8, 3, 0, 2, 0, 1, 0),
			enc(8, 4, 0, 2, 0, 1, 0), enc(9, 2, 0, 1, 0, 1, 3), enc(8, 3, 3, 3, 0, 1, 0), enc(8, 2, 3, 3, 0, 1, 0),
			enc(14, 0, 3, 3, 0, 1, 0), enc(10, 0, 6, 0, 0, 1, 0)),
	}
}
