package flow

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"time"
	"unsafe"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// connKey is the 5-tuple with the two endpoints in canonical order (VLAN
// and tunnel are not part of it, as in Zeek's default key). Addresses are
// kept in their 16-byte form, so an IPv4 address equals its IPv4-mapped
// IPv6 form as in Zeek's IPAddr, and the key holds no pointer: the table
// hashes and compares it a 64-bit word at a time. Its 38 bytes align to 2,
// so the conn's small fields pack right after it.
type connKey struct {
	a, b   [16]byte
	pa, pb uint16
	proto  uint8
}

// equal reports whether k and o are the same key.
func (k *connKey) equal(o *connKey) bool {
	le := binary.LittleEndian
	return le.Uint64(k.a[:8]) == le.Uint64(o.a[:8]) && le.Uint64(k.a[8:]) == le.Uint64(o.a[8:]) &&
		le.Uint64(k.b[:8]) == le.Uint64(o.b[:8]) && le.Uint64(k.b[8:]) == le.Uint64(o.b[8:]) &&
		k.pa == o.pa && k.pb == o.pb && k.proto == o.proto
}

// Stats counts what the tracker did. All counters only grow.
type Stats struct {
	Packets     uint64 // packets passed to Packet
	Connections uint64 // connections created
	Ended       uint64 // connections handed to onEnd
	Evictions   uint64 // connections ended early because the table was full
	Reused      uint64 // TCP connections ended by a reusing SYN
	// TimerCompactions counts rebuilds of the timer queue that dropped
	// cancelled timers.
	TimerCompactions uint64
}

// Tracker rebuilds connections from packets with Zeek's semantics and hands
// every removed connection to onEnd. It is not safe for concurrent use.
type Tracker struct {
	cfg   Config
	onEnd func(*Conn)

	conns  *connTable
	lru    *conn // slot 0: sentinel of the recency list (most recent first)
	timers timerQueue
	// Pools of the parts some connections need (state.go, tcp.go).
	freeTCP   []*tcpConn
	tcpSlab   []tcpConn // the rest of the newest chunk of tcpConns
	freeReasm []*reasm
	freeExt   []*connExt
	freeCls   []*classify.State
	// keepSYNState turns compactSYN off (tests compare the two).
	keepSYNState bool
	// inactTimeouts are the inactivity timeouts connections use, indexed
	// by conn.inact; [0] is none.
	inactTimeouts []time.Duration
	// compactAt is the heap size from which schedule considers compacting.
	compactAt int

	now     int64 // network time (Unix ns); 0 before the first packet
	started bool
	// frameClock is set once Tick was called: timers fire per frame.
	frameClock bool
	stats      Stats

	// out is the record handed to onEnd; its strings and slices point
	// into the scratch buffers below (valid only during the call).
	out        Conn
	uidText    [uidTextLen]byte
	parentText []byte
	parentUIDs []string
	services   []string

	// tunnels names the tunnels of the packets Packet gets (PacketFrom's
	// come named).
	tunnels *Tunnels

	// Expected (announced) data connections, expect.go.
	expect   expectState
	expStats ExpectedStats
}

// NewTracker returns a tracker; onEnd receives each ended connection. The
// *Conn passed to onEnd, and the strings and slices it holds, are only
// valid during the call (Conn.Clone copies it).
func NewTracker(cfg Config, onEnd func(*Conn)) *Tracker {
	cfg.normalize()
	t := &Tracker{cfg: cfg, onEnd: onEnd, conns: newConnTable(), tunnels: NewTunnels(cfg)}
	t.inactTimeouts = []time.Duration{0}
	t.lru = t.conns.get(0)
	t.lru.next, t.lru.prev = 0, 0
	t.timers.conns = t.conns
	to := &t.cfg.Timeouts
	t.timers.init(to.TCPSYNTimeout, to.TCPSessionTimer, to.TCPAttemptDelay, to.TCPCloseDelay, to.UDPInactivity,
		to.TCPInactivity, to.ICMPInactivity, to.UnknownInactivity, to.DNSSession, to.PortInactivity, to.AnalyzerInactivity)
	return t
}

// Stats returns the counters so far.
func (t *Tracker) Stats() Stats { return t.stats }

// Active returns the number of connections in the table.
func (t *Tracker) Active() int { return t.conns.count }

// NetworkTime returns the current network time (zero before any packet).
func (t *Tracker) NetworkTime() time.Time {
	if !t.started {
		return time.Time{}
	}
	return time.Unix(0, t.now).UTC()
}

// Advance moves network time forward to ts without a packet (the idle
// clock of a live capture) and fires every timer that is due.
func (t *Tracker) Advance(ts time.Time) {
	n := ts.UnixNano()
	if !t.started || n <= t.now {
		return
	}
	t.now = n
	t.fireTimers(-1)
}

// Tick is the arrival of a frame at ts, as Zeek's packet dispatch sees it
// before any analysis: network time moves to ts (never back) and up to
// max_timer_expires due timers fire. A capture worker calls Tick for every
// frame it reads, IP or not, and for every frame another worker of the
// same traffic reads, so that connections end at the network time they
// would with one tracker for all the traffic. Once Tick was called,
// Packet no longer fires timers itself (the frame's Tick did).
func (t *Tracker) Tick(ts time.Time) {
	t.frameClock = true
	t.arrive(ts)
	t.fireTimers(t.cfg.Timeouts.MaxTimerExpiresPerPkt)
}

// Ticks is Tick for each of a run of frame times (Unix ns), without
// building a time.Time per frame: the times of the frames another worker
// owns (pipeline's multi-worker replay).
func (t *Tracker) Ticks(ts []int64) {
	t.frameClock = true
	limit := t.cfg.Timeouts.MaxTimerExpiresPerPkt
	for _, n := range ts {
		t.arriveNs(n)
		if t.now >= t.timers.notBefore { // else fireTimers would find nothing due
			t.fireTimers(limit)
		}
	}
}

// arrive moves network time to ts, read with microsecond precision as
// Zeek reads timestamps, unless that is earlier (network time never goes
// back), and returns ts so read (Unix ns).
func (t *Tracker) arrive(ts time.Time) int64 { return t.arriveNs(ts.UnixNano()) }

// arriveNs is arrive for a time in Unix ns.
func (t *Tracker) arriveNs(n int64) int64 {
	n -= n % 1000
	if !t.started {
		t.started = true
		t.now = n
	} else if n > t.now {
		t.now = n
	}
	return n
}

// Flush ends every open connection at the current network time, as Zeek
// does at the end of input (session Drain). Zeek drains in hash-table
// order; Flush uses the order of the connections' start, which is
// deterministic.
func (t *Tracker) Flush() {
	if t.conns.count == 0 {
		return
	}
	all := make([]*conn, 0, t.conns.count)
	t.conns.each(func(_ connRef, c *conn) { all = append(all, c) })
	sort.Slice(all, func(i, j int) bool {
		if all[i].start != all[j].start {
			return all[i].start < all[j].start
		}
		return int32(all[i].serial-all[j].serial) < 0 // connections of one µs
	})
	for _, c := range all {
		t.remove(c)
	}
}

// Packet processes one packet: network time advances to its timestamp (it
// never goes back), due timers fire first (at most max_timer_expires;
// unless the packet's frame was announced by Tick, which fired them), then
// the packet updates its connection.
func (t *Tracker) Packet(p *capture.Packet) {
	var parent Parent
	if p.TunnelDepth > 0 || p.Proto == capture.ProtoUDP {
		parent = t.tunnels.Of(p)
	}
	t.PacketFrom(p, parent)
}

// PacketFrom is Packet for a packet whose tunnel parent was named by a
// Tunnels that saw every frame (see Tunnels): a tracker that gets only
// some of a frame's packets must not name tunnels itself.
func (t *Tracker) PacketFrom(p *capture.Packet, parent Parent) {
	t.stats.Packets++
	ts := t.arrive(p.Timestamp)
	if !t.frameClock {
		t.fireTimers(t.cfg.Timeouts.MaxTimerExpiresPerPkt)
	}

	key, origPort, respPort := keyOf(p)
	var c *conn
	ref, hash := t.conns.lookup(&key)
	if ref != 0 {
		c = t.conns.get(ref)
	}
	if c != nil && p.Proto == capture.ProtoTCP && t.isReuse(c, p) {
		t.stats.Reused++
		t.noteReuse(c)
		t.remove(c)
		c = nil
	}
	created := c == nil
	if created {
		c = t.newConn(&key, hash, p, ts, origPort, respPort)
	} else {
		t.touch(c)
	}
	isOrig := origPort == c.origPort && p.Src == c.origAddr()
	switch c.key.proto {
	case capture.ProtoTCP:
		t.tcpPacket(c, p, isOrig, ts)
		if created && !t.keepSYNState {
			t.compactSYN(c)
		}
	case capture.ProtoUDP:
		t.udpPacket(c, p, isOrig, ts)
	case capture.ProtoICMP, capture.ProtoICMPv6:
		t.icmpPacket(c, p, isOrig, ts)
	default:
		t.otherPacket(c, p, isOrig, ts)
	}
	if parent.Set || p.TunnelService != "" {
		t.noteEncapsulation(c, p, isOrig, parent)
	}
}

// keyOf builds p's canonical key and the ports as Zeek assigns them
// (ICMP: type and counterpart type or code; other protocols: 0).
func keyOf(p *capture.Packet) (k connKey, sport, dport uint16) {
	sport, dport = p.SrcPort, p.DstPort
	oneWay := false
	switch p.Proto {
	case capture.ProtoTCP, capture.ProtoUDP:
	case capture.ProtoICMP:
		var cp uint16
		cp, oneWay = icmp4Counterpart(uint8(p.SrcPort), uint8(p.DstPort))
		dport = cp
	case capture.ProtoICMPv6:
		var cp uint16
		cp, oneWay = icmp6Counterpart(uint8(p.SrcPort), uint8(p.DstPort))
		dport = cp
	default:
		sport, dport = 0, 0
	}
	k.proto = p.Proto
	src, dst := p.Src.As16(), p.Dst.As16()
	if oneWay || addrPortLess(&src, sport, &dst, dport) {
		k.a, k.pa, k.b, k.pb = src, sport, dst, dport
	} else {
		k.a, k.pa, k.b, k.pb = dst, dport, src, sport
	}
	return k, sport, dport
}

// addrPortLess orders (address, port) pairs: the addresses' bytes, then
// the ports (comparing big-endian words compares the bytes).
func addrPortLess(a *[16]byte, pa uint16, b *[16]byte, pb uint16) bool {
	be := binary.BigEndian
	if x, y := be.Uint64(a[:8]), be.Uint64(b[:8]); x != y {
		return x < y
	}
	if x, y := be.Uint64(a[8:]), be.Uint64(b[8:]); x != y {
		return x < y
	}
	return pa < pb
}

func icmp4Counterpart(typ, code uint8) (uint16, bool) {
	switch typ {
	case 8:
		return 0, false
	case 0:
		return 8, false
	case 13:
		return 14, false
	case 14:
		return 13, false
	case 15:
		return 16, false
	case 16:
		return 15, false
	case 10:
		return 9, false
	case 9:
		return 10, false
	case 17:
		return 18, false
	case 18:
		return 17, false
	}
	return uint16(code), true
}

func icmp6Counterpart(typ, code uint8) (uint16, bool) {
	switch typ {
	case 128:
		return 129, false
	case 129:
		return 128, false
	case 133:
		return 134, false
	case 134:
		return 133, false
	case 135:
		return 136, false
	case 136:
		return 135, false
	case 130:
		return 131, false
	case 131:
		return 130, false
	case 139:
		return 140, false
	case 140:
		return 139, false
	case 144:
		return 145, false
	case 145:
		return 144, false
	}
	return uint16(code), true
}

// newConn creates a connection for the first packet p, applying the
// creation flips of WantConnection, and starts its timers.
func (t *Tracker) newConn(key *connKey, hash uint32, p *capture.Packet, ts int64, sport, dport uint16) *conn {
	if t.cfg.MaxConnections > 0 && t.conns.count >= t.cfg.MaxConnections {
		if victim := t.lru.prev; victim != 0 {
			t.stats.Evictions++
			t.remove(t.conns.get(victim))
		}
	}
	ref, c := t.conns.alloc()
	c.ref = ref
	c.reset()
	t.stats.Connections++
	c.serial = uint32(t.stats.Connections)
	c.key = *key
	c.origPort, c.respPort = sport, dport
	c.setAddrs(p.Src, p.Dst)
	c.start, c.lastTime = ts, ts
	t.conns.insert(hash, ref)
	t.lruPush(c)

	flip := false
	sp := t.cfg.ServerPorts
	switch p.Proto {
	case capture.ProtoTCP:
		t.tcpInit(c)
		fl := p.TCPFlags
		if fl&capture.FlagSYN == 0 || fl&capture.FlagACK != 0 {
			if sp.TCP.Has(sport) {
				if sp.TCP.Has(dport) {
					flip = fl&capture.FlagSYN == 0 && sport < dport
				} else {
					flip = true
				}
			}
		}
	case capture.ProtoUDP:
		flip = sp.UDP.Has(sport) && !sp.UDP.Has(dport)
	}
	if flip && p.Dst != broadcast4 {
		t.flipRoles(c)
	}
	if p.Proto == capture.ProtoTCP {
		t.matchExpected(c)
	}
	to := &t.cfg.Timeouts
	switch p.Proto {
	case capture.ProtoTCP:
		t.addAnalyzerTimer(c, timerTCPExpire, t.now+int64(to.TCPSYNTimeout))
		t.setInactivity(c, to.UDPInactivity)
	case capture.ProtoUDP:
		t.setInactivity(c, to.UDPInactivity)
		if t.cfg.ServerPorts.DNSAnalyzer && dnsUDPPort(c.respPort) {
			t.addAnalyzerTimer(c, timerDNSExpire, t.now+int64(to.DNSSession))
		}
	case capture.ProtoICMP, capture.ProtoICMPv6:
		t.setInactivity(c, to.ICMPInactivity)
	default:
		t.setInactivity(c, to.UnknownInactivity)
	}
	return c
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// flipRoles swaps originator and responder (Connection::FlipRoles): the
// addresses, the TCP endpoints and the ConnSize counters; UDP/ICMP sizes
// stay where they are, as in Zeek; history gets '^'.
func (t *Tracker) flipRoles(c *conn) {
	c.swapAddrs()
	c.origPort, c.respPort = c.respPort, c.origPort
	c.pkts[0], c.pkts[1] = c.pkts[1], c.pkts[0]
	c.ipBytes[0], c.ipBytes[1] = c.ipBytes[1], c.ipBytes[0]
	if x := c.ext; x != nil {
		x.pktsHi[0], x.pktsHi[1] = x.pktsHi[1], x.pktsHi[0]
		x.ipBytesHi[0], x.ipBytesHi[1] = x.ipBytesHi[1], x.ipBytesHi[0]
	}
	if c.key.proto == capture.ProtoTCP {
		t.tcpOf(c)
		c.eoIdx ^= 1
		c.eo().isOrig = true
		c.er().isOrig = false
		fps := c.firstPacketSeen
		c.firstPacketSeen = 0
		if fps&1 != 0 {
			c.firstPacketSeen |= 2
		}
		if fps&2 != 0 {
			c.firstPacketSeen |= 1
		}
		c.isPartial = false
	}
	if c.cls != nil {
		c.cls.Flip()
		c.cls.SetMulticastResponder(c.respAddr().IsMulticast())
	}
	t.addHistory(c, '^')
}

func (t *Tracker) addAnalyzerTimer(c *conn, kind uint8, when int64) {
	t.schedule(timer{when: when, ref: c.ref, gen: c.anaGen}, kind)
}

// schedule pushes a timer. Cancelled timers stay in the heap until they
// come due; when they outnumber the live ones by far (a flood of
// connections ended early by eviction, say), the heap is compacted so that
// its size stays proportional to the connection table.
func (t *Tracker) schedule(tm timer, kind uint8) {
	if n := t.timers.len(); n >= t.compactAt && n >= compactSlack+timersPerConn*t.conns.count {
		t.timers.compact()
		t.stats.TimerCompactions++
		t.compactAt = 2 * t.timers.len()
	}
	t.timers.push(tm, kind, t.now)
}

// timersPerConn bounds the live timers of one connection (inactivity plus
// the analyzer timers of the current generation); compactSlack is the heap
// size below which compaction does not pay.
const (
	timersPerConn = 8
	compactSlack  = 4096
)

// cancelAnalyzerTimers is TCP's CancelTimers: drops the expire, attempt and
// pending delete timers.
func (t *Tracker) cancelAnalyzerTimers(c *conn) { c.anaGen = c.newGen() }

// setInactivity is Session::SetInactivityTimeout.
func (t *Tracker) setInactivity(c *conn, d time.Duration) {
	i := t.inactIndex(d)
	if i == c.inact {
		return
	}
	c.inactGen = c.newGen()
	c.inact = i
	if d > 0 {
		t.scheduleInactivity(c)
	}
}

// scheduleInactivity schedules c's inactivity timer for the current
// generation, its inactivity timeout after its last activity.
func (t *Tracker) scheduleInactivity(c *conn) {
	t.schedule(timer{when: c.lastTime + int64(t.inactTimeouts[c.inact]), ref: c.ref, gen: c.inactGen}, timerInactivity)
}

// inactIndex returns d's index in t.inactTimeouts, adding it if new.
// Index 0 is "no timeout set" (and d 0).
func (t *Tracker) inactIndex(d time.Duration) uint8 {
	for i, v := range t.inactTimeouts {
		if v == d {
			return uint8(i)
		}
	}
	if len(t.inactTimeouts) == 256 {
		panic("flow: more than 255 distinct inactivity timeouts")
	}
	t.inactTimeouts = append(t.inactTimeouts, d)
	return uint8(len(t.inactTimeouts) - 1)
}

// fireTimers dispatches every timer due at the current network time, at
// most limit (limit < 0: no limit).
func (t *Tracker) fireTimers(limit int) {
	n := 0
	for limit < 0 || n < limit {
		top, ok := t.timers.popDue(t.now)
		if !ok {
			return
		}
		c := t.conns.get(top.ref)
		if c.removed {
			continue // stale: the connection is gone
		}
		switch top.kind() {
		case timerInactivity:
			if top.gen != c.inactGen {
				continue
			}
			n++
			if c.lastTime+int64(t.inactTimeouts[c.inact]) <= t.now {
				t.remove(c)
			} else {
				t.scheduleInactivity(c)
			}
		default:
			if top.gen != c.anaGen {
				continue
			}
			n++
			switch top.kind() {
			case timerTCPExpire:
				t.tcpExpireTimer(c)
			case timerTCPAttempt:
				t.tcpAttemptTimer(c)
			case timerConnDelete:
				t.remove(c)
			case timerDNSExpire:
				// DNS_Analyzer::ExpireTimer.
				ds := int64(t.cfg.Timeouts.DNSSession)
				if t.now-c.lastTime >= ds-int64(time.Second) {
					t.remove(c)
				} else {
					t.addAnalyzerTimer(c, timerDNSExpire, t.now+ds)
				}
			}
		}
	}
}

// remove ends c at the current network time and hands it to onEnd.
func (t *Tracker) remove(c *conn) {
	if c.removed {
		return
	}
	c.removed = true
	t.conns.delete(&c.key, c.ref)
	t.lruUnlink(c)
	t.stats.Ended++
	if t.onEnd != nil {
		t.fillRecord(c, &t.out)
		t.onEnd(&t.out)
	}
	t.endExpected(c)
	t.releaseParts(c)
	t.conns.release(c.ref)
}

// The recency list links slots by reference; slot 0 (t.lru) is its
// sentinel.

func (t *Tracker) lruPush(c *conn) {
	c.prev = 0
	c.next = t.lru.next
	t.conns.get(t.lru.next).prev = c.ref
	t.lru.next = c.ref
}

func (t *Tracker) lruUnlink(c *conn) {
	t.conns.get(c.prev).next = c.next
	t.conns.get(c.next).prev = c.prev
}

func (t *Tracker) touch(c *conn) {
	if t.lru.next == c.ref {
		return
	}
	t.lruUnlink(c)
	t.lruPush(c)
}

// fillRecord converts c into the Conn record Zeek would log. The record's
// strings and slices point into c and the tracker's scratch buffers: they
// are valid until the next fillRecord (or until c is reused).
func (t *Tracker) fillRecord(c *conn, r *Conn) {
	*r = Conn{}
	if !t.cfg.NoUIDs {
		r.UID = unsafeString(c.uid(t.cfg.UIDSeed).appendText(t.uidText[:0]))
	}
	if x := c.ext; x != nil && len(x.parents) > 0 {
		// Room for every text first: the strings point into parentText.
		if need := len(x.parents) * uidTextLen; cap(t.parentText) < need {
			t.parentText = make([]byte, 0, need)
		}
		text := t.parentText[:0]
		t.parentUIDs = t.parentUIDs[:0]
		for _, p := range x.parents {
			n := len(text)
			text = p.appendText(text)
			t.parentUIDs = append(t.parentUIDs, unsafeString(text[n:]))
		}
		r.TunnelParents = t.parentUIDs
	}
	r.Start = time.Unix(0, c.start).UTC()
	r.LastTime = time.Unix(0, c.lastTime).UTC()
	r.End = time.Unix(0, t.now).UTC()
	r.Orig, r.Resp = c.origAddr(), c.respAddr()
	r.OrigPort, r.RespPort = c.origPort, c.respPort
	r.IPProto = c.key.proto
	r.OrigPkts, r.OrigIPBytes = c.counts(0)
	r.RespPkts, r.RespIPBytes = c.counts(1)
	r.History = unsafeString(c.history())
	if t.cfg.Local != nil {
		r.LocalOrig = t.cfg.Local(r.Orig)
		r.LocalResp = t.cfg.Local(r.Resp)
	}
	switch c.key.proto {
	case capture.ProtoTCP:
		t.tcpOf(c)
		r.MissedBytes = c.tcp.missed
		r.OrigBytes = c.eo().size(c.er())
		r.RespBytes = c.er().size(c.eo())
		r.ConnState = tcpConnState(c)
	case capture.ProtoUDP:
		r.OrigBytes, r.RespBytes = sizeOrZero(c.size(0)), sizeOrZero(c.size(1))
		switch o, rs := c.size(0) >= 0, c.size(1) >= 0; {
		case o && rs:
			r.ConnState = "SF"
		case o:
			r.ConnState = "S0"
		case rs:
			r.ConnState = "SHR"
		default:
			r.ConnState = "OTH"
		}
	case capture.ProtoICMP, capture.ProtoICMPv6:
		r.OrigBytes, r.RespBytes = sizeOrZero(c.size(0)), sizeOrZero(c.size(1))
		r.ConnState = "OTH"
	default:
		r.ConnState = "OTH"
	}
	svcs := t.services[:0]
	if x := c.ext; x != nil && x.tunnelSvc != "" && x.tunnelConfirmed {
		svcs = append(svcs, x.tunnelSvc)
	}
	svcs = t.expectedServices(c, svcs)
	if c.cls != nil {
		svcs = c.cls.Services(svcs)
		svcs = c.cls.ScriptServices(svcs)
	}
	t.services = svcs
	if len(svcs) > 0 {
		r.Services = svcs
	}
}

// unsafeString returns b as a string without copying: the string changes
// if b does.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func sizeOrZero(v int64) uint64 {
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// UID is a connection's 96-bit identifier; its text (String) is Zeek's
// UID form.
type UID struct {
	hi uint32
	lo uint64
}

const (
	base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// uidTextLen bounds a UID's text: "C" and up to 11 + 6 base62 digits.
	uidTextLen = 18
)

// makeUID derives a connection's UID from the seed, its key and its start
// time (Unix ns): the same connection gets the same UID in whichever
// tracker sees it, so trackers sharing traffic agree on tunnel parents.
func makeUID(seed uint64, k *connKey, start int64) UID {
	h := splitmix(seed ^ uint64(start))
	for i := 0; i < 16; i += 8 {
		h = splitmix(h ^ binary.LittleEndian.Uint64(k.a[i:]))
		h = splitmix(h ^ binary.LittleEndian.Uint64(k.b[i:]))
	}
	h = splitmix(h ^ uint64(k.pa)<<24 ^ uint64(k.pb)<<8 ^ uint64(k.proto))
	return UID{hi: uint32(splitmix(h ^ 0x9e3779b97f4a7c15)), lo: h}
}

// String is the UID's text.
func (u UID) String() string { return string(u.appendText(nil)) }

// appendText appends Zeek's text form: "C" and the base62 digits of the
// low 64 bits, then of the high 32 bits.
func (u UID) appendText(b []byte) []byte {
	b = append(b, 'C')
	for _, v := range [2]uint64{u.lo, uint64(u.hi)} {
		for v > 0 {
			b = append(b, base62Digits[v%62])
			v /= 62
		}
	}
	return b
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// udpPacket is UDPAnalyzer::DeliverPacket.
func (t *Tracker) udpPacket(c *conn, p *capture.Packet, isOrig bool, ts int64) {
	side := sideIndex(isOrig)
	if p.BadChecksum && !t.cfg.IgnoreChecksums {
		code := byte('C')
		if !isOrig {
			code = 'c'
		}
		x := t.extOf(c)
		t.scaledHistory(c, code, &x.chkCnt[side], &x.chkExp[side])
		return
	}
	c.lastTime = ts
	if isOrig {
		t.checkHistory(c, histOrigDataPkt, 'D')
	} else {
		t.checkHistory(c, histRespDataPkt, 'd')
	}
	t.addSize(c, side, int64(p.UDPLength)-8)
	if p.AnalysisPartial {
		// A tunnel analyzer gave up for Tunnel::max_depth; it runs
		// before the session analyzers.
		t.checkHistory(c, histUnknownPkt, 'X')
	}
	// Current Zeek (since zeek/zeek#3080) forwards a datagram the snap
	// length cut short like any other: the analyzers get the captured
	// part (p.Payload) and ConnSize counts it.
	if t.cfg.Classifier != nil {
		if c.cls == nil {
			t.cfg.Classifier.Start(t.startCls(c), classify.UDP, c.origPort, c.respPort, false)
			c.cls.SetMulticastResponder(c.respAddr().IsMulticast())
		}
		if c.cls.Wants(isOrig) {
			if t.cfg.Classifier.Deliver(c.cls, isOrig, p.Payload) == classify.Flip {
				t.flipRoles(c)
			}
			t.checkConfirmations(c)
		}
	}
	// ConnSize gets the packet after the analyzers, with the old role.
	t.countPacket(c, side, p.IPLen)
}

// checkConfirmations applies Conn::analyzer_inactivity_timeouts (SSH and
// FTP get 1 h once confirmed).
func (t *Tracker) checkConfirmations(c *conn) {
	if c.longInactivity {
		return
	}
	if c.cls.Has("ssh") || c.cls.Has("ftp") {
		c.longInactivity = true
		t.setInactivity(c, t.cfg.Timeouts.AnalyzerInactivity)
	}
}

// icmpPacket is ICMPAnalyzer::DeliverPacket.
func (t *Tracker) icmpPacket(c *conn, p *capture.Packet, isOrig bool, ts int64) {
	if p.BadChecksum && !t.cfg.IgnoreChecksums {
		return
	}
	side := sideIndex(isOrig)
	c.lastTime = ts
	t.addSize(c, side, int64(p.PayloadLen))
	if len(p.Payload) >= p.PayloadLen {
		t.countPacket(c, side, p.IPLen)
	}
}

// otherPacket handles IP protocols without a transport analyzer
// (UnknownIPTransport): only time and ConnSize.
func (t *Tracker) otherPacket(c *conn, p *capture.Packet, isOrig bool, ts int64) {
	side := sideIndex(isOrig)
	c.lastTime = ts
	t.countPacket(c, side, p.IPLen)
}

// dnsUDPPort reports whether Zeek attaches its DNS analyzer to a UDP
// responder port.
func dnsUDPPort(p uint16) bool { return p == 53 || p == 137 || p == 5353 || p == 5355 }

func sideIndex(isOrig bool) int {
	if isOrig {
		return 0
	}
	return 1
}
