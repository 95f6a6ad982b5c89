package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestInterner: against a Go map, through many table growths, with
// strings that differ only in their last byte, prefixes of each other,
// binary bytes and the empty string.
func TestInterner(t *testing.T) {
	in := newInterner()
	want := map[string]uint32{"": 0}
	order := []string{""}
	r := rand.New(rand.NewPCG(1, 2))
	add := func(s string) {
		got := in.id([]byte(s))
		id, seen := want[s]
		if !seen {
			id = uint32(len(order))
			want[s] = id
			order = append(order, s)
		}
		if got != id {
			t.Fatalf("id(%q) = %d, want %d", s, got, id)
		}
	}
	for i := range 50_000 {
		switch i % 5 {
		case 0:
			add(fmt.Sprintf("sess-%032x", r.Uint64()))
		case 1:
			add(fmt.Sprintf("sess-%d", i%997)) // repeats
		case 2:
			add(order[r.IntN(len(order))]) // an old one again
		case 3:
			add(string([]byte{byte(i), 0, byte(i >> 8), 0xff}))
		case 4:
			add(fmt.Sprintf("sess-%d", i%997)[:5]) // a prefix of the repeats
		}
	}
	if in.len() != len(order) {
		t.Errorf("len() = %d, want %d", in.len(), len(order))
	}
	for id, s := range order {
		if got := in.str(uint32(id)); got != s {
			t.Errorf("str(%d) = %q, want %q", id, got, s)
		}
		if got, ok := in.find([]byte(s)); !ok || got != uint32(id) {
			t.Errorf("find(%q) = %d, %v; want %d, true", s, got, ok, id)
		}
	}
	for _, s := range []string{"sess-", "sess-9999", "never added", "\x00"} {
		if _, ok := want[s]; ok {
			continue
		}
		if id, ok := in.find([]byte(s)); ok {
			t.Errorf("find(%q) = %d, true; want not found", s, id)
		}
	}
	// The argument is copied: changing it afterwards changes nothing.
	b := []byte("mutable-identity")
	id := in.id(b)
	b[0] = 'X'
	if got := in.str(id); got != "mutable-identity" {
		t.Errorf("after the caller changed its bytes, str(%d) = %q, want %q", id, got, "mutable-identity")
	}
}

func BenchmarkInterner(b *testing.B) {
	ids := make([][]byte, 1<<20)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%032x", uint64(i)*0x9e3779b97f4a7c15)
	}
	b.ResetTimer()
	for range b.N {
		in := newInterner()
		for _, id := range ids {
			in.id(id)
		}
		for _, id := range ids {
			in.id(id)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2*len(ids)), "ns/lookup")
}

// TestSharedInterner: two goroutines adding overlapping identities at once
// get one id per identity; ids round-trip, holes read as nil, and len
// covers every id.
func TestSharedInterner(t *testing.T) {
	const n = 20_000
	t.Run("growing", func(t *testing.T) { testSharedInterner(t, newSharedInterner(), n) })
	t.Run("sized", func(t *testing.T) { testSharedInterner(t, newSharedInternerFor(n), n) })
	t.Run("undersized", func(t *testing.T) { testSharedInterner(t, newSharedInternerFor(n/10), n) })
}

func testSharedInterner(t *testing.T, si *sharedInterner, n int) {
	name := func(i int) []byte { return fmt.Appendf(nil, "session-%06d", i) }
	got := make([][]uint32, 2)
	done := make(chan int)
	for w := range 2 {
		go func() {
			got[w] = make([]uint32, n)
			for k := range n {
				i := k
				if w == 1 {
					i = n - 1 - k // the other way round: they meet in the middle
				}
				got[w][i] = si.id(name(i))
			}
			done <- w
		}()
	}
	<-done
	<-done
	seen := map[uint32]int{}
	for i := range n {
		id := got[0][i]
		if got[1][i] != id {
			t.Fatalf("identity %d: ids %d and %d from the two goroutines, want one", i, id, got[1][i])
		}
		if j, dup := seen[id]; dup {
			t.Fatalf("identities %d and %d share id %d", j, i, id)
		}
		seen[id] = i
		if id == 0 || int(id) >= si.len() {
			t.Fatalf("identity %d: id %d outside [1, len() = %d)", i, id, si.len())
		}
		if s := si.str(id); s != string(name(i)) {
			t.Errorf("str(%d) = %q, want %q", id, s, name(i))
		}
		if f, ok := si.find(name(i)); !ok || f != id {
			t.Errorf("find(%q) = %d, %v; want %d, true", name(i), f, ok, id)
		}
	}
	holes := 0
	for id := 0; id < si.len(); id++ {
		if _, used := seen[uint32(id)]; !used {
			holes++
			if b := si.bytes(uint32(id)); b != nil {
				t.Errorf("bytes(%d) = %q for an unused id, want nil", id, b)
			}
		}
	}
	if holes > n/4 {
		t.Errorf("%d unused ids below len() = %d for %d identities: the shards are badly unbalanced", holes, si.len(), n)
	}
	if _, ok := si.find([]byte("never added")); ok {
		t.Errorf("find(never added) = found, want not found")
	}
	// strs: every identity once, in id order, holes skipped.
	var want []string
	for id := 1; id < si.len(); id++ {
		if i, used := seen[uint32(id)]; used {
			want = append(want, string(name(i)))
		}
	}
	if got := si.strs(); !slices.Equal(got, want) {
		t.Errorf("strs() = %d strings, want the %d identities in id order", len(got), len(want))
	}
	if id := si.id(nil); id != 0 {
		t.Errorf("id(empty) = %d, want 0", id)
	}
}

// BenchmarkInternerFind: finding a million identities in random order, as
// the answers of the sessions query arrive.
func BenchmarkInternerFind(b *testing.B) {
	in := newInterner()
	ids := make([][]byte, 1<<20)
	for i := range ids {
		ids[i] = fmt.Appendf(nil, "%032x", uint64(i)*0x9e3779b97f4a7c15)
		in.id(ids[i])
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
	b.ResetTimer()
	for range b.N {
		for _, id := range ids {
			if _, ok := in.find(id); !ok {
				b.Fatal("not found")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/find")
}
