package classify

import "bytes"

// SOCKS recognition (Zeek's SOCKS analyzer: SOCKS.cc, socks-protocol.pac,
// socks-analyzer.pac).
//
// SOCKS.cc analyzes nothing on partial connections. Each delivery is one
// message (binpac datagram), starting with the version byte unless the
// SOCKSv5 authentication sub-negotiation runs:
//   - version 4: the originator's request (command, port, address, user
//     name up to NUL, and for SOCKS4a a host name up to NUL); the
//     responder's reply is parsed after the version byte too (a zero byte,
//     status, port, address), so a standard reply, which starts with 0, is
//     an unknown version: a violation;
//   - version 5: the originator's method offer (count, methods) and the
//     responder's choice (a method other than 0 and 0xff starts the
//     sub-negotiation: user/password (method 2) version 1 request and
//     reply); then the request (command 1–3, reserved 0, an address of
//     type 1, 3 or 4, port) and the reply (an address of type 1, 3 or 4);
//   - any other version is a violation.
// Confirmation: a SOCKSv4 reply or a SOCKSv5 reply with a valid address.
// Violations: an unknown version, a SOCKSv5 request with a non-zero
// reserved byte, a command outside 1–3 or an unknown address type, a reply
// with an unknown address type.
//
// Once both sides sent their request and reply, the rest of the stream goes
// to a fresh PIA: the signature-enabled recognizers run on it (innerDPD), so
// the tunnelled protocol's name is added ("socks,http").
//
// netbased reads the messages one after the other in each direction's
// prefix (each SOCKS message normally is one segment; Zeek drops what a
// delivery holds after its message).
//
// Attachment: 1080/tcp, or elsewhere the signature pairs dpd_socks4_client
// and dpd_socks4_server (also reversed) or dpd_socks5_client and
// dpd_socks5_server at the streams' starts.
// Bound: the messages within the prefix.

// socks4ClientSig is /^\x04[\x01\x02].{0,32}\x00/.
func socks4ClientSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != 4 {
		return no
	}
	if len(b) < 2 {
		return more
	}
	if b[1] != 1 && b[1] != 2 {
		return no
	}
	for i := 2; i < len(b) && i <= 2+32; i++ {
		if b[i] == 0 {
			return yes
		}
		if b[i] == '\n' {
			return no
		}
	}
	if len(b) > 2+32 {
		return no
	}
	return more
}

// socks4ServerSig is /^\x00[\x5a\x5b\x5c\x5d]/.
func socks4ServerSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != 0 {
		return no
	}
	if len(b) < 2 {
		return more
	}
	if b[1] >= 0x5a && b[1] <= 0x5d {
		return yes
	}
	return no
}

// socks5ClientSig is /^\x05.[\x00\x01\x02]/.
func socks5ClientSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != 5 {
		return no
	}
	if len(b) < 3 {
		if len(b) == 2 && b[1] == '\n' {
			return no
		}
		return more
	}
	if b[1] != '\n' && b[2] <= 2 {
		return yes
	}
	return no
}

// socks5ServerSig is /^\x05(\x00|\x01[\x00\x01\x02])/.
func socks5ServerSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != 5 {
		return no
	}
	if len(b) < 2 {
		return more
	}
	switch b[1] {
	case 0:
		return yes
	case 1:
		if len(b) < 3 {
			return more
		}
		if b[2] <= 2 {
			return yes
		}
	}
	return no
}

// socksSig evaluates the three signature pairs.
func socksSig(in *input) tri {
	pair := func(client, server func([]byte) tri, cd, sd int) tri {
		cs, ss := client(in.sig[cd]), server(in.sig[sd])
		switch {
		case cs == yes && ss == yes:
			return yes
		case cs == no || ss == no:
			return no
		case cs == more && !sigCanGrow(in, cd) || ss == more && !sigCanGrow(in, sd):
			return no
		}
		return more
	}
	r := no
	for _, t := range [...]tri{
		pair(socks4ClientSig, socks4ServerSig, 0, 1),
		pair(socks4ClientSig, socks4ServerSig, 1, 0),
		pair(socks5ClientSig, socks5ServerSig, 0, 1),
	} {
		if t == yes {
			return yes
		}
		if t == more {
			r = more
		}
	}
	return r
}

// socksAddr returns the length of a SOCKSv5 address at b's start; ok is
// false for an unknown type, r is more when b is too short.
func socksAddr(b []byte) (n int, r tri) {
	if len(b) < 1 {
		return 0, more
	}
	switch b[0] {
	case 1:
		n = 5
	case 3:
		if len(b) < 2 {
			return 0, more
		}
		n = 2 + int(b[1])
	case 4:
		n = 17
	default:
		return 0, no
	}
	if len(b) < n {
		return 0, more
	}
	return n, yes
}

// socks is the SOCKS recognizer.
func (c *Classifier) socks(st *State, in *input) verdict {
	if !in.port {
		switch socksSig(in) {
		case no:
			return done
		case more:
			return undecided
		}
	}
	o, r := in.pre[0], in.pre[1]
	// waitO / waitR: the message is incomplete; wait when that side can
	// still grow, else stop without a verdict.
	waitO := func() verdict { return in.needMore(0) }
	waitR := func() verdict { return in.needMore(1) }
	violate := func() verdict {
		st.violate(svcSOCKS)
		return done
	}
	if len(o) == 0 {
		return waitO()
	}
	switch o[0] {
	case 4:
		// command, port, address, user up to NUL, [host up to NUL].
		if len(o) < 8 {
			return waitO()
		}
		end := bytes.IndexByte(o[8:], 0)
		if end < 0 {
			return waitO()
		}
		n := 8 + end + 1
		if be32(o[4:8]) <= 0xff {
			h := bytes.IndexByte(o[n:], 0)
			if h < 0 {
				return waitO()
			}
			n += h + 1
		}
		o = o[n:]
		if len(r) == 0 {
			return waitR()
		}
		if r[0] != 4 {
			return violate() // a reply's version byte is read as the version
		}
		if len(r) < 9 {
			return waitR()
		}
		c.confirm(st, svcSOCKS)
		return c.innerDPD(st, o, r[9:], in.more, true)
	case 5:
	default:
		return violate()
	}
	// SOCKSv5 method negotiation.
	if len(o) < 2 || len(o) < 2+int(o[1]) {
		return waitO()
	}
	o = o[2+int(o[1]):]
	if len(r) < 2 {
		return waitR()
	}
	if r[0] != 5 {
		return violate()
	}
	method := r[1]
	r = r[2:]
	if method != 0 && method != 0xff {
		if method != 2 {
			return done // another sub-negotiation: message boundaries unknown here
		}
		if len(o) < 1 {
			return waitO()
		}
		if o[0] == 1 {
			if len(o) < 2 || len(o) < 3+int(o[1]) || len(o) < 3+int(o[1])+int(o[2+int(o[1])]) {
				return waitO()
			}
			o = o[3+int(o[1])+int(o[2+int(o[1])]):]
		} else {
			return done // an unsupported version is taken whole
		}
		if len(r) < 1 {
			return waitR()
		}
		if r[0] != 1 {
			return done
		}
		if len(r) < 2 {
			return waitR()
		}
		r = r[2:]
	}
	// The request.
	if len(o) < 1 {
		return waitO()
	}
	if o[0] != 5 {
		return violate()
	}
	if len(o) < 4 {
		return waitO()
	}
	if o[2] != 0 || o[1] == 0 || o[1] > 3 {
		return violate()
	}
	an, t := socksAddr(o[3:])
	switch {
	case t == no:
		return violate()
	case t == more || len(o) < 3+an+2:
		return waitO()
	}
	o = o[3+an+2:]
	// The reply.
	if len(r) < 1 {
		return waitR()
	}
	if r[0] != 5 {
		return violate()
	}
	if len(r) < 4 {
		return waitR()
	}
	an, t = socksAddr(r[3:])
	switch {
	case t == no:
		return violate()
	case t == more || len(r) < 3+an+2:
		return waitR()
	}
	c.confirm(st, svcSOCKS)
	return c.innerDPD(st, o, r[3+an+2:], in.more, true)
}
