package aggregate

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/netbased/netbased/flow"
)

// Output receives the records of each window, ordered by address, then
// EndWindow once the window's records are all written (a file output makes
// them durable there). It is called from the goroutine that feeds the
// Aggregator. The record is only valid during the call.
type Output interface {
	WriteInterval(r *Interval) error
	EndWindow(start, end time.Time) error
}

// Stats count what an Aggregator did.
type Stats struct {
	Conns     uint64 // connections added
	Unwatched uint64 // … with no monitored endpoint (nothing to update)
	Late      uint64 // … that ended before the open window (counted in it)
	Windows   uint64 // windows that produced records
	Records   uint64 // records written
}

// Aggregator builds Interval records from ended connections. Its methods
// must be called from one goroutine.
type Aggregator struct {
	cfg    Config
	mon    *monitor
	md     meta
	out    Output
	iv     int64 // window length in ns; 0: one window
	shards []*shard
	work   []*worker // nil: synchronous
	batch  [][]event // per shard, being filled (sharded mode)

	open             bool
	winStart, winEnd int64 // ns since the epoch
	seen             bool
	first, last      time.Time // network time seen
	dirty            bool      // an event was applied since the last flush
	closed           bool
	rec              Interval // reused for every record
	stats            Stats
}

// New returns an Aggregator writing to out. With cfg.Shards > 1 it starts
// that many goroutines, which Close stops.
func New(cfg Config, out Output) (*Aggregator, error) {
	if out == nil {
		return nil, errors.New("aggregate: nil output")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("aggregate: negative interval %v", cfg.Interval)
	}
	if cfg.ForwarderType == "" {
		cfg.ForwarderType = "zeek"
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 256
	}
	n := max(cfg.Shards, 1)
	a := &Aggregator{
		cfg: cfg,
		mon: newMonitor(&cfg),
		md: meta{hostname: cfg.NodeHostname, ip: cfg.NodeIPAddress, tag: cfg.OriginatingAgentTag,
			forwarder: cfg.ForwarderType},
		out:    out,
		iv:     int64(cfg.Interval),
		shards: make([]*shard, n),
	}
	for i := range a.shards {
		a.shards[i] = newShard()
	}
	if n > 1 {
		a.batch = make([][]event, n)
		for i := range a.shards {
			w := &worker{sh: a.shards[i], in: make(chan workMsg, 4), free: make(chan []event, 8)}
			a.work = append(a.work, w)
			a.batch[i] = make([]event, 0, cfg.BatchSize)
			go w.run()
		}
	}
	return a, nil
}

// Stats returns the counters so far.
func (a *Aggregator) Stats() Stats { return a.stats }

// Monitored is the number of monitored addresses with something to report
// in the open window. Unlike the other methods it is safe to call from any
// goroutine (for metrics).
func (a *Aggregator) Monitored() int {
	n := int64(0)
	for _, s := range a.shards {
		n += s.monitored.Load()
	}
	return int(n)
}

// Add counts one ended connection in the window containing c.End (a zero
// End means the current network time); if c.End is past the open window,
// that window is flushed first. A connection that ended before the open
// window (late) counts in the open window. c is not retained.
func (a *Aggregator) Add(c *flow.Conn) error {
	if a.closed {
		return errors.New("aggregate: Add after Close")
	}
	a.stats.Conns++
	end := c.End
	if end.IsZero() { // no removal time: the current network time
		end = a.last
	}
	err := a.observe(end) // a flush error is returned after counting c
	if !c.Start.IsZero() && c.Start.Before(a.first) {
		a.first = c.Start
	}
	ev, ok := a.mon.classify(c)
	if !ok {
		a.stats.Unwatched++
		return err
	}
	if a.iv > 0 && end.UnixNano() < a.winStart {
		a.stats.Late++
	}
	a.dirty = true
	if a.work == nil {
		a.shards[0].apply(&ev)
		return err
	}
	n := uint32(len(a.shards))
	if ev.flags&evApplyOrig != 0 {
		so := addrHash(ev.orig) % n
		if ev.flags&evApplyResp != 0 && addrHash(ev.resp)%n != so {
			// The endpoints live in different shards: each gets a copy
			// that updates only its own address.
			evR := ev
			evR.flags &^= evApplyOrig
			ev.flags &^= evApplyResp
			a.enqueue(addrHash(ev.resp)%n, &evR)
		}
		a.enqueue(so, &ev)
		return err
	}
	a.enqueue(addrHash(ev.resp)%n, &ev)
	return err
}

// Advance moves network time to t (a packet's time, or the clock when
// capturing live): a window that ends at or before t is flushed.
func (a *Aggregator) Advance(t time.Time) error {
	if a.closed {
		return errors.New("aggregate: Advance after Close")
	}
	return a.observe(t)
}

// observe records network time t and flushes the open window if t is past
// it.
func (a *Aggregator) observe(t time.Time) error {
	if !a.seen {
		a.first, a.last, a.seen = t, t, true
	} else if t.After(a.last) {
		a.last = t
	}
	if a.iv <= 0 {
		return nil
	}
	ns := t.UnixNano()
	if !a.open {
		a.openWindow(ns)
		return nil
	}
	if ns < a.winEnd {
		return nil
	}
	err := a.flush(time.Unix(0, a.winStart).UTC(), time.Unix(0, a.winEnd).UTC())
	a.openWindow(ns)
	return err
}

// openWindow opens the epoch-aligned window containing ns.
func (a *Aggregator) openWindow(ns int64) {
	start := ns - ns%a.iv
	if ns%a.iv < 0 {
		start -= a.iv
	}
	a.open, a.winStart, a.winEnd = true, start, start+a.iv
}

// Close flushes the last, partial window with end_time = the last network
// time seen (for Interval 0: the one window, from the first network time
// seen, including connection starts, to the last), and stops the shards.
func (a *Aggregator) Close() error {
	if a.closed {
		return nil
	}
	var err error
	if a.seen {
		start := a.first
		if a.iv > 0 && a.open {
			start = time.Unix(0, a.winStart).UTC()
		}
		err = a.flush(start.UTC(), a.last.UTC())
	}
	a.closed = true
	for _, w := range a.work {
		close(w.in)
	}
	return err
}

// flush emits the records of the open window, ordered by address: the
// shards sort their states (in parallel when sharded), then this goroutine
// merges them, filling one reused Interval per record, and resets them.
func (a *Aggregator) flush(start, end time.Time) error {
	if !a.dirty {
		return nil
	}
	a.dirty = false
	if a.work == nil {
		a.shards[0].sortStates()
	} else {
		a.drain(true) // the workers are idle until the next message
	}
	defer func() {
		for _, s := range a.shards {
			s.reset()
		}
	}()
	pos := make([]int, len(a.shards)) // each shard's next state in its order
	head := func(i int) netip.Addr {
		s := a.shards[i]
		return s.at(s.order[pos[i]]).addr
	}
	total := 0
	for {
		best := -1
		for i, s := range a.shards {
			if pos[i] < len(s.order) && (best < 0 || head(i).Compare(head(best)) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		s := a.shards[best]
		s.fill(&a.rec, s.order[pos[best]], start, end, &a.md)
		pos[best]++
		total++
		if err := a.out.WriteInterval(&a.rec); err != nil {
			return fmt.Errorf("aggregate: writing the record of %s: %w", a.rec.Address, err)
		}
	}
	if total == 0 {
		return nil
	}
	a.stats.Windows++
	a.stats.Records += uint64(total)
	if err := a.out.EndWindow(start, end); err != nil {
		return fmt.Errorf("aggregate: ending window %s–%s: %w", start.Format(time.RFC3339), end.Format(time.RFC3339), err)
	}
	return nil
}

// drain hands the pending batches to the shards and waits until they have
// applied everything. With sortStates, each shard also sorts its states
// (flush); without, it only settles the shards (benchmarks and tests).
func (a *Aggregator) drain(sortStates bool) {
	for i, w := range a.work {
		if len(a.batch[i]) > 0 {
			w.in <- workMsg{events: a.batch[i]}
			a.batch[i] = w.newBatch(a.cfg.BatchSize)
		}
	}
	done := make([]chan struct{}, len(a.work))
	for i, w := range a.work {
		done[i] = make(chan struct{})
		w.in <- workMsg{barrier: done[i], sort: sortStates}
	}
	for _, d := range done {
		<-d
	}
}

// enqueue appends ev to the shard's batch and sends the batch when full.
func (a *Aggregator) enqueue(shard uint32, ev *event) {
	b := append(a.batch[shard], *ev)
	if len(b) >= a.cfg.BatchSize {
		w := a.work[shard]
		w.in <- workMsg{events: b}
		b = w.newBatch(a.cfg.BatchSize)
	}
	a.batch[shard] = b
}

// addrHash spreads addresses over shards.
func addrHash(a netip.Addr) uint32 {
	var x uint64
	if a.Is4() {
		x = uint64(addrU32(a))
	} else {
		b := a.As16()
		for i := 0; i < 16; i += 8 {
			x ^= uint64(b[i])<<56 | uint64(b[i+1])<<48 | uint64(b[i+2])<<40 | uint64(b[i+3])<<32 |
				uint64(b[i+4])<<24 | uint64(b[i+5])<<16 | uint64(b[i+6])<<8 | uint64(b[i+7])
		}
	}
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return uint32(x)
}

// worker is one shard's goroutine.
type worker struct {
	sh   *shard
	in   chan workMsg
	free chan []event // applied batches, for reuse by the feeder
}

type workMsg struct {
	events  []event
	sort    bool          // sort the states (before closing barrier)
	barrier chan struct{} // closed once everything before it is applied
}

// run applies the batches it receives until the channel is closed.
func (w *worker) run() {
	for msg := range w.in {
		for i := range msg.events {
			w.sh.apply(&msg.events[i])
		}
		if msg.events != nil {
			select {
			case w.free <- msg.events[:0]:
			default:
			}
		}
		if msg.sort {
			w.sh.sortStates()
		}
		if msg.barrier != nil {
			close(msg.barrier)
		}
	}
}

// newBatch returns an applied batch for reuse, or a new one.
func (w *worker) newBatch(size int) []event {
	select {
	case b := <-w.free:
		return b
	default:
		return make([]event, 0, size)
	}
}
