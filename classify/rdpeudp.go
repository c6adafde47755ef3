package classify

// RDPEUDP recognition: RDP's UDP transport (Zeek's RDPEUDP analyzer,
// rdpeudp-protocol.pac and rdpeudp-analyzer.pac; [MS-RDPEUDP]).
//
// Each datagram starts with the RDPUDP_FEC_HEADER (snSourceAck u32,
// uReceiveWindowSize u16, uFlags u16, big-endian) and is parsed by the
// connection's handshake state:
//
//   - NEED_SYN: a SYN from the originator (RDPUDP_FLAG_SYN 0x0001 set,
//     snSourceAck 0xffffffff) moves to NEED_SYNACK; anything else is ignored.
//   - NEED_SYNACK: the responder's datagram with SYN or ACK (0x0004) set
//     confirms (proc_rdpeudp_synack) and moves on; others are ignored.
//   - Afterwards each datagram is an ACK/data packet.
//
// Violation: a datagram too short for the FEC header throws (binpac), and
// after the handshake one too short for the ACK vector header; a violation
// after the confirmation removes the service.
//
// Attachment: port 3389/udp, or elsewhere the signature dpd_rdpeudp_syn (a
// datagram of 1232 bytes starting \xff\xff\xff\xff, its uFlags' low byte
// 0x01) within the DPD window. The handshake-only analyzer does not replay a
// connection's earlier datagrams differently from live parsing, so the
// state machine runs from the first datagram and counts only once the
// analyzer is attached or enabled.
// Bound: the datagrams of the DPD window, or every datagram once attached.

// rdpeudpSig is dpd_rdpeudp_syn.
func rdpeudpSig(b []byte) bool {
	return len(b) == 1232 && b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff && b[7] == 0x01
}

// rdpeudp handles one datagram.
func (c *Classifier) rdpeudp(st *State, fromOrig bool, b []byte, inWindow bool) {
	if !st.attached(svcRDPEUDP) && st.flags&flagRDPEUDPEnabled == 0 {
		if inWindow && rdpeudpSig(b) {
			st.flags |= flagRDPEUDPEnabled
		} else if !inWindow {
			st.pending &^= 1 << recRDPEUDP
			return
		}
	}
	active := st.attached(svcRDPEUDP) || st.flags&flagRDPEUDPEnabled != 0
	if len(b) < 8 {
		if active {
			st.violate(svcRDPEUDP)
			st.pending &^= 1 << recRDPEUDP
		}
		return
	}
	flags := be16(b[6:8])
	switch {
	case st.flags&flagRDPEUDPConfirmed != 0:
		// RDPUDP_ACK_VECTOR_HEADER: uAckVectorSize and its elements.
		if len(b) < 10 || len(b) < 10+be16(b[8:10]) {
			st.violate(svcRDPEUDP)
			st.pending &^= 1 << recRDPEUDP
		}
	case st.flags&flagRDPEUDPSyn != 0:
		if !fromOrig && flags&0x05 != 0 {
			st.flags |= flagRDPEUDPConfirmed
			if active {
				c.confirm(st, svcRDPEUDP)
			}
		}
	default:
		if fromOrig && flags&0x01 != 0 && be32(b[0:4]) == 0xffffffff {
			st.flags |= flagRDPEUDPSyn
		}
	}
}
