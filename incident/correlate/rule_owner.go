package correlate

import (
	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// ownerPart is an owner rule: the log names whose data each response
// carried (logs[].subject, an upstream header such as X-User-Id); a
// response carrying one person's data to another party exposes them
// (cross-wired responses: EXPOSURE-RULES.md R8).
type ownerPart struct {
	ruleBase
}

func newOwnerPart(c *incident.Case, index int, r *incident.Rule, next *int) (part, error) {
	b, err := newBase(c, index, r, next)
	if err != nil {
		return nil, err
	}
	return &ownerPart{ruleBase: b}, nil
}

func (p *ownerPart) take(rec *logs.Record, h *hit, s *hitSink) bool {
	if len(rec.Subject) == 0 {
		return false // the response carried nobody's data, as logged
	}
	r := p.route(rec.Path)
	if r < 0 || !p.statusOK(rec.Status) {
		return false
	}
	h.ref = s.col.hits.refs.id(rec.Subject)
	h.route = uint16(p.routeOff + r)
	return true
}

func (p *ownerPart) evaluate(x *direct, hits []hit) {
	for i := range hits {
		h := &hits[i]
		p.matched++
		x.victim(h, x.refPerson[h.ref], x.requesterCode(h))
	}
}
