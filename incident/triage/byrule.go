package triage

import (
	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// RuleSummary is what one exposure rule found (triage JSON "by_rule").
type RuleSummary = correlate.RuleSummary

// cacheRule is the by-rule entry of a run stored before exposure rules
// (its summary has none): every such run was one cache rule's, so its
// totals and top viewers are that rule's.
func cacheRule(t Totals, top []Viewer) RuleSummary {
	return RuleSummary{Name: incident.RuleCache, Kind: incident.RuleCache,
		ExposureEvents: t.ExposureEvents, ConfirmedEvents: t.ConfirmedEvents, PossibleEvents: t.PossibleEvents,
		EmptyEvents: t.EmptyEvents, UnattributedEvents: t.UnattributedEvents, UnresolvedEvents: t.UnresolvedEvents,
		Confirmed: t.Confirmed, Possible: t.Possible, TopViewers: top, Matched: t.PrivateResponses}
}

// ShowByRule reports whether the breakdown by rule says more than the
// totals: the case has several rules, or a rule that is not the cache's.
// A single cache rule's triage reads exactly as before rules existed.
func (s *Summary) ShowByRule() bool {
	if len(s.ByRule) > 1 {
		return true
	}
	for _, r := range s.ByRule {
		if r.Kind != incident.RuleCache {
			return true
		}
	}
	return false
}

// AttackerRule reports whether a rule kind's viewers are the suspected
// attackers (an enumeration, a bucket scraper, the infrastructure behind
// an account takeover) rather than customers shown a page by mistake.
func AttackerRule(kind string) bool {
	return kind == incident.RuleObject || kind == incident.RuleActor
}

// ViewersTitle titles a rule's top viewers.
func ViewersTitle(kind string) string {
	if AttackerRule(kind) {
		return "suspected attackers"
	}
	return "top viewers"
}

// maxRuleViewers is how many viewers of each rule the text and HTML show.
const maxRuleViewers = 10

func (s *Summary) writeByRuleText(p *printer) {
	p.f("\nBy rule\n")
	for _, r := range s.ByRule {
		p.f("  %s (%s)\n", textsafe.Term(r.Name), textsafe.Term(r.Kind))
		p.f("    people     %s confirmed · %s possible\n", group(int64(r.Confirmed)), group(int64(r.Possible)))
		p.f("    events     %s exposure (%s confirmed, %s possible); %s empty, %s unattributed, %s unresolved\n",
			group(r.ExposureEvents), group(r.ConfirmedEvents), group(r.PossibleEvents),
			group(r.EmptyEvents), group(r.UnattributedEvents), group(r.UnresolvedEvents))
		if r.Matched == 0 {
			p.f("    matched    no request: check the rule's routes, range%s\n", map[bool]string{true: " and actors", false: ""}[r.Kind == incident.RuleActor])
		} else {
			p.f("    matched    %s requests\n", group(r.Matched))
		}
		if len(r.TopViewers) > 0 {
			p.f("    %s (distinct people each reached)\n", ViewersTitle(r.Kind))
			for i, v := range r.TopViewers {
				if i == maxRuleViewers {
					p.f("      ... and %d more (--format json lists them)\n", len(r.TopViewers)-maxRuleViewers)
					break
				}
				p.f("      %-28s %5s people, %5s views\n", textsafe.Term(v.Viewer), group(int64(v.People)), group(int64(v.Views)))
			}
		}
	}
}
