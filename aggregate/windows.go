package aggregate

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Output receives the records of each window, ordered by address, then
// EndWindow once the window's records are all written (a file output makes
// them durable there). It is called from the Windows' own goroutine, one
// window after the other. The record is only valid during the call.
type Output interface {
	WriteInterval(r *Interval) error
	EndWindow(start, end time.Time) error
}

// Stats count what Windows and its accumulators did.
type Stats struct {
	Conns     uint64 // connections added
	Unwatched uint64 // … with no monitored endpoint (nothing to update)
	Late      uint64 // … that ended before their accumulator's open window (counted in it)
	// HostsRefused counts the address updates (one per monitored endpoint
	// of a connection) dropped because the window already held
	// Config.MaxHosts addresses.
	HostsRefused uint64
	Windows      uint64 // windows that produced records
	Records      uint64 // records written
	OutputErrors uint64 // windows whose output failed
}

// WindowReport describes one window Windows wrote.
type WindowReport struct {
	Start, End time.Time
	Records    uint64
	// Took is the time the merge and the output took.
	Took time.Duration
	Err  error
}

// maxPendingWindows is how many handed-over windows may wait to be
// written before an accumulator ahead of the others waits too.
const maxPendingWindows = 4

// Windows closes the windows of network time over a set of accumulators
// and writes their records. Window w is written once every accumulator has
// passed w's end (its network time, or the clock on an idle link: the
// watermark) or is closed: the accumulators' states of w are merged
// (counts add, sets union, PCR sums add), split over Config.Shards
// goroutines by address, and written in address order by the Windows'
// goroutine, so that neither the merge nor a slow output runs on a capture
// goroutine. Records do not depend on how the traffic was spread over the
// accumulators or shards.
type Windows struct {
	cfg    Config
	iv     int64
	shards int

	mu       sync.Mutex
	cond     *sync.Cond // broadcast when a window was written or an accumulator moved on
	out      Output
	md       meta
	mon      *monitor
	switchAt *reconfig // a configuration waiting for its window
	accs     []*accProgress
	pending  map[int64]*windowParts // by window start
	free     [][]*hostTable
	stats    Stats
	firstErr error
	lastErr  error
	// lastFailed: the latest window written failed (health).
	lastFailed bool
	started    bool
	closing    bool
	done       chan struct{}
	wake       chan struct{}
	rec        Interval // reused for every record (Windows' goroutine only)
}

// reconfig is a configuration that takes over from window start from.
type reconfig struct {
	from int64
	mon  *monitor
	md   meta
	out  Output
	// retired receives the output it replaces once its last window was
	// written (nil: nothing to do).
	retired func(Output)
}

// accProgress is what Windows knows of one accumulator.
type accProgress struct {
	acc *Accumulator
	// until: the accumulator hands over nothing more for windows that
	// start before it.
	until       int64
	closed      bool
	seen        bool
	first, last int64
}

// windowParts are the handed-over states of one window.
type windowParts struct {
	start, end int64
	parts      [][]*hostTable // one set of shard tables per accumulator that had something
}

// NewWindows returns the window engine for cfg writing to out. Make every
// accumulator with NewAccumulator before feeding any of them.
func NewWindows(cfg Config, out Output) (*Windows, error) {
	if out == nil {
		return nil, errors.New("aggregate: nil output")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("aggregate: negative interval %v", cfg.Interval)
	}
	if cfg.MaxHosts < 0 {
		return nil, fmt.Errorf("aggregate: negative max hosts %d", cfg.MaxHosts)
	}
	if cfg.ForwarderType == "" {
		cfg.ForwarderType = "zeek"
	}
	w := &Windows{
		cfg:     cfg,
		iv:      int64(cfg.Interval),
		shards:  min(max(cfg.Shards, 1), 256),
		out:     out,
		md:      newMeta(&cfg),
		mon:     newMonitor(&cfg),
		pending: map[int64]*windowParts{},
		done:    make(chan struct{}),
		wake:    make(chan struct{}, 1),
	}
	w.cond = sync.NewCond(&w.mu)
	go w.run()
	return w, nil
}

func newMeta(cfg *Config) meta {
	return meta{hostname: cfg.NodeHostname, ip: cfg.NodeIPAddress, tag: cfg.OriginatingAgentTag, forwarder: cfg.ForwarderType}
}

// NewAccumulator adds an accumulator. Every accumulator must be made
// before the first is fed, and closed (Accumulator.Close) before Close.
func (w *Windows) NewAccumulator() *Accumulator {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		panic("aggregate: NewAccumulator after input arrived")
	}
	a := &Accumulator{w: w, slot: len(w.accs), iv: w.iv, mon: w.mon, shards: uint32(w.shards)}
	w.accs = append(w.accs, &accProgress{acc: a, until: math.MinInt64})
	return a
}

// Reconfigure makes cfg's monitoring and metadata, and out, take over from
// the window that starts at or after from (the next window boundary for a
// daemon reloading its configuration): connections of earlier windows are
// still counted and written as before. retired, if not nil, is called with
// the replaced output once its last window is written. Only cfg's Mode,
// networks and metadata apply; the interval and shards stay. A second
// Reconfigure before the first took over replaces it: the first one's
// output never got a window, is not passed to retired, and stays the
// caller's to close.
func (w *Windows) Reconfigure(cfg Config, out Output, from time.Time, retired func(Output)) {
	if cfg.ForwarderType == "" {
		cfg.ForwarderType = "zeek"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.switchAt = &reconfig{from: from.UnixNano(), mon: newMonitor(&cfg), md: newMeta(&cfg), out: out, retired: retired}
}

// monitorFor returns the monitor for the window starting at start (a
// reconfigured one once it takes over).
func (w *Windows) monitorFor(start int64) *monitor {
	w.mu.Lock()
	defer w.mu.Unlock()
	if rc := w.switchAt; rc != nil && start >= rc.from {
		return rc.mon
	}
	return w.mon
}

// takeTables returns a set of empty shard tables for an accumulator's
// window.
func (w *Windows) takeTables() []*hostTable {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = true
	if n := len(w.free); n > 0 {
		ts := w.free[n-1]
		w.free = w.free[:n-1]
		return ts
	}
	ts := make([]*hostTable, w.shards)
	for i := range ts {
		ts[i] = newHostTable(w.shardMaxHosts())
	}
	return ts
}

// shardMaxHosts bounds each shard table: its share of Config.MaxHosts
// (an accumulator's tables, and a window's merged tables, hold at most
// MaxHosts addresses in all).
func (w *Windows) shardMaxHosts() int {
	if w.cfg.MaxHosts <= 0 {
		return 0
	}
	return (w.cfg.MaxHosts + w.shards - 1) / w.shards
}

// progress records that a will hand over nothing more for windows that
// start before until.
func (w *Windows) progress(a *Accumulator, until int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = true
	p := w.accs[a.slot]
	if until > p.until {
		p.until = until
		w.signal()
	}
}

// submit hands over a's states of the window [start, end) (tables may be
// nil: nothing monitored) and records that a moved on to until. An
// accumulator ahead of the watermark waits while too many windows wait to
// be written.
func (w *Windows) submit(a *Accumulator, start, end int64, tables []*hostTable, until int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.started = true
	p := w.accs[a.slot]
	p.until = max(p.until, until)
	p.seen, p.first, p.last = a.seen, a.first, a.last
	w.addPartsLocked(start, end, tables)
	w.signal()
	for len(w.pending) > maxPendingWindows && p.until > w.watermarkLocked() {
		w.cond.Wait()
	}
}

func (w *Windows) addPartsLocked(start, end int64, tables []*hostTable) {
	if tables == nil {
		return
	}
	wp := w.pending[start]
	if wp == nil {
		wp = &windowParts{start: start, end: end}
		w.pending[start] = wp
	}
	wp.parts = append(wp.parts, tables)
}

// closeAccumulator hands over a's last window.
func (w *Windows) closeAccumulator(a *Accumulator, tables []*hostTable) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.accs[a.slot]
	p.closed = true
	p.seen, p.first, p.last = a.seen, a.first, a.last
	if tables != nil {
		start, end := a.winStart, a.winEnd
		if w.iv <= 0 {
			start, end = 0, 0 // the one window: bounds known at the end
		}
		w.addPartsLocked(start, end, tables)
	}
	w.signal()
}

// signal wakes the Windows' goroutine (w.mu held).
func (w *Windows) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
	w.cond.Broadcast()
}

// watermarkLocked is the window start before which no accumulator hands
// over anything more (MaxInt64 once all are closed).
func (w *Windows) watermarkLocked() int64 {
	m := int64(math.MaxInt64)
	for _, p := range w.accs {
		if !p.closed {
			m = min(m, p.until)
		}
	}
	return m
}

// allClosedLocked reports whether every accumulator is closed.
func (w *Windows) allClosedLocked() bool {
	for _, p := range w.accs {
		if !p.closed {
			return false
		}
	}
	return true
}

// run is the Windows' goroutine: it writes every window the watermark
// passed, and at the end the last ones.
func (w *Windows) run() {
	defer close(w.done)
	for {
		<-w.wake
		w.mu.Lock()
		for {
			wp, start, end, last := w.nextReadyLocked()
			if wp == nil {
				break
			}
			out, md := w.outputForLocked(wp.start)
			w.mu.Unlock()
			began := time.Now()
			records, err := w.write(wp, start, end, out, &md)
			if w.cfg.Written != nil && (records > 0 || err != nil) {
				w.cfg.Written(WindowReport{Start: time.Unix(0, start).UTC(), End: time.Unix(0, end).UTC(),
					Records: records, Took: time.Since(began), Err: err})
			}
			w.mu.Lock()
			w.finishLocked(wp, records, err)
			if last {
				break
			}
		}
		w.cond.Broadcast()
		if w.closing && w.allClosedLocked() && len(w.pending) == 0 {
			w.retireLocked(true)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
	}
}

// nextReadyLocked returns the earliest window the watermark passed (or,
// once every accumulator is closed, the earliest left) with its start and
// end times, and whether it is the last window.
func (w *Windows) nextReadyLocked() (wp *windowParts, start, end int64, last bool) {
	if len(w.pending) == 0 {
		return nil, 0, 0, false
	}
	first := int64(math.MaxInt64)
	for s := range w.pending {
		first = min(first, s)
	}
	wp = w.pending[first]
	closed := w.allClosedLocked()
	if w.iv <= 0 {
		if !closed {
			return nil, 0, 0, false
		}
		var lo, hi int64 = math.MaxInt64, math.MinInt64
		for _, p := range w.accs {
			if p.seen {
				lo, hi = min(lo, p.first), max(hi, p.last)
			}
		}
		return wp, lo, hi, true
	}
	if !closed && wp.end > w.watermarkLocked() {
		return nil, 0, 0, false
	}
	end = wp.end
	if closed && len(w.pending) == 1 {
		// The last window ends at the last network time seen.
		var hi int64 = math.MinInt64
		for _, p := range w.accs {
			if p.seen {
				hi = max(hi, p.last)
			}
		}
		end = min(end, max(hi, wp.start))
		last = true
	}
	return wp, wp.start, end, last
}

// outputForLocked returns the output and metadata of the window starting
// at start, switching to a reconfigured output when its window came.
func (w *Windows) outputForLocked(start int64) (Output, meta) {
	if rc := w.switchAt; rc != nil && start >= rc.from {
		w.retireLocked(false)
		w.out, w.md, w.mon = rc.out, rc.md, rc.mon
		w.switchAt = nil
	}
	return w.out, w.md
}

// retireLocked hands the current output to the reconfiguration's retire
// function when it is replaced (atEnd: no more windows, a pending
// reconfiguration never took over: its output is retired instead).
func (w *Windows) retireLocked(atEnd bool) {
	rc := w.switchAt
	if rc == nil || rc.retired == nil {
		return
	}
	if atEnd {
		rc.retired(rc.out)
		w.switchAt = nil
		return
	}
	rc.retired(w.out)
}

// write merges the window's states, shard by shard, and writes its
// records in address order.
func (w *Windows) write(wp *windowParts, startNs, endNs int64, out Output, md *meta) (uint64, error) {
	merged := wp.parts[0] // the other accumulators' tables merge into the first's
	var wg sync.WaitGroup
	for s, dst := range merged {
		merge := func() {
			for _, p := range wp.parts[1:] {
				dst.merge(p[s])
			}
			dst.sortStates()
		}
		if w.shards == 1 {
			merge()
		} else {
			wg.Go(merge)
		}
	}
	wg.Wait()
	start, stop := time.Unix(0, startNs).UTC(), time.Unix(0, endNs).UTC()
	pos := make([]int, len(merged)) // each table's next state in its order
	var total uint64
	for {
		best, bestAddr := -1, netip.Addr{}
		for i, t := range merged {
			if pos[i] == len(t.order) {
				continue
			}
			if a := t.at(t.order[pos[i]]).addr; best < 0 || a.Less(bestAddr) {
				best, bestAddr = i, a
			}
		}
		if best < 0 {
			break
		}
		t := merged[best]
		t.fill(&w.rec, t.order[pos[best]], start, stop, md)
		pos[best]++
		total++
		if err := out.WriteInterval(&w.rec); err != nil {
			return total, fmt.Errorf("aggregate: writing the record of %s: %w", w.rec.Address, err)
		}
	}
	if total == 0 {
		return 0, nil
	}
	if err := out.EndWindow(start, stop); err != nil {
		return total, fmt.Errorf("aggregate: ending window %s–%s: %w", start.Format(time.RFC3339), stop.Format(time.RFC3339), err)
	}
	return total, nil
}

// finishLocked counts a written window and recycles its tables.
func (w *Windows) finishLocked(wp *windowParts, records uint64, err error) {
	delete(w.pending, wp.start)
	if records > 0 {
		w.stats.Windows++
		w.stats.Records += records
	}
	for _, p := range wp.parts {
		for _, t := range p {
			w.stats.HostsRefused += t.refused
			t.reset()
		}
		w.free = append(w.free, p)
	}
	w.lastFailed = err != nil
	if err != nil {
		w.stats.OutputErrors++
		w.lastErr = err
		if w.firstErr == nil {
			w.firstErr = err
		}
	}
}

// Healthy returns the error of the latest window written when writing it
// failed, nil when it succeeded (or none was written yet): the output's
// current state, not its history.
func (w *Windows) Healthy() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastFailed {
		return w.lastErr
	}
	return nil
}

// Pending is the number of windows handed over and not yet written.
func (w *Windows) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// Sync waits until every window the watermark passed is written.
func (w *Windows) Sync() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.hasReadyLocked() {
		w.cond.Wait()
	}
}

// hasReadyLocked reports whether a window waits that could be written.
func (w *Windows) hasReadyLocked() bool {
	wp, _, _, _ := w.nextReadyLocked()
	return wp != nil
}

// Close waits until every window is written (every accumulator must be
// closed) and returns the first output error.
func (w *Windows) Close() error {
	w.mu.Lock()
	if !w.allClosedLocked() {
		w.mu.Unlock()
		return errors.New("aggregate: Close with accumulators still open")
	}
	w.closing = true
	w.signal()
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.firstErr
}

// Stats returns the counters so far (safe from any goroutine).
func (w *Windows) Stats() Stats {
	w.mu.Lock()
	s := w.stats
	accs := slices.Clone(w.accs)
	w.mu.Unlock()
	for _, p := range accs {
		s.Conns += p.acc.conns.Load()
		s.Unwatched += p.acc.unwatched.Load()
		s.Late += p.acc.late.Load()
	}
	return s
}

// Monitored is the number of monitored addresses with something to report
// in the accumulators' open windows (an address seen by two accumulators
// counts twice). Safe from any goroutine.
func (w *Windows) Monitored() int {
	w.mu.Lock()
	accs := slices.Clone(w.accs)
	w.mu.Unlock()
	n := 0
	for _, p := range accs {
		n += p.acc.Monitored()
	}
	return n
}

// Err returns the last output error and how many windows failed so far;
// a later window written without error does not clear it (the daemon
// compares counts).
func (w *Windows) Err() (last error, failed uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr, w.stats.OutputErrors
}
