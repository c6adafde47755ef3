// Package classify recognizes a connection's application services from its
// payload, the way Zeek's dynamic protocol detection does: a service is named
// only when the payload confirms it (a DNS message that parses, an HTTP
// request line, a TLS ClientHello, three synced SMB chunks, cleartext RDP
// MCS/GCC, …), never from the port alone. It knows only bytes: the flow
// tracker feeds it each direction's first bytes in stream order.
//
// # Model
//
// The analyzer table (analyzers.go, rendered as ANALYZERS.md) lists every
// Zeek component that can name a service, with its ports, DPD signature,
// confirmation and violation conditions and netbased's status; it is the
// one place that knows analyzer names and ports. A violation disables the
// analyzer as Zeek's dpd.zeek does, removing a confirmed service (or,
// with Options.TrackRemovedServices, adding "-name").
//
// Every recognizer is either attached by port (the responder port is one of
// the ports Zeek registers the analyzer for) or gated by a DPD-signature
// equivalent that must match in the first dpdWindowBytes bytes / dpdWindowChunks
// chunks of the connection (Zeek's dpd_buffer_size and dpd_max_packets, one
// budget for both directions, the crossing chunk included). Once attached, a
// recognizer looks for its confirmation evidence in a bounded prefix of each
// direction (prefixCap bytes), or, for the streaming recognizers (SMB chunk
// counting, the SSH packet walk, FTP reply checking), in a bounded number of
// chunks/bytes. The prefix buffers live behind a pointer that is allocated
// only when a recognizer must wait for more bytes and is released as soon as
// every prefix recognizer has decided. Each recognizer's file documents its
// confirmation rule, its attachment and its bound.
//
// # What the caller (the flow tracker) does
//
//   - Start once per connection, after any flip made at creation, with the
//     ports as finally oriented and partial = handshake not seen.
//   - SetMulticastResponder(true) when the responder address is multicast
//     (the DNS analyzer then never flips); again after a flip if needed.
//   - TCP: Deliver each direction's in-order stream bytes, in packet arrival
//     order across the two directions (the DPD window, RFB's parse and
//     POP3's pairing depend on it), while Wants(dir) is true; Gap when a
//     direction lost bytes. STARTTLS-style upgrades need both directions delivered.
//   - UDP: Deliver each datagram's payload (empty payloads are ignored).
//   - When Deliver returns Flip: swap the roles and call State.Flip. Call
//     State.Flip also for every other role swap after Start (TCP history
//     flips), so that directions stay consistent.
//   - Services when the connection ends (or at any time), then
//     ScriptServices (labels Zeek's scripts add to the connection itself:
//     gridftp).
//   - TakeExpectations after each Deliver: the data connections an FTP or
//     IRC control connection announced (expect.go); the caller keeps the
//     table of pending ones and labels the connections that match. Once FTP
//     or IRC is confirmed, Wants stays true for the connection's life (the
//     announcement watch reads every line).
package classify

// Transport is the connection's transport protocol.
type Transport uint8

// Transports the recognizers distinguish.
const (
	TCP Transport = iota + 1
	UDP
)

// Action is what the caller must do after a delivery.
type Action uint8

// Actions returned by Deliver.
const (
	// None: nothing to do.
	None Action = iota
	// Flip: an analyzer (DNS, NTP) decided the roles are reversed, as Zeek's
	// analyzer flips do; the caller swaps originator and responder and calls
	// State.Flip.
	Flip
)

// Set is a set of enabled recognizers (a bit per service, see Names and
// ParseSet).
type Set uint64

// Bounds. Each is documented where it is used.
const (
	// dpdWindowBytes and dpdWindowChunks are Zeek's dpd_buffer_size and
	// dpd_max_packets: signatures only see this much of a connection.
	dpdWindowBytes  = 1024
	dpdWindowChunks = 100
	// prefixCap bounds each direction's buffered prefix. Zeek's analyzers
	// attached by port (or enabled by a signature) see the whole stream; the
	// evidence they confirm on (first message, greeting, STARTTLS exchange
	// and the ClientHello that follows) lies well inside 4 KiB in every trace
	// of the corpus.
	prefixCap = 4096
	// maxChunks bounds how many chunks (TCP deliveries or UDP datagrams) per
	// direction a connection is examined for; after that Wants is false.
	maxChunks = 100
	// violationWindow: Zeek ignores analyzer violations once the
	// connection carried this many payload bytes (DPD::ignore_violations_after).
	violationWindow = 10 * 1024
)

// Classifier holds the configuration shared by all connections. It is
// read-only after New and safe for concurrent use.
type Classifier struct {
	enabled Set
	opts    Options
	attach  portAttach
}

// Options are the settings of Zeek's scripts that change what the service
// column shows. The zero value is plain `zeek -r`.
type Options struct {
	// TrackRemovedServices is DPD::track_removed_services_in_connection:
	// a confirmed analyzer removed after a violation stays in the services
	// and "-name" is added after it (e.g. "ftp,-ftp"), instead of the name
	// being deleted.
	TrackRemovedServices bool
}

// New returns a classifier running the recognizers in enabled, with plain
// `zeek -r` script settings.
func New(enabled Set) *Classifier { return NewWithOptions(enabled, Options{}) }

// NewWithOptions returns a classifier running the recognizers in enabled
// with the given script settings.
func NewWithOptions(enabled Set, opts Options) *Classifier {
	return &Classifier{enabled: enabled, opts: opts, attach: newPortAttach()}
}

// Enabled returns the set the classifier runs.
func (c *Classifier) Enabled() Set { return c.enabled }

// State flag bits.
const (
	flagPartial uint64 = 1 << iota
	flagMulticastResp
	flagGapOrig
	flagGapResp
	flagDNSSeen    // the DNS analyzer parsed its first message (flip decided)
	flagNTPFlipped // the NTP analyzer flipped once
	flagSMBSynced
	flagStarted
	flagSMBSig    // the SMB signature matched (not on an SMB port)
	flagRespFirst // the responder sent the connection's first payload
	flagDataSeen  // some payload was delivered
	flagLDAPUDPSig
	flagFrozenOrig       // no pending prefix recognizer needs more originator bytes
	flagFrozenResp       // … responder bytes
	flagSSLHello         // the SSL recognizer confirmed a ClientHello
	flagHTTPReq          // the HTTP recognizer parsed the request line
	flagHTTP09           // … an HTTP/0.9 request (no status line expected)
	flagHTTPConnect      // … a CONNECT request (tunnel follows)
	flagWatch            // the expected-connection line watch runs (expect.go)
	flagGridFTP          // gridftp.zeek labelled the connection "gridftp"
	flagWatchEnded       // the line watch stopped for good
	flagTrackRemoved     // DPD::track_removed_services_in_connection
	flagRDPEUDPSyn       // RDPEUDP: the originator's SYN was seen (NEED_SYNACK)
	flagRDPEUDPConfirmed // RDPEUDP: the handshake confirmed
	flagRDPEUDPEnabled   // RDPEUDP: the signature matched
	flagSIPEnabled       // SIP: the signature matched
	flagNBNS             // a port is 137 (NetBIOS name service framing for DNS)
	flagSMBWalk          // the SMB message walk runs (smb.go)
	flagLimitReached     // an analyzer hit a configured limit (AnalysisLimitReached)
)

// The per-connection bit sets are 64 bits wide (attach: 32 slots per
// transport, see attachSlots).
const _ = uint64(1<<numServices - 1)
const _ = uint64(1<<(numRecs) - 1)

// State is the per-connection classification state. Its zero value is not
// ready: call Classifier.Start. It is about 64 bytes; buffers live behind x,
// allocated only while a recognizer waits for more bytes.
type State struct {
	x         *buffers
	sx        *streamState // the streaming recognizers' state, while they run
	pending   uint64       // recognizers still running (bit per rec)
	flags     uint64
	attach    uint32    // services attached by the responder port at Start (attachSlots)
	seen      [2]uint32 // stream bytes delivered per direction
	order     [maxServices]uint8
	sigLen    [2]uint16 // bytes per direction the DPD signatures could see
	dpdBytes  uint16
	n         uint8
	transport Transport
	dpdChunks uint8
	chunks    [2]uint8 // chunks seen per direction (at most maxChunks)
}

// maxServices bounds how many services one connection can carry.
const maxServices = 8

// buffers holds each direction's buffered prefix (where the DPD window
// closed in it is State.sigLen) and the signature sides' answers on them.
type buffers struct {
	buf  [2][]byte
	memo sideMemo
}

// Start prepares st for a new connection (after any flip at creation).
// partial is true for a TCP connection whose handshake was not seen (Zeek's
// IsPartial): HTTP, SSL and RDP are then not attempted.
func (c *Classifier) Start(st *State, t Transport, origPort, respPort uint16, partial bool) {
	*st = State{transport: t, flags: flagStarted}
	if origPort == 137 || respPort == 137 {
		st.flags |= flagNBNS
	}
	if partial && t == TCP {
		st.flags |= flagPartial
	}
	if respPort != 0 {
		st.attach = c.attach.lookup(t, respPort)
	}
	if c.opts.TrackRemovedServices {
		st.flags |= flagTrackRemoved
	}
	st.pending = c.candidates(st)
}

// StartScheduled is Start for a TCP connection that matched an expected
// connection (an FTP data channel, an IRC DCC transfer): Zeek then attaches
// the scheduled analyzer instead of the analyzers registered for the
// responder port (BuildSessionAnalyzerTree), so only the recognizers a
// DPD signature can enable run. The state does not know the responder port.
func (c *Classifier) StartScheduled(st *State, t Transport, origPort uint16, partial bool) {
	c.Start(st, t, origPort, 0, partial)
}

// SetMulticastResponder tells the state that the responder address is a
// multicast address: the DNS analyzer then never flips (Zeek's DNS.cc). Call
// it after Start, and again after a flip if the new responder is multicast.
func (st *State) SetMulticastResponder(multicast bool) {
	if multicast {
		st.flags |= flagMulticastResp
	} else {
		st.flags &^= flagMulticastResp
	}
}

// Deliver feeds data from one direction: for TCP the next in-order stream
// bytes, for UDP one datagram's payload.
func (c *Classifier) Deliver(st *State, fromOrig bool, data []byte) Action {
	if st.flags&flagStarted == 0 || len(data) == 0 {
		return None
	}
	watching := st.flags&flagWatch != 0
	if st.transport == TCP {
		// SMB's walk feeds its children past the chunk budget.
		c.smbDeliver(st, dirIndex(fromOrig), data)
	}
	act := c.deliverRecognizers(st, fromOrig, data)
	if st.flags&flagWatch != 0 {
		// The expected-connection watch sees every chunk, past the
		// recognizers' bounds.
		if watching {
			c.watchChunk(st, fromOrig, data)
		} else {
			c.watchTail(st, fromOrig, data)
		}
	}
	return act
}

// deliverRecognizers runs the recognizers on one chunk.
func (c *Classifier) deliverRecognizers(st *State, fromOrig bool, data []byte) Action {
	d := dirIndex(fromOrig)
	if st.pending == 0 || st.chunks[0] >= maxChunks && st.chunks[1] >= maxChunks {
		st.pending = 0
		st.release()
		return None
	}
	if st.chunks[d] >= maxChunks {
		return None
	}
	st.chunks[d]++
	if st.transport == UDP {
		act := c.deliverUDP(st, fromOrig, data)
		st.seen[d] += uint32(len(data))
		if st.pending == 0 {
			st.release()
		}
		return act
	}
	c.deliverTCP(st, fromOrig, data)
	if st.pending == 0 {
		st.release()
	}
	return None
}

// Gap tells the state that a direction's stream has a hole (bytes lost).
// Prefix recognizers stop looking at that direction (the prefix is no longer
// the stream's beginning); SMB resynchronizes on the next SMB header like
// Zeek's SMB.cc; RDP gives up (Zeek skips RDP after a gap).
func (c *Classifier) Gap(st *State, fromOrig bool) {
	if st.transport != TCP {
		return
	}
	if fromOrig {
		st.flags |= flagGapOrig
	} else {
		st.flags |= flagGapResp
	}
	st.smbGap()
	st.watchGap(dirIndex(fromOrig))
	// RDP skips everything after a gap; SSL.cc, SSH.cc, DCE_RPC.cc and
	// RFB.cc stop parsing both directions once either had one (had_gap).
	st.pending &^= 1<<recRDP | 1<<recSSH | 1<<recDCERPC | 1<<recRFB | 1<<recSSL
	if st.flags&(flagGapOrig|flagGapResp) == flagGapOrig|flagGapResp {
		st.pending &= 1<<recSMB | 1<<recFTPWatch
	}
	if st.pending == 0 {
		st.release()
	}
}

// AnalysisLimitReached reports whether an analyzer hit one of its
// configured limits (Zeek's Analyzer::LimitReachedWeird, which adds the
// history letter 'X' through Session::CheckHistory(HIST_UNKNOWN_PKT)):
// FTP's FTP::max_command_length on a confirmed connection. It stays true;
// the caller adds 'X' after the Deliver that set it.
func (st *State) AnalysisLimitReached() bool { return st.flags&flagLimitReached != 0 }

// Flip tells the state that originator and responder swapped.
func (st *State) Flip() {
	st.chunks[0], st.chunks[1] = st.chunks[1], st.chunks[0]
	st.sigLen[0], st.sigLen[1] = st.sigLen[1], st.sigLen[0]
	if st.flags&flagDataSeen != 0 {
		st.flags ^= flagRespFirst
	}
	st.seen[0], st.seen[1] = st.seen[1], st.seen[0]
	for _, pair := range [...][2]uint64{{flagGapOrig, flagGapResp}, {flagFrozenOrig, flagFrozenResp}} {
		g := st.flags & (pair[0] | pair[1])
		st.flags &^= pair[0] | pair[1]
		if g&pair[0] != 0 {
			st.flags |= pair[1]
		}
		if g&pair[1] != 0 {
			st.flags |= pair[0]
		}
	}
	if st.sx != nil {
		st.sx.ssh.flip()
		if st.sx.ew != nil {
			st.sx.ew.flip()
		}
		if w := st.sx.smb; w != nil {
			w.dir[0], w.dir[1] = w.dir[1], w.dir[0]
			for i := range w.dce {
				w.dce[i].dir[0], w.dce[i].dir[1] = w.dce[i].dir[1], w.dce[i].dir[0]
			}
		}
		if a := st.sx.dce; a != nil {
			a.dir[0], a.dir[1] = a.dir[1], a.dir[0]
		}
		if d := st.sx.dnp3; d != nil {
			d.dir[0], d.dir[1] = d.dir[1], d.dir[0]
		}
		if m := st.sx.mqtt; m != nil {
			m.dir[0], m.dir[1] = m.dir[1], m.dir[0]
		}
		if y := st.sx.syslog; y != nil {
			y.dir[0], y.dir[1] = y.dir[1], y.dir[0]
		}
	}
	if st.x != nil {
		st.x.buf[0], st.x.buf[1] = st.x.buf[1], st.x.buf[0]
	}
}

// Wants reports whether the state still wants payload from the direction;
// false once classification is final or the window is exhausted, so the
// caller can stop delivering.
func (st *State) Wants(fromOrig bool) bool {
	if st.flags&flagStarted == 0 {
		return false
	}
	if st.flags&(flagWatch|flagSMBWalk) != 0 {
		return true
	}
	if st.pending == 0 {
		return false
	}
	d := dirIndex(fromOrig)
	if st.chunks[d] >= maxChunks {
		return false
	}
	if st.transport != TCP || st.pending&streamRecs != 0 {
		return true
	}
	// Only prefix recognizers left: this direction matters while its prefix
	// can grow.
	if st.gapped(d) {
		return false
	}
	return st.x == nil || len(st.x.buf[d]) < prefixCap
}

// Order entries are service ids, or ids with one of these marks: removedMark
// records a confirmed service removed after a violation, written "-name"
// with DPD::track_removed_services_in_connection; disabledMark records an
// analyzer DPD disabled, which is not written.
const (
	removedMark  = 0x80
	disabledMark = 0x40
)

// Services appends the confirmed services, lowercase, in confirmation order
// (with TrackRemovedServices, "-name" entries where a confirmed analyzer was
// removed after a violation).
func (st *State) Services(dst []string) []string {
	for i := uint8(0); i < st.n; i++ {
		switch o := st.order[i]; {
		case o&removedMark != 0:
			dst = append(dst, removedNames[o&^removedMark])
		case o&disabledMark == 0:
			dst = append(dst, serviceNames[o])
		}
	}
	return dst
}

// Has reports whether the service called name (a name from Names) is
// confirmed.
func (st *State) Has(name string) bool {
	for i := uint8(0); i < st.n; i++ {
		if o := st.order[i]; o&(removedMark|disabledMark) == 0 && serviceNames[o] == name {
			return true
		}
	}
	return false
}

func dirIndex(fromOrig bool) int {
	if fromOrig {
		return 0
	}
	return 1
}

// confirm records svc once, in confirmation order, unless a violation
// disabled it (Zeek's dpd.zeek disables an analyzer at its first violation,
// so it cannot confirm again).
func (st *State) confirm(svc uint8) {
	if st.has(svc) || st.disabled(svc) {
		return
	}
	st.add(svc)
}

// add appends an order entry if there is room.
func (st *State) add(entry uint8) {
	if st.n < maxServices {
		st.order[st.n] = entry
		st.n++
	}
}

// disabled reports whether a violation disabled svc's analyzer.
func (st *State) disabled(svc uint8) bool {
	for i := uint8(0); i < st.n; i++ {
		if o := st.order[i]; o == svc|disabledMark || o == svc|removedMark {
			return true
		}
	}
	return false
}

// has reports whether svc is confirmed.
func (st *State) has(svc uint8) bool {
	for i := uint8(0); i < st.n; i++ {
		if st.order[i] == svc {
			return true
		}
	}
	return false
}

// violate records an analyzer violation for svc: Zeek's dpd.zeek disables
// the analyzer (it never confirms afterwards) and, if it was confirmed,
// deletes the service, or with DPD::track_removed_services_in_connection
// adds "-name" after it — unless the connection already carried more than
// violationWindow payload bytes (DPD::ignore_violations_after), when the
// violation is ignored.
func (st *State) violate(svc uint8) {
	if st.seen[0]+st.seen[1] > violationWindow {
		return
	}
	if st.disabled(svc) {
		return
	}
	if !st.has(svc) {
		st.add(svc | disabledMark)
		return
	}
	if st.flags&flagTrackRemoved != 0 {
		st.add(svc | removedMark)
		return
	}
	for i := uint8(0); i < st.n; i++ {
		if st.order[i] == svc {
			st.order[i] = svc | disabledMark
		}
	}
}

// release drops the buffers.
func (st *State) release() {
	st.x = nil
	st.dropStream()
}

// dropStream releases the streaming state once no streaming recognizer
// and no expected-connection watch uses it.
func (st *State) dropStream() {
	if st.sx == nil {
		return
	}
	if st.pending&(1<<recDCERPC) == 0 {
		st.sx.dce = nil
	}
	if st.pending&(1<<recDNP3) == 0 {
		st.sx.dnp3 = nil
	}
	if st.pending&(1<<recMQTT) == 0 {
		st.sx.mqtt = nil
	}
	if st.pending&(1<<recSyslog) == 0 {
		st.sx.syslog = nil
	}
	if st.pending&(1<<recRFB) == 0 {
		st.sx.rfb = nil
	}
	if st.pending&(1<<recSMB) == 0 && st.flags&flagSMBWalk == 0 {
		st.sx.smb = nil
	}
	if st.pending&(1<<recSSH|1<<recFTPWatch|1<<recDCERPC|1<<recMQTT) == 0 && st.sx.ew == nil && st.sx.smb == nil && st.sx.dce == nil &&
		st.sx.dnp3 == nil && st.sx.mqtt == nil && st.sx.syslog == nil && st.sx.rfb == nil {
		st.sx = nil
	}
}

// frozen reports whether direction d's prefix stopped growing because no
// pending prefix recognizer needs it any more.
func (st *State) frozen(d int) bool {
	if d == 0 {
		return st.flags&flagFrozenOrig != 0
	}
	return st.flags&flagFrozenResp != 0
}

func (st *State) freeze(d int) {
	if d == 0 {
		st.flags |= flagFrozenOrig
	} else {
		st.flags |= flagFrozenResp
	}
	if st.x != nil {
		st.x.buf[d] = nil
	}
}

func (st *State) gapped(d int) bool {
	if d == 0 {
		return st.flags&flagGapOrig != 0
	}
	return st.flags&flagGapResp != 0
}
