package correlate

import (
	"slices"

	"github.com/breachctl/breachctl/incident"
)

// ruleList names the rules of a bit set (acc.rules), in the case file's
// order; one shared slice per set (a million people share a handful).
func (ev *evaluator) ruleList(mask uint64) []string {
	if l, ok := ev.ruleLists[mask]; ok {
		return l
	}
	var l []string
	for i, n := range ev.names.rules {
		if mask&(1<<uint(i)) != 0 {
			l = append(l, n)
		}
	}
	slices.Sort(l)
	if ev.ruleLists == nil {
		ev.ruleLists = map[uint64][]string{}
	}
	ev.ruleLists[mask] = l
	return l
}

// ruleSummaries breaks the result down by rule. A case whose one rule is
// the cache rule is its totals; otherwise one pass over the events, by
// rule. A cache rule's top viewers are those its confirmed events went to
// (as the totals'); another rule's are every party its exposure events
// went to, confirmed or possible — the suspected attackers.
func (ev *evaluator) ruleSummaries(out *Result) []RuleSummary {
	names, kinds := ev.names.rules, ev.ruleKinds
	sums := make([]RuleSummary, len(names))
	for i := range sums {
		sums[i] = RuleSummary{Name: names[i], Kind: kinds[i], TopViewers: []Viewer{}}
	}
	if len(sums) == 1 && kinds[0] == incident.RuleCache {
		s := &sums[0]
		c := &out.Counts
		s.ExposureEvents, s.ConfirmedEvents, s.PossibleEvents = c.ExposureEvents, c.ConfirmedEvents, c.PossibleEvents
		s.EmptyEvents, s.UnattributedEvents, s.UnresolvedEvents = c.EmptyEvents, c.UnattributedEvents, c.UnresolvedEvents
		s.Confirmed, s.Possible = c.Confirmed, c.Possible
		if out.TopViewers != nil {
			s.TopViewers = out.TopViewers
		}
		return sums
	}
	// level[rule][person]: 1 confirmed, 2 possible.
	level := make([][]uint8, len(sums))
	pairs := make([][]uint64, len(sums))
	for i := range level {
		level[i] = make([]uint8, len(ev.userIDs)+1)
	}
	for i := range out.events {
		e := &out.events[i]
		s := &sums[e.rule]
		switch e.kind {
		case kEmpty:
			s.EmptyEvents++
		case kUnattributed:
			s.UnattributedEvents++
		case kUnresolved:
			s.UnresolvedEvents++
		case kExposure:
			s.ExposureEvents++
			if e.level == 1 {
				s.ConfirmedEvents++
				level[e.rule][e.victim] = 1
				pairs[e.rule] = append(pairs[e.rule], viewerPair(e.victim, e.viewer))
			} else {
				s.PossibleEvents++
				if level[e.rule][e.victim] == 0 {
					level[e.rule][e.victim] = 2
				}
				// Outside the cache, a possible event's viewer is
				// certain (what is not proven is that it was not the
				// person): it is a suspect too.
				if kinds[e.rule] != incident.RuleCache {
					pairs[e.rule] = append(pairs[e.rule], viewerPair(e.victim, e.viewer))
				}
			}
		}
	}
	// People a rule found with no event (the cache rule's stored pages).
	for p, ai := range ev.accOf {
		if ai == 0 {
			continue
		}
		a := &ev.accs[ai-1]
		if a.confirmedCats == 0 && a.otherCats == 0 {
			continue
		}
		for r := range sums {
			if a.rules&(1<<uint(r)) != 0 && level[r][p] == 0 {
				level[r][p] = 2
			}
		}
	}
	for r := range sums {
		for _, l := range level[r] {
			switch l {
			case 1:
				sums[r].Confirmed++
			case 2:
				sums[r].Possible++
			}
		}
		ps := pairs[r]
		slices.Sort(ps)
		stats := map[uint64]vstat{}
		for i, vp := range ps {
			viewer := vp & (1<<34 - 1)
			vs := stats[viewer]
			vs.views++
			if i == 0 || vp != ps[i-1] {
				vs.people++
			}
			stats[viewer] = vs
		}
		top := topViewers(func(yield func(uint64, vstat) bool) {
			for code, vs := range stats {
				if !yield(code, vs) {
					return
				}
			}
		}, ev.names.viewerName)
		if top != nil {
			sums[r].TopViewers = top
		}
	}
	return sums
}
