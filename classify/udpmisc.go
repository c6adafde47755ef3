package classify

// SNMP and RADIUS recognition: datagram analyzers attached by port only.
//
// SNMP (Zeek's binpac SNMP analyzer: SNMP.cc, snmp-protocol.pac,
// snmp-analyzer.pac, asn1.pac; RFC 3416, RFC 3412). Each datagram is one
// TopLevelMessage, parsed as binpac does: every element is read where the
// previous one ends, never within its SEQUENCE's length. The outer
// SEQUENCE contributes only its header (ASN1SequenceMeta: tag, length
// byte, and as many more length bytes as the length byte's low 7 bits say;
// 0x80 means length 0); its content need not be in the datagram. Then the
// version INTEGER, whose content must be in the datagram (check_int: tag
// 0x02, at most 9 content bytes, empty = 0), and the Header its value
// selects: v1 (0) and v2c (1) a community OCTET STRING; v3 (3) the
// v3Header (msgGlobalData SEQUENCE header, msgID, msgMaxSize, msgFlags
// OCTET STRING, msgSecurityModel, then the security-parameters OCTET
// STRING, the next element's header and, when that is a SEQUENCE, the
// scoped PDU's contextEngineID and contextName OCTET STRINGs); any other
// version takes the rest of the datagram. A wrong tag (check_tag), an
// over-wide integer, or an element running past the datagram throws: a
// violation (SNMP.cc DeliverPacket). proc_v3_header_data raises a
// violation without throwing when msgFlags is not exactly one byte, and
// the parse goes on. Confirmation: proc_header, once a responder
// datagram's whole Header parsed (an unknown version too).
// Attachment: 161/udp and 162/udp (no DPD signature).
//
// This follows the binpac analyzer that snmp/CMakeLists.txt builds
// (Zeek_add_plugin with snmp.pac, snmp-protocol.pac, snmp-analyzer.pac,
// asn1.pac). The Spicy SNMP grammar (snmp.spicy, built only with
// USE_SPICY_ANALYZERS) is, in every version of the tree seen, a stub that
// reads the first ASN.1 header; it is not modelled.
//
// RADIUS (Zeek's RADIUS analyzer, radius-protocol.pac / radius-analyzer.pac;
// RFC 2865). Confirmation: proc_radius_message, any datagram of either side
// that parses: code, identifier, a length between 20 and the datagram's
// size, the 16-byte authenticator, and attributes (type, length ≥ 2) that
// fill the message. Violation: a datagram that does not parse.
// Attachment: 1812/udp. Its dpd.sig has no payload condition and does not
// enable the analyzer elsewhere in a plain `zeek -r`.

// snmpSequenceMeta reads an ASN1SequenceMeta at b's start (the header
// only, tag SEQUENCE) and returns its size.
func snmpSequenceMeta(b []byte) (int, bool) {
	tag, _, _, n, ok := asn1Meta(b)
	return n, ok && tag == 0x30
}

// snmpElement reads an ASN1Encoding with the given tag (ASN1OctetString,
// or ASN1Integer whose content check_int_width allows up to 9 bytes) at b's
// start, and returns its content and size.
func snmpElement(b []byte, tag byte) (content []byte, n int, ok bool) {
	content, n, ok = asn1Encoding(b)
	if !ok || b[0] != tag || tag == 0x02 && len(content) > 9 {
		return nil, 0, false
	}
	return content, n, true
}

// snmpHeader parses a datagram's TopLevelMessage up to the end of its
// Header. ok is false where binpac throws; badFlags reports
// proc_v3_header_data's violation (a v3 msgFlags that is not one byte),
// which does not stop the parse.
func snmpHeader(b []byte) (ok, badFlags bool) {
	n, ok := snmpSequenceMeta(b)
	if !ok {
		return false, false
	}
	version, m, ok := snmpElement(b[n:], 0x02)
	if !ok {
		return false, false
	}
	p := b[n+m:]
	switch binaryToInt64(version) {
	case 0, 1: // v1Header, v2Header: the community
		_, _, ok = snmpElement(p, 0x04)
		return ok, false
	case 3:
		return snmpV3Header(p)
	}
	return true, false // UnknownVersionHeader: &restofdata
}

// snmpV3Header parses a v3Header at p's start.
func snmpV3Header(p []byte) (ok, badFlags bool) {
	n, ok := snmpSequenceMeta(p) // v3HeaderData
	if !ok {
		return false, false
	}
	p = p[n:]
	var flags []byte
	for _, tag := range [...]byte{0x02, 0x02, 0x04, 0x02} { // id, max_size, flags, security_model
		content, n, ok := snmpElement(p, tag)
		if !ok {
			return false, false
		}
		if tag == 0x04 {
			flags = content
		}
		p = p[n:]
	}
	badFlags = len(flags) != 1
	_, n, ok = snmpElement(p, 0x04) // security_parameters
	if !ok {
		return false, badFlags
	}
	p = p[n:]
	tag, _, _, n, ok := asn1Meta(p) // next
	if !ok {
		return false, badFlags
	}
	p = p[n:]
	if tag == 0x30 { // v3ScopedPDU: context_engine_id, context_name
		for i := 0; i < 2; i++ {
			_, n, ok := snmpElement(p, 0x04)
			if !ok {
				return false, badFlags
			}
			p = p[n:]
		}
	}
	return true, badFlags // encrypted or unknown scoped PDU: &restofdata
}

// snmp handles one datagram.
func (c *Classifier) snmp(st *State, fromOrig bool, b []byte) {
	ok, badFlags := snmpHeader(b)
	if ok && !fromOrig {
		// proc_header. A msgFlags violation was raised first in the same
		// datagram, but dpd.zeek removes the service in analyzer_failed,
		// an event queued behind this confirmation: the service is added,
		// then removed (or kept with "-snmp" when removed services are
		// tracked).
		c.confirm(st, svcSNMP)
	}
	if !ok || badFlags {
		st.violate(svcSNMP)
		st.pending &^= 1 << recSNMP
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
