package correlate

import (
	"context"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/logs"
)

// actorPart is an actor rule: sessions used from the attacker's
// infrastructure (credential stuffing, account takeover: EXPOSURE-RULES.md
// R5). The infrastructure is what actors lists, and every client address
// with at least login.threshold failed logins in the rule's range. Every
// counted response on the rule's routes to a session of user U from the
// infrastructure exposes U (confirmed, viewer: the address); a successful
// login from it alone makes U possible for login.categories.
type actorPart struct {
	ruleBase
	actors     *parties
	login      *incident.RouteMatcher
	loginRoute uint16 // global route index of login.categories
	success    [600]bool
	failure    [600]bool
	threshold  int
	flagged    []bool // by client address: failed logins reached the threshold (prepare)
}

func newActorPart(c *incident.Case, index int, r *incident.Rule, next *int) (part, error) {
	b, err := newBase(c, index, r, next)
	if err != nil {
		return nil, err
	}
	p := &actorPart{ruleBase: b, actors: newParties(r.Actors)}
	if p.actors == nil {
		p.actors = &parties{}
	}
	if l := r.Login; l != nil {
		if p.login, err = incident.CompileRoute(l.Match); err != nil {
			return nil, err
		}
		for _, s := range l.Success {
			if s >= 0 && s < 600 {
				p.success[s] = true
			}
		}
		for _, s := range l.Failure {
			if s >= 0 && s < 600 {
				p.failure[s] = true
			}
		}
		p.threshold = l.Threshold
		p.loginRoute = uint16(*next)
		p.cats = append(p.cats, l.Categories) // the login "route": after the rule's own
		*next++
	}
	return p, nil
}

func (p *actorPart) take(rec *logs.Record, h *hit, s *hitSink) bool {
	// The path first: most requests are on neither the login route nor
	// the rule's routes, and cost one or two comparisons.
	login := p.login != nil && p.login.MatchBytes(rec.Path)
	r := -1
	if !login {
		if r = p.route(rec.Path); r < 0 || !p.statusOK(rec.Status) || len(rec.Identity) == 0 {
			return false // not a private page, or no session: no account was used
		}
	}
	listed := p.actors.match(rec)
	if !listed && p.threshold == 0 {
		return false // only listed actors count: nothing else to keep
	}
	if listed {
		h.flags |= flagListed
	}
	if !login {
		h.route = uint16(p.routeOff + r)
		return true
	}
	st := rec.Status
	switch {
	case st >= 0 && st < 600 && p.success[st]:
		h.flags |= flagLogin | flagLoginOK
		if len(rec.Subject) > 0 {
			h.ref = s.col.hits.refs.id(rec.Subject)
		} else if len(rec.Identity) == 0 {
			return false // a success that names no account
		}
	case st >= 0 && st < 600 && p.failure[st]:
		h.flags |= flagLogin | flagLoginFail
	default:
		return false
	}
	h.route = p.loginRoute
	return true
}

// prepare finds the addresses that reached the threshold and marks the
// accounts used from the infrastructure as people to read.
func (p *actorPart) prepare(_ context.Context, x *direct, _ Resolver, hits []hit) error {
	if p.threshold > 0 {
		fails := make([]int32, x.col.hits.ips.len())
		for i := range hits {
			if hits[i].flags&flagLoginFail != 0 {
				fails[hits[i].ip]++
			}
		}
		p.flagged = make([]bool, len(fails))
		for ip, n := range fails {
			p.flagged[ip] = ip != 0 && int(n) >= p.threshold // 0: no address logged
		}
	}
	for i := range hits {
		h := &hits[i]
		if p.infra(h) && h.ident != 0 && x.person[h.ident] > 0 {
			x.victims = append(x.victims, x.person[h.ident])
		}
	}
	return nil
}

// infra reports whether a request came from the attacker's infrastructure.
func (p *actorPart) infra(h *hit) bool {
	return h.flags&flagListed != 0 || (p.flagged != nil && p.flagged[h.ip])
}

func (p *actorPart) evaluate(x *direct, hits []hit) {
	for i := range hits {
		h := &hits[i]
		if !p.infra(h) {
			continue
		}
		p.matched++
		code := x.addressCode(h)
		switch {
		case h.flags&flagLoginFail != 0:
			// a failed attempt: nothing of anyone's was shown
		case h.flags&flagLoginOK != 0:
			if h.ref != 0 {
				x.victimAs(h, x.refPerson[h.ref], code, Possible)
			} else {
				x.victimAs(h, x.identPerson(h), code, Possible)
			}
		default:
			x.victimAs(h, x.identPerson(h), code, Confirmed)
		}
	}
}
