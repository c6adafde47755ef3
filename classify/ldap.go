package classify

// LDAP recognition (Zeek's Spicy LDAP analyzer, LDAP_TCP) and its SASL
// children (GSSAPI, KRB, NTLM).
//
// Confirmation: the first LDAPMessage of either direction parses — a BER
// SEQUENCE holding an INTEGER messageID and a protocolOp with a known
// APPLICATION tag (0–25). Spicy confirms at the end of the message, so a
// child found inside that message confirms first ("ntlm,ldap_tcp"); later
// messages add children after it ("ldap_tcp,krb,gssapi").
//
// Children: a SASL bindRequest's credentials go to the GSSAPI analyzer: a
// raw "NTLMSSP" token confirms ntlm; a Kerberos GSS token (OID
// 1.2.840.113554.1.2.2 or Microsoft's 1.2.840.48018.1.2.2, then an AP-REQ)
// confirms krb then gssapi; SPNEGO (1.3.6.1.5.5.2) with a mechToken
// confirms the inner mechanism then gssapi. An extendedRequest StartTLS
// (1.3.6.1.4.1.1466.20037) makes the SSL child examine the originator's
// bytes after it ("ldap_tcp,ssl").
//
// Attachment: ports 389 and 3268, or elsewhere Zeek's signature pair
// dpd_ldap_client_tcp (a request header) and dpd_ldap_server_tcp (^\x30)
// within the DPD window.
// Bound: messages within prefixCap of the originator (at most 16); a first
// message longer than prefixCap confirms on its header.

const ldapStartTLSOID = "1.3.6.1.4.1.1466.20037"

// ldapMessage parses one LDAPMessage at the start of b. It returns the
// protocolOp tag and content and the message length; r is more if b is too
// short, no if it is not an LDAPMessage.
func ldapMessage(b []byte) (op byte, opContent []byte, total int, r tri) {
	if len(b) == 0 {
		return 0, nil, 0, more
	}
	if b[0] != 0x30 {
		return 0, nil, 0, no
	}
	tag, content, total, ok, complete := berTLV(b)
	if !ok || tag != 0x30 {
		return 0, nil, 0, no
	}
	// messageID
	t, id, n, ok, c2 := berTLV(content)
	if !ok || (c2 && (t != 0x02 || len(id) == 0 || len(id) > 4)) {
		return 0, nil, 0, no
	}
	if !c2 {
		if complete {
			return 0, nil, 0, no
		}
		return 0, nil, 0, more
	}
	rest := content[n:]
	if len(rest) == 0 {
		if complete {
			return 0, nil, 0, no
		}
		return 0, nil, 0, more
	}
	op = rest[0]
	if op&0xc0 != 0x40 || op&0x1f > 25 {
		return 0, nil, 0, no
	}
	switch op & 0x1f {
	case 17, 18, 20, 21, 22:
		return 0, nil, 0, no
	}
	_, opc, _, ok, c3 := berTLV(rest)
	if !ok {
		return 0, nil, 0, no
	}
	if !complete {
		if total > prefixCap {
			// Longer than the prefix: confirm on the header.
			return op, opc, total, yes
		}
		return 0, nil, 0, more
	}
	if !c3 {
		return 0, nil, 0, no
	}
	return op, opc, total, yes
}

// ldapWalk walks the originator's messages, confirming children of SASL
// binds and the StartTLS upgrade; ldap_tcp itself is confirmed after the
// first message. It returns the offset after a StartTLS request, or -1.
func (c *Classifier) ldapWalk(st *State, b []byte) (startTLS int) {
	off := 0
	for n := 0; n < 16 && off < len(b); n++ {
		op, opc, total, r := ldapMessage(b[off:])
		if r != yes || total > len(b)-off {
			return -1
		}
		switch op {
		case 0x60: // bindRequest
			c.ldapBind(st, opc)
		case 0x77: // extendedRequest
			if t, name, _, ok, complete := berTLV(opc); ok && complete && t == 0x80 && string(name) == ldapStartTLSOID {
				c.confirm(st, svcLDAP)
				return off + total
			}
		}
		c.confirm(st, svcLDAP)
		off += total
	}
	return -1
}

// ldapBind looks at a bindRequest's SASL credentials.
func (c *Classifier) ldapBind(st *State, b []byte) {
	// version INTEGER, name OCTET STRING, authentication CHOICE
	_, _, n, ok, complete := berTLV(b)
	if !ok || !complete {
		return
	}
	b = b[n:]
	_, _, n, ok, complete = berTLV(b)
	if !ok || !complete {
		return
	}
	b = b[n:]
	t, sasl, _, ok, complete := berTLV(b)
	if !ok || !complete || t != 0xa3 {
		return
	}
	t, mech, n, ok, complete := berTLV(sasl)
	if !ok || !complete || t != 0x04 {
		return
	}
	t, cred, _, ok, complete := berTLV(sasl[n:])
	if !ok || !complete || t != 0x04 {
		return
	}
	if string(mech) == "GSSAPI" || string(mech) == "GSS-SPNEGO" || string(mech) == "NTLM" || string(mech) == "GSS-NTLM" {
		c.gssapiToken(st, cred, 0)
	}
}

var (
	oidKRB5   = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	oidMSKRB5 = []byte{0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02}
	oidSPNEGO = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}
)

// gssapiToken confirms the children of a GSSAPI token (see the file
// comment). depth bounds SPNEGO nesting.
func (c *Classifier) gssapiToken(st *State, b []byte, depth int) {
	if depth > 2 {
		return
	}
	if len(b) >= 8 && string(b[:8]) == "NTLMSSP\x00" {
		c.confirm(st, svcNTLM)
		return
	}
	t, inner, _, ok, _ := berTLV(b)
	if !ok || t != 0x60 {
		return
	}
	t, oid, n, ok, complete := berTLV(inner)
	if !ok || !complete || t != 0x06 {
		return
	}
	rest := inner[n:]
	switch {
	case string(oid) == string(oidKRB5) || string(oid) == string(oidMSKRB5):
		if len(rest) >= 3 && rest[0] == 0x01 && rest[1] == 0x00 && rest[2] == 0x6e {
			c.confirm(st, svcKRB)
			c.confirm(st, svcGSSAPI)
		}
	case string(oid) == string(oidSPNEGO):
		// NegTokenInit [0] SEQUENCE { mechTypes [0], reqFlags [1], mechToken [2] OCTET STRING, ... }
		t, init, _, ok, _ := berTLV(rest)
		if !ok || t != 0xa0 {
			return
		}
		t, seq, _, ok, _ := berTLV(init)
		if !ok || t != 0x30 {
			return
		}
		for i := 0; i < 4 && len(seq) > 0; i++ {
			t, field, n, ok, complete := berTLV(seq)
			if !ok || !complete {
				return
			}
			if t == 0xa2 {
				if t2, tok, _, ok, complete := berTLV(field); ok && complete && t2 == 0x04 {
					before := st.n
					c.gssapiToken(st, tok, depth+1)
					if st.n != before {
						c.confirm(st, svcGSSAPI)
					}
				}
				return
			}
			seq = seq[n:]
		}
	}
}

// ldapClientSig is dpd_ldap_client_tcp: an LDAPMessage header (short or
// 1–4 byte long length, a 1–4 byte messageID) then the tag of a delete,
// bind, search, modify, add, modifyDN, compare or extended request.
func ldapClientSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != 0x30 {
		return no
	}
	if len(b) < 2 {
		return more
	}
	off := 2
	switch l := b[1]; {
	case l >= 0x05 && l <= 0x7f:
	case l >= 0x81 && l <= 0x84:
		off += int(l - 0x80)
	default:
		return no
	}
	if len(b) < off+2 {
		return more
	}
	if b[off] != 0x02 || b[off+1] < 1 || b[off+1] > 4 {
		return no
	}
	off += 2 + int(b[off+1])
	if len(b) <= off {
		return more
	}
	switch b[off] {
	case 0x4a, 0x60, 0x63, 0x66, 0x68, 0x6c, 0x6e, 0x77:
		return yes
	}
	return no
}

// ldapServerSig is dpd_ldap_server_tcp: ^\x30.
func ldapServerSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] == 0x30 {
		return yes
	}
	return no
}

// ldapUDP is the CLDAP recognizer (Zeek's LDAP_UDP): a datagram holding a
// complete LDAPMessage confirms, on 389/udp or after the signature pair
// (dpd_ldap_client_udp: a bind, search or extended request header from the
// originator; dpd_ldap_server_udp: ^\x30 from the responder) within the
// DPD window. Bound: maxChunks datagrams.
func (c *Classifier) ldapUDP(st *State, fromOrig bool, data []byte, inWindow bool) {
	if !st.attached(svcLDAPUDP) {
		if !inWindow {
			st.pending &^= 1 << recLDAPUDP
			return
		}
		if fromOrig {
			if ldapClientSig(data) == yes {
				op, _, _, r := ldapMessage(data)
				if r == yes && (op == 0x60 || op == 0x63 || op == 0x77) {
					st.flags |= flagLDAPUDPSig
				}
			}
			return
		}
		if st.flags&flagLDAPUDPSig == 0 || len(data) == 0 || data[0] != 0x30 {
			return
		}
	}
	if _, _, total, r := ldapMessage(data); r == yes && total <= len(data) {
		c.confirm(st, svcLDAPUDP)
		st.pending &^= 1 << recLDAPUDP
	}
}

// ldap is the LDAP recognizer.
func (c *Classifier) ldap(st *State, in *input) verdict {
	if !in.port {
		if ldapClientSig(in.pre[0]) == no {
			return done
		}
		if t := sigPair(in, sideNone, sideNone, ldapClientSig, ldapServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	_, _, _, r0 := ldapMessage(in.pre[0])
	_, _, _, r1 := ldapMessage(in.pre[1])
	if r0 == no && r1 == no {
		return done
	}
	if r0 == yes {
		if off := c.ldapWalk(st, in.pre[0]); off >= 0 {
			if c.tlsChild(st, in.pre[0][off:], in.more[0]) {
				return done
			}
			return undecided
		}
	} else if r1 == yes {
		c.confirm(st, svcLDAP)
	}
	if r0 == more && !in.more[0] && r1 != yes {
		return done
	}
	if in.more[0] {
		// Later SASL binds can still add children.
		return undecided
	}
	return done
}
