package correlate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/breachctl/breachctl/internal/citustest"
	"github.com/breachctl/breachctl/internal/pgtest"
)

// randomMerged makes responses for keys lineage keys: FILLs and CACHED
// responses by a few identities (some anonymous), at sub-second or
// one-second times crowded into a few seconds (so ticks overlap), some
// outside the window or with a status that is not cacheable.
func randomMerged(seed uint64, keys int) (*merged, *rules) {
	rng := rand.New(rand.NewPCG(seed, 7))
	m := &merged{idents: newSharedInterner()}
	idents := []uint32{0}
	for i := 0; i < 9; i++ {
		idents = append(idents, m.idents.id([]byte(fmt.Sprintf("sess-%d", i))))
	}
	base := time.Date(2017, 6, 22, 1, 0, 0, 0, time.UTC).UnixNano()
	r := newRules(time.Unix(0, base+2e9), time.Unix(0, base+40e9), []int{200})
	for k := 0; k < keys; k++ {
		m.groups = append(m.groups, len(m.events))
		coarseKey := rng.IntN(3) == 0
		n := 1 + rng.IntN(40)
		for i := 0; i < n; i++ {
			e := event{key: uint32(k), file: int32(rng.IntN(3)), line: int64(len(m.events)), // the line numbers the response (sqlLineage)
				route: uint16(rng.IntN(2)),
				ident: idents[rng.IntN(len(idents))], status: 200, fill: rng.IntN(3) == 0}
			if rng.IntN(10) == 0 {
				e.status = 404
			}
			e.coarse = coarseKey || rng.IntN(8) == 0
			e.t = base + int64(rng.IntN(45))*int64(time.Second)
			if !e.coarse {
				e.t += int64(rng.IntN(4)) * int64(250*time.Millisecond)
			}
			if e.fill {
				m.fills++
			}
			m.events = append(m.events, e)
		}
	}
	m.groups = append(m.groups, len(m.events))
	return m, r
}

// sqlLineage uploads m's responses (as one parsing worker's) into table
// (distributed by key on Citus) and reads the SQL lineage back: candidates
// by event index (events are numbered by line), as identities, sorted,
// "?" for unknown and "" for a page with no personal data; stored pages by
// identity and route.
func sqlLineage(t *testing.T, db *sqlx.DB, table string, citus bool, m *merged, r *rules) (map[int][]string, map[string]bool) {
	t.Helper()
	ctx := context.Background()
	col := &Collector{idents: m.idents}
	s := &sink{col: col, keys: newInterner(), ips: newInterner()}
	for k := 0; k+1 < len(m.groups); k++ {
		s.keys.id([]byte(fmt.Sprintf("key-%d", k)))
	}
	s.events = [][]event{slices.Clone(m.events)}
	s.nEvents = len(m.events)
	col.sinks = []*sink{s}
	e := &SQLEngine{DB: db, Citus: citus, Table: table, Temporary: true}
	if err := e.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := col.Upload(ctx, e); err != nil {
		t.Fatal(err)
	}
	m2, ln, err := e.lineage(ctx, col, r)
	if err != nil {
		t.Fatal(err)
	}
	if m2.responses != int64(len(m.events)) {
		t.Errorf("%d responses counted in SQL, %d uploaded", m2.responses, len(m.events))
	}
	cands := map[int][]string{}
	for i := range ln.cached {
		ce := &ln.cached[i]
		var c []string
		for _, o := range ln.candsOf(ce) {
			c = append(c, objName(m2, o))
		}
		slices.Sort(c)
		cands[int(m2.events[ce.ev].line)] = slices.Compact(c)
	}
	stored := map[string]bool{}
	for sk := range ln.eachStored() {
		stored[fmt.Sprintf("%s/%d", objName(m2, sk.ident), sk.route)] = true
	}
	return cands, stored
}

func objName(m *merged, o uint32) string {
	if o == unknownObj {
		return "?"
	}
	return string(m.idents.bytes(o))
}

// goLineage is merged.lineage in the same shape.
func goLineage(m *merged, r *rules) (map[int][]string, map[string]bool) {
	ln := m.lineage(r)
	cands := map[int][]string{}
	for i := range ln.cached {
		ce := &ln.cached[i]
		var c []string
		for _, o := range ln.candsOf(ce) {
			c = append(c, objName(m, o))
		}
		slices.Sort(c)
		cands[int(m.events[ce.ev].line)] = c
	}
	stored := map[string]bool{}
	for sk := range ln.eachStored() {
		stored[fmt.Sprintf("%s/%d", objName(m, sk.ident), sk.route)] = true
	}
	return cands, stored
}

func compareLineage(t *testing.T, where string, m *merged, gotC, wantC map[int][]string, gotS, wantS map[string]bool) {
	t.Helper()
	if len(wantC) == 0 || len(wantS) == 0 {
		t.Fatalf("%s: the Go lineage kept %d responses and %d stored pages: the test would prove nothing", where, len(wantC), len(wantS))
	}
	bad := 0
	for ev, want := range wantC {
		if got, ok := gotC[ev]; !ok || !slices.Equal(got, want) {
			if bad++; bad <= 5 {
				e := m.events[ev]
				t.Errorf("%s: response %d (key %d, t %d, coarse %v, ident %d): SQL candidates %v, Go %v", where, ev, e.key, e.t, e.coarse, e.ident, got, want)
			}
		}
	}
	for ev, got := range gotC {
		if _, ok := wantC[ev]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: SQL keeps response %d (candidates %v), Go does not", where, ev, got)
			}
		}
	}
	if len(gotS) != len(wantS) {
		t.Errorf("%s: %d stored pages in SQL, %d in Go", where, len(gotS), len(wantS))
	}
	for sk := range wantS {
		if !gotS[sk] {
			t.Errorf("%s: stored page %+v missing in SQL", where, sk)
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d responses differ in all", where, bad)
	}
}

// TestLineageSQLEqualsGo: on one PostgreSQL (--engine postgres to be),
// the SQL lineage gives every CACHED response the candidates the Go
// lineage gives, and the same stored pages.
func TestLineageSQLEqualsGo(t *testing.T) {
	_, db := pgtest.NewDB(t)
	for seed := uint64(1); seed <= 3; seed++ {
		m, r := randomMerged(seed, 300)
		table := fmt.Sprintf("records_%d", seed)
		gotC, gotS := sqlLineage(t, db, table, false, m, r)
		wantC, wantS := goLineage(m, r)
		compareLineage(t, "postgres seed "+fmt.Sprint(seed), m, gotC, wantC, gotS, wantS)
	}
}

// TestLineageSQLOnCitus: the same on a real Citus cluster (a coordinator
// and two workers), the records distributed by key: the candidates are
// computed on the workers, one task per shard, and equal the Go lineage's.
func TestLineageSQLOnCitus(t *testing.T) {
	cl := citustest.Start(t, 2)
	db, err := sqlx.Open("postgres", cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m, r := randomMerged(11, 400)
	gotC, gotS := sqlLineage(t, db, "records", true, m, r)
	wantC, wantS := goLineage(m, r)
	compareLineage(t, "citus", m, gotC, wantC, gotS, wantS)
	var plan []string
	e := &SQLEngine{DB: db, Citus: true, Table: "records", Temporary: true}
	if err := e.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := db.Select(&plan, "EXPLAIN "+fmt.Sprintf(CandidatesSQL, "records"), r.start, r.end, pq.Array([]int64{200}), pq.Array([]int64{0})); err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "Task Count: 32") {
		t.Errorf("the candidates are not computed one task per shard on the workers:\n%s", p)
	}
}
