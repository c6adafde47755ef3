package classify

// SNMP and RADIUS recognition: datagram analyzers attached by port only.
//
// SNMP (Zeek's SNMP analyzer, snmp-protocol.pac / snmp-analyzer.pac;
// RFC 3416, RFC 3412). Each datagram is a BER message: SEQUENCE { version
// INTEGER, then a v1/v2c community OCTET STRING or a v3 header SEQUENCE }.
// check_tag throws when a tag is not the expected one. Confirmation:
// proc_header, once a responder datagram's header (version and community
// or v3 header) parsed; an unknown version still confirms. Violation: a
// datagram of either side whose tags or lengths do not parse.
// Attachment: 161/udp and 162/udp (no DPD signature).
//
// RADIUS (Zeek's RADIUS analyzer, radius-protocol.pac / radius-analyzer.pac;
// RFC 2865). Confirmation: proc_radius_message, any datagram of either side
// that parses: code, identifier, a length between 20 and the datagram's
// size, the 16-byte authenticator, and attributes (type, length ≥ 2) that
// fill the message. Violation: a datagram that does not parse.
// Attachment: 1812/udp. Its dpd.sig has no payload condition and does not
// enable the analyzer elsewhere in a plain `zeek -r`.

// berHeader reads a BER tag and length at b[off:]; it returns the tag, the
// content offset and length.
func berHeader(b []byte, off int) (tag byte, content, n int, ok bool) {
	if off+2 > len(b) {
		return 0, 0, 0, false
	}
	tag = b[off]
	l := int(b[off+1])
	off += 2
	if l&0x80 != 0 {
		k := l & 0x7f
		if k == 0 || k > 4 || off+k > len(b) {
			return 0, 0, 0, false
		}
		l = 0
		for i := 0; i < k; i++ {
			l = l<<8 | int(b[off+i])
		}
		off += k
	}
	if l < 0 || off+l > len(b) {
		return 0, 0, 0, false
	}
	return tag, off, l, true
}

// snmpHeader reports whether b starts with an SNMP message header.
func snmpHeader(b []byte) bool {
	tag, off, _, ok := berHeader(b, 0)
	if !ok || tag != 0x30 {
		return false
	}
	tag, voff, vlen, ok := berHeader(b, off)
	if !ok || tag != 0x02 || vlen < 1 || vlen > 4 {
		return false
	}
	version := 0
	for _, c := range b[voff : voff+vlen] {
		version = version<<8 | int(c)
	}
	next := voff + vlen
	switch version {
	case 0, 1: // v1, v2c: community
		tag, _, _, ok = berHeader(b, next)
		return ok && tag == 0x04
	case 3: // v3: msgGlobalData
		tag, _, _, ok = berHeader(b, next)
		return ok && tag == 0x30
	}
	return true // an unknown version parses as such
}

// snmp handles one datagram.
func (c *Classifier) snmp(st *State, fromOrig bool, b []byte) {
	if !snmpHeader(b) {
		st.violate(svcSNMP)
		st.pending &^= 1 << recSNMP
		return
	}
	if !fromOrig {
		c.confirm(st, svcSNMP)
	}
}

// radiusMessage reports whether b parses as a RADIUS message.
func radiusMessage(b []byte) bool {
	if len(b) < 20 {
		return false
	}
	n := be16(b[2:4])
	if n < 20 || n > len(b) {
		return false
	}
	for off := 20; off < n; {
		if off+2 > n || b[off+1] < 2 || off+int(b[off+1]) > n {
			return false
		}
		off += int(b[off+1])
	}
	return true
}

// radius handles one datagram.
func (c *Classifier) radius(st *State, b []byte) {
	if !radiusMessage(b) {
		st.violate(svcRADIUS)
		st.pending &^= 1 << recRADIUS
		return
	}
	c.confirm(st, svcRADIUS)
}
