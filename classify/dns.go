package classify

// DNS recognition (Zeek's DNS analyzer; no DPD signature, port only: 53/udp,
// 53/tcp, 137/udp, 5353/udp, 5355/udp).
//
// Confirmation: one message whose header, question section and answer
// section parse, with opcode QUERY, NOTIFY or UPDATE (any opcode on the
// NetBIOS port 137) and at most 25 questions (dns_max_queries). On TCP each
// message has a 2-byte length prefix; the first message of either direction
// is examined (bound: the first complete message, at most prefixCap bytes).
// On UDP every datagram is tried until one parses (bound: maxChunks per
// direction). A message with more than 25 questions is an analyzer
// violation: DNS is then disabled, or deleted if already confirmed (within
// violationWindow bytes), so confirmed UDP DNS keeps watching headers.
//
// Flip: when the analyzer's first message (at least a 12-byte header, even
// if the rest does not parse) comes from the originator and is a response,
// the roles flip unless the responder is multicast (SetMulticastResponder). Only UDP returns Flip; TCP DNS
// answered first is left as is (the TCP handshake already fixed the roles).

const (
	dnsOpQuery  = 0
	dnsOpNotify = 4
	dnsOpUpdate = 5
	// dnsMaxQueries is Zeek's dns_max_queries.
	dnsMaxQueries = 25
	// dnsMaxPointers bounds compression-pointer jumps within one name.
	dnsMaxPointers = 32
)

// dnsMessage parses a DNS message; it returns whether it parses and whether
// it is a response (QR set).
func dnsMessage(b []byte, netbios bool) (ok, response bool) {
	if len(b) < 12 {
		return false, false
	}
	flags := be16(b[2:4])
	opcode := (flags >> 11) & 0xf
	if !netbios && opcode != dnsOpQuery && opcode != dnsOpNotify && opcode != dnsOpUpdate {
		return false, false
	}
	qd, an := be16(b[4:6]), be16(b[6:8])
	if qd > dnsMaxQueries {
		return false, false
	}
	off := 12
	for i := 0; i < qd; i++ {
		n, ok := dnsName(b, off)
		if !ok || n+4 > len(b) {
			return false, false
		}
		off = n + 4
	}
	for i := 0; i < an; i++ {
		n, ok := dnsName(b, off)
		if !ok || n+10 > len(b) {
			return false, false
		}
		rdlen := be16(b[n+8 : n+10])
		if rdlen == 0 && n+10 < len(b) {
			return false, false // DNS.cc: "DNS_zero_rdlength" fails the answer
		}
		off = n + 10 + rdlen
		if off > len(b) {
			return false, false
		}
	}
	return true, flags&0x8000 != 0
}

// dnsName skips the (possibly compressed) name at off and returns the
// offset after it in the message.
func dnsName(b []byte, off int) (int, bool) {
	end := -1
	jumps := 0
	for steps := 0; steps < 256; steps++ {
		if off >= len(b) {
			return 0, false
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return end, true
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return 0, false
			}
			if end < 0 {
				end = off + 2
			}
			jumps++
			if jumps > dnsMaxPointers {
				return 0, false
			}
			off = (l&0x3f)<<8 | int(b[off+1])
		case l&0xc0 != 0:
			return 0, false
		default:
			off += 1 + l
		}
	}
	return 0, false
}

// dnsUDP handles one DNS datagram; finished reports that DNS needs no more
// datagrams.
func (c *Classifier) dnsUDP(st *State, fromOrig bool, data []byte) (act Action, finished bool) {
	// DNS.cc decides the flip right after the 12-byte header of the
	// analyzer's first message, before the sections are parsed.
	if st.flags&flagDNSSeen == 0 && len(data) >= 12 {
		st.flags |= flagDNSSeen
		if fromOrig && data[2]&0x80 != 0 && st.flags&flagMulticastResp == 0 {
			act = Flip
		}
	}
	if len(data) >= 12 && be16(data[4:6]) > dnsMaxQueries {
		// "DNS_Conn_count_too_large" is an analyzer violation: DNS is
		// disabled (and deleted if it was confirmed).
		st.violate(svcDNS)
		if st.disabled(svcDNS) {
			return act, true
		}
	}
	if st.has(svcDNS) {
		// Confirmed: only watch for that violation, within the window.
		return act, st.seen[0]+st.seen[1] > violationWindow
	}
	if ok, _ := dnsMessage(data, st.flags&flagNBNS != 0); !ok {
		return act, false
	}
	c.confirm(st, svcDNS)
	// Keep watching for a violation within the window.
	return act, !st.has(svcDNS) || st.seen[0]+st.seen[1] > violationWindow
}

// dnsTCP checks the first length-prefixed message of either direction.
func (c *Classifier) dnsTCP(st *State, in *input) verdict {
	waiting := false
	for d := 0; d < 2; d++ {
		b := in.pre[d]
		if len(b) < 2 {
			waiting = waiting || in.more[d]
			continue
		}
		n := be16(b)
		if len(b) < 2+n {
			waiting = waiting || in.more[d]
			continue
		}
		if ok, _ := dnsMessage(b[2:2+n], false); ok {
			c.confirm(st, svcDNS)
			return done
		}
	}
	if waiting {
		return undecided
	}
	return done
}
