package correlate

import (
	"bytes"
	"hash/maphash"
)

// interner maps byte strings to dense ids; id 0 is reserved for "none" (the
// empty string). It holds millions of identities without a pointer: the
// strings are appended to one byte arena and found through an
// open-addressing table, so adding one allocates nothing (amortised) and the
// garbage collector never scans any of it. A Go map[string]uint32 costs a
// string allocation per entry and a scan of every key at each collection.
type interner struct {
	seed  maphash.Seed
	arena []byte
	// ends[id] is where id's bytes end in arena; they start at ends[id-1].
	ends []int
	// table: linear probing, at most half full. An entry is the top 32
	// bits of the string's hash (which also pick its slot) above its id;
	// 0 is an empty slot (id 0 is never stored).
	table []uint64
}

func newInterner() *interner {
	return &interner{seed: maphash.MakeSeed(), ends: []int{0}, table: make([]uint64, 64)}
}

// len is the number of ids, counting id 0.
func (in *interner) len() int { return len(in.ends) }

// bytes returns id's string; it is shared: do not modify or keep it past
// the next id call.
func (in *interner) bytes(id uint32) []byte {
	if id == 0 {
		return nil
	}
	return in.arena[in.ends[id-1]:in.ends[id]]
}

// str returns id's string as a new string.
func (in *interner) str(id uint32) string { return string(in.bytes(id)) }

func (in *interner) hash(b []byte) uint32 { return uint32(maphash.Bytes(in.seed, b) >> 32) }

// find returns the id of b, if b was added. It only reads: safe to call
// from several goroutines when nothing is added meanwhile.
func (in *interner) find(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, true
	}
	h := in.hash(b)
	mask := uint32(len(in.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := in.table[i]
		if e == 0 {
			return 0, false
		}
		if uint32(e>>32) == h && bytes.Equal(in.bytes(uint32(e)), b) {
			return uint32(e), true
		}
	}
}

// id returns the id of b, adding it if it is new. b is copied.
func (in *interner) id(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	h := in.hash(b)
	mask := uint32(len(in.table) - 1)
	i := h & mask
	for ; ; i = (i + 1) & mask {
		e := in.table[i]
		if e == 0 {
			break
		}
		if uint32(e>>32) == h && bytes.Equal(in.bytes(uint32(e)), b) {
			return uint32(e)
		}
	}
	id := uint32(len(in.ends))
	in.arena = append(in.arena, b...)
	in.ends = append(in.ends, len(in.arena))
	in.table[i] = uint64(h)<<32 | uint64(id)
	if 2*len(in.ends) > len(in.table) {
		in.grow()
	}
	return id
}

// grow doubles the table; the stored hash bits place every entry again
// without touching the strings.
func (in *interner) grow() {
	t := make([]uint64, 2*len(in.table))
	mask := uint32(len(t) - 1)
	for _, e := range in.table {
		if e == 0 {
			continue
		}
		i := uint32(e>>32) & mask
		for t[i] != 0 {
			i = (i + 1) & mask
		}
		t[i] = e
	}
	in.table = t
}
