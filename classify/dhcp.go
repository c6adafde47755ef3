package classify

// DHCP recognition (Zeek's DHCP analyzer on 67/udp and 68/udp, and on any
// UDP port through the dhcp_cookie signature ^.*\x63\x82\x53\x63 within the
// DPD window).
//
// Confirmation: a BOOTP message (op 1 or 2, hardware address length ≤ 16)
// of at least 240 bytes with the DHCP magic cookie 63 82 53 63 at offset
// 236. Bound: each datagram until one parses.

func (c *Classifier) dhcp(b []byte) bool {
	if len(b) < 240 || (b[0] != 1 && b[0] != 2) || b[2] > 16 {
		return false
	}
	return b[236] == 0x63 && b[237] == 0x82 && b[238] == 0x53 && b[239] == 0x63
}
