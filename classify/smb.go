package classify

// SMB recognition (Zeek's SMB.cc).
//
// Confirmation: SMB.cc waits for a chunk (one in-order delivery) that
// carries an SMB header at offset 4 ("\xffSMB" or "\xfeSMB" after the 4-byte
// NetBIOS session header); from that sync on it counts chunks of both
// directions and confirms at the third without a parse exception. A gap
// forces a new sync. netbased checks the NetBIOS message type (0x00,
// session message) of the syncing chunk; it does not replay binpac's full
// parse, so a garbage third chunk still counts.
//
// Attachment: ports 139 and 445, or elsewhere the signature
// ^....[\xfe\xff]SMB at the start of either direction within the DPD
// window. NetBIOS session setup on 139 is skipped until the sync.
// Bound: maxChunks per direction.

// hasSMBHeader is SMB.cc's HasSMBHeader plus the NetBIOS type check.
func hasSMBHeader(b []byte) bool {
	return len(b) >= 8 && (b[4] == 0xff || b[4] == 0xfe) && b[5] == 'S' && b[6] == 'M' && b[7] == 'B'
}

// smbChunk handles one TCP chunk.
func (c *Classifier) smbChunk(st *State, d int, off uint32, data []byte, inWindow bool) {
	if !st.attached(svcSMB) && st.flags&flagSMBSig == 0 {
		// Signature: anchored at the start of a direction's stream.
		if off == 0 && inWindow && hasSMBHeader(data) {
			st.flags |= flagSMBSig
		} else {
			if (st.seen[0] > 0 || st.gapped(0)) && (st.seen[1] > 0 || st.gapped(1)) || !inWindow {
				st.pending &^= 1 << recSMB
			}
			return
		}
	}
	if st.flags&flagSMBSynced == 0 {
		if !hasSMBHeader(data) || data[0] != 0x00 {
			return
		}
		st.flags |= flagSMBSynced
	}
	st.smbChunks++
	if st.smbChunks >= 3 {
		c.confirm(st, svcSMB)
		st.pending &^= 1 << recSMB
	}
}
