package report

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
)

// Affected levels (DESIGN.md "Affected levels").
const (
	levelConfirmed = "confirmed"
	levelPossible  = "possible"
)

// tally counts people in one scope: a set of affected accounts chosen by
// residence or by data category. Every count is of people (accounts), never
// of events.
type tally struct {
	People, Confirmed, Possible int
	// ByCategory: people with the category exposed (any level), and of them
	// those whose exposure of that category is confirmed.
	ByCategory          map[incident.Category]int
	ConfirmedByCategory map[incident.Category]int
	ByRegion            map[string]int // region, else country, else "unknown"
	Views               int            // confirmed exposure events of these people
	First, Last         time.Time      // observed exposure, zero when none
}

// tallyOf counts the accounts keep accepts (nil: all).
func tallyOf(aff []store.AffectedAccount, keep func(a *store.AffectedAccount) bool) tally {
	t := tally{ByCategory: map[incident.Category]int{}, ConfirmedByCategory: map[incident.Category]int{}, ByRegion: map[string]int{}}
	for i := range aff {
		a := &aff[i]
		if keep != nil && !keep(a) {
			continue
		}
		t.People++
		if a.Level == levelConfirmed {
			t.Confirmed++
		} else {
			t.Possible++
		}
		levels := categoryLevels(a)
		for _, c := range a.Categories {
			cat := incident.Category(c)
			t.ByCategory[cat]++
			if levels[cat] == levelConfirmed {
				t.ConfirmedByCategory[cat]++
			}
		}
		t.ByRegion[regionKey(a)]++
		t.Views += a.Views
		if a.FirstExposed.Valid && (t.First.IsZero() || a.FirstExposed.Time.Before(t.First)) {
			t.First = a.FirstExposed.Time
		}
		if a.LastExposed.Valid && a.LastExposed.Time.After(t.Last) {
			t.Last = a.LastExposed.Time
		}
	}
	return t
}

// categoryLevels decodes an account's per-category levels; without them
// every category takes the account's level.
func categoryLevels(a *store.AffectedAccount) map[incident.Category]string {
	m := map[incident.Category]string{}
	if len(a.CategoryLevels) > 0 {
		_ = json.Unmarshal(a.CategoryLevels, &m) // a bad value falls back below
	}
	for _, c := range a.Categories {
		if m[incident.Category(c)] == "" {
			m[incident.Category(c)] = a.Level
		}
	}
	return m
}

// Records is the number of (person, category) pairs: the "approximate number
// of personal data records" of GDPR Art. 33(3)(a).
func (t tally) Records() int {
	n := 0
	for _, v := range t.ByCategory {
		n += v
	}
	return n
}

// has reports whether any person in the tally has a category with the trait.
func (t tally) has(trait func(incident.CategoryInfo) bool) []incident.Category {
	var out []incident.Category
	for _, c := range sortedCategories(t.ByCategory) {
		if trait(c.Info()) {
			out = append(out, c)
		}
	}
	return out
}

// sortedCategories lists the categories of m in vocabulary order.
func sortedCategories(m map[incident.Category]int) []incident.Category {
	out := make([]incident.Category, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := incident.CategoryRank(out[i]), incident.CategoryRank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

type keyCount struct {
	Key   string
	Count int
}

// sortedCounts orders a map by count (largest first), then key.
func sortedCounts(m map[string]int) []keyCount {
	out := make([]keyCount, 0, len(m))
	for k, v := range m {
		out = append(out, keyCount{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// countryOf is the account's ISO 3166-1 country, upper case; taken from the
// region's prefix when the country column is empty.
func countryOf(a *store.AffectedAccount) string {
	c := strings.ToUpper(strings.TrimSpace(a.Country))
	if c == "" {
		if r := regionOf(a); len(r) > 3 && r[2] == '-' {
			c = r[:2]
		}
	}
	return c
}

// regionOf is the account's ISO 3166-2 region, upper case.
func regionOf(a *store.AffectedAccount) string {
	return strings.ToUpper(strings.TrimSpace(a.Region))
}

// regionKey is the by_region key, as in triage: region, else country, else
// "unknown".
func regionKey(a *store.AffectedAccount) string {
	if r := strings.TrimSpace(a.Region); r != "" {
		return r
	}
	if c := strings.TrimSpace(a.Country); c != "" {
		return c
	}
	return "unknown"
}

// dayClock is the end of a period of n calendar days that counts the day of
// from (in loc) as day 1: 00:00 of the day after day n. It is never later
// than from + n×24h, nor than the end of day n under the rule that leaves
// the first day out (Japanese Civil Code Art. 140, most US statutes), so a
// deadline computed with it holds under either reading.
func dayClock(from time.Time, n int, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	f := from.In(loc)
	return time.Date(f.Year(), f.Month(), f.Day()+n, 0, 0, 0, 0, loc)
}

var tokyo = mustLoad("Asia/Tokyo")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name) // time/tzdata is linked in by package incident
	if err != nil {
		panic(err)
	}
	return loc
}

// caseLoc is the case's time zone (UTC when unset).
func caseLoc(c *incident.Case) *time.Location {
	if c == nil || c.Location == nil {
		return time.UTC
	}
	return c.Location
}
