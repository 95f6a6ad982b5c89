package triage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Disclosure is one person's exposure, for the support desk ("was I
// affected?"). Other parties appear only as counts, never identities.
type Disclosure struct {
	Case           string            `json:"case"`
	Run            int               `json:"run"`
	UserID         string            `json:"user_id"`
	Affected       bool              `json:"affected"`
	Level          string            `json:"level,omitempty"`
	Categories     []string          `json:"categories"`
	CategoryLevels map[string]string `json:"category_levels,omitempty"`
	Views          int               `json:"views"`
	Viewers        int               `json:"viewers"`
	FirstExposed   *time.Time        `json:"first_exposed"`
	LastExposed    *time.Time        `json:"last_exposed"`
	TimeZone       string            `json:"time_zone"`
	// Rules says how their data was reached: one entry per exposure rule
	// with an exposure event of theirs, in the case file's order.
	Rules []RuleExposure `json:"rules"`
	Pages []PageExposure `json:"pages"`

	loc *time.Location
	// beyondCache: the case (or the person) has a rule that is not a cache
	// rule, so the wording may not assume a cache.
	beyondCache bool
}

// RuleExposure is how one exposure rule reached the person's data.
type RuleExposure struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"` // cache | object | owner | actor; "" when the run does not say
	How       string `json:"how"`
	Confirmed int    `json:"confirmed_events"`
	Possible  int    `json:"possible_events"`
}

// PageExposure summarises one page of theirs, under one rule.
type PageExposure struct {
	Rule       string     `json:"rule"`
	Path       string     `json:"path"`
	Categories []string   `json:"categories"`
	Confirmed  int        `json:"confirmed_views"` // shown to another party
	Possible   int        `json:"possible_views"`  // may have been (ambiguous attribution)
	First      *time.Time `json:"first"`
	Last       *time.Time `json:"last"`
}

// Exposed is what a person's affected row says of them, read once for
// disclose and the self-check API.
type Exposed struct {
	Categories     []string
	CategoryLevels map[string]string // nil when the row has none
	Zone           *time.Location    // the person's own, from country and region
	First, Last    *time.Time
}

// ExposedOf reads an affected row (caseZone when the person's zone is
// unknown).
func ExposedOf(a *store.AffectedAccount, caseZone *time.Location) (Exposed, error) {
	x := Exposed{Categories: a.Categories, Zone: incident.ZoneFor(a.Country, a.Region, caseZone)}
	if len(a.CategoryLevels) > 0 {
		if err := json.Unmarshal(a.CategoryLevels, &x.CategoryLevels); err != nil {
			return x, fmt.Errorf("category levels of user %s: %w", a.UserID, err)
		}
	}
	if a.FirstExposed.Valid {
		t := a.FirstExposed.Time
		x.First = &t
	}
	if a.LastExposed.Valid {
		t := a.LastExposed.Time
		x.Last = &t
	}
	return x, nil
}

// Disclose builds userID's disclosure from a run.
func Disclose(ctx context.Context, st *store.Store, c *incident.Case, run int, userID string) (*Disclosure, error) {
	return DiscloseWith(ctx, st, c, run, userID, nil)
}

// DiscloseWith is Disclose with the run's rule kinds already read (nil:
// read them).
func DiscloseWith(ctx context.Context, st *store.Store, c *incident.Case, run int, userID string, rk *RuleKinds) (*Disclosure, error) {
	d := &Disclosure{Case: c.ID, Run: run, UserID: userID, Categories: []string{}, Rules: []RuleExposure{}, Pages: []PageExposure{},
		loc: c.Location}
	if rk == nil {
		var err error
		if rk, err = ReadRuleKinds(ctx, st, c, run); err != nil {
			return nil, err
		}
	}
	kinds, order := rk.kinds, rk.order
	for _, k := range kinds {
		if k != incident.RuleCache {
			d.beyondCache = true
		}
	}
	a, err := st.GetAffected(ctx, c.ID, run, userID)
	if errors.Is(err, store.ErrNotFound) {
		d.TimeZone = c.Location.String()
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	d.Affected, d.Level, d.Views, d.Viewers = true, a.Level, a.Views, a.Viewers
	x, err := ExposedOf(a, c.Location)
	if err != nil {
		return nil, err
	}
	d.Categories, d.CategoryLevels, d.FirstExposed, d.LastExposed = x.Categories, x.CategoryLevels, x.First, x.Last
	d.loc, d.TimeZone = x.Zone, x.Zone.String()
	vps, err := st.VictimPages(ctx, c.ID, run, userID)
	if err != nil {
		return nil, err
	}
	type pageKey struct{ rule, path string }
	pages := map[pageKey]*PageExposure{}
	rules := map[string]*RuleExposure{}
	ruleOf := func(rule string) *RuleExposure {
		if rule == "" {
			rule = store.DefaultRule
		}
		r := rules[rule]
		if r == nil {
			kind := kinds[rule]
			if kind != incident.RuleCache {
				d.beyondCache = true
			}
			r = &RuleExposure{Name: rule, Kind: kind}
			rules[rule] = r
		}
		return r
	}
	// Every rule that found them, also one without an exposure event (a
	// page stored in the cache and never served).
	for _, rule := range a.Rules {
		ruleOf(rule)
	}
	for _, vp := range vps {
		r := ruleOf(vp.Rule)
		k := pageKey{r.Name, vp.Path}
		p := pages[k]
		first, last := vp.First, vp.Last
		if p == nil {
			p = &PageExposure{Rule: r.Name, Path: vp.Path, Categories: []string(vp.Categories), First: &first, Last: &last}
			pages[k] = p
		} else {
			// "" and the default rule's name are one rule.
			if first.Before(*p.First) {
				p.First, p.Categories = &first, []string(vp.Categories)
			}
			if last.After(*p.Last) {
				p.Last = &last
			}
		}
		p.Confirmed += vp.Confirmed
		p.Possible += vp.Possible
		r.Confirmed += vp.Confirmed
		r.Possible += vp.Possible
	}
	for _, p := range pages {
		d.Pages = append(d.Pages, *p)
	}
	rank := func(rule string) int {
		if i, ok := order[rule]; ok {
			return i
		}
		return len(order)
	}
	for _, r := range rules {
		r.How = How(r.Kind, r.Confirmed, r.Possible)
		d.Rules = append(d.Rules, *r)
	}
	sort.Slice(d.Rules, func(i, j int) bool {
		if ri, rj := rank(d.Rules[i].Name), rank(d.Rules[j].Name); ri != rj {
			return ri < rj
		}
		return d.Rules[i].Name < d.Rules[j].Name
	})
	sort.Slice(d.Pages, func(i, j int) bool {
		pi, pj := d.Pages[i], d.Pages[j]
		if ri, rj := rank(pi.Rule), rank(pj.Rule); ri != rj {
			return ri < rj
		}
		if pi.Rule != pj.Rule {
			return pi.Rule < pj.Rule
		}
		return pi.Path < pj.Path
	})
	return d, nil
}

// ruleKinds maps the run's rule names to their kinds, and to their place in
// the case file's order: from the run's summary (what the run was ingested
// with), else from the case file; a run stored before rules existed is the
// cache rule's.
// RuleKinds are a completed run's exposure rules: each one's kind and its
// place in the case file's order. A done run's never change, so a caller
// answering many lookups reads them once (ReadRuleKinds) and passes them to
// DiscloseWith.
type RuleKinds struct {
	kinds map[string]string
	order map[string]int
}

// ReadRuleKinds reads a completed run's rule kinds.
func ReadRuleKinds(ctx context.Context, st *store.Store, c *incident.Case, run int) (*RuleKinds, error) {
	kinds, order, err := ruleKinds(ctx, st, c, run)
	if err != nil {
		return nil, err
	}
	return &RuleKinds{kinds, order}, nil
}

func ruleKinds(ctx context.Context, st *store.Store, c *incident.Case, run int) (map[string]string, map[string]int, error) {
	kinds, order := map[string]string{}, map[string]int{}
	add := func(name, kind string) {
		if _, ok := kinds[name]; !ok {
			kinds[name], order[name] = kind, len(order)
		}
	}
	r, err := st.DoneRun(ctx, c.ID, run)
	if err != nil {
		return nil, nil, err
	}
	var sum struct {
		Rules []RuleSummary `json:"rules"`
	}
	if len(r.SummaryJSON) > 0 {
		if err := json.Unmarshal(r.SummaryJSON, &sum); err != nil {
			return nil, nil, fmt.Errorf("run %d summary: %w", run, err)
		}
	}
	for _, rs := range sum.Rules {
		add(rs.Name, rs.Kind)
	}
	if len(sum.Rules) == 0 {
		// Stored before rules: the run was one cache rule's.
		add(store.DefaultRule, incident.RuleCache)
	}
	for _, rule := range c.Exposure.Rules {
		add(rule.Name, rule.Kind)
	}
	return kinds, order, nil
}

// How says, in a line, how a rule of kind reached a person's data, given
// their confirmed and possible events under it.
func How(kind string, confirmed, possible int) string {
	switch kind {
	case incident.RuleCache:
		if confirmed == 0 {
			return "their page was stored in the CDN cache; no view by another customer is proven"
		}
		return "their page was served from the CDN cache to another customer"
	case incident.RuleObject:
		if confirmed == 0 {
			return "a request naming their account or one of their objects was answered to a requester who was not signed in (possible)"
		}
		return "a request naming their account or one of their objects was answered to someone else"
	case incident.RuleOwner:
		if confirmed == 0 {
			return "a response carrying their data was sent to a requester who was not signed in (possible)"
		}
		return "a response carrying their data was sent to another user's session"
	case incident.RuleActor:
		switch {
		case confirmed == 0:
			return "their account was used from the attacker's infrastructure (login only: possible)"
		case possible > 0:
			return "their account was used from the attacker's infrastructure (pages viewed: confirmed; login only: possible)"
		}
		return "their account was used from the attacker's infrastructure"
	}
	return "an exposure rule the case file no longer names"
}

// WriteJSON writes the disclosure as JSON.
func (d *Disclosure) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// WriteText writes the disclosure for a support agent.
func (d *Disclosure) WriteText(w io.Writer) error {
	p := &printer{w: w}
	if !d.Affected {
		if !d.beyondCache {
			p.f("User %s is NOT affected in case %s (run %d): no page of theirs was stored in or served from the cache.\n", textsafe.Term(d.UserID), textsafe.Term(d.Case), d.Run)
		} else {
			p.f("User %s is NOT affected in case %s (run %d): no exposure rule of the case found their data.\n", textsafe.Term(d.UserID), textsafe.Term(d.Case), d.Run)
		}
		return p.err
	}
	loc := d.loc
	p.f("User %s IS affected in case %s (run %d): %s\n", textsafe.Term(d.UserID), textsafe.Term(d.Case), d.Run, textsafe.Term(d.Level))
	var conf, poss []string
	for _, c := range d.Categories {
		if d.CategoryLevels[c] == "confirmed" {
			conf = append(conf, c)
		} else {
			poss = append(poss, c)
		}
	}
	if len(conf) > 0 {
		p.f("  shown to other parties:    %s\n", strings.Join(textsafe.Terms(conf), ", "))
	}
	if len(poss) > 0 {
		p.f("  possibly exposed:          %s\n", strings.Join(textsafe.Terms(poss), ", "))
	}
	if d.Views > 0 {
		p.f("  shown %d time(s) to %d other part%s, %s – %s (%s)\n", d.Views, d.Viewers, plural(d.Viewers, "y", "ies"),
			d.FirstExposed.In(loc).Format("2006-01-02 15:04:05"), d.LastExposed.In(loc).Format("2006-01-02 15:04:05"), loc)
	} else if !d.beyondCache {
		p.f("  no view by another party is proven: their page was stored in the cache, or the attribution is ambiguous\n")
	} else {
		p.f("  no view by another party is proven (how their data was reached, below)\n")
	}
	if len(d.Rules) > 0 {
		p.f("  how their data was reached:\n")
		for _, r := range d.Rules {
			kind := r.Kind
			if kind == "" {
				kind = "?"
			}
			p.f("    %s (%s): %s; %d confirmed, %d possible event(s)\n", textsafe.Term(r.Name), textsafe.Term(kind), r.How, r.Confirmed, r.Possible)
		}
	}
	// Each page is named with its rule: "[rule] path", padded as one column.
	width := 0
	for _, pg := range d.Pages {
		width = max(width, utf8.RuneCountInString(pageLabel(pg)))
	}
	for _, pg := range d.Pages {
		label := pageLabel(pg)
		p.f("  %s%s %s: %d confirmed, %d possible view(s), %s – %s\n", label, strings.Repeat(" ", max(width, 31)-utf8.RuneCountInString(label)),
			strings.Join(textsafe.Terms(pg.Categories), ", "), pg.Confirmed, pg.Possible,
			pg.First.In(loc).Format("15:04:05"), pg.Last.In(loc).Format("15:04:05"))
	}
	return p.err
}

// pageLabel is a page with its rule, escaped: "[rule] path".
func pageLabel(pg PageExposure) string {
	return "[" + textsafe.Term(pg.Rule) + "] " + textsafe.Term(pg.Path)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
