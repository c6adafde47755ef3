package classify

// NTP recognition (Zeek's NTP analyzer on 123/udp; no signature).
//
// Confirmation: a datagram parses as NTP — version 1–4 and a mode 1–5 with
// the 48-byte standard header, mode 6 (control, ≥ 12 bytes) or mode 7
// (private, ≥ 8 bytes). Flip (ntp-analyzer.pac): a server-mode (4) message
// from the originator or a client-mode (3) message from the responder flips
// the roles, once. Bound: maxChunks datagrams per direction.

func ntpMode(b []byte) (mode int, ok bool) {
	if len(b) < 8 {
		return 0, false
	}
	v := int(b[0]>>3) & 7
	mode = int(b[0] & 7)
	if v < 1 || v > 4 {
		return 0, false
	}
	switch {
	case mode >= 1 && mode <= 5:
		return mode, len(b) >= 48
	case mode == 6:
		return mode, len(b) >= 12
	case mode == 7:
		return mode, true
	}
	return 0, false
}

// ntp handles one datagram; ok reports that it parsed.
func (c *Classifier) ntp(st *State, fromOrig bool, data []byte) (Action, bool) {
	mode, ok := ntpMode(data)
	if !ok {
		return None, false
	}
	c.confirm(st, svcNTP)
	if st.flags&flagNTPFlipped == 0 && ((mode == 4 && fromOrig) || (mode == 3 && !fromOrig)) {
		st.flags |= flagNTPFlipped
		st.pending &^= 1 << recNTP
		return Flip, true
	}
	return None, true
}
