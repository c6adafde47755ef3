package classify

// SSH recognition (Zeek's SSH analyzer, ssh-protocol.pac/ssh-analyzer.pac).
//
// Confirmation: proc_newkeys — an SSH2 SSH_MSG_NEWKEYS (21) packet from
// either side (SSH1 sessions are not recognized). Each direction is walked
// as a stream without buffering: the version exchange (lines until one
// starting "SSH-"; the server may send other lines first), then the
// cleartext binary packets (length, padding length, message type).
//
// Attachment: port 22, or elsewhere the signature pair ^[sS][sS][hH]-[12]\.
// at the start of both directions within the DPD window.
// Bound: maxChunks per direction.

const (
	sshPhaseVersion = iota
	sshPhasePackets
	sshPhaseDone
)

// sshDir walks one direction.
type sshDir struct {
	phase   uint8
	v1      bool
	lineLen uint16 // bytes of the current version-exchange line
	head    [4]byte
	hdr     [6]byte
	hdrLen  uint8
	skip    uint32 // bytes left in the current packet
	sig     uint8  // 0 unknown, 1 matched, 2 failed
}

// streamState holds the streaming recognizers' state (SSH's packet walk,
// FTP's reply watch), allocated only when one of them runs.
type streamState struct {
	dir [2]sshDir
	ftp ftpReplyState
	ew  *expectWatch // the expected-connection line watch (expect.go)
}

// sshChunk feeds one chunk of direction d.
func (c *Classifier) sshChunk(st *State, d int, data []byte, firstInWindow bool) {
	if !sshPort(st.respPort) && (st.sx == nil || st.sx.dir[d].sig == 0) {
		// dpd_ssh_client/server: ^[sS][sS][hH]-[12]\. at each direction's start.
		if !(firstInWindow && len(data) >= 6 && hasPrefixFold(data, "SSH-") && (data[4] == '1' || data[4] == '2') && data[5] == '.') {
			st.pending &^= 1 << recSSH
			st.dropStream()
			return
		}
		if st.sx == nil {
			st.sx = &streamState{}
		}
		st.sx.dir[d].sig = 1
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	s := &st.sx.dir[d]
	if st.gapped(d) {
		s.phase = sshPhaseDone
	}
	if s.walk(data) {
		if sshPort(st.respPort) || (st.sx.dir[0].sig == 1 && st.sx.dir[1].sig == 1) {
			c.confirm(st, svcSSH)
		}
		st.pending &^= 1 << recSSH
		st.dropStream()
	}
}

// walk consumes data; it reports whether a NEWKEYS/SESSION_KEY was seen.
func (s *sshDir) walk(data []byte) bool {
	for len(data) > 0 {
		switch s.phase {
		case sshPhaseVersion:
			c := data[0]
			data = data[1:]
			if s.lineLen < 4 {
				s.head[s.lineLen] = c
			}
			if s.lineLen < 0xffff {
				s.lineLen++
			}
			if c == '\n' {
				if s.lineLen > 4 && string(s.head[:]) == "SSH-" {
					s.phase = sshPhasePackets
				}
				s.lineLen = 0
			}
		case sshPhasePackets:
			if s.skip > 0 {
				n := uint32(len(data))
				if n > s.skip {
					n = s.skip
				}
				s.skip -= n
				data = data[n:]
				continue
			}
			for s.hdrLen < 6 && len(data) > 0 {
				s.hdr[s.hdrLen] = data[0]
				s.hdrLen++
				data = data[1:]
			}
			if s.hdrLen < 6 {
				return false
			}
			s.hdrLen = 0
			plen := be32(s.hdr[:4])
			if plen < 2 || plen > 256*1024 {
				s.phase = sshPhaseDone
				return false
			}
			if s.v1 {
				// SSH1: length, 1–8 bytes padding, type: not walked further.
				s.phase = sshPhaseDone
				return false
			}
			if s.hdr[5] == 21 {
				return true
			}
			s.skip = plen + 4 - 6
		default:
			return false
		}
	}
	return false
}
