package classify

// DCE/RPC recognition (Zeek's DCE_RPC analyzer: DCE_RPC.cc,
// dce_rpc-protocol.pac, dce_rpc-analyzer.pac), connection-oriented over TCP.
//
// Confirmation: proc_dce_rpc_pdu confirms once a whole PDU parsed: the
// 16-byte common header (rpc_vers 5, minor version, packet type, flags, data
// representation, frag_length, auth_length, call id; the byte order follows
// the data representation's integer format) and frag_length bytes in all.
// Violation: binpac throws on a version other than 5 and on a frag_length
// shorter than the header. DCE_RPC.cc parses nothing once either direction
// had a content gap.
//
// Attachment: port 135, or elsewhere the signature dpd_dce_rpc,
// ^\x05[\x00\x01][\x00-\x13]\x03 at the start of either direction within
// the DPD window (found by the signature, not the port, on the dynamic
// endpoints the endpoint mapper hands out).
// Bound: the first PDU of each direction (within the prefix).

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

// dceRPCPDU checks the first PDU of b.
func dceRPCPDU(b []byte) tri {
	if len(b) < 10 {
		if len(b) > 0 && b[0] != 5 {
			return no
		}
		return more
	}
	if b[0] != 5 {
		return no
	}
	n := int(b[8])<<8 | int(b[9])
	if b[4]&0x10 != 0 { // little-endian integer representation
		n = int(b[8]) | int(b[9])<<8
	}
	if n < 16 {
		return no
	}
	if len(b) < n {
		return more
	}
	return yes
}

// dceRPC is the DCE/RPC recognizer.
func (c *Classifier) dceRPC(st *State, in *input) verdict {
	if !in.port {
		s0, s1 := dceRPCSig(in.sig[0]), dceRPCSig(in.sig[1])
		if s0 != yes && s1 != yes {
			can0, can1 := s0 == more && sigCanGrow(in, 0), s1 == more && sigCanGrow(in, 1)
			switch {
			case !can0 && !can1:
				return done
			case !can0:
				in.only = 1 // only the responder's stream start can still match
			case !can1:
				in.only = 0
			}
			return undecided
		}
	}
	return c.firstPDU(st, in, svcDCERPC, dceRPCPDU)
}
