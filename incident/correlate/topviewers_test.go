package correlate

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

// TestTopViewers: the insertion selection equals sorting every viewer and
// keeping the first TopViewers, with many ties in people and views.
func TestTopViewers(t *testing.T) {
	for _, n := range []int{0, 1, TopViewers - 1, TopViewers, TopViewers + 1, 500, 5000} {
		r := rand.New(rand.NewPCG(uint64(n), 7))
		by := map[uint64]*vstat{}
		for i := range n {
			by[uint64(i)] = &vstat{people: r.IntN(5), views: r.IntN(4)}
		}
		name := func(code uint64) string { return fmt.Sprintf("v%05d", code) }
		var all []Viewer
		for code, vs := range by {
			all = append(all, Viewer{Viewer: name(code), People: vs.people, Views: vs.views})
		}
		sort.Slice(all, func(i, j int) bool {
			a, b := all[i], all[j]
			if a.People != b.People {
				return a.People > b.People
			}
			if a.Views != b.Views {
				return a.Views > b.Views
			}
			return a.Viewer < b.Viewer
		})
		want := all[:min(len(all), TopViewers)]
		got := topViewers(func(yield func(uint64, vstat) bool) {
			for code, vs := range by {
				if !yield(code, *vs) {
					return
				}
			}
		}, name)
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("n=%d:\ngot  %v\nwant %v", n, got, want)
		}
	}
}
