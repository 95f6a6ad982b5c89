package triage

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"time"

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
	Pages          []PageExposure    `json:"pages"`

	loc *time.Location
}

// PageExposure summarises one page of theirs.
type PageExposure struct {
	Path       string     `json:"path"`
	Categories []string   `json:"categories"`
	Confirmed  int        `json:"confirmed_views"` // shown to another party
	Possible   int        `json:"possible_views"`  // may have been (ambiguous attribution)
	First      *time.Time `json:"first"`
	Last       *time.Time `json:"last"`
}

// Disclose builds userID's disclosure from a run.
func Disclose(ctx context.Context, st *store.Store, c *incident.Case, run int, userID string) (*Disclosure, error) {
	d := &Disclosure{Case: c.ID, Run: run, UserID: userID, Categories: []string{}, Pages: []PageExposure{}, loc: c.Location}
	a, err := st.GetAffected(ctx, c.ID, run, userID)
	if errors.Is(err, store.ErrNotFound) {
		d.TimeZone = c.Location.String()
		return d, nil
	}
	if err != nil {
		return nil, err
	}
	d.Affected, d.Level, d.Views, d.Viewers = true, a.Level, a.Views, a.Viewers
	d.Categories = a.Categories
	if len(a.CategoryLevels) > 0 {
		_ = json.Unmarshal(a.CategoryLevels, &d.CategoryLevels)
	}
	d.loc = incident.ZoneFor(a.Country, a.Region, c.Location)
	d.TimeZone = d.loc.String()
	if a.FirstExposed.Valid {
		t := a.FirstExposed.Time
		d.FirstExposed = &t
	}
	if a.LastExposed.Valid {
		t := a.LastExposed.Time
		d.LastExposed = &t
	}
	evs, err := st.VictimEvents(ctx, c.ID, run, userID)
	if err != nil {
		return nil, err
	}
	pages := map[string]*PageExposure{}
	for _, e := range evs {
		if e.Kind != "exposure" {
			continue
		}
		p := pages[e.Path]
		if p == nil {
			p = &PageExposure{Path: e.Path, Categories: e.Categories}
			pages[e.Path] = p
		}
		if e.Level.String == "confirmed" {
			p.Confirmed++
		} else {
			p.Possible++
		}
		t := e.At
		if p.First == nil || t.Before(*p.First) {
			p.First = &t
		}
		if p.Last == nil || t.After(*p.Last) {
			tt := t
			p.Last = &tt
		}
	}
	for _, p := range pages {
		d.Pages = append(d.Pages, *p)
	}
	sort.Slice(d.Pages, func(i, j int) bool { return d.Pages[i].Path < d.Pages[j].Path })
	return d, nil
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
		p.f("User %s is NOT affected in case %s (run %d): no page of theirs was stored in or served from the cache.\n", textsafe.Term(d.UserID), textsafe.Term(d.Case), d.Run)
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
	} else {
		p.f("  no view by another party is proven: their page was stored in the cache, or the attribution is ambiguous\n")
	}
	for _, pg := range d.Pages {
		p.f("  %-24s %s: %d confirmed, %d possible view(s), %s – %s\n", textsafe.Term(pg.Path), strings.Join(textsafe.Terms(pg.Categories), ", "), pg.Confirmed, pg.Possible,
			pg.First.In(loc).Format("15:04:05"), pg.Last.In(loc).Format("15:04:05"))
	}
	return p.err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
