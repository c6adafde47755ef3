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
	// The originator's update runs first (it may take the last room under
	// MaxHosts), each in its address's shard.
	if ev.flags&evApplyOrig != 0 {
		a.applyTo(a.shardOf(ev.orig), &ev, evApplyOrig)
	}
	if ev.flags&evApplyResp != 0 {
		a.applyTo(a.shardOf(ev.resp), &ev, evApplyResp)
	}
	return nil
}

// shardOf is the shard table of address x.
func (a *Accumulator) shardOf(x netip.Addr) uint32 {
	if a.shards == 1 {
		return 0
	}
	return addrHash(x) % a.shards
}

// applyTo applies ev's updates selected by flags to shard table s.
func (a *Accumulator) applyTo(s uint32, ev *event, flags evFlags) {
	t := a.tables[s]
	n := t.states.n
	t.apply(ev, flags)
	if t.states.n != n {
		a.monitored.Add(int64(t.states.n - n))
	}
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
	tables := a.tables
	a.tables = nil
	a.monitored.Store(0)
	a.w.closeAccumulator(a, tables)
}

// Monitored is the number of monitored addresses with something to report
// in the open window. It is safe to call from any goroutine.
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
