package classify

// RFB (VNC) recognition (Zeek's RFB analyzer: RFB.cc, rfb-protocol.pac,
// rfb-analyzer.pac).
//
// Zeek's parser is a state machine shared by both directions; each side's
// state selects the record its next bytes parse as (RFB_PDU_request /
// RFB_PDU_response), and a record's handler moves either side's state:
//   - both sides start with a 12-byte ProtocolVersion "RFB xxx.yyy" and a
//     pad byte; the client's confirms the analyzer. The client's minor
//     version (bytestring_to_int: strtol, so leading white space and a sign
//     are read) decides the dialect: 7 and above (3.7/3.8) has the server
//     list security types and the client select one; below, the server
//     names the type (4 bytes); the server's version leaves it waiting;
//   - security type 0 (failure: a reason string follows), 1 (none: then the
//     client's init byte and the server's init), 2 (VNC: a 16-byte challenge
//     and response, then the 4-byte result), and for 3.7+ selection 30
//     (Apple Remote Desktop: a challenge with its key length, the client's
//     response of twice that length); other values are violations; a result
//     other than 0 or 1 too;
//   - the server's ServerInit (width, height, pixel format, name length
//     below 65536, name) ends the handshake; RFB.cc then ignores the
//     server's later deliveries and the client's messages go on: set pixel
//     format (0), set encodings (2), framebuffer update request (3), key (4)
//     and pointer (5) events, cut text (6); any other type has no case: an
//     exception;
//   - a side that sends while it waits parses WaitData (zero bytes, the
//     side turns invalid) and then InvalidData, which throws. Exceptions
//     are violations and stop the analyzer (RFB.cc sets invalid).
// RFB.cc analyzes nothing on partial connections and nothing after a gap.
//
// Each side's bytes are parsed in arrival order, chunk by chunk, as binpac's
// flow buffers do: a record starts when its side has data (its kind is the
// side's state then) and takes effect once all its bytes arrived. So a
// server that sends its version and its security types in one segment,
// before the client's version, has sent data while waiting: a violation,
// and the analyzer never confirms.
//
// Attachment: the signature pair dpd_rfb_client and dpd_rfb_server (both
// streams start "RFB", within the DPD window); no ports. The analyzer then
// replays the connection's chunks from the start (PIA), so the parse runs
// from the first chunk and what it found is applied once both signatures
// matched.
// Bound: the connection's chunk budget (maxChunks), and no further once the
// outcome is settled and violations are ignored (violationWindow).
// Not modelled: the server messages that follow ServerInit in the same
// delivery (parsed by Zeek, of which only a framebuffer update is
// plausible; parsing stops there), and strtol reading past the pad byte
// when that byte is a digit.

// RFB states (rfb-analyzer.pac's ClientState and ServerState, one
// numbering for both sides here).
const (
	rfbVersion = iota
	rfbAuthType
	rfbAuthType37
	rfbAuthFailure
	rfbVNCChallenge
	rfbARDChallenge
	rfbAuthResult
	rfbInit
	rfbMessageType
	rfbMessage
	rfbAuthSelection
	rfbVNCResponse
	rfbARDResponse
	rfbWait
	rfbInvalid
)

// rfbMaxData is MAX_DATA_LENGTH: lengths read from the data must be below
// it (&enforce).
const rfbMaxData = 65536

// rfbSide is one side's record in progress.
type rfbSide struct {
	active bool     // a record started
	kind   uint8    // the side's state when it started
	head   [24]byte // the record's fixed part
	n      int      // head bytes collected
	need   int      // head bytes the record has
	tail   int      // bytes of the variable part still to skip (-1: unknown yet)
}

// rfbConn is the RFB recognizer's per-connection state.
type rfbConn struct {
	client, server uint8
	version        int
	ardKeyLen      int
	nextClientMsg  byte
	handshake      bool // ServerInit parsed (saw_full_handshake)
	side           [2]rfbSide
	sig            [2]tri // dpd_rfb_client (0) and dpd_rfb_server (1); more: undecided
	sigN           [2]uint8
	// What the parse found: the client's version confirmed; a violation
	// stopped it, before the confirmation or after it.
	confirmed, violated bool
	violFirst           bool
	stopped             bool
}

// rfbSig is /^RFB/.
func rfbSig(b []byte) tri {
	n := min(len(b), 3)
	if string(b[:n]) != "RFB"[:n] {
		return no
	}
	if n < 3 {
		return more
	}
	return yes
}

// rfbStrtol is bytestring_to_int(minor_ver, 10), which is strtol on the
// record's bytes from the minor version on: optional white space, an
// optional sign, digits. It reads up to the record's end (the pad byte).
func rfbStrtol(b []byte) int {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	v := 0
	for ; i < len(b) && isDigit(b[i]); i++ {
		v = v*10 + int(b[i]-'0')
	}
	if neg {
		return -v
	}
	return v
}

// state returns the state of a side (0 client, 1 server).
func (r *rfbConn) state(d int) *uint8 {
	if d == 0 {
		return &r.client
	}
	return &r.server
}

// head returns how many fixed bytes a record of kind has for side d; ok
// is false for a record that throws as soon as it starts (InvalidData, a
// client message type without a case).
func (r *rfbConn) head(d int, kind uint8) (n int, ok bool) {
	client := d == 0
	switch kind {
	case rfbWait:
		return 0, true
	case rfbInvalid:
		return 0, false
	case rfbVersion:
		return 12, true
	}
	if client {
		switch kind {
		case rfbAuthSelection, rfbInit, rfbMessageType:
			return 1, true
		case rfbVNCResponse:
			return 16, true
		case rfbARDResponse:
			return 0, true // 2 * ard_key_length bytes, all tail
		case rfbMessage:
			switch r.nextClientMsg {
			case 0:
				return 19, true
			case 2:
				return 3, true
			case 3:
				return 9, true
			case 4:
				return 7, true
			case 5:
				return 5, true
			case 6:
				return 7, true
			}
		}
		return 0, false
	}
	switch kind {
	case rfbAuthType, rfbAuthFailure, rfbARDChallenge, rfbAuthResult:
		return 4, true
	case rfbAuthType37:
		return 1, true
	case rfbVNCChallenge:
		return 16, true
	case rfbInit:
		return 24, true
	}
	return 0, false
}

// tail returns the variable length after a record's head; ok false when a
// length fails its &enforce.
func (r *rfbConn) tail(d int, kind uint8, h []byte) (int, bool) {
	client := d == 0
	var l int
	switch {
	case client && kind == rfbARDResponse:
		return 2 * r.ardKeyLen, true
	case client && kind == rfbMessage && r.nextClientMsg == 2:
		return 4 * be16(h[1:]), true
	case client && kind == rfbMessage && r.nextClientMsg == 6:
		l = int(be32(h[3:]))
	case !client && kind == rfbAuthType37:
		return int(h[0]), true
	case !client && kind == rfbAuthFailure:
		l = int(be32(h))
	case !client && kind == rfbARDChallenge:
		return 2 * be16(h[2:]), true
	case !client && kind == rfbInit:
		l = int(be32(h[20:]))
	default:
		return 0, true
	}
	return l, l < rfbMaxData
}

// apply runs the handlers of a complete record of kind from side d; false
// at a violation.
func (r *rfbConn) apply(d int, kind uint8, h []byte) bool {
	if kind == rfbWait {
		*r.state(d) = rfbInvalid // handle_wait_data
		return true
	}
	if kind == rfbVersion {
		if string(h[:4]) != "RFB " || h[7] != '.' {
			return false // a literal mismatch throws
		}
		if d == 0 {
			r.version = rfbStrtol(h[8:12])
			if r.version >= 7 {
				r.server, r.client = rfbAuthType37, rfbAuthSelection
			} else {
				r.server, r.client = rfbAuthType, rfbWait
			}
			r.confirmed = true // proc_rfb_version
		} else {
			r.server = rfbWait
		}
		return true
	}
	if d == 0 {
		switch kind {
		case rfbAuthSelection:
			switch h[0] {
			case 1:
				if r.version > 7 {
					r.server = rfbAuthResult
				} else {
					r.server = rfbInit
				}
				r.client = rfbInit
			case 2:
				r.server, r.client = rfbVNCChallenge, rfbVNCResponse
			case 30:
				r.server, r.client = rfbARDChallenge, rfbWait
			default:
				return false // unknown RFB auth selection
			}
		case rfbVNCResponse, rfbARDResponse:
			r.client = rfbInit
		case rfbInit:
			r.client = rfbMessageType
		case rfbMessageType:
			r.nextClientMsg, r.client = h[0], rfbMessage
		case rfbMessage:
			r.client = rfbMessageType
		}
		return true
	}
	switch kind {
	case rfbAuthType:
		switch be32(h) {
		case 0:
			r.server, r.client = rfbAuthFailure, rfbInit
		case 1:
			r.server, r.client = rfbInit, rfbInit
		case 2:
			r.server, r.client = rfbVNCChallenge, rfbVNCResponse
		default:
			return false // invalid RFB security type
		}
	case rfbAuthType37:
		if h[0] == 0 {
			r.server = rfbAuthFailure
		} else {
			r.server = rfbWait
		}
	case rfbAuthFailure:
		r.server = rfbInit
	case rfbVNCChallenge:
		r.server, r.client = rfbAuthResult, rfbVNCResponse
	case rfbARDChallenge:
		r.ardKeyLen = be16(h[2:])
		r.server, r.client = rfbAuthResult, rfbARDResponse
	case rfbAuthResult:
		switch be32(h) {
		case 0:
			r.server = rfbInit
		case 1:
			r.server = rfbAuthFailure
		default:
			return false // invalid RFB auth result
		}
	case rfbInit:
		r.server, r.handshake = rfbMessageType, true
	}
	return true
}

// feed parses side d's delivery in arrival order (RFB_Flow's NewData);
// false at a violation or exception.
func (r *rfbConn) feed(d int, data []byte) bool {
	if d == 1 && r.handshake {
		return true // RFB.cc: server data after the handshake is not parsed
	}
	s := &r.side[d]
	for len(data) > 0 {
		st := r.state(d)
		if d == 1 && *st == rfbMessageType {
			// Server messages after ServerInit in its delivery: not
			// modelled.
			return true
		}
		if !s.active {
			need, ok := r.head(d, *st)
			if !ok {
				return false
			}
			*s = rfbSide{active: true, kind: *st, need: need, tail: -1}
		}
		k := copy(s.head[s.n:s.need], data)
		s.n += k
		data = data[k:]
		if s.n < s.need {
			return true
		}
		if s.tail < 0 {
			t, ok := r.tail(d, s.kind, s.head[:s.n])
			if !ok {
				return false
			}
			s.tail = t
		}
		k = min(s.tail, len(data))
		s.tail -= k
		data = data[k:]
		if s.tail > 0 {
			return true
		}
		s.active = false
		if !r.apply(d, s.kind, s.head[:s.n]) {
			return false
		}
	}
	return true
}

// rfbChunk feeds one TCP chunk of direction d (0 originator = client).
func (c *Classifier) rfbChunk(st *State, d int, data []byte, off uint32, inWindow bool) {
	if st.sx == nil || st.sx.rfb == nil {
		if off != 0 || !inWindow || rfbSig(data) == no {
			st.pending &^= 1 << recRFB // this side's start cannot match
			return
		}
		if st.sx == nil {
			st.sx = &streamState{}
		}
		st.sx.rfb = &rfbConn{sig: [2]tri{more, more}}
	}
	r := st.sx.rfb
	if r.sig[d] == more {
		// dpd_rfb_client / dpd_rfb_server on this side's first bytes.
		if !inWindow || off != uint32(r.sigN[d]) {
			r.sig[d] = no
		} else {
			var b [3]byte
			copy(b[:], "RFB"[:r.sigN[d]])
			n := copy(b[r.sigN[d]:], data)
			r.sigN[d] += uint8(n)
			r.sig[d] = rfbSig(b[:r.sigN[d]])
		}
	}
	if !r.stopped {
		if !r.feed(d, data) {
			r.stopped = true
			r.violated = true
			r.violFirst = !r.confirmed
		}
	}
	switch {
	case r.sig[0] == no || r.sig[1] == no, !inWindow && (r.sig[0] != yes || r.sig[1] != yes):
		st.pending &^= 1 << recRFB
		st.dropStream()
		return
	case r.sig[0] != yes || r.sig[1] != yes:
		return // the analyzer is not attached yet
	}
	// Attached: the replay ran the parse from the start.
	if r.violated && r.violFirst {
		st.violate(svcRFB)
	} else {
		if r.confirmed {
			c.confirm(st, svcRFB)
		}
		if r.violated {
			st.violate(svcRFB)
		}
	}
	if r.stopped || r.confirmed && st.seen[0]+st.seen[1] > violationWindow {
		st.pending &^= 1 << recRFB
		st.dropStream()
	}
}
