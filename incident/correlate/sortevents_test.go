package correlate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortEvents: the radix sort gives exactly the order of one comparison
// sort, for sizes on both sides of where it starts distributing, with
// many ties (same instant, same line, several victims), times before 1970,
// all events at one instant, and a few far outliers that leave most
// buckets empty.
func TestSortEvents(t *testing.T) {
	nm := &names{}
	for i := range 50 {
		nm.userIDs = append(nm.userIDs, fmt.Sprint(1000-i*7))
	}
	cmp := eventOrder(nm)
	gens := map[string]func(r *rand.Rand, i int) int64{
		"dense":    func(r *rand.Rand, _ int) int64 { return 1_498_096_800e9 + r.Int64N(1e6) },
		"ms":       func(r *rand.Rand, _ int) int64 { return 1_498_096_800e9 + r.Int64N(21600)*1e6 },
		"one":      func(r *rand.Rand, _ int) int64 { return 42 },
		"negative": func(r *rand.Rand, _ int) int64 { return -r.Int64N(1e12) },
		"outliers": func(r *rand.Rand, i int) int64 {
			return []int64{math.MinInt64 / 2, math.MaxInt64 / 2, r.Int64N(1e9)}[min(i%1000, 2)]
		},
		"extremes":  func(r *rand.Rand, i int) int64 { return []int64{math.MinInt64, math.MaxInt64, 0}[i%3] },
		"ascending": func(_ *rand.Rand, i int) int64 { return int64(i) * 1e6 },
	}
	for name, gen := range gens {
		for _, n := range []int{0, 1, 64, 65, 300, 4096, 10_000, 100_003} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 3))
				events := make([]cEvent, n)
				for i := range events {
					events[i] = cEvent{at: gen(r, i), file: int32(r.IntN(3)), line: r.Int64N(50),
						victim: int32(r.IntN(len(nm.userIDs) + 1)), kind: uint8(r.IntN(len(kindNames))), cats: uint32(i)}
				}
				want := slices.Clone(events)
				slices.SortStableFunc(want, cmp)
				got := slices.Clone(events)
				sortEvents(got, nm)
				for i := range got {
					if cmp(got[i], want[i]) != 0 {
						t.Fatalf("event %d of %d: got %+v, want %+v", i, n, got[i], want[i])
					}
				}
				// Nothing lost or duplicated (cats numbers each input).
				seen := make([]bool, n)
				for _, e := range got {
					if seen[e.cats] {
						t.Fatalf("event %d twice", e.cats)
					}
					seen[e.cats] = true
				}
			})
		}
	}
}
