package flow

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netbased/netbased/classify"
)

// Expected connections: the table of data connections that FTP and IRC
// control connections announced (classify.Expectation), as Zeek's analyzer
// manager and the ftp/irc scripts keep them.
//
// Zeek's semantics, and what is kept of them here:
//   - Analyzer::schedule_analyzer(orig, resp, resp_p, analyzer, 5 min)
//     (analyzer/Manager.cc) registers (orig, resp, resp_p, tcp); orig
//     0.0.0.0 (IRC DCC) is a wildcard. A new connection whose orig, resp and
//     resp_p match after the flips at creation gets the analyzer, and
//     scheduled_analyzer_applied is raised before anything else happens on
//     it. Schedules are not consumed by a match: they expire after 5 min
//     of network time (exact ones lazily in Zeek; here all at 5 min).
//   - The scripts then add their label if their own table still holds
//     [resp_h, resp_p] (ftp_data_expected / dcc_expected_transfers,
//     &read_expire=5mins): "ftp-data", "irc-dcc-data". The entry is
//     deleted when such a data connection ends (ftp: unless it ended by
//     connection reuse), so a later connection to the same place gets no
//     label unless announced again. Reads do not extend the expiry here.
//   - Addresses compare as Zeek's IPAddr: an IPv4 address equals its
//     IPv4-mapped IPv6 form.
//
// Bounds: at most maxExpected (resp, resp_p) entries, each remembering up
// to maxExpectedOrigs originators; when full, the entry announced first is
// dropped (Stats.ExpectedDropped). Expired entries are dropped as time
// passes. A control connection flooding PORT commands thus costs a bounded
// table and O(1) amortized work per announcement.

// expectTimeout is the 5 min of schedule_analyzer and the tables'
// &read_expire.
const expectTimeout = int64(5 * time.Minute)

const (
	maxExpected      = 4096
	maxExpectedOrigs = 4
)

// Expected-service bits (the order is conn.log's: ftp's script runs before
// irc's).
const (
	expFTPData uint8 = 1 << iota
	expIRCDCC
	// expScheduled: a schedule matched (with or without a label); no
	// analyzer attaches by port then.
	expScheduled
)

type expectKey struct {
	resp [16]byte
	port uint16
}

type expectOrig struct {
	addr     [16]byte
	wildcard bool
	until    int64
}

// expectEntry is one (resp, resp_p): the scheduled originators and, per
// script table, until when it holds the entry (0: not at all).
type expectEntry struct {
	origs   [maxExpectedOrigs]expectOrig
	nOrigs  uint8
	svc     [2]int64 // expFTPData, expIRCDCC
	touched int64    // when last announced (ring order)
}

type ringItem struct {
	key     expectKey
	touched int64
}

// ExpectedTable is the table of expected connections. Trackers that see
// parts of the same traffic (one per capture worker, flows spread by a
// hash) should share one through Config.Expected, so that a data
// connection hashed to another worker than its control connection is still
// recognized; without it each tracker keeps its own. It is safe for
// concurrent use.
type ExpectedTable struct {
	mu      sync.Mutex
	n       atomic.Int32 // entries; read without the lock by every new connection
	m       map[expectKey]*expectEntry
	ring    []ringItem // announcement order; stale items are skipped
	head    int
	dropped uint64
}

// NewExpectedTable returns an empty table.
func NewExpectedTable() *ExpectedTable {
	return &ExpectedTable{m: make(map[expectKey]*expectEntry)}
}

// expectState is a tracker's side of the expected connections.
type expectState struct {
	table *ExpectedTable
	// conns are the live connections that got an expected service, with
	// their bits (for fillRecord and the removal hooks).
	conns   map[*conn]uint8
	reused  map[*conn]bool
	scratch []classify.Expectation
}

// expectedTable returns the table the tracker uses (Config.Expected or
// its own), creating its own only when create is set.
func (t *Tracker) expectedTable(create bool) *ExpectedTable {
	if t.expect.table == nil {
		switch {
		case t.cfg.Expected != nil:
			t.expect.table = t.cfg.Expected
		case create:
			t.expect.table = NewExpectedTable()
		}
	}
	return t.expect.table
}

// ExpectedStats counts the expected-connection table's work (part of
// Tracker statistics through ExpectedStats).
type ExpectedStats struct {
	Announced uint64 // expectations this tracker added or refreshed
	Matched   uint64 // connections this tracker labelled from the table
	Dropped   uint64 // entries dropped because the (shared) table was full
	Pending   int    // entries in the (shared) table now
}

// zeroV4 is 0.0.0.0 as Zeek stores it (IPv4-mapped).
var zeroV4 = netip.AddrFrom4([4]byte{}).As16()

// as16 is the address as Zeek's IPAddr holds it (IPv4 mapped into IPv6).
func as16(a netip.Addr) [16]byte { return a.As16() }

// takeExpectations moves the announcements of control connection c into
// the table.
func (t *Tracker) takeExpectations(c *conn) {
	x := &t.expect
	x.scratch = c.cls.TakeExpectations(x.scratch[:0])
	if len(x.scratch) == 0 {
		return
	}
	tb := t.expectedTable(true)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range x.scratch {
		var bit uint8
		switch e.Service {
		case classify.ServiceFTPData:
			bit = expFTPData
		case classify.ServiceIRCDCCData:
			bit = expIRCDCC
		default:
			continue
		}
		resp := e.Resp
		if e.RespIsControlResp {
			resp = c.respAddr()
		}
		if !resp.IsValid() {
			continue
		}
		var orig expectOrig
		switch e.Originator {
		case classify.OriginatorControlOrig:
			orig.addr = as16(c.origAddr())
		case classify.OriginatorControlResp:
			orig.addr = as16(c.respAddr())
		default:
			orig.wildcard = true
		}
		// ConnIndex: an originator 0.0.0.0 (or ::) is the wildcard.
		if orig.addr == zeroV4 || orig.addr == ([16]byte{}) {
			orig.wildcard = true
		}
		tb.add(expectKey{resp: as16(resp), port: e.Port}, orig, bit, t.now)
		t.expStats.Announced++
	}
}

// add records an announcement (the caller holds x.mu).
func (x *ExpectedTable) add(k expectKey, orig expectOrig, bit uint8, now int64) {
	if x.m == nil {
		x.m = make(map[expectKey]*expectEntry)
	}
	x.expire(now)
	e := x.m[k]
	if e == nil {
		if len(x.m) >= maxExpected {
			x.dropOldest()
		}
		e = &expectEntry{}
		x.m[k] = e
		x.n.Store(int32(len(x.m)))
	}
	until := now + expectTimeout
	orig.until = until
	placed := false
	for i := uint8(0); i < e.nOrigs; i++ {
		o := &e.origs[i]
		if o.wildcard == orig.wildcard && o.addr == orig.addr {
			o.until = until
			placed = true
			break
		}
	}
	if !placed {
		if e.nOrigs < maxExpectedOrigs {
			e.origs[e.nOrigs] = orig
			e.nOrigs++
		} else {
			// Replace the originator that expires first.
			j := 0
			for i := 1; i < maxExpectedOrigs; i++ {
				if e.origs[i].until < e.origs[j].until {
					j = i
				}
			}
			e.origs[j] = orig
		}
	}
	if bit == expFTPData {
		e.svc[0] = until
	} else {
		e.svc[1] = until
	}
	e.touched = now
	x.pushRing(ringItem{key: k, touched: now})
}

// pushRing appends to the announcement order, compacting stale items when
// the ring holds twice as many items as live entries.
func (x *ExpectedTable) pushRing(it ringItem) {
	if x.head > 0 && len(x.ring)-x.head < x.head && len(x.ring) >= 64 {
		n := copy(x.ring, x.ring[x.head:])
		x.ring = x.ring[:n]
		x.head = 0
	}
	if len(x.ring)-x.head >= 2*maxExpected {
		k := 0
		for _, r := range x.ring[x.head:] {
			if e := x.m[r.key]; e != nil && e.touched == r.touched {
				x.ring[k] = r
				k++
			}
		}
		x.ring = x.ring[:k]
		x.head = 0
	}
	x.ring = append(x.ring, it)
}

// live reports whether ring item r is an entry's latest announcement.
func (x *ExpectedTable) live(r ringItem) (*expectEntry, bool) {
	e := x.m[r.key]
	return e, e != nil && e.touched == r.touched
}

// expire drops the entries whose last announcement is older than the
// timeout (everything in them has expired then). The caller holds x.mu.
func (x *ExpectedTable) expire(now int64) {
	defer func() { x.n.Store(int32(len(x.m))) }()
	for x.head < len(x.ring) {
		r := x.ring[x.head]
		if _, ok := x.live(r); ok {
			if r.touched+expectTimeout > now {
				return
			}
			delete(x.m, r.key)
		}
		x.head++
	}
	x.ring = x.ring[:0]
	x.head = 0
}

// dropOldest removes the entry announced longest ago (the caller holds
// x.mu).
func (x *ExpectedTable) dropOldest() {
	for x.head < len(x.ring) {
		r := x.ring[x.head]
		x.head++
		if _, ok := x.live(r); ok {
			delete(x.m, r.key)
			x.dropped++
			x.n.Store(int32(len(x.m)))
			return
		}
	}
}

// matchExpected is Manager::GetScheduled plus the scripts'
// scheduled_analyzer_applied handlers for a new TCP connection c (roles as
// after the flips at creation).
func (t *Tracker) matchExpected(c *conn) {
	tb := t.expectedTable(false)
	if tb == nil || tb.n.Load() == 0 {
		return
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.expire(t.now)
	e := tb.m[expectKey{resp: as16(c.respAddr()), port: c.respPort}]
	if e == nil {
		return
	}
	o := as16(c.origAddr())
	scheduled := false
	for i := uint8(0); i < e.nOrigs; i++ {
		s := &e.origs[i]
		if s.until > t.now && (s.wildcard || s.addr == o) {
			scheduled = true
			break
		}
	}
	if !scheduled {
		return
	}
	bits := expScheduled
	if e.svc[0] > t.now {
		bits |= expFTPData
	}
	if e.svc[1] > t.now {
		bits |= expIRCDCC
	}
	x := &t.expect
	if x.conns == nil {
		x.conns = make(map[*conn]uint8)
	}
	x.conns[c] = bits
	if bits&(expFTPData|expIRCDCC) != 0 {
		t.expStats.Matched++
	}
}

// expectedServices appends c's expected-connection services.
func (t *Tracker) expectedServices(c *conn, dst []string) []string {
	if len(t.expect.conns) == 0 {
		return dst
	}
	bits := t.expect.conns[c]
	if bits&expFTPData != 0 {
		dst = append(dst, classify.ServiceFTPData)
	}
	if bits&expIRCDCC != 0 {
		dst = append(dst, classify.ServiceIRCDCCData)
	}
	return dst
}

// startClassifier starts c's classification for TCP: without the
// analyzers registered for the port when a schedule matched c.
func (t *Tracker) startClassifier(c *conn) {
	if t.expect.conns[c]&expScheduled != 0 {
		t.cfg.Classifier.StartScheduled(t.startCls(c), classify.TCP, c.origPort, c.isPartial)
		return
	}
	t.cfg.Classifier.Start(t.startCls(c), classify.TCP, c.origPort, c.respPort, c.isPartial)
}

// noteReuse marks c as ending by connection reuse (main.zeek's
// connection_reused sets ftp_data_reuse, and finalize_ftp_data then keeps
// the table entry).
func (t *Tracker) noteReuse(c *conn) {
	if len(t.expect.conns) == 0 {
		return
	}
	if _, ok := t.expect.conns[c]; ok {
		if t.expect.reused == nil {
			t.expect.reused = make(map[*conn]bool)
		}
		t.expect.reused[c] = true
	}
}

// endExpected runs the scripts' removal hooks for c (finalize_ftp_data,
// finalize_irc_data): the table entry of c's responder is deleted. Call it
// after c's record was handed on.
func (t *Tracker) endExpected(c *conn) {
	x := &t.expect
	if len(x.conns) == 0 {
		return
	}
	bits, ok := x.conns[c]
	if !ok {
		return
	}
	delete(x.conns, c)
	reused := x.reused[c]
	delete(x.reused, c)
	tb := t.expectedTable(false)
	if tb == nil {
		return
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	k := expectKey{resp: as16(c.respAddr()), port: c.respPort}
	e := tb.m[k]
	if e == nil {
		return
	}
	if bits&expFTPData != 0 && !reused {
		e.svc[0] = 0
	}
	if bits&expIRCDCC != 0 {
		e.svc[1] = 0
	}
	if e.svc[0] == 0 && e.svc[1] == 0 {
		delete(tb.m, k)
		tb.n.Store(int32(len(tb.m)))
	}
}

// ExpectedStats returns the expected-connection table's counters.
func (t *Tracker) ExpectedStats() ExpectedStats {
	s := t.expStats
	if tb := t.expectedTable(false); tb != nil {
		tb.mu.Lock()
		s.Dropped, s.Pending = tb.dropped, len(tb.m)
		tb.mu.Unlock()
	}
	return s
}
