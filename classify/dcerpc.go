package classify

// DCE/RPC recognition (Zeek's DCE_RPC analyzer: DCE_RPC.cc,
// dce_rpc-protocol.pac, dce_rpc-analyzer.pac, dce_rpc-auth.pac),
// connection-oriented, over TCP or as the child SMB attaches to named
// pipes (smb.go).
//
// Framing: each direction is a stream of PDUs (binpac flowunit
// DCE_RPC_PDU): the 16-byte common header (rpc_vers, which must be 5,
// minor version, packet type, flags, data representation, frag_length,
// auth_length, call id; the byte order follows the data representation's
// integer format), the body (frag_length − 16 − auth_length − 8 when there
// is an auth trailer) and the auth trailer (type, level, pad length,
// reserved, context id, auth_length bytes).
//
// Confirmation: proc_dce_rpc_pdu confirms each whole PDU that parsed. A
// PDU carrying a whole message (first and last fragment) also has its body
// parsed (bind and alter_context: the context list; bind_ack and
// alter_context_resp: the secondary address and the result list; request
// and response: the fixed fields); a body that does not parse throws
// before the confirmation. The auth trailer is parsed before the body: its
// blob goes to the GSSAPI child (type 9, SPNEGO) or the NTLM child (type
// 10), gssapi.go; Kerberos (type 16) is delivered as a stream the KRB
// analyzer ignores.
// Violations: base/protocols/dce-rpc adds DCE_RPC to DPD::ignore_violations:
// a PDU that does not parse (a version other than 5, a frag_length too
// short for the header and trailer) only makes binpac drop the rest of that
// delivery; parsing resumes at the next one. DCE_RPC.cc parses nothing once
// either direction had a content gap.
//
// Attachment: port 135, or elsewhere the signature dpd_dce_rpc,
// ^\x05[\x00\x01][\x00-\x13]\x03 at the start of either direction within
// the DPD window (found by the signature, not the port, on the dynamic
// endpoints the endpoint mapper hands out), matched across the chunks of
// the stream like Zeek's signature engine does: a first chunk shorter than
// the signature waits for the next (State.startSignature); once it
// matches, the analyzer sees the stream from its start. A direction's
// bytes before the signature matched on the other one are not replayed
// (they cannot start with a PDU the signature would not have matched, bar
// rare flag values).
// Bound: the connection's chunk budget (maxChunks); PDUs longer than
// dceMaxPDU are confirmed on their header without their auth trailer.

// dceMaxPDU bounds the bytes buffered for one PDU that spans deliveries.
const dceMaxPDU = 16 << 10

// dceRPCSig is dpd_dce_rpc on a direction's stream start.
func dceRPCSig(b []byte) tri {
	if len(b) < 4 {
		return more
	}
	if b[0] == 5 && b[1] <= 1 && b[2] <= 0x13 && b[3] == 3 {
		return yes
	}
	return no
}

// dceStream is one direction of a DCE_RPC analyzer.
type dceStream struct {
	buf  []byte   // a PDU spanning deliveries
	hdr  [16]byte // the header of a PDU too long to buffer
	skip int      // bytes of that PDU still to come
}

// dceAnalyzer is one DCE_RPC analyzer instance: the one of a TCP
// connection, or one per named-pipe file id SMB forwards.
type dceAnalyzer struct {
	dir  [2]dceStream
	fid  uint64
	used bool
}

// dceHeader checks a PDU header and returns frag_length and the body
// length; ok is false where binpac throws.
func dceHeader(h []byte) (fragLen, bodyLen int, ok bool) {
	if h[0] != 5 {
		return 0, 0, false
	}
	little := h[4]>>4 != 0
	fl, al := int(be16(h[8:])), int(be16(h[10:]))
	if little {
		fl, al = int(le16(h[8:])), int(le16(h[10:]))
	}
	body := fl - 16 - al
	if al > 0 {
		body -= 8
	}
	if body < 0 {
		return 0, 0, false
	}
	return fl, body, true
}

// dceData is DCE_RPC_Analyzer::DeliverStream on one delivery of direction d.
func (c *Classifier) dceData(st *State, a *dceAnalyzer, d int, data []byte) {
	s := &a.dir[d]
	for len(data) > 0 {
		if s.skip > 0 {
			n := min(s.skip, len(data))
			s.skip -= n
			data = data[n:]
			if s.skip == 0 {
				c.dcePDU(st, s.hdr[:], false)
			}
			continue
		}
		if len(s.buf) == 0 && len(data) >= 16 {
			// The common case: the PDU starts at this delivery's start.
			fl, _, ok := dceHeader(data)
			if !ok {
				return // binpac throws: the rest of the delivery is dropped
			}
			if len(data) >= fl {
				c.dcePDU(st, data[:fl], true)
				data = data[fl:]
				continue
			}
			if fl > dceMaxPDU {
				copy(s.hdr[:], data)
				s.skip = fl - len(data)
				return
			}
			s.buf = appendCapped(s.buf, data, fl)
			return
		}
		// Collect the header, then the rest of the PDU.
		if len(s.buf) < 16 {
			n := min(16-len(s.buf), len(data))
			s.buf = appendCapped(s.buf, data[:n], 16)
			data = data[n:]
			if len(s.buf) < 16 {
				return
			}
		}
		fl, _, ok := dceHeader(s.buf)
		if !ok {
			s.buf = s.buf[:0]
			return
		}
		if fl > dceMaxPDU {
			copy(s.hdr[:], s.buf)
			s.buf = s.buf[:0]
			s.skip = fl - 16
			continue
		}
		n := min(fl-len(s.buf), len(data))
		s.buf = appendCapped(s.buf, data[:n], fl)
		data = data[n:]
		if len(s.buf) == fl {
			c.dcePDU(st, s.buf, true)
			s.buf = s.buf[:0]
		}
	}
}

// appendCapped appends b to buf, allocating at most once for a PDU of
// size bytes.
func appendCapped(buf, b []byte, size int) []byte {
	if cap(buf) < size {
		nb := make([]byte, len(buf), max(size, 64))
		copy(nb, buf)
		buf = nb
	}
	return append(buf, b...)
}

// dcePDU handles one whole PDU (whole: the body and trailer are present;
// otherwise only the header is).
func (c *Classifier) dcePDU(st *State, pdu []byte, whole bool) {
	fl, body, ok := dceHeader(pdu)
	if !ok {
		return
	}
	if whole {
		if al := fl - 16 - body - 8; al > 0 {
			t := pdu[16+body:]
			blob := t[8 : 8+al]
			switch t[0] {
			case 0x09:
				c.gssapiChild(st, blob)
			case 0x0a:
				c.ntlmMessage(st, blob)
			}
		}
		const firstLast = 0x03
		if pdu[3]&firstLast == firstLast && !dceBody(pdu[2], pdu[3]&0x80 != 0, pdu[4]>>4 != 0, pdu[16:16+body]) {
			return
		}
	}
	c.confirm(st, svcDCERPC)
}

// DCE/RPC packet types whose bodies Zeek parses.
const (
	dceRequest      = 0
	dceResponse     = 2
	dceBind         = 11
	dceBindAck      = 12
	dceAlterContext = 14
	dceAlterResp    = 15
)

// dceBody reports whether DCE_RPC_Body parses b.
func dceBody(ptype byte, object, little bool, b []byte) bool {
	u16 := func(p []byte) int {
		if little {
			return int(le16(p))
		}
		return be16(p)
	}
	switch ptype {
	case dceRequest:
		n := 8
		if object {
			n += 16
		}
		return len(b) >= n
	case dceResponse:
		return len(b) >= 8
	case dceBind, dceAlterContext:
		// max_xmit_frag, max_recv_frag, assoc_group_id; n contexts, 3
		// reserved; each: id, n syntaxes, reserved, abstract syntax,
		// transfer syntaxes (20 bytes each).
		if len(b) < 12 {
			return false
		}
		p := b[12:]
		for i := 0; i < int(b[8]); i++ {
			if len(p) < 24 {
				return false
			}
			n := 24 + 20*int(p[2])
			if len(p) < n {
				return false
			}
			p = p[n:]
		}
		return true
	case dceBindAck, dceAlterResp:
		// max_xmit_frag, max_recv_frag, assoc_group_id, sec_addr_length,
		// sec_addr, padding to 4; n results, 3 reserved; 24 bytes each.
		if len(b) < 10 {
			return false
		}
		off := 10 + u16(b[8:])
		off += (4 - off%4) % 4
		if len(b) < off+4 {
			return false
		}
		return len(b) >= off+4+24*int(b[off])
	}
	return true
}

// dceRPCChunk is the TCP DCE/RPC recognizer's handling of one chunk.
func (c *Classifier) dceRPCChunk(st *State, d int, data []byte, off uint32, inWindow bool) {
	if st.sx == nil || st.sx.dce == nil {
		var earlier []byte
		if !st.attached(svcDCERPC) {
			// dpd_dce_rpc, anchored at each direction's stream start
			// (matched across chunks).
			var ok bool
			if earlier, ok = st.startSignature(startSigDCERPC, recDCERPC, d, data, off, inWindow, dceRPCSig); !ok {
				return
			}
		}
		if st.sx == nil {
			st.sx = &streamState{}
		}
		st.sx.dce = &dceAnalyzer{}
		if len(earlier) > 0 {
			c.dceData(st, st.sx.dce, d, earlier)
			if st.sx == nil || st.sx.dce == nil {
				return
			}
		}
	}
	c.dceData(st, st.sx.dce, d, data)
}
