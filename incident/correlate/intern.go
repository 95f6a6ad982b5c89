package correlate

import (
	"bytes"
	"hash/maphash"
	"sync"
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
	// table: linear probing, at most half full. An entry holds where its
	// string is, so that a lookup reads the table and the string and
	// nothing in between.
	table []slot
}

// slot is a table entry: the string's 32-bit hash (whose low bits pick its
// slot) above its id, 0 for an empty slot (id 0 is never stored); and the
// string's offset in the arena above its length (at most 1<<spanLenBits-1
// bytes, the longest log line being 1 MiB).
type slot struct {
	hashID uint64
	span   uint64
}

const spanLenBits = 24

func (s *slot) at(arena []byte) []byte {
	off, n := s.span>>spanLenBits, s.span&(1<<spanLenBits-1)
	return arena[off : off+n]
}

func newInterner() *interner {
	return &interner{seed: maphash.MakeSeed(), ends: []int{0}, table: make([]slot, 64)}
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
	return in.findHashed(b, in.hash(b))
}

// findHashed is find with b's hash already known (the caller's own hash
// function, used consistently for this interner).
func (in *interner) findHashed(b []byte, h uint32) (uint32, bool) {
	mask := uint32(len(in.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &in.table[i]
		if e.hashID == 0 {
			return 0, false
		}
		if uint32(e.hashID>>32) == h && bytes.Equal(e.at(in.arena), b) {
			return uint32(e.hashID), true
		}
	}
}

// id returns the id of b, adding it if it is new. b is copied.
func (in *interner) id(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return in.idHashed(b, in.hash(b))
}

// idHashed is id with b's hash already known (see findHashed).
func (in *interner) idHashed(b []byte, h uint32) uint32 {
	mask := uint32(len(in.table) - 1)
	i := h & mask
	for ; ; i = (i + 1) & mask {
		e := &in.table[i]
		if e.hashID == 0 {
			break
		}
		if uint32(e.hashID>>32) == h && bytes.Equal(e.at(in.arena), b) {
			return uint32(e.hashID)
		}
	}
	id := uint32(len(in.ends))
	off := len(in.arena)
	in.arena = append(in.arena, b...)
	in.ends = append(in.ends, len(in.arena))
	in.table[i] = slot{uint64(h)<<32 | uint64(id), uint64(off)<<spanLenBits | uint64(len(b))}
	if 2*len(in.ends) > len(in.table) {
		in.grow()
	}
	return id
}

// grow doubles the table; the stored hash bits place every entry again
// without touching the strings.
func (in *interner) grow() {
	t := make([]slot, 2*len(in.table))
	mask := uint32(len(t) - 1)
	for _, e := range in.table {
		if e.hashID == 0 {
			continue
		}
		i := uint32(e.hashID>>32) & mask
		for t[i].hashID != 0 {
			i = (i + 1) & mask
		}
		t[i] = e
	}
	in.table = t
}

// shardBits: a sharedInterner has 1<<shardBits shards.
const shardBits = 6

// sharedInterner is an interner the parsing workers add to at once: its
// shards, chosen by the top bits of the hash, are each locked on their own,
// so the two workers rarely meet. One table for all workers means each
// identity is stored once, not once per worker, and nothing needs remapping
// after the read. An id is the shard-local id times 1<<shardBits plus the
// shard: ids are dense up to the shards' imbalance, and the ids below
// 1<<shardBits (local id 0) are never used (nor are a shard's ids past its
// last): bytes returns nil for such a hole.
type sharedInterner struct {
	seed   maphash.Seed
	shards [1 << shardBits]struct {
		mu sync.Mutex
		in *interner
		_  [48]byte // one cache line each
	}
}

func newSharedInterner() *sharedInterner { return newSharedInternerFor(0) }

// newSharedInternerFor makes a sharedInterner whose tables already hold
// about n strings without growing (growing copies every entry).
func newSharedInternerFor(n int) *sharedInterner {
	si := &sharedInterner{seed: maphash.MakeSeed()}
	size := 64
	for size < 2*n>>shardBits+2 {
		size *= 2
	}
	for i := range si.shards {
		si.shards[i].in = newInterner()
		si.shards[i].in.table = make([]slot, size)
	}
	return si
}

func (si *sharedInterner) split(id uint32) (shard, local uint32) {
	return id & (1<<shardBits - 1), id >> shardBits
}

// id returns the id of b, adding it if it is new; safe for concurrent use.
func (si *sharedInterner) id(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	h := uint32(maphash.Bytes(si.seed, b) >> 32)
	shard := h >> (32 - shardBits) // the table slots use the low bits
	sh := &si.shards[shard]
	sh.mu.Lock()
	local := sh.in.idHashed(b, h)
	sh.mu.Unlock()
	return local<<shardBits | shard
}

// find returns the id of b, if b was added. Only after every id call has
// returned (it does not lock): then safe from several goroutines.
func (si *sharedInterner) find(b []byte) (uint32, bool) {
	if len(b) == 0 {
		return 0, true
	}
	h := uint32(maphash.Bytes(si.seed, b) >> 32)
	shard := h >> (32 - shardBits)
	local, ok := si.shards[shard].in.findHashed(b, h)
	if !ok {
		return 0, false
	}
	return local<<shardBits | shard, true
}

// findAll is find for many strings: ids[i], ok[i] for bs[i] (ids and ok as
// long as bs). A table slot and a string far apart in memory cost a cache
// miss each; reading the slots of 16 strings, then their strings, then
// comparing lets the misses of the 16 overlap instead of queueing.
func (si *sharedInterner) findAll(bs [][]byte, ids []uint32, ok []bool) {
	const group = 16
	var (
		h     [group]uint32
		slots [group]slot
		first [group]byte
	)
	for g := 0; g < len(bs); g += group {
		n := min(group, len(bs)-g)
		for k := range n {
			h[k] = uint32(maphash.Bytes(si.seed, bs[g+k]) >> 32)
			in := si.shards[h[k]>>(32-shardBits)].in
			slots[k] = in.table[h[k]&uint32(len(in.table)-1)]
		}
		for k := range n {
			if slots[k].hashID != 0 {
				in := si.shards[h[k]>>(32-shardBits)].in
				first[k] = in.arena[slots[k].span>>spanLenBits]
			}
		}
		for k := range n {
			b, shard := bs[g+k], h[k]>>(32-shardBits)
			in := si.shards[shard].in
			id, found := uint32(0), len(b) == 0
			switch e := &slots[k]; {
			case found || e.hashID == 0:
				// empty (id 0) or an empty slot: not added
			case uint32(e.hashID>>32) == h[k] && first[k] == b[0] && bytes.Equal(e.at(in.arena), b):
				id, found = uint32(e.hashID), true
			default: // probe on
				id, found = in.findHashed(b, h[k])
			}
			if found && id != 0 {
				id = id<<shardBits | shard
			}
			ids[g+k], ok[g+k] = id, found
		}
	}
}

// len is one more than the largest id (holes included), for tables
// indexed by id. Only after every id call has returned.
func (si *sharedInterner) len() int {
	n := 1
	for i := range si.shards {
		if l := si.shards[i].in.len(); l > 1 {
			n = max(n, ((l-1)<<shardBits|i)+1)
		}
	}
	return n
}

// bytes returns id's string, nil for 0 and for a hole; shared, do not
// modify. Only after every id call has returned.
func (si *sharedInterner) bytes(id uint32) []byte {
	shard, local := si.split(id)
	in := si.shards[shard].in
	if local == 0 || int(local) >= in.len() {
		return nil
	}
	return in.bytes(local)
}

// str returns id's string as a new string ("" for a hole).
func (si *sharedInterner) str(id uint32) string { return string(si.bytes(id)) }

// strs returns the string of every id but the holes, in id order: slices of
// one copy of each shard's arena, not an allocation per string. Only after
// every id call has returned.
func (si *sharedInterner) strs() []string {
	var arenas [1 << shardBits]string
	total := 0
	for i := range si.shards {
		arenas[i] = string(si.shards[i].in.arena)
		total += si.shards[i].in.len() - 1
	}
	out := make([]string, 0, total)
	for id, n := uint32(1), uint32(si.len()); id < n; id++ {
		shard, local := si.split(id)
		in := si.shards[shard].in
		if local == 0 || int(local) >= in.len() {
			continue // a hole
		}
		out = append(out, arenas[shard][in.ends[local-1]:in.ends[local]])
	}
	return out
}
