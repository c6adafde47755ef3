package classify

import "strings"

// SSH recognition (Zeek's SSH analyzer: SSH.cc, ssh-protocol.pac,
// ssh-analyzer.pac), followed step by step.
//
// SSH.cc gives the binpac parser nothing on a partial connection (no
// handshake seen) and nothing more once either direction had a content gap.
// Each direction is parsed as a state machine:
//
//   - Version exchange. The client's first line is its version; the server
//     may send other lines before the one starting "SSH-" (RFC 4253 4.2).
//     update_version reads byte 4 of the version line: '2' is SSH2, "1.99"
//     is SSH199, another '1' is SSH1. The connection's version is decided
//     only when both sides' versions are known and compatible (1.99 with 2
//     is 2, 1.99 with 1 is 1, 1 with 2 is undefined).
//   - Key exchange. Each binary packet is parsed by the connection's
//     version; SSH_Key_Exchange has no case for an undefined version, so a
//     packet that arrives before both version lines were seen (a one-sided
//     capture, a server that sends its KEXINIT before reading the client's
//     version) throws, and the exception is an analyzer violation: DPD
//     disables the analyzer, which then never confirms.
//   - SSH2: the header's SSH_MSG_NEWKEYS (21) switches the direction to the
//     encrypted state, and the parsed packet confirms (proc_newkeys). Before
//     it, the message is parsed by the key-exchange state, which the two
//     KEXINITs select from the negotiated algorithm; the ECDH, GSS and RSA
//     exchanges have no default case, so another message type there is a
//     violation, and in the KEXINIT state a message that is not a KEXINIT
//     fails to parse as one.
//   - SSH1: the first packet of either side detaches the direction to the
//     encrypted state; SSH_CMSG_SESSION_KEY (3) confirms, SSH_SMSG_PUBLIC_KEY
//     (2) does not, and any other type has no case (violation).
//
// A violation after the confirmation removes the service (dpd.zeek), unless
// the connection already carried DPD::ignore_violations_after bytes.
//
// Attachment: port 22, or elsewhere the signature pair dpd_ssh_client /
// dpd_ssh_server: ^[sS][sS][hH]-[12]\. at the start of the originator's and
// of the responder's stream (requires-reverse-signature), within the DPD
// window. Bound: maxChunks per direction.

// SSH protocol versions as ssh-protocol.pac's update_version decides them.
const (
	sshUnknown uint8 = iota
	sshV1
	sshV199
	sshV2
)

// Per-direction parser states (ssh-protocol.pac's state_up_/state_down_).
const (
	sshVersionExchange uint8 = iota
	sshKexInit
	sshKexDH  // diffie-hellman-group1/14-sha1: any message type parses
	sshKexGEX // diffie-hellman-group-exchange-*: any message type parses
	sshKexECC
	sshKexGSS
	sshKexRSA
	sshEncrypted
)

// Packet phases of a direction past the version exchange.
const (
	sshPhaseLength uint8 = iota // reading the 4-byte packet length
	sshPhasePad                 // SSH1: skipping the padding before the type
	sshPhaseType                // reading the type bytes (SSH2: padding length and type)
	sshPhaseBody                // skipping to the packet's end
)

// sshDir walks one direction.
type sshDir struct {
	state   uint8
	phase   uint8
	lineLen uint16 // bytes of the current version-exchange line
	line    [8]byte
	hdr     [6]byte
	hdrLen  uint8
	plen    uint32 // the current packet's length field
	skip    uint32 // bytes left in the current phase (padding, body)
	confirm bool   // the packet being skipped confirms when complete
	sig     uint8  // 0 unknown, 1 matched, 2 failed
	sigBuf  [6]byte
	sigLen  uint8
	// kexBuf captures the KEXINIT body up to the end of its kex_algorithms
	// name-list (update_kex compares the two sides' lists).
	kexBuf  []byte
	kexLen  [4]byte
	kexGot  uint16 // KEXINIT body bytes read up to the name-list
	capture bool
}

// sshConn is the connection-level part (ssh-protocol.pac's SSH_Conn).
type sshConn struct {
	dir      [2]sshDir
	version  [2]uint8 // client, server
	conn     uint8    // the connection's version
	kexFirst uint8    // 0 none, else 1 + the direction whose KEXINIT came first
	kexCache []byte   // the first KEXINIT's kex_algorithms name-list
	kexDone  bool
	violated bool
}

// streamState holds the streaming recognizers' state (SSH's packet walk,
// FTP's reply watch, SMB's message walk, the DCE_RPC, DNP3, MQTT,
// Syslog_TCP and RFB parsers), allocated only when one of them runs.
type streamState struct {
	ssh    sshConn
	ftp    ftpReplyState
	ew     *expectWatch // the expected-connection line watch (expect.go)
	smb    *smbWalker   // the SMB message walk (smb.go)
	dce    *dceAnalyzer // the TCP DCE_RPC analyzer (dcerpc.go)
	dnp3   *dnp3Conn
	mqtt   *mqttConn
	syslog *syslogConn
	rfb    *rfbConn
	// start: dpd_dce_rpc's and dpd_mqtt's match at each stream start
	// while a first chunk was too short to decide (engine.go).
	start [numStartSigs]startSigs
}

// sshChunk feeds one chunk of direction d.
func (c *Classifier) sshChunk(st *State, d int, data []byte, inWindow bool, off uint32) {
	if st.sx == nil && !st.attached(svcSSH) && off == 0 && inWindow && len(data) >= 6 && !sshSig(data) {
		// The signature fails on this stream's start: decided without
		// allocating the walk.
		st.pending &^= 1 << recSSH
		return
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	s := &st.sx.ssh
	if !st.attached(svcSSH) {
		// dpd_ssh_client / dpd_ssh_server, anchored at each stream's start.
		if !s.signature(d, data, inWindow, off) {
			st.pending &^= 1 << recSSH
			st.dropStream()
			return
		}
	}
	before := s.violated
	confirmed := s.walk(d, data)
	if s.violated && !before {
		st.violate(svcSSH)
		st.pending &^= 1 << recSSH
		st.dropStream()
		return
	}
	if confirmed && s.activated(st) {
		c.confirm(st, svcSSH)
	}
	if s.dir[0].state == sshEncrypted && s.dir[1].state == sshEncrypted {
		st.pending &^= 1 << recSSH
		st.dropStream()
	}
}

// activated reports whether the analyzer runs: attached by port, or both
// signatures matched.
func (s *sshConn) activated(st *State) bool {
	return st.attached(svcSSH) || s.dir[0].sig == 1 && s.dir[1].sig == 1
}

// signature runs direction d's DPD signature on its stream start; false
// when the signature pair can no longer match.
func (s *sshConn) signature(d int, data []byte, inWindow bool, off uint32) bool {
	sd := &s.dir[d]
	for sd.sig == 0 && len(data) > 0 {
		if !inWindow || off != uint32(sd.sigLen) {
			sd.sig = 2
			break
		}
		sd.sigBuf[sd.sigLen] = data[0]
		sd.sigLen++
		off++
		data = data[1:]
		if sd.sigLen == uint8(len(sd.sigBuf)) {
			if sshSig(sd.sigBuf[:]) {
				sd.sig = 1
			} else {
				sd.sig = 2
			}
		}
	}
	return sd.sig != 2 && s.dir[1-d].sig != 2
}

// walk consumes data of direction d; it reports whether a packet that
// confirms (NEWKEYS, SSH1 SESSION_KEY) completed.
func (s *sshConn) walk(d int, data []byte) bool {
	sd := &s.dir[d]
	confirmed := false
	// A direction that turned encrypted still finishes the packet that
	// switched it (proc_newkeys runs once that packet parsed).
	for len(data) > 0 && !s.violated && (sd.state != sshEncrypted || sd.phase == sshPhaseBody) {
		if sd.state == sshVersionExchange {
			c := data[0]
			data = data[1:]
			if int(sd.lineLen) < len(sd.line) {
				sd.line[sd.lineLen] = c
			}
			if sd.lineLen < 0xffff {
				sd.lineLen++
			}
			if c == '\n' {
				s.versionLine(d)
				sd.lineLen = 0
			}
			continue
		}
		switch sd.phase {
		case sshPhasePad, sshPhaseBody:
			n := uint32(len(data))
			if n > sd.skip {
				n = sd.skip
			}
			if sd.capture {
				s.captureKex(d, data[:n], sd.skip == n)
			}
			sd.skip -= n
			data = data[n:]
			if sd.skip > 0 {
				continue
			}
			if sd.phase == sshPhasePad {
				sd.phase = sshPhaseType
				continue
			}
			sd.phase = sshPhaseLength
			if sd.confirm {
				sd.confirm = false
				confirmed = true
			}
			if sd.state == sshEncrypted {
				return confirmed
			}
		case sshPhaseLength:
			sd.hdr[sd.hdrLen] = data[0]
			sd.hdrLen++
			data = data[1:]
			if sd.hdrLen < 4 {
				continue
			}
			sd.hdrLen = 0
			sd.plen = be32(sd.hdr[:4])
			switch s.conn {
			case sshV2:
				sd.phase = sshPhaseType
			case sshV1:
				sd.phase = sshPhasePad
				sd.skip = 8 - sd.plen%8
			default:
				// SSH_Key_Exchange has no case for an undefined version.
				s.violated = true
			}
		case sshPhaseType:
			sd.hdr[sd.hdrLen] = data[0]
			sd.hdrLen++
			data = data[1:]
			if s.conn == sshV2 && sd.hdrLen < 2 {
				continue
			}
			sd.hdrLen = 0
			if s.conn == sshV1 {
				// The type byte is read; the rest is the message and the CRC.
				sd.skip = sd.plen - 1
				sd.confirm = s.ssh1Message(d, sd.hdr[0])
			} else {
				sd.skip = 0
				if sd.plen > 2 {
					sd.skip = sd.plen - 2
				}
				sd.confirm = s.ssh2Message(d, sd.hdr[1])
			}
			sd.phase = sshPhaseBody
			if sd.skip == 0 {
				sd.phase = sshPhaseLength
				if sd.confirm {
					sd.confirm = false
					confirmed = true
				}
			}
		}
	}
	return confirmed
}

// ssh1Message handles an SSH1 message type of direction d: the first message
// detaches the direction; SESSION_KEY confirms; a type without a case throws.
func (s *sshConn) ssh1Message(d int, typ byte) bool {
	switch typ {
	case 2: // SSH_SMSG_PUBLIC_KEY
		s.dir[d].state = sshEncrypted
		return false
	case 3: // SSH_CMSG_SESSION_KEY
		s.dir[d].state = sshEncrypted
		return true
	}
	s.violated = true
	return false
}

// ssh2Message handles an SSH2 message type of direction d; it reports
// whether the packet confirms (NEWKEYS).
func (s *sshConn) ssh2Message(d int, typ byte) bool {
	sd := &s.dir[d]
	if typ == 21 { // SSH_MSG_NEWKEYS detaches the direction before its body
		sd.state = sshEncrypted
		return true
	}
	switch sd.state {
	case sshKexInit:
		if typ != 20 {
			s.violated = true // does not parse as SSH2_KEXINIT
			return false
		}
		if !s.kexDone && s.kexFirst != uint8(d)+1 {
			sd.capture = true
			sd.kexGot = 0
			sd.kexBuf = nil
		}
	case sshKexECC:
		if typ != 30 && typ != 31 {
			s.violated = true
		}
	case sshKexGSS:
		if typ < 30 || typ > 34 && typ != 40 && typ != 41 {
			s.violated = true
		}
	case sshKexRSA:
		if typ < 30 || typ > 32 {
			s.violated = true
		}
	}
	return false
}

// sshMaxKexList bounds the captured kex_algorithms name-list.
const sshMaxKexList = 2048

// captureKex reads KEXINIT body bytes of direction d: the 16-byte cookie is
// skipped, the kex_algorithms length read, and the name-list kept in a
// buffer of exactly its size (at most sshMaxKexList). last is set with the
// packet's final bytes.
func (s *sshConn) captureKex(d int, b []byte, last bool) {
	sd := &s.dir[d]
	for len(b) > 0 && sd.capture {
		switch {
		case sd.kexGot < 16: // cookie
			n := min(16-int(sd.kexGot), len(b))
			sd.kexGot += uint16(n)
			b = b[n:]
		case sd.kexGot < 20: // name-list length
			sd.kexLen[sd.kexGot-16] = b[0]
			sd.kexGot++
			b = b[1:]
			if sd.kexGot == 20 {
				sd.kexBuf = make([]byte, 0, min(be32(sd.kexLen[:]), sshMaxKexList))
			}
		default:
			n := min(cap(sd.kexBuf)-len(sd.kexBuf), len(b))
			sd.kexBuf = append(sd.kexBuf, b[:n]...)
			b = b[n:]
		}
		if sd.kexGot == 20 && len(sd.kexBuf) == cap(sd.kexBuf) {
			sd.capture = false
			s.updateKex(d, sd.kexBuf)
			return
		}
	}
	if last && sd.capture {
		sd.capture = false // a KEXINIT cut short: binpac would throw
		s.violated = true
	}
}

// updateKex is ssh-protocol.pac's update_kex: the first KEXINIT's list is
// kept; the other side's KEXINIT picks the first client algorithm the server
// also lists, and its family selects both directions' key-exchange state.
func (s *sshConn) updateKex(d int, list []byte) {
	s.dir[d].kexBuf = nil
	if s.kexFirst == 0 {
		s.kexFirst = uint8(d) + 1
		s.kexCache = list
		return
	}
	client, server := s.kexCache, list
	if d == 0 {
		client, server = list, s.kexCache
	}
	s.kexDone = true
	s.kexCache = nil
	for c := range splitNameList(client) {
		for sv := range splitNameList(server) {
			if string(c) != string(sv) {
				continue
			}
			if st := sshKexState(c); st != sshKexInit {
				for i := range s.dir {
					if s.dir[i].state != sshEncrypted && s.dir[i].state != sshVersionExchange {
						s.dir[i].state = st
					}
				}
			}
			return
		}
	}
}

// flip swaps the roles.
func (s *sshConn) flip() {
	s.dir[0], s.dir[1] = s.dir[1], s.dir[0]
	s.version[0], s.version[1] = s.version[1], s.version[0]
	if s.kexFirst != 0 {
		s.kexFirst = 3 - s.kexFirst
	}
}

// splitNameList yields the comma-separated names of an SSH name-list.
func splitNameList(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			i := 0
			for i < len(b) && b[i] != ',' {
				i++
			}
			if !yield(b[:i]) {
				return
			}
			if i == len(b) {
				return
			}
			b = b[i+1:]
		}
	}
}

// sshKexState maps a negotiated key-exchange algorithm to the parser state
// (update_kex's table in Zeek HEAD); an unknown algorithm leaves the
// KEXINIT state.
func sshKexState(alg []byte) uint8 {
	a := string(alg)
	switch a {
	case "rsa1024-sha1", "rsa2048-sha256":
		return sshKexRSA
	case "diffie-hellman-group1-sha1", "diffie-hellman-group14-sha1", "diffie-hellman-group14-sha256",
		"diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512":
		return sshKexDH
	case "diffie-hellman-group-exchange-sha1", "diffie-hellman-group-exchange-sha256":
		return sshKexGEX
	case "ecmqv-sha2":
		return sshKexECC
	}
	if strings.HasPrefix(a, "gss-") {
		return sshKexGSS
	}
	for _, p := range [...]string{"ecdh-sha2-", "curve25519-sha256", "curve448-sha512", "sntrup761x25519-sha512", "mlkem"} {
		if strings.HasPrefix(a, p) {
			return sshKexECC
		}
	}
	return sshKexInit
}

// versionLine handles a complete version-exchange line of direction d
// (update_version).
func (s *sshConn) versionLine(d int) {
	sd := &s.dir[d]
	n := int(sd.lineLen)
	line := sd.line[:min(n, len(sd.line))]
	if d == 1 && !(n >= 4 && string(line[:4]) == "SSH-") {
		return // a server line before its version (pre-banner data)
	}
	sd.state = sshKexInit
	if n >= 5 {
		switch line[4] {
		case '2':
			s.version[d] = sshV2
		case '1':
			if n >= 8 && line[6] == '9' && line[7] == '9' {
				s.version[d] = sshV199
			} else {
				s.version[d] = sshV1
			}
		}
	}
	cl, sv := s.version[0], s.version[1]
	switch {
	case cl == sv:
		if sv == sshV199 {
			s.conn = sshV2
		} else {
			s.conn = sv
		}
	case cl == sshV1 && sv == sshV2, cl == sshV2 && sv == sshV1:
		s.conn = sshUnknown
	case cl == sshV199 && sv == sshV2, cl == sshV2 && sv == sshV199:
		s.conn = sshV2
	case cl == sshV1 && sv == sshV199, cl == sshV199 && sv == sshV1:
		s.conn = sshV1
	}
}

// sshSig is ^[sS][sS][hH]-[12]\. on at least 6 bytes.
func sshSig(b []byte) bool {
	return hasPrefixFold(b, "SSH-") && (b[4] == '1' || b[4] == '2') && b[5] == '.'
}
