// Package correlate rebuilds the cache lineage of every (edge, cache key)
// from the parsed logs — whose page each cached response was — and turns it
// into exposure events and affected accounts (DESIGN.md "Correlation").
package correlate

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// event is one FILL or CACHED response of a private route, compacted: its
// strings are ids. Identities are interned in one table for every worker;
// keys and addresses per worker, remapped to global ids after reading.
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

// eventBlock is how many events a sink keeps per block (40 bytes each; a
// variable for tests).
var eventBlock = 1 << 15

// Collector gathers what the rules need from the log reader, one sink per
// worker (no locks on the hot path): the FILL and CACHED responses of the
// cache rule's routes, and the requests the other rules keep (rule.go).
type Collector struct {
	routes   []*incident.RouteMatcher
	gate     string // every route's paths begin with it (the routes' common prefix)
	keyParts []string
	sinks    []*sink
	idents   *sharedInterner // every worker's identities

	// The cache rule's index in exposure.rules and its range.
	cacheRule  int
	cacheStart time.Time
	cacheEnd   time.Time
	ruleNames  []string // every rule's name, by index
	ruleKinds  []string

	parts []part // the other rules
	// sqlEngine, when set, computes the cache lineage as SQL.
	sqlEngine *SQLEngine
	hits      hitTables
	hitSinks  []*hitSink
}

// NewCollector prepares a collector for the case's rules.
func NewCollector(c *incident.Case) (*Collector, error) {
	col := &Collector{keyParts: c.Exposure.CacheKey, idents: newSharedInterner(), cacheStart: c.Start, cacheEnd: c.End}
	rules := c.Exposure.Rules
	if len(rules) == 0 {
		// A case built in code: its top-level keys are the cache rule.
		rules = []incident.Rule{{Kind: incident.RuleCache, Name: incident.RuleCache}}
	}
	col.cacheRule = -1
	for i, r := range rules {
		col.ruleNames = append(col.ruleNames, r.Name)
		col.ruleKinds = append(col.ruleKinds, r.Kind)
		if r.Kind == incident.RuleCache && col.cacheRule < 0 {
			col.cacheRule = i
			if !r.Start.IsZero() {
				col.cacheStart = r.Start
			}
			if !r.End.IsZero() {
				col.cacheEnd = r.End
			}
		}
	}
	for i, r := range c.Exposure.Routes {
		m, err := incident.CompileRoute(r.Match)
		if err != nil {
			return nil, fmt.Errorf("exposure.routes[%d].match: %w", i, err)
		}
		col.routes = append(col.routes, m)
	}
	col.gate = commonPrefix(col.routes)
	if len(col.routes) == 0 {
		col.gate = "\x00never" // no cache rule: no path is a cache route
	}
	var err error
	if col.parts, err = newParts(c, len(col.routes)); err != nil {
		return nil, err
	}
	if len(col.parts) > 0 {
		col.hits = hitTables{ips: newSharedInterner(), refs: newSharedInterner(), keys: newSharedInterner()}
	}
	return col, nil
}

// Sink returns worker w's sink (for logs.Options.NewSink). Call it once per
// worker before reading starts.
func (col *Collector) Sink(w int) logs.Sink {
	s := &sink{col: col, keys: newInterner(), ips: newInterner()}
	col.sinks = append(col.sinks, s)
	if len(col.parts) == 0 {
		return s
	}
	hs := &hitSink{col: col}
	col.hitSinks = append(col.hitSinks, hs)
	return &multiSink{cache: s, hits: hs}
}

type sink struct {
	col  *Collector
	keys *interner // per worker: few, and not worth a lock
	ips  *interner
	// events in blocks of eventBlock: appending never copies what was
	// gathered, nor holds two copies of it while growing.
	events  [][]event
	nEvents int
	keyBuf  []byte
	// Counts of route-matched responses that lineage does not use.
	origin, unknown int64
}

// route returns the index of the first route matching path, or -1. Most
// paths are public: those not beginning with the routes' common prefix are
// turned away by one comparison.
func (col *Collector) route(path []byte) int {
	if len(path) < len(col.gate) || string(path[:len(col.gate)]) != col.gate {
		return -1
	}
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
		var v []byte
		switch part {
		case "pop":
			v = rec.Pop
		case "host":
			v = rec.Host
		case "path":
			v = rec.Path
		case "query":
			v = rec.Query
		case "method":
			v = rec.Method
		}
		b = appendKeyPart(b, v)
	}
	s.keyBuf = b
	// The client address only names an anonymous viewer.
	ident, ip := s.col.idents.id(rec.Identity), uint32(0)
	if ident == 0 {
		ip = s.ips.id(rec.ClientIP)
	}
	st := rec.Status
	if st < 0 || st > 65535 {
		st = 0
	}
	if n := len(s.events); n == 0 || len(s.events[n-1]) == eventBlock {
		s.events = append(s.events, make([]event, 0, eventBlock))
	}
	s.nEvents++
	blk := &s.events[len(s.events)-1]
	*blk = append(*blk, event{
		t: rec.Time, line: line, file: int32(file),
		key: s.keys.id(b), ident: ident, ip: ip,
		status: uint16(st), route: uint16(r), fill: rec.Cache == logs.CacheFill, coarse: rec.Coarse,
	})
}

// merged is every worker's events with global ids, grouped by cache key (in
// no particular order within a key: the lineage orders a key's FILLs, the
// only ones whose order matters).
type merged struct {
	keys   *interner       // id <-> key (each part length-prefixed: see appendKeyPart)
	idents *sharedInterner // id <-> identity (0 = anonymous)
	ips    *interner
	events []event
	fills  int // how many of them are FILLs
	// responses counts the FILL and CACHED responses (len(events), unless
	// the SQL lineage brought back only the ones it keeps).
	responses int64
	groups    []int // events[groups[k]:groups[k+1]] belong to key k
	origin    int64
	unknwn    int64
}

// merge remaps the workers' ids to global ones and groups events by key with
// a counting sort.
//
// afterIDs, if set, is called as soon as the global id tables are final
// (before grouping); it must not change them.
func (col *Collector) merge(afterIDs func(m *merged)) *merged {
	// Identities are already global (one table for every worker): the
	// caller may start resolving them at once.
	m := &merged{idents: col.idents}
	if afterIDs != nil {
		afterIDs(m)
	}
	// The first worker's key and address tables become the global ones
	// (its ids stay as they are); the other workers' ids are remapped into
	// them.
	gk, gp := newInterner(), newInterner()
	if len(col.sinks) > 0 {
		s0 := col.sinks[0]
		gk, gp = s0.keys, s0.ips
	}
	maps := make([][2][]uint32, len(col.sinks))
	total := 0
	for _, s := range col.sinks {
		total += s.nEvents
		m.origin += s.origin
		m.unknwn += s.unknown
	}
	// The two id tables are independent: remap them concurrently, each in
	// worker order.
	var wg sync.WaitGroup
	for i, dst := range []*interner{gk, gp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w, s := range col.sinks {
				src := [2]*interner{s.keys, s.ips}[i]
				if src == dst {
					continue // the global table itself: no map, ids unchanged
				}
				mp := make([]uint32, src.len())
				for id := 1; id < src.len(); id++ {
					mp[id] = dst.id(src.bytes(uint32(id)))
				}
				maps[w][i] = mp
			}
		}()
	}
	wg.Wait()
	m.keys, m.ips = gk, gp
	counts := make([]int, m.keys.len()+1)
	for w, s := range col.sinks {
		km := maps[w][0]
		for _, blk := range s.events {
			for i := range blk {
				k := blk[i].key
				if blk[i].fill {
					m.fills++
				}
				if km != nil {
					k = km[k]
				}
				counts[k+1]++
			}
		}
	}
	for k := 1; k < len(counts); k++ {
		counts[k] += counts[k-1]
	}
	m.groups = slices.Clone(counts)
	m.events = make([]event, total)
	m.responses = int64(total)
	for w, s := range col.sinks {
		km, pm := maps[w][0], maps[w][1]
		for j, blk := range s.events {
			if km == nil { // the first worker's: ids unchanged
				for _, e := range blk {
					m.events[counts[e.key]] = e
					counts[e.key]++
				}
			} else {
				for _, e := range blk {
					e.key, e.ip = km[e.key], pm[e.ip]
					m.events[counts[e.key]] = e
					counts[e.key]++
				}
			}
			s.events[j] = nil // free as we go
		}
		s.events = nil
	}
	col.sinks = nil
	return m
}

// appendKeyPart appends one part of a cache key: its length (uvarint), then
// its bytes exactly as logged. A key is the bytes the CDN keyed on, so two
// requests whose raw paths differ never share a lineage, whatever bytes
// they hold: a NUL, a raw 0x93 beside a literal "%93". (Parts joined by a
// separator byte would let a NUL inside one part move bytes into the next.)
func appendKeyPart(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// keyParts splits a key made by appendKeyPart into its parts (n of them).
func keyParts(key []byte, n int) [][]byte {
	parts := make([][]byte, 0, n)
	for len(key) > 0 {
		l, k := binary.Uvarint(key)
		if k <= 0 || l > uint64(len(key)-k) {
			break // cannot happen: keys are only made by appendKeyPart
		}
		parts = append(parts, key[k:k+int(l)])
		key = key[k+int(l):]
	}
	return parts
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
