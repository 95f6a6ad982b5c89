package correlate

import (
	"context"
	"fmt"
	"slices"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// objectPart is an object rule: the request names the victim (a user id in
// the path, the query or the log's subject) or an object whose owners
// owners_query gives; a counted response to anyone else exposes them
// (enumeration, IDOR, exposed files: EXPOSURE-RULES.md R1, R9). The
// owners of an object are its parties: one of them asking for it exposes
// nobody.
type objectPart struct {
	ruleBase
	sources     []source
	viewers     *parties // nil: every requester but the victim
	ownersQuery string
	objs        *sharedInterner // the objects requests named
	owners      [][]int32       // by objs id: the owners' people (prepare)
}

func newObjectPart(c *incident.Case, index int, r *incident.Rule, next *int) (part, error) {
	b, err := newBase(c, index, r, next)
	if err != nil {
		return nil, err
	}
	p := &objectPart{ruleBase: b, viewers: newParties(r.Viewers), ownersQuery: r.OwnersQuery, objs: newSharedInterner()}
	for i := range r.Routes {
		s, err := newSource(&r.Routes[i])
		if err != nil {
			return nil, fmt.Errorf("exposure.rules[%d].routes[%d]: %w", index, i, err)
		}
		p.sources = append(p.sources, s)
	}
	return p, nil
}

func (p *objectPart) take(rec *logs.Record, h *hit, s *hitSink) bool {
	r := p.route(rec.Path)
	if r < 0 || !p.statusOK(rec.Status) {
		return false
	}
	if p.viewers != nil {
		if !p.viewers.match(rec) {
			return false
		}
		h.flags |= flagListed
	}
	src := &p.sources[r]
	v := src.extract(rec, s)
	if len(v) == 0 {
		return false // the request names nobody
	}
	if src.object {
		h.ref = p.objs.id(v)
		h.flags |= flagObject
	} else {
		h.ref = s.col.hits.refs.id(v)
	}
	h.route = uint16(p.routeOff + r)
	return true
}

func (p *objectPart) evaluate(x *direct, hits []hit) {
	for i := range hits {
		h := &hits[i]
		p.matched++
		if h.flags&flagObject == 0 {
			x.victim(h, x.refPerson[h.ref], x.requesterCode(h))
			continue
		}
		owners := p.owners[h.ref]
		if len(owners) == 0 {
			x.unattributed(h)
			continue
		}
		// An owner asking for their own object is a party to it (a
		// household's shared order, a transaction's documents): no
		// owner's data went to anyone foreign.
		if rp := x.identPerson(h); rp > 0 && slices.Contains(owners, rp) {
			continue
		}
		code := x.requesterCode(h)
		for _, o := range owners {
			x.victim(h, o, code)
		}
	}
}

func (p *objectPart) prepare(ctx context.Context, x *direct, res Resolver, _ []hit) error {
	var err error
	p.owners, err = ownersOf(ctx, x, res, p.objs, p.ownersQuery, p.index)
	return err
}
