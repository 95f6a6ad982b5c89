// Package correlate rebuilds the cache lineage of every (edge, cache key)
// from the parsed logs — whose page each cached response was — and turns it
// into exposure events and affected accounts (DESIGN.md "Correlation").
package correlate

import (
	"fmt"
	"slices"
	"sync"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// event is one FILL or CACHED response of a private route, compacted: the
// strings are interned per worker and remapped to global ids after reading.
type event struct {
	t      int64 // Unix ns
	line   int64
	file   int32
	key    uint32
	ident  uint32 // 0: anonymous
	ip     uint32
	status uint16
	route  uint16
	fill   bool // FILL, else CACHED
	coarse bool
}

// interner maps strings to dense ids; id 0 is reserved for "none".
type interner struct {
	ids  map[string]uint32
	list []string
}

func newInterner() *interner {
	return &interner{ids: map[string]uint32{}, list: []string{""}}
}

func (in *interner) id(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	if id, ok := in.ids[string(b)]; ok { // no allocation for the lookup
		return id
	}
	s := string(b)
	id := uint32(len(in.list))
	in.ids[s] = id
	in.list = append(in.list, s)
	return id
}

func (in *interner) idString(s string) uint32 {
	if s == "" {
		return 0
	}
	if id, ok := in.ids[s]; ok {
		return id
	}
	id := uint32(len(in.list))
	in.ids[s] = id
	in.list = append(in.list, s)
	return id
}

// Collector gathers the FILL and CACHED responses of private routes from the
// log reader, one sink per worker (no locks on the hot path).
type Collector struct {
	routes   []*incident.RouteMatcher
	keyParts []string
	sinks    []*sink
}

// NewCollector prepares a collector for the case's routes and cache key.
func NewCollector(c *incident.Case) (*Collector, error) {
	col := &Collector{keyParts: c.Exposure.CacheKey}
	for i, r := range c.Exposure.Routes {
		m, err := incident.CompileRoute(r.Match)
		if err != nil {
			return nil, fmt.Errorf("exposure.routes[%d].match: %w", i, err)
		}
		col.routes = append(col.routes, m)
	}
	return col, nil
}

// Sink returns worker w's sink (for logs.Options.NewSink). Call it once per
// worker before reading starts.
func (col *Collector) Sink(w int) logs.Sink {
	s := &sink{col: col, keys: newInterner(), idents: newInterner(), ips: newInterner()}
	col.sinks = append(col.sinks, s)
	return s
}

type sink struct {
	col    *Collector
	keys   *interner
	idents *interner
	ips    *interner
	events []event
	keyBuf []byte
	// Counts of route-matched responses that lineage does not use.
	origin, unknown int64
}

// route returns the index of the first route matching path, or -1.
func (col *Collector) route(path []byte) int {
	for i, m := range col.routes {
		if m.MatchBytes(path) {
			return i
		}
	}
	return -1
}

// Record implements logs.Sink. Route matching comes first, so public traffic
// costs one or two comparisons.
func (s *sink) Record(file int, line int64, rec *logs.Record) {
	r := s.col.route(rec.Path)
	if r < 0 {
		return
	}
	switch rec.Cache {
	case logs.CacheFill, logs.CacheCached:
	case logs.CacheOrigin:
		s.origin++ // served from origin to its requester: nothing stored, nothing shown to others
		return
	default:
		s.unknown++ // counted by the reader too; never guessed into the lineage
		return
	}
	b := s.keyBuf[:0]
	for _, part := range s.col.keyParts {
		switch part {
		case "pop":
			b = append(b, rec.Pop...)
		case "host":
			b = append(b, rec.Host...)
		case "path":
			b = append(b, rec.Path...)
		case "query":
			b = append(b, rec.Query...)
		case "method":
			b = append(b, rec.Method...)
		}
		b = append(b, 0)
	}
	s.keyBuf = b
	// The client address only names an anonymous viewer.
	ident, ip := s.idents.id(rec.Identity), uint32(0)
	if ident == 0 {
		ip = s.ips.id(rec.ClientIP)
	}
	st := rec.Status
	if st < 0 || st > 65535 {
		st = 0
	}
	s.events = append(s.events, event{
		t: rec.Time, line: line, file: int32(file),
		key: s.keys.id(b), ident: ident, ip: ip,
		status: uint16(st), route: uint16(r), fill: rec.Cache == logs.CacheFill, coarse: rec.Coarse,
	})
}

// merged is every worker's events with global ids, grouped by cache key and
// ordered by time within each key.
type merged struct {
	keys   []string // id -> key ("pop\x00host\x00path\x00query\x00")
	idents []string // id -> identity (0 = anonymous)
	// identIx: identity -> id; kept for resolution, then dropped.
	identIx map[string]uint32
	ips     []string
	events  []event
	groups  []int // events[groups[k]:groups[k+1]] belong to key k
	origin  int64
	unknwn  int64
}

// merge remaps the workers' ids to global ones and groups events by key with
// a counting sort, then sorts each key's events by time (file and line break
// ties, so the result does not depend on how files were split among workers).
func (col *Collector) merge() *merged {
	m := &merged{}
	// The first worker's tables become the global ones (its ids stay as
	// they are); the other workers' ids are remapped into them.
	gk, gi, gp := newInterner(), newInterner(), newInterner()
	if len(col.sinks) > 0 {
		s0 := col.sinks[0]
		gk, gi, gp = s0.keys, s0.idents, s0.ips
	}
	maps := make([][3][]uint32, len(col.sinks))
	total := 0
	for _, s := range col.sinks {
		total += len(s.events)
		m.origin += s.origin
		m.unknwn += s.unknown
	}
	// The three id tables are independent: remap them concurrently, each in
	// worker order (so global ids do not depend on scheduling).
	var wg sync.WaitGroup
	for i, dst := range []*interner{gk, gi, gp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w, s := range col.sinks {
				src := [3]*interner{s.keys, s.idents, s.ips}[i]
				if src == dst {
					continue // nil map: ids unchanged
				}
				mp := make([]uint32, len(src.list))
				for id, str := range src.list {
					mp[id] = dst.idString(str)
				}
				maps[w][i] = mp
			}
		}()
	}
	wg.Wait()
	m.keys, m.idents, m.ips, m.identIx = gk.list, gi.list, gp.list, gi.ids
	counts := make([]int, len(m.keys)+1)
	for w, s := range col.sinks {
		km := maps[w][0]
		for i := range s.events {
			k := s.events[i].key
			if km != nil {
				k = km[k]
			}
			counts[k+1]++
		}
	}
	for k := 1; k < len(counts); k++ {
		counts[k] += counts[k-1]
	}
	m.groups = slices.Clone(counts)
	m.events = make([]event, total)
	for w, s := range col.sinks {
		km, im, pm := maps[w][0], maps[w][1], maps[w][2]
		if km == nil { // the first worker's: ids unchanged
			for _, e := range s.events {
				m.events[counts[e.key]] = e
				counts[e.key]++
			}
		} else {
			for _, e := range s.events {
				e.key, e.ident, e.ip = km[e.key], im[e.ident], pm[e.ip]
				m.events[counts[e.key]] = e
				counts[e.key]++
			}
		}
		s.events = nil // free as we go
	}
	col.sinks = nil
	// Sort each key's events by time; the keys are split in two halves of
	// about equal event counts, sorted on both cores.
	sortGroups := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			g := m.events[m.groups[k]:m.groups[k+1]]
			slices.SortFunc(g, func(a, b event) int {
				switch {
				case a.t != b.t:
					return cmp64(a.t, b.t)
				case a.file != b.file:
					return int(a.file - b.file)
				}
				return cmp64(a.line, b.line)
			})
		}
	}
	nk := len(m.groups) - 1
	mid, _ := slices.BinarySearch(m.groups, total/2)
	mid = min(max(mid, 0), max(nk, 0))
	wg.Add(1)
	go func() {
		defer wg.Done()
		sortGroups(0, mid)
	}()
	sortGroups(mid, nk)
	wg.Wait()
	return m
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
