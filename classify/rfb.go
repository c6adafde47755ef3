package classify

// RFB (VNC) recognition (Zeek's RFB analyzer: RFB.cc, rfb-protocol.pac,
// rfb-analyzer.pac).
//
// Zeek's parser is a state machine shared by both directions; each state
// expects one record:
//   - both sides start with a 12-byte ProtocolVersion "RFB xxx.yyy\n"; the
//     client's confirms the analyzer. The client's minor version decides
//     the dialect: 7 and above (3.7/3.8) has the server list security types
//     and the client select one; below, the server names the type (4 bytes);
//   - security type 0 (failure: a reason string follows), 1 (none: then the
//     client's init byte and the server's init), 2 (VNC: a 16-byte challenge
//     and response, then the 4-byte result), and for 3.7+ selection 30
//     (Apple Remote Desktop: a challenge with its key length, the client's
//     response of twice that length); other values are violations; a result
//     other than 0 or 1 too;
//   - the server's ServerInit (width, height, pixel format, name length
//     below 65536, name) ends the handshake; Zeek then ignores the server's
//     data and parses client messages: set pixel format (0), set encodings
//     (2), framebuffer update request (3), key (4) and pointer (5) events,
//     cut text (6); any other type has no case: an exception;
//   - a side sending data while it waits for the other is invalid data: an
//     exception. Exceptions are violations and stop the analyzer.
// RFB.cc analyzes nothing on partial connections and nothing after a gap.
//
// netbased replays the two prefixes in protocol order (each side's record
// once the shared state expects it), which is the order lock-step RFB
// traffic arrives in.
//
// Attachment: the signature pair dpd_rfb_client and dpd_rfb_server (both
// streams start "RFB", within the DPD window); no ports.
// Bound: the prefix.

// RFB states (rfb-protocol.pac).
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
	rfbDone // the server after ServerInit: not parsed any more
)

// rfbSim is the shared parse state.
type rfbSim struct {
	client, server uint8
	version        int
	ardKeyLen      int
	nextClientMsg  byte
	violation      bool
	confirmed      bool
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

// rfbVersionMsg parses ProtocolVersion; ok false at a literal mismatch.
func rfbVersionMsg(b []byte) (minor int, ok bool) {
	if string(b[:4]) != "RFB " || b[7] != '.' {
		return 0, false
	}
	for _, v := range b[8:11] {
		if !isDigit(v) {
			break
		}
		minor = minor*10 + int(v-'0')
	}
	return minor, true
}

// step parses the next record of one side from b; n is what it used, r
// is more when b is too short, no at an exception or violation.
func (s *rfbSim) step(client bool, b []byte) (n int, r tri) {
	state := s.server
	if client {
		state = s.client
	}
	need := func(k int) (int, tri) {
		if len(b) < k {
			return 0, more
		}
		return k, yes
	}
	switch state {
	case rfbWait:
		return 0, no // invalid data while waiting
	case rfbVersion:
		if n, r = need(12); r != yes {
			return
		}
		minor, ok := rfbVersionMsg(b)
		if !ok {
			return 0, no
		}
		if client {
			s.version = minor
			if minor >= 7 {
				s.server, s.client = rfbAuthType37, rfbAuthSelection
			} else {
				s.server, s.client = rfbAuthType, rfbWait
			}
			s.confirmed = true
		} else {
			s.server = rfbWait
		}
		return 12, yes
	}
	if client {
		switch state {
		case rfbAuthSelection:
			if n, r = need(1); r != yes {
				return
			}
			switch b[0] {
			case 1:
				if s.version > 7 {
					s.server = rfbAuthResult
				} else {
					s.server = rfbInit
				}
				s.client = rfbInit
			case 2:
				s.server, s.client = rfbVNCChallenge, rfbVNCResponse
			case 30:
				s.server, s.client = rfbARDChallenge, rfbWait
			default:
				s.violation = true
			}
			return 1, yes
		case rfbVNCResponse:
			if n, r = need(16); r == yes {
				s.client = rfbInit
			}
			return
		case rfbARDResponse:
			if n, r = need(2 * s.ardKeyLen); r == yes {
				s.client = rfbInit
			}
			return
		case rfbInit:
			if n, r = need(1); r == yes {
				s.client = rfbMessageType
			}
			return
		case rfbMessageType:
			if n, r = need(1); r == yes {
				s.nextClientMsg, s.client = b[0], rfbMessage
			}
			return
		case rfbMessage:
			switch s.nextClientMsg {
			case 0:
				n, r = need(19)
			case 2:
				if n, r = need(3); r == yes {
					n, r = need(3 + 4*be16(b[1:]))
				}
			case 3:
				n, r = need(9)
			case 4:
				n, r = need(7)
			case 5:
				n, r = need(5)
			case 6:
				if n, r = need(7); r == yes {
					l := be32(b[3:])
					if l >= 65536 {
						return 0, no
					}
					n, r = need(7 + int(l))
				}
			default:
				return 0, no // no case for the type
			}
			if r == yes {
				s.client = rfbMessageType
			}
			return
		}
		return 0, no
	}
	switch state {
	case rfbAuthType:
		if n, r = need(4); r != yes {
			return
		}
		switch be32(b) {
		case 0:
			s.server, s.client = rfbAuthFailure, rfbInit
		case 1:
			s.server, s.client = rfbInit, rfbInit
		case 2:
			s.server, s.client = rfbVNCChallenge, rfbVNCResponse
		default:
			s.violation = true
		}
		return 4, yes
	case rfbAuthType37:
		if n, r = need(1); r == yes {
			if n, r = need(1 + int(b[0])); r == yes {
				if b[0] == 0 {
					s.server = rfbAuthFailure
				} else {
					s.server = rfbWait
				}
			}
		}
		return
	case rfbAuthFailure:
		if n, r = need(4); r == yes {
			if be32(b) >= 65536 {
				return 0, no
			}
			if n, r = need(4 + int(be32(b))); r == yes {
				s.server = rfbInit
			}
		}
		return
	case rfbVNCChallenge:
		if n, r = need(16); r == yes {
			s.server, s.client = rfbAuthResult, rfbVNCResponse
		}
		return
	case rfbARDChallenge:
		if n, r = need(4); r == yes {
			k := be16(b[2:])
			if n, r = need(4 + 2*k); r == yes {
				s.ardKeyLen = k
				s.server, s.client = rfbAuthResult, rfbARDResponse
			}
		}
		return
	case rfbAuthResult:
		if n, r = need(4); r == yes {
			switch be32(b) {
			case 0:
				s.server = rfbInit
			case 1:
				s.server = rfbAuthFailure
			default:
				s.violation = true
			}
		}
		return
	case rfbInit:
		if n, r = need(24); r == yes {
			l := be32(b[20:])
			if l >= 65536 {
				return 0, no
			}
			if n, r = need(24 + int(l)); r == yes {
				s.server = rfbDone
			}
		}
		return
	case rfbDone:
		return len(b), yes // not parsed after the handshake
	}
	return 0, no
}

// rfb is the RFB recognizer.
func (c *Classifier) rfb(st *State, in *input) verdict {
	if t := sigPair(in, rfbSig, rfbSig); t != yes {
		return sigVerdict(t)
	}
	var s rfbSim
	b := in.pre
	for {
		progress := false
		for _, client := range [...]bool{false, true} { // the server speaks first
			d := 0
			if !client {
				d = 1
			}
			if len(b[d]) == 0 {
				continue
			}
			st0, sv0 := s.client, s.server
			if client && s.client == rfbWait || !client && s.server == rfbWait {
				continue // decided below, once the other side cannot move
			}
			n, r := s.step(client, b[d])
			if s.confirmed {
				c.confirm(st, svcRFB)
			}
			if r == no || s.violation {
				st.violate(svcRFB)
				return done
			}
			if r == more {
				continue
			}
			b[d] = b[d][n:]
			progress = progress || n > 0 || s.client != st0 || s.server != sv0
		}
		if !progress {
			break
		}
	}
	// A side holding data while it waits sends invalid data once the other
	// side cannot move it on.
	for d, waiting := range [2]bool{s.client == rfbWait, s.server == rfbWait} {
		if waiting && len(b[d]) > 0 && !in.more[1-d] {
			st.violate(svcRFB)
			return done
		}
	}
	if in.more[0] || in.more[1] {
		return undecided
	}
	return done
}
