package classify

// Redis recognition (Zeek's Spicy Redis analyzer).
//
// Confirmation: the client's first command is a complete RESP array of
// bulk strings ("*N\r\n$len\r\n…\r\n" N times, 1 ≤ N ≤ 1024).
//
// Attachment: port 6379, or elsewhere the resp-serialized-server signature
// (the responder's stream begins with a RESP simple string, error, integer,
// bulk or aggregate header line) within the DPD window.
// Bound: the first command within prefixCap.

// redisServerSig is resp-serialized-server:
// ^([-+_,].*\r\n|[:$*#(!=%`~>][+-]?[0-9]+(\.[0-9]*)?\r\n)
func redisServerSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	nl := indexOf(b, "\n")
	crlf := nl > 0 && b[nl-1] == '\r'
	switch b[0] {
	case '-', '+', '_', ',':
		if nl < 0 {
			return more
		}
		if !crlf {
			return no
		}
		return yes
	case ':', '$', '*', '#', '(', '!', '=', '%', '`', '~', '>':
	default:
		return no
	}
	if nl < 0 {
		if len(b) > 64 {
			return no
		}
		return more
	}
	if !crlf {
		return no
	}
	line := b[:nl-1]
	l := line[1:]
	if len(l) > 0 && (l[0] == '+' || l[0] == '-') {
		l = l[1:]
	}
	i := 0
	for i < len(l) && isDigit(l[i]) {
		i++
	}
	if i == 0 {
		return no
	}
	if i < len(l) {
		if l[i] != '.' {
			return no
		}
		for i++; i < len(l); i++ {
			if !isDigit(l[i]) {
				return no
			}
		}
	}
	return yes
}

// respInt parses "<digits>\r\n" at b (after the type byte).
func respInt(b []byte) (v, n int, r tri) {
	i := 0
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		i = 1
	}
	start := i
	for i < len(b) && isDigit(b[i]) && i-start < 10 {
		v = v*10 + int(b[i]-'0')
		i++
	}
	if i == len(b) {
		return 0, 0, more
	}
	if i == start || b[i] != '\r' {
		return 0, 0, no
	}
	if i+1 >= len(b) {
		return 0, 0, more
	}
	if b[i+1] != '\n' {
		return 0, 0, no
	}
	if neg {
		v = -v
	}
	return v, i + 2, yes
}

// respCommand checks a RESP array of bulk strings at the start of b.
func respCommand(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] != '*' {
		return no
	}
	count, n, r := respInt(b[1:])
	if r != yes {
		return r
	}
	if count < 1 || count > 1024 {
		return no
	}
	off := 1 + n
	for i := 0; i < count; i++ {
		if off >= len(b) {
			return more
		}
		if b[off] != '$' {
			return no
		}
		l, n, r := respInt(b[off+1:])
		if r != yes {
			return r
		}
		if l < 0 || l > 512*1024*1024 {
			return no
		}
		off += 1 + n
		if off+l+2 > len(b) {
			return more
		}
		if b[off+l] != '\r' || b[off+l+1] != '\n' {
			return no
		}
		off += l + 2
	}
	return yes
}

// redis is the Redis recognizer.
func (c *Classifier) redis(st *State, in *input) verdict {
	if respCommand(in.pre[0]) == no {
		return done // the confirming evidence can no longer appear
	}
	if !in.port {
		switch redisServerSig(in.sig[1]) {
		case no:
			return done
		case more:
			if sigCanGrow(in, 1) {
				return undecided
			}
			return done
		}
	}
	switch respCommand(in.pre[0]) {
	case more:
		return in.needMore(0)
	case yes:
		c.confirm(st, svcRedis)
	}
	return done
}
