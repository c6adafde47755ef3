package classify

// MySQL recognition (Zeek's MySQL analyzer on 3306/tcp; no signature).
//
// Confirmation: the server's initial handshake packet (protocol version 10:
// 3-byte length, sequence 0, 0x0a, a NUL-terminated printable server
// version). SSL: a client SSL Request (a 32-byte packet, sequence 1, with
// CLIENT_SSL 0x0800 in its capability flags) makes the SSL child examine the
// originator's bytes after it ("mysql,ssl").
// Bound: the first packet of each direction.

func mysqlHandshake(b []byte) tri {
	if len(b) < 5 {
		return more
	}
	n := be24le(b)
	if b[3] != 0 || b[4] != 0x0a || n < 10 {
		return no
	}
	for i := 5; i < len(b) && i < 4+n; i++ {
		if b[i] == 0 {
			if i == 5 {
				return no
			}
			return yes
		}
		if b[i] < 0x20 || b[i] > 0x7e {
			return no
		}
	}
	if len(b) < 4+n {
		return more
	}
	return no
}

func be24le(b []byte) int { return int(b[0]) | int(b[1])<<8 | int(b[2])<<16 }

// mysql is the MySQL recognizer.
func (c *Classifier) mysql(st *State, in *input) verdict {
	switch mysqlHandshake(in.pre[1]) {
	case more:
		return in.needMore(1)
	case no:
		return done
	}
	c.confirm(st, svcMySQL)
	o := in.pre[0]
	if len(o) < 8 {
		return in.needMore(0)
	}
	if be24le(o) != 32 || o[3] != 1 || (int(o[4])|int(o[5])<<8)&0x0800 == 0 {
		return done
	}
	if len(o) < 36 {
		return in.needMore(0)
	}
	if c.tlsChild(st, o[36:], in.more[0]) {
		return done
	}
	return undecided
}
