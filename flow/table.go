package flow

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// connRef names a connection slot in a connTable (0 is no connection).
// Timers and the recency list hold references, not pointers: they stay
// pointer-free (the garbage collector does not scan them) and half the
// size.
type connRef uint32

// slabShift sizes the chunks of connection slots (1<<slabShift each):
// slots never move, so a *conn stays valid while the slot lives.
const (
	slabShift = 9
	slabMask  = 1<<slabShift - 1
)

// connTable is the connection table: connection slots allocated in chunks
// and recycled through a free list, and an open-addressing hash index
// from key to slot (linear probing, backward-shift deletion, no
// tombstones). An index slot is 8 bytes; a Go map of connKey to *conn
// costs about 48 bytes per entry and probes twice per new connection.
type connTable struct {
	chunks []*[1 << slabShift]conn
	free   []connRef
	// next is the first slot never handed out.
	next connRef

	index []indexSlot // len is a power of two, or 0
	count int
	// seed keys the hash, so that the index's probe runs cannot be
	// predicted by whoever chooses the addresses.
	seed [5]uint64
}

// indexSlot is one hash index entry: the key's 32-bit hash (its low bits
// are the home position) and the slot it names (0: empty).
type indexSlot struct {
	hash uint32
	ref  connRef
}

func newConnTable() *connTable {
	t := &connTable{}
	for i := range t.seed {
		t.seed[i] = rand.Uint64()
	}
	t.next = 1 // slot 0 is the recency list's sentinel
	t.at(0)
	return t
}

// at returns slot r, allocating its chunk the first time.
func (t *connTable) at(r connRef) *conn {
	ci := int(r >> slabShift)
	for ci >= len(t.chunks) {
		t.chunks = append(t.chunks, new([1 << slabShift]conn))
	}
	return &t.chunks[ci][r&slabMask]
}

// get returns slot r, which must have been allocated.
func (t *connTable) get(r connRef) *conn {
	return &t.chunks[r>>slabShift][r&slabMask]
}

// alloc takes a free slot.
func (t *connTable) alloc() (connRef, *conn) {
	if n := len(t.free); n > 0 {
		r := t.free[n-1]
		t.free = t.free[:n-1]
		return r, t.get(r)
	}
	r := t.next
	t.next++
	return r, t.at(r)
}

// release returns slot r to the free list; it must not be in the index.
func (t *connTable) release(r connRef) { t.free = append(t.free, r) }

// hash is a keyed multiply-mix of the key's words (wyhash's folded
// 64x64->128-bit products).
func (t *connTable) hash(k *connKey) uint32 {
	le := binary.LittleEndian
	s := &t.seed
	h := mix(le.Uint64(k.a[:8])^s[0], le.Uint64(k.a[8:])^s[1])
	h = mix(h^le.Uint64(k.b[:8])^s[2], le.Uint64(k.b[8:])^s[3])
	h = mix(h^(uint64(k.pa)<<24|uint64(k.pb)<<8|uint64(k.proto))^s[4], s[0]^s[3])
	return uint32(h) ^ uint32(h>>32)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// lookup returns the slot of k, or 0 and the hash to insert it with.
func (t *connTable) lookup(k *connKey) (connRef, uint32) {
	h := t.hash(k)
	if len(t.index) == 0 {
		return 0, h
	}
	mask := uint32(len(t.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := t.index[i]
		if s.ref == 0 {
			return 0, h
		}
		if s.hash == h && t.get(s.ref).key.equal(k) {
			return s.ref, h
		}
	}
}

// insert indexes slot r under hash h (from lookup); its key must not be
// in the index yet.
func (t *connTable) insert(h uint32, r connRef) {
	if 4*(t.count+1) > 3*len(t.index) {
		t.grow()
	}
	mask := uint32(len(t.index) - 1)
	i := h & mask
	for t.index[i].ref != 0 {
		i = (i + 1) & mask
	}
	t.index[i] = indexSlot{hash: h, ref: r}
	t.count++
}

// delete removes slot r, whose key is k, from the index.
func (t *connTable) delete(k *connKey, r connRef) {
	mask := uint32(len(t.index) - 1)
	i := t.hash(k) & mask
	for t.index[i].ref != r {
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move later entries of the probe run into
	// the hole when their home position allows it.
	for {
		t.index[i] = indexSlot{}
		j := i
		for {
			j = (j + 1) & mask
			s := t.index[j]
			if s.ref == 0 {
				t.count--
				return
			}
			home := s.hash & mask
			// s may move to i unless its home lies cyclically in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				t.index[i] = s
				i = j
				break
			}
		}
	}
}

// grow doubles the index (at least 1024 slots).
func (t *connTable) grow() {
	old := t.index
	n := max(1024, 2*len(old))
	t.index = make([]indexSlot, n)
	mask := uint32(n - 1)
	for _, s := range old {
		if s.ref == 0 {
			continue
		}
		i := s.hash & mask
		for t.index[i].ref != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = s
	}
}

// each calls fn for every indexed slot.
func (t *connTable) each(fn func(connRef, *conn)) {
	for _, s := range t.index {
		if s.ref != 0 {
			fn(s.ref, t.get(s.ref))
		}
	}
}
