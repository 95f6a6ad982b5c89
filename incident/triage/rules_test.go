package triage

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/incident"
	"github.com/breachctl/breachctl/incident/correlate"
	"github.com/breachctl/breachctl/incident/store"
	"github.com/breachctl/breachctl/internal/golden"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// threeRules is a case with a cache rule, an enumeration and an account
// takeover, as the engine summarises it.
func threeRules() []RuleSummary {
	return []RuleSummary{
		{Name: "cache", Kind: "cache", ExposureEvents: 5, ConfirmedEvents: 4, PossibleEvents: 1, EmptyEvents: 1,
			Confirmed: 2, Possible: 1, Matched: 1200, TopViewers: []Viewer{{Viewer: "user:42", People: 2, Views: 3}}},
		{Name: "enumeration", Kind: "object", ExposureEvents: 4210, ConfirmedEvents: 4200, PossibleEvents: 10, UnattributedEvents: 7,
			UnresolvedEvents: 2, Confirmed: 4150, Possible: 9, Matched: 4300,
			TopViewers: []Viewer{{Viewer: "ip:203.0.113.9", People: 4100, Views: 4150}, {Viewer: "user:77", People: 50, Views: 50}}},
		{Name: "takeover", Kind: "actor", ExposureEvents: 30, ConfirmedEvents: 12, PossibleEvents: 18, Confirmed: 3, Possible: 15,
			Matched: 900, TopViewers: []Viewer{{Viewer: "ip:198.51.100.7", People: 3, Views: 12}}},
		{Name: "mixup", Kind: "owner"},
	}
}

// TestTriageByRuleRendering: a case with several rules shows them, in
// text and HTML (golden files), with each object/actor rule's suspected
// attackers; a single cache rule shows nothing new (triage.*.golden).
func TestTriageByRuleRendering(t *testing.T) {
	s := sample()
	s.ByRule = threeRules()
	var text, html bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "triage_rules.txt.golden"), text.Bytes())
	if err := s.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "triage_rules.html.golden"), html.Bytes())

	tests := []struct {
		name  string
		rules []RuleSummary
		show  bool
	}{
		{"no rules (a summary built by hand)", nil, false},
		{"one cache rule", threeRules()[:1], false},
		{"two cache rules", []RuleSummary{{Name: "cache", Kind: "cache"}, {Name: "cache-2", Kind: "cache"}}, true},
		{"one object rule", threeRules()[1:2], true},
		{"one owner rule", threeRules()[3:], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sample()
			s.ByRule = tc.rules
			if got := s.ShowByRule(); got != tc.show {
				t.Errorf("ShowByRule() = %v, want %v", got, tc.show)
			}
			var text, html bytes.Buffer
			if err := s.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := s.WriteHTML(&html); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(text.String(), "\nBy rule\n"); got != tc.show {
				t.Errorf("text has a By rule section: %v, want %v:\n%s", got, tc.show, text.String())
			}
			if got := strings.Contains(html.String(), "<h2>By rule</h2>"); got != tc.show {
				t.Errorf("HTML has a By rule section: %v, want %v", got, tc.show)
			}
			var js bytes.Buffer
			if err := s.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var m struct {
				ByRule []map[string]any `json:"by_rule"`
			}
			if err := json.Unmarshal(js.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			if m.ByRule == nil || len(m.ByRule) != len(tc.rules) {
				t.Fatalf("JSON by_rule = %v, want %d entries (an array, never null)", m.ByRule, len(tc.rules))
			}
			for i, r := range m.ByRule {
				if tv, ok := r["top_viewers"].([]any); !ok || len(tv) != len(tc.rules[i].TopViewers) {
					t.Errorf("JSON by_rule[%d].top_viewers = %v, want %d (an array)", i, r["top_viewers"], len(tc.rules[i].TopViewers))
				}
			}
		})
	}
}

// TestTriageByRuleEscapes: rule names and viewers come from the case file
// and the logs; text and HTML show them inert.
func TestTriageByRuleEscapes(t *testing.T) {
	s := sample()
	s.ByRule = threeRules()
	s.ByRule[1].Name = "enum" + clearScreen + forged
	s.ByRule[1].TopViewers[0].Viewer = "ip:203.0.113.9" + forged + `<script>alert(1)</script>`
	var text, html bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	checkInert(t, "triage text by rule", text.String())
	for _, want := range []string{`enum\x1b[2J\x1b[H\nFAKE LINE (object)`, `ip:203.0.113.9\nFAKE LINE<script>`} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := s.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "<script>alert") {
		t.Errorf("HTML holds a viewer unescaped")
	}
}

// fixture is a case database holding one done run.
type fixture struct {
	st  *store.Store
	c   *incident.Case
	run int
}

type fixtureEvent struct {
	rule, victim, level, path, viewer string
	at                                string // RFC 3339
	kind                              string // default exposure
	cats                              []string
}

func newFixture(t *testing.T, rules []incident.Rule, sum any, totals store.Totals, events []fixtureEvent, affected []store.AffectedAccount) *fixture {
	t.Helper()
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	st, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	c := &incident.Case{ID: "api-2023", Title: "Profiles read by enumeration", Location: tokyo,
		Start: time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2023, 3, 1, 6, 0, 0, 0, time.UTC)}
	c.Exposure.Rules = rules
	if err := st.UpsertCase(ctx, store.Case{ID: c.ID, Title: c.Title, CaseFile: "incident.yaml", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	run, err := st.NewRun(ctx, c.ID, "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	err = st.SaveExposure(ctx, c.ID, run, len(events), func(i int, row *store.ExposureEvent) {
		e := events[i]
		at, err := time.Parse(time.RFC3339, e.at)
		if err != nil {
			panic(fmt.Sprintf("fixture event %d: %v", i, err)) // a broken test table, not input
		}
		kind := e.kind
		if kind == "" {
			kind = "exposure"
		}
		*row = store.ExposureEvent{EventNo: int64(i + 1), Kind: kind, At: at, Path: e.path, Status: 200, Viewer: e.viewer,
			Victim: sql.NullString{String: e.victim, Valid: e.victim != ""}, Level: sql.NullString{String: e.level, Valid: e.level != ""},
			Categories: pq.StringArray(e.cats), Rule: e.rule}
	}, affected)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.FinishRun(ctx, c.ID, run, store.RunDone, totals, sum, nil); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: st, c: c, run: run}
}

// TestBuildByRule: triage JSON's by_rule is the run's per-rule summary; a
// run stored before rules is one cache rule holding the run's totals.
func TestBuildByRule(t *testing.T) {
	totals := store.Totals{ExposureEvents: 5, ConfirmedEvents: 4, PossibleEvents: 1, EmptyEvents: 2, UnattributedEvents: 1,
		UnresolvedEvents: 1, Confirmed: 2, Possible: 1, PrivateResponses: 900}
	top := []Viewer{{Viewer: "user:42", People: 2, Views: 3}}
	cacheRules := []incident.Rule{{Kind: "cache", Name: "cache"}}
	tests := []struct {
		name  string
		rules []incident.Rule
		sum   any
		want  []RuleSummary
		show  bool
	}{
		{"a run stored before rules", cacheRules, map[string]any{"top_viewers": top}, []RuleSummary{{Name: "cache", Kind: "cache",
			ExposureEvents: 5, ConfirmedEvents: 4, PossibleEvents: 1, EmptyEvents: 2, UnattributedEvents: 1, UnresolvedEvents: 1,
			Confirmed: 2, Possible: 1, Matched: 900, TopViewers: top}}, false},
		{"a run with no summary", cacheRules, nil, []RuleSummary{{Name: "cache", Kind: "cache",
			ExposureEvents: 5, ConfirmedEvents: 4, PossibleEvents: 1, EmptyEvents: 2, UnattributedEvents: 1, UnresolvedEvents: 1,
			Confirmed: 2, Possible: 1, Matched: 900, TopViewers: []Viewer{}}}, false},
		{"one cache rule", cacheRules, correlate.Summary{TopViewers: top, Rules: threeRules()[:1]}, threeRules()[:1], false},
		{"several rules", []incident.Rule{{Kind: "cache", Name: "cache"}, {Kind: "object", Name: "enumeration"}, {Kind: "actor", Name: "takeover"}, {Kind: "owner", Name: "mixup"}},
			correlate.Summary{TopViewers: top, Rules: threeRules()}, threeRules(), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.rules, tc.sum, totals, nil, nil)
			s, err := Build(context.Background(), f.st, f.c, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s.ByRule, tc.want) {
				t.Errorf("ByRule = %+v\nwant %+v", s.ByRule, tc.want)
			}
			if got := s.ShowByRule(); got != tc.show {
				t.Errorf("ShowByRule() = %v, want %v", got, tc.show)
			}
		})
	}
}

// TestDiscloseByRule: a disclosure says, per rule, how the person's data
// was reached, and names the rule of every page it lists (golden files).
func TestDiscloseByRule(t *testing.T) {
	rules := []incident.Rule{{Kind: "cache", Name: "cache"}, {Kind: "object", Name: "enumeration"}, {Kind: "owner", Name: "mixup"}, {Kind: "actor", Name: "takeover"}}
	sum := correlate.Summary{Rules: threeRules()}
	cats := []string{"email", "name"}
	events := []fixtureEvent{
		{rule: "enumeration", victim: "100", level: "confirmed", path: "/api/users/100/profile", viewer: "ip:203.0.113.9", at: "2023-03-01T01:00:00Z", cats: cats},
		{rule: "enumeration", victim: "100", level: "confirmed", path: "/api/users/100/profile", viewer: "ip:203.0.113.9", at: "2023-03-01T01:05:00Z", cats: cats},
		{rule: "cache", victim: "100", level: "confirmed", path: "/mypage/profile", viewer: "user:42", at: "2023-03-01T00:30:00Z", cats: []string{"name"}},
		{rule: "takeover", victim: "100", level: "possible", path: "/login", viewer: "ip:198.51.100.7", at: "2023-03-01T02:00:00Z", cats: cats},
		{rule: "enumeration", victim: "100", kind: "empty", path: "/api/users/100/orders", viewer: "ip:203.0.113.9", at: "2023-03-01T01:06:00Z"},
		{rule: "takeover", victim: "101", level: "possible", path: "/login", viewer: "ip:198.51.100.7", at: "2023-03-01T03:00:00Z", cats: []string{"email"}},
		{rule: "takeover", victim: "101", level: "confirmed", path: "/mypage/orders", viewer: "ip:198.51.100.7", at: "2023-03-01T03:01:00Z", cats: []string{"purchase_history"}},
		{rule: "mixup", victim: "103", level: "possible", path: "/mypage/profile", viewer: "ip:192.0.2.1", at: "2023-03-01T04:00:00Z", cats: cats},
	}
	at := func(s string) sql.NullTime {
		t, _ := time.Parse(time.RFC3339, s)
		return sql.NullTime{Time: t, Valid: true}
	}
	affected := []store.AffectedAccount{
		{UserID: "100", Level: "confirmed", Categories: pq.StringArray{"email", "name"}, CategoryLevels: []byte(`{"email":"confirmed","name":"confirmed"}`),
			Views: 3, Viewers: 2, FirstExposed: at("2023-03-01T00:30:00Z"), LastExposed: at("2023-03-01T01:05:00Z"), Country: "JP", Region: "JP-13",
			Rules: pq.StringArray{"cache", "enumeration", "takeover"}},
		{UserID: "101", Level: "confirmed", Categories: pq.StringArray{"email", "purchase_history"},
			CategoryLevels: []byte(`{"email":"possible","purchase_history":"confirmed"}`), Views: 1, Viewers: 1,
			FirstExposed: at("2023-03-01T03:01:00Z"), LastExposed: at("2023-03-01T03:01:00Z"), Country: "US", Region: "US-CA",
			Rules: pq.StringArray{"takeover"}},
		{UserID: "102", Level: "possible", Categories: pq.StringArray{"name"}, CategoryLevels: []byte(`{"name":"possible"}`), Country: "JP",
			Rules: pq.StringArray{"cache"}},
		{UserID: "103", Level: "possible", Categories: pq.StringArray{"email", "name"}, CategoryLevels: []byte(`{"email":"possible","name":"possible"}`),
			Country: "JP", Rules: pq.StringArray{"mixup"}},
	}
	f := newFixture(t, rules, sum, store.Totals{}, events, affected)
	tests := []struct {
		name, user string
	}{
		{"three rules", "100"},
		{"takeover with a page viewed", "101"},
		{"a cached page never served", "102"},
		{"owner rule, anonymous requester", "103"},
		{"not affected", "999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Disclose(context.Background(), f.st, f.c, f.run, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			var text, js bytes.Buffer
			if err := d.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if err := d.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "disclose_"+tc.user+".txt.golden"), text.Bytes())
			golden.Check(t, filepath.Join("testdata", "disclose_"+tc.user+".json.golden"), js.Bytes())
		})
	}
}

// TestDiscloseCacheRun: a run stored before rules (a cache case) reads as
// the cache rule's.
func TestDiscloseCacheRun(t *testing.T) {
	events := []fixtureEvent{
		{victim: "100", level: "confirmed", path: "/mypage/profile", viewer: "user:42", at: "2023-03-01T00:30:00Z", cats: []string{"name"}},
		{victim: "100", level: "possible", path: "/mypage/profile", viewer: "user:43", at: "2023-03-01T00:31:00Z", cats: []string{"name"}},
	}
	at := func(s string) sql.NullTime {
		t, _ := time.Parse(time.RFC3339, s)
		return sql.NullTime{Time: t, Valid: true}
	}
	affected := []store.AffectedAccount{{UserID: "100", Level: "confirmed", Categories: pq.StringArray{"name"},
		CategoryLevels: []byte(`{"name":"confirmed"}`), Views: 1, Viewers: 1, FirstExposed: at("2023-03-01T00:30:00Z"),
		LastExposed: at("2023-03-01T00:30:00Z"), Country: "JP"}}
	f := newFixture(t, []incident.Rule{{Kind: "cache", Name: "cache"}}, map[string]any{}, store.Totals{}, events, affected)
	for _, user := range []string{"100", "999"} {
		d, err := Disclose(context.Background(), f.st, f.c, f.run, user)
		if err != nil {
			t.Fatal(err)
		}
		var text bytes.Buffer
		if err := d.WriteText(&text); err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", "disclose_cache_"+user+".txt.golden"), text.Bytes())
	}
}
