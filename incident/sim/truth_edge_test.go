package sim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestAffectedByEdgeMerges checks truth.json's affected_by_edge against its
// affected: merged over the edges (confirmed if any edge confirmed, the
// union of the categories and of the viewer names, the sum of the views, the
// earliest first and the latest last exposure) the per-edge lists give
// today's affected exactly. Each edge's list must also be that edge's own:
// its views are the edge's non-empty events of the person.
func TestAffectedByEdgeMerges(t *testing.T) {
	tests := []struct {
		format, precision string
		seed              uint64
		ttl               time.Duration
	}{
		{FormatNginx, PrecisionMillisecond, 1, 0},
		{FormatNginx, PrecisionSecond, 2, 2 * time.Minute},
		{FormatCloudFront, PrecisionSecond, 3, 0},
		{FormatCloudFront, PrecisionSecond, 11, time.Minute},
		{FormatCloudflare, PrecisionMillisecond, 4, 0},
		{FormatCloudflare, PrecisionSecond, 5, 0},
		{FormatJSONL, PrecisionMillisecond, 6, time.Minute},
		{FormatJSONL, PrecisionSecond, 7, 0},
	}
	for _, tc := range tests {
		t.Run(tc.format+"-"+tc.precision+"-"+strconv.FormatUint(tc.seed, 10), func(t *testing.T) {
			t.Parallel()
			tr := simulateTruth(t, Options{Format: tc.format, Precision: tc.precision, Seed: tc.seed,
				Users: 1500, Requests: 25000, TTL: tc.ttl})
			checkAffectedByEdge(t, tr)
		})
	}
}

// simulateTruth generates o's logs and truth without a user database and
// reads truth.json back strictly.
func simulateTruth(t *testing.T, o Options) *truth {
	t.Helper()
	o.Out = filepath.Join(t.TempDir(), "out")
	o, err := o.normalize()
	if err != nil {
		t.Fatal(err)
	}
	g, err := generate(context.Background(), o, newPopulation(o.Seed, o.Users))
	if err != nil {
		t.Fatalf("generate: %v", err)
	}
	path := filepath.Join(o.Out, "truth.json")
	if err := writeTruth(path, g.truth); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var tr truth
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("truth.json: %v", err)
	}
	if !reflect.DeepEqual(&tr, g.truth) {
		t.Fatalf("truth.json does not read back as written")
	}
	return &tr
}

func checkAffectedByEdge(t *testing.T, tr *truth) {
	t.Helper()
	if got, want := slices.Sorted(maps.Keys(tr.AffectedByEdge)), slices.Sorted(slices.Values(tr.Edges)); !slices.Equal(got, want) {
		t.Fatalf("affected_by_edge keys %v, want the edges %v", got, want)
	}

	// Each edge's views are that edge's non-empty events.
	views := map[[2]string]int{} // (pop, victim)
	for _, ev := range tr.Events {
		if len(ev.Categories) > 0 {
			views[[2]string{ev.Pop, ev.Victim}]++
		}
	}

	type merged struct {
		a       truthAffected
		all     map[string]bool
		conf    map[string]bool
		viewers map[string]bool
	}
	people := map[string]*merged{}
	edgesWithPeople := 0
	for pop, list := range tr.AffectedByEdge {
		if len(list) > 0 {
			edgesWithPeople++
		}
		for i, e := range list {
			if i > 0 && idOrder(list[i-1].UserID, e.UserID) >= 0 {
				t.Errorf("%s: people not in increasing id order at %d (%s after %s)", pop, i, e.UserID, list[i-1].UserID)
			}
			if !slices.IsSorted(e.Viewers) || len(slices.Compact(slices.Clone(e.Viewers))) != len(e.Viewers) {
				t.Errorf("%s user %s: viewers %v not sorted and distinct", pop, e.UserID, e.Viewers)
			}
			if got, want := e.Views, views[[2]string{pop, e.UserID}]; got != want {
				t.Errorf("%s user %s: views %d, want the edge's %d non-empty events", pop, e.UserID, got, want)
			}
			confirmed := e.Level == levelConfirmed
			if confirmed != (e.Views > 0) || confirmed != (e.FirstExposed != nil) || confirmed != (len(e.Viewers) > 0) ||
				(e.RuleLevel == levelConfirmed && !confirmed) || len(e.Categories) == 0 {
				t.Errorf("%s user %s: inconsistent %+v", pop, e.UserID, e)
			}
			m := people[e.UserID]
			if m == nil {
				m = &merged{
					a:   truthAffected{UserID: e.UserID, Level: levelPossible, RuleLevel: levelPossible},
					all: map[string]bool{}, conf: map[string]bool{}, viewers: map[string]bool{},
				}
				people[e.UserID] = m
			}
			if e.Level == levelConfirmed {
				m.a.Level = levelConfirmed
			}
			if e.RuleLevel == levelConfirmed {
				m.a.RuleLevel = levelConfirmed
			}
			for _, c := range e.Categories {
				m.all[c] = true
			}
			for _, c := range e.ConfirmedCategories {
				m.conf[c] = true
			}
			for _, v := range e.Viewers {
				m.viewers[v] = true
			}
			m.a.Views += e.Views
			if e.FirstExposed != nil && (m.a.FirstExposed == nil || *e.FirstExposed < *m.a.FirstExposed) {
				m.a.FirstExposed = e.FirstExposed
			}
			if e.LastExposed != nil && (m.a.LastExposed == nil || *e.LastExposed > *m.a.LastExposed) {
				m.a.LastExposed = e.LastExposed
			}
		}
	}
	var got []truthAffected
	for _, m := range people {
		m.a.Categories = slices.Sorted(maps.Keys(m.all))
		m.a.ConfirmedCategories = append([]string{}, slices.Sorted(maps.Keys(m.conf))...)
		m.a.Viewers = len(m.viewers)
		got = append(got, m.a)
	}
	slices.SortFunc(got, func(a, b truthAffected) int { return idOrder(a.UserID, b.UserID) })

	if len(got) != len(tr.Affected) {
		t.Errorf("merged edges give %d people, affected has %d", len(got), len(tr.Affected))
	}
	for i := range min(len(got), len(tr.Affected)) {
		if !reflect.DeepEqual(got[i], tr.Affected[i]) {
			t.Errorf("merged affected[%d]:\n got %s\nwant %s", i, show(got[i]), show(tr.Affected[i]))
			break
		}
	}
	// Not degenerate: several edges hold people, someone is seen on more
	// than one edge, and each edge alone shows fewer than all.
	multi := 0
	for _, l := range tr.AffectedByEdge {
		if len(l) >= len(tr.Affected) {
			t.Errorf("an edge alone shows all %d people; the partial runs would show nothing", len(l))
		}
	}
	for id := range people {
		n := 0
		for _, l := range tr.AffectedByEdge {
			if slices.ContainsFunc(l, func(e truthEdgeAffected) bool { return e.UserID == id }) {
				n++
			}
		}
		if n > 1 {
			multi++
		}
	}
	if edgesWithPeople < 2 || multi == 0 || tr.Counts.Confirmed == 0 || tr.Counts.Possible == 0 {
		t.Errorf("a degenerate incident: %d edges with people, %d people on several edges, %+v", edgesWithPeople, multi, tr.Counts)
	}
}

func idOrder(a, b string) int {
	x, _ := strconv.ParseInt(a, 10, 64)
	y, _ := strconv.ParseInt(b, 10, 64)
	return cmp.Compare(x, y)
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
