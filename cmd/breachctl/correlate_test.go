package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breachctl/breachctl/incident/triage"
)

type truthAll struct {
	Precision   string `json:"precision"`
	EmptyEvents int    `json:"empty_events"`
	Events      []struct {
		Time       string   `json:"time"`
		Victim     string   `json:"victim"`
		Viewer     string   `json:"viewer"`
		Categories []string `json:"categories"`
		Ambiguous  bool     `json:"ambiguous"`
	} `json:"events"`
	Affected []struct {
		UserID     string   `json:"user_id"`
		Level      string   `json:"level"`
		RuleLevel  string   `json:"rule_level"`
		Categories []string `json:"categories"`
		Views      int      `json:"views"`
		Viewers    int      `json:"viewers"`
	} `json:"affected"`
}

// expected is what the correlation must report for one person, derived
// from the simulator's ground truth and DESIGN.md's rules.
type expected struct {
	level      string
	categories []string
	views      int
	viewers    map[string]bool
	first      string
	last       string
}

// TestCorrelationMatchesTruth ingests simulated incidents in every format
// and precision and compares the affected accounts with the ground truth:
// with sub-second timestamps the confirmed set, each person's categories,
// views, viewers and first/last exposure are exactly the truth; with
// one-second timestamps every true victim is reported, and the levels and
// views are exactly what the one-second rule allows (nobody is confirmed on
// an ambiguous event).
func TestCorrelationMatchesTruth(t *testing.T) {
	cases := []struct {
		format, precision string
		seed              string
	}{
		{"nginx", "ms", "1"}, {"nginx", "s", "2"}, {"cloudfront", "s", "3"},
		{"cloudflare", "ms", "4"}, {"cloudflare", "s", "5"}, {"jsonl", "ms", "6"}, {"jsonl", "s", "7"},
		{"nginx", "ms", "8"},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-%s-seed%s", tc.format, tc.precision, tc.seed), func(t *testing.T) {
			t.Parallel()
			args := []string{"--seed", tc.seed}
			if tc.format != "cloudfront" {
				args = append(args, "--precision", tc.precision)
			}
			caseFile, env, _ := simulateCase(t, tc.format, args...)
			if r := runCLI(t, env, "ingest", "-f", caseFile); r.code != 0 {
				t.Fatalf("ingest: exit %d\n%s\n%s", r.code, r.out, r.err)
			}
			raw, err := os.ReadFile(filepath.Join(filepath.Dir(caseFile), "truth.json"))
			if err != nil {
				t.Fatal(err)
			}
			var truth truthAll
			if err := json.Unmarshal(raw, &truth); err != nil {
				t.Fatal(err)
			}
			want := map[string]*expected{}
			confirmedEvents := 0
			for _, a := range truth.Affected {
				want[a.UserID] = &expected{level: a.RuleLevel, categories: a.Categories, viewers: map[string]bool{}}
				if truth.Precision == "ms" && a.RuleLevel != a.Level {
					t.Fatalf("truth: with ms precision rule_level %s != level %s for %s", a.RuleLevel, a.Level, a.UserID)
				}
			}
			ambiguous := 0
			for _, e := range truth.Events {
				if e.Ambiguous {
					ambiguous++
				}
				if len(e.Categories) == 0 || e.Ambiguous {
					continue
				}
				w := want[e.Victim]
				w.views++
				w.viewers[e.Viewer] = true
				if w.first == "" || e.Time < w.first {
					w.first = e.Time
				}
				if e.Time > w.last {
					w.last = e.Time
				}
				confirmedEvents++
			}

			r := runCLI(t, env, "affected", "-f", caseFile, "--format", "jsonl")
			if r.code != 0 {
				t.Fatalf("affected: %s", r.err)
			}
			got := map[string]triage.AffectedJSON{}
			sc := bufio.NewScanner(strings.NewReader(r.out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var a triage.AffectedJSON
				if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
					t.Fatal(err)
				}
				got[a.UserID] = a
			}
			if len(want) == 0 {
				t.Fatal("the simulation exposed nobody: the test would prove nothing")
			}
			for id, w := range want {
				g, ok := got[id]
				if !ok {
					t.Errorf("user %s (%s in the truth) is missing: an under-count", id, w.level)
					continue
				}
				if g.Level != w.level {
					t.Errorf("user %s: level %s, want %s", id, g.Level, w.level)
				}
				if !slices.Equal(g.Categories, w.categories) {
					t.Errorf("user %s: categories %v, want %v", id, g.Categories, w.categories)
				}
				if g.Views != w.views || g.Viewers != len(w.viewers) {
					t.Errorf("user %s: views %d viewers %d, want %d and %d", id, g.Views, g.Viewers, w.views, len(w.viewers))
				}
				if w.views > 0 && (g.FirstExposed == nil || !g.FirstExposed.Equal(mustTime(t, w.first)) ||
					!g.LastExposed.Equal(mustTime(t, w.last))) {
					t.Errorf("user %s: exposed %v – %v, want %s – %s", id, g.FirstExposed, g.LastExposed, w.first, w.last)
				}
			}
			for id, g := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("user %s reported %s but is not in the truth", id, g.Level)
				}
			}
			var tj struct {
				Totals struct {
					ConfirmedEvents int `json:"confirmed_events"`
					EmptyEvents     int `json:"empty_events"`
				} `json:"totals"`
			}
			tr := runCLI(t, env, "triage", "-f", caseFile, "--format", "json")
			if err := json.Unmarshal([]byte(tr.out), &tj); err != nil {
				t.Fatal(err)
			}
			if tj.Totals.ConfirmedEvents != confirmedEvents {
				t.Errorf("confirmed exposure events %d, want %d", tj.Totals.ConfirmedEvents, confirmedEvents)
			}
			if truth.Precision == "ms" && tj.Totals.EmptyEvents != truth.EmptyEvents {
				t.Errorf("empty events %d, want %d", tj.Totals.EmptyEvents, truth.EmptyEvents)
			}
			if truth.Precision == "s" && ambiguous == 0 {
				t.Errorf("no ambiguous event in a one-second simulation: the one-second rule is not exercised")
			}
			t.Logf("%d people (%d confirmed events, %d ambiguous) match the truth", len(want), confirmedEvents, ambiguous)
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("truth time %q: %v", s, err)
	}
	return v
}
