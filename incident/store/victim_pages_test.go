package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/breachctl/breachctl/internal/pgtest"
)

// TestVictimPagesStoredEqualSummed: the page sums written with a run (in
// two COPY streams for a large run) are what summing the run's events in
// the database gives, person by person — first event's categories, views
// by level, first and last — for events out of time order, several rules,
// unattributed events and kinds other than exposure.
func TestVictimPagesStoredEqualSummed(t *testing.T) {
	ctx, s, run := newCaseRun(t)
	const n = 210_000 // two streams
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2017, 6, 22, 0, 41, 0, 0, time.UTC)
	cats := []pq.StringArray{{"email", "name"}, {"email"}, {}, {"bank_account", "name"}}
	kinds := []string{"exposure", "exposure", "exposure", "empty", "unattributed"}
	evs := make([]ExposureEvent, n)
	for i := range evs {
		kind := kinds[rng.IntN(len(kinds))]
		e := ExposureEvent{EventNo: int64(i + 1), Kind: kind,
			At:  t0.Add(time.Duration(rng.IntN(6*3600)) * time.Second), // several events share a second
			Pop: "NRT51", CacheKey: "k", Path: fmt.Sprintf("/mypage/%d", rng.IntN(3)), Status: 200,
			Viewer: "ip:203.0.113.9", Categories: cats[rng.IntN(len(cats))], Rule: []string{"", "cache", "orders"}[rng.IntN(3)]}
		if kind != "unattributed" {
			e.Victim = sql.NullString{String: fmt.Sprint(100 + rng.IntN(300)), Valid: true}
			e.Level = sql.NullString{String: []string{"confirmed", "possible"}[rng.IntN(2)], Valid: true}
		}
		evs[i] = e
	}
	if err := s.SaveExposure(ctx, "c", run, n, func(i int, row *ExposureEvent) { *row = evs[i] }, nil); err != nil {
		t.Fatal(err)
	}
	read := func() map[string][]VictimPage {
		out := map[string][]VictimPage{}
		for u := 100; u < 400; u++ {
			id := fmt.Sprint(u)
			ps, err := s.VictimPages(ctx, "c", run, id)
			if err != nil {
				t.Fatal(err)
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i].Rule+ps[i].Path < ps[j].Rule+ps[j].Path })
			for i := range ps {
				ps[i].First, ps[i].Last = ps[i].First.UTC(), ps[i].Last.UTC()
			}
			out[id] = ps
		}
		return out
	}
	stored := read()
	var rows int
	if err := s.DB.Get(&rows, `SELECT count(*) FROM breachctl.victim_pages WHERE case_id = 'c' AND run = $1`, run); err != nil || rows == 0 {
		t.Fatalf("victim_pages rows = %d, %v: nothing was stored", rows, err)
	}
	if _, err := s.DB.Exec(`UPDATE breachctl.runs SET victim_pages = false WHERE case_id = 'c' AND run = $1`, run); err != nil {
		t.Fatal(err)
	}
	summed := read()
	if !reflect.DeepEqual(stored, summed) {
		for id := range stored {
			if !reflect.DeepEqual(stored[id], summed[id]) {
				t.Errorf("user %s: stored %+v\nsummed from the events %+v", id, stored[id], summed[id])
				break
			}
		}
	}
	total := 0
	for _, ps := range stored {
		for _, p := range ps {
			total += p.Confirmed + p.Possible
		}
	}
	want := 0
	for _, e := range evs {
		if e.Kind == "exposure" {
			want++
		}
	}
	if total != want {
		t.Errorf("the page sums count %d views, the run has %d exposure events", total, want)
	}
}

// newCaseRun opens a fresh case database with case "c" and one new run.
func newCaseRun(t *testing.T) (context.Context, *Store, int) {
	t.Helper()
	ctx := context.Background()
	url, _ := pgtest.NewDB(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.UpsertCase(ctx, Case{ID: "c", Title: "t", CaseFile: "f", CaseFileSHA256: "x"}); err != nil {
		t.Fatal(err)
	}
	run, err := s.NewRun(ctx, "c", "x", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, s, run
}
