package classify

// verdict is a prefix recognizer's answer for the bytes seen so far.
type verdict uint8

const (
	undecided verdict = iota // needs more bytes
	done                     // finished (confirmed or not): stop running it
)

// input is what a prefix recognizer sees: each direction's buffered prefix
// (pre), the part of it the DPD signatures could see (sig), whether a
// direction can still grow (more), and whether the recognizer is attached
// by the responder port (port).
type input struct {
	pre  [2][]byte
	sig  [2][]byte
	more [2]bool
	// port is set per recognizer by the dispatcher.
	port bool
	// inner is set when the streams are the payload of an HTTP CONNECT
	// tunnel: only signature-enabled recognizers run there.
	inner bool
	// windowClosed: the DPD window is exhausted; signature views are final.
	windowClosed bool
	// only is set by a recognizer that returns undecided but needs just one
	// direction's further bytes (0 orig, 1 resp); -1 (the default) means
	// both. A recognizer that narrows its needs never widens them again.
	only int8
	// need accumulates, over the pending recognizers, which directions
	// must keep growing.
	need [2]bool
	// origText caches textStart(pre[0]) for the recognizers of text
	// protocols (origTextSet: computed).
	origText    tri
	origTextSet bool
	// memo is the signature sides' answers, loaded from and stored back
	// to the connection's buffers (a value: a pointer held in input would
	// move input's target to the heap).
	memo sideMemo
}

// sigSide names one side (client or server) of a signature pair whose
// answer is kept in a sideMemo: the text signatures' sides that scan every
// line of their view. sideNone is not kept (a side that looks at a few
// bytes).
type sigSide uint8

const (
	sideFTPClient sigSide = iota
	sidePOP3Client
	sideSMTPClient
	sideIRCClient
	sideIRCServer
	numSigSides
	sideNone = numSigSides
)

// sideMemo holds each signature side's answer with the length of the view
// it was computed on: (length+1)<<2 | answer, 0 for none yet. A
// direction's DPD view only grows by appending (and by at most prefixCap
// bytes), so the same length means the same bytes and the same answer: a
// side is not evaluated again on a delivery in the other direction.
type sideMemo [numSigSides]uint16

// side is fn(view), taken from the memo when view has not grown since.
func (in *input) side(s sigSide, view []byte, fn func([]byte) tri) tri {
	if s == sideNone {
		return fn(view)
	}
	key := uint16(len(view)+1) << 2
	if m := in.memo[s]; m&^3 == key {
		return tri(m & 3)
	}
	t := fn(view)
	in.memo[s] = key | uint16(t)
	return t
}

// origStartsText is textStart of the originator's prefix, computed once
// per evaluation however many recognizers ask.
func (in *input) origStartsText() tri {
	if !in.origTextSet {
		in.origText, in.origTextSet = textStart(in.pre[0]), true
	}
	return in.origText
}

// needMore reports whether a recognizer waiting for direction d should keep
// waiting (more bytes can still come) rather than give up.
func (in *input) needMore(d int) verdict {
	if in.more[d] {
		return undecided
	}
	return done
}

// prefixRecs lists the prefix recognizers in evaluation order.
var prefixRecs = [...]int{recDNS, recHTTP, recSSL, recRDP, recFTP, recSMTP, recPOP3, recIMAP, recIRC, recLDAP, recKRB,
	recMySQL, recRedis, recPostgres, recXMPP, recModbus, recSOCKS, recFinger}

const prefixMask = 1<<recDNS | 1<<recHTTP | 1<<recSSL | 1<<recRDP | 1<<recFTP | 1<<recSMTP |
	1<<recPOP3 | 1<<recIMAP | 1<<recIRC | 1<<recLDAP | 1<<recKRB | 1<<recMySQL | 1<<recRedis |
	1<<recPostgres | 1<<recXMPP | 1<<recModbus | 1<<recSOCKS | 1<<recFinger

// deliverTCP processes one in-order TCP chunk.
func (c *Classifier) deliverTCP(st *State, fromOrig bool, data []byte) {
	d := dirIndex(fromOrig)
	if st.flags&flagDataSeen == 0 {
		st.flags |= flagDataSeen
		if !fromOrig {
			st.flags |= flagRespFirst
		}
	}
	inWindow := st.countDPD(len(data))
	off := st.seen[d]
	st.seen[d] += uint32(len(data))
	sigEnd := [2]uint32{st.sigEnd(0), st.sigEnd(1)}
	if inWindow {
		sigEnd[d] = st.seen[d]
		st.setSigEnd(d, st.seen[d])
	}

	if st.pending&(1<<recDCERPC) != 0 {
		c.dceRPCChunk(st, d, data, off, inWindow)
	}
	if st.pending&(1<<recDNP3) != 0 {
		c.dnp3Chunk(st, d, data)
	}
	if st.pending&(1<<recMQTT) != 0 {
		c.mqttChunk(st, d, data, off, inWindow)
	}
	if st.pending&(1<<recSyslog) != 0 {
		c.syslogChunk(st, d, data)
	}
	if st.pending&(1<<recRFB) != 0 {
		c.rfbChunk(st, d, data, off, inWindow)
	}
	if st.pending&(1<<recSSH) != 0 {
		c.sshChunk(st, d, data, inWindow, off)
	}
	if st.pending&(1<<recFTPWatch) != 0 && !fromOrig {
		c.ftpWatch(st, data)
	}
	if st.pending&prefixMask == 0 {
		st.x = nil // only streaming recognizers left: no prefix needed
		return
	}
	if st.gapped(d) || st.frozen(d) {
		return // no pending prefix recognizer looks at these bytes
	}

	var in input
	if st.x == nil {
		if off != 0 {
			// Bytes were delivered earlier without being kept: the prefix
			// recognizers could not have been pending then.
			st.pending &^= prefixMask
			return
		}
		in.pre[d] = data
		if len(data) > prefixCap {
			in.pre[d] = data[:prefixCap]
		}
	} else {
		b := st.x.buf[d]
		room := prefixCap - len(b)
		if room <= 0 {
			return // evaluated already with these bytes
		}
		chunk := data
		if len(chunk) > room {
			chunk = chunk[:room]
		}
		st.x.buf[d] = appendPrefix(b, chunk)
		in.pre[0], in.pre[1] = st.x.buf[0], st.x.buf[1]
		in.memo = st.x.memo
	}
	for i := 0; i < 2; i++ {
		in.more[i] = !st.gapped(i) && !st.frozen(i) && len(in.pre[i]) < prefixCap && int(st.chunks[i]) < maxChunks
		n := uint32(len(in.pre[i]))
		if sigEnd[i] < n {
			n = sigEnd[i]
		}
		in.sig[i] = in.pre[i][:n]
	}
	in.windowClosed = !st.dpdWindowOpen()
	c.evalPrefix(st, &in)
	if st.pending&prefixMask != 0 {
		for i := 0; i < 2; i++ {
			if !in.need[i] && !st.frozen(i) {
				st.freeze(i)
			}
		}
		if st.x == nil && in.need[d] {
			// Someone waits for more of this direction: keep its bytes.
			st.x = &buffers{}
			st.x.buf[d] = appendPrefix(nil, in.pre[d])
		}
		if st.x != nil {
			st.x.memo = in.memo
		}
	}
	if st.pending&prefixMask != 0 && !in.more[0] && !in.more[1] {
		c.finishPrefix(st)
	}
	if st.pending&prefixMask == 0 {
		st.x = nil
	}
}

// finishPrefix gives up on every prefix recognizer still waiting.
func (c *Classifier) finishPrefix(st *State) {
	st.pending &^= prefixMask
	if !st.has(svcFTP) {
		st.pending &^= 1 << recFTPWatch
	}
	st.x = nil
}

// appendPrefix appends chunk to b, growing the backing array by doubling
// (at least 256 bytes, at most prefixCap): a direction reallocates at most
// five times over its life, never once per packet.
func appendPrefix(b, chunk []byte) []byte {
	if len(b)+len(chunk) > cap(b) {
		n := 2 * cap(b)
		if n < 256 {
			n = 256
		}
		for n < len(b)+len(chunk) {
			n *= 2
		}
		if n > prefixCap {
			n = prefixCap
		}
		nb := make([]byte, len(b), n)
		copy(nb, b)
		b = nb
	}
	return append(b, chunk...)
}

// dpdWindowOpen reports whether the DPD window (one budget for both
// directions) still has room for another chunk.
func (st *State) dpdWindowOpen() bool {
	return int(st.dpdBytes) < dpdWindowBytes && int(st.dpdChunks) < dpdWindowChunks
}

// countDPD charges a chunk of n bytes to the DPD window and reports whether
// the chunk is inside it: the chunk that crosses the window is still matched.
func (st *State) countDPD(n int) bool {
	if !st.dpdWindowOpen() {
		return false
	}
	b := int(st.dpdBytes) + n
	if b > 0xffff {
		b = 0xffff
	}
	st.dpdBytes = uint16(b)
	st.dpdChunks++
	return true
}

// sigEnd is how many bytes of direction d the DPD signatures could see.
func (st *State) sigEnd(d int) uint32 { return uint32(st.sigLen[d]) }

func (st *State) setSigEnd(d int, n uint32) {
	if n > 0xffff {
		n = 0xffff
	}
	st.sigLen[d] = uint16(n)
}

// evalPrefix runs every pending prefix recognizer on in. The dispatch is a
// switch on purpose: a table of method values makes the calls indirect, in
// then escapes to the heap and every delivery allocates (measured: TLS
// went from 0 to 2 allocations per connection).
func (c *Classifier) evalPrefix(st *State, in *input) {
	for _, rec := range prefixRecs {
		if st.pending&(1<<rec) == 0 {
			continue
		}
		var v verdict
		in.only = -1
		switch rec {
		case recDNS:
			in.port = true
			v = c.dnsTCP(st, in)
		case recHTTP:
			in.port = st.attached(svcHTTP)
			v = c.http(st, in)
		case recSSL:
			in.port = st.attached(svcSSL)
			v = c.ssl(st, in)
		case recRDP:
			in.port = st.attached(svcRDP)
			v = c.rdp(st, in)
		case recFTP:
			in.port = st.attached(svcFTP)
			v = c.ftp(st, in)
		case recSMTP:
			in.port = st.attached(svcSMTP)
			v = c.smtp(st, in)
		case recPOP3:
			in.port = st.attached(svcPOP3)
			v = c.pop3(st, in)
		case recIMAP:
			in.port = st.attached(svcIMAP)
			v = c.imap(st, in)
		case recIRC:
			in.port = st.attached(svcIRC)
			v = c.irc(st, in)
		case recLDAP:
			in.port = st.attached(svcLDAP)
			v = c.ldap(st, in)
		case recKRB:
			in.port = true
			v = c.krbTCP(st, in)
		case recMySQL:
			in.port = true
			v = c.mysql(st, in)
		case recRedis:
			in.port = st.attached(svcRedis)
			v = c.redis(st, in)
		case recPostgres:
			in.port = st.attached(svcPostgres)
			v = c.postgres(st, in)
		case recXMPP:
			in.port = st.attached(svcXMPP)
			v = c.xmpp(st, in)
		case recModbus:
			in.port = true
			v = c.modbus(st, in)
		case recSOCKS:
			in.port = st.attached(svcSOCKS)
			v = c.socks(st, in)
		case recFinger:
			in.port = true
			v = c.finger(st, in)
		}
		if v == done {
			st.pending &^= 1 << rec
		} else if in.only < 0 {
			in.need[0], in.need[1] = true, true
		} else {
			in.need[in.only] = true
		}
	}
	if st.pending&(1<<recFTP) == 0 && !st.has(svcFTP) {
		st.pending &^= 1 << recFTPWatch
	}
}

// deliverUDP processes one datagram. Each UDP recognizer decides per
// datagram; none buffers.
func (c *Classifier) deliverUDP(st *State, fromOrig bool, data []byte) Action {
	// Signature-gated recognizers only see datagrams within the DPD window.
	inWindow := st.countDPD(len(data))
	if !inWindow {
		if !st.attached(svcDHCP) {
			st.pending &^= 1 << recDHCP
		}
		if !st.attached(svcKRB) {
			st.pending &^= 1 << recKRB
		}
		st.pending &^= 1<<recDTLS | 1<<recQUIC
	}
	act := None
	if st.pending&(1<<recDNS) != 0 {
		a, ok := c.dnsUDP(st, fromOrig, data)
		act = a
		if ok {
			st.pending &^= 1 << recDNS
		}
	}
	if st.pending&(1<<recNTP) != 0 {
		if a, ok := c.ntp(st, fromOrig, data); ok {
			if a == Flip {
				act = Flip
			}
		}
	}
	if st.pending&(1<<recDHCP) != 0 && c.dhcp(data) {
		c.confirm(st, svcDHCP)
		st.pending &^= 1 << recDHCP
	}
	if st.pending&(1<<recKRB) != 0 && (st.attached(svcKRB) || krbUDPSig(data)) && krbMessage(data) {
		c.confirm(st, svcKRB)
		st.pending &^= 1 << recKRB
	}
	if st.pending&(1<<recDTLS) != 0 {
		if fromOrig && dtlsClientHello(data) {
			c.confirm(st, svcDTLS)
			st.pending &^= 1 << recDTLS
		} else if st.chunks[0] >= dtlsTries {
			st.pending &^= 1 << recDTLS
		}
	}
	if st.pending&(1<<recQUIC) != 0 {
		c.quic(st, fromOrig, data)
	}
	if st.pending&(1<<recLDAPUDP) != 0 {
		c.ldapUDP(st, fromOrig, data, inWindow)
	}
	if st.pending&(1<<recRDPEUDP) != 0 {
		c.rdpeudp(st, fromOrig, data, inWindow)
	}
	if st.pending&(1<<recSIP) != 0 {
		c.sip(st, data, inWindow)
	}
	if st.pending&(1<<recSNMP) != 0 {
		c.snmp(st, fromOrig, data)
	}
	if st.pending&(1<<recRADIUS) != 0 {
		c.radius(st, data)
	}
	if st.pending&(1<<recDNP3) != 0 {
		c.dnp3Chunk(st, dirIndex(fromOrig), data)
	}
	if st.pending&(1<<recSyslog) != 0 {
		c.syslogChunk(st, dirIndex(fromOrig), data)
	}
	return act
}

// confirm records svc if it is enabled.
func (c *Classifier) confirm(st *State, svc uint8) {
	if c.on(svc) {
		st.confirm(svc)
	}
}

// startSig is one direction's match of a signature anchored at the stream
// start (dpd_dce_rpc, dpd_mqtt) for a streaming recognizer. Zeek's
// signature engine matches the reassembled stream, so a signature longer
// than the first chunk goes on matching in the chunks that follow (within
// the DPD window): the bytes of a chunk too short to decide are kept here.
type startSig struct {
	buf   [16]byte
	n     uint8
	state uint8 // startSigNone, startSigWaiting or startSigMissed
}

const (
	startSigNone    = iota // no bytes of this direction seen yet
	startSigWaiting        // the stream start is too short to decide
	startSigMiss           // the signature failed on this direction
)

// startSigs is a streaming recognizer's start-signature state per
// direction.
type startSigs [2]startSig

// match feeds direction d's chunk data at stream offset off to a
// start-anchored signature. On yes, earlier holds the stream bytes before
// data (kept from chunks too short to decide), which the analyzer must
// see first. On no, the recognizer gives up on this direction. more: the
// bytes are kept, the next chunk decides.
func (ss *startSigs) match(d int, data []byte, off uint32, inWindow bool, sig func([]byte) tri) (earlier []byte, t tri) {
	s := &ss[d]
	if s.state == startSigMiss || !inWindow || off != uint32(s.n) || s.n == 0 && off != 0 {
		s.state = startSigMiss
		return nil, no
	}
	if s.n == 0 {
		t = sig(data)
	} else {
		k := copy(s.buf[s.n:], data)
		t = sig(s.buf[:int(s.n)+k])
		if t == more && k < len(data) {
			t = no // cannot happen with signatures shorter than buf
		}
	}
	switch t {
	case yes:
		return s.buf[:s.n], yes
	case more:
		if s.n == 0 {
			if len(data) > len(s.buf) {
				s.state = startSigMiss
				return nil, no
			}
			copy(s.buf[:], data)
		}
		s.n += uint8(len(data))
		s.state = startSigWaiting
		return nil, more
	}
	s.state = startSigMiss
	return nil, no
}

// Which startSigs of streamState a recognizer uses.
const (
	startSigDCERPC = iota
	startSigMQTT
	numStartSigs
)

// startSignature runs streaming recognizer rec's start-anchored signature
// (slot which of streamState.start) on direction d's chunk data at stream
// offset off, for a recognizer not attached by port whose analyzer the
// signature has not enabled yet. matched: the analyzer starts, and must
// first see earlier (this direction's stream bytes before data, kept while
// the signature waited). A first chunk that decides allocates nothing.
// The recognizer stops once every direction that carried bytes failed the
// signature and both did, or once the DPD window closed. Call it after
// st.seen counted the chunk.
func (st *State) startSignature(which, rec, d int, data []byte, off uint32, inWindow bool,
	sig func([]byte) tri) (earlier []byte, matched bool) {
	waiting := func(i int) bool { return st.sx != nil && st.sx.start[which][i].state == startSigWaiting }
	var t tri
	switch {
	case !inWindow:
		t = no
	case off != 0 && !waiting(d):
		t = no // this direction's start was decided earlier
	case off == 0 && st.sx == nil && sig(data) != more:
		t = sig(data)
	default:
		if st.sx == nil {
			st.sx = &streamState{}
		}
		earlier, t = st.sx.start[which].match(d, data, off, inWindow, sig)
	}
	if t == yes {
		return earlier, true
	}
	if t == no {
		missed := func(i int) bool { return st.seen[i] > 0 && !waiting(i) }
		if !inWindow || missed(0) && missed(1) {
			st.pending &^= 1 << rec
		}
	}
	return nil, false
}
