package flow

import (
	"math"
	"slices"
	"time"
)

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
// Cancellation is lazy: a timer whose generation no longer matches its
// connection's (or whose connection was removed) is dropped when it comes
// due (or when the queue is compacted). Timers are ordered by (when, seq):
// equal times fire in the order they were scheduled. 24 bytes and
// pointer-free: the garbage collector never scans the queue.
type timer struct {
	when int64
	// seqKind is the scheduling sequence number (upper 56 bits) and the
	// kind (low 8 bits); comparing it compares the sequence numbers.
	seqKind uint64
	ref     connRef
	gen     uint32 // c.anaGen or c.inactGen when scheduled
}

func (tm *timer) kind() uint8 { return uint8(tm.seqKind) }

// before is the heap order.
func (tm *timer) before(o *timer) bool {
	return tm.when < o.when || (tm.when == o.when && tm.seqKind < o.seqKind)
}

// stale reports whether the timer was cancelled: its connection was
// removed or its generation moved on (a recycled slot's generations
// continue from the previous connection's, so they never match its
// timers).
func (tm *timer) stale(c *conn) bool {
	if c.removed {
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
}

// push adds t, whose seqKind is already set.
func (h *timerHeap) push(t timer) {
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

// compact drops every stale timer and restores the heap order. The order
// of the remaining timers is unchanged, as (when, seq) is a total order.
func (h *timerHeap) compact(conns *connTable) {
	k := 0
	for i := range h.items {
		if !h.items[i].stale(conns.get(h.items[i].ref)) {
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

// maxLanes bounds the FIFO lanes of a timerQueue.
const maxLanes = 8

// timerQueue is the tracker's priority queue of timers, ordered by (when,
// seq) exactly like a single heap. Nearly every timer is scheduled at "now
// + a configured timeout" (or last packet + timeout, with the last packet
// now), and network time never goes back, so the timers of one such delay
// arrive in order: each delay gets a FIFO lane where pushing appends and
// the earliest is the head. A timer that does not extend its lane in order
// goes to a heap. The earliest timer overall is the least of the lane heads
// and the heap's top, so the order is the heap's order, at O(1) per push
// and O(lanes) per pop instead of O(log n) with cache misses.
type timerQueue struct {
	conns  *connTable // the connections the timers refer to
	lanes  [maxLanes]timerLane
	delays [maxLanes]int64 // the delay served by each lane
	nLanes int
	heap   timerHeap
	seq    uint64
	n      int
	// notBefore is a lower bound of the earliest timer's time: popDue
	// returns at once while now is below it.
	notBefore int64
}

// timerLane is a FIFO of timers with non-decreasing (when, seq).
type timerLane struct {
	items []timer
	head  int
}

// init gives a lane to each distinct positive delay (the configured
// timeouts), at most maxLanes.
func (q *timerQueue) init(delays ...time.Duration) {
	q.notBefore = math.MinInt64
	for _, d := range delays {
		if d <= 0 || q.nLanes == maxLanes || slices.Contains(q.delays[:q.nLanes], int64(d)) {
			continue
		}
		q.delays[q.nLanes] = int64(d)
		q.nLanes++
	}
}

func (q *timerQueue) len() int { return q.n }

// push schedules t; now is the current network time.
func (q *timerQueue) push(t timer, kind uint8, now int64) {
	q.seq++
	t.seqKind = q.seq<<8 | uint64(kind)
	q.n++
	q.notBefore = min(q.notBefore, t.when)
	d := t.when - now
	for i := 0; i < q.nLanes; i++ {
		if q.delays[i] != d {
			continue
		}
		l := &q.lanes[i]
		if n := len(l.items); n == l.head || l.items[n-1].when <= t.when {
			if l.head > 1024 && 2*l.head > len(l.items) {
				k := copy(l.items, l.items[l.head:])
				clear(l.items[k:])
				l.items = l.items[:k]
				l.head = 0
			}
			l.items = append(l.items, t)
			return
		}
		break
	}
	q.heap.push(t)
}

// popDue removes and returns the earliest timer if it is due at now.
func (q *timerQueue) popDue(now int64) (timer, bool) {
	if now < q.notBefore {
		return timer{}, false
	}
	var best *timer
	lane := -1
	if len(q.heap.items) > 0 {
		best = &q.heap.items[0]
	}
	for i := 0; i < q.nLanes; i++ {
		l := &q.lanes[i]
		if l.head < len(l.items) && (best == nil || l.items[l.head].before(best)) {
			best, lane = &l.items[l.head], i
		}
	}
	if best == nil {
		q.notBefore = math.MaxInt64
		return timer{}, false
	}
	if best.when > now {
		q.notBefore = best.when
		return timer{}, false
	}
	q.n--
	if lane < 0 {
		return q.heap.pop(), true
	}
	l := &q.lanes[lane]
	t := l.items[l.head]
	l.items[l.head] = timer{}
	l.head++
	if l.head == len(l.items) {
		l.items, l.head = l.items[:0], 0
	}
	return t, true
}

// compact drops every stale timer; the order of the others is unchanged.
func (q *timerQueue) compact() {
	conns := q.conns
	q.heap.compact(conns)
	q.n = len(q.heap.items)
	for i := 0; i < q.nLanes; i++ {
		l := &q.lanes[i]
		k := 0
		for j := l.head; j < len(l.items); j++ {
			if !l.items[j].stale(conns.get(l.items[j].ref)) {
				l.items[k] = l.items[j]
				k++
			}
		}
		clear(l.items[k:])
		l.items, l.head = l.items[:k], 0
		if cap(l.items) > 4096 && cap(l.items) > 4*k {
			l.items = append(make([]timer, 0, 2*k), l.items...)
		}
		q.n += k
	}
}
