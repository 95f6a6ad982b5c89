package correlate

import (
	"bytes"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// One correlation engine, rules as parts. The cache rule is the lineage
// (collect.go gathers its responses, rule_cache.go replays them): it needs
// every FILL and CACHED response of its routes grouped by cache key. Every other kind of rule is a part: a small
// type in its own file (rule_object.go, rule_owner.go, rule_actor.go) that
// keeps the requests it needs while the logs are read (take) and turns them
// into events once identities, objects and users are resolved (evaluate).
// What they share lives here and in evaluate.go: identity interning and
// resolution, levels, categories on file, viewers, event storage.
type part interface {
	base() *ruleBase
	// take looks at one record inside the rule's range and says whether
	// to keep it, having set h.route, h.ref and h.flags. It is called
	// from every parsing worker at once: it may only read the part, and
	// add to the collector's shared tables.
	take(rec *logs.Record, h *hit, s *hitSink) bool
	// evaluate turns the part's hits into events.
	evaluate(x *direct, hits []hit)
}

// hit is one request a part kept, compacted like the lineage's events.
type hit struct {
	t      int64 // Unix ns
	line   int64
	file   int32
	ident  uint32 // requester identity (Collector.idents), 0: anonymous
	ip     uint32 // client address (hitTables.ips)
	ref    uint32 // what the request names: a user id (hitTables.refs) or, with flagObject, an object (hitTables.objs); 0: none
	key    uint32 // pop, host, path, query (hitTables.keys)
	status uint16
	route  uint16 // global route index (evaluator.routeCats)
	part   uint8
	flags  uint8
}

// Hit flags.
const (
	flagObject    = 1 << iota // ref is an object id
	flagListed                // the requester is a listed party (viewers, actors)
	flagLogin                 // a login request (actor rules)
	flagLoginOK               // ... that succeeded
	flagLoginFail             // ... that failed
)

// hitTables are the strings hits refer to, shared by every worker.
type hitTables struct {
	ips, refs, keys *sharedInterner
}

// ruleBase is what every part has.
type ruleBase struct {
	index      int // in the case file's exposure.rules
	name, kind string
	start, end int64 // [start, end), Unix ns
	routes     []*incident.RouteMatcher
	cats       [][]incident.Category
	gate       string // the routes' common prefix
	routeOff   int    // global route index of routes[0]
	status     [600]bool
	matched    int64 // filled by evaluate: requests the rule looked at
}

func (b *ruleBase) base() *ruleBase { return b }

// newBase compiles what every part has. next is the next free global route
// index; it is advanced past the rule's routes.
func newBase(c *incident.Case, index int, r *incident.Rule, next *int) (ruleBase, error) {
	b := ruleBase{index: index, name: r.Name, kind: r.Kind, start: r.Start.UnixNano(), end: r.End.UnixNano(), routeOff: *next}
	if r.Start.IsZero() {
		b.start = c.Start.UnixNano()
	}
	if r.End.IsZero() {
		b.end = c.End.UnixNano()
	}
	for i, rt := range r.Routes {
		m, err := incident.CompileRoute(rt.Match)
		if err != nil {
			return b, fmt.Errorf("exposure.rules[%d].routes[%d].match: %w", index, i, err)
		}
		b.routes = append(b.routes, m)
		b.cats = append(b.cats, rt.Categories)
	}
	*next += len(b.routes)
	b.gate = commonPrefix(b.routes)
	statuses := r.Statuses
	if len(statuses) == 0 {
		for s := 200; s < 300; s++ {
			statuses = append(statuses, s)
		}
	}
	for _, s := range statuses {
		if s >= 0 && s < len(b.status) {
			b.status[s] = true
		}
	}
	return b, nil
}

// commonPrefix is what every route's paths begin with (see
// RouteMatcher.Gate).
func commonPrefix(routes []*incident.RouteMatcher) string {
	gate := ""
	for i, m := range routes {
		p := m.Gate()
		if p == "" {
			return ""
		}
		if i == 0 {
			gate = p
			continue
		}
		n := 0
		for n < len(p) && n < len(gate) && p[n] == gate[n] {
			n++
		}
		gate = gate[:n]
	}
	return gate
}

// route returns the index of the first of the rule's routes that matches
// path, or -1.
func (b *ruleBase) route(path []byte) int {
	if len(path) < len(b.gate) || string(path[:len(b.gate)]) != b.gate {
		return -1
	}
	for i, m := range b.routes {
		if m.MatchBytes(path) {
			return i
		}
	}
	return -1
}

func (b *ruleBase) statusOK(s int) bool { return s >= 0 && s < len(b.status) && b.status[s] }

// newParts compiles every rule but the cache rule.
func newParts(c *incident.Case, firstRoute int) ([]part, error) {
	var parts []part
	next := firstRoute
	for i := range c.Exposure.Rules {
		r := &c.Exposure.Rules[i]
		var p part
		var err error
		switch r.Kind {
		case incident.RuleCache:
			continue
		case incident.RuleObject:
			p, err = newObjectPart(c, i, r, &next)
		case incident.RuleOwner:
			p, err = newOwnerPart(c, i, r, &next)
		case incident.RuleActor:
			p, err = newActorPart(c, i, r, &next)
		default:
			err = fmt.Errorf("exposure.rules[%d].kind: %q is not a rule kind", i, r.Kind)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	if len(c.Exposure.Rules) > incident.MaxRules {
		return nil, fmt.Errorf("exposure.rules: at most %d rules", incident.MaxRules)
	}
	return parts, nil
}

// hitSink is one worker's hits.
type hitSink struct {
	col     *Collector
	hits    [][]hit // in blocks of eventBlock, like the lineage's events
	n       int
	keyBuf  []byte
	scratch hit
}

func (s *hitSink) record(file int, line int64, rec *logs.Record) {
	for pi, p := range s.col.parts {
		b := p.base()
		if rec.Time < b.start || rec.Time >= b.end {
			continue
		}
		// A hit of the sink's own, not a local: one passed to an
		// interface method would escape to the heap on every record.
		h := &s.scratch
		*h = hit{}
		if !p.take(rec, h, s) {
			continue
		}
		h.t, h.line, h.file, h.part = rec.Time, line, int32(file), uint8(pi)
		h.ident = s.col.idents.id(rec.Identity)
		h.ip = s.col.hits.ips.id(rec.ClientIP)
		k := appendKeyPart(s.keyBuf[:0], rec.Pop)
		k = appendKeyPart(k, rec.Host)
		k = appendKeyPart(k, rec.Path)
		k = appendKeyPart(k, rec.Query)
		s.keyBuf = k
		h.key = s.col.hits.keys.id(k)
		if rec.Status > 0 && rec.Status < 65536 {
			h.status = uint16(rec.Status)
		}
		if n := len(s.hits); n == 0 || len(s.hits[n-1]) == eventBlock {
			s.hits = append(s.hits, make([]hit, 0, eventBlock))
		}
		blk := &s.hits[len(s.hits)-1]
		*blk = append(*blk, *h)
		s.n++
	}
}

// multiSink feeds the lineage and the parts.
type multiSink struct {
	cache *sink
	hits  *hitSink
}

func (m *multiSink) Record(file int, line int64, rec *logs.Record) {
	m.cache.Record(file, line, rec)
	m.hits.record(file, line, rec)
}

// hitKeyParts are the parts of a hit's key, for showing it.
var hitKeyParts = []string{"pop", "host", "path", "query"}

// byPart gathers every worker's hits, grouped by part.
func (col *Collector) byPart() [][]hit {
	out := make([][]hit, len(col.parts))
	counts := make([]int, len(col.parts))
	for _, s := range col.hitSinks {
		for _, blk := range s.hits {
			for i := range blk {
				counts[blk[i].part]++
			}
		}
	}
	for i, n := range counts {
		out[i] = make([]hit, 0, n)
	}
	for _, s := range col.hitSinks {
		for j, blk := range s.hits {
			for _, h := range blk {
				out[h.part] = append(out[h.part], h)
			}
			s.hits[j] = nil
		}
	}
	col.hitSinks = nil
	return out
}

// parties matches requesters against a list (viewers, actors).
type parties struct {
	prefixes  []netip.Prefix
	agents    [][]byte
	idents    map[string]bool
	anonymous bool
}

func newParties(p *incident.Parties) *parties {
	if p == nil {
		return nil
	}
	out := &parties{prefixes: p.Prefixes, idents: map[string]bool{}, anonymous: p.Anonymous}
	if len(out.prefixes) == 0 {
		// A case built in code, not loaded: parse the lists here.
		for _, s := range p.IPs {
			if a, err := netip.ParseAddr(strings.TrimSpace(s)); err == nil {
				out.prefixes = append(out.prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			}
		}
		for _, s := range p.CIDRs {
			if pf, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil {
				out.prefixes = append(out.prefixes, pf.Masked())
			}
		}
	}
	for _, a := range p.UserAgents {
		out.agents = append(out.agents, []byte(a))
	}
	for _, id := range p.Identities {
		out.idents[id] = true
	}
	return out
}

// match reports whether the record's requester is one of the parties.
func (p *parties) match(rec *logs.Record) bool {
	if p.anonymous && len(rec.Identity) == 0 {
		return true
	}
	if len(p.idents) > 0 && len(rec.Identity) > 0 && p.idents[string(rec.Identity)] {
		return true
	}
	for _, a := range p.agents {
		if bytes.Contains(rec.UserAgent, a) {
			return true
		}
	}
	if len(p.prefixes) > 0 {
		if addr, err := netip.ParseAddr(string(rec.ClientIP)); err == nil {
			addr = addr.Unmap()
			for _, pf := range p.prefixes {
				if pf.Contains(addr) {
					return true
				}
			}
		}
	}
	return false
}

// source is where a route names its victim or object.
type source struct {
	object bool           // an object id (owners_query), else a user id
	group  int            // path:GROUP: the group's index in re; -1 otherwise
	re     *regexp.Regexp // the route's regular expression (path:GROUP)
	query  string         // query:PARAM
	subj   bool           // subject
}

func newSource(rt *incident.Route) (source, error) {
	what, spec := rt.SourceOf()
	s := source{object: what == "object", group: -1}
	kind, name, _ := strings.Cut(spec, ":")
	switch {
	case what == "":
		return s, fmt.Errorf("names no victim: use a named group (?P<user>...) or (?P<object>...), or user:/object:")
	case spec == incident.SourceSubject:
		s.subj = true
	case kind == "query" && name != "":
		s.query = name
	case kind == "path" && strings.HasPrefix(rt.Match, "re:"):
		re, err := regexp.Compile(rt.Match[3:])
		if err != nil {
			return s, err
		}
		if s.group = re.SubexpIndex(name); s.group < 0 {
			return s, fmt.Errorf("the regular expression has no group %q", name)
		}
		s.re = re
	default:
		return s, fmt.Errorf("%q: use path:GROUP, query:PARAM or subject", spec)
	}
	return s, nil
}

// extract returns what the record names (decoded), or nil.
func (src *source) extract(rec *logs.Record, s *hitSink) []byte {
	switch {
	case src.subj:
		return rec.Subject
	case src.query != "":
		q := rec.Query
		for len(q) > 0 {
			var kv []byte
			if i := indexByte(q, '&'); i >= 0 {
				kv, q = q[:i], q[i+1:]
			} else {
				kv, q = q, nil
			}
			k, v, _ := bytes.Cut(kv, []byte("="))
			if string(k) == src.query || (bytes.ContainsAny(k, "%+") && unescape(string(k), true) == src.query) {
				if !bytes.ContainsAny(v, "%+") {
					return v
				}
				return []byte(unescape(string(v), true))
			}
		}
		return nil
	case src.re != nil:
		m := src.re.FindSubmatchIndex(rec.Path)
		if m == nil || m[2*src.group] < 0 {
			return nil
		}
		v := rec.Path[m[2*src.group]:m[2*src.group+1]]
		if !bytes.ContainsAny(v, "%") {
			return v
		}
		return []byte(unescape(string(v), false))
	}
	return nil
}

// unescape decodes percent-encoding (and + in a query); a value that does
// not decode is kept as logged.
func unescape(v string, query bool) string {
	if !strings.ContainsAny(v, "%+") {
		return v
	}
	var d string
	var err error
	if query {
		d, err = url.QueryUnescape(v)
	} else {
		d, err = url.PathUnescape(v)
	}
	if err != nil {
		return v
	}
	return d
}

func indexByte(b []byte, c byte) int {
	return slices.Index(b, c)
}
