package aggregate

import "github.com/RoaringBitmap/roaring/v2"

// smallSetSize is how many members a u32set keeps inline before it moves
// them to a midSet: most sets of a window are tiny, and an inline array
// costs neither an allocation nor a bitmap's container search.
const smallSetSize = 3

// midSetSize is how many members a midSet holds before they move to a
// roaring bitmap. Sets of a few addresses are common (the clients a
// workstation answers, a scanned host's scanners), and their members are
// spread over the address space: a bitmap then needs a container per
// member, where a small array needs one allocation and a scan of a cache
// line or two.
const midSetSize = 16

// u32set is an exact set of uint32: up to smallSetSize members inline,
// then up to midSetSize in a midSet, then a roaring bitmap.
type u32set struct {
	small [smallSetSize]uint32
	n     uint8 // members in small while big is nil
	big   *midSet
}

// midSet holds a u32set's members once they outgrow the inline array:
// in mid (unordered) while bm is nil, else in bm.
type midSet struct {
	mid [midSetSize]uint32
	n   uint8
	bm  *roaring.Bitmap
}

func (s *u32set) add(x uint32) {
	if s.big != nil {
		s.big.add(x)
		return
	}
	for i := uint8(0); i < s.n; i++ {
		if s.small[i] == x {
			return
		}
	}
	if s.n < smallSetSize {
		s.small[s.n] = x
		s.n++
		return
	}
	m := &midSet{n: smallSetSize + 1}
	copy(m.mid[:], s.small[:])
	m.mid[smallSetSize] = x
	s.big, s.n = m, 0
}

func (m *midSet) add(x uint32) {
	if m.bm != nil {
		m.bm.Add(x)
		return
	}
	for _, y := range m.mid[:m.n] {
		if y == x {
			return
		}
	}
	if int(m.n) < midSetSize {
		m.mid[m.n] = x
		m.n++
		return
	}
	m.bm = roaring.New()
	m.bm.AddMany(m.mid[:])
	m.bm.Add(x)
	m.n = 0
}

// bitmap is the set's roaring bitmap, nil while it has none.
func (s *u32set) bitmap() *roaring.Bitmap {
	if s.big == nil {
		return nil
	}
	return s.big.bm
}

// listed returns the members of a set that has no bitmap, in insertion
// order.
func (s *u32set) listed() []uint32 {
	if s.big == nil {
		return s.small[:s.n]
	}
	return s.big.mid[:s.big.n]
}

// iterate calls fn for every member (in increasing order only for a
// bitmap; other members come in insertion order).
func (s *u32set) iterate(fn func(x uint32) bool) {
	if bm := s.bitmap(); bm != nil {
		bm.Iterate(fn)
		return
	}
	for _, x := range s.listed() {
		if !fn(x) {
			return
		}
	}
}

// merge adds the members of o.
func (s *u32set) merge(o *u32set) {
	obm := o.bitmap()
	switch {
	case obm == nil:
		for _, x := range o.listed() {
			s.add(x)
		}
	case s.bitmap() == nil:
		// s has at most midSetSize members: it takes a copy of o's
		// bitmap and adds its own.
		bm := obm.Clone()
		bm.AddMany(s.listed())
		s.big, s.n = &midSet{bm: bm}, 0
	default:
		s.big.bm.Or(obm)
	}
}

// addrSet is an exact set of addresses: IPv4 by value, IPv6 by the id of
// its table's interning map (allocated with the first IPv6 member).
type addrSet struct {
	v4 u32set
	v6 *u32set
}

// u32index maps IPv4 addresses (uint32) to state indexes: open addressing
// with linear probing over 8-byte slots (key in the high half, index+1 in
// the low half; 0 is an empty slot), kept for the next window by reset.
// It costs one cache line per lookup where a Go map costs two or three.
type u32index struct {
	slots []uint64
	n     int
}

func (x *u32index) slot(k uint32) int {
	h := uint64(k) * 0x9e3779b97f4a7c15
	return int(h >> 32 & uint64(len(x.slots)-1))
}

// get returns the index of k.
func (x *u32index) get(k uint32) (int32, bool) {
	if len(x.slots) == 0 {
		return 0, false
	}
	mask := len(x.slots) - 1
	for i := x.slot(k); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == k {
			return int32(uint32(s)) - 1, true
		}
	}
}

// put adds k → v (k must not be present).
func (x *u32index) put(k uint32, v int32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	mask := len(x.slots) - 1
	i := x.slot(k)
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = uint64(k)<<32 | uint64(uint32(v+1))
	x.n++
}

func (x *u32index) grow() {
	old := x.slots
	x.slots = make([]uint64, max(2*len(old), 1024))
	x.n = 0
	for _, s := range old {
		if s != 0 {
			x.put(uint32(s>>32), int32(uint32(s))-1)
		}
	}
}

func (x *u32index) reset() {
	clear(x.slots)
	x.n = 0
}
