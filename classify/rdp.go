package classify

// RDP recognition (Zeek's RDP analyzer, rdp-analyzer.pac).
//
// Confirmation: cleartext "standard RDP security" only — the client's MCS
// Connect-Initial carrying GCC client core data (CS_CORE, type 0xC001, with
// an RDP 4/5+ version 0x0008xxxx), or the server's MCS Connect-Response
// carrying server core data (SC_CORE, 0x0C01). When the X.224 Connection
// Confirm selects TLS, CredSSP or RDSTLS, RDP.cc hands the stream to an SSL
// child: then only "ssl" is confirmed, by the ClientHello that follows the
// Connection Request. Never on partial connections or after a gap.
//
// Attachment: port 3389, or elsewhere Zeek's signature pair: the client's
// stream contains "Cookie: mstshash=" (or "Duca" and a channel name) and
// the server's begins with an X.224
// Connection Confirm (byte 5 = 0xd0) or contains "McDn", both within the
// DPD window.
// Bound: the first two TPKTs of each direction within prefixCap.

// tpkt splits one TPKT (03 00 LL LL) off b: its payload and total length.
func tpkt(b []byte) (payload []byte, total int, r tri) {
	if len(b) < 4 {
		if len(b) >= 1 && b[0] != 0x03 {
			return nil, 0, no
		}
		return nil, 0, more
	}
	if b[0] != 0x03 || b[1] != 0x00 {
		return nil, 0, no
	}
	n := be16(b[2:4])
	if n < 7 {
		return nil, 0, no
	}
	if len(b) < n {
		return nil, 0, more
	}
	return b[4:n], n, yes
}

// rdpSelectedProtocol parses the server's X.224 Connection Confirm and
// returns the negotiated protocol (0 = standard RDP security when no
// RDP_NEG_RSP is present).
func rdpSelectedProtocol(p []byte) (proto uint32, ok bool) {
	if len(p) < 2 || p[1]&0xf0 != 0xd0 {
		return 0, false
	}
	li := int(p[0])
	if li+1 > len(p) {
		return 0, false
	}
	if len(p) < 7 {
		return 0, true
	}
	neg := p[7:]
	if li+1 >= 7+8 && len(neg) >= 8 && neg[0] == 0x02 {
		return uint32(neg[4]) | uint32(neg[5])<<8 | uint32(neg[6])<<16 | uint32(neg[7])<<24, true
	}
	return 0, true
}

// rdpClientCore reports whether an X.224 data TPDU carries an MCS
// Connect-Initial with GCC client core data.
func rdpClientCore(p []byte) bool {
	// X.224 data: 02 f0 80, then MCS Connect-Initial (BER application 101: 7f 65).
	if len(p) < 5 || p[0] != 0x02 || p[1] != 0xf0 || p[3] != 0x7f || p[4] != 0x65 {
		return false
	}
	for i := 5; i+8 <= len(p); i++ {
		if p[i] == 0x01 && p[i+1] == 0xc0 && p[i+7] == 0x00 && p[i+6] == 0x08 && p[i+5] == 0x00 {
			l := int(p[i+2]) | int(p[i+3])<<8
			if l >= 8 {
				return true
			}
		}
	}
	return false
}

// rdpServerCore reports whether an X.224 data TPDU carries an MCS
// Connect-Response ("McDn" GCC) with server core data.
func rdpServerCore(p []byte) bool {
	if len(p) < 5 || p[0] != 0x02 || p[1] != 0xf0 || p[3] != 0x7f || p[4] != 0x66 {
		return false
	}
	i := indexOf(p, "McDn")
	if i < 0 {
		return false
	}
	for j := i + 4; j+4 <= len(p); j++ {
		if p[j] == 0x01 && p[j+1] == 0x0c && int(p[j+2])|int(p[j+3])<<8 >= 8 {
			return true
		}
	}
	return false
}

// rdpDuca matches "Duca.*(rdpdr|rdpsnd|drdynvc|cliprdr)".
func rdpDuca(b []byte) bool {
	i := indexOf(b, "Duca")
	if i < 0 {
		return false
	}
	rest := b[i+4:]
	return indexOf(rest, "rdpdr") >= 0 || indexOf(rest, "rdpsnd") >= 0 || indexOf(rest, "drdynvc") >= 0 || indexOf(rest, "cliprdr") >= 0
}

// rdp is the RDP recognizer.
func (c *Classifier) rdp(st *State, in *input) verdict {
	if _, _, t := tpkt(in.pre[0]); t == no {
		return done // the confirming evidence can no longer appear
	}
	if !in.port {
		cs := indexOf(in.sig[0], "Cookie: mstshash=") >= 0 || rdpDuca(in.sig[0])
		ss := (len(in.sig[1]) > 5 && in.sig[1][5] == 0xd0) || indexOf(in.sig[1], "McDn") >= 0
		if !cs || !ss {
			if sigCanGrow(in, 0) || sigCanGrow(in, 1) {
				return undecided
			}
			return done
		}
	}
	o, r := in.pre[0], in.pre[1]
	cr, crLen, t := tpkt(o)
	if t == more {
		return in.needMore(0)
	}
	if t == no || len(cr) < 2 || cr[1]&0xf0 != 0xe0 {
		return done
	}
	cc, ccLen, t := tpkt(r)
	if t == more {
		return in.needMore(1)
	}
	if t == no {
		return done
	}
	proto, ok := rdpSelectedProtocol(cc)
	if !ok {
		return done
	}
	if proto != 0 {
		// TLS / CredSSP / RDSTLS: the SSL child sees the rest.
		if !c.tlsChild(st, o[crLen:], in.more[0]) {
			return undecided
		}
		return done
	}
	ci, _, t := tpkt(o[crLen:])
	if t == yes && rdpClientCore(ci) {
		c.confirm(st, svcRDP)
		return done
	}
	sr, _, t2 := tpkt(r[ccLen:])
	if t2 == yes && rdpServerCore(sr) {
		c.confirm(st, svcRDP)
		return done
	}
	if (t == more && in.more[0]) || (t2 == more && in.more[1]) {
		return undecided
	}
	return done
}
