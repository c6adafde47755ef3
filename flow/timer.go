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
// matches its connection is dropped when it comes due.
type timer struct {
	when int64
	seq  uint64
	c    *conn
	inc  uint32 // c.incarnation when scheduled
	gen  uint32 // c.anaGen or c.inactGen when scheduled
	kind uint8
}

// timerHeap is a binary min-heap ordered by (when, seq); hand-written so
// that pushing and popping never box values.
type timerHeap struct {
	items []timer
	seq   uint64
}

func (h *timerHeap) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.when != b.when {
		return a.when < b.when
	}
	return a.seq < b.seq
}

func (h *timerHeap) push(t timer) {
	h.seq++
	t.seq = h.seq
	h.items = append(h.items, t)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

// peek returns the earliest timer; ok is false when the heap is empty.
func (h *timerHeap) peek() (timer, bool) {
	if len(h.items) == 0 {
		return timer{}, false
	}
	return h.items[0], true
}

func (h *timerHeap) pop() timer {
	n := len(h.items) - 1
	top := h.items[0]
	h.items[0] = h.items[n]
	h.items[n] = timer{}
	h.items = h.items[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}

func (h *timerHeap) len() int { return len(h.items) }
