package correlate

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident/logs"
)

// direct is what the parts share while they turn their hits into events:
// the people the requests name, the evaluator that stores events, and the
// tables that name viewers and requests.
type direct struct {
	col *Collector
	ev  *evaluator
	// refPerson[id] is the person of user id hitTables.refs id (0: none).
	refPerson []int32
	// victims are the people the parts may name: their records are read.
	victims []int32
	// ipMap maps hitTables.ips ids to the lineage's address table.
	ipMap   []uint32
	keyBase uint32 // names.keys index of hitTables.keys id 0
	rule    uint8  // the rule being evaluated

	// person[ident] as numbered before the records are read (prepare).
	person []int32

	unresolvedRefs int
	personFor      func(userID string) int32
}

// preparer is a part with work to do once the people are numbered and
// before the user records are read (owners_query, thresholds).
type preparer interface {
	prepare(ctx context.Context, x *direct, res Resolver, hits []hit) error
}

// usableID reports whether an id the logs named can be looked up: text
// that PostgreSQL can hold (valid UTF-8, no NUL). Others name nobody.
func usableID(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

// prepareDirect numbers the people the parts' requests name (user ids in
// requests and subjects, objects' owners), after those userIDs already
// holds, and runs each part's prepare.
func (col *Collector) prepareDirect(ctx context.Context, res Resolver, hitsByPart [][]hit, person []int32, userIDs *[]string) (*direct, error) {
	x := &direct{col: col}
	idx := make(map[string]int32, len(*userIDs))
	for i, u := range *userIDs {
		idx[u] = int32(i + 1)
	}
	x.personFor = func(u string) int32 {
		if p, ok := idx[u]; ok {
			return p
		}
		*userIDs = append(*userIDs, u)
		p := int32(len(*userIDs))
		idx[u] = p
		return p
	}
	n := col.hits.refs.len()
	x.refPerson = make([]int32, n)
	for id := 1; id < n; id++ {
		if b := col.hits.refs.bytes(uint32(id)); b != nil && usableID(b) {
			p := x.personFor(string(b))
			x.refPerson[id] = p
			x.victims = append(x.victims, p)
		}
	}
	x.person = person
	for i, p := range col.parts {
		if pp, ok := p.(preparer); ok {
			if err := pp.prepare(ctx, x, res, hitsByPart[i]); err != nil {
				return nil, err
			}
		}
	}
	return x, nil
}

// unresolve counts the user ids named by requests that users_query does
// not know (their events are unresolved).
func (x *direct) unresolve(records []*UserRecord) {
	for _, p := range x.refPerson {
		if p > 0 && records[p] == nil {
			x.unresolvedRefs++
		}
	}
}

// adopt joins the hits' addresses to the lineage's table and their
// requests to the keys, before the evaluator sizes its viewer tables.
func (x *direct) adopt(ev *evaluator) {
	x.ev = ev
	ips := x.col.hits.ips
	x.ipMap = make([]uint32, ips.len())
	for id := 1; id < len(x.ipMap); id++ {
		if b := ips.bytes(uint32(id)); b != nil {
			x.ipMap[id] = ev.m.ips.id(b)
		}
	}
	nm := ev.names
	x.keyBase = uint32(len(nm.keys))
	keys := x.col.hits.keys
	for id := 0; id < keys.len(); id++ {
		var ki keyInfo
		if b := keys.bytes(uint32(id)); b != nil {
			raw := keyParts(b, len(hitKeyParts))
			parts := make([]string, len(raw))
			for i, p := range raw {
				parts[i] = logs.Text(p)
			}
			ki = keyInfo{pop: parts[0], readable: readableKey(hitKeyParts, parts), path: pathOf(hitKeyParts, parts)}
		}
		nm.keys = append(nm.keys, ki)
	}
	nm.ips = make([]string, ev.m.ips.len())
}

// identPerson is the person of the request's identity (0: anonymous or
// resolving to nobody).
func (x *direct) identPerson(h *hit) int32 {
	if h.ident == 0 {
		return 0
	}
	return x.ev.person[h.ident]
}

// requesterCode names the party a response went to: the requester's user,
// their identity, or their address.
func (x *direct) requesterCode(h *hit) uint64 {
	if h.ident != 0 {
		if p := x.ev.person[h.ident]; p > 0 {
			return 1<<32 | uint64(p)
		}
		return 2<<32 | uint64(h.ident)
	}
	return x.addressCode(h)
}

// addressCode names the request's client address.
func (x *direct) addressCode(h *hit) uint64 { return 3<<32 | uint64(x.ipMap[h.ip]) }

// victim records that a response showed person p's data to the party
// code: nothing when the requester is p; confirmed when the requester is
// another user, or a listed party; possible when the requester is
// anonymous or resolves to nobody (it might be p).
func (x *direct) victim(h *hit, p int32, code uint64) {
	rp := x.identPerson(h)
	if p > 0 && rp == p {
		return // their own data
	}
	level := Possible
	if rp > 0 || h.flags&flagListed != 0 {
		level = Confirmed
	}
	x.victimAs(h, p, code, level)
}

// victimAs records an event of person p at level (p 0, or without a user
// record: an unresolved event).
func (x *direct) victimAs(h *hit, p int32, code uint64, level string) {
	ev := x.ev
	b := x.base(h, code)
	if p <= 0 || ev.records[p] == nil {
		_, b.cats = ev.onFile(0, h.route)
		b.kind, b.level = kUnresolved, levelCode(level)
		ev.events = append(ev.events, b)
		ev.counts.UnresolvedEvents++
		return
	}
	ev.addPersonEvent(b, p, level, h.route)
}

// unattributed records a request for an object nobody owns.
func (x *direct) unattributed(h *hit) {
	b := x.base(h, x.requesterCode(h))
	b.kind = kUnattributed
	x.ev.events = append(x.ev.events, b)
	x.ev.counts.UnattributedEvents++
}

func (x *direct) base(h *hit, code uint64) cEvent {
	x.ev.used[code>>32][uint32(code)] = true
	return cEvent{at: h.t, key: x.keyBase + h.key, status: int16(h.status), viewer: code, file: h.file + 1, line: h.line, rule: x.rule}
}

// ownersOf runs owners_query over every object a part's requests named.
func ownersOf(ctx context.Context, x *direct, res Resolver, objs *sharedInterner, query string, rule int) ([][]int32, error) {
	n := objs.len()
	owners := make([][]int32, n)
	var ids []string
	for id := 1; id < n; id++ {
		if b := objs.bytes(uint32(id)); b != nil && usableID(b) {
			ids = append(ids, string(b))
		}
	}
	if len(ids) == 0 {
		return owners, nil
	}
	or, ok := res.(OwnerResolver)
	if !ok {
		return nil, fmt.Errorf("exposure.rules[%d].owners_query: this resolver cannot run owners queries", rule)
	}
	found, err := or.Owners(ctx, query, ids)
	if err != nil {
		return nil, queryErr(fmt.Sprintf("exposure.rules[%d].owners_query", rule), err)
	}
	for id := 1; id < n; id++ {
		b := objs.bytes(uint32(id))
		if b == nil {
			continue
		}
		for _, u := range found[string(b)] {
			p := x.personFor(u)
			owners[id] = append(owners[id], p)
			x.victims = append(x.victims, p)
		}
	}
	return owners, nil
}
