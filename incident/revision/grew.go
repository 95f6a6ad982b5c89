// Package revision compares the runs of a case: who was added, removed or
// moved between levels, and whose exposure grew since they were told.
package revision

import (
	"slices"

	"github.com/breachctl/breachctl/incident/store"
)

// Growth is how a person's exposure grew from what an earlier run said
// (prev) to what a later one says (cur).
type Growth struct {
	// NewCategories are categories cur has and prev did not, sorted.
	NewCategories []string
	// Upgraded: prev was possible and cur is confirmed.
	Upgraded bool
	// NewlyConfirmed are categories that were possible in prev (or absent)
	// and are confirmed in cur, sorted (from category_levels; empty when
	// the rows carry none).
	NewlyConfirmed []string
}

// Grew reports whether cur shows more of the person exposed than prev did:
// a category prev did not have, the person confirmed where prev had them
// possible, or a category confirmed that prev called possible (they were
// told it may have been seen; now it was). A person whose exposure shrank or stayed the same did not grow
// (they get no update notice; a shrink is a diff, and a correction only
// when asked).
func Grew(prev, cur *store.AffectedAccount) (Growth, bool) {
	var g Growth
	for _, c := range cur.Categories {
		if !slices.Contains(prev.Categories, c) {
			g.NewCategories = append(g.NewCategories, c)
		}
	}
	slices.Sort(g.NewCategories)
	g.Upgraded = prev.Level == "possible" && cur.Level == "confirmed"
	pl, _ := prev.Levels()
	cl, _ := cur.Levels()
	for c, l := range cl {
		if l == "confirmed" && pl[c] != "confirmed" {
			g.NewlyConfirmed = append(g.NewlyConfirmed, c)
		}
	}
	slices.Sort(g.NewlyConfirmed)
	return g, len(g.NewCategories) > 0 || g.Upgraded || len(g.NewlyConfirmed) > 0
}
