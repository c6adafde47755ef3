package flow

// Timer kinds. Analyzer timers (expire, attempt, delete) are cancelled
// together by TCP's CancelTimers; the inactivity timer belongs to the
// session and is cancelled only when its timeout changes.
const (
	timerInactivity uint8 = iota + 1
	timerTCPExpire
	timerTCPAttempt
	timerConnDelete
	timerDNSExpire
)

// timer is one scheduled callback in network time (Unix nanoseconds).
// Cancellation is lazy: a timer whose incarnation or generation no longer
// matches its connection is dropped when it comes due (or when the heap is
// compacted). Timers are ordered by (when, seq): equal times fire in the
// order they were scheduled. 32 bytes, two per cache line.
type timer struct {
	when int64
	// seqKind is the scheduling sequence number (upper 56 bits) and the
	// kind (low 8 bits); comparing it compares the sequence numbers.
	seqKind uint64
	c       *conn
	inc     uint32 // c.incarnation when scheduled
	gen     uint32 // c.anaGen or c.inactGen when scheduled
}

func (tm *timer) kind() uint8 { return uint8(tm.seqKind) }

// before is the heap order.
func (tm *timer) before(o *timer) bool {
	return tm.when < o.when || (tm.when == o.when && tm.seqKind < o.seqKind)
}

// stale reports whether the timer was cancelled: its connection was
// removed (and maybe recycled) or its generation moved on.
func (tm *timer) stale() bool {
	c := tm.c
	if c.incarnation != tm.inc || c.removed {
		return true
	}
	if tm.kind() == timerInactivity {
		return tm.gen != c.inactGen
	}
	return tm.gen != c.anaGen
}

// heapArity is the fan-out of the timer heap: a 4-ary heap is half as
// deep as a binary one and its children share cache lines.
const heapArity = 4

// timerHeap is a 4-ary min-heap ordered by (when, seq); hand-written so
// that pushing and popping never box values. Sifting moves a hole instead
// of swapping.
type timerHeap struct {
	items []timer
	seq   uint64
}

func (h *timerHeap) push(t timer, kind uint8) {
	h.seq++
	t.seqKind = h.seq<<8 | uint64(kind)
	h.items = append(h.items, t)
	h.up(len(h.items)-1, t)
}

// up places t at or above index i.
func (h *timerHeap) up(i int, t timer) {
	items := h.items
	for i > 0 {
		p := (i - 1) / heapArity
		if !t.before(&items[p]) {
			break
		}
		items[i] = items[p]
		i = p
	}
	items[i] = t
}

// down places t at or below index i.
func (h *timerHeap) down(i int, t timer) {
	items := h.items
	n := len(items)
	for {
		first := heapArity*i + 1
		if first >= n {
			break
		}
		m := first
		end := min(first+heapArity, n)
		for j := first + 1; j < end; j++ {
			if items[j].before(&items[m]) {
				m = j
			}
		}
		if !items[m].before(&t) {
			break
		}
		items[i] = items[m]
		i = m
	}
	items[i] = t
}

// top returns the earliest timer; the heap must not be empty.
func (h *timerHeap) top() *timer { return &h.items[0] }

// pop removes the earliest timer; the heap must not be empty.
func (h *timerHeap) pop() timer {
	n := len(h.items) - 1
	top := h.items[0]
	last := h.items[n]
	h.items[n] = timer{}
	h.items = h.items[:n]
	if n > 0 {
		h.down(0, last)
	}
	return top
}

func (h *timerHeap) len() int { return len(h.items) }

// compact drops every stale timer and restores the heap order. The order
// of the remaining timers is unchanged, as (when, seq) is a total order.
func (h *timerHeap) compact() {
	k := 0
	for i := range h.items {
		if !h.items[i].stale() {
			h.items[k] = h.items[i]
			k++
		}
	}
	clear(h.items[k:])
	h.items = h.items[:k]
	if k > 1 {
		for i := (k - 2) / heapArity; i >= 0; i-- {
			h.down(i, h.items[i])
		}
	}
	// Give memory back after a burst (e.g. a flood of short-lived
	// connections that were evicted).
	if cap(h.items) > 4096 && cap(h.items) > 4*k {
		h.items = append(make([]timer, 0, 2*k), h.items...)
	}
}
