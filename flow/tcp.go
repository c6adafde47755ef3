package flow

import (
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// TCP endpoint states (TCP_ENDPOINT_*).
const (
	tcpInactive uint8 = iota
	tcpSYNSent
	tcpSYNACKSent
	tcpPartial
	tcpEstablished
	tcpClosed
	tcpReset
)

// tooLargeSeqDelta is TOO_LARGE_SEQ_DELTA: SYN/RST jumps beyond it are not
// trusted.
const tooLargeSeqDelta = 1048576

// maxBlocks bounds the out-of-order ranges remembered per endpoint.
const maxBlocks = 64

// maxPending bounds the out-of-order payload bytes kept for the classifier.
const maxPending = 16 << 10

// Reassembler limits (init-bare.zeek): tcp_max_initial_window,
// tcp_max_above_hole_without_any_acks and
// tcp_excessive_data_without_further_acks. Past the last two the
// reassembler stops (no more deliveries, gaps or pending data).
const (
	tcpMaxInitialWindow         = 16384
	tcpMaxAboveHoleWithoutAcks  = 16384
	tcpExcessiveDataWithoutAcks = 10 * 1024 * 1024
)

type seqRange struct{ lo, hi uint64 }

type pendSeg struct {
	lo         uint64
	start, end int // into endpoint.pending
}

// endpoint is one side of a TCP connection (TCP_Endpoint plus the parts of
// its TCP_Reassembler that decide gaps and delivery).
type endpoint struct {
	isOrig           bool
	state, prevState uint8
	didClose, didEOF bool
	skip             bool // skip_deliveries
	// Scaled history letters (T, W, G, C): counts and the index of the
	// current threshold (scaledHistory).
	rxmtExp, win0Exp uint8
	gapExp, chkExp   uint8
	rxmtCnt, win0Cnt uint32
	gapCnt, chkCnt   uint32
	startSeq         uint32
	lastSeq, ackSeq  uint32
	seqWraps         uint32
	ackWraps         uint32
	finCnt           uint32
	finSeq           uint64
	histLastSYN      uint64
	histLastFIN      uint64
	histLastRST      uint64
	delivered        uint64 // last_reassem_seq (relative)
	trim             uint64 // trim_seq: data below it was acked (relative)
	clsPos           uint64 // stream position delivered to the classifier
	// ra holds the out-of-order ranges and payload (nil until data
	// arrives above a hole).
	ra *reasm
}

// reasm is an endpoint's reassembly state beyond the in-order stream:
// the ranges buffered above a hole, and their payload for the classifier.
type reasm struct {
	blocks   []seqRange
	pending  []byte
	pendSegs []pendSeg
}

func (ra *reasm) clear() {
	ra.blocks, ra.pending, ra.pendSegs = ra.blocks[:0], ra.pending[:0], ra.pendSegs[:0]
}

// blocks are e's buffered ranges above the stream.
func (e *endpoint) blocks() []seqRange {
	if e.ra == nil {
		return nil
	}
	return e.ra.blocks
}

// reasmOf returns e's reassembly state, taking one from the pool.
func (t *Tracker) reasmOf(e *endpoint) *reasm {
	if e.ra == nil {
		if n := len(t.freeReasm); n > 0 {
			e.ra = t.freeReasm[n-1]
			t.freeReasm = t.freeReasm[:n-1]
		} else {
			e.ra = &reasm{}
		}
	}
	return e.ra
}

// tcpConn is a TCP connection's part of the state: its two endpoints and
// missed bytes. UDP, ICMP and other connections do not carry it.
type tcpConn struct {
	eps    [2]endpoint
	missed uint64
}

// tcpChunk is how many tcpConns are allocated at once: one allocation
// of exactly their size instead of one per connection rounded up to a
// size class.
const tcpChunk = 128

// newTCPConn takes a tcpConn from the pool.
func (t *Tracker) newTCPConn() *tcpConn {
	if n := len(t.freeTCP); n > 0 {
		tc := t.freeTCP[n-1]
		t.freeTCP = t.freeTCP[:n-1]
		return tc
	}
	if len(t.tcpSlab) == 0 {
		t.tcpSlab = make([]tcpConn, tcpChunk)
	}
	tc := &t.tcpSlab[0]
	t.tcpSlab = t.tcpSlab[1:]
	return tc
}

// initialTCP sets tc to a new connection's endpoints (TCP_Endpoint's
// constructor: inactive, the reassembler at relative sequence 1).
func initialTCP(tc *tcpConn) {
	*tc = tcpConn{}
	for i := range tc.eps {
		e := &tc.eps[i]
		e.isOrig = i == 0
		e.delivered, e.clsPos, e.trim = 1, 1, 1
	}
}

func (t *Tracker) tcpInit(c *conn) {
	c.tcp = t.newTCPConn()
	initialTCP(c.tcp)
	c.eoIdx = 0
	c.isActive = true
}

// synOnlyTCP is the tcpConn a connection has after exactly one packet, a
// plain SYN (no ACK, no payload, a good checksum, a non-zero window) with
// sequence number seq from its originator: the originator's endpoint in
// SYN_SENT, the responder's untouched.
func synOnlyTCP(tc *tcpConn, seq uint32) {
	initialTCP(tc)
	o := &tc.eps[0]
	o.state, o.prevState = tcpSYNSent, tcpInactive
	o.startSeq, o.ackSeq, o.lastSeq = seq, seq, seq+1
}

// compactSYN drops the tcpConn of a connection whose state after its
// first packet is exactly synOnlyTCP's, keeping only the sequence number:
// SYN floods, scans and unanswered attempts, the bulk of a table under
// attack, then cost no endpoints. tcpOf rebuilds the tcpConn when the
// connection needs it, so nothing about it changes.
func (t *Tracker) compactSYN(c *conn) {
	tc := c.tcp
	if tc == nil || c.eoIdx != 0 {
		return
	}
	var want tcpConn
	synOnlyTCP(&want, tc.eps[0].startSeq)
	if *tc != want {
		return
	}
	c.sizePlus1[0] = tc.eps[0].startSeq
	c.synOnly = true
	c.tcp = nil
	t.freeTCP = append(t.freeTCP, tc)
}

// tcpOf gives a synOnly connection its tcpConn back; every path into
// the TCP state (a packet, a timer, the record) calls it first.
func (t *Tracker) tcpOf(c *conn) {
	if !c.synOnly {
		return
	}
	c.tcp = t.newTCPConn()
	synOnlyTCP(c.tcp, c.sizePlus1[0])
	c.sizePlus1[0] = 0
	c.synOnly = false
}

// eo is the originator's endpoint.
func (c *conn) eo() *endpoint { return &c.tcp.eps[c.eoIdx&1] }

// er is the responder's endpoint.
func (c *conn) er() *endpoint { return &c.tcp.eps[c.eoIdx&1^1] }

func (c *conn) peerOf(e *endpoint) *endpoint {
	if e == &c.tcp.eps[0] {
		return &c.tcp.eps[1]
	}
	return &c.tcp.eps[0]
}

func isHandshake(s uint8) bool { return s == tcpInactive || s == tcpSYNSent || s == tcpSYNACKSent }

func fullSeq(seq, wraps uint32) uint64 { return uint64(wraps)<<32 | uint64(seq) }

// size is TCP_Endpoint::Size.
func (e *endpoint) size(peer *endpoint) uint64 {
	if e.prevState == tcpSYNSent && e.state == tcpReset && peer.state == tcpInactive && !e.noDataAcked() {
		return 0
	}
	last := fullSeq(e.lastSeq, e.seqWraps)
	ack := fullSeq(e.ackSeq, e.ackWraps)
	var s uint64
	if last > ack {
		s = last - uint64(e.startSeq)
	} else {
		s = ack - uint64(e.startSeq)
	}
	if s != 0 {
		s--
	}
	if e.finCnt > 0 && s != 0 {
		s--
	}
	return s
}

func (e *endpoint) noDataAcked() bool {
	ack := fullSeq(e.ackSeq, e.ackWraps)
	start := uint64(e.startSeq)
	return ack == start || ack == start+1
}

// dataPending is TCP_Reassembler::DataPending: data is pending unless
// everything up to the FIN (or RST) has been delivered and, unless e sent
// a RST, the peer holds no data e has not acknowledged.
func (e *endpoint) dataPending(peer *endpoint) bool {
	if e.skip {
		return false
	}
	delivered := uint64(e.startSeq) + e.delivered
	last := fullSeq(e.lastSeq, e.seqWraps)
	if last < delivered {
		return false
	}
	if delivered != last-1 && delivered != last {
		return true
	}
	return e.state != tcpReset && peer.hasUndeliveredData()
}

// hasUndeliveredData reports whether the reassembler still holds blocks:
// data above a hole or delivered but not yet acknowledged.
func (e *endpoint) hasUndeliveredData() bool {
	return !e.skip && (len(e.blocks()) > 0 || e.delivered > e.trim)
}

// dataSize is the reassembler's buffered byte count.
func (e *endpoint) dataSize() uint64 {
	var n uint64
	if e.delivered > e.trim {
		n = e.delivered - e.trim
	}
	for _, b := range e.blocks() {
		n += b.hi - b.lo
	}
	return n
}

func relativeSeq(e *endpoint, cur, last, wraps uint32) (uint64, bool) {
	delta := int32(cur - last)
	if delta < 0 {
		if wraps > 0 && cur > last {
			wraps--
		}
	} else if delta > 0 {
		if cur < last {
			wraps++
		}
	}
	if wraps == 0 {
		d := int32(cur - e.startSeq)
		return uint64(int64(d)), d < 0
	}
	return fullSeq(cur, wraps) - uint64(e.startSeq), false
}

func (t *Tracker) setState(c *conn, e *endpoint, s uint8) {
	if s == e.state {
		return
	}
	if !isHandshake(s) && isHandshake(e.state) && isHandshake(c.peerOf(e).state) {
		t.setInactivity(c, t.cfg.Timeouts.TCPInactivity)
	}
	e.prevState = e.state
	e.state = s
}

func lower(b byte) byte {
	if b >= 'A' && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// tcpCheckHistory is TCP_Endpoint::CheckHistory, including the
// SYN-ACK-first rule: history exactly "H" and an A or D arriving flips the
// connection and rewrites the history to "^h".
func (t *Tracker) tcpCheckHistory(c *conn, e *endpoint, mask uint32, code byte) bool {
	if (code == 'A' || code == 'D') && c.histLen == 1 && c.hist[0] == 'H' {
		t.flipRoles(c)
		c.setHistory("^h")
		c.histSeen = (c.histSeen&0xffff)<<16 | c.histSeen>>16
		// The responder's SYN-ACK was seen: Zeek's analyzers treat the
		// flipped connection as not partial (HTTP is recognized).
		c.firstPacketSeen = 3
	}
	if !e.isOrig {
		mask <<= 16
		code = lower(code)
	}
	return t.checkHistory(c, mask, code)
}

func (t *Tracker) tcpAddHistory(c *conn, e *endpoint, code byte) {
	if !e.isOrig {
		code = lower(code)
	}
	t.addHistory(c, code)
}

func (t *Tracker) tcpScaled(c *conn, e *endpoint, code byte, cnt *uint32, exp *uint8) {
	if !e.isOrig {
		code = lower(code)
	}
	t.scaledHistory(c, code, cnt, exp)
}

// isReuse is TCPSessionAdapter::IsReuse.
func (t *Tracker) isReuse(c *conn, p *capture.Packet) bool {
	t.tcpOf(c)
	fl := p.TCPFlags
	if fl&capture.FlagSYN == 0 {
		return false
	}
	connOrig := c.eo()
	if fl&capture.FlagACK != 0 {
		if c.eo().state != tcpInactive {
			return false
		}
		connOrig = c.er()
	}
	if !c.eo().didClose && !c.er().didClose {
		if p.Seq == connOrig.startSeq {
			return false
		}
		if fl&capture.FlagACK == 0 && connOrig.state == tcpSYNACKSent && c.er().state == tcpInactive && p.Seq == c.er().startSeq {
			return false
		}
	}
	return true
}

// tcpPacket is TCPAnalyzer::DeliverPacket / TCPSessionAdapter::Process.
func (t *Tracker) tcpPacket(c *conn, p *capture.Packet, isOrig bool, ts int64) {
	t.tcpOf(c)
	e, peer := c.eo(), c.er()
	if !isOrig {
		e, peer = c.er(), c.eo()
	}
	if p.BadChecksum && !t.cfg.IgnoreChecksums {
		t.tcpScaled(c, e, 'C', &e.chkCnt, &e.chkExp)
		return
	}
	fl := p.TCPFlags
	syn, fin, rst, ack := fl&capture.FlagSYN != 0, fl&capture.FlagFIN != 0, fl&capture.FlagRST != 0, fl&capture.FlagACK != 0

	// SetPartialStatus.
	if e.isOrig {
		if c.firstPacketSeen&1 == 0 {
			c.isPartial = !syn || ack
		}
	} else if c.firstPacketSeen&2 == 0 && !c.isPartial {
		c.isPartial = !syn
	}

	length := p.PayloadLen
	segLen := length
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= length
	}
	baseSeq, ackSeq := p.Seq, p.Ack
	seqOnePast := baseSeq + uint32(segLen)

	initEndpoint(e, syn, baseSeq, seqOnePast)
	relSeq, underflow := relativeSeq(e, baseSeq, e.lastSeq, e.seqWraps)

	t.updateHistory(c, e, syn, fin, rst, ack, relSeq, length)
	if p.Window == 0 && !rst && peer.state != tcpClosed && e.state != tcpReset {
		t.tcpScaled(c, e, 'W', &e.win0Cnt, &e.win0Exp)
	}
	if !c.eo().didClose || !c.er().didClose {
		c.lastTime = ts
	}
	if fin {
		e.finCnt++
		e.finSeq = relSeq + uint64(segLen)
	}
	var relAck uint64
	if ack {
		if peer.state == tcpInactive {
			relAck = 1
			peer.startSeq, peer.ackSeq, peer.lastSeq = ackSeq-1, ackSeq-1, ackSeq-1
		} else {
			r, under := relativeSeq(peer, ackSeq, peer.ackSeq, peer.ackWraps)
			if under {
				relAck = 0
			} else {
				relAck = r
				if !rst {
					delta := int32(ackSeq - peer.ackSeq)
					if !(ackSeq == 0 && delta > tooLargeSeqDelta) && delta > 0 {
						if ackSeq < peer.ackSeq {
							peer.ackWraps++
						}
						peer.ackSeq = ackSeq
					}
				}
			}
		}
	}
	t.updateLastSeq(c, e, seqOnePast, syn, fin, rst, length)
	doClose, genEvent := t.updateStateMachine(c, e, peer, baseSeq, length, isOrig, syn, fin, rst, ack, ts)
	if ack {
		t.ackReceived(c, peer, relAck)
	}
	// CheckPIA_FirstPacket.
	if isOrig {
		c.firstPacketSeen |= 1
	} else {
		c.firstPacketSeen |= 2
	}
	relDataSeq := relSeq
	if syn {
		relDataSeq++
	}
	if length > 0 && !rst && !underflow {
		t.dataSent(c, e, relDataSeq, p.Payload, length)
	}
	t.checkEOF(c, e)
	if doClose {
		t.connectionClosed(c, e, peer, genEvent)
	}
	// ConnSize: the packet counts for its sender's role after any flip
	// this packet caused (SYN-ACK-first, reordered handshake).
	side := sideIndex(e.isOrig)
	t.countPacket(c, side, p.IPLen)

	if c.establishedEvent {
		c.establishedEvent = false
		t.portInactivity(c)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func initEndpoint(e *endpoint, syn bool, first, last uint32) {
	switch e.state {
	case tcpInactive:
		if syn {
			e.ackSeq, e.startSeq = first, first
		} else {
			e.ackSeq, e.startSeq = first-1, first-1
			last = first
		}
		e.lastSeq = last
	case tcpSYNSent, tcpSYNACKSent:
		if syn && first != e.startSeq {
			e.startSeq, e.ackSeq, e.lastSeq = first, first, last
		}
	case tcpEstablished, tcpPartial:
		if syn {
			e.startSeq, e.ackSeq, e.lastSeq = first, first, last
		}
	case tcpReset:
		if syn && e.prevState == tcpInactive {
			e.startSeq, e.ackSeq, e.lastSeq = first, first, last
		}
	}
}

func (t *Tracker) updateHistory(c *conn, e *endpoint, syn, fin, rst, ack bool, relSeq uint64, length int) {
	bits := b2i(syn) + b2i(fin) + b2i(rst)
	switch {
	case bits > 1:
		if fin && rst {
			t.tcpCheckHistory(c, e, histFINRSTPkt, 'I')
		} else {
			t.tcpCheckHistory(c, e, histMultiFlag, 'Q')
		}
	case bits == 1:
		if syn {
			code := byte('S')
			if ack {
				code = 'H'
			}
			if t.tcpCheckHistory(c, e, histSYNPkt, code) && relSeq != e.histLastSYN {
				t.tcpAddHistory(c, e, code)
			}
			e.histLastSYN = relSeq
		}
		if fin {
			end := relSeq + uint64(length)
			if t.tcpCheckHistory(c, e, histFINPkt, 'F') && end != e.histLastFIN {
				t.tcpAddHistory(c, e, 'F')
			}
			e.histLastFIN = end
		}
		if rst {
			if t.tcpCheckHistory(c, e, histRSTPkt, 'R') && relSeq != e.histLastRST {
				t.tcpAddHistory(c, e, 'R')
			}
			e.histLastRST = relSeq
		}
	default:
		if length > 0 {
			t.tcpCheckHistory(c, e, histDataPkt, 'D')
		} else if ack {
			t.tcpCheckHistory(c, e, histACKPkt, 'A')
		}
	}
}

// updateLastSeq is update_last_seq in Zeek's TCPSessionAdapter.cc: it
// advances e's last sequence number to last (one past the segment) or
// counts a retransmission (history T).
func (t *Tracker) updateLastSeq(c *conn, e *endpoint, last uint32, syn, fin, rst bool, length int) {
	delta := int32(last - e.lastSeq)
	switch {
	case (syn || rst) && (delta > tooLargeSeqDelta || delta < -tooLargeSeqDelta):
	case fin && e.lastSeq == e.startSeq+1:
		e.setLastSeq(last)
	case e.state == tcpReset:
	case delta > 0:
		e.setLastSeq(last)
	case length > 0:
		t.tcpScaled(c, e, 'T', &e.rxmtCnt, &e.rxmtExp)
	}
}

func (e *endpoint) setLastSeq(s uint32) {
	if s < e.lastSeq {
		e.seqWraps++
	}
	e.lastSeq = s
}

func (t *Tracker) updateStateMachine(c *conn, e, peer *endpoint, baseSeq uint32, length int,
	isOrig, syn, fin, rst, ack bool, ts int64) (doClose, genEvent bool) {
	switch e.state {
	case tcpInactive:
		if syn {
			if isOrig {
				if ack {
					t.setState(c, e, tcpSYNACKSent)
				} else {
					t.setState(c, e, tcpSYNSent)
				}
				t.addAnalyzerTimer(c, timerTCPAttempt, ts+int64(t.cfg.Timeouts.TCPAttemptDelay))
			} else {
				if !ack && peer.state == tcpSYNACKSent && baseSeq == e.startSeq {
					// SYN/SYN-ACK reversal: flip and establish.
					c.isPartial = false
					t.flipRoles(c)
					t.setState(c, peer, tcpEstablished)
					c.firstPacketSeen |= 1
				}
				if peer.state == tcpSYNSent {
					t.setState(c, peer, tcpEstablished)
				}
				t.setState(c, e, tcpEstablished)
				if peer.state != tcpPartial {
					c.establishedEvent = true
				}
			}
		}
		if fin {
			t.setState(c, e, tcpClosed)
			doClose, genEvent = true, true
		}
		if rst {
			t.setState(c, e, tcpReset)
			isReject := false
			if isOrig {
				isReject = peer.state == tcpEstablished
			} else {
				isReject = peer.state == tcpSYNSent || peer.state == tcpSYNACKSent
			}
			doClose = true
			genEvent = !isReject
		}
		if e.state == tcpInactive {
			switch {
			case !isOrig && length == 0 && c.eo().state == tcpSYNSent:
			case ack && peer.state == tcpEstablished:
				t.setState(c, e, tcpEstablished)
				c.isPartial = false
				if isOrig {
					c.firstPacketSeen |= 1
				} else {
					c.firstPacketSeen |= 2
				}
			default:
				t.setState(c, e, tcpPartial)
			}
		}
	case tcpSYNSent, tcpSYNACKSent:
		if fin {
			t.setState(c, e, tcpClosed)
			doClose, genEvent = true, true
		}
		if rst {
			t.setState(c, e, tcpReset)
			c.isActive = false
			doClose = true
		}
	case tcpEstablished, tcpPartial:
		if syn && e.state == tcpPartial && peer.state == tcpInactive && !ack {
			t.setState(c, e, tcpSYNSent)
		}
		if fin && !rst {
			t.setState(c, e, tcpClosed)
			if peer.state == tcpReset && peer.prevState == tcpClosed {
				t.setState(c, peer, tcpClosed)
			}
			doClose, genEvent = true, true
		}
		if rst {
			t.setState(c, e, tcpReset)
			doClose = true
			if peer.state != tcpReset || peer.prevState != tcpEstablished {
				c.isActive = false
			}
		}
	case tcpClosed:
		if rst && peer.state != tcpClosed {
			t.setState(c, e, tcpReset)
			if !e.didClose {
				doClose = true
			}
		}
	case tcpReset:
	}
	return doClose, genEvent
}

// connectionClosed is TCPSessionAdapter::ConnectionClosed.
func (t *Tracker) connectionClosed(c *conn, e, peer *endpoint, genEvent bool) {
	if e.dataPending(peer) {
		c.closeDeferred = true
		if !c.deferredGenEvent {
			c.deferredGenEvent = genEvent
		}
		return
	}
	c.closeDeferred = false
	if e.didClose {
		return
	}
	e.didClose = true
	to := &t.cfg.Timeouts
	if e.state == tcpReset || peer.didClose || peer.state == tcpInactive {
		if e.prevState != tcpInactive || peer.state != tcpInactive {
			if c.deferredGenEvent {
				genEvent = true
				c.deferredGenEvent = false
			}
			if genEvent {
				c.isActive = false
			}
		}
		t.cancelAnalyzerTimers(c)
		t.addAnalyzerTimer(c, timerConnDelete, c.lastTime+int64(to.TCPCloseDelay))
	} else if e.prevState != tcpInactive {
		t.addAnalyzerTimer(c, timerTCPExpire, c.lastTime+int64(to.TCPSessionTimer))
	}
}

// checkEOF runs the deferred close once an endpoint that closed has had
// everything delivered (TCP_Reassembler::CheckEOF / EndpointEOF).
func (t *Tracker) checkEOF(c *conn, e *endpoint) {
	if e.didEOF || (e.finCnt == 0 && e.state != tcpClosed && e.state != tcpReset) || e.dataPending(c.peerOf(e)) {
		return
	}
	e.didEOF = true
	if c.closeDeferred {
		t.connectionClosed(c, e, c.peerOf(e), c.deferredGenEvent)
		c.closeDeferred = false
	}
}

func (t *Tracker) tcpExpireTimer(c *conn) {
	if !c.isActive {
		return
	}
	t.tcpOf(c)
	to := &t.cfg.Timeouts
	if c.lastTime+int64(to.TCPConnectionLinger) < t.now {
		o, r := c.eo(), c.er()
		if o.didClose || r.didClose {
			if (o.didClose && r.didClose) || o.state == tcpReset || r.state == tcpReset ||
				o.state == tcpInactive || r.state == tcpInactive {
				c.isActive = false
				t.remove(c)
				return
			}
		}
		if r.state == tcpInactive && o.state == tcpInactive {
			t.remove(c)
			return
		}
	}
	t.addAnalyzerTimer(c, timerTCPExpire, t.now+int64(to.TCPSessionTimer))
}

func (t *Tracker) tcpAttemptTimer(c *conn) {
	if !c.isActive {
		return
	}
	t.tcpOf(c)
	if (c.eo().state == tcpSYNSent || c.eo().state == tcpSYNACKSent) && c.er().state == tcpInactive {
		c.isActive = false
		t.remove(c)
	}
}

// portInactivity is conn/inactivity.zeek's connection_established handler.
func (t *Tracker) portInactivity(c *conn) {
	svc := c.respPort
	sp := &t.cfg.ServerPorts.TCP
	if c.eo().state == tcpInactive && !sp.Has(c.respPort) && sp.Has(c.origPort) {
		svc = c.origPort
	}
	switch svc {
	case 21, 22, 23, 513:
		t.setInactivity(c, t.cfg.Timeouts.PortInactivity)
	}
}

// ackReceived is TCP_Reassembler::AckReceived for e's data: holes below
// the ACK become content gaps (missed_bytes, history G) when both sides
// are established or cleanly closing.
func (t *Tracker) ackReceived(c *conn, e *endpoint, upTo uint64) {
	if e.finCnt > 0 && upTo >= e.finSeq {
		upTo = e.finSeq - 1
	}
	if upTo <= e.trim {
		return
	}
	e.trim = upTo
	if upTo > e.delivered {
		t.undelivered(c, e, upTo)
	}
	t.checkEOF(c, e)
}

// undelivered is TCP_Reassembler::Undelivered: the peer acknowledged data
// up to upTo that was never delivered.
func (t *Tracker) undelivered(c *conn, e *endpoint, upTo uint64) {
	if upTo <= 2 && c.isPartial {
		return
	}
	if e.skip {
		e.delivered = upTo
		e.clsPos = upTo
		return
	}
	peer := c.peerOf(e)
	report := isClean(e) && isClean(peer)
	pos := e.delivered
	gap := false
	for _, b := range e.blocks() {
		if b.lo >= upTo {
			break
		}
		if b.lo > pos {
			t.hole(c, e, b.lo-pos, report)
			gap = true
		}
		if b.hi > pos {
			pos = b.hi
		}
	}
	if pos < upTo {
		t.hole(c, e, upTo-pos, report)
		gap = true
		pos = upTo
	}
	e.delivered = pos
	e.absorbBlocks()
	if gap && c.cls != nil {
		t.cfg.Classifier.Gap(c.cls, e.isOrig)
	}
	t.flushPending(c, e)
}

func isClean(e *endpoint) bool {
	return e.state == tcpEstablished || (e.state == tcpClosed && e.prevState == tcpEstablished)
}

func (t *Tracker) hole(c *conn, e *endpoint, n uint64, report bool) {
	if !report {
		return
	}
	c.tcp.missed += n
	t.tcpScaled(c, e, 'G', &e.gapCnt, &e.gapExp)
}

// absorbBlocks advances delivered over contiguous buffered ranges and drops
// the ranges below it.
func (e *endpoint) absorbBlocks() {
	if e.ra == nil {
		return
	}
	k := 0
	for _, b := range e.ra.blocks {
		if b.lo <= e.delivered {
			if b.hi > e.delivered {
				e.delivered = b.hi
			}
			continue
		}
		e.ra.blocks[k] = b
		k++
	}
	e.ra.blocks = e.ra.blocks[:k]
}

// dataSent is TCP_Endpoint::DataSent into the reassembler: in-order data
// advances the stream (and feeds the classifier), later data is buffered.
// Payload not captured in full is not reassembled (truncated_tcp_payload).
func (t *Tracker) dataSent(c *conn, e *endpoint, seq uint64, payload []byte, length int) {
	if len(payload) < length || e.skip {
		return
	}
	t.reassemble(c, e, seq, payload[:length])
	if e.noDataAcked() {
		if bl := e.blocks(); len(bl) > 0 && bl[len(bl)-1].hi-e.delivered > tcpMaxAboveHoleWithoutAcks {
			e.stopReassembly()
			return
		}
	}
	if e.dataSize() > tcpExcessiveDataWithoutAcks {
		e.stopReassembly()
	}
}

// stopReassembly is ClearBlocks plus skip_deliveries.
func (e *endpoint) stopReassembly() {
	e.skip = true
	if e.ra != nil {
		e.ra.clear()
	}
}

// reassemble is Reassembler::NewBlock and BlockInserted.
func (t *Tracker) reassemble(c *conn, e *endpoint, seq uint64, data []byte) {
	length := len(data)
	lo, hi := seq, seq+uint64(length)
	if hi <= e.delivered {
		return
	}
	if lo <= e.delivered {
		e.delivered = hi
		e.absorbBlocks()
		// BlockInserted: with nothing acked yet and more than an initial
		// window sent, do not hold on to the delivered data.
		if e.noDataAcked() && e.size(c.peerOf(e)) > tcpMaxInitialWindow && e.trim < e.delivered {
			e.trim = e.delivered
		}
		if t.cfg.Classifier != nil {
			if e.clsPos >= lo && e.clsPos < hi {
				t.deliver(c, e, data[e.clsPos-lo:])
				e.clsPos = hi
			}
			t.flushPending(c, e)
		}
		return
	}
	ra := t.reasmOf(e)
	ra.insertBlock(lo, hi)
	if t.cfg.Classifier != nil && (c.cls == nil || c.cls.Wants(e.isOrig)) && len(ra.pending)+len(data) <= maxPending {
		start := len(ra.pending)
		ra.pending = append(ra.pending, data...)
		seg := pendSeg{lo: lo, start: start, end: len(ra.pending)}
		i := len(ra.pendSegs)
		ra.pendSegs = append(ra.pendSegs, seg)
		for i > 0 && ra.pendSegs[i-1].lo > lo {
			ra.pendSegs[i] = ra.pendSegs[i-1]
			i--
		}
		ra.pendSegs[i] = seg
	}
}

func (ra *reasm) insertBlock(lo, hi uint64) {
	i := 0
	for i < len(ra.blocks) && ra.blocks[i].hi < lo {
		i++
	}
	j := i
	for j < len(ra.blocks) && ra.blocks[j].lo <= hi {
		if ra.blocks[j].lo < lo {
			lo = ra.blocks[j].lo
		}
		if ra.blocks[j].hi > hi {
			hi = ra.blocks[j].hi
		}
		j++
	}
	if i == j {
		if len(ra.blocks) >= maxBlocks {
			return
		}
		ra.blocks = append(ra.blocks, seqRange{})
		copy(ra.blocks[i+1:], ra.blocks[i:])
		ra.blocks[i] = seqRange{lo, hi}
		return
	}
	ra.blocks[i] = seqRange{lo, hi}
	ra.blocks = append(ra.blocks[:i+1], ra.blocks[j:]...)
}

// flushPending hands buffered out-of-order payload to the classifier once
// the stream has reached it; after a gap the classifier resumes at the
// first buffered byte past the hole.
func (t *Tracker) flushPending(c *conn, e *endpoint) {
	ra := e.ra
	if ra == nil || len(ra.pendSegs) == 0 {
		if e.clsPos < e.delivered {
			e.clsPos = e.delivered
		}
		return
	}
	used := 0 // segments handed over or already behind clsPos
	for ; used < len(ra.pendSegs); used++ {
		s := ra.pendSegs[used]
		hi := s.lo + uint64(s.end-s.start)
		if hi <= e.clsPos {
			continue
		}
		if s.lo > e.clsPos {
			if s.lo > e.delivered {
				break
			}
			e.clsPos = s.lo // skipped over a hole
		}
		t.deliver(c, e, ra.pending[s.start+int(e.clsPos-s.lo):s.end])
		e.clsPos = hi
	}
	// Move the rest down rather than reslicing past the used segments, so
	// that the array keeps its capacity across the connection (and the
	// pooled reasm) instead of shrinking until append reallocates.
	ra.pendSegs = ra.pendSegs[:copy(ra.pendSegs, ra.pendSegs[used:])]
	if len(ra.pendSegs) == 0 {
		ra.pending = ra.pending[:0]
	}
	if e.clsPos < e.delivered {
		e.clsPos = e.delivered
	}
}

// deliver feeds in-order stream bytes of e to the classifier.
func (t *Tracker) deliver(c *conn, e *endpoint, data []byte) {
	cl := t.cfg.Classifier
	if cl == nil || len(data) == 0 {
		return
	}
	if c.cls == nil {
		t.startClassifier(c)
		c.cls.SetMulticastResponder(c.respAddr().IsMulticast())
	}
	if !c.cls.Wants(e.isOrig) {
		return
	}
	if cl.Deliver(c.cls, e.isOrig, data) == classify.Flip {
		t.flipRoles(c)
	}
	if c.cls.AnalysisLimitReached() {
		// Analyzer::LimitReachedWeird: Session::CheckHistory(HIST_UNKNOWN_PKT, 'X')
		// while the packet's payload is delivered.
		t.checkHistory(c, histUnknownPkt, 'X')
	}
	t.takeExpectations(c)
	t.checkConfirmations(c)
}
