package classify

// Kerberos recognition (Zeek's KRB analyzer on 88/udp, or on any UDP port
// through the dpd_krb_udp signature; KRB_TCP on 88/tcp).
//
// Confirmation: a Kerberos message header parses — an APPLICATION tag of
// AS-REQ (10), AS-REP (11), TGS-REQ (12), TGS-REP (13), AP-REQ (14), AP-REP
// (15) or KRB-ERROR (30), a SEQUENCE, and the protocol version 5 (pvno)
// with the matching msg-type. On TCP the message follows a 4-byte record
// mark. Bound: the first message of each direction (UDP: each datagram
// until one parses).

func krbMessage(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	app := b[0]
	var want int
	switch app {
	case 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f:
		want = int(app - 0x60)
	case 0x7e:
		want = 30
	default:
		return false
	}
	_, body, _, ok, _ := berTLV(b)
	if !ok {
		return false
	}
	t, seq, _, ok, _ := berTLV(body)
	if !ok || t != 0x30 {
		return false
	}
	// KDC-REQ starts with [1] pvno, [2] msg-type; the others with [0] pvno,
	// [1] msg-type.
	pvno, mt := -1, -1
	for i := 0; i < 3 && len(seq) > 0; i++ {
		t, f, n, ok, complete := berTLV(seq)
		if !ok || !complete {
			return false
		}
		t2, v, _, ok, complete := berTLV(f)
		if !ok || !complete || t2 != 0x02 || len(v) != 1 {
			return false
		}
		switch {
		case pvno < 0 && (t == 0xa0 || t == 0xa1):
			pvno = int(v[0])
		case pvno >= 0:
			mt = int(v[0])
		}
		if mt >= 0 {
			break
		}
		seq = seq[n:]
	}
	return pvno == 5 && mt == want
}

// krbUDPSig is dpd_krb_udp, \x6c...\x30...\xa1\x03\x02\x05, which enables
// KRB on any UDP port. Taken literally, as Zeek does: a DER TGS-REQ has
// a1 03 02 01 05 there, so real traffic rarely matches.
func krbUDPSig(b []byte) bool {
	return len(b) >= 14 && b[0] == 0x6c && b[4] == 0x30 && b[8] == 0xa1 && b[9] == 0x03 && b[10] == 0x02 && b[11] == 0x05
}

// krbTCP checks the first record-marked message of either direction.
func (c *Classifier) krbTCP(st *State, in *input) verdict {
	waiting := false
	for d := 0; d < 2; d++ {
		b := in.pre[d]
		if len(b) < 4+16 {
			waiting = waiting || in.more[d]
			continue
		}
		if krbMessage(b[4:]) {
			c.confirm(st, svcKRBTCP)
			return done
		}
	}
	if waiting {
		return undecided
	}
	return done
}
