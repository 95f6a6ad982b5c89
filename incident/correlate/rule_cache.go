package correlate

import (
	"iter"
	mathbits "math/bits"
	"slices"
	"time"
)

// unknownObj is a candidate object whose FILL was never seen (the logs begin
// after it); nonPersonal (0) is an object with no personal data (a fill by an
// anonymous requester, with another status, or outside the window).
const unknownObj = ^uint32(0)

// cached is a CACHED response whose object may be someone else's page: at
// least one candidate is a person other than the viewer's identity, or
// unknown. It holds no pointer (there are millions): its candidates are
// lineage.cands[off : off+n].
type cached struct {
	ev     int32 // index into merged.events
	off, n uint32
}

// storedKey identifies a person's stored page: identity and route.
type storedKey struct {
	ident uint32
	route uint16
}

// lineage is the outcome of the per-key pass.
type lineage struct {
	cached []cached
	cands  []uint32 // every kept response's candidates, back to back
	// stored[route] is a bit set over identities: the bit of ident is set
	// when a FILL in the window stored that person's page of that route.
	stored [][]uint64
}

// candsOf returns the candidates of a CACHED response (shared: read only).
func (l *lineage) candsOf(ce *cached) []uint32 {
	return l.cands[ce.off : ce.off+ce.n : ce.off+ce.n]
}

// eachStored yields every stored personal page, by route then identity.
func (l *lineage) eachStored() iter.Seq[storedKey] {
	return func(yield func(storedKey) bool) {
		for route, set := range l.stored {
			for w, bits := range set {
				for bits != 0 {
					b := bits & -bits
					bits &^= b
					if !yield(storedKey{uint32(w*64 + mathbits.TrailingZeros64(b)), uint16(route)}) {
						return
					}
				}
			}
		}
	}
}

// owns reports whether a FILL in the window stored a page of ident's, on
// any route.
func (l *lineage) owns(ident uint32) bool {
	for _, set := range l.stored {
		if set != nil && set[ident/64]&(1<<(ident%64)) != 0 {
			return true
		}
	}
	return false
}

func (l *lineage) store(sk storedKey, idents int) {
	for int(sk.route) >= len(l.stored) {
		l.stored = append(l.stored, nil)
	}
	set := l.stored[sk.route]
	if set == nil {
		set = make([]uint64, (idents+63)/64)
		l.stored[sk.route] = set
	}
	set[sk.ident/64] |= 1 << (sk.ident % 64)
}

// rules holds what decides whether a FILL stores a personal page.
type rules struct {
	start, end int64 // the declared window, [start, end)
	cacheable  [1000]bool
}

func newRules(start, end time.Time, cacheable []int) *rules {
	r := &rules{start: start.UnixNano(), end: end.UnixNano()}
	for _, s := range cacheable {
		if s >= 0 && s < len(r.cacheable) {
			r.cacheable[s] = true
		}
	}
	return r
}

// object is what a FILL stores: the requester's page (their identity) when
// the fill is inside the window, with a cacheable status, by an identified
// requester; otherwise a page with no personal data.
func (r *rules) object(e *event) uint32 {
	if e.ident != 0 && e.t >= r.start && e.t < r.end && int(e.status) < len(r.cacheable) && r.cacheable[e.status] {
		return e.ident
	}
	return 0
}

// tick is the time span a response's timestamp stands for: its second for a
// one-second timestamp, the instant itself otherwise.
func tick(e *event) (from, to int64) {
	if e.coarse {
		from = e.t - e.t%int64(time.Second)
		if e.t < 0 && e.t%int64(time.Second) != 0 {
			from -= int64(time.Second)
		}
		return from, from + int64(time.Second)
	}
	return e.t, e.t + 1
}

// lineage walks every key's responses in time order. The candidates of a
// CACHED response are the object of the last FILL before its tick plus the
// objects of every FILL within its tick (DESIGN.md's one-second rule; with
// sub-second times a tick is one instant, so there is exactly one candidate
// unless two responses share the instant). Where several FILLs share the
// last second before the tick, which one was last cannot be told from the
// logs: all of them are candidates (a reading of the rule that never calls
// a guess confirmed).
func (m *merged) lineage(r *rules) *lineage {
	// At most every CACHED response is kept: size for that at once rather
	// than copy millions of entries while growing.
	out := &lineage{cached: make([]cached, 0, len(m.events)-m.fills)}
	out.cands = make([]uint32, 0, cap(out.cached)+cap(out.cached)/8)
	nIdents := m.idents.len()
	var fills []int // indexes of the key's FILLs, in time order
	var arena []uint32
	for k := 0; k+1 < len(m.groups); k++ {
		lo, hi := m.groups[k], m.groups[k+1]
		fills = fills[:0]
		for i := lo; i < hi; i++ {
			e := &m.events[i]
			if !e.fill {
				continue
			}
			fills = append(fills, i)
			if obj := r.object(e); obj != 0 {
				out.store(storedKey{obj, e.route}, nIdents)
			}
		}
		// Only the FILLs need to be in time order (file and line break
		// ties, so the result does not depend on how files were split
		// among workers); they are a few percent of the responses. Each
		// CACHED response is placed among them on its own.
		slices.SortFunc(fills, func(a, b int) int { return cmpEvents(&m.events[a], &m.events[b]) })
		for i := lo; i < hi; i++ {
			e := &m.events[i]
			if e.fill {
				continue
			}
			from, to := tick(e)
			// First FILL at or after the tick's start.
			j, _ := slices.BinarySearchFunc(fills, from, func(fi int, t int64) int { return cmp64(m.events[fi].t, t) })
			arena = arena[:0]
			if j == 0 {
				arena = append(arena, unknownObj)
			} else {
				// The last FILL before the tick, and every FILL that cannot be
				// ordered against it (same second, or same instant).
				last := &m.events[fills[j-1]]
				arena = append(arena, r.object(last))
				lf, _ := tick(last)
				for k := j - 2; k >= 0 && m.events[fills[k]].t >= lf; k-- {
					arena = addUnique(arena, r.object(&m.events[fills[k]]))
				}
			}
			for ; j < len(fills) && m.events[fills[j]].t < to; j++ {
				arena = addUnique(arena, r.object(&m.events[fills[j]]))
			}
			// Keep it only if it can involve someone other than the viewer.
			keep := false
			for _, c := range arena {
				if c == unknownObj || (c != 0 && c != e.ident) {
					keep = true
					break
				}
			}
			if keep {
				out.cached = append(out.cached, cached{ev: int32(i), off: uint32(len(out.cands)), n: uint32(len(arena))})
				out.cands = append(out.cands, arena...)
			}
		}
	}
	return out
}

// cmpEvents orders responses by time, then file and line.
func cmpEvents(a, b *event) int {
	switch {
	case a.t != b.t:
		return cmp64(a.t, b.t)
	case a.file != b.file:
		return int(a.file - b.file)
	}
	return cmp64(a.line, b.line)
}

func addUnique(s []uint32, v uint32) []uint32 {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}
