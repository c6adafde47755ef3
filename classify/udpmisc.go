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

// snmpHeader reports whether b starts with an SNMP message header. Each
// element is read where the previous one ends (not within the SEQUENCE's
// length), and must be whole within the datagram.
func snmpHeader(b []byte) bool {
	tag, msg, total, ok, complete := berTLV(b)
	if !ok || !complete || tag != 0x30 {
		return false
	}
	p := b[total-len(msg):] // the SEQUENCE's content start
	tag, v, n, ok, complete := berTLV(p)
	if !ok || !complete || tag != 0x02 || len(v) < 1 || len(v) > 4 {
		return false
	}
	version := 0
	for _, c := range v {
		version = version<<8 | int(c)
	}
	switch version {
	case 0, 1: // v1, v2c: community
		tag, _, _, ok, complete = berTLV(p[n:])
		return ok && complete && tag == 0x04
	case 3: // v3: msgGlobalData
		tag, _, _, ok, complete = berTLV(p[n:])
		return ok && complete && tag == 0x30
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
