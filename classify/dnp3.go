package classify

// DNP3 recognition (Zeek's DNP3_TCP and DNP3_UDP analyzers, DNP3.cc).
//
// Each direction is a sequence of DNP3 link-layer frames: 05 64, length,
// control, destination, source, header CRC, then the user data (length − 5
// bytes, the first being the transport byte) in blocks of 16 bytes each
// followed by a CRC. DNP3.cc first collects 11 bytes (the header and the
// transport byte):
//   - start bytes other than 05 64: the analyzer stops (a weird, no
//     violation);
//   - a header CRC that does not match: AnalyzerViolation, and the analyzer
//     stops;
//   - otherwise AnalyzerConfirmation. A frame without user data (length 5)
//     ends the delivery: ProcessData clears the direction's state and
//     returns, dropping the 11th byte already collected and everything
//     after it in the same TCP chunk or datagram (DNP3.cc's quirk: a next
//     frame in the same chunk is never seen; the next delivery starts a
//     new header). Otherwise the whole frame is collected and every data
//     block's CRC checked; a bad block CRC, a length below 5 or a missing
//     first transport segment stops the analyzer without a violation.
//
// The TCP analyzer sees the stream, the UDP one each datagram (the frame
// state carries over between datagrams, as in DNP3.cc).
//
// Attachment: 20000/tcp and 20000/udp (base/protocols/dnp3). Its dpd.sig is
// not loaded by the package (and names no existing analyzer).
// Bound: the connection's chunk budget (maxChunks).

// dnp3MaxFrame is the longest DNP3 frame: 10 header bytes and 250 data
// bytes in 16 blocks with their CRCs.
const dnp3MaxFrame = 292

// dnp3Dir is one direction's frame collection.
type dnp3Dir struct {
	buf        [dnp3MaxFrame]byte
	n          int
	pktLen     int
	inData     bool // the header was checked; collecting the data blocks
	firstChunk bool // a transport segment with FIR was seen
}

type dnp3Conn struct {
	dir [2]dnp3Dir
}

// dnp3CRC is DNP3's CRC-16 (polynomial 0x3D65 reflected as 0xA6BC), complemented.
func dnp3CRC(b []byte) uint16 {
	var crc uint16
	for _, v := range b {
		crc ^= uint16(v)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa6bc
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

// dnp3CheckCRC reports whether the two bytes after b hold b's CRC (LSB first).
func dnp3CheckCRC(b, crc []byte) bool {
	v := dnp3CRC(b)
	return crc[0] == byte(v) && crc[1] == byte(v>>8)
}

// dnp3FrameLen is DNP3.cc's length of a frame whose length byte is l: the
// header (10), the data and two CRC bytes per (partial) 16-byte block.
func dnp3FrameLen(l int) int {
	d := l - 5
	n := 11 + d + d/16*2 - 1
	if d%16 != 0 {
		n += 2
	}
	return n
}

// dnp3Data is DNP3_Base::ProcessData on one delivery of direction d. It
// returns false when the analyzer stops.
func (c *Classifier) dnp3Data(st *State, svc uint8, s *dnp3Dir, data []byte) bool {
	for len(data) > 0 {
		if !s.inData {
			k := copy(s.buf[s.n:11], data)
			s.n += k
			data = data[k:]
			if s.n < 11 {
				return true
			}
			if s.buf[0] != 0x05 || s.buf[1] != 0x64 {
				return false // dnp3_header_lacks_magic
			}
			if !dnp3CheckCRC(s.buf[:8], s.buf[8:10]) {
				st.violate(svc)
				return false
			}
			c.confirm(st, svc)
			if s.buf[2] == 5 {
				// No transport and application layers: DNP3.cc's
				// ClearEndpointState(orig); return true; the rest of
				// this delivery is dropped too.
				*s = dnp3Dir{}
				return true
			}
			s.pktLen = int(s.buf[2])
			s.inData = true
		}
		if s.pktLen <= 0 {
			return false
		}
		want := dnp3FrameLen(s.pktLen)
		if want < s.n || want > dnp3MaxFrame {
			return false // AnalyzerError: an invalid target length
		}
		k := copy(s.buf[s.n:want], data)
		s.n += k
		data = data[k:]
		if s.n < want {
			return true
		}
		if !s.appLayer() {
			return false
		}
	}
	return true
}

// appLayer is ParseAppLayer: the data blocks' CRCs and the transport
// segment flags.
func (s *dnp3Dir) appLayer() bool {
	p := s.buf[10:s.n]
	left := s.pktLen - 5
	for left > 0 {
		n := min(left, 16)
		if len(p) < n+2 || !dnp3CheckCRC(p[:n], p[n:n+2]) {
			return false
		}
		p = p[n+2:]
		left -= n
	}
	tp := s.buf[10]
	first, last := tp&0x40 != 0, tp&0x80 != 0
	if first {
		s.firstChunk = true
	}
	if !first && !s.firstChunk {
		return false // dnp3_first_application_layer_chunk_missing
	}
	// The frame is done; the last segment also ends the message.
	*s = dnp3Dir{firstChunk: !last}
	return true
}

// dnp3Chunk feeds one TCP chunk or UDP datagram.
func (c *Classifier) dnp3Chunk(st *State, d int, data []byte) {
	svc := svcDNP3TCP
	if st.transport == UDP {
		svc = svcDNP3UDP
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	if st.sx.dnp3 == nil {
		st.sx.dnp3 = &dnp3Conn{}
	}
	if !c.dnp3Data(st, svc, &st.sx.dnp3.dir[d], data) {
		st.pending &^= 1 << recDNP3
		st.dropStream()
	}
}
