package correlate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
)

// A generated scenario: a few edges, pages, people and addresses. KIX logs
// have one-second times, NRT logs nanoseconds (one precision per edge, as
// one log source per edge).
var (
	genIdents = []string{"", "sess-a", "sess-a2", "sess-b", "sess-c", "sess-d", "sess-x", "sess-y"}
	genPaths  = []string{profile, profile, bank, "/mypage/settings"}
	genCaches = []logs.Cache{logs.CacheFill, logs.CacheCached, logs.CacheFill, logs.CacheCached,
		logs.CacheOrigin, logs.CacheCached, logs.CacheFill, logs.CacheCached}
	genIPs = []string{"198.51.100.1", "198.51.100.2", "203.0.113.9", ""}
	// User 3 has no bank account or phone on file, user 4 nothing of the profile page.
	genNotOnFile = map[string][]incident.Category{
		"3": {incident.CatBankAccount, incident.CatPhone},
		"4": {incident.CatName, incident.CatPostalAddress, incident.CatPhone},
	}
)

// genRec is one generated log line with its place in the evidence.
type genRec struct {
	file int
	line int64
	rec  logs.Record
}

// decodeRecords turns bytes into up to 64 records, three bytes each, in
// time order from just before the window (fed to the sinks in other orders):
// b0 edge, path, cache result, status; b1 identity, address, file; b2 the
// time step (0xff: two hours), query.
func decodeRecords(data []byte) []genRec {
	t := at("09:40:58")
	var out []genRec
	for i := 0; i+3 <= len(data) && len(out) < 64; i += 3 {
		b0, b1, b2 := data[i], data[i+1], data[i+2]
		if b2 == 0xff {
			t += 2 * int64(time.Hour) // crosses the window's end after a few jumps
		} else {
			t += int64(b2&0x3f) * 20 * int64(time.Millisecond) // dense: many responses share a second
		}
		r := logs.Record{Time: t, Pop: []byte("NRT"), Host: []byte(host), Method: []byte("GET"), Status: 200}
		if b0&0x01 != 0 {
			r.Pop, r.Coarse = []byte("KIX"), true
			r.Time -= r.Time % int64(time.Second)
		}
		r.Path = []byte(genPaths[(b0>>1)&3])
		r.Cache = genCaches[(b0>>3)&3|(b0>>4)&4]
		r.CacheRaw = []byte(r.Cache.String())
		if b0&0xa0 == 0xa0 {
			r.Status = 302
		}
		if b2&0xc0 == 0xc0 && b2 != 0xff {
			r.Query = []byte("tab=1")
		}
		r.Identity = []byte(genIdents[b1&7])
		r.ClientIP = []byte(genIPs[(b1>>3)&3])
		out = append(out, genRec{file: int(b1>>5) % 3, line: int64(i/3 + 1), rec: r})
	}
	return out
}

// runGen feeds recs in the given order (a permutation of indexes), each to
// sink assign(i) of nSinks, the sinks fed concurrently; with more than one
// sink the sessions are also resolved through EachSession.
func runGen(t testing.TB, c *incident.Case, recs []genRec, order []int, nSinks int, assign func(i int) int) *correlate.Result {
	t.Helper()
	return runGenWith(t, c, recs, order, nSinks, assign, func() any {
		return &fakeResolver{t: t, sessions: testSessions, users: testUsers(genNotOnFile)}
	})
}

// runGenWith is runGen with the resolver newRes makes (a *fakeResolver or
// an *ownerResolver).
func runGenWith(t testing.TB, c *incident.Case, recs []genRec, order []int, nSinks int, assign func(i int) int, newRes func() any) *correlate.Result {
	t.Helper()
	col, err := correlate.NewCollector(c)
	if err != nil {
		t.Fatalf("NewCollector() = %v, want no error", err)
	}
	sinks := make([]logs.Sink, nSinks)
	for w := range sinks {
		sinks[w] = col.Sink(w)
	}
	var wg sync.WaitGroup
	for w, s := range sinks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, i := range order {
				if assign(i) == w {
					rec := recs[i].rec
					s.Record(recs[i].file, recs[i].line, &rec)
				}
			}
		}()
	}
	wg.Wait()
	var res correlate.Resolver
	switch r := newRes().(type) {
	case *fakeResolver:
		res = r
		if nSinks > 1 { // and the sessions streamed, as from DBResolver
			res = streamingResolver{r}
		}
	case *ownerResolver:
		res = r
		if nSinks > 1 {
			res = streamingOwners{streamingResolver{r.fakeResolver}, r}
		}
	}
	out, err := col.Run(context.Background(), c, res)
	if err != nil {
		t.Fatalf("Run() = %v, want no error", err)
	}
	return out
}

// streamingOwners streams sessions and answers owners_query.
type streamingOwners struct {
	streamingResolver
	o *ownerResolver
}

func (s streamingOwners) Owners(ctx context.Context, query string, ids []string) (map[string][]string, error) {
	return s.o.Owners(ctx, query, ids)
}

func reversed(s []int) []int {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestDeterminism: the same records in shuffled orders, split across two
// sinks, give an identical result.
func TestDeterminism(t *testing.T) {
	c := loadCase(t, "session")
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2017))
			data := make([]byte, 3*64)
			for i := range data {
				data[i] = byte(rng.UintN(256))
			}
			recs := decodeRecords(data)
			inOrder := make([]int, len(recs))
			for i := range inOrder {
				inOrder[i] = i
			}
			want := runGen(t, c, recs, inOrder, 1, func(int) int { return 0 })
			if want.NumEvents() == 0 {
				t.Fatalf("scenario has no events; want a busy one")
			}
			checkInvariants(t, c, want)
			shuffled := rng.Perm(len(recs))
			split := rng.Perm(len(recs))
			restore := correlate.SetEventBlockForTest(3) // many blocks per sink
			got := runGen(t, c, recs, shuffled, 2, func(i int) int { return split[i] % 2 })
			restore()
			sameResult(t, "shuffled on two sinks vs in order on one", got, want)
			byFile := runGen(t, c, recs, reversed(shuffled), 2, func(i int) int { return recs[i].file % 2 })
			sameResult(t, "one file per worker vs in order on one", byFile, want)
		})
	}
}

func FuzzCorrelate(f *testing.F) {
	// fill by sess-a, hit by sess-b; a coarse pair on KIX; an unresolved owner;
	// a 302 fill; a jump past the window.
	f.Add([]byte{0x00, 0x01, 0x00, 0x08, 0x03, 0x05})
	f.Add([]byte{0x01, 0x01, 0x00, 0x09, 0x03, 0x1b, 0x01, 0x04, 0x00, 0x09, 0x05, 0x02})
	f.Add([]byte{0x00, 0x06, 0x00, 0x08, 0x03, 0x01, 0x08, 0x00, 0x09})
	f.Add([]byte{0x20, 0x01, 0x00, 0x08, 0x03, 0x01, 0x00, 0x04, 0x01, 0x88, 0x05, 0x40})
	f.Add([]byte{0x02, 0x01, 0x00, 0x0a, 0x03, 0x01, 0x02, 0x05, 0x00, 0x0a, 0x0b, 0x01, 0x10, 0x04, 0x01})
	f.Add([]byte{0x01, 0x01, 0x00, 0x01, 0x04, 0x1b, 0x09, 0x03, 0x00, 0x09, 0x12, 0x1b})
	c := loadCase(f, "session")
	f.Fuzz(func(t *testing.T, data []byte) {
		recs := decodeRecords(data)
		inOrder := make([]int, len(recs))
		for i := range inOrder {
			inOrder[i] = i
		}
		got := runGen(t, c, recs, inOrder, 1, func(int) int { return 0 })
		checkInvariants(t, c, got)
		checkOracle(t, c, recs, got)
		reversed := runGen(t, c, recs, reversed(inOrder), 2, func(i int) int { return i % 2 })
		sameResult(t, "reversed on two sinks vs in order on one", reversed, got)
	})
}

// checkInvariants checks what must hold of any result.
func checkInvariants(t *testing.T, c *incident.Case, r *correlate.Result) {
	t.Helper()
	routeCats := func(path string) []incident.Category {
		for _, rt := range c.Exposure.Routes {
			m, _ := incident.CompileRoute(rt.Match)
			if m.Match(path) {
				return rt.Categories
			}
		}
		return nil
	}
	var all []incident.Category
	for _, rt := range c.Exposure.Routes {
		all = append(all, rt.Categories...)
	}
	subset := func(cs, of []incident.Category) bool {
		for _, c := range cs {
			if !slices.Contains(of, c) {
				return false
			}
		}
		return true
	}
	var n correlate.Counts
	views := 0
	affected := map[string]*correlate.Affected{}
	for i := range r.Affected {
		a := &r.Affected[i]
		affected[a.UserID] = a
		if (a.Level == correlate.Confirmed) != (a.Views > 0) {
			t.Errorf("affected %s: level %s with %d views; want confirmed iff views > 0", a.UserID, a.Level, a.Views)
		}
		if a.Level != correlate.Confirmed && a.Level != correlate.Possible {
			t.Errorf("affected %s: level %q, want confirmed or possible", a.UserID, a.Level)
		}
		if a.Viewers > a.Views || (a.Views > 0 && a.Viewers == 0) {
			t.Errorf("affected %s: %d viewers for %d views; want 1 <= viewers <= views when viewed", a.UserID, a.Viewers, a.Views)
		}
		if (a.Views > 0) != (a.First != 0) || a.First > a.Last {
			t.Errorf("affected %s: first %d last %d with %d views; want first <= last, set iff viewed", a.UserID, a.First, a.Last, a.Views)
		}
		if len(a.Categories) == 0 || !slices.IsSorted(a.Categories) || len(slices.Compact(slices.Clone(a.Categories))) != len(a.Categories) {
			t.Errorf("affected %s: categories %v; want a non-empty sorted set", a.UserID, a.Categories)
		}
		if !subset(a.Categories, all) {
			t.Errorf("affected %s: categories %v; want a subset of the routes' %v", a.UserID, a.Categories, all)
		}
		if len(a.CategoryLevels) != len(a.Categories) {
			t.Errorf("affected %s: category levels %v for categories %v; want one level per category", a.UserID, a.CategoryLevels, a.Categories)
		}
		confirmedCat := false
		for _, cat := range a.Categories {
			confirmedCat = confirmedCat || a.CategoryLevels[cat] == correlate.Confirmed
		}
		if confirmedCat != (a.Level == correlate.Confirmed) {
			t.Errorf("affected %s: level %s, category levels %v; want a confirmed category iff confirmed", a.UserID, a.Level, a.CategoryLevels)
		}
		views += a.Views
		if a.Level == correlate.Confirmed {
			n.Confirmed++
		} else {
			n.Possible++
		}
	}
	if r.Counts.Confirmed+r.Counts.Possible != len(r.Affected) || r.Counts.Confirmed != n.Confirmed {
		t.Errorf("Counts confirmed %d + possible %d, want %d + %d (len(Affected) %d)", r.Counts.Confirmed, r.Counts.Possible, n.Confirmed, n.Possible, len(r.Affected))
	}
	events := r.Events()
	for i := range events {
		e := &events[i]
		if i > 0 {
			p := &events[i-1]
			if p.At > e.At || (p.At == e.At && (p.File > e.File || (p.File == e.File && p.Line > e.Line))) {
				t.Errorf("event %d (%s) after %s; want events in time, file, line order", i, eventString(*e), eventString(*p))
			}
		}
		rc := routeCats(e.Path)
		if rc == nil {
			t.Errorf("event %s: path is on no private route", eventString(*e))
		}
		if !subset(e.Categories, rc) {
			t.Errorf("event %s: categories not a subset of the route's %v", eventString(*e), rc)
		}
		if e.Victim != "" && e.Viewer == "user:"+e.Victim {
			t.Errorf("event %s: the victim is the viewer", eventString(*e))
		}
		switch e.Kind {
		case correlate.KindExposure:
			n.ExposureEvents++
			if e.Level == correlate.Confirmed {
				n.ConfirmedEvents++
			} else {
				n.PossibleEvents++
			}
			a := affected[e.Victim]
			switch {
			case e.Victim == "" || len(e.Categories) == 0:
				t.Errorf("exposure %s: want a victim and categories", eventString(*e))
			case a == nil:
				t.Errorf("exposure %s: victim not in Affected", eventString(*e))
			case !subset(e.Categories, a.Categories):
				t.Errorf("exposure %s: categories not in the victim's %v", eventString(*e), a.Categories)
			case e.Level == correlate.Confirmed && a.Level != correlate.Confirmed:
				t.Errorf("exposure %s: victim's level %s, want confirmed", eventString(*e), a.Level)
			}
		case correlate.KindEmpty:
			n.EmptyEvents++
			if e.Victim == "" || len(e.Categories) != 0 {
				t.Errorf("empty event %s: want a victim and no categories", eventString(*e))
			}
		case correlate.KindUnattributed:
			n.UnattributedEvents++
			if e.Victim != "" || e.Level != "" || len(e.Categories) != 0 {
				t.Errorf("unattributed event %s: want no victim, level or categories", eventString(*e))
			}
		case correlate.KindUnresolved:
			n.UnresolvedEvents++
			if e.Victim != "" || (e.Level != correlate.Confirmed && e.Level != correlate.Possible) {
				t.Errorf("unresolved event %s: want no victim, a level", eventString(*e))
			}
		default:
			t.Errorf("event %s: unknown kind", eventString(*e))
		}
	}
	if views != int(n.ConfirmedEvents) {
		t.Errorf("sum of views %d, want the %d confirmed exposure events", views, n.ConfirmedEvents)
	}
	got := r.Counts
	got.PrivateResponses, got.PrivateOrigin, got.PrivateUnknown, got.UnresolvedOwners, got.UnresolvedViewers = 0, 0, 0, 0, 0
	if got != n {
		t.Errorf("Counts = %+v, want (from the events and affected) %+v", got, n)
	}
}

// checkOracle recomputes the result straight from DESIGN.md's rules, record
// by record, and compares events, affected accounts and counts. Ties between
// equal times are broken by file and line, as the logs' order.
func checkOracle(t *testing.T, c *incident.Case, recs []genRec, got *correlate.Result) {
	t.Helper()
	users := testUsers(genNotOnFile)
	start, end := c.Start.UnixNano(), c.End.UnixNano()
	routeCats := func(path string) []incident.Category {
		switch {
		case path == profile:
			return profileCats
		case strings.HasPrefix(path, "/mypage/bank"):
			return bankCats
		}
		return nil
	}
	onFile := func(uid string, cats []incident.Category) []incident.Category {
		var out []incident.Category
		for _, c := range cats {
			if !users[uid].NotOnFile[c] {
				out = append(out, c)
			}
		}
		return out
	}
	// entity names a page's owner or a viewer: user:ID, ident:SESSION, or
	// one of the markers below.
	const unknown, none, anon = "?unknown", "?none", "?anonymous"
	entity := func(ident string) string {
		if ident == "" {
			return anon
		}
		if uid, ok := testSessions[ident]; ok {
			return "user:" + uid
		}
		return "ident:" + ident
	}
	object := func(r *genRec) string { // what a FILL stores
		if len(r.rec.Identity) > 0 && r.rec.Status == 200 && r.rec.Time >= start && r.rec.Time < end {
			return entity(string(r.rec.Identity))
		}
		return none
	}

	var want correlate.Counts
	type person struct {
		confirmed, possible map[incident.Category]bool
		views               int
		viewers             map[string]bool
		first, last         int64
	}
	people := map[string]*person{}
	pp := func(uid string) *person {
		if people[uid] == nil {
			people[uid] = &person{confirmed: map[incident.Category]bool{}, possible: map[incident.Category]bool{}, viewers: map[string]bool{}}
		}
		return people[uid]
	}
	unresolvedOwners := map[string]bool{}
	byKey := map[string][]*genRec{}
	for i := range recs {
		r := &recs[i]
		if routeCats(string(r.rec.Path)) == nil {
			continue
		}
		want.PrivateResponses++
		if r.rec.Cache == logs.CacheOrigin {
			want.PrivateOrigin++
			continue
		}
		k := string(r.rec.Pop) + " " + host + " " + string(r.rec.Path)
		if len(r.rec.Query) > 0 {
			k += "?" + string(r.rec.Query)
		}
		byKey[k] = append(byKey[k], r)
		if r.rec.Cache == logs.CacheFill {
			if o := object(r); o != none {
				if uid, ok := strings.CutPrefix(o, "user:"); ok {
					if cats := onFile(uid, routeCats(string(r.rec.Path))); len(cats) > 0 {
						p := pp(uid)
						for _, c := range cats {
							p.possible[c] = true
						}
					}
				} else {
					unresolvedOwners[o] = true
				}
			}
		}
	}
	want.UnresolvedOwners = len(unresolvedOwners)

	var events []string
	for k, rs := range byKey {
		sort.Slice(rs, func(i, j int) bool {
			a, b := rs[i], rs[j]
			if a.rec.Time != b.rec.Time {
				return a.rec.Time < b.rec.Time
			}
			if a.file != b.file {
				return a.file < b.file
			}
			return a.line < b.line
		})
		for _, h := range rs {
			if h.rec.Cache != logs.CacheCached {
				continue
			}
			from, to := h.rec.Time, h.rec.Time+1
			if h.rec.Coarse {
				from = h.rec.Time - h.rec.Time%int64(time.Second)
				to = from + int64(time.Second)
			}
			cands := map[string]bool{}
			var before []*genRec // FILLs before the tick, in order
			for _, f := range rs {
				if f.rec.Cache != logs.CacheFill {
					continue
				}
				if f.rec.Time < from {
					before = append(before, f)
				} else if f.rec.Time < to {
					cands[object(f)] = true
				}
			}
			if len(before) == 0 {
				cands[unknown] = true
			} else {
				// The last FILL before the tick and every FILL in its own tick.
				last := before[len(before)-1]
				lf := last.rec.Time
				if last.rec.Coarse {
					lf -= lf % int64(time.Second)
				}
				for _, f := range before {
					if f.rec.Time >= lf {
						cands[object(f)] = true
					}
				}
			}
			level := correlate.Possible
			if len(cands) == 1 {
				level = correlate.Confirmed
			}
			viewerEnt := entity(string(h.rec.Identity))
			viewer := viewerEnt
			switch {
			case viewerEnt == anon && len(h.rec.ClientIP) > 0:
				viewer = "ip:" + string(h.rec.ClientIP)
			case viewerEnt == anon:
				viewer = "anonymous"
			case strings.HasPrefix(viewerEnt, "ident:"):
				viewer = identityViewer(string(h.rec.Identity))
			}
			rc := routeCats(string(h.rec.Path))
			ev := correlate.Event{At: h.rec.Time, Pop: string(h.rec.Pop), CacheKey: k, Path: string(h.rec.Path),
				Status: h.rec.Status, Viewer: viewer, File: h.file + 1, Line: h.line}
			emitted := 0
			for cand := range cands {
				if cand == viewerEnt || cand == unknown || cand == none {
					continue
				}
				emitted++
				e := ev
				e.Level = level
				if uid, ok := strings.CutPrefix(cand, "user:"); ok {
					e.Victim, e.Categories = uid, onFile(uid, rc)
					if len(e.Categories) == 0 {
						e.Kind = correlate.KindEmpty
						want.EmptyEvents++
					} else {
						e.Kind = correlate.KindExposure
						want.ExposureEvents++
						p := pp(uid)
						if level == correlate.Confirmed {
							want.ConfirmedEvents++
							p.views++
							p.viewers[viewer] = true
							if p.first == 0 || e.At < p.first {
								p.first = e.At
							}
							p.last = max(p.last, e.At)
							for _, c := range e.Categories {
								p.confirmed[c] = true
							}
						} else {
							want.PossibleEvents++
							for _, c := range e.Categories {
								p.possible[c] = true
							}
						}
					}
				} else {
					e.Kind, e.Categories = correlate.KindUnresolved, rc
					want.UnresolvedEvents++
				}
				events = append(events, eventString(e))
			}
			if emitted == 0 && cands[unknown] {
				e := ev
				e.Kind = correlate.KindUnattributed
				want.UnattributedEvents++
				events = append(events, eventString(e))
			}
		}
	}
	var affected []correlate.Affected
	for uid, p := range people {
		a := correlate.Affected{UserID: uid, Level: correlate.Possible, CategoryLevels: map[incident.Category]string{},
			Views: p.views, Viewers: len(p.viewers), First: p.first, Last: p.last,
			Locale: users[uid].Locale, Country: users[uid].Country, Region: users[uid].Region}
		if p.views > 0 {
			a.Level = correlate.Confirmed
			want.Confirmed++
		} else {
			want.Possible++
		}
		for c := range p.possible {
			a.CategoryLevels[c] = correlate.Possible
		}
		for c := range p.confirmed {
			a.CategoryLevels[c] = correlate.Confirmed
		}
		for c := range a.CategoryLevels {
			a.Categories = append(a.Categories, c)
		}
		slices.Sort(a.Categories)
		affected = append(affected, a)
	}
	sort.Slice(affected, func(i, j int) bool { return affected[i].UserID < affected[j].UserID })

	gotEvents := eventStrings(got.Events())
	slices.Sort(gotEvents)
	slices.Sort(events)
	if !slices.Equal(gotEvents, events) {
		t.Errorf("Events (sorted):\ngot  %s\nwant %s", strings.Join(gotEvents, "\n     "), strings.Join(events, "\n     "))
	}
	if g, w := affectedStrings(got.Affected), affectedStrings(affected); !slices.Equal(g, w) {
		t.Errorf("Affected:\ngot  %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	want.UnresolvedViewers = got.Counts.UnresolvedViewers // which viewers get resolved is the code's business
	if got.Counts != want {
		t.Errorf("Counts:\ngot  %+v\nwant %+v", got.Counts, want)
	}
}
