package classify

// PostgreSQL recognition (Zeek's Spicy PostgreSQL analyzer).
//
// Confirmation (postgresql_zeek.spicy): a complete client StartupMessage
// (length, protocol 3.x, NUL-terminated parameter pairs, a final NUL), or
// the server's one-byte answer 'S' or 'N' to an SSLRequest. After 'S' the
// SSL child sees the rest ("postgresql,ssl").
//
// Attachment: port 5432, or elsewhere the signature pairs: SSLRequest then
// a server 'S'/'N', or a StartupMessage (version 3, "user\0" within 256
// bytes) then a server message header ([a-zA-Z0-9] 00 00 ..), within the
// DPD window. Bound: the first message of each direction.

var pgSSLRequest = []byte{0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f}

// pgStartup checks a StartupMessage at the start of b.
func pgStartup(b []byte) tri {
	if len(b) < 8 {
		if len(b) >= 5 && b[4] != 0x00 || len(b) >= 6 && b[5] != 0x03 {
			return no
		}
		return more
	}
	n := int(be32(b))
	if b[4] != 0x00 || b[5] != 0x03 || n < 9 || n > 10000 {
		return no
	}
	if len(b) < n {
		return more
	}
	body := b[8:n]
	if len(body) == 0 || body[len(body)-1] != 0 {
		return no
	}
	return yes
}

func pgClientSig(b []byte) tri {
	if r := matchPrefix(b, pgSSLRequest); r != no {
		return r
	}
	if len(b) < 8 {
		return more
	}
	if b[4] != 0x00 || b[5] != 0x03 || b[6] != 0x00 {
		return no
	}
	end := len(b)
	if end > 8+256+5 {
		end = 8 + 256 + 5
	}
	if indexOf(b[7:end], "user\x00") >= 0 {
		return yes
	}
	if len(b) >= 8+256+5 {
		return no
	}
	return more
}

func pgServerSig(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	c := b[0]
	if c == 'S' || c == 'N' {
		return yes
	}
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		return no
	}
	if len(b) < 3 {
		return more
	}
	if b[1] == 0 && b[2] == 0 {
		return yes
	}
	return no
}

// matchPrefix reports whether b begins with p (more if b is a prefix of p).
func matchPrefix(b, p []byte) tri {
	n := len(b)
	if n > len(p) {
		n = len(p)
	}
	if string(b[:n]) != string(p[:n]) {
		return no
	}
	if n < len(p) {
		return more
	}
	return yes
}

// postgres is the PostgreSQL recognizer.
func (c *Classifier) postgres(st *State, in *input) verdict {
	o := in.pre[0]
	if len(o) > 0 && o[0] != 0x00 {
		return done // both first messages start with a small big-endian length
	}
	if !in.port {
		if t := sigPair(in, sideNone, sideNone, pgClientSig, pgServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	switch matchPrefix(o, pgSSLRequest) {
	case more:
		return in.needMore(0)
	case yes:
		if len(in.pre[1]) == 0 {
			return in.needMore(1)
		}
		switch in.pre[1][0] {
		case 'S':
			c.confirm(st, svcPostgres)
			if c.tlsChild(st, o[len(pgSSLRequest):], in.more[0]) {
				return done
			}
			return undecided
		case 'N':
			c.confirm(st, svcPostgres)
		}
		return done
	}
	switch pgStartup(o) {
	case more:
		return in.needMore(0)
	case yes:
		c.confirm(st, svcPostgres)
	}
	return done
}
