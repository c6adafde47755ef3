package aggregate

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/netbased/netbased/flow"
)

// Accumulator counts the ended connections of one stream of traffic (one
// capture worker's) into per-address states of the window each ended in.
// It is owned by one goroutine: Add, Advance and Close take no lock. When
// its network time passes a window's end it hands the window's states to
// its Windows, which merges them with the other accumulators' once every
// accumulator has passed that end.
type Accumulator struct {
	w    *Windows
	slot int
	iv   int64
	mon  *monitor
	// shards is the number of tables a window's states are split over
	// (by address hash), for a parallel merge.
	shards uint32

	open             bool
	winStart, winEnd int64 // the open window (iv > 0)
	tables           []*hostTable
	seen             bool
	first, last      int64 // network time seen (ns), connection starts included in first
	closed           bool

	conns, unwatched, late atomic.Uint64
	monitored              atomic.Int64

	// pending are the events of the last ended connections, applied
	// together (applyPending) so that the lookups of their addresses'
	// states overlap instead of waiting for memory one after the other.
	pending  [pendingEvents]pendingEvent
	npending int
	// touched keeps the loads that bring the states in use (applyPending).
	touched uint64
}

// pendingEvents is how many ended connections are applied together.
const pendingEvents = 32

// pendingEvent is an event and the states it updates (nil: refused or not
// updated), found by applyPending's first pass.
type pendingEvent struct {
	ev           event
	orig, resp   *hostState
	origT, respT *hostTable
}

var errClosed = errors.New("aggregate: accumulator closed")

// Add counts one ended connection in the window containing c.End (a zero
// End means the accumulator's current network time). A connection that
// ended before the open window (late) counts in the open window. c is not
// retained.
func (a *Accumulator) Add(c *flow.Conn) error {
	if a.closed {
		return errClosed
	}
	a.conns.Add(1)
	end := a.last
	if !c.End.IsZero() {
		end = c.End.UnixNano()
	}
	a.observe(end)
	if !c.Start.IsZero() {
		if s := c.Start.UnixNano(); s < a.first {
			a.first = s
		}
	}
	ev, ok := a.mon.classify(c)
	if !ok {
		a.unwatched.Add(1)
		return nil
	}
	if a.iv > 0 && end < a.winStart {
		a.late.Add(1)
	}
	if a.tables == nil {
		a.tables = a.w.takeTables()
	}
	a.pending[a.npending].ev = ev
	if a.npending++; a.npending == pendingEvents {
		a.applyPending()
	}
	return nil
}

// applyPending applies the pending events in order, in two passes: the
// first finds (or creates) every state the events update, touching each,
// so that their cache misses overlap; the second runs the update rules.
// States are created in the order one pass would create them (the
// originator's first: it may take the last room under MaxHosts), and an
// update changes no state's existence, so the result is the one of
// applying the events one by one.
func (a *Accumulator) applyPending() {
	n := a.npending
	if n == 0 {
		return
	}
	a.npending = 0
	var before, after int32
	for _, t := range a.tables {
		before += t.states.n
	}
	var touched uint64
	for i := range n {
		p := &a.pending[i]
		p.orig, p.resp = nil, nil
		if p.ev.flags&evApplyOrig != 0 {
			p.origT = a.tables[a.shardOf(p.ev.orig)]
			if p.orig = p.origT.stateOrRefuse(p.ev.orig); p.orig != nil {
				touched += p.orig.touch()
			}
		}
		if p.ev.flags&evApplyResp != 0 {
			p.respT = a.tables[a.shardOf(p.ev.resp)]
			if p.resp = p.respT.stateOrRefuse(p.ev.resp); p.resp != nil {
				touched += p.resp.touch()
			}
		}
	}
	a.touched += touched
	for _, t := range a.tables {
		after += t.states.n
	}
	if after != before {
		a.monitored.Add(int64(after - before))
	}
	for i := range n {
		p := &a.pending[i]
		if p.orig != nil {
			p.origT.applyOrig(p.orig, &p.ev)
		}
		if p.resp != nil {
			p.respT.applyResp(p.resp, &p.ev)
		}
	}
}

// shardOf is the shard table of address x.
func (a *Accumulator) shardOf(x netip.Addr) uint32 {
	if a.shards == 1 {
		return 0
	}
	return addrHash(x) % a.shards
}

// Advance moves the accumulator's network time to t (a packet's time, or
// the clock on an idle link): a window that ends at or before t is handed
// over.
func (a *Accumulator) Advance(t time.Time) {
	if a.closed {
		return
	}
	a.observe(t.UnixNano())
}

// observe records network time ns and hands over the open window if ns is
// past it.
func (a *Accumulator) observe(ns int64) {
	if !a.seen {
		a.first, a.last, a.seen = ns, ns, true
	} else if ns > a.last {
		a.last = ns
	}
	if a.iv <= 0 {
		return
	}
	if !a.open {
		a.openWindow(ns)
		a.w.progress(a, a.winStart)
		return
	}
	if ns < a.winEnd {
		return
	}
	a.applyPending()
	tables, start, end := a.tables, a.winStart, a.winEnd
	a.tables = nil
	a.monitored.Store(0)
	a.openWindow(ns)
	a.w.submit(a, start, end, tables, a.winStart)
}

// openWindow opens the epoch-aligned window containing ns.
func (a *Accumulator) openWindow(ns int64) {
	a.open, a.winStart = true, windowStart(ns, a.iv)
	a.winEnd = a.winStart + a.iv
	a.mon = a.w.monitorFor(a.winStart)
}

// windowStart is the start of the iv-long epoch-aligned window holding ns.
func windowStart(ns, iv int64) int64 {
	start := ns - ns%iv
	if ns%iv < 0 {
		start -= iv
	}
	return start
}

// Close hands over the open window and ends the accumulator: Add then
// fails. The window is written once every accumulator is closed or has
// passed its end.
func (a *Accumulator) Close() {
	if a.closed {
		return
	}
	a.closed = true
	a.applyPending()
	tables := a.tables
	a.tables = nil
	a.monitored.Store(0)
	a.w.closeAccumulator(a, tables)
}

// Monitored is the number of monitored addresses with something to report
// in the open window (up to pendingEvents ended connections behind: they
// are applied together). It is safe to call from any goroutine.
func (a *Accumulator) Monitored() int { return int(a.monitored.Load()) }

// addrHash spreads addresses over shards.
func addrHash(a netip.Addr) uint32 {
	var x uint64
	if a.Is4() {
		x = uint64(addrU32(a))
	} else {
		b := a.As16()
		x = binary.BigEndian.Uint64(b[:8]) ^ binary.BigEndian.Uint64(b[8:])
	}
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return uint32(x)
}
