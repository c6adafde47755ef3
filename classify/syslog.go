package classify

// Syslog recognition (Zeek's Spicy Syslog analyzers: syslog.spicy,
// syslog.evt; Syslog over UDP, Syslog_TCP over TCP).
//
// UDP (service "syslog"): each datagram is a Syslog::Message: an optional
// priority "<digits>" then any bytes; the unit accepts its input
// (confirmation) at its end. A datagram starting with '<' that is not
// followed by digits and '>' is a parse error: a violation.
//
// TCP (service "syslog_tcp", RFC 6587 framing): each direction is a
// sequence of frames, either octet counting (a length without leading
// zero, a space, then that many bytes of a Syslog::Message) or
// non-transparent (a priority, a message of bytes other than NUL, CR, LF,
// then at least one of those). Each complete frame accepts the input; a
// frame that starts with anything else, or that does not continue as its
// kind requires, is a parse error: a violation (DPD then disables it).
//
// Attachment: 514/udp and 514/tcp (base/protocols/syslog registers both;
// current scripts no longer add them to likely_server_ports).
// Bound: the connection's chunk budget (maxChunks).

// syslogPriority checks "<digits>" at b's start: n is its length.
func syslogPriority(b []byte) (n int, r tri) {
	if len(b) == 0 {
		return 0, more
	}
	if b[0] != '<' {
		return 0, no
	}
	i := 1
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i == len(b) {
		return 0, more
	}
	if i == 1 || b[i] != '>' {
		return 0, no
	}
	return i + 1, yes
}

// syslogUDP handles one datagram.
func (c *Classifier) syslogUDP(st *State, data []byte) {
	if len(data) > 0 && data[0] == '<' {
		if _, r := syslogPriority(data); r != yes {
			st.violate(svcSyslog)
			st.pending &^= 1 << recSyslog
			return
		}
	}
	c.confirm(st, svcSyslog) // later datagrams can still violate
}

// Syslog TCP frame states.
const (
	syslogStart   = iota // at a frame's start
	syslogLen            // octet counting: in the length
	syslogCounted        // octet counting: in the counted message
	syslogPrio           // non-transparent: in the priority
	syslogMsg            // non-transparent: in the message
	syslogTerm           // non-transparent: in the terminators
)

// syslogDir is one direction's frame parser.
type syslogDir struct {
	state  uint8
	prio   bool // the counted message started with '<': its priority is being checked
	digits int  // digits read (length or priority)
	left   int  // counted bytes still to come
	msgLen int  // message bytes read
}

type syslogConn struct {
	dir [2]syslogDir
}

// startFrame begins a frame at its first byte b: an octet count (octet
// counting) or a priority (non-transparent framing); false for anything else.
func (s *syslogDir) startFrame(b byte) bool {
	switch {
	case b >= '1' && b <= '9':
		s.state, s.left = syslogLen, int(b-'0')
	case b == '<':
		s.state, s.digits = syslogPrio, 0
	default:
		return false
	}
	return true
}

// syslogTCPData parses one delivery; it returns false at a parse error.
func (c *Classifier) syslogTCPData(st *State, s *syslogDir, data []byte) bool {
	for _, b := range data {
		switch s.state {
		case syslogStart:
			if !s.startFrame(b) {
				return false
			}
		case syslogLen:
			switch {
			case isDigit(b):
				if s.left > 1<<24 {
					return false
				}
				s.left = s.left*10 + int(b-'0')
			case b == ' ':
				s.state, s.prio, s.digits = syslogCounted, false, -1
			default:
				return false
			}
		case syslogCounted:
			// The counted Syslog::Message: a '<' first commits to a priority.
			switch {
			case s.digits == -1:
				s.digits = 0
				if b == '<' {
					s.prio = true
				}
			case s.prio && isDigit(b):
				s.digits++
			case s.prio && b == '>' && s.digits > 0:
				s.prio = false
			case s.prio:
				return false
			}
			s.left--
			if s.left == 0 {
				if s.prio {
					return false // the priority ran past the counted bytes
				}
				c.confirm(st, svcSyslogTCP)
				s.state = syslogStart
			}
		case syslogPrio:
			switch {
			case isDigit(b):
				s.digits++
			case b == '>' && s.digits > 0:
				s.state, s.msgLen = syslogMsg, 0
			default:
				return false
			}
		case syslogMsg:
			switch {
			case b == 0 || b == '\n' || b == '\r':
				if s.msgLen == 0 {
					return false // the message needs one byte
				}
				s.state = syslogTerm
				// The frame is complete once its terminators end (Zeek sees
				// that at the next byte or at the end of the stream).
				c.confirm(st, svcSyslogTCP)
			default:
				s.msgLen++
			}
		case syslogTerm:
			if b != 0 && b != '\n' && b != '\r' {
				s.state = syslogStart
				if !s.startFrame(b) {
					return false
				}
			}
		}
	}
	return true
}

// syslogChunk feeds one TCP chunk or UDP datagram.
func (c *Classifier) syslogChunk(st *State, d int, data []byte) {
	if st.transport == UDP {
		c.syslogUDP(st, data)
		return
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	if st.sx.syslog == nil {
		st.sx.syslog = &syslogConn{}
	}
	if !c.syslogTCPData(st, &st.sx.syslog.dir[d], data) {
		st.violate(svcSyslogTCP)
		st.pending &^= 1 << recSyslog
		st.dropStream()
	}
}
