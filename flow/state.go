package flow

import (
	"net/netip"

	"github.com/netbased/netbased/classify"
)

// History masks (Session/TCP_Endpoint HIST_*); the responder's are shifted
// left by 16.
const (
	histSYNPkt      uint32 = 0x1
	histFINPkt      uint32 = 0x2
	histRSTPkt      uint32 = 0x4
	histFINRSTPkt   uint32 = 0x8
	histDataPkt     uint32 = 0x10
	histACKPkt      uint32 = 0x20
	histMultiFlag   uint32 = 0x40
	histOrigDataPkt uint32 = 0x100
	histRespDataPkt uint32 = 0x200
	// histUnknownPkt is Session's HIST_UNKNOWN_PKT: 'X', "connection
	// analysis partial", added once (tunnel depth exceeded, an analyzer
	// limit reached).
	histUnknownPkt uint32 = 0x400
)

// conn is one live connection, in a slot of the tracker's connTable. Slots
// are recycled through the table's free list, and the parts only some
// connections need (TCP endpoints, reassembly buffers, tunnel details, a
// long history, UDP checksum counters) come from the tracker's pools, so
// a steady packet stream allocates nothing and a connection costs what
// its kind needs.
type conn struct {
	key connKey
	// addr says how the originator and responder addresses derive from
	// the key (addrOrigIsA, addrOrigV4, addrRespV4).
	addr uint8
	// inact indexes the inactivity timeout in Tracker.inactTimeouts
	// (0: none set).
	inact    uint8
	origPort uint16
	respPort uint16
	ref      connRef // this slot

	prev, next connRef // recency list

	// Timers. A new generation is one past the later of the two, and
	// the slot keeps them when it is recycled: a timer of an earlier
	// connection never matches.
	inactGen uint32
	anaGen   uint32

	histSeen uint32
	// serial is the creation order (low 32 bits), for Flush.
	serial uint32

	// ConnSize counters, [0] originator, [1] responder: the low 32 bits
	// (ext holds the high ones once a counter wrapped).
	pkts, ipBytes [2]uint32
	// sizePlus1 are the low 32 bits of the UDP/ICMP sizes plus one
	// (request_len/reply_len, −1 = nothing seen yet; ext holds the high
	// bits when they are not 0). A TCP connection has no sizes: while it
	// is synOnly, sizePlus1[0] holds its SYN's sequence number.
	sizePlus1 [2]uint32

	start, lastTime int64 // Unix ns

	tcp *tcpConn        // TCP only
	ext *connExt        // nil until needed
	cls *classify.State // from the tracker's pool once classification starts

	// hist holds the history while it fits, else ext.hist does.
	hist    [histInline]byte
	histLen uint16

	removed          bool
	isActive         bool
	isPartial        bool
	firstPacketSeen  uint8 // 1 orig, 2 resp
	closeDeferred    bool
	deferredGenEvent bool
	establishedEvent bool // connection_established raised by this packet
	longInactivity   bool
	eoIdx            uint8 // tcp.eps[eoIdx] is the originator's endpoint
	// synOnly marks a TCP connection whose only packet was a plain SYN
	// from its originator: it has no tcpConn (see compactSYN).
	synOnly bool
}

// conn.addr bits.
const (
	addrOrigIsA uint8 = 1 << iota // the originator is the key's a side
	addrOrigV4                    // the originator's address is IPv4
	addrRespV4                    // the responder's address is IPv4
)

// histInline is the history kept in the conn itself (sized so that the
// conn packs into 160 bytes); most connections never have a longer one.
const histInline = 12

// connExt is what few connections need: the tunnels that carried them, a
// history longer than histInline, UDP checksum-error counters, the high
// halves of ConnSize counters past 2^32.
type connExt struct {
	pktsHi, ipBytesHi [2]uint32
	sizeHi            [2]int32
	parents           []UID // UIDs of the tunnels that carried it (tunnel.go)
	tunnelSvc         string
	tunnelDirs        uint8
	tunnelConfirmed   bool
	hist              []byte
	chkCnt            [2]uint32
	chkExp            [2]uint8
}

func (c *conn) reset() {
	gen, ref := c.latestGen(), c.ref
	*c = conn{}
	c.ref = ref
	c.inactGen, c.anaGen = gen+1, gen+2
}

// setAddrs records the originator and responder addresses, which the key
// holds.
func (c *conn) setAddrs(orig, resp netip.Addr) {
	c.addr = 0
	if o := orig.As16(); o == c.key.a && (c.key.a != c.key.b || c.origPort == c.key.pa) {
		c.addr |= addrOrigIsA
	}
	if orig.Is4() {
		c.addr |= addrOrigV4
	}
	if resp.Is4() {
		c.addr |= addrRespV4
	}
}

func addrOf(b *[16]byte, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte(b[12:16]))
	}
	return netip.AddrFrom16(*b)
}

// origAddr is the originator's address.
func (c *conn) origAddr() netip.Addr {
	if c.addr&addrOrigIsA != 0 {
		return addrOf(&c.key.a, c.addr&addrOrigV4 != 0)
	}
	return addrOf(&c.key.b, c.addr&addrOrigV4 != 0)
}

// respAddr is the responder's address.
func (c *conn) respAddr() netip.Addr {
	if c.addr&addrOrigIsA != 0 {
		return addrOf(&c.key.b, c.addr&addrRespV4 != 0)
	}
	return addrOf(&c.key.a, c.addr&addrRespV4 != 0)
}

// swapAddrs exchanges the originator's and responder's addresses.
func (c *conn) swapAddrs() {
	a := c.addr ^ addrOrigIsA
	a &^= addrOrigV4 | addrRespV4
	if c.addr&addrOrigV4 != 0 {
		a |= addrRespV4
	}
	if c.addr&addrRespV4 != 0 {
		a |= addrOrigV4
	}
	c.addr = a
}

// history is the history string's bytes.
func (c *conn) history() []byte {
	if int(c.histLen) <= histInline {
		return c.hist[:c.histLen]
	}
	return c.ext.hist
}

// uid is the connection's UID (derived from its key and start).
func (c *conn) uid(seed uint64) UID { return makeUID(seed, &c.key, c.start) }

// countPacket adds a packet of ipLen bytes to side's ConnSize counters.
func (t *Tracker) countPacket(c *conn, side int, ipLen uint32) {
	c.pkts[side]++
	if c.pkts[side] == 0 {
		t.extOf(c).pktsHi[side]++
	}
	b := c.ipBytes[side] + ipLen
	if b < ipLen {
		t.extOf(c).ipBytesHi[side]++
	}
	c.ipBytes[side] = b
}

// counts returns side's ConnSize counters.
func (c *conn) counts(side int) (pkts, ipBytes uint64) {
	pkts, ipBytes = uint64(c.pkts[side]), uint64(c.ipBytes[side])
	if x := c.ext; x != nil {
		pkts |= uint64(x.pktsHi[side]) << 32
		ipBytes |= uint64(x.ipBytesHi[side]) << 32
	}
	return pkts, ipBytes
}

// newGen returns a generation no timer of the slot has.
func (c *conn) newGen() uint32 { return c.latestGen() + 1 }

// latestGen is the later of the two generations (in 32-bit serial number
// arithmetic).
func (c *conn) latestGen() uint32 {
	if int32(c.inactGen-c.anaGen) > 0 {
		return c.inactGen
	}
	return c.anaGen
}

// addSize adds n to the UDP/ICMP size of side (0 originator, 1 responder),
// which starts at −1 for "nothing seen yet".
func (t *Tracker) addSize(c *conn, side int, n int64) {
	if v := c.size(side); v < 0 {
		t.setSize(c, side, n)
	} else {
		t.setSize(c, side, v+n)
	}
}

// size is the UDP/ICMP size of side (−1: nothing seen yet).
func (c *conn) size(side int) int64 {
	u := uint64(c.sizePlus1[side])
	if x := c.ext; x != nil {
		u |= uint64(int64(x.sizeHi[side])) << 32
	}
	return int64(u) - 1
}

func (t *Tracker) setSize(c *conn, side int, v int64) {
	u := v + 1
	c.sizePlus1[side] = uint32(u)
	if hi := int32(u >> 32); hi != 0 || c.ext != nil {
		t.extOf(c).sizeHi[side] = hi
	}
}

// maxHistory bounds the history string: Zeek's has no bound, but a
// connection repeating FIN or RST at new sequence numbers would make it
// grow with every packet. Real connections stay far below it.
const maxHistory = 1024

// maxTunnelParents bounds the tunnel flows remembered per connection.
const maxTunnelParents = 64

func (t *Tracker) addHistory(c *conn, code byte) {
	n := int(c.histLen)
	switch {
	case n < histInline:
		c.hist[n] = code
	case n >= maxHistory:
		return
	case n == histInline:
		x := t.extOf(c)
		x.hist = append(append(x.hist[:0], c.hist[:]...), code)
	default:
		c.ext.hist = append(c.ext.hist, code)
	}
	c.histLen++
}

// setHistory replaces the history (at most histInline bytes).
func (c *conn) setHistory(h string) {
	c.histLen = uint16(copy(c.hist[:], h))
}

// extOf returns c's rarely needed part, taking one from the pool.
func (t *Tracker) extOf(c *conn) *connExt {
	if c.ext == nil {
		if n := len(t.freeExt); n > 0 {
			c.ext = t.freeExt[n-1]
			t.freeExt = t.freeExt[:n-1]
		} else {
			c.ext = &connExt{}
		}
	}
	return c.ext
}

// startCls gives c a classification state from the pool (the
// classifier's Start initializes it).
func (t *Tracker) startCls(c *conn) *classify.State {
	if n := len(t.freeCls); n > 0 {
		c.cls = t.freeCls[n-1]
		t.freeCls = t.freeCls[:n-1]
	} else {
		c.cls = new(classify.State)
	}
	return c.cls
}

// releaseParts returns c's pooled parts.
func (t *Tracker) releaseParts(c *conn) {
	if x := c.ext; x != nil {
		*x = connExt{parents: x.parents[:0], hist: x.hist[:0]}
		t.freeExt = append(t.freeExt, x)
		c.ext = nil
	}
	if c.cls != nil {
		t.freeCls = append(t.freeCls, c.cls)
		c.cls = nil
	}
	if tc := c.tcp; tc != nil {
		for i := range tc.eps {
			if ra := tc.eps[i].ra; ra != nil {
				ra.clear()
				t.freeReasm = append(t.freeReasm, ra)
			}
		}
		t.freeTCP = append(t.freeTCP, tc)
		c.tcp = nil
	}
}

// checkHistory adds code the first time mask is seen and reports whether
// it had been seen before (Session::CheckHistory).
func (t *Tracker) checkHistory(c *conn, mask uint32, code byte) bool {
	if c.histSeen&mask == 0 {
		c.histSeen |= mask
		t.addHistory(c, code)
		return false
	}
	return true
}

// scaledHistory adds code on the 1st, 10th, 100th, … call
// (Session::ScaledHistoryEntry with base 10); exp indexes the current
// threshold in scaledThresholds.
func (t *Tracker) scaledHistory(c *conn, code byte, counter *uint32, exp *uint8) bool {
	*counter++
	if *counter == scaledThresholds[*exp] {
		t.addHistory(c, code)
		if int(*exp) == len(scaledThresholds)-1 {
			*counter = 0 // the next threshold overflows 32 bits
		} else {
			*exp++
		}
		return true
	}
	return false
}

// scaledThresholds are the thresholds of ScaledHistoryEntry: 1, 10, 100,
// … multiplied in 32 bits for as long as the product grows (Zeek's
// uint32_t rule); the history keeps the index of the current one.
var scaledThresholds = func() []uint32 {
	th := []uint32{1}
	for {
		last := th[len(th)-1]
		if next := last * 10; next > last {
			th = append(th, next)
			continue
		}
		return th
	}
}()

// noteTunnel records the tunnel service of an outer tunnel packet. Teredo
// confirms only once both directions carried it
// (Tunnel::delay_teredo_confirmation); the others at once.
func (t *Tracker) noteTunnel(c *conn, svc string, isOrig bool) {
	x := t.extOf(c)
	if x.tunnelSvc == "" {
		x.tunnelSvc = svc
	}
	if isOrig {
		x.tunnelDirs |= 1
	} else {
		x.tunnelDirs |= 2
	}
	if svc != "teredo" || x.tunnelDirs == 3 {
		x.tunnelConfirmed = true
	}
}

// addParent records the UID of a tunnel flow that carried this connection.
func (t *Tracker) addParent(c *conn, u UID) {
	x := t.extOf(c)
	for _, p := range x.parents {
		if p == u {
			return
		}
	}
	if len(x.parents) < maxTunnelParents {
		x.parents = append(x.parents, u)
	}
}
