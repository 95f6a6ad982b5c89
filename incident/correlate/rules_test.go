package correlate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/logs"
)

// wantEvent is an expected event of the CACHED response on line (the
// record's 1-based position in the scenario); time, pop, key, path, status
// and file come from that record.
type wantEvent struct {
	line   int64
	kind   string
	victim string
	level  string
	viewer string
	cats   []incident.Category
}

// wantAffected is an expected affected account; its categories are the
// union of confirmed and possible, its locale/country/region the fixture's.
type wantAffected struct {
	user           string
	level          string
	confirmed      []incident.Category
	possible       []incident.Category
	views, viewers int
	first, last    string // Tokyo time of day, "" for none
}

type ruleCase struct {
	name      string
	kind      string // identity_kind; "" is session
	notOnFile map[string][]incident.Category
	recs      []rrec
	events    []wantEvent    // in output order
	affected  []wantAffected // in output order
	// counts: the event counts and unresolved identities; the private
	// response counts and Confirmed/Possible are derived from recs and affected.
	counts correlate.Counts
}

func isPrivate(path string) bool { return path == profile || strings.HasPrefix(path, "/mypage/bank") }

func (tc *ruleCase) wantEvents() []string {
	out := []string{}
	for _, w := range tc.events {
		r := tc.recs[w.line-1]
		key := r.popName() + " " + host + " " + r.path
		if r.query != "" {
			key += "?" + r.query
		}
		out = append(out, eventString(correlate.Event{Kind: w.kind, At: at(r.at), Pop: r.popName(), CacheKey: key,
			Path: r.path, Status: r.statusCode(), Victim: w.victim, Level: w.level, Viewer: w.viewer,
			Categories: w.cats, File: r.file + 1, Line: w.line}))
	}
	return out
}

func (tc *ruleCase) wantAffected() []string {
	users := testUsers(nil)
	out := []string{}
	for _, w := range tc.affected {
		a := correlate.Affected{UserID: w.user, Level: w.level, CategoryLevels: map[incident.Category]string{},
			Views: w.views, Viewers: w.viewers}
		for _, c := range w.possible {
			a.CategoryLevels[c] = correlate.Possible
		}
		for _, c := range w.confirmed {
			a.CategoryLevels[c] = correlate.Confirmed
		}
		for c := range a.CategoryLevels {
			a.Categories = append(a.Categories, c)
		}
		slices.Sort(a.Categories)
		if w.first != "" {
			a.First = at(w.first)
		}
		if w.last != "" {
			a.Last = at(w.last)
		}
		if u := users[w.user]; u != nil {
			a.Locale, a.Country, a.Region = u.Locale, u.Country, u.Region
		}
		out = append(out, affectedString(a))
	}
	return out
}

func (tc *ruleCase) wantCounts() correlate.Counts {
	want := tc.counts
	for _, r := range tc.recs {
		if !isPrivate(r.path) {
			continue
		}
		want.PrivateResponses++
		switch r.cache {
		case logs.CacheOrigin:
			want.PrivateOrigin++
		case logs.CacheUnknown:
			want.PrivateUnknown++
		}
	}
	for _, a := range tc.affected {
		if a.level == correlate.Confirmed {
			want.Confirmed++
		} else {
			want.Possible++
		}
	}
	return want
}

// checkRuleCase correlates the scenario in the order given on one sink and
// in reverse on two concurrent sinks; both must give the expected result.
func checkRuleCase(t *testing.T, tc ruleCase) {
	t.Helper()
	kind := tc.kind
	if kind == "" {
		kind = "session"
	}
	c := loadCase(t, kind)
	got := runOnce(t, c, tc.recs, newResolver(t, tc.notOnFile), false)
	if g, w := eventStrings(got.Events()), tc.wantEvents(); !slices.Equal(g, w) {
		t.Errorf("Events:\ngot  %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	if g, w := affectedStrings(got.Affected), tc.wantAffected(); !slices.Equal(g, w) {
		t.Errorf("Affected:\ngot  %s\nwant %s", strings.Join(g, "\n     "), strings.Join(w, "\n     "))
	}
	if w := tc.wantCounts(); got.Counts != w {
		t.Errorf("Counts:\ngot  %+v\nwant %+v", got.Counts, w)
	}
	split := runOnce(t, c, tc.recs, streamingResolver{newResolver(t, tc.notOnFile)}, true)
	sameResult(t, "reversed on two sinks, sessions streamed, vs in order on one", split, got)
}

const (
	conf = correlate.Confirmed
	poss = correlate.Possible
)

var (
	nameAddr    = []incident.Category{incident.CatName, incident.CatPostalAddress}
	noCats      = []incident.Category{}
	user1Stored = wantAffected{user: "1", level: poss, possible: profileCats}
)

func TestRules(t *testing.T) {
	tests := []ruleCase{
		// 1. anonymous fills
		{
			name: "anonymous fill stores a page with no personal data",
			recs: []rrec{
				fill("10:00:00", "", profile),
				hit("10:00:01", "sess-b", profile),
			},
		},
		{
			name: "anonymous fill replaces a personal page",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				fill("10:00:01", "", profile),
				hit("10:00:02", "sess-b", profile),
			},
			affected: []wantAffected{user1Stored},
		},
		// 2. non-cacheable status
		{
			name: "302 fill by an identified user stores nothing personal",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).st(302),
				hit("10:00:01", "sess-b", profile).st(302),
			},
		},
		{
			name: "302 fill replaces the stored page",
			recs: []rrec{
				fill("10:00:00", "sess-c", profile),
				hit("10:00:01", "sess-b", profile),
				fill("10:00:02", "sess-a", profile).st(302),
				hit("10:00:03", "sess-d", profile).st(302),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "3", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "3", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		// 3. the owner's own hits
		{
			name: "owner's own hit on the same session is no exposure",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "sess-a", profile),
			},
			affected: []wantAffected{user1Stored},
		},
		{
			name: "owner's own hit on another session of the same person is no exposure",
			recs: []rrec{
				hit("10:00:01", "sess-a2", profile),
				fill("10:00:00", "sess-a", profile),
			},
			affected: []wantAffected{user1Stored},
		},
		// 4. exposures
		{
			name:      "exposure to another user: route categories on file",
			notOnFile: map[string][]incident.Category{"1": {incident.CatPhone}},
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:05:00", "sess-b", profile),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", nameAddr}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: nameAddr, views: 1, viewers: 1, first: "10:05:00", last: "10:05:00"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "exposure to an anonymous client is shown by address",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "", profile).from("203.0.113.9"),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "ip:203.0.113.9", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "views count confirmed events, viewers distinct other parties",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:01:00", "sess-b", profile),
				hit("10:02:00", "sess-b", profile),
				hit("10:03:00", "", profile).from("203.0.113.9"),
				hit("10:04:00", "", profile).from("203.0.113.10"),
				hit("10:05:00", "", profile).from("203.0.113.9"),
				hit("10:06:00", "sess-d", profile),
				hit("10:07:00", "sess-a2", profile), // the owner on another session
			},
			events: []wantEvent{
				{2, correlate.KindExposure, "1", conf, "user:2", profileCats},
				{3, correlate.KindExposure, "1", conf, "user:2", profileCats},
				{4, correlate.KindExposure, "1", conf, "ip:203.0.113.9", profileCats},
				{5, correlate.KindExposure, "1", conf, "ip:203.0.113.10", profileCats},
				{6, correlate.KindExposure, "1", conf, "ip:203.0.113.9", profileCats},
				{7, correlate.KindExposure, "1", conf, "user:4", profileCats},
			},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 6, viewers: 4, first: "10:01:00", last: "10:06:00"}},
			counts:   correlate.Counts{ExposureEvents: 6, ConfirmedEvents: 6},
		},
		{
			name: "a viewer whose session resolves to nobody is shown by a hash",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "sess-y", profile),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, identityViewer("sess-y"), profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1, UnresolvedViewers: 1},
		},
		{
			name: "a later fill by another person replaces the page",
			recs: []rrec{
				hit("10:02:00", "sess-b", profile),
				fill("10:01:00", "sess-c", profile),
				fill("10:00:00", "sess-a", profile),
			},
			events: []wantEvent{{1, correlate.KindExposure, "3", conf, "user:2", profileCats}},
			affected: []wantAffected{
				user1Stored,
				{user: "3", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:02:00", last: "10:02:00"},
			},
			counts: correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		// 5. separate caches
		{
			name: "two edges keep separate caches: a hit on the other edge is unattributed",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "sess-b", profile).on("KIX"),
			},
			events:   []wantEvent{{2, correlate.KindUnattributed, "", "", "user:2", nil}},
			affected: []wantAffected{user1Stored},
			counts:   correlate.Counts{UnattributedEvents: 1},
		},
		{
			name: "the query is part of the cache key",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).q("tab=1"),
				hit("10:00:01", "sess-b", profile).q("tab=2"),
				hit("10:00:02", "sess-d", profile).q("tab=1"),
			},
			events: []wantEvent{
				{2, correlate.KindUnattributed, "", "", "user:2", nil},
				{3, correlate.KindExposure, "1", conf, "user:4", profileCats},
			},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:02", last: "10:00:02"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1, UnattributedEvents: 1},
		},
		{
			name: "an anonymous hit with no fill seen is unattributed, never dropped",
			recs: []rrec{
				hit("10:00:01", "", profile).from("203.0.113.9"),
			},
			events: []wantEvent{{1, correlate.KindUnattributed, "", "", "ip:203.0.113.9", nil}},
			counts: correlate.Counts{UnattributedEvents: 1},
		},
		// 6. the window
		{
			name: "a fill before the window stores nothing personal",
			recs: []rrec{
				hit("10:00:00", "sess-b", profile),
				fill("09:40:59.999", "sess-a", profile),
			},
		},
		{
			name: "a fill at the window's start is inside it",
			recs: []rrec{
				fill("09:41:00", "sess-a", profile),
				hit("09:41:01", "sess-b", profile),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "09:41:01", last: "09:41:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "a fill at the window's end is outside it",
			recs: []rrec{
				fill("15:38:00", "sess-a", profile),
				hit("15:39:00", "sess-b", profile),
			},
		},
		{
			name: "a fill after the window replaces the page with a non-personal one",
			recs: []rrec{
				fill("15:00:00", "sess-a", profile),
				hit("15:10:00", "sess-b", profile),
				fill("15:40:00", "sess-c", profile),
				hit("15:45:00", "sess-d", profile),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "15:10:00", last: "15:10:00"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		// 7. one-second timestamps
		{
			name: "one-second times: the last fill before the second and a fill in it are both candidates",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
				fill("10:00:05", "sess-c", profile).sec(),
			},
			events: []wantEvent{
				{2, correlate.KindExposure, "1", poss, "user:2", profileCats},
				{2, correlate.KindExposure, "3", poss, "user:2", profileCats},
			},
			affected: []wantAffected{
				{user: "1", level: poss, possible: profileCats},
				{user: "3", level: poss, possible: profileCats},
			},
			counts: correlate.Counts{ExposureEvents: 2, PossibleEvents: 2},
		},
		{
			name: "one-second times: the same person filling again in the second is still one page",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
				fill("10:00:05", "sess-a", profile).sec(),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:05", last: "10:00:05"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "one-second times: the same person on another session in the second is still one page",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).sec(),
				fill("10:00:05", "sess-a2", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
			},
			events:   []wantEvent{{3, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:05", last: "10:00:05"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "one-second times: the viewer's own fill in the second leaves the other page possible",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
				fill("10:00:05", "sess-b", profile).sec(),
			},
			events: []wantEvent{{2, correlate.KindExposure, "1", poss, "user:2", profileCats}},
			affected: []wantAffected{
				{user: "1", level: poss, possible: profileCats},
				{user: "2", level: poss, possible: profileCats}, // their own page was stored
			},
			counts: correlate.Counts{ExposureEvents: 1, PossibleEvents: 1},
		},
		{
			name: "one-second times: an anonymous fill in the second is a candidate too",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile).sec(),
				fill("10:00:05", "", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
			},
			events:   []wantEvent{{3, correlate.KindExposure, "1", poss, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: poss, possible: profileCats}},
			counts:   correlate.Counts{ExposureEvents: 1, PossibleEvents: 1},
		},
		{
			name: "one-second times: only the last fill before the second counts",
			recs: []rrec{
				fill("10:00:03", "sess-c", profile).sec(),
				fill("10:00:04", "sess-a", profile).sec(),
				hit("10:00:05", "sess-b", profile).sec(),
			},
			events: []wantEvent{{3, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{
				{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:05", last: "10:00:05"},
				{user: "3", level: poss, possible: profileCats},
			},
			counts: correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "one-second times: no earlier fill and one in the second: the unknown page is a candidate",
			recs: []rrec{
				hit("10:00:05", "sess-b", profile).sec(),
				fill("10:00:05", "sess-a", profile).sec(),
			},
			events:   []wantEvent{{1, correlate.KindExposure, "1", poss, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: poss, possible: profileCats}},
			counts:   correlate.Counts{ExposureEvents: 1, PossibleEvents: 1},
		},
		{
			name: "one-second times: no earlier fill and the viewer's own in the second is unattributed",
			recs: []rrec{
				hit("10:00:05", "sess-b", profile).sec(),
				fill("10:00:05", "sess-b", profile).sec(),
			},
			events:   []wantEvent{{1, correlate.KindUnattributed, "", "", "user:2", nil}},
			affected: []wantAffected{{user: "2", level: poss, possible: profileCats}},
			counts:   correlate.Counts{UnattributedEvents: 1},
		},
		// 8. sub-second times
		{
			name: "sub-second times order fills and hits exactly",
			recs: []rrec{
				hit("10:00:00.400", "sess-d", profile),
				fill("10:00:00.300", "sess-c", profile),
				hit("10:00:00.200", "sess-b", profile),
				fill("10:00:00.100", "sess-a", profile),
			},
			events: []wantEvent{
				{3, correlate.KindExposure, "1", conf, "user:2", profileCats},
				{1, correlate.KindExposure, "3", conf, "user:4", profileCats},
			},
			affected: []wantAffected{
				{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:00.200", last: "10:00:00.200"},
				{user: "3", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:00.400", last: "10:00:00.400"},
			},
			counts: correlate.Counts{ExposureEvents: 2, ConfirmedEvents: 2},
		},
		{
			name: "sub-second times: a fill and a hit at the same instant are ambiguous",
			recs: []rrec{
				fill("10:00:00.100", "sess-a", profile),
				hit("10:00:00.300", "sess-b", profile),
				fill("10:00:00.300", "sess-c", profile),
			},
			events: []wantEvent{
				{2, correlate.KindExposure, "1", poss, "user:2", profileCats},
				{2, correlate.KindExposure, "3", poss, "user:2", profileCats},
			},
			affected: []wantAffected{
				{user: "1", level: poss, possible: profileCats},
				{user: "3", level: poss, possible: profileCats},
			},
			counts: correlate.Counts{ExposureEvents: 2, PossibleEvents: 2},
		},
		// 9. revalidated / RefreshHit responses are CACHED
		{
			name: "a hit long after the fill (revalidated) still serves the old owner's page",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("13:00:00", "sess-b", profile),
				hit("15:00:00", "sess-c", profile),
			},
			events: []wantEvent{
				{2, correlate.KindExposure, "1", conf, "user:2", profileCats},
				{3, correlate.KindExposure, "1", conf, "user:3", profileCats},
			},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 2, viewers: 2, first: "13:00:00", last: "15:00:00"}},
			counts:   correlate.Counts{ExposureEvents: 2, ConfirmedEvents: 2},
		},
		// 10. nothing on file
		{
			name:      "a page with nothing on file is an empty event and nobody is affected",
			notOnFile: map[string][]incident.Category{"1": {incident.CatBankAccount}},
			recs: []rrec{
				fill("10:00:00", "sess-a", bank),
				hit("10:00:01", "sess-b", bank),
			},
			events: []wantEvent{{2, correlate.KindEmpty, "1", conf, "user:2", noCats}},
			counts: correlate.Counts{EmptyEvents: 1},
		},
		{
			name:      "an empty event adds no view to a person exposed elsewhere",
			notOnFile: map[string][]incident.Category{"1": {incident.CatBankAccount}},
			recs: []rrec{
				fill("10:00:00", "sess-a", bank),
				hit("10:00:01", "sess-b", bank),
				fill("10:00:02", "sess-a", profile),
				hit("10:00:03", "sess-d", profile),
			},
			events: []wantEvent{
				{2, correlate.KindEmpty, "1", conf, "user:2", noCats},
				{4, correlate.KindExposure, "1", conf, "user:4", profileCats},
			},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:03", last: "10:00:03"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1, EmptyEvents: 1},
		},
		// 11. owners that resolve to nobody
		{
			name: "an owner whose session resolves to nobody is an unresolved event",
			recs: []rrec{
				fill("10:00:00", "sess-x", profile),
				hit("10:00:01", "sess-b", profile),
			},
			events: []wantEvent{{2, correlate.KindUnresolved, "", conf, "user:2", profileCats}},
			counts: correlate.Counts{UnresolvedEvents: 1, UnresolvedOwners: 1},
		},
		// 12. ORIGIN, unknown cache results and public routes
		{
			name: "ORIGIN responses, unknown cache results and public routes do not touch the lineage",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				origin("10:00:01", "sess-c", profile),
				fill("10:00:01", "sess-c", "/mypage/settings"),
				fill("10:00:01", "sess-c", "/mypage/profile/edit"),
				hit("10:00:01", "sess-d", "/"),
				fill("10:00:01", "sess-c", profile).withCache(logs.CacheUnknown),
				hit("10:00:02", "sess-b", profile),
				origin("10:00:03", "sess-d", profile),
			},
			events:   []wantEvent{{7, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:02", last: "10:00:02"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		// 13. levels per category
		{
			name: "confirmed on one page and only stored on another",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "sess-b", profile),
				fill("10:00:02", "sess-a", bank),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, possible: bankCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "confirmed on one page and possible on another",
			recs: []rrec{
				fill("10:00:00", "sess-a", profile),
				hit("10:00:01", "sess-b", profile),
				fill("10:00:00", "sess-a", bank).sec(),
				hit("10:00:05", "sess-b", bank).sec(),
				fill("10:00:05", "sess-c", bank).sec(),
			},
			events: []wantEvent{
				{2, correlate.KindExposure, "1", conf, "user:2", profileCats},
				{4, correlate.KindExposure, "1", poss, "user:2", bankCats},
				{4, correlate.KindExposure, "3", poss, "user:2", bankCats},
			},
			affected: []wantAffected{
				{user: "1", level: conf, confirmed: profileCats, possible: bankCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"},
				{user: "3", level: poss, possible: bankCats},
			},
			counts: correlate.Counts{ExposureEvents: 3, ConfirmedEvents: 1, PossibleEvents: 2},
		},
		// identity_kind: user
		{
			name: "user identities: an exposure",
			kind: "user",
			recs: []rrec{
				fill("10:00:00", "1", profile),
				hit("10:00:01", "2", profile),
				hit("10:00:02", "1", profile),
			},
			events:   []wantEvent{{2, correlate.KindExposure, "1", conf, "user:2", profileCats}},
			affected: []wantAffected{{user: "1", level: conf, confirmed: profileCats, views: 1, viewers: 1, first: "10:00:01", last: "10:00:01"}},
			counts:   correlate.Counts{ExposureEvents: 1, ConfirmedEvents: 1},
		},
		{
			name: "user identities: an id users_query does not know is unresolved",
			kind: "user",
			recs: []rrec{
				fill("10:00:00", "99", profile),
				hit("10:00:01", "2", profile),
			},
			events: []wantEvent{{2, correlate.KindUnresolved, "", conf, "user:2", profileCats}},
			counts: correlate.Counts{UnresolvedEvents: 1, UnresolvedOwners: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkRuleCase(t, tc) })
	}
}

func TestRunResolverError(t *testing.T) {
	boom := errors.New("users database down")
	c := loadCase(t, "session")
	col, err := correlate.NewCollector(c)
	if err != nil {
		t.Fatalf("NewCollector() = %v, want no error", err)
	}
	s := col.Sink(0)
	s.Record(0, 1, fill("10:00:00", "sess-a", profile).record())
	s.Record(0, 2, hit("10:00:01", "sess-b", profile).record())
	res := newResolver(t, nil)
	res.err = boom
	if _, err := col.Run(context.Background(), c, res); !errors.Is(err, boom) {
		t.Errorf("Run() error = %v, want %v", err, boom)
	}
	col, err = correlate.NewCollector(c)
	if err != nil {
		t.Fatalf("NewCollector() = %v, want no error", err)
	}
	s = col.Sink(0)
	s.Record(0, 1, fill("10:00:00", "sess-a", profile).record())
	s.Record(0, 2, hit("10:00:01", "sess-b", profile).record())
	if _, err := col.Run(context.Background(), c, streamingResolver{res}); !errors.Is(err, boom) {
		t.Errorf("Run() with a streaming resolver: error = %v, want %v", err, boom)
	}
}

func TestRunNothingCollected(t *testing.T) {
	c := loadCase(t, "session")
	col, err := correlate.NewCollector(c)
	if err != nil {
		t.Fatalf("NewCollector() = %v, want no error", err)
	}
	col.Sink(0)
	col.Sink(1)
	res, err := col.Run(context.Background(), c, newResolver(t, nil))
	if err != nil {
		t.Fatalf("Run() = %v, want no error", err)
	}
	if res.NumEvents() != 0 || len(res.Affected) != 0 || res.Counts != (correlate.Counts{}) {
		t.Errorf("Run() with no records = %d events, %d affected, %+v; want none and zero counts", res.NumEvents(), len(res.Affected), res.Counts)
	}
}
