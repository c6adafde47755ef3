package traffic

import (
	"cmp"
	"net/netip"
	"slices"
	"time"
)

// flow is one connection's endpoints.
type flow struct {
	orig, resp   *host
	sport, dport uint16
	proto        uint8
	vlan         uint16
}

// session is one connection's packets, ready to be merged into the trace.
type session struct {
	id    int
	kind  string
	start int64
	segs  []segment
	next  int
	order uint64
}

// Session describes one connection of a trace and what a Zeek-like
// recognizer is expected to make of it.
type Session struct {
	ID   int
	Kind string // scenario name, e.g. "https-tls13"
	// Background is false for the fixed catalogue, true for random sessions.
	Background bool
	Start      time.Time
	End        time.Time // last packet
	Proto      string    // tcp, udp, icmp
	Orig, Resp netip.Addr
	// OrigPort and RespPort are the ports as Zeek logs them (for ICMP echo:
	// 8 → 0, or 128 → 129 for ICMPv6).
	OrigPort, RespPort uint16
	VLAN               uint16
	Direction          string // internal, outbound, inbound
	// Service is the service Zeek's conn.log is expected to show ("" for none).
	Service string
	// ConnState is the expected Zeek conn_state.
	ConnState string
	// History is the expected Zeek history ("" where not predicted).
	History string
	Packets int
	Note    string
}

// expect is what a scenario predicts for its connection.
type expect struct {
	service, state, note string
}

// newFlow makes a flow between client and server with an ephemeral source
// port; the VLAN is that of whichever endpoint is tagged.
func (g *generator) newFlow(client, server *host, proto uint8, dport uint16) *flow {
	sport := g.ephemeral(client)
	vlan := client.vlan
	if vlan == 0 {
		vlan = server.vlan
	}
	return &flow{orig: client, resp: server, sport: sport, dport: dport, proto: proto, vlan: vlan}
}

// jitter returns base plus up to a quarter of it at random.
func (g *generator) jitter(base int64) int64 {
	if base <= 0 {
		return 0
	}
	return base + g.rng.Int64N(base/4+1)
}

// between returns a random value in [lo, hi].
func (g *generator) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.rng.Int64N(hi-lo+1)
}

// finish sorts a session's packets by time, records its manifest entry and
// returns it ready for merging.
func (g *generator) finish(f *flow, kind string, segs []segment, exp expect, background bool) *session {
	slices.SortStableFunc(segs, func(a, b segment) int { return cmp.Compare(a.at, b.at) })
	s := &session{id: g.nSessions, kind: kind, segs: segs}
	if len(segs) == 0 {
		return s
	}
	g.nSessions++
	s.start = segs[0].at
	if !g.keepManifest {
		return s
	}
	m := Session{
		ID: s.id, Kind: kind, Background: background,
		Start: g.cfg.Start.Add(time.Duration(segs[0].at) * time.Microsecond),
		End:   g.cfg.Start.Add(time.Duration(segs[len(segs)-1].at) * time.Microsecond),
		Orig:  f.orig.addr, Resp: f.resp.addr, OrigPort: f.sport, RespPort: f.dport, VLAN: f.vlan,
		Service: exp.service, ConnState: exp.state, Note: exp.note,
		Packets:   len(segs),
		History:   history(segs),
		Direction: direction(f),
	}
	switch f.proto {
	case protoTCP:
		m.Proto = "tcp"
	case protoUDP:
		m.Proto = "udp"
	default:
		m.Proto = "icmp"
	}
	g.sessions = append(g.sessions, m)
	return s
}

func direction(f *flow) string {
	switch {
	case !f.orig.external && !f.resp.external:
		return "internal"
	case !f.orig.external:
		return "outbound"
	case !f.resp.external:
		return "inbound"
	}
	return "external"
}

// side indexes per-endpoint state: 0 is the originator, 1 the responder.
type side int

const (
	orig side = 0
	resp side = 1
)

func (s side) peer() side { return 1 - s }

// tcpConv builds one TCP connection packet by packet, keeping sequence and
// acknowledgement numbers consistent and timing plausible as seen from the
// capture point.
type tcpConv struct {
	g    *generator
	f    *flow
	t    int64 // time of the latest packet
	segs []segment
	next [2]uint32 // next sequence number each side sends
	win  [2]uint16
	mss  int
	// A receiver's delayed ACK for the last burst, emitted unless the
	// receiver answers with data first (then the ACK rides on the data).
	pendingAck  bool
	pendingSide side
	pendingAt   int64
	pendingVal  uint32
	// lastAt is the time of each side's latest packet: a host sends its
	// packets in the order they are built.
	lastAt [2]int64
}

func (g *generator) tcp(f *flow, at int64) *tcpConv {
	c := &tcpConv{g: g, f: f, t: at, mss: 1460, lastAt: [2]int64{-1, -1}}
	if f.orig.addr.Is6() {
		c.mss = 1440
	}
	c.next[orig] = g.rng.Uint32()
	c.next[resp] = g.rng.Uint32()
	for i, h := range []*host{f.orig, f.resp} {
		c.win[i] = 1026 // 262656 bytes with window scale 8
		if h.linux {
			c.win[i] = 502 // 64256 bytes with window scale 7
		}
	}
	return c
}

func (c *tcpConv) host(s side) *host {
	if s == orig {
		return c.f.orig
	}
	return c.f.resp
}

// leg is the delay between the capture point seeing a packet towards s and
// seeing s's reaction.
func (c *tcpConv) leg(s side) int64 { return c.g.jitter(c.host(s).leg) }

func (c *tcpConv) emit(at int64, from side, flags uint8, ack uint32, payload []byte) {
	if at <= c.lastAt[from] {
		at = c.lastAt[from] + 1
	}
	c.lastAt[from] = at
	seg := segment{at: at, f: c.f, fromOrig: from == orig, flags: flags, seq: c.next[from], window: c.win[from], payload: payload}
	if flags&flagACK != 0 {
		seg.ack = ack
	}
	c.next[from] += uint32(len(payload))
	if flags&(flagSYN|flagFIN) != 0 {
		c.next[from]++
	}
	c.segs = append(c.segs, seg)
	if at > c.t {
		c.t = at
	}
}

// syn sends the originator's SYN.
func (c *tcpConv) syn() {
	c.emit(c.t, orig, flagSYN, 0, nil)
	c.markSYN()
}

// markSYN gives the latest (SYN) segment its sender's options and
// unscaled window.
func (c *tcpConv) markSYN() {
	seg := &c.segs[len(c.segs)-1]
	seg.wscale = 8
	if (seg.fromOrig && c.f.orig.linux) || (!seg.fromOrig && c.f.resp.linux) {
		seg.wscale = 7
	}
	seg.window = 64240
}

// open performs the three-way handshake.
func (c *tcpConv) open() {
	c.syn()
	c.emit(c.t+c.leg(resp), resp, flagSYN|flagACK, c.next[orig], nil)
	c.markSYN()
	c.emit(c.t+c.leg(orig), orig, flagACK, c.next[resp], nil)
}

// refuse answers the SYN with RST/ACK (closed port: Zeek's REJ).
func (c *tcpConv) refuse() {
	c.syn()
	c.next[resp] = 0
	c.emit(c.t+c.leg(resp), resp, flagRST|flagACK, c.next[orig], nil)
	c.segs[len(c.segs)-1].window = 0
}

// flushAck settles the pending delayed ACK before `from` sends at nextAt.
// It rides on from's packet when from owes it, and is dropped when nextAt
// comes first (the receiver then acknowledges cumulatively later);
// otherwise it is emitted at its time.
func (c *tcpConv) flushAck(from side, nextAt int64) {
	if !c.pendingAck {
		return
	}
	c.pendingAck = false
	if from == c.pendingSide || nextAt < c.pendingAt {
		return
	}
	c.emit(c.pendingAt, c.pendingSide, flagACK, c.pendingVal, nil)
}

// send transmits data from `from`, starting gap µs after the latest packet,
// split into MSS-sized segments. The receiver ACKs every second segment; the
// last one is acknowledged by the receiver's next data or a delayed ACK.
func (c *tcpConv) send(from side, data []byte, gap int64) {
	at := c.t + gap
	c.flushAck(from, at)
	to := from.peer()
	spacing := int64(12)
	if c.host(from).external {
		spacing = 90
	}
	n := 0
	var lastAt int64
	ackLeg := c.leg(to)
	for off := 0; off < len(data); off += c.mss {
		end := min(off+c.mss, len(data))
		flags := flagACK
		if end == len(data) {
			flags |= flagPSH
		}
		segAt := at
		c.emit(segAt, from, flags, c.next[to], data[off:end])
		n++
		lastAt = segAt
		if n%2 == 0 && end < len(data) {
			// The receiver acknowledges every second full segment.
			ackAt := segAt + ackLeg + c.g.between(5, 40)
			c.emitAck(ackAt, to, c.next[from])
		}
		at += c.g.jitter(spacing)
	}
	c.t = lastAt
	c.pendingAck = true
	c.pendingSide = to
	c.pendingAt = lastAt + ackLeg + c.g.between(200, 40000)
	c.pendingVal = c.next[from]
}

// emitAck emits a pure ACK from s at `at` without moving the conversation's
// clock (it interleaves with the sender's burst).
func (c *tcpConv) emitAck(at int64, s side, ack uint32) {
	t := c.t
	c.emit(at, s, flagACK, ack, nil)
	c.t = t
}

// reply is data sent by `from` in reaction to the last packet it received:
// it appears one leg plus think time later.
func (c *tcpConv) reply(from side, data []byte, think int64) {
	if c.pendingAck && c.pendingSide == from {
		// The reply carries the ACK; it cannot come before the data arrived.
		c.pendingAck = false
	}
	c.send(from, data, c.leg(from)+think)
}

// close performs a FIN handshake initiated by `by` after gap µs.
func (c *tcpConv) close(by side, gap int64) {
	c.flushAck(by, c.t+gap)
	other := by.peer()
	c.emit(c.t+gap, by, flagFIN|flagACK, c.next[other], nil)
	c.emit(c.t+c.leg(other)+c.g.between(20, 400), other, flagFIN|flagACK, c.next[by], nil)
	c.emit(c.t+c.leg(by), by, flagACK, c.next[other], nil)
}

// reset aborts the connection from `by` after gap µs (RST/ACK).
func (c *tcpConv) reset(by side, gap int64) {
	c.flushAck(by, c.t+gap)
	c.emit(c.t+gap, by, flagRST|flagACK, c.next[by.peer()], nil)
	c.segs[len(c.segs)-1].window = 0
}

// idle flushes any pending ACK, leaving the connection open.
func (c *tcpConv) idle() { c.flushAck(-1, c.pendingAt) }

// udpConv builds a UDP or ICMP exchange.
type udpConv struct {
	g    *generator
	f    *flow
	t    int64
	segs []segment
}

func (g *generator) udp(f *flow, at int64) *udpConv {
	return &udpConv{g: g, f: f, t: at}
}

func (c *udpConv) leg(s side) int64 {
	h := c.f.orig
	if s == resp {
		h = c.f.resp
	}
	return c.g.jitter(h.leg)
}

// send emits one datagram from `from` gap µs after the latest packet.
func (c *udpConv) send(from side, payload []byte, gap int64) {
	c.t += gap
	c.segs = append(c.segs, segment{at: c.t, f: c.f, fromOrig: from == orig, payload: payload})
}

// echo emits an ICMP echo request (from orig) or reply (from resp).
func (c *udpConv) echo(from side, id, seq uint16, payload []byte, gap int64) {
	c.t += gap
	typ := uint8(8) // echo request
	if c.f.proto == protoICMPv6 {
		typ = 128
	}
	if from == resp {
		typ = 0
		if c.f.proto == protoICMPv6 {
			typ = 129
		}
	}
	c.segs = append(c.segs, segment{at: c.t, f: c.f, fromOrig: from == orig, icmpType: typ, icmpID: id, icmpSeq: seq, payload: payload})
}

// ephemeral allocates the client's next source port. Ports are handed out
// sequentially from a random start, as operating systems do, so a host
// reuses a port only after cycling through its whole range and no two
// sessions of a trace collapse into one Zeek connection.
func (g *generator) ephemeral(h *host) uint16 {
	lo, hi := 49152, 65535
	if h.linux {
		lo, hi = 32768, 60999
	}
	if h.nextPort == 0 {
		h.nextPort = uint16(lo + g.rng.IntN(hi-lo))
	}
	p := h.nextPort
	h.nextPort += 1 + uint16(g.rng.IntN(3))
	if int(h.nextPort) > hi || h.nextPort < p {
		h.nextPort = uint16(lo)
	}
	return p
}

// history predicts Zeek's history string for a session without loss,
// retransmissions or flips: each letter once per side, upper case for the
// originator (S SYN, H SYN-ACK, A pure ACK, D data, F FIN, R RST; UDP only
// D). ICMP has no history.
func history(segs []segment) string {
	if len(segs) == 0 {
		return ""
	}
	var seen [2][256]bool
	var out []byte
	add := func(fromOrig bool, letter byte) {
		side := 0
		if !fromOrig {
			side = 1
		}
		key := letter
		if letter == 'H' {
			key = 'S' // S and H share one mask per side
		}
		if seen[side][key] {
			return
		}
		seen[side][key] = true
		if !fromOrig {
			letter += 'a' - 'A'
		}
		out = append(out, letter)
	}
	for i := range segs {
		s := &segs[i]
		switch s.f.proto {
		case protoTCP:
			switch {
			case s.flags&flagSYN != 0 && s.flags&(flagFIN|flagRST) == 0:
				if s.flags&flagACK != 0 {
					add(s.fromOrig, 'H')
				} else {
					add(s.fromOrig, 'S')
				}
			case s.flags&flagFIN != 0 && s.flags&(flagSYN|flagRST) == 0:
				add(s.fromOrig, 'F')
			case s.flags&flagRST != 0 && s.flags&(flagSYN|flagFIN) == 0:
				add(s.fromOrig, 'R')
			case len(s.payload) > 0:
				add(s.fromOrig, 'D')
			case s.flags&flagACK != 0:
				add(s.fromOrig, 'A')
			}
		case protoUDP:
			add(s.fromOrig, 'D')
		default:
			return ""
		}
	}
	return string(out)
}
