package classify

import (
	"bytes"
	"net/netip"
)

// Parsers of the addresses a control connection announces for its data
// connections, byte for byte as Zeek's BiFs (src/analyzer/protocol/ftp/
// functions.bif: parse_ftp_port, parse_eftp_port, parse_ftp_pasv,
// parse_ftp_epsv) and the IRC analyzer's DCC handling (IRC.cc) read them.
// Each returns ok=false where Zeek's result has valid=F (the scripts then
// schedule nothing).

// cIsSpace is C's isspace in the C locale.
func cIsSpace(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// cutNUL returns b up to its first NUL byte, as a C string sees it.
func cutNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

// scanInt reads one integer as scanf's %d and strtol do: optional leading
// whitespace, an optional sign, at least one digit. Values beyond ±2^40
// saturate (they are out of every range the callers accept). ok is false
// when there is no digit; next is then the start.
func scanInt(b []byte, i int) (v int64, next int, ok bool) {
	j := i
	for j < len(b) && cIsSpace(b[j]) {
		j++
	}
	neg := false
	if j < len(b) && (b[j] == '+' || b[j] == '-') {
		neg = b[j] == '-'
		j++
	}
	start := j
	for j < len(b) && isDigit(b[j]) {
		if v < 1<<40 {
			v = v*10 + int64(b[j]-'0')
		}
		j++
	}
	if j == start {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, j, true
}

// parseFTPPort is parse_port: "h1,h2,h3,h4,p1,p2" (scanf "%d,%d,%d,%d,%d,%d"
// on a string of at least 11 bytes), every number within 0..255.
func parseFTPPort(s []byte) (addr netip.Addr, port uint16, ok bool) {
	if len(s) < 11 {
		return netip.Addr{}, 0, false
	}
	s = cutNUL(s)
	var v [6]int64
	i := 0
	for k := 0; k < 6; k++ {
		if k > 0 {
			if i >= len(s) || s[i] != ',' {
				return netip.Addr{}, 0, false
			}
			i++
		}
		n, next, good := scanInt(s, i)
		if !good {
			return netip.Addr{}, 0, false
		}
		v[k], i = n, next
	}
	for _, n := range v {
		if n < 0 || n > 255 {
			return netip.Addr{}, 0, false
		}
	}
	return netip.AddrFrom4([4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])}), uint16(v[4])<<8 | uint16(v[5]), true
}

// parseFTPEPort is parse_eftp (RFC 2428 "<d><proto><d><addr><d><port><d>"
// with any delimiter). An empty address field leaves the unspecified IPv6
// address; a missing port field leaves port 0 and the result valid, as in
// Zeek.
func parseFTPEPort(s []byte) (addr netip.Addr, port uint16, ok bool) {
	if bytes.IndexByte(s, 0) >= 0 {
		return netip.Addr{}, 0, false // CheckString: "<string-with-NUL>"
	}
	addr = netip.IPv6Unspecified()
	i := 0
	for i < len(s) && cIsSpace(s[i]) {
		i++
	}
	if i >= len(s) {
		return addr, 0, false
	}
	delim := s[i]
	i++
	good := true
	_, next, _ := scanInt(s, i)
	if next >= len(s) || s[next] != delim {
		good = false
	}
	i = next
	if i < len(s) {
		i++
	}
	if i < len(s) && s[i] != delim {
		end := bytes.IndexByte(s[i:], delim)
		if end < 0 {
			end = len(s) - i
		}
		a, err := netip.ParseAddr(string(s[i : i+end]))
		good = err == nil && a.Zone() == ""
		if good {
			addr = a
		}
	}
	j := bytes.IndexByte(s[i:], delim)
	if j >= 0 {
		i += j + 1
		p, next, _ := scanInt(s, i)
		if next >= len(s) || s[next] != delim {
			good = false
		}
		if p < 0 || p > 65535 {
			p, good = 0, false
		}
		port = uint16(p)
	}
	if !good {
		return netip.Addr{}, 0, false
	}
	return addr, port, true
}

// parseFTPPasv is parse_ftp_pasv on a 227 reply's text: the numbers after
// '(', else after "PORT ", else the comma list around the first ','.
func parseFTPPasv(msg []byte) (addr netip.Addr, port uint16, ok bool) {
	if len(msg) == 0 || bytes.IndexByte(msg, 0) >= 0 {
		return netip.Addr{}, 0, false
	}
	var start int
	if i := bytes.IndexByte(msg, '('); i >= 0 {
		start = i + 1
	} else if i := bytes.Index(msg, []byte("PORT")); i >= 0 {
		start = i + 5
		if start > len(msg) {
			return netip.Addr{}, 0, false
		}
	} else if i := bytes.IndexByte(msg, ','); i >= 0 {
		for i > 0 && isDigit(msg[i-1]) {
			i--
		}
		start = i
	} else {
		return netip.Addr{}, 0, false
	}
	return parseFTPPort(msg[start:])
}

// parseFTPEpsv is parse_ftp_epsv on a 229 reply's text: parse_eftp after
// the first '('.
func parseFTPEpsv(msg []byte) (addr netip.Addr, port uint16, ok bool) {
	i := bytes.IndexByte(msg, '(')
	if i < 0 || bytes.IndexByte(msg, 0) >= 0 {
		return netip.Addr{}, 0, false
	}
	return parseFTPEPort(msg[i+1:])
}

// ircMaxLine is the longest line IRC.cc analyzes.
const ircMaxLine = 512

// ircLine is what the DCC watch needs from one IRC line (either direction):
// a "PRIVMSG target :\x01DCC SEND name addr port [size]\x01" gives the
// announced address and port (dcc-send.zeek schedules the IRC_DATA analyzer
// for them); a reply 670 starts TLS (nothing is parsed afterwards).
func ircLine(line []byte) (addr netip.Addr, port uint16, dcc, starttls bool) {
	if len(line) > ircMaxLine {
		return
	}
	l := trimLeft(line, ' ')
	if len(l) < 3 {
		return
	}
	if l[0] == ':' {
		i := bytes.IndexByte(l, ' ')
		if i < 0 {
			return
		}
		l = trimLeft(l[i+1:], ' ')
	}
	if len(l) < 3 {
		return
	}
	if isDigit(l[0]) {
		starttls = len(l) > 3 && string(l[:3]) == "670" && l[3] == ' '
		return
	}
	sp := bytes.IndexByte(l, ' ')
	if sp < 0 {
		sp = len(l)
	}
	cmd := l[:sp]
	if len(cmd) > 20 || !equalFold(cmd, "PRIVMSG") {
		return
	}
	var params []byte
	if sp < len(l) {
		params = trimLeft(l[sp+1:], ' ')
	}
	sp = bytes.IndexByte(params, ' ')
	if sp < 0 {
		return
	}
	msg := trimLeft(params[sp+1:], ' ')
	if len(msg) > 0 && msg[0] == ':' {
		msg = msg[1:]
	}
	if len(msg) > 0 && msg[0] == 1 {
		msg = msg[1:]
	}
	if len(msg) <= 3 || string(msg[:3]) != "DCC" {
		return
	}
	if msg[len(msg)-1] == 1 {
		msg = msg[:len(msg)-1]
	}
	// SplitWords(message, ' '): words between single spaces, empty ones
	// dropped.
	var parts [8][]byte
	n := 0
	for _, w := range bytes.Split(msg, []byte{' '}) {
		if len(w) == 0 {
			continue
		}
		if n == len(parts) {
			return
		}
		parts[n] = w
		n++
	}
	if !(n == 5 || n == 6 || n == 7 && string(parts[6]) == "T") {
		return
	}
	if string(parts[1]) != "SEND" {
		return // dcc-send.zeek handles SEND only
	}
	// The address: ten times the previous value plus each byte's atoi,
	// in 32 bits.
	var raw uint32
	for _, c := range parts[3] {
		d := uint32(0)
		if isDigit(c) {
			d = uint32(c - '0')
		}
		raw = raw*10 + d
	}
	addr = netip.AddrFrom4([4]byte{byte(raw >> 24), byte(raw >> 16), byte(raw >> 8), byte(raw)})
	// atoi, then count_to_port: anything outside 0..65535 is port 0.
	p, _, _ := scanInt(parts[4], 0)
	if p < 0 || p > 65535 {
		p = 0
	}
	return addr, uint16(p), true, false
}

func trimLeft(b []byte, c byte) []byte {
	for len(b) > 0 && b[0] == c {
		b = b[1:]
	}
	return b
}

// decodeBase64Lenient decodes standard base64 the way Zeek's
// Base64Converter does for ADAT tokens: bytes outside the alphabet are
// skipped, '=' ends the data. It appends to dst.
func decodeBase64Lenient(dst, src []byte) []byte {
	var acc uint32
	n := 0
	for _, c := range src {
		var v byte
		switch {
		case c >= 'A' && c <= 'Z':
			v = c - 'A'
		case c >= 'a' && c <= 'z':
			v = c - 'a' + 26
		case c >= '0' && c <= '9':
			v = c - '0' + 52
		case c == '+':
			v = 62
		case c == '/':
			v = 63
		case c == '=':
			return flushBase64(dst, acc, n)
		default:
			continue
		}
		acc = acc<<6 | uint32(v)
		n++
		if n == 4 {
			dst = append(dst, byte(acc>>16), byte(acc>>8), byte(acc))
			acc, n = 0, 0
		}
	}
	return flushBase64(dst, acc, n)
}

func flushBase64(dst []byte, acc uint32, n int) []byte {
	switch n {
	case 2:
		dst = append(dst, byte(acc>>4))
	case 3:
		dst = append(dst, byte(acc>>10), byte(acc>>2))
	}
	return dst
}
