package correlate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// Event kinds.
const (
	KindExposure     = "exposure"     // a person's data was (or may have been) shown to another party
	KindEmpty        = "empty"        // their page was shown, but nothing of the route's categories is on file
	KindUnattributed = "unattributed" // a cached private page whose owner is unknown (no FILL seen)
	KindUnresolved   = "unresolved"   // the owner's identity matches no user record
)

// Levels.
const (
	Confirmed = "confirmed"
	Possible  = "possible"
)

// Event is one exposure event, ready to store.
type Event struct {
	Kind       string
	At         int64 // Unix ns
	Pop        string
	CacheKey   string // pop host path?query, readable
	Path       string
	Status     int
	Victim     string // user id; "" for unattributed and unresolved
	Level      string // confirmed | possible; "" for unattributed
	Viewer     string // user:ID, identity:HASH or ip:ADDR
	Categories []incident.Category
	File       int   // 1-based evidence file number
	Line       int64 // line in that file
	// Rule is the name of the exposure rule that produced the event
	// (exposure.rules[].name; "cache" for a case file without rules).
	Rule string
}

// Affected is one affected account.
type Affected struct {
	UserID         string
	Level          string
	Categories     []incident.Category // exposed or possibly exposed, sorted
	CategoryLevels map[incident.Category]string
	Views          int // confirmed exposure events
	Viewers        int // distinct other parties in them
	First, Last    int64
	Locale         string
	Country        string
	Region         string
	// Rules names the exposure rules that found the person, sorted.
	Rules []string
}

// Counts summarises a correlation.
type Counts struct {
	ExposureEvents     int64 `json:"exposure_events"`
	ConfirmedEvents    int64 `json:"confirmed_events"`
	PossibleEvents     int64 `json:"possible_events"`
	UnattributedEvents int64 `json:"unattributed_events"`
	EmptyEvents        int64 `json:"empty_events"`
	UnresolvedEvents   int64 `json:"unresolved_events"`
	// Private-route responses: FILL/CACHED used by the lineage, ORIGIN and
	// unknown cache results not used.
	PrivateResponses int64 `json:"private_responses"`
	PrivateOrigin    int64 `json:"private_origin"`
	PrivateUnknown   int64 `json:"private_unknown_cache"`
	// Identities that resolve to nobody, by role.
	UnresolvedOwners  int `json:"unresolved_owners"`
	UnresolvedViewers int `json:"unresolved_viewers"`
	Confirmed         int `json:"confirmed"`
	Possible          int `json:"possible"`
}

// Result is a correlation's outcome.
type Result struct {
	// events are kept compact and pointer-free (48 bytes each, never
	// scanned by the garbage collector): millions of them stay cheap. Read
	// them with NumEvents and Event.
	events   []cEvent
	names    *names
	Affected []Affected
	Counts   Counts
	Summary  Summary
	// TopViewers: the parties shown the most people's data (at most TopViewers).
	TopViewers []Viewer
	// Refused: people whose user record could not be used (see
	// UserRecord.Refused) or whose session sessions_query gives to several
	// users, by user id. They are counted as unresolved owners and get no
	// notice.
	Refused []Refusal
	Timings map[string]time.Duration

	rules []RuleSummary // see Summary.Rules
}

// NumEvents is the number of events, in time order.
func (r *Result) NumEvents() int { return len(r.events) }

// Event returns event i (0 <= i < NumEvents()). It only reads: safe to call
// from several goroutines. The strings and the category slice are shared:
// do not modify them.
func (r *Result) Event(i int) Event {
	c := &r.events[i]
	ki := &r.names.keys[c.key]
	e := Event{Kind: kindNames[c.kind], At: c.at, Pop: ki.pop, CacheKey: ki.readable, Path: ki.path,
		Status: int(c.status), Level: levelNames[c.level], Viewer: r.names.viewerName(c.viewer),
		Categories: r.names.catLists[c.cats], File: int(c.file), Line: c.line, Rule: r.names.rules[c.rule]}
	if c.victim > 0 {
		e.Victim = r.names.userIDs[c.victim-1]
	}
	return e
}

// Events returns every event (for tests and small results: it expands them all).
func (r *Result) Events() []Event {
	out := make([]Event, len(r.events))
	for i := range out {
		out[i] = r.Event(i)
	}
	return out
}

// cEvent is an Event in compact form: numbers into the names tables.
type cEvent struct {
	at     int64
	line   int64
	viewer uint64 // a viewer code (see viewerCode)
	key    uint32 // cache key
	file   int32  // 1-based evidence file
	victim int32  // person (index into userIDs + 1), 0 for none
	cats   uint32 // index into catLists
	status int16
	kind   uint8
	level  uint8
	rule   uint8 // index into names.rules
}

const (
	kExposure = iota
	kUnattributed
	kEmpty
	kUnresolved
)

var (
	kindNames  = [...]string{kExposure: KindExposure, kUnattributed: KindUnattributed, kEmpty: KindEmpty, kUnresolved: KindUnresolved}
	levelNames = [...]string{0: "", 1: Confirmed, 2: Possible}
)

func levelCode(level string) uint8 {
	switch level {
	case Confirmed:
		return 1
	case Possible:
		return 2
	}
	return 0
}

// names holds what compact events refer to. Filled while evaluating; only
// read afterwards.
type names struct {
	keys     []keyInfo
	userIDs  []string
	catLists [][]incident.Category // [0] is the empty list
	rules    []string              // rule names, by index in exposure.rules
	// Viewer names by code: users by person, identities by ident, addresses by ip.
	users, idents, ips []string
}

func (n *names) viewerName(code uint64) string {
	id := uint32(code)
	switch code >> 32 {
	case 1:
		return n.users[id]
	case 2:
		return n.idents[id]
	case 3:
		if id != 0 {
			return n.ips[id]
		}
	}
	return "anonymous"
}

// Run correlates what the collector gathered: lineage per key, identity
// resolution, then exposure events and affected accounts.
func (col *Collector) Run(ctx context.Context, c *incident.Case, res Resolver) (*Result, error) {
	timings := map[string]time.Duration{}
	t0 := time.Now()
	// Session ids are resolved while the events are grouped and the
	// lineage is rebuilt, as soon as the id tables are final: every
	// identity seen, a superset of those the lineage will need (2.6% more
	// on simulator output: 939,751 for 916,110), so that the database and
	// the grouping share the two cores.
	var early *earlyResolution
	var m *merged
	var ln *lineage
	r := newRules(col.cacheStart, col.cacheEnd, c.Exposure.CacheableStatus)
	if col.sqlEngine != nil {
		// The lineage comes back from the database with the identities it
		// names; they are resolved once they are all interned.
		var err error
		if m, ln, err = col.sqlEngine.lineage(ctx, col, r); err != nil {
			return nil, err
		}
		timings["lineage"] = time.Since(t0)
		if c.IdentityKind == "session" {
			early = startResolution(ctx, res, m.idents)
		}
	} else {
		m = col.merge(func(m *merged) {
			if c.IdentityKind == "session" {
				early = startResolution(ctx, res, m.idents)
			}
		})
		timings["group"] = time.Since(t0)
		t0 = time.Now()
		ln = m.lineage(r)
		timings["lineage"] = time.Since(t0)
	}
	hitsByPart := col.byPart()

	// Which identities matter: owners of stored pages and of candidate
	// objects, and the viewers of those responses. Only they become
	// people; the other answers are dropped.
	t0 = time.Now()
	need := make([]bool, m.idents.len())
	for sk := range ln.eachStored() {
		need[sk.ident] = true
	}
	for i := range ln.cached {
		ce := &ln.cached[i]
		need[m.events[ce.ev].ident] = true
		for _, o := range ln.candsOf(ce) {
			if o != unknownObj {
				need[o] = true
			}
		}
	}
	for _, hs := range hitsByPart {
		for i := range hs {
			need[hs[i].ident] = true
		}
	}
	need[0] = false
	// person[ident] = index into users+1, or 0 when unresolved. People are
	// numbered in identity order, whatever order the answers came in.
	person := make([]int32, m.idents.len())
	var userIDs []string
	var refused []Refusal
	if c.IdentityKind == "session" {
		// The answers of startResolution.
		if err := early.wait(); err != nil {
			return nil, err
		}
		refused = early.refusals(func(id uint32) bool { return need[id] && ln.owns(id) })
		personOf := make([]int32, early.users.len()) // by user id of early.users
		for id, n := range need {
			if u := early.userOf[id]; n && u != 0 && u != ambiguousUser {
				if personOf[u] == 0 {
					userIDs = append(userIDs, early.users.str(u))
					personOf[u] = int32(len(userIDs))
				}
				person[id] = personOf[u]
			}
		}
	} else {
		users := newInterner() // its ids are the people's numbers: 1, 2, …
		for id, n := range need {
			if n {
				b := m.idents.bytes(uint32(id))
				p := users.id(b)
				if int(p) > len(userIDs) {
					userIDs = append(userIDs, string(b))
				}
				person[id] = int32(p)
			}
		}
	}
	// The people the other rules name (user ids in requests, objects'
	// owners, the sessions used by an attacker) join the numbering.
	var x *direct
	if len(col.parts) > 0 {
		var err error
		if x, err = col.prepareDirect(ctx, res, hitsByPart, person, &userIDs); err != nil {
			return nil, err
		}
	}
	// Records of everyone who owned a stored page (victims and possibles).
	owner := make([]bool, len(userIDs)+1)
	if x != nil {
		for _, p := range x.victims {
			owner[p] = true
		}
	}
	for sk := range ln.eachStored() {
		owner[person[sk.ident]] = true
	}
	for _, o := range ln.cands {
		if o != unknownObj && o != 0 {
			owner[person[o]] = true
		}
	}
	var ownerIDs []string
	for i, o := range owner {
		if o && i > 0 {
			ownerIDs = append(ownerIDs, userIDs[i-1])
		}
	}
	timings["resolve.sessions"] = time.Since(t0)
	recs, err := res.Users(ctx, ownerIDs)
	if err != nil {
		return nil, err
	}
	records := make([]*UserRecord, len(userIDs)+1)
	for i, uid := range userIDs {
		if r := recs[uid]; r != nil && r.Refused != "" {
			refused = append(refused, Refusal{UserID: uid, Reason: r.Refused})
		} else {
			records[i+1] = r
		}
	}
	// A user that users_query does not know is unresolved: there is no one
	// to notify (whether the id came from a session or from the logs).
	for id := range person {
		if p := person[id]; p > 0 && owner[p] && records[p] == nil {
			person[id] = 0
		}
	}
	if x != nil {
		x.unresolve(records)
	}
	timings["resolve"] = time.Since(t0)

	t0 = time.Now()
	nm := &names{keys: make([]keyInfo, m.keys.len()), userIDs: userIDs, catLists: [][]incident.Category{nil},
		users:  make([]string, len(userIDs)+1),
		idents: make([]string, m.idents.len()), ips: make([]string, m.ips.len())}
	ev := &evaluator{c: c, m: m, ln: ln, person: person, records: records, userIDs: userIDs,
		accOf: make([]int32, len(userIDs)+1), names: nm, events: make([]cEvent, 0, len(ln.cached)+len(ln.cached)/8)}
	nm.rules, ev.ruleKinds = col.ruleNames, col.ruleKinds
	ev.cacheRule = uint8(max(col.cacheRule, 0))
	if x != nil {
		// Their addresses join the lineage's (viewers are named from one
		// table), their requests the keys.
		x.adopt(ev)
	}
	ev.used[1], ev.used[2], ev.used[3] = make([]bool, len(userIDs)+1), make([]bool, m.idents.len()), make([]bool, m.ips.len())
	for _, r := range c.Exposure.Routes {
		ev.routeCats = append(ev.routeCats, r.Categories)
	}
	for _, p := range col.parts {
		ev.routeCats = append(ev.routeCats, p.base().cats...)
	}
	ev.routeMask = make([]uint32, len(ev.routeCats))
	ev.catIdx = make([][]uint32, len(ev.routeCats))
	for i, cats := range ev.routeCats {
		for _, c := range cats {
			ev.routeMask[i] |= catBit(c)
		}
	}
	ev.onFileMask = make([]uint32, len(userIDs)+1)
	for p, rec := range records {
		ev.onFileMask[p] = allCats
		for _, c := range incident.Categories {
			if rec != nil && !rec.OnFile(c) {
				ev.onFileMask[p] &^= catBit(c)
			}
		}
	}
	for i := range ln.cached {
		ev.cached(&ln.cached[i])
	}
	for sk := range ln.eachStored() {
		ev.stored(sk)
	}
	if x != nil {
		for i, p := range col.parts {
			x.rule = uint8(p.base().index)
			p.evaluate(x, hitsByPart[i])
		}
	}
	out := ev.finish()
	if x != nil {
		out.Counts.UnresolvedOwners += x.unresolvedRefs
	}
	out.Counts.PrivateOrigin, out.Counts.PrivateUnknown = m.origin, m.unknwn
	out.Counts.PrivateResponses = m.responses + m.origin + m.unknwn
	for id, n := range need {
		if n && person[id] == 0 {
			if ln.owns(uint32(id)) {
				out.Counts.UnresolvedOwners++
			} else {
				out.Counts.UnresolvedViewers++
			}
		}
	}
	sort.Slice(refused, func(i, j int) bool {
		if refused[i].UserID != refused[j].UserID {
			return lessID(refused[i].UserID, refused[j].UserID)
		}
		return refused[i].Reason < refused[j].Reason
	})
	out.Refused = refused
	for i := range out.rules {
		rs := &out.rules[i]
		if rs.Kind == incident.RuleCache {
			rs.Matched = out.Counts.PrivateResponses
		}
		for _, p := range col.parts {
			if b := p.base(); b.name == rs.Name {
				rs.Matched = b.matched
			}
		}
	}
	out.Summary = summarize(out)
	timings["evaluate"] = time.Since(t0)
	out.Timings = timings
	return out, nil
}

// acc accumulates one person's exposure. Category sets are bit masks over
// the vocabulary (see catBit); distinct viewers are counted at the end from
// the (person, viewer) pairs.
type acc struct {
	confirmedCats uint32
	otherCats     uint32 // possibly exposed, or stored
	rules         uint64 // bit i: exposure.rules[i] found them
	views         int
	first, last   int64
}

func catBit(c incident.Category) uint32 { return 1 << uint(incident.CategoryRank(c)) }

func catsOf(mask uint32) []incident.Category {
	var out []incident.Category
	for i, c := range incident.Categories {
		if mask&(1<<uint(i)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

type evaluator struct {
	c         *incident.Case
	m         *merged
	ln        *lineage
	person    []int32
	records   []*UserRecord
	userIDs   []string
	routeCats [][]incident.Category
	// accOf[person] is 1 + the index of the person's acc in accs (0: none yet).
	accOf  []int32
	accs   []acc
	events []cEvent
	names  *names
	counts Counts

	cacheRule uint8    // the cache rule's index (names.rules)
	ruleKinds []string // by rule index
	ruleLists map[uint64][]string

	viewerPairs []uint64  // see viewerPair
	used        [4][]bool // viewers to name, by kind of viewer code

	// What of each route's categories a person has on file, as bit masks
	// (catBit); catIdx[route][mask] is 1 + the names.catLists index of
	// the route's categories in mask (0: not yet made).
	routeMask  []uint32
	onFileMask []uint32 // by person
	catIdx     [][]uint32
}

// allCats has the bit of every category (and of CategoryRank's "unknown").
var allCats = uint32(1)<<(len(incident.Categories)+1) - 1

func (ev *evaluator) acc(p int32) *acc {
	i := ev.accOf[p]
	if i == 0 {
		ev.accs = append(ev.accs, acc{})
		i = int32(len(ev.accs))
		ev.accOf[p] = i
	}
	return &ev.accs[i-1]
}

// onFile intersects a route's categories with what person p has on file,
// in the route's order, and returns them with their names.catLists index.
// The result is shared: do not modify it.
func (ev *evaluator) onFile(p int32, route uint16) ([]incident.Category, uint32) {
	mask := ev.routeMask[route] & ev.onFileMask[p]
	t := ev.catIdx[route]
	if t == nil {
		t = make([]uint32, allCats+1)
		ev.catIdx[route] = t
	}
	if i := t[mask]; i != 0 {
		return ev.names.catLists[i-1], i - 1
	}
	cats := ev.routeCats[route]
	if mask != ev.routeMask[route] {
		var out []incident.Category
		for _, c := range cats {
			if mask&catBit(c) != 0 {
				out = append(out, c)
			}
		}
		cats = out
	}
	i := uint32(0) // the empty list
	if len(cats) > 0 {
		i = uint32(len(ev.names.catLists))
		ev.names.catLists = append(ev.names.catLists, cats)
	}
	t[mask] = i + 1
	return cats, i
}

// viewer returns the code of the party a response was served to and marks
// it for naming (nameViewers names each once, after the pass: the marks are
// a byte per id, the names 16 bytes, so the pass stays in cache).
func (ev *evaluator) viewer(e *event) uint64 {
	code := ev.viewerCode(e)
	ev.used[code>>32][uint32(code)] = true
	return code
}

// nameViewers names every marked viewer.
func (ev *evaluator) nameViewers() {
	nm := ev.names
	for id, u := range ev.used[1] {
		if u {
			nm.users[id] = "user:" + ev.userIDs[id-1]
		}
	}
	for id, u := range ev.used[2] {
		if u {
			// A session id is a credential: never show or store it.
			h := sha256.Sum256(ev.m.idents.bytes(uint32(id)))
			nm.idents[id] = "identity:" + hex.EncodeToString(h[:6])
		}
	}
	for id, u := range ev.used[3] {
		if u && id != 0 {
			nm.ips[id] = "ip:" + logs.Text(ev.m.ips.bytes(uint32(id)))
		}
	}
	ev.used = [4][]bool{}
}

// keyInfo is what an event shows of its cache key, computed once per key.
type keyInfo struct {
	pop, readable, path string
}

func (ev *evaluator) base(e *event) cEvent {
	ki := &ev.names.keys[e.key]
	if ki.readable == "" {
		// Shown and stored as logs.Text: valid UTF-8 whatever the
		// log held; the lineage itself used the raw bytes.
		raw := keyParts(ev.m.keys.bytes(e.key), len(ev.c.Exposure.CacheKey))
		parts := make([]string, len(raw))
		for i, p := range raw {
			parts[i] = logs.Text(p)
		}
		for i, p := range ev.c.Exposure.CacheKey {
			if p == "pop" && i < len(parts) {
				ki.pop = parts[i]
			}
		}
		ki.readable = readableKey(ev.c.Exposure.CacheKey, parts)
		ki.path = pathOf(ev.c.Exposure.CacheKey, parts)
	}
	return cEvent{at: e.t, key: e.key, status: int16(e.status), viewer: ev.viewer(e), file: int32(e.file) + 1, line: e.line, rule: ev.cacheRule}
}

func readableKey(names, parts []string) string {
	var b strings.Builder
	for i, n := range names {
		if i >= len(parts) {
			break
		}
		switch n {
		case "query":
			if parts[i] != "" {
				b.WriteString("?" + parts[i])
			}
		case "path":
			b.WriteString(parts[i])
		default:
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(parts[i])
			if n == "host" || n == "pop" || n == "method" {
				b.WriteByte(' ')
			}
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func pathOf(names, parts []string) string {
	for i, n := range names {
		if n == "path" && i < len(parts) {
			return parts[i]
		}
	}
	return ""
}

// cached decides one CACHED response (see DESIGN.md): a single candidate
// person other than the viewer is confirmed; with several candidates each
// candidate person other than the viewer is possible; an unknown owner and
// no candidate person makes it unattributed.
func (ev *evaluator) cached(ce *cached) {
	e := &ev.m.events[ce.ev]
	viewerP := int32(-1)
	if e.ident != 0 {
		if p := ev.person[e.ident]; p > 0 {
			viewerP = p
		}
	}
	var persons []int32     // resolved candidate people
	var unresolved []uint32 // candidate identities that resolve to nobody
	hasUnknown, hasNone := false, false
	for _, o := range ev.ln.candsOf(ce) {
		switch {
		case o == unknownObj:
			hasUnknown = true
		case o == 0:
			hasNone = true
		case ev.person[o] > 0:
			if !slices.Contains(persons, ev.person[o]) {
				persons = append(persons, ev.person[o])
			}
		default:
			// Counted as a candidate even when it is the viewer's own page:
			// it still makes the attribution ambiguous.
			if !slices.Contains(unresolved, o) {
				unresolved = append(unresolved, o)
			}
		}
	}
	total := len(persons) + len(unresolved)
	if hasUnknown {
		total++
	}
	if hasNone {
		total++
	}
	level := Possible
	if total == 1 {
		level = Confirmed
	}
	others := 0
	for _, p := range persons {
		if p == viewerP {
			continue // their own page
		}
		others++
		ev.personEvent(e, p, level)
	}
	for _, o := range unresolved {
		if o == e.ident {
			continue // the viewer's own page
		}
		others++
		b := ev.base(e)
		_, b.cats = ev.onFile(0, e.route) // person 0 has everything on file: the route's categories
		b.kind, b.level = kUnresolved, levelCode(level)
		ev.events = append(ev.events, b)
		ev.counts.UnresolvedEvents++
	}
	if others == 0 && hasUnknown {
		b := ev.base(e)
		b.kind = kUnattributed
		ev.events = append(ev.events, b)
		ev.counts.UnattributedEvents++
	}
}

func (ev *evaluator) personEvent(e *event, p int32, level string) {
	ev.addPersonEvent(ev.base(e), p, level, e.route)
}

// addPersonEvent adds the event b of person p at level, for the
// categories of a route (a global route index) that p has on file.
func (ev *evaluator) addPersonEvent(b cEvent, p int32, level string, route uint16) {
	b.victim, b.level = p, levelCode(level)
	cats, ci := ev.onFile(p, route)
	b.cats = ci
	if len(cats) == 0 {
		b.kind = kEmpty
		ev.counts.EmptyEvents++
		ev.events = append(ev.events, b)
		return
	}
	b.kind = kExposure
	ev.counts.ExposureEvents++
	a := ev.acc(p)
	a.rules |= 1 << b.rule
	if level == Confirmed {
		ev.counts.ConfirmedEvents++
		a.views++
		ev.viewerPairs = append(ev.viewerPairs, viewerPair(p, b.viewer))
		if a.first == 0 || b.at < a.first {
			a.first = b.at
		}
		if b.at > a.last {
			a.last = b.at
		}
		for _, c := range cats {
			a.confirmedCats |= catBit(c)
		}
	} else {
		ev.counts.PossibleEvents++
		for _, c := range cats {
			a.otherCats |= catBit(c)
		}
	}
	ev.events = append(ev.events, b)
}

// stored: a personal page stored in the window makes its owner at least
// possibly affected, for what of the page's categories is on file.
func (ev *evaluator) stored(sk storedKey) {
	p := ev.person[sk.ident]
	if p == 0 {
		return // counted as an unresolved owner
	}
	cats, _ := ev.onFile(p, sk.route)
	if len(cats) == 0 {
		return
	}
	a := ev.acc(p)
	a.rules |= 1 << ev.cacheRule
	for _, c := range cats {
		a.otherCats |= catBit(c)
	}
}

// viewerPair is one confirmed view, whose data seen by which party, packed
// in one number so that a million of them sort fast: person<<34 | viewer
// code (a kind of at most 3 above a 32-bit id; people number < 2^30).
func viewerPair(person int32, viewer uint64) uint64 { return uint64(person)<<34 | viewer }

// viewerCode: 1<<32|person for users, 2<<32|ident, 3<<32|ip.
func (ev *evaluator) viewerCode(e *event) uint64 {
	if e.ident != 0 {
		if p := ev.person[e.ident]; p > 0 {
			return 1<<32 | uint64(p)
		}
		return 2<<32 | uint64(e.ident)
	}
	return 3<<32 | uint64(e.ip)
}

func (ev *evaluator) finish() *Result {
	out := &Result{Counts: ev.counts}
	// The events are put in time order on the other core meanwhile.
	sorted := make(chan struct{})
	go func() {
		sortEvents(ev.events, ev.names)
		close(sorted)
	}()
	// Distinct viewers per person.
	slices.Sort(ev.viewerPairs)
	// What each viewer saw, in one table per kind of viewer code, indexed
	// by id (a million viewers cost no allocation or hashing).
	viewers := make([]int, len(ev.userIDs)+1) // distinct viewers by person
	var byKind [4][]vstat
	byKind[1] = make([]vstat, len(ev.userIDs)+1)
	byKind[2] = make([]vstat, ev.m.idents.len())
	byKind[3] = make([]vstat, ev.m.ips.len())
	for i, vp := range ev.viewerPairs {
		person, viewer := int32(vp>>34), vp&(1<<34-1)
		vs := &byKind[viewer>>32][uint32(viewer)]
		vs.views++
		if i == 0 || vp != ev.viewerPairs[i-1] {
			viewers[person]++
			vs.people++
		}
	}
	ev.viewerPairs = nil
	ev.nameViewers()
	out.TopViewers = topViewers(func(yield func(uint64, vstat) bool) {
		for kind, t := range byKind {
			for id, vs := range t {
				if vs.views > 0 && !yield(uint64(kind)<<32|uint64(id), vs) {
					return
				}
			}
		}
	}, ev.names.viewerName)
	for p, ai := range ev.accOf {
		if ai == 0 {
			continue
		}
		a := &ev.accs[ai-1]
		if a.confirmedCats == 0 && a.otherCats == 0 {
			continue
		}
		rec := ev.records[p]
		af := Affected{UserID: ev.userIDs[p-1], Level: Possible, CategoryLevels: map[incident.Category]string{},
			Views: a.views, Viewers: viewers[p], First: a.first, Last: a.last}
		if rec != nil {
			af.Locale, af.Country, af.Region = rec.Locale, rec.Country, rec.Region
		}
		if a.views > 0 {
			af.Level = Confirmed
		}
		af.Rules = ev.ruleList(a.rules)
		for _, c := range catsOf(a.otherCats) {
			af.CategoryLevels[c] = Possible
		}
		for _, c := range catsOf(a.confirmedCats) {
			af.CategoryLevels[c] = Confirmed
		}
		for c := range af.CategoryLevels {
			af.Categories = append(af.Categories, c)
		}
		slices.Sort(af.Categories)
		out.Affected = append(out.Affected, af)
		if af.Level == Confirmed {
			out.Counts.Confirmed++
		} else {
			out.Counts.Possible++
		}
	}
	sort.Slice(out.Affected, func(i, j int) bool { return lessID(out.Affected[i].UserID, out.Affected[j].UserID) })
	<-sorted
	out.events, out.names = ev.events, ev.names
	out.rules = ev.ruleSummaries(out)
	return out
}

// vstat counts what one viewer saw.
type vstat struct{ people, views int }

// topViewers returns the TopViewers viewers that saw the most people, then
// the most views, then by name, by insertion into a short sorted list
// (there may be a million viewers; only candidates are named).
func topViewers(byViewer iter.Seq2[uint64, vstat], name func(code uint64) string) []Viewer {
	before := func(a, b Viewer) bool {
		if a.People != b.People {
			return a.People > b.People
		}
		if a.Views != b.Views {
			return a.Views > b.Views
		}
		return a.Viewer < b.Viewer
	}
	var top []Viewer
	for code, vs := range byViewer {
		if len(top) == TopViewers {
			last := top[len(top)-1]
			if vs.people < last.People || (vs.people == last.People && vs.views < last.Views) {
				continue
			}
		}
		v := Viewer{Viewer: name(code), People: vs.people, Views: vs.views}
		i := sort.Search(len(top), func(i int) bool { return before(v, top[i]) })
		if i == TopViewers {
			continue
		}
		if len(top) < TopViewers {
			top = append(top, Viewer{})
		}
		copy(top[i+1:], top[i:])
		top[i] = v
	}
	return top
}

// eventOrder compares events by time, then evidence file and line, victim
// and kind: the order of a run's events.
func eventOrder(nm *names) func(a, b cEvent) int {
	return func(a, b cEvent) int {
		switch {
		case a.at != b.at:
			return cmp64(a.at, b.at)
		case a.file != b.file:
			return int(a.file - b.file)
		case a.line != b.line:
			return cmp64(a.line, b.line)
		case a.victim != b.victim:
			return strings.Compare(victimName(a.victim, nm), victimName(b.victim, nm))
		}
		return strings.Compare(kindNames[a.kind], kindNames[b.kind])
	}
}

// sortEvents puts events in eventOrder. They arrive key by key, in no order
// within a key: a most-significant-digit radix sort on the time distributes
// them in place into 256 buckets of consecutive time spans (each event moved
// once, into one of 256 places that stay in cache), then each bucket the
// same way, until a bucket is small enough for a comparison sort. The
// buckets of the first level are shared between two goroutines.
func sortEvents(events []cEvent, nm *names) {
	cmp := eventOrder(nm)
	const radix = 256
	var sortRange func(events []cEvent, top bool)
	sortRange = func(events []cEvent, top bool) {
		if len(events) <= 64 {
			slices.SortFunc(events, cmp)
			return
		}
		lo, hi := events[0].at, events[0].at
		for i := range events {
			lo, hi = min(lo, events[i].at), max(hi, events[i].at)
		}
		if lo == hi { // one time: nothing to distribute
			slices.SortFunc(events, cmp)
			return
		}
		shift := 0
		for uint64(hi-lo)>>shift >= radix {
			shift++
		}
		bucket := func(e *cEvent) int { return int(uint64(e.at-lo) >> shift) }
		var start [radix + 1]int
		for i := range events {
			start[bucket(&events[i])+1]++
		}
		for b := 1; b <= radix; b++ {
			start[b] += start[b-1]
		}
		next := start
		for b := range radix {
			for next[b] < start[b+1] {
				i := next[b]
				if d := bucket(&events[i]); d == b {
					next[b]++
				} else {
					events[i], events[next[d]] = events[next[d]], events[i]
					next[d]++
				}
			}
		}
		// At the top, the first buckets holding half the events go to
		// another goroutine.
		mid := 0
		for top && mid < radix && start[mid+1] <= len(events)/2 {
			mid++
		}
		var wg sync.WaitGroup
		if mid > 0 {
			wg.Go(func() {
				for b := range mid {
					sortRange(events[start[b]:start[b+1]], false)
				}
			})
		}
		for b := mid; b < radix; b++ {
			sortRange(events[start[b]:start[b+1]], false)
		}
		wg.Wait()
	}
	sortRange(events, true)
}

func victimName(p int32, nm *names) string {
	if p == 0 {
		return ""
	}
	return nm.userIDs[p-1]
}

// lessID orders user ids numerically when both are numbers, else as text.
func lessID(a, b string) bool {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) < len(b)
	}
	return a < b
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// earlyResolution resolves every identity of an id table in the
// background: userOf[id] is the user of identity id, as an id of users (0:
// not found). Users are interned as the answers arrive, on the resolving
// goroutines, so what is left afterwards is one pass over arrays.
type earlyResolution struct {
	users  *sharedInterner
	userOf []uint32 // ambiguousUser: sessions_query gave it several users
	done   chan error

	mu        sync.Mutex
	ambiguous map[uint32][]uint32 // identity: its users (ids of users)
}

// ambiguousUser marks an identity that sessions_query maps to more than
// one user: it resolves to nobody (which of them owned its pages cannot be
// told), and its users are listed as refused.
const ambiguousUser = ^uint32(0)

// conflict records that identity id was also given user u.
func (er *earlyResolution) conflict(id, u uint32) {
	er.mu.Lock()
	defer er.mu.Unlock()
	if er.ambiguous == nil {
		er.ambiguous = map[uint32][]uint32{}
	}
	if us := er.ambiguous[id]; !slices.Contains(us, u) {
		er.ambiguous[id] = append(us, u)
	}
}

// refusals lists, by user, the ambiguous identities that owned a page
// (a viewer that resolves to nobody is counted as an unresolved viewer).
func (er *earlyResolution) refusals(owned func(id uint32) bool) []Refusal {
	var out []Refusal
	for id, us := range er.ambiguous {
		if !owned(id) {
			continue
		}
		names := make([]string, len(us))
		for i, u := range us {
			names[i] = er.users.str(u)
		}
		sort.Slice(names, func(i, j int) bool { return lessID(names[i], names[j]) })
		reason := fmt.Sprintf("sessions_query returned users %s and %s for one session: its pages are counted as unresolved",
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
		for _, n := range names {
			out = append(out, Refusal{UserID: n, Reason: reason})
		}
	}
	return out
}

func startResolution(ctx context.Context, res Resolver, idents *sharedInterner) *earlyResolution {
	n := idents.len()
	// At most one user per identity: the users' tables hardly ever grow.
	er := &earlyResolution{users: newSharedInternerFor(n), userOf: make([]uint32, n), done: make(chan error, 1)}
	var bufs sync.Pool // of *answerBuf, one per resolving goroutine
	answer := func(sids, uids [][]byte) {
		b, _ := bufs.Get().(*answerBuf)
		if b == nil {
			b = &answerBuf{}
		}
		b.ids, b.ok = slices.Grow(b.ids[:0], len(sids))[:len(sids)], slices.Grow(b.ok[:0], len(sids))[:len(sids)]
		idents.findAll(sids, b.ids, b.ok)
		for i, id := range b.ids {
			// An empty user id is no user: unresolved, as when not found
			// (users.id gives it 0).
			if b.ok[i] && id != 0 {
				// A second, different user for the same session makes it
				// ambiguous (never last-one-wins). The slot is shared only
				// when the query answers a session twice: compare-and-swap.
				u := er.users.id(uids[i])
				if u == 0 {
					continue
				}
				slot := &er.userOf[id]
				if atomic.CompareAndSwapUint32(slot, 0, u) {
					continue
				}
				if prev := atomic.LoadUint32(slot); prev != u {
					if prev != ambiguousUser {
						atomic.StoreUint32(slot, ambiguousUser)
						er.conflict(id, prev)
					}
					er.conflict(id, u)
				}
			}
		}
		bufs.Put(b)
	}
	go func() {
		// idents is only read from now on: safe to share.
		ids := idents.strs()
		if ss, ok := res.(SessionStreamer); ok {
			// Each answer goes straight to its identity (distinct ids, so
			// concurrent calls write distinct elements).
			er.done <- ss.EachSession(ctx, ids, answer)
			return
		}
		sess, err := res.Sessions(ctx, ids)
		if err == nil {
			for _, sid := range ids {
				if uid, ok := sess[sid]; ok {
					answer([][]byte{[]byte(sid)}, [][]byte{[]byte(uid)})
				}
			}
		}
		er.done <- err
	}()
	return er
}

// answerBuf is a resolving goroutine's scratch space.
type answerBuf struct {
	ids []uint32
	ok  []bool
}

func (er *earlyResolution) wait() error { return <-er.done }
