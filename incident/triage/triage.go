// Package triage builds the summary a security lead reads first, from the
// latest ingest run of a case, as text, JSON (DESIGN.md's contract) or HTML.
package triage

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/textsafe"
)

// Summary is `breachctl triage --format json`.
type Summary struct {
	Case       string         `json:"case"`
	Title      string         `json:"title"`
	Run        int            `json:"run"`
	Window     Window         `json:"window"`
	Observed   Observed       `json:"observed"`
	Evidence   []Evidence     `json:"evidence"`
	Totals     Totals         `json:"totals"`
	Affected   Affected       `json:"affected"`
	ByCategory map[string]int `json:"by_category"`
	ByRegion   map[string]int `json:"by_region"`
	TopViewers []Viewer       `json:"top_viewers"`
	// Extensions.
	ByCountry  map[string]int   `json:"by_country"`
	Timeline   []TimelineBucket `json:"timeline"`
	Unresolved Unresolved       `json:"unresolved"`
	// Refused: people whose user record was refused (two rows for one id,
	// bytes that are not UTF-8, a session given to several users), by user
	// id with the reason. They are among the unresolved owners: no notice.
	Refused  []Refusal  `json:"refused"`
	Ingested *time.Time `json:"ingested_at"`
	// ByRule breaks events and people down by exposure rule, in the case
	// file's order; always present (a cache-only case has one entry).
	ByRule []RuleSummary `json:"by_rule"`

	location *time.Location
}

// TimelineBucket counts exposure events in a 10-minute bucket.
type TimelineBucket = correlate.TimelineBucket

// Unresolved counts identities that match no user record.
type Unresolved struct {
	Owners  int `json:"owners"`  // their page was stored or shown: they cannot be notified
	Viewers int `json:"viewers"` // shown someone's page; named by a hash only
}

// Refusal is a person whose user record was refused, and why.
type Refusal = correlate.Refusal

// Window is the declared exposure window.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Observed is the span of exposure events actually seen in the logs.
type Observed struct {
	FirstExposure *time.Time `json:"first_exposure"`
	LastExposure  *time.Time `json:"last_exposure"`
}

// Evidence is one input file.
type Evidence struct {
	Path          string          `json:"path"`
	SHA256        string          `json:"sha256"`
	Bytes         int64           `json:"bytes"`
	Format        string          `json:"format"`
	Lines         int64           `json:"lines"`
	Parsed        int64           `json:"parsed"`
	Rejected      int64           `json:"rejected"`
	OutsideWindow int64           `json:"outside_window"`
	Compressed    bool            `json:"compressed"`
	Truncated     bool            `json:"truncated"`
	Rejects       json.RawMessage `json:"rejects"`
	// UnknownCache: the file's cache results that no vocabulary knows
	// (value -> lines); they are neither hits nor fills.
	UnknownCache map[string]int64 `json:"unknown_cache"`
}

// Totals over every file; parsed + rejected == lines.
type Totals = store.Totals

// Affected counts people by level.
type Affected struct {
	Confirmed int `json:"confirmed"`
	Possible  int `json:"possible"`
}

// Viewer is a party that was shown other people's pages.
type Viewer = correlate.Viewer

// Build assembles the summary of the latest completed run (or run, when > 0).
func Build(ctx context.Context, st *store.Store, c *incident.Case, run int) (*Summary, error) {
	r, err := st.DoneRun(ctx, c.ID, run)
	if err != nil {
		return nil, err
	}
	t, err := r.Totals()
	if err != nil {
		return nil, fmt.Errorf("run %d totals: %w", r.Run, err)
	}
	ev, err := st.ListEvidence(ctx, c.ID, r.Run)
	if err != nil {
		return nil, err
	}
	s := &Summary{
		Case: c.ID, Title: c.Title, Run: r.Run,
		Window:     Window{Start: c.Start.UTC(), End: c.End.UTC()},
		Totals:     t,
		ByCategory: map[string]int{}, ByRegion: map[string]int{}, TopViewers: []Viewer{},
		location: c.Location,
	}
	var sum correlate.Summary
	if len(r.SummaryJSON) > 0 {
		if err := json.Unmarshal(r.SummaryJSON, &sum); err != nil {
			return nil, fmt.Errorf("run %d summary: %w", r.Run, err)
		}
	}
	s.Observed = Observed{FirstExposure: sum.FirstExposure, LastExposure: sum.LastExposure}
	s.Affected = Affected{Confirmed: t.Confirmed, Possible: t.Possible}
	s.Unresolved = Unresolved{Owners: t.UnresolvedOwners, Viewers: t.UnresolvedViewers}
	if sum.ByCategory != nil {
		s.ByCategory, s.ByRegion, s.ByCountry = sum.ByCategory, sum.ByRegion, sum.ByCountry
	}
	if s.ByCountry == nil {
		s.ByCountry = map[string]int{}
	}
	if sum.TopViewers != nil {
		s.TopViewers = sum.TopViewers
	}
	s.ByRule = sum.Rules
	if len(s.ByRule) == 0 {
		s.ByRule = []RuleSummary{cacheRule(t, s.TopViewers)}
	}
	s.Refused = sum.Refused
	if s.Refused == nil {
		s.Refused = []Refusal{}
	}
	s.Timeline = sum.Timeline
	if s.Timeline == nil {
		s.Timeline = []TimelineBucket{}
	}
	if r.FinishedAt.Valid {
		f := r.FinishedAt.Time.UTC()
		s.Ingested = &f
	}
	// The run's totals of unknown cache results are the sum of its files'
	// (a run stored before they were kept has none).
	s.Totals.UnknownCache = map[string]int64{}
	for _, e := range ev {
		uc, err := e.UnknownCache()
		if err != nil {
			return nil, fmt.Errorf("evidence %s unknown_cache: %w", e.Path, err)
		}
		incident.AddCounts(&s.Totals.UnknownCache, uc)
		s.Evidence = append(s.Evidence, Evidence{Path: e.Path, SHA256: e.SHA256, Bytes: e.Bytes, Format: e.Format,
			Lines: e.Lines, Parsed: e.Parsed, Rejected: e.Rejected, OutsideWindow: e.OutsideWindow,
			Compressed: e.Compressed, Truncated: e.Truncated, Rejects: e.RejectsJSON, UnknownCache: uc})
	}
	if s.Evidence == nil {
		s.Evidence = []Evidence{}
	}
	return s, nil
}

// maxRefusedLines is how many refused people the text lists (the JSON has them all).
const maxRefusedLines = 20

// RefusalLines lists refused people, one a line, at most max of them (0:
// all), by user id: never a name or an address.
func RefusalLines(refused []Refusal, max int) []string {
	var out []string
	for i, r := range refused {
		if max > 0 && i == max {
			return append(out, fmt.Sprintf("... and %d more (triage --format json lists them all)", len(refused)-max))
		}
		id := r.UserID
		if !utf8.ValidString(id) || strings.ContainsAny(id, "\n\r\x1b") {
			id = strconv.Quote(id)
		}
		out = append(out, fmt.Sprintf("user %s: %s", id, r.Reason))
	}
	return out
}

// WriteJSON writes the summary as indented JSON.
func (s *Summary) WriteJSON(w io.Writer) error {
	out := *s
	out.ByRule = make([]RuleSummary, len(s.ByRule))
	for i, r := range s.ByRule {
		if r.TopViewers == nil {
			r.TopViewers = []Viewer{}
		}
		out.ByRule[i] = r
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(&out)
}

// WriteText writes the summary for a terminal: what a security lead needs
// first, then the detail.
func (s *Summary) WriteText(w io.Writer) error {
	loc := s.location
	if loc == nil {
		loc = time.UTC
	}
	p := &printer{w: w}
	p.f("%s — %s\n", textsafe.Term(s.Case), textsafe.Term(s.Title))
	if s.Ingested != nil {
		p.f("run %d, ingested %s\n", s.Run, s.Ingested.In(loc).Format("2006-01-02 15:04 MST"))
	} else {
		p.f("run %d\n", s.Run)
	}
	a := s.Affected
	p.f("\nAFFECTED   %s confirmed · %s possible · %s people\n", group(int64(a.Confirmed)), group(int64(a.Possible)), group(int64(a.Confirmed+a.Possible)))
	byRule := s.ShowByRule()
	if byRule {
		p.f("           confirmed: their data was served to another party; possible: no foreign view is\n")
		p.f("           proven (a page stored in the cache, an anonymous or ambiguous requester, a login only)\n")
	} else {
		p.f("           confirmed: their data was served to another party; possible: their page was\n")
		p.f("           stored in the cache (or the attribution is ambiguous) but no foreign view is proven\n")
	}

	p.f("\nWindow     declared  %s (%s)\n", Span(s.Window.Start, s.Window.End, loc, "15:04"), hm(s.Window.End.Sub(s.Window.Start)))
	if s.Observed.FirstExposure != nil {
		fe, le := s.Observed.FirstExposure.In(loc), s.Observed.LastExposure.In(loc)
		p.f("           observed  %s (first and last exposure in the logs)\n", Span(fe, le, loc, "15:04:05"))
		if fe.Before(s.Window.Start) || le.After(s.Window.End) {
			p.f("           NOTE: exposures outside the declared window: check window.start/end\n")
		}
	} else {
		p.f("           observed  no exposure event in the logs\n")
	}
	t := s.Totals
	p.f("\nEvents     %s exposure events (%s confirmed, %s possible)\n", group(t.ExposureEvents), group(t.ConfirmedEvents), group(t.PossibleEvents))
	p.f("           %s showed a page whose categories are not on file for its owner (exposed nothing)\n", group(t.EmptyEvents))
	if byRule {
		p.f("           %s unattributed (a private response whose owner the logs or the user database do not show)\n", group(t.UnattributedEvents))
	} else {
		p.f("           %s unattributed (a cached private page whose owner the logs do not show)\n", group(t.UnattributedEvents))
	}
	if t.PrivateUnknown > 0 {
		p.f("           %s private-page responses with an unknown cache result: neither hits nor fills, so not counted (see Unknown cache results)\n", group(t.PrivateUnknown))
	}
	if t.UnresolvedEvents > 0 || s.Unresolved.Owners > 0 || s.Unresolved.Viewers > 0 {
		p.f("           %s with an owner whose identity matches no user record\n", group(t.UnresolvedEvents))
		p.f("Unresolved %d owner identities (cannot be notified), %d viewer identities\n", s.Unresolved.Owners, s.Unresolved.Viewers)
	}
	if len(s.Refused) > 0 {
		p.f("Refused    %d people: their user record was not used and they get no notice until it is fixed\n", len(s.Refused))
		for _, l := range RefusalLines(s.Refused, maxRefusedLines) {
			p.f("           %s\n", l)
		}
	}

	if byRule {
		s.writeByRuleText(p)
	}
	if len(s.ByCategory) > 0 {
		p.f("\nBy category (people)\n")
		for _, kv := range sortedCounts(s.ByCategory) {
			p.f("  %-18s %8s\n", textsafe.Term(kv.k), group(int64(kv.v)))
		}
	}
	if len(s.ByRegion) > 0 {
		p.f("\nBy country (people)\n")
		for _, kv := range sortedCounts(s.ByCountry) {
			p.f("  %-6s %8s   ", textsafe.Term(kv.k), group(int64(kv.v)))
			var regions []string
			for _, r := range sortedCounts(s.ByRegion) {
				if strings.HasPrefix(r.k, kv.k+"-") || (r.k == kv.k) {
					regions = append(regions, fmt.Sprintf("%s %s", textsafe.Term(r.k), group(int64(r.v))))
				}
			}
			if len(regions) > 6 {
				regions = append(regions[:6], "…")
			}
			p.f("%s\n", strings.Join(regions, ", "))
		}
	}
	if len(s.Timeline) > 0 {
		p.f("\nTimeline: exposure events per 10 minutes (%s)\n", loc)
		max := 0
		for _, b := range s.Timeline {
			if n := b.Confirmed + b.Possible; n > max {
				max = n
			}
		}
		// Every bucket from the first to the last, empty ones included.
		for at := s.Timeline[0].Start; !at.After(s.Timeline[len(s.Timeline)-1].Start); at = at.Add(correlate.Bucket) {
			b := TimelineBucket{Start: at}
			for _, x := range s.Timeline {
				if x.Start.Equal(at) {
					b = x
				}
			}
			n := b.Confirmed + b.Possible
			bar := strings.Repeat("█", (n*40+max-1)/max)
			p.f("  %s %-40s %s\n", at.In(loc).Format("15:04"), bar, group(int64(n)))
		}
	}
	if len(s.TopViewers) > 0 {
		p.f("\nTop viewers (parties shown the most people's data: scrapers, or curious customers?)\n")
		for i, v := range s.TopViewers {
			if i == 10 {
				break
			}
			p.f("  %-28s %5d people, %5d views\n", textsafe.Term(v.Viewer), v.People, v.Views)
		}
	}

	p.f("\nEvidence   %d files, %s lines: %s parsed, %s rejected%s, %s outside the window ± margin\n", t.Files, group(t.Lines),
		group(t.Parsed), group(t.Rejected), pct(t.Rejected, t.Lines), group(t.OutsideWindow))
	var trunc []string
	for _, e := range s.Evidence {
		if e.Truncated {
			trunc = append(trunc, textsafe.Term(e.Path))
		}
	}
	if len(trunc) > 0 {
		p.f("  TRUNCATED  %s\n", strings.Join(trunc, ", "))
	}
	worst := append([]Evidence(nil), s.Evidence...)
	sort.SliceStable(worst, func(i, j int) bool { return worst[i].Rejected > worst[j].Rejected })
	for i, e := range worst {
		if e.Rejected == 0 || i == 5 {
			break
		}
		var rj []struct {
			Line   int64  `json:"line"`
			Reason string `json:"reason"`
		}
		_ = json.Unmarshal(e.Rejects, &rj)
		first := ""
		if len(rj) > 0 {
			first = fmt.Sprintf(" — first at line %d: %s", rj[0].Line, textsafe.Term(rj[0].Reason))
		}
		p.f("  %s: %s rejected%s\n", textsafe.Term(e.Path), group(e.Rejected), first)
	}
	p.f("  (every file's SHA-256 is in --format json and the HTML report)\n")
	if len(t.UnknownCache) > 0 {
		p.f("\nUnknown cache results (lines): %s\n", incident.CountList(t.UnknownCache, 10))
		p.f("  not in the format's vocabulary, so neither hits nor fills; map them with logs[].cache_values and ingest again\n")
		n := 0
		for _, e := range s.Evidence {
			if len(e.UnknownCache) == 0 {
				continue
			}
			if n == 5 {
				p.f("  ... and more files (--format json lists every file's)\n")
				break
			}
			n++
			p.f("  %s: %s\n", textsafe.Term(e.Path), incident.CountList(e.UnknownCache, 5))
		}
	}
	return p.err
}

// Span writes from – to in loc: the start with its date, the end with its
// date too when that is another day (a window across midnight), else its
// time only; clock is the time layout ("15:04", "15:04:05").
func Span(from, to time.Time, loc *time.Location, clock string) string {
	from, to = from.In(loc), to.In(loc)
	end := to.Format(clock)
	if from.Format("2006-01-02") != to.Format("2006-01-02") {
		end = to.Format("2006-01-02 " + clock)
	}
	zone := loc.String()
	return fmt.Sprintf("%s – %s %s", from.Format("2006-01-02 "+clock), end, zone)
}

type kv struct {
	k string
	v int
}

func sortedCounts(m map[string]int) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].v != out[j].v {
			return out[i].v > out[j].v
		}
		return out[i].k < out[j].k
	})
	return out
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// group writes 1234567 as 1,234,567.
func group(n int64) string { return incident.Thousands(n) }

func pct(n, of int64) string {
	if of == 0 || n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%.3f%%)", 100*float64(n)/float64(of))
}

// hm formats a duration as 5h57m.
func hm(d time.Duration) string {
	d = d.Round(time.Minute)
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%02dm", h, m)
}
