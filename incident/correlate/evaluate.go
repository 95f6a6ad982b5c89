package correlate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
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
	Events   []Event
	Affected []Affected
	Counts   Counts
	Summary  Summary
	// TopViewers: the parties shown the most people's data (at most TopViewers).
	TopViewers []Viewer
	Timings    map[string]time.Duration
}

// Run correlates what the collector gathered: lineage per key, identity
// resolution, then exposure events and affected accounts.
func (col *Collector) Run(ctx context.Context, c *incident.Case, res Resolver) (*Result, error) {
	timings := map[string]time.Duration{}
	t0 := time.Now()
	m := col.merge()
	timings["group"] = time.Since(t0)
	t0 = time.Now()
	ln := m.lineage(newRules(c.Start, c.End, c.Exposure.CacheableStatus))
	timings["lineage"] = time.Since(t0)

	// Which identities need resolving: owners of stored pages and of
	// candidate objects, and the viewers of those responses.
	t0 = time.Now()
	need := make([]bool, len(m.idents))
	for sk := range ln.stored {
		need[sk.ident] = true
	}
	for _, ce := range ln.cached {
		need[m.events[ce.ev].ident] = true
		for _, o := range ce.cands {
			if o != unknownObj {
				need[o] = true
			}
		}
	}
	need[0] = false
	var ids []string
	for id, n := range need {
		if n {
			ids = append(ids, m.idents[id])
		}
	}
	// person[ident] = index into users+1, or 0 when unresolved.
	person := make([]int32, len(m.idents))
	var userIDs []string
	userIdx := map[string]int32{}
	addUser := func(uid string) int32 {
		if i, ok := userIdx[uid]; ok {
			return i
		}
		i := int32(len(userIDs)) + 1
		userIdx[uid] = i
		userIDs = append(userIDs, uid)
		return i
	}
	if c.IdentityKind == "session" {
		sess, err := res.Sessions(ctx, ids)
		if err != nil {
			return nil, err
		}
		for id, n := range need {
			if n {
				if uid, ok := sess[m.idents[id]]; ok {
					person[id] = addUser(uid)
				}
			}
		}
	} else {
		for id, n := range need {
			if n {
				person[id] = addUser(m.idents[id])
			}
		}
	}
	// Records of everyone who owned a stored page (victims and possibles).
	owner := make([]bool, len(userIDs)+1)
	for sk := range ln.stored {
		owner[person[sk.ident]] = true
	}
	for _, ce := range ln.cached {
		for _, o := range ce.cands {
			if o != unknownObj && o != 0 {
				owner[person[o]] = true
			}
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
		records[i+1] = recs[uid]
	}
	// A user that users_query does not know is unresolved: there is no one
	// to notify (whether the id came from a session or from the logs).
	for id := range person {
		if p := person[id]; p > 0 && owner[p] && records[p] == nil {
			person[id] = 0
		}
	}
	timings["resolve"] = time.Since(t0)

	t0 = time.Now()
	ev := &evaluator{c: c, m: m, person: person, records: records, userIDs: userIDs, people: map[int32]*acc{},
		identNames: make([]string, len(m.idents)), ipNames: make([]string, len(m.ips)), keyInfos: make([]keyInfo, len(m.keys)),
		onFileMemo: map[onFileKey][]incident.Category{}, events: make([]Event, 0, len(ln.cached)+len(ln.cached)/8)}
	ev.routeCats = make([][]incident.Category, len(c.Exposure.Routes))
	for i, r := range c.Exposure.Routes {
		ev.routeCats[i] = r.Categories
	}
	for _, ce := range ln.cached {
		ev.cached(&ce)
	}
	for sk, t := range ln.stored {
		ev.stored(sk, t)
	}
	out := ev.finish()
	out.Counts.PrivateOrigin, out.Counts.PrivateUnknown = m.origin, m.unknwn
	out.Counts.PrivateResponses = int64(len(m.events)) + m.origin + m.unknwn
	owns := make([]bool, len(m.idents))
	for sk := range ln.stored {
		owns[sk.ident] = true
	}
	for id, n := range need {
		if n && person[id] == 0 {
			if owns[id] {
				out.Counts.UnresolvedOwners++
			} else {
				out.Counts.UnresolvedViewers++
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
	person    []int32
	records   []*UserRecord
	userIDs   []string
	routeCats [][]incident.Category
	people    map[int32]*acc
	events    []Event
	counts    Counts

	viewerPairs   []viewerPair
	personsBuf    []int32
	unresolvedBuf []uint32

	identNames []string
	ipNames    []string
	keyInfos   []keyInfo
	onFileMemo map[onFileKey][]incident.Category
}

type onFileKey struct {
	p     int32
	route uint16
}

func (ev *evaluator) acc(p int32) *acc {
	a := ev.people[p]
	if a == nil {
		a = &acc{}
		ev.people[p] = a
	}
	return a
}

// onFile intersects a route's categories with what person p has on file.
// The result is shared: do not modify it.
func (ev *evaluator) onFile(p int32, route uint16) []incident.Category {
	cats := ev.routeCats[route]
	rec := ev.records[p]
	if rec == nil || len(rec.NotOnFile) == 0 {
		return cats
	}
	k := onFileKey{p, route}
	if out, ok := ev.onFileMemo[k]; ok {
		return out
	}
	out := make([]incident.Category, 0, len(cats))
	for _, c := range cats {
		if rec.OnFile(c) {
			out = append(out, c)
		}
	}
	ev.onFileMemo[k] = out
	return out
}

// viewer names the party a response was served to (cached per identity
// and address: the same few strings recur across millions of events).
func (ev *evaluator) viewer(e *event) string {
	if e.ident != 0 {
		if v := ev.identNames[e.ident]; v != "" {
			return v
		}
		var v string
		if p := ev.person[e.ident]; p > 0 {
			v = "user:" + ev.userIDs[p-1]
		} else {
			// A session id is a credential: never show or store it.
			h := sha256.Sum256([]byte(ev.m.idents[e.ident]))
			v = "identity:" + hex.EncodeToString(h[:6])
		}
		ev.identNames[e.ident] = v
		return v
	}
	if e.ip != 0 {
		if v := ev.ipNames[e.ip]; v != "" {
			return v
		}
		v := "ip:" + ev.m.ips[e.ip]
		ev.ipNames[e.ip] = v
		return v
	}
	return "anonymous"
}

// keyInfo is what an event shows of its cache key, computed once per key.
type keyInfo struct {
	pop, readable, path string
}

func (ev *evaluator) base(e *event) Event {
	ki := &ev.keyInfos[e.key]
	if ki.readable == "" {
		parts := strings.Split(strings.TrimSuffix(ev.m.keys[e.key], "\x00"), "\x00")
		for i, p := range ev.c.Exposure.CacheKey {
			if p == "pop" && i < len(parts) {
				ki.pop = parts[i]
			}
		}
		ki.readable = readableKey(ev.c.Exposure.CacheKey, parts)
		ki.path = pathOf(ev.c.Exposure.CacheKey, parts)
	}
	return Event{At: e.t, Pop: ki.pop, CacheKey: ki.readable, Status: int(e.status),
		Path: ki.path, Viewer: ev.viewer(e), File: int(e.file) + 1, Line: e.line}
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
	for _, o := range ce.cands {
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
		b.Kind, b.Level, b.Categories = KindUnresolved, level, ev.routeCats[e.route]
		ev.events = append(ev.events, b)
		ev.counts.UnresolvedEvents++
	}
	if others == 0 && hasUnknown {
		b := ev.base(e)
		b.Kind = KindUnattributed
		ev.events = append(ev.events, b)
		ev.counts.UnattributedEvents++
	}
}

func (ev *evaluator) personEvent(e *event, p int32, level string) {
	b := ev.base(e)
	b.Victim, b.Level = ev.userIDs[p-1], level
	b.Categories = ev.onFile(p, e.route)
	if len(b.Categories) == 0 {
		b.Kind = KindEmpty
		ev.counts.EmptyEvents++
		ev.events = append(ev.events, b)
		return
	}
	b.Kind = KindExposure
	ev.counts.ExposureEvents++
	a := ev.acc(p)
	if level == Confirmed {
		ev.counts.ConfirmedEvents++
		a.views++
		ev.viewerPairs = append(ev.viewerPairs, viewerPair{p, ev.viewerCode(e)})
		if a.first == 0 || e.t < a.first {
			a.first = e.t
		}
		if e.t > a.last {
			a.last = e.t
		}
		for _, c := range b.Categories {
			a.confirmedCats |= catBit(c)
		}
	} else {
		ev.counts.PossibleEvents++
		for _, c := range b.Categories {
			a.otherCats |= catBit(c)
		}
	}
	ev.events = append(ev.events, b)
}

// stored: a personal page stored in the window makes its owner at least
// possibly affected, for what of the page's categories is on file.
func (ev *evaluator) stored(sk storedKey, _ int64) {
	p := ev.person[sk.ident]
	if p == 0 {
		return // counted as an unresolved owner
	}
	cats := ev.onFile(p, sk.route)
	if len(cats) == 0 {
		return
	}
	a := ev.acc(p)
	for _, c := range cats {
		a.otherCats |= catBit(c)
	}
}

// viewerPair is one confirmed view: whose data, seen by which party.
type viewerPair struct {
	person int32
	viewer uint64 // 1<<32|person for users, 2<<32|ident, 3<<32|ip
}

// viewerName is the name of a viewer code (see viewer).
func (ev *evaluator) viewerName(code uint64) string {
	id := uint32(code)
	switch code >> 32 {
	case 1:
		return "user:" + ev.userIDs[id-1]
	case 2:
		return ev.viewer(&event{ident: id})
	}
	if id == 0 {
		return "anonymous"
	}
	return "ip:" + ev.m.ips[id]
}

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
		sortEvents(ev.events)
		close(sorted)
	}()
	// Distinct viewers per person.
	slices.SortFunc(ev.viewerPairs, func(a, b viewerPair) int {
		if a.person != b.person {
			return int(a.person - b.person)
		}
		return cmp64(int64(a.viewer), int64(b.viewer))
	})
	viewers := map[int32]int{}
	type vstat struct{ people, views int }
	byViewer := map[uint64]*vstat{}
	for i, vp := range ev.viewerPairs {
		vs := byViewer[vp.viewer]
		if vs == nil {
			vs = &vstat{}
			byViewer[vp.viewer] = vs
		}
		vs.views++
		if i == 0 || vp != ev.viewerPairs[i-1] {
			viewers[vp.person]++
			vs.people++
		}
	}
	ev.viewerPairs = nil
	for code, vs := range byViewer {
		out.TopViewers = append(out.TopViewers, Viewer{Viewer: ev.viewerName(code), People: vs.people, Views: vs.views})
	}
	sort.Slice(out.TopViewers, func(i, j int) bool {
		a, b := out.TopViewers[i], out.TopViewers[j]
		if a.People != b.People {
			return a.People > b.People
		}
		if a.Views != b.Views {
			return a.Views > b.Views
		}
		return a.Viewer < b.Viewer
	})
	if len(out.TopViewers) > TopViewers {
		out.TopViewers = out.TopViewers[:TopViewers]
	}
	for p, a := range ev.people {
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
	out.Events = ev.events
	<-sorted
	return out
}

// sortEvents puts events in time order (then evidence file and line, victim
// and kind). Events are large structs: sorting small keys and then moving
// each event once into place is several times faster than sorting them.
func sortEvents(events []Event) {
	type key struct {
		at, line int64
		file     int32
		idx      int32
	}
	keys := make([]key, len(events))
	for i := range events {
		e := &events[i]
		keys[i] = key{at: e.At, line: e.Line, file: int32(e.File), idx: int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		switch {
		case a.at != b.at:
			return cmp64(a.at, b.at)
		case a.file != b.file:
			return int(a.file - b.file)
		case a.line != b.line:
			return cmp64(a.line, b.line)
		}
		x, y := &events[a.idx], &events[b.idx]
		if c := strings.Compare(x.Victim, y.Victim); c != 0 {
			return c
		}
		return strings.Compare(x.Kind, y.Kind)
	})
	// Apply the permutation in place, cycle by cycle: position j receives
	// the event now at keys[j].idx.
	for i := range keys {
		if keys[i].idx < 0 {
			continue
		}
		tmp := events[i]
		j := i
		for {
			src := int(keys[j].idx)
			keys[j].idx = -1
			if src == i {
				events[j] = tmp
				break
			}
			events[j] = events[src]
			j = src
		}
	}
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
