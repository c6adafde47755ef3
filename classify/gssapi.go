package classify

// The authentication child analyzers SMB and DCE_RPC instantiate (Zeek's
// GSSAPI, NTLM and KRB analyzers run as children, outside the connection's
// analyzer tree): smb-gssapi.pac, dce_rpc-auth.pac, gssapi-protocol.pac,
// gssapi-analyzer.pac, ntlm-protocol.pac, NTLM.cc, krb-analyzer.pac.
//
// GSSAPI: every token delivered is parsed as one datagram (GSSAPI_SELECT):
// an ASN.1 header whose tag and first length byte 04 04 / 05 04 make a
// MIC / Wrap token (taken whole); otherwise a SPNEGO token, NegTokenInit
// (tag 0x60: an OID, a context wrapper, a SEQUENCE of [0]–[3] arguments)
// or NegTokenResp (a SEQUENCE of [0]–[3] arguments), each argument parsed
// within its length. A mechToken/responseToken starting with "NTLMSSP"
// goes to the NTLM child, one starting with 0x60 (a Kerberos GSS token:
// header, OID, two-byte token id) goes to the KRB child. GSSAPI confirms
// after each token that parses (the children it fed confirmed first) and
// raises a violation for a token that does not.
//
// NTLM: each message parses as NTLM_SSP_Token (signature, type; the
// NEGOTIATE/CHALLENGE/AUTHENTICATE fixed fields and the strings the flags
// announce within the payload); it confirms after each message that
// parses. Its violations are ignored (base/protocols/ntlm adds NTLM to
// DPD::ignore_violations).
//
// KRB: the Kerberos message a GSSAPI token carries (DeliverPacket); a
// known message type that parses confirms, one that does not is a
// violation. SMB and DCE_RPC's auth type 0x10 (Kerberos) delivers the blob
// as a stream, which Zeek's KRB analyzer (a packet analyzer) ignores.
//
// dpd.zeek handles a child's violation like any other, except that the
// child is not in the connection's analyzer tree: it is never disabled, so
// it can still confirm later; a violation after its confirmation removes
// its service (which it then never confirms again: an analyzer confirms
// once).

// asn1Meta is binpac's ASN1EncodingMeta: a tag byte, a length byte and,
// when the length byte has its high bit set, that many more length bytes.
// lenByte is the first length byte (GSSAPI's token id uses it).
func asn1Meta(b []byte) (tag, lenByte byte, length uint64, n int, ok bool) {
	if len(b) < 2 {
		return 0, 0, 0, 0, false
	}
	tag, lenByte = b[0], b[1]
	if lenByte&0x80 == 0 {
		return tag, lenByte, uint64(lenByte), 2, true
	}
	k := int(lenByte & 0x7f)
	if len(b) < 2+k {
		return 0, 0, 0, 0, false
	}
	return tag, lenByte, binaryToInt64(b[2 : 2+k]), 2 + k, true
}

// asn1Encoding is binpac's ASN1Encoding: the header and length bytes of
// content. It returns the element's total size.
func asn1Encoding(b []byte) (content []byte, total int, ok bool) {
	_, _, l, n, ok := asn1Meta(b)
	if !ok {
		return nil, 0, false
	}
	m, ok := binpacLength(l)
	if !ok || m > len(b)-n {
		return nil, 0, false
	}
	return b[n : n+m], n + m, true
}

// binpacLength is a &length expression as binpac's generated code uses it:
// converted to a C int (the low 32 bits, signed); a negative length throws
// (ExceptionInvalidStringLength).
func binpacLength(l uint64) (int, bool) {
	v := int32(uint32(l))
	return int(v), v >= 0
}

// binaryToInt64 is asn1.pac's binary_to_int64: the bytes as a big-endian
// number. Beyond 8 bytes the C++ shift is undefined; the low 8 bytes are
// kept, as asn1Meta does for lengths.
func binaryToInt64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// gssapiChild is GSSAPI_Analyzer::DeliverStream for one token from a
// parent analyzer.
func (c *Classifier) gssapiChild(st *State, b []byte) {
	if c.gssapiSelect(st, b) {
		c.confirm(st, svcGSSAPI)
	} else {
		st.childViolation(svcGSSAPI)
	}
}

// gssapiSelect parses GSSAPI_SELECT, feeding the NTLM and KRB children as
// their tokens are parsed. It reports whether the token parsed.
func (c *Classifier) gssapiSelect(st *State, b []byte) bool {
	tag, lenByte, _, n, ok := asn1Meta(b)
	if !ok {
		return false
	}
	if tok := uint16(tag)<<8 | uint16(lenByte); tok == 0x0404 || tok == 0x0504 {
		return true // MIC or Wrap token: &restofdata
	}
	isInit := tag == 0x60
	p := b[n:]
	if isInit {
		_, m, ok := asn1Encoding(p) // the mechanism OID
		if !ok {
			return false
		}
		p = p[m:]
		_, _, _, m, ok = asn1Meta(p) // NegTokenInit's [0] wrapper
		if !ok {
			return false
		}
		p = p[m:]
	}
	_, _, _, m, ok := asn1Meta(p) // the SEQUENCE
	if !ok {
		return false
	}
	p = p[m:]
	for len(p) > 0 {
		t, _, l, m, ok := asn1Meta(p)
		if !ok || l > uint64(len(p)-m) {
			return false
		}
		arg := p[m : m+int(l)]
		index := 0
		if t >= 0xa0 {
			index = int(t - 0xa0)
		}
		switch index {
		case 0, 1, 3: // mechTypes/negState, reqFlags/supportedMech, mechListMIC
			if _, _, ok := asn1Encoding(arg); !ok {
				return false
			}
		case 2: // mechToken / responseToken
			if !c.gssapiMechToken(st, arg) {
				return false
			}
		default:
			return false // no case for the index: binpac throws
		}
		p = p[m+int(l):]
	}
	return true
}

// gssapiMechToken parses GSSAPI_NEG_TOKEN_MECH_TOKEN and forwards its
// token (forward_blob).
func (c *Classifier) gssapiMechToken(st *State, b []byte) bool {
	token, _, ok := asn1Encoding(b)
	if !ok {
		return false
	}
	if len(token) == 0 {
		return true
	}
	switch token[0] {
	case 'N':
		if len(token) >= 7 && string(token[:7]) == "NTLMSSP" {
			c.ntlmMessage(st, token)
		}
	case 0x60:
		// KRB_BLOB: header, OID (an ASN.1 element), token id, blob.
		_, _, _, n, ok := asn1Meta(token)
		if !ok {
			return false
		}
		_, m, ok := asn1Encoding(token[n:])
		if !ok || len(token) < n+m+2 {
			return false
		}
		c.krbChild(st, token[n+m+2:])
	}
	return true
}

// krbChild is the KRB analyzer's DeliverPacket on a Kerberos message a
// GSSAPI token carried.
func (c *Classifier) krbChild(st *State, b []byte) {
	if len(b) == 0 {
		return
	}
	switch b[0] {
	case 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x74, 0x75, 0x76, 0x7e:
	default:
		return // an unknown application tag is taken whole, without a confirmation
	}
	if _, _, _, ok, complete := berTLV(b); ok && complete && (b[0] >= 0x74 && b[0] <= 0x76 || krbMessage(b)) {
		c.confirm(st, svcKRB)
		return
	}
	st.childViolation(svcKRB)
}

// ntlmMessage is NTLM_Analyzer::DeliverStream on one NTLMSSP message: it
// confirms when the message parses (its violations are ignored).
func (c *Classifier) ntlmMessage(st *State, b []byte) {
	if ntlmParses(b) {
		c.confirm(st, svcNTLM)
	}
}

// NTLM negotiate flags the parser looks at.
const (
	ntlmFlagUnicode         = 0x00000001
	ntlmFlagRequestTarget   = 0x00000004
	ntlmFlagOEMDomain       = 0x00001000
	ntlmFlagOEMWorkstation  = 0x00002000
	ntlmFlagTargetInfo      = 0x00800000
	ntlmFlagNegotiateVerson = 0x02000000
)

// ntlmField is an NTLM_StringData: length, maximum length, offset.
type ntlmField struct {
	length int
	offset int
}

func ntlmFieldAt(b []byte) ntlmField {
	return ntlmField{length: int(le16(b)), offset: int(le32(b[4:]))}
}

// ntlmString checks NTLM_String(fields, base) withinput payload: padding
// to the field's offset (relative to base, the payload's offset in the
// message), then length bytes.
func ntlmString(f ntlmField, base int, payload []byte) bool {
	start := f.offset - base
	if start < 0 {
		start = 0 // "padding to" a point already passed pads nothing
	}
	return start+f.length <= len(payload)
}

// ntlmParses reports whether NTLM_SSP_Token parses b.
func ntlmParses(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	switch le32(b[8:]) {
	case 1: // NEGOTIATE
		if len(b) < 32 {
			return false
		}
		flags := le32(b[12:])
		dom, ws := ntlmFieldAt(b[16:]), ntlmFieldAt(b[24:])
		const base = 32
		payload := b[base:]
		if flags&ntlmFlagNegotiateVerson != 0 && base < min(dom.offset, ws.offset) && len(payload) < 8 {
			return false
		}
		if flags&ntlmFlagOEMDomain != 0 && !ntlmString(dom, base, payload) {
			return false
		}
		if flags&ntlmFlagOEMWorkstation != 0 && !ntlmString(ws, base, payload) {
			return false
		}
	case 2: // CHALLENGE
		if len(b) < 48 {
			return false
		}
		target := ntlmFieldAt(b[12:])
		flags := le32(b[20:])
		info := ntlmFieldAt(b[40:])
		const base = 48
		payload := b[base:]
		if flags&ntlmFlagNegotiateVerson != 0 && base < min(target.offset, info.offset) && len(payload) < 8 {
			return false
		}
		if flags&ntlmFlagRequestTarget != 0 && !ntlmString(target, base, payload) {
			return false
		}
		if flags&ntlmFlagTargetInfo != 0 && !ntlmAVPairs(payload, info.offset-base) {
			return false
		}
	case 3: // AUTHENTICATE
		if len(b) < 64 {
			return false
		}
		var f [6]ntlmField
		for i := range f {
			f[i] = ntlmFieldAt(b[12+8*i:])
		}
		flags := le32(b[60:])
		const base = 64
		payload := b[base:]
		first := min(f[2].offset, f[3].offset, f[4].offset, f[5].offset)
		if flags&ntlmFlagNegotiateVerson != 0 && base < first && len(payload) < 8 {
			return false
		}
		for _, i := range [...]int{1, 2, 3, 4, 5} { // NT response, domain, user, workstation, session key
			if f[i].length > 0 && !ntlmString(f[i], base, payload) {
				return false
			}
		}
	}
	return true
}

// ntlmAVPairs checks NTLM_AV_Pair_Sequence(off) withinput payload: pairs
// until MsvAvEOL, each value as its id defines it (an unknown id has no
// case: binpac throws).
func ntlmAVPairs(payload []byte, off int) bool {
	if off < 0 {
		off = 0
	}
	if off > len(payload) {
		return false
	}
	p := payload[off:]
	for n := 0; n < 64; n++ {
		if len(p) < 4 {
			return false
		}
		id, l := le16(p), int(le16(p[2:]))
		p = p[4:]
		var size int
		switch id {
		case 0:
			return true
		case 1, 2, 3, 4, 5, 9:
			size = l
		case 6:
			size = 4
		case 7:
			size = 8
		case 8: // single host: size, 4 padding, data present, [custom data], machine id
			if len(p) < 12 {
				return false
			}
			size = 16
			if le32(p[8:])&1 != 0 {
				size = 20
			}
		case 10:
			size = 2
		default:
			return false
		}
		if len(p) < size {
			return false
		}
		p = p[size:]
	}
	return false
}

// childViolation is dpd.zeek's handling of a violation by an analyzer
// outside the connection's tree (see the file comment): a confirmed
// service is removed, an unconfirmed one stays possible.
func (st *State) childViolation(svc uint8) {
	if st.has(svc) {
		st.violate(svc)
	}
}
