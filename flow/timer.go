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
	// heads caches each lane's earliest timer's (when, seqKind), or
	// (MaxInt64, 0) for an empty lane: popDue compares them without
	// reaching into the lanes' blocks.
	heads [maxLanes]laneHead
	// freeBlocks are lane blocks to reuse (see trimFree).
	freeBlocks []*timerBlock
	nLanes     int
	heap       timerHeap
	seq        uint64
	n          int
	// notBefore is a lower bound of the earliest timer's time: popDue
	// returns at once while now is below it.
	notBefore int64
}

// laneBlock is the number of timers in one block of a lane (12 KiB).
const laneBlock = 512

// timerBlock is a fixed-size piece of a lane.
type timerBlock [laneBlock]timer

// timerLane is a FIFO of timers with non-decreasing (when, seq), kept in
// fixed-size blocks: its memory follows its length within a block, where
// a slice grown by append would hold up to twice its length.
type timerLane struct {
	blocks []*timerBlock
	head   int // next timer to pop in blocks[0]
	tail   int // timers in the last block
}

func (l *timerLane) empty() bool {
	return len(l.blocks) == 0 || (len(l.blocks) == 1 && l.head == l.tail)
}

// len is the number of timers in the lane.
func (l *timerLane) len() int {
	if len(l.blocks) == 0 {
		return 0
	}
	return (len(l.blocks)-1)*laneBlock + l.tail - l.head
}

// front is the earliest timer; the lane must not be empty.
func (l *timerLane) front() *timer { return &l.blocks[0][l.head] }

// back is the latest timer; the lane must not be empty.
func (l *timerLane) back() *timer { return &l.blocks[len(l.blocks)-1][l.tail-1] }

// push appends t, taking a block from free when the last one is full.
func (l *timerLane) push(t timer, free *[]*timerBlock) {
	if len(l.blocks) == 0 || l.tail == laneBlock {
		var b *timerBlock
		if n := len(*free); n > 0 {
			b = (*free)[n-1]
			*free = (*free)[:n-1]
		} else {
			b = new(timerBlock)
		}
		l.blocks = append(l.blocks, b)
		l.tail = 0
	}
	l.blocks[len(l.blocks)-1][l.tail] = t
	l.tail++
}

// pop removes the earliest timer; the lane must not be empty.
func (l *timerLane) pop(free *[]*timerBlock) timer {
	t := l.blocks[0][l.head]
	l.head++
	if len(l.blocks) == 1 {
		if l.head == l.tail {
			l.head, l.tail = 0, 0 // keep the one block
		}
	} else if l.head == laneBlock {
		*free = append(*free, l.blocks[0])
		n := copy(l.blocks, l.blocks[1:])
		l.blocks[n] = nil
		l.blocks = l.blocks[:n]
		l.head = 0
	}
	return t
}

// filter keeps the timers keep accepts, in order, and frees the blocks
// no longer needed.
func (l *timerLane) filter(keep func(*timer) bool, free *[]*timerBlock) {
	wb, wi := 0, 0 // write position
	for b := range l.blocks {
		lo, hi := 0, laneBlock
		if b == 0 {
			lo = l.head
		}
		if b == len(l.blocks)-1 {
			hi = l.tail
		}
		for i := lo; i < hi; i++ {
			if t := &l.blocks[b][i]; keep(t) {
				if wi == laneBlock {
					wb, wi = wb+1, 0
				}
				l.blocks[wb][wi] = *t
				wi++
			}
		}
	}
	if len(l.blocks) == 0 {
		return
	}
	keepBlocks := wb + 1
	for b := keepBlocks; b < len(l.blocks); b++ {
		*free = append(*free, l.blocks[b])
		l.blocks[b] = nil
	}
	l.blocks = l.blocks[:keepBlocks]
	l.head, l.tail = 0, wi
}

// laneHead is a lane's earliest timer's order.
type laneHead struct {
	when    int64
	seqKind uint64
}

var emptyHead = laneHead{when: math.MaxInt64}

// setHead refreshes the cached head of lane i.
func (q *timerQueue) setHead(i int) {
	if l := &q.lanes[i]; !l.empty() {
		f := l.front()
		q.heads[i] = laneHead{f.when, f.seqKind}
	} else {
		q.heads[i] = emptyHead
	}
}

// init gives a lane to each distinct positive delay (the configured
// timeouts), at most maxLanes.
func (q *timerQueue) init(delays ...time.Duration) {
	q.notBefore = math.MinInt64
	for i := range q.heads {
		q.heads[i] = emptyHead
	}
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
		if l.empty() {
			l.push(t, &q.freeBlocks)
			q.heads[i] = laneHead{t.when, t.seqKind}
			return
		}
		if l.back().when <= t.when {
			l.push(t, &q.freeBlocks)
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
	best := emptyHead
	lane := -1
	if len(q.heap.items) > 0 {
		top := &q.heap.items[0]
		best = laneHead{top.when, top.seqKind}
	}
	for i := 0; i < q.nLanes; i++ {
		h := q.heads[i]
		if h.when < best.when || (h.when == best.when && h.when != math.MaxInt64 && h.seqKind < best.seqKind) {
			best, lane = h, i
		}
	}
	if best.when > now {
		q.notBefore = best.when // MaxInt64 when the queue is empty
		return timer{}, false
	}
	q.n--
	if lane < 0 {
		return q.heap.pop(), true
	}
	t := q.lanes[lane].pop(&q.freeBlocks)
	q.setHead(lane)
	q.trimFree()
	return t, true
}

// minFreeBlocks is how many lane blocks are always kept for reuse.
const minFreeBlocks = 16

// trimFree gives blocks back to the garbage collector when more are free
// than twice the lanes use (and more than minFreeBlocks): enough for the
// lanes to grow back after a compaction without allocating (a flood of
// evicted connections compacts over and over), while the memory still
// follows the lanes' size after a burst.
func (q *timerQueue) trimFree() {
	n := len(q.freeBlocks)
	if n <= minFreeBlocks {
		return
	}
	inUse := 0
	for i := 0; i < q.nLanes; i++ {
		inUse += len(q.lanes[i].blocks)
	}
	if keep := max(minFreeBlocks, 2*inUse); n > keep {
		clear(q.freeBlocks[keep:])
		q.freeBlocks = q.freeBlocks[:keep]
	}
}

// compact drops every stale timer; the order of the others is unchanged.
func (q *timerQueue) compact() {
	conns := q.conns
	q.heap.compact(conns)
	q.n = len(q.heap.items)
	live := func(t *timer) bool { return !t.stale(conns.get(t.ref)) }
	for i := 0; i < q.nLanes; i++ {
		l := &q.lanes[i]
		l.filter(live, &q.freeBlocks)
		q.setHead(i)
		q.n += l.len()
	}
	q.trimFree()
}
