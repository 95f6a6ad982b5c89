package correlate

import (
	"fmt"
	"math/rand/v2"
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
