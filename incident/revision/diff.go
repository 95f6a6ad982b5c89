package revision

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Changes of a person between two runs, in the order the outputs list them.
const (
	ChangeAdded      = "added"      // affected in the later run only
	ChangeRemoved    = "removed"    // affected in the earlier run only
	ChangeUpgraded   = "upgraded"   // possible -> confirmed
	ChangeDowngraded = "downgraded" // confirmed -> possible
	ChangeCategories = "categories" // same level; categories added, withdrawn, or confirmed/unconfirmed
)

var changeOrder = map[string]int{ChangeAdded: 0, ChangeRemoved: 1, ChangeUpgraded: 2, ChangeDowngraded: 3, ChangeCategories: 4}

// Person is one person whose affected row differs between the two runs.
// Levels are "" for the run the person is not affected in.
type Person struct {
	UserID    string `json:"user_id"`
	Change    string `json:"change"`
	LevelFrom string `json:"level_from"`
	LevelTo   string `json:"level_to"`
	// CategoriesAdded are the categories the later run has and the earlier
	// did not (for an added person: all of theirs); CategoriesWithdrawn the
	// reverse (for a removed person: all they had). Sorted.
	CategoriesAdded     []string `json:"categories_added"`
	CategoriesWithdrawn []string `json:"categories_withdrawn"`
	// CategoriesConfirmed are categories in both runs, possible in the
	// earlier and confirmed in the later; CategoriesUnconfirmed the reverse.
	CategoriesConfirmed   []string `json:"categories_confirmed"`
	CategoriesUnconfirmed []string `json:"categories_unconfirmed"`
	// Grew: affected in both runs and their exposure grew (revision.Grew):
	// a person already told is due an update notice.
	Grew bool `json:"grew"`
}

// Levels counts people by level.
type Levels struct {
	Confirmed int `json:"confirmed"`
	Possible  int `json:"possible"`
	People    int `json:"people"`
}

// Totals are the two runs' people counts and how many people changed how.
type Totals struct {
	From       Levels `json:"from"`
	To         Levels `json:"to"`
	Delta      Levels `json:"delta"`
	Added      int    `json:"added"`
	Removed    int    `json:"removed"`
	Upgraded   int    `json:"upgraded"`
	Downgraded int    `json:"downgraded"`
	// Categories: people whose level stayed and whose categories (or
	// per-category levels) changed.
	Categories int `json:"categories_changed"`
	Unchanged  int `json:"unchanged"`
	Grew       int `json:"grew"`
}

// Count is a number of people in each run and its change.
type Count struct {
	From  int `json:"from"`
	To    int `json:"to"`
	Delta int `json:"delta"`
}

// Diff is what changed from one run's affected accounts to another's.
type Diff struct {
	Case       string           `json:"case"`
	From       int              `json:"from"`
	To         int              `json:"to"`
	Totals     Totals           `json:"totals"`
	People     []Person         `json:"people"`
	ByCategory map[string]Count `json:"by_category"`
	ByRegion   map[string]Count `json:"by_region"`
}

// Compare computes the diff from run `from` (affected accounts a) to run
// `to` (b). People are ordered by change, then by user id (shorter ids
// first, as the affected list orders them).
func Compare(caseID string, from, to int, a, b []store.AffectedAccount) *Diff {
	d := &Diff{Case: caseID, From: from, To: to, People: []Person{}, ByCategory: map[string]Count{}, ByRegion: map[string]Count{}}
	prev := make(map[string]*store.AffectedAccount, len(a))
	for i := range a {
		prev[a[i].UserID] = &a[i]
		tally(&d.Totals.From, a[i].Level)
		count(d.ByCategory, d.ByRegion, &a[i], -1)
	}
	seen := make(map[string]bool, len(b))
	for i := range b {
		cur := &b[i]
		seen[cur.UserID] = true
		tally(&d.Totals.To, cur.Level)
		count(d.ByCategory, d.ByRegion, cur, +1)
		p, ok := prev[cur.UserID]
		if !ok {
			d.People = append(d.People, Person{UserID: cur.UserID, Change: ChangeAdded, LevelTo: cur.Level,
				CategoriesAdded: sorted(cur.Categories), CategoriesWithdrawn: []string{},
				CategoriesConfirmed: []string{}, CategoriesUnconfirmed: []string{}})
			continue
		}
		if pc, changed := compareOne(p, cur); changed {
			d.People = append(d.People, pc)
		} else {
			d.Totals.Unchanged++
		}
	}
	for i := range a {
		if seen[a[i].UserID] {
			continue
		}
		d.People = append(d.People, Person{UserID: a[i].UserID, Change: ChangeRemoved, LevelFrom: a[i].Level,
			CategoriesAdded: []string{}, CategoriesWithdrawn: sorted(a[i].Categories),
			CategoriesConfirmed: []string{}, CategoriesUnconfirmed: []string{}})
	}
	sort.SliceStable(d.People, func(i, j int) bool {
		pi, pj := &d.People[i], &d.People[j]
		if pi.Change != pj.Change {
			return changeOrder[pi.Change] < changeOrder[pj.Change]
		}
		return lessID(pi.UserID, pj.UserID)
	})
	t := &d.Totals
	for _, p := range d.People {
		switch p.Change {
		case ChangeAdded:
			t.Added++
		case ChangeRemoved:
			t.Removed++
		case ChangeUpgraded:
			t.Upgraded++
		case ChangeDowngraded:
			t.Downgraded++
		case ChangeCategories:
			t.Categories++
		}
		if p.Grew {
			t.Grew++
		}
	}
	t.Delta = Levels{Confirmed: t.To.Confirmed - t.From.Confirmed, Possible: t.To.Possible - t.From.Possible, People: t.To.People - t.From.People}
	return d
}

// compareOne describes a person affected in both runs; changed is false
// when nothing of theirs differs.
func compareOne(p, cur *store.AffectedAccount) (Person, bool) {
	pc := Person{UserID: cur.UserID, LevelFrom: p.Level, LevelTo: cur.Level,
		CategoriesAdded: []string{}, CategoriesWithdrawn: []string{}, CategoriesConfirmed: []string{}, CategoriesUnconfirmed: []string{}}
	for _, c := range cur.Categories {
		if !slices.Contains(p.Categories, c) {
			pc.CategoriesAdded = append(pc.CategoriesAdded, c)
		}
	}
	for _, c := range p.Categories {
		if !slices.Contains(cur.Categories, c) {
			pc.CategoriesWithdrawn = append(pc.CategoriesWithdrawn, c)
		}
	}
	pl, cl := categoryLevels(p), categoryLevels(cur)
	for _, c := range cur.Categories {
		if !slices.Contains(p.Categories, c) {
			continue
		}
		switch {
		case pl[c] != "confirmed" && cl[c] == "confirmed":
			pc.CategoriesConfirmed = append(pc.CategoriesConfirmed, c)
		case pl[c] == "confirmed" && cl[c] != "confirmed":
			pc.CategoriesUnconfirmed = append(pc.CategoriesUnconfirmed, c)
		}
	}
	for _, s := range [][]string{pc.CategoriesAdded, pc.CategoriesWithdrawn, pc.CategoriesConfirmed, pc.CategoriesUnconfirmed} {
		slices.Sort(s)
	}
	_, pc.Grew = Grew(p, cur)
	switch {
	case p.Level != "confirmed" && cur.Level == "confirmed":
		pc.Change = ChangeUpgraded
	case p.Level == "confirmed" && cur.Level != "confirmed":
		pc.Change = ChangeDowngraded
	case len(pc.CategoriesAdded)+len(pc.CategoriesWithdrawn)+len(pc.CategoriesConfirmed)+len(pc.CategoriesUnconfirmed) > 0:
		pc.Change = ChangeCategories
	default:
		return pc, false
	}
	return pc, true
}

// categoryLevels decodes a row's per-category levels; a category without
// one (or a row whose value does not decode) takes the row's level.
func categoryLevels(a *store.AffectedAccount) map[string]string {
	m, err := a.Levels()
	if err != nil {
		m = map[string]string{}
	}
	for _, c := range a.Categories {
		if m[c] == "" {
			m[c] = a.Level
		}
	}
	return m
}

func tally(l *Levels, level string) {
	l.People++
	if level == "confirmed" {
		l.Confirmed++
	} else {
		l.Possible++
	}
}

// count adds a person to the per-category and per-region counts of one
// side (-1: from, +1: to). The region key is triage's: the region, else
// the country, else "unknown".
func count(byCat, byRegion map[string]Count, a *store.AffectedAccount, side int) {
	add := func(m map[string]Count, k string) {
		c := m[k]
		if side < 0 {
			c.From++
		} else {
			c.To++
		}
		c.Delta = c.To - c.From
		m[k] = c
	}
	for _, c := range a.Categories {
		add(byCat, c)
	}
	add(byRegion, RegionKey(a))
}

// RegionKey is the key a person is counted under by region: the region,
// else the country, else "unknown" (as triage counts them).
func RegionKey(a *store.AffectedAccount) string {
	switch {
	case a.Region != "":
		return a.Region
	case a.Country != "":
		return a.Country
	}
	return "unknown"
}

func sorted(ss []string) []string {
	out := append([]string{}, ss...)
	slices.Sort(out)
	return out
}

// lessID orders user ids as the affected list does: shorter first, then
// bytewise (numeric ids come out in numeric order).
func lessID(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// DiffColumns are the CSV columns of `breachctl diff --format csv`; the
// last two extend the brief's list with per-category level changes.
var DiffColumns = []string{"user_id", "change", "level_from", "level_to", "categories_added", "categories_withdrawn",
	"categories_confirmed", "categories_unconfirmed"}

// WriteCSV writes one row per changed person.
func (d *Diff) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(DiffColumns); err != nil {
		return err
	}
	for _, p := range d.People {
		rec := []string{p.UserID, p.Change, p.LevelFrom, p.LevelTo, strings.Join(p.CategoriesAdded, ";"), strings.Join(p.CategoriesWithdrawn, ";"),
			strings.Join(p.CategoriesConfirmed, ";"), strings.Join(p.CategoriesUnconfirmed, ";")}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the diff as one indented JSON object.
func (d *Diff) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

// TextOptions say how the text form is shown.
type TextOptions struct {
	// All lists every changed person; otherwise each list stops at
	// ListLimit (default 20).
	All       bool
	ListLimit int
	// Location shows times (default UTC); FromFinished and ToFinished are
	// when the runs finished (zero: not shown).
	Location                 *time.Location
	FromFinished, ToFinished time.Time
}

// DefaultListLimit is how many people each text list shows without --all.
const DefaultListLimit = 20

// WriteText writes the summary a lead reads first, then the lists.
func (d *Diff) WriteText(w io.Writer, o TextOptions) error {
	bw := bufio.NewWriter(w)
	p := func(format string, args ...any) { fmt.Fprintf(bw, format, args...) }
	loc := o.Location
	if loc == nil {
		loc = time.UTC
	}
	limit := o.ListLimit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return " (" + t.In(loc).Format("2006-01-02 15:04 MST") + ")"
	}
	t := d.Totals
	p("%s: run %d%s → run %d%s\n", textsafe.Term(d.Case), d.From, when(o.FromFinished), d.To, when(o.ToFinished))
	p("\nPEOPLE     %s → %s (%s)\n", group(t.From.People), group(t.To.People), signed(t.Delta.People))
	p("           confirmed %s → %s (%s) · possible %s → %s (%s)\n",
		group(t.From.Confirmed), group(t.To.Confirmed), signed(t.Delta.Confirmed),
		group(t.From.Possible), group(t.To.Possible), signed(t.Delta.Possible))
	p("CHANGED    %s added · %s removed · %s upgraded (possible → confirmed) · %s downgraded (confirmed → possible)\n",
		group(t.Added), group(t.Removed), group(t.Upgraded), group(t.Downgraded))
	p("           %s with categories changed at the same level · %s unchanged\n", group(t.Categories), group(t.Unchanged))
	if len(d.People) == 0 {
		p("           no person's exposure differs between the two runs\n")
	}
	p("\nWHAT THIS MEANS FOR NOTICES\n")
	p("  %s added: not in run %d; they need a first notice\n", group(t.Added), d.From)
	p("  %s grew (new categories, possible → confirmed, or a category now confirmed): an update notice if they were told\n", group(t.Grew))
	p("  %s removed: not affected in run %d; never written to automatically — decide (notify send --corrections)\n", group(t.Removed), d.To)
	if n := shrankOnly(d.People); n > 0 {
		p("  %s still affected, with less than before and nothing new (downgraded or categories withdrawn): no update; a correction only if the team decides\n", group(n))
	}

	if len(d.ByCategory) > 0 {
		p("\nBy category (people)  %8s %8s %8s\n", "run "+strconv.Itoa(d.From), "run "+strconv.Itoa(d.To), "change")
		for _, k := range sortedKeys(d.ByCategory) {
			c := d.ByCategory[k]
			p("  %-19s %8s %8s %8s\n", textsafe.Term(k), group(c.From), group(c.To), signed(c.Delta))
		}
	}
	if len(d.ByRegion) > 0 {
		p("\nBy region (people)    %8s %8s %8s\n", "run "+strconv.Itoa(d.From), "run "+strconv.Itoa(d.To), "change")
		for _, k := range sortedKeys(d.ByRegion) {
			c := d.ByRegion[k]
			p("  %-19s %8s %8s %8s\n", textsafe.Term(k), group(c.From), group(c.To), signed(c.Delta))
		}
	}

	lists := []struct {
		change, title string
	}{
		{ChangeAdded, "Added (affected in run %d only)"},
		{ChangeRemoved, "Removed (affected in run %d only)"},
		{ChangeUpgraded, "Upgraded (possible → confirmed)"},
		{ChangeDowngraded, "Downgraded (confirmed → possible)"},
		{ChangeCategories, "Categories changed (level unchanged)"},
	}
	idWidth := 0
	for _, pr := range d.People {
		idWidth = max(idWidth, min(len(textsafe.Term(pr.UserID)), 24))
	}
	capped := false
	for _, l := range lists {
		var ps []Person
		for _, pr := range d.People {
			if pr.Change == l.change {
				ps = append(ps, pr)
			}
		}
		if len(ps) == 0 {
			continue
		}
		title := l.title
		switch l.change {
		case ChangeAdded:
			title = fmt.Sprintf(title, d.To)
		case ChangeRemoved:
			title = fmt.Sprintf(title, d.From)
		}
		p("\n%s: %s\n", title, group(len(ps)))
		for i, pr := range ps {
			if !o.All && i == limit {
				p("  … and %s more\n", group(len(ps)-limit))
				capped = true
				break
			}
			p("  %s\n", personLine(pr, idWidth))
		}
	}
	if capped {
		p("\nEach list stops at %d: --all shows every person (--format csv and json list them all).\n", limit)
	}
	p("\nUser ids only; levels and categories from each run's affected accounts.\n")
	return bw.Flush()
}

// shrankOnly counts the people in both runs whose exposure lessened and
// did not grow in any way.
func shrankOnly(ps []Person) int {
	n := 0
	for _, p := range ps {
		if p.Grew || p.Change == ChangeAdded || p.Change == ChangeRemoved {
			continue
		}
		if p.Change == ChangeDowngraded || len(p.CategoriesWithdrawn) > 0 || len(p.CategoriesUnconfirmed) > 0 {
			n++
		}
	}
	return n
}

// personLine is one person in a text list, the id padded to idWidth.
func personLine(p Person, idWidth int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", idWidth, textsafe.Term(p.UserID))
	switch p.Change {
	case ChangeAdded:
		fmt.Fprintf(&b, "  %-9s  %s", p.LevelTo, strings.Join(textsafe.Terms(p.CategoriesAdded), ", "))
		return b.String()
	case ChangeRemoved:
		fmt.Fprintf(&b, "  was %-9s  %s", p.LevelFrom, strings.Join(textsafe.Terms(p.CategoriesWithdrawn), ", "))
		return b.String()
	case ChangeUpgraded, ChangeDowngraded:
		fmt.Fprintf(&b, "  %s → %s", p.LevelFrom, p.LevelTo)
	default:
		fmt.Fprintf(&b, "  %-9s", p.LevelTo)
	}
	var parts []string
	if len(p.CategoriesAdded) > 0 {
		parts = append(parts, "new: "+strings.Join(textsafe.Terms(p.CategoriesAdded), ", "))
	}
	if len(p.CategoriesWithdrawn) > 0 {
		parts = append(parts, "withdrawn: "+strings.Join(textsafe.Terms(p.CategoriesWithdrawn), ", "))
	}
	if len(p.CategoriesConfirmed) > 0 {
		parts = append(parts, "now confirmed: "+strings.Join(textsafe.Terms(p.CategoriesConfirmed), ", "))
	}
	if len(p.CategoriesUnconfirmed) > 0 {
		parts = append(parts, "now only possible: "+strings.Join(textsafe.Terms(p.CategoriesUnconfirmed), ", "))
	}
	if len(parts) > 0 {
		b.WriteString("  " + strings.Join(parts, "; "))
	}
	return b.String()
}

// sortedKeys orders counts by the later run's people (most first), then
// the earlier's, then by name.
func sortedKeys(m map[string]Count) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := m[keys[i]], m[keys[j]]
		if a.To != b.To {
			return a.To > b.To
		}
		if a.From != b.From {
			return a.From > b.From
		}
		return keys[i] < keys[j]
	})
	return keys
}

// group writes 1234567 as 1,234,567.
func group(n int) string { return incident.Thousands(int64(n)) }

// signed writes a change with its sign: +12, -3, 0.
func signed(n int) string {
	if n > 0 {
		return "+" + group(n)
	}
	return group(n)
}
