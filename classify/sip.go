package classify

import (
	"bytes"
	"strings"
)

// SIP recognition (Zeek's SIP analyzer over UDP: SIP.cc, sip-protocol.pac,
// sip-analyzer.pac; RFC 3261). Zeek's SIP-over-TCP analyzer is not
// activated by any base script.
//
// Each datagram is one message. SIP.cc's DeliverPacket picks the parser by
// content, whichever side sent it: a datagram longer than 6 bytes that
// starts "SIP/" goes to the reply parser, any other to the request parser,
// and a 2-byte datagram starting '\r' (a "\r\n" keepalive) is dropped
// unparsed. Confirmation: proc_sip_reply, a reply datagram whose line
// starts with a reply line: "SIP/" digits "." digits, optional blanks, a
// three-digit status. Violation: binpac throws when a reply datagram's line
// is not a reply line, or a request datagram's line not a request line
// (optional non-token junk, a method token, a URI, then "SIP/" digits "."
// digits); a violation after the confirmation removes the service. Not
// modelled: the headers and body after the first line, where Zeek's parser
// also throws (a header line without ':', a body shorter than the
// Content-Length header).
//
// Attachment: port 5060/udp, or elsewhere the signature dpd_sip
// (^( SIP/d.d\r\n|SIP/d.d ddd ) on a datagram of either direction within the
// DPD window). Bound: the datagrams of the DPD window, or all of them once
// attached.

// sipVersion matches "SIP/" [0-9]+ "." [0-9]+ at the start of b and returns
// the bytes after it.
func sipVersion(b []byte) ([]byte, bool) {
	if len(b) < 4 || string(b[:4]) != "SIP/" {
		return nil, false
	}
	b = b[4:]
	n := digits(b)
	if n == 0 || n == len(b) || b[n] != '.' {
		return nil, false
	}
	b = b[n+1:]
	m := digits(b)
	if m == 0 {
		return nil, false
	}
	return b[m:], true
}

// digits returns the length of the run of ASCII digits at b's start.
func digits(b []byte) int {
	i := 0
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func skipBlanks(b []byte) []byte {
	for len(b) > 0 && isBlank(b[0]) {
		b = b[1:]
	}
	return b
}

// sipReplyLine reports whether b starts with a SIP reply line.
func sipReplyLine(b []byte) bool {
	rest, ok := sipVersion(b)
	if !ok {
		return false
	}
	rest = skipBlanks(rest)
	return len(rest) >= 3 && digits(rest[:3]) == 3
}

func isSIPToken(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.!%*+`'~-", c) >= 0
}

func isSIPURIChar(c byte) bool { return c > ' ' && c < 0x7f }

// sipRequestLine reports whether b's first line parses as a SIP request
// line.
func sipRequestLine(b []byte) bool {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	for len(b) > 0 && !isSIPToken(b[0]) {
		b = b[1:] // junk
	}
	n := 0
	for n < len(b) && isSIPToken(b[n]) {
		n++
	}
	if n == 0 {
		return false
	}
	b = skipBlanks(b[n:])
	n = 0
	for n < len(b) && isSIPURIChar(b[n]) {
		n++
	}
	if n == 0 {
		return false
	}
	_, ok := sipVersion(skipBlanks(b[n:]))
	return ok
}

// sipSig is dpd_sip: ^( SIP/[0-9]\.[0-9]\r\n|SIP/[0-9]\.[0-9] [0-9]{3} ).
func sipSig(b []byte) bool {
	if len(b) >= 10 && b[0] == ' ' && string(b[1:5]) == "SIP/" && isDigit(b[5]) && b[6] == '.' && isDigit(b[7]) &&
		b[8] == '\r' && b[9] == '\n' {
		return true
	}
	return len(b) >= 12 && string(b[:4]) == "SIP/" && isDigit(b[4]) && b[5] == '.' && isDigit(b[6]) && b[7] == ' ' &&
		digits(b[8:11]) == 3 && b[11] == ' '
}

// sip handles one datagram, from either side (the parser is chosen by
// content).
func (c *Classifier) sip(st *State, b []byte, inWindow bool) {
	if !st.attached(svcSIP) && st.flags&flagSIPEnabled == 0 {
		if !inWindow {
			st.pending &^= 1 << recSIP
			return
		}
		if !sipSig(b) {
			return
		}
		st.flags |= flagSIPEnabled
	}
	// SIP.cc DeliverPacket: a two-byte datagram starting with '\r' (a
	// "\r\n" keepalive) is dropped before the parser sees it; otherwise
	// the parser is chosen by content, not direction: longer than 6 bytes
	// and starting "SIP/" is a reply, anything else a request.
	if len(b) == 2 && b[0] == '\r' {
		return
	}
	if len(b) > 6 && string(b[:4]) == "SIP/" {
		if !sipReplyLine(b) {
			st.violate(svcSIP)
			st.pending &^= 1 << recSIP
			return
		}
		c.confirm(st, svcSIP)
		return
	}
	if !sipRequestLine(b) {
		st.violate(svcSIP)
		st.pending &^= 1 << recSIP
	}
}
