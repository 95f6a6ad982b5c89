package incident

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
)

// Rule kinds (exposure.rules[].kind): how the logs show whose data went to
// whom (shared/reference/EXPOSURE-RULES.md).
const (
	// RuleCache: cache lineage (R7): a page stored for one person, served
	// from the cache to another.
	RuleCache = "cache"
	// RuleObject: the request names the victim or an object of theirs
	// (enumeration, IDOR, exposed files: R1, R9).
	RuleObject = "object"
	// RuleOwner: the log names whose data the response carried (an upstream
	// header such as X-User-Id): cross-wired responses (R8).
	RuleOwner = "owner"
	// RuleActor: sessions used from the attacker's infrastructure
	// (credential stuffing, account takeover: R5).
	RuleActor = "actor"
)

// MaxRules is how many rules a case may have.
const MaxRules = 64

// RuleKinds lists the kinds, in the order they are documented.
var RuleKinds = []string{RuleCache, RuleObject, RuleOwner, RuleActor}

// Rule is one exposure rule. Which fields apply depends on Kind; the
// validator rejects the others.
type Rule struct {
	Kind string `yaml:"kind"`
	// Name names the rule in events, triage and disclosures; default the
	// kind (kind-2, kind-3 ... when a kind is repeated).
	Name string `yaml:"name"`
	// From and To limit the rule to part of the window ([from, to)); each
	// defaults to the window's edge.
	From string `yaml:"from"`
	To   string `yaml:"to"`

	// cache
	CacheKey        []string `yaml:"cache_key"`
	CacheableStatus []int    `yaml:"cacheable_status"`

	// every kind: the private routes and what their responses show.
	Routes []Route `yaml:"routes"`

	// object, owner, actor: the statuses of a response that carried data
	// (default 200-299).
	Statuses []int `yaml:"statuses"`

	// object: owners_query maps the captured object ids to their owners
	// (SELECT object_id, user_id ... WHERE object_id = ANY($1)).
	OwnersQuery string `yaml:"owners_query"`
	// object: only these requesters count as viewers (default: anyone who
	// is not the victim). A listed viewer is a known foreign party: what
	// it received is confirmed even when it was not logged in.
	Viewers *Parties `yaml:"viewers"`

	// actor: the attacker's infrastructure.
	Actors *Parties `yaml:"actors"`
	// actor: the login route, and how a failure and a success look.
	Login *Login `yaml:"login"`

	// Derived when the file is loaded.
	Start time.Time `yaml:"-"` // From, or the window's start
	End   time.Time `yaml:"-"` // To, or the window's end
}

// Parties lists requesters: client addresses, networks, user agents
// (substrings), identities (as logged), and every anonymous requester.
type Parties struct {
	IPs        []string `yaml:"ips"`
	CIDRs      []string `yaml:"cidrs"`
	UserAgents []string `yaml:"user_agents"`
	Identities []string `yaml:"identities"`
	// Anonymous: any request that carries no identity.
	Anonymous bool `yaml:"anonymous"`

	// Derived: IPs and CIDRs parsed.
	Prefixes []netip.Prefix `yaml:"-"`
}

// Empty reports whether nothing is listed.
func (p *Parties) Empty() bool {
	return p == nil || (!p.Anonymous && len(p.IPs)+len(p.CIDRs)+len(p.UserAgents)+len(p.Identities) == 0)
}

// Login describes an actor rule's login route.
type Login struct {
	Match string `yaml:"match"`
	// Success and Failure are the statuses of a successful and of a failed
	// login (default [200, 302, 303] and [401, 403]).
	Success []int `yaml:"success"`
	Failure []int `yaml:"failure"`
	// Threshold: a client address with at least this many failed logins
	// inside the rule's range is the attacker's too (0: only actors listed).
	Threshold int `yaml:"threshold"`
	// Categories: what a taken-over account shows when no page view is
	// proven (the person is possible for them); default every category of
	// the rule's routes.
	Categories []Category `yaml:"categories"`
}

// Route source specs: where a request names its victim or object.
const (
	// SourceSubject reads the log's subject field (logs[].subject).
	SourceSubject = "subject"
)

// captureRe finds named groups in a route's regular expression.
var groupName = regexp.MustCompile(`\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>`)

// SourceOf returns where an object rule's route names its victim: what
// ("user" or "object") and the spec (path:GROUP, query:PARAM or subject).
// Route.User / Route.Object win; else a named group user or object of the
// route's regular expression.
func (r *Route) SourceOf() (what, spec string) {
	switch {
	case r.User != "":
		return "user", r.User
	case r.Object != "":
		return "object", r.Object
	}
	if strings.HasPrefix(r.Match, "re:") {
		for _, m := range groupName.FindAllStringSubmatch(r.Match[3:], -1) {
			if m[1] == "user" || m[1] == "object" {
				return m[1], "path:" + m[1]
			}
		}
	}
	return "", ""
}

// CacheRule returns the case's cache rule, or nil.
func (e *Exposure) CacheRule() *Rule {
	for i := range e.Rules {
		if e.Rules[i].Kind == RuleCache {
			return &e.Rules[i]
		}
	}
	return nil
}

// RuleNamed returns the rule with that name, or nil.
func (e *Exposure) RuleNamed(name string) *Rule {
	for i := range e.Rules {
		if e.Rules[i].Name == name {
			return &e.Rules[i]
		}
	}
	return nil
}

// AllStatuses2xx is the default of a rule's statuses.
func defaultStatuses() []int {
	s := make([]int, 0, 100)
	for i := 200; i < 300; i++ {
		s = append(s, i)
	}
	return s
}

// checkRules validates exposure.rules and the legacy cache keys, and
// leaves e.Rules holding every rule (the legacy keys as one cache rule,
// named "cache") and e.CacheKey / CacheableStatus / Routes holding the
// cache rule's (empty without one).
func (v *validator) checkRules(c *Case, e *Exposure) {
	legacy := len(e.CacheKey) > 0 || len(e.CacheableStatus) > 0 || len(e.Routes) > 0
	if len(e.Rules) == 0 {
		// Today's case files: one cache rule.
		v.checkCache("exposure", e.CacheKey, &e.CacheableStatus, e.Routes)
		e.Rules = []Rule{{Kind: RuleCache, Name: RuleCache, CacheKey: e.CacheKey, CacheableStatus: e.CacheableStatus, Routes: e.Routes, Start: c.Start, End: c.End}}
		return
	}
	if legacy {
		v.at("exposure.routes", "exposure.rules is given: move cache_key, cacheable_status and routes into a rule of kind cache")
		return
	}
	if len(e.Rules) > MaxRules {
		v.at("exposure.rules", "%d rules: at most %d (merge the routes of rules of one kind)", len(e.Rules), MaxRules)
		return
	}
	count := map[string]int{}
	names := map[string]int{}
	for i := range e.Rules {
		r := &e.Rules[i]
		p := fmt.Sprintf("exposure.rules[%d]", i)
		if !contains(RuleKinds, r.Kind) {
			v.at(p+".kind", "%q is not a rule kind; use one of: %s", r.Kind, strings.Join(RuleKinds, ", "))
			continue
		}
		count[r.Kind]++
		if r.Name == "" {
			r.Name = r.Kind
			if count[r.Kind] > 1 {
				r.Name = fmt.Sprintf("%s-%d", r.Kind, count[r.Kind])
			}
		} else if !caseIDRe.MatchString(r.Name) {
			v.at(p+".name", "%q must match [a-z0-9-]+", r.Name)
		}
		if j, ok := names[r.Name]; ok {
			v.at(p+".name", "%q is also the name of exposure.rules[%d]; give each rule its own name", r.Name, j)
		}
		names[r.Name] = i
		r.Start, r.End = c.Start, c.End
		if r.From != "" {
			if t := v.timestamp(p+".from", r.From, false); !t.IsZero() {
				r.Start = t
			}
		}
		if r.To != "" {
			if t := v.timestamp(p+".to", r.To, false); !t.IsZero() {
				r.End = t
			}
		}
		if !c.Start.IsZero() && !c.End.IsZero() {
			if r.Start.Before(c.Start) || r.Start.After(c.End) {
				v.at(p+".from", "must be inside the window (%s to %s)", c.Window.Start, c.Window.End)
			}
			if r.End.Before(c.Start) || r.End.After(c.End) {
				v.at(p+".to", "must be inside the window (%s to %s)", c.Window.Start, c.Window.End)
			}
			if !r.End.After(r.Start) {
				v.at(p+".to", "must be after the rule's from")
			}
		}
		v.notFor(p, r, "cache_key", len(r.CacheKey) > 0, RuleCache)
		v.notFor(p, r, "cacheable_status", len(r.CacheableStatus) > 0, RuleCache)
		v.notFor(p, r, "statuses", len(r.Statuses) > 0, RuleObject, RuleOwner, RuleActor)
		v.notFor(p, r, "owners_query", r.OwnersQuery != "", RuleObject)
		v.notFor(p, r, "viewers", r.Viewers != nil, RuleObject)
		v.notFor(p, r, "actors", r.Actors != nil, RuleActor)
		v.notFor(p, r, "login", r.Login != nil, RuleActor)
		switch r.Kind {
		case RuleCache:
			if count[RuleCache] > 1 {
				v.at(p+".kind", "only one cache rule is supported: merge its routes into the first")
			}
			v.checkCache(p, r.CacheKey, &r.CacheableStatus, r.Routes)
			e.CacheKey, e.CacheableStatus, e.Routes = r.CacheKey, r.CacheableStatus, r.Routes
		case RuleObject:
			v.checkObject(c, p, r)
		case RuleOwner:
			v.routes(p, r.Routes, false)
			v.statuses(p, r)
			missing := 0
			for _, l := range c.Logs {
				if l.Subject == "" {
					missing++
				}
			}
			if missing > 0 {
				v.at(p+".kind", "an owner rule reads whose data each response carried from logs[].subject (e.g. subject: field:upstream_http_x_user_id); %d of %d logs[] entries have none", missing, len(c.Logs))
			}
		case RuleActor:
			v.checkActor(c, p, r)
		}
	}
	v.checkOverlaps(e)
}

// notFor reports a field set on a rule whose kind does not use it.
func (v *validator) notFor(p string, r *Rule, field string, set bool, kinds ...string) {
	if set && !contains(kinds, r.Kind) {
		v.at(p+"."+field, "a %s rule takes no %s (it belongs to: %s); remove it", r.Kind, field, strings.Join(kinds, ", "))
	}
}

func (v *validator) checkCache(p string, key []string, cacheable *[]int, routes []Route) {
	if len(key) == 0 {
		v.at(p+".cache_key", "required: the parts of the CDN's cache key, from %s", strings.Join(CacheKeyParts, ", "))
	}
	seen := map[string]bool{}
	for i, k := range key {
		kp := fmt.Sprintf("%s.cache_key[%d]", p, i)
		if !contains(CacheKeyParts, k) {
			v.at(kp, "%q is not a cache key part; use %s", k, strings.Join(CacheKeyParts, ", "))
		} else if seen[k] {
			v.at(kp, "%q given twice", k)
		}
		seen[k] = true
	}
	if len(*cacheable) == 0 {
		*cacheable = []int{200}
	}
	for i, s := range *cacheable {
		if s < 100 || s > 599 {
			v.at(fmt.Sprintf("%s.cacheable_status[%d]", p, i), "%d is not an HTTP status (100-599)", s)
		}
	}
	v.routes(p, routes, false)
}

// routes checks a rule's routes; sources says whether user/object are
// allowed (object rules).
func (v *validator) routes(p string, routes []Route, sources bool) {
	if len(routes) == 0 {
		v.at(p+".routes", "required: at least one private route, e.g. {match: /mypage/profile, categories: [name, email]}")
	}
	for i, r := range routes {
		rp := fmt.Sprintf("%s.routes[%d]", p, i)
		if _, err := CompileRoute(r.Match); err != nil {
			v.at(rp+".match", "%v", err)
		}
		if len(r.Categories) == 0 {
			v.at(rp+".categories", "required: the data categories this page shows, from: %s", categoryList())
		}
		for j, cat := range r.Categories {
			if !ValidCategory(string(cat)) {
				v.at(fmt.Sprintf("%s.categories[%d]", rp, j), "%q is not a data category; use one of: %s", cat, categoryList())
			}
		}
		if !sources {
			if r.User != "" {
				v.at(rp+".user", "only object rules name a victim per route; remove it")
			}
			if r.Object != "" {
				v.at(rp+".object", "only object rules name an object per route; remove it")
			}
		}
	}
}

func (v *validator) statuses(p string, r *Rule) {
	if len(r.Statuses) == 0 {
		r.Statuses = defaultStatuses()
	}
	for i, s := range r.Statuses {
		if s < 100 || s > 599 {
			v.at(fmt.Sprintf("%s.statuses[%d]", p, i), "%d is not an HTTP status (100-599)", s)
		}
	}
}

func (v *validator) checkObject(c *Case, p string, r *Rule) {
	v.routes(p, r.Routes, true)
	v.statuses(p, r)
	objects := false
	for i := range r.Routes {
		rt := &r.Routes[i]
		rp := fmt.Sprintf("%s.routes[%d]", p, i)
		if rt.User != "" && rt.Object != "" {
			v.at(rp+".object", "give user (the request names the victim) or object (it names an object owners_query maps to people), not both")
			continue
		}
		what, spec := rt.SourceOf()
		field := rp + "." + what
		if what == "" {
			v.at(rp+".match", "names no victim: use a regular expression with a named group (re:^/api/users/(?P<user>[0-9]+)$, or (?P<object>...)), or set user: / object: to query:PARAM or subject")
			continue
		}
		if rt.User == "" && rt.Object == "" {
			field = rp + ".match"
		}
		if what == "object" {
			objects = true
		}
		kind, name, _ := strings.Cut(spec, ":")
		switch {
		case spec == SourceSubject:
			missing := false
			for _, l := range c.Logs {
				missing = missing || l.Subject == ""
			}
			if missing {
				v.at(field, "subject is read from logs[].subject, which every logs[] entry must then set")
			}
		case kind == "query" && name != "":
		case kind == "path" && name != "":
			if !strings.HasPrefix(rt.Match, "re:") {
				v.at(field, "%s names a group of the route's regular expression, but match is not re:...", spec)
			} else if re, err := regexp.Compile(rt.Match[3:]); err == nil && re.SubexpIndex(name) < 0 {
				v.at(field, "the route's regular expression has no named group %q: write (?P<%s>...) around the part that names the %s", name, name, what)
			}
		default:
			v.at(field, "%q: use path:GROUP (a named group of match), query:PARAM or subject", spec)
		}
	}
	switch {
	case objects && strings.TrimSpace(r.OwnersQuery) == "":
		v.at(p+".owners_query", "required when a route names an object: a SELECT returning object_id, user_id with WHERE ... = ANY($1)")
	case !objects && r.OwnersQuery != "":
		v.at(p+".owners_query", "no route names an object (every route names its user): remove it, or name objects with (?P<object>...) or object:")
	case objects:
		v.query(p+".owners_query", r.OwnersQuery, "object_id, user_id")
	}
	if r.Viewers != nil {
		v.parties(p+".viewers", r.Viewers)
		v.agentsLogged(c, p+".viewers", r.Viewers)
		if r.Viewers.Empty() {
			v.at(p+".viewers", "lists nobody: remove it (every requester but the victim counts) or list ips, cidrs, user_agents or identities")
		}
	}
}

func (v *validator) checkActor(c *Case, p string, r *Rule) {
	v.routes(p, r.Routes, false)
	v.statuses(p, r)
	if r.Actors != nil {
		v.parties(p+".actors", r.Actors)
		v.agentsLogged(c, p+".actors", r.Actors)
	}
	if r.Login != nil {
		lp := p + ".login"
		if _, err := CompileRoute(r.Login.Match); err != nil {
			v.at(lp+".match", "%v", err)
		}
		if len(r.Login.Success) == 0 {
			r.Login.Success = []int{200, 302, 303}
		}
		if len(r.Login.Failure) == 0 {
			r.Login.Failure = []int{401, 403}
		}
		for _, s := range r.Login.Success {
			if contains(intStrings(r.Login.Failure), fmt.Sprint(s)) {
				v.at(lp+".failure", "status %d is both a success and a failure", s)
			}
		}
		if r.Login.Threshold < 0 {
			v.at(lp+".threshold", "must be 0 (only listed actors) or more")
		}
		for j, cat := range r.Login.Categories {
			if !ValidCategory(string(cat)) {
				v.at(fmt.Sprintf("%s.categories[%d]", lp, j), "%q is not a data category; use one of: %s", cat, categoryList())
			}
		}
		if len(r.Login.Categories) == 0 {
			seen := map[Category]bool{}
			for _, rt := range r.Routes {
				for _, cat := range rt.Categories {
					if !seen[cat] {
						seen[cat] = true
						r.Login.Categories = append(r.Login.Categories, cat)
					}
				}
			}
		}
	}
	if r.Actors.Empty() && (r.Login == nil || r.Login.Threshold == 0) {
		v.at(p+".actors", "required: the attacker's ips, cidrs, user_agents or identities, or login.threshold (failed logins that mark a client address)")
	}
}

func intStrings(s []int) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprint(x)
	}
	return out
}

func (v *validator) parties(p string, ps *Parties) {
	ps.Prefixes = ps.Prefixes[:0]
	for i, s := range ps.IPs {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil {
			v.at(fmt.Sprintf("%s.ips[%d]", p, i), "%q is not an IP address (networks go under cidrs)", s)
			continue
		}
		ps.Prefixes = append(ps.Prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	for i, s := range ps.CIDRs {
		pf, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			v.at(fmt.Sprintf("%s.cidrs[%d]", p, i), "%q is not a network such as 203.0.113.0/24 or 2001:db8::/32", s)
			continue
		}
		if pf.Addr().Is4In6() {
			pf = netip.PrefixFrom(pf.Addr().Unmap(), pf.Bits()-96)
		}
		ps.Prefixes = append(ps.Prefixes, pf.Masked())
	}
	for i, s := range ps.UserAgents {
		if strings.TrimSpace(s) == "" {
			v.at(fmt.Sprintf("%s.user_agents[%d]", p, i), "empty: give a part of the user agent, e.g. python-requests")
		}
	}
	for i, s := range ps.Identities {
		if s == "" {
			v.at(fmt.Sprintf("%s.identities[%d]", p, i), "empty identity")
		}
	}
}

// RouteOverlap is two rules whose routes take the same paths.
type RouteOverlap struct {
	A, B   string // rule paths (exposure.rules[i].routes[j])
	Sample string // a path both take
}

// checkOverlaps reports routes of two different rules that take the same
// path: an event would be counted under both. Exact and prefix routes are
// compared exactly; a regular expression is tried against the other's
// literal path or prefix.
func (v *validator) checkOverlaps(e *Exposure) {
	for _, o := range Overlaps(e) {
		v.warn(o.B+".match", "takes the same paths as %s (e.g. %s): an exposure would be counted under both rules; narrow one of them", o.A, o.Sample)
	}
}

// Overlaps lists the route pairs of different rules that share a path.
func Overlaps(e *Exposure) []RouteOverlap {
	type rt struct {
		rule int
		path string
		m    *RouteMatcher
		raw  string
	}
	var all []rt
	for i, r := range e.Rules {
		for j, route := range r.Routes {
			m, err := CompileRoute(route.Match)
			if err != nil {
				continue
			}
			all = append(all, rt{i, fmt.Sprintf("exposure.rules[%d].routes[%d]", i, j), m, route.Match})
		}
	}
	var out []RouteOverlap
	for a := 0; a < len(all); a++ {
		for b := a + 1; b < len(all); b++ {
			if all[a].rule == all[b].rule {
				continue
			}
			if s, ok := sharedPath(all[a].m, all[b].m); ok {
				out = append(out, RouteOverlap{A: all[a].path, B: all[b].path, Sample: s})
			}
		}
	}
	return out
}

// sharedPath finds a path both routes take, where one can be named.
func sharedPath(a, b *RouteMatcher) (string, bool) {
	pa, oka := a.Prefix()
	pb, okb := b.Prefix()
	switch {
	case oka && okb:
		// Literal paths and prefixes: try each one's literal on the other.
		if b.Match(pa) && a.Match(pa) {
			return pa, true
		}
		if a.Match(pb) && b.Match(pb) {
			return pb, true
		}
	case oka:
		if b.Match(pa) {
			return pa, true
		}
	case okb:
		if a.Match(pb) {
			return pb, true
		}
	}
	return "", false
}

// agentsLogged refuses user agents to match when a logs[] entry does not
// say where its user agent is: those requests could never match, and the
// rule would quietly find fewer people than it should.
func (v *validator) agentsLogged(c *Case, p string, ps *Parties) {
	if ps == nil || len(ps.UserAgents) == 0 {
		return
	}
	missing := 0
	for _, l := range c.Logs {
		if l.UserAgent == "" {
			missing++
		}
	}
	if missing > 0 {
		v.at(p+".user_agents", "user agents are read from logs[].user_agent (e.g. user_agent: field:http_user_agent), which %d of %d logs[] entries do not set: their requests could never match", missing, len(c.Logs))
	}
}
