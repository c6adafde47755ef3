package classify

// Helpers shared by the line-based recognizers (smtp, pop3, imap, irc).

// textStart checks that b can begin a line-based protocol stream: the bytes
// before its first LF are printable ASCII, TAB or CR. yes when the first line
// is complete, more while it is not, no on a binary byte.
func textStart(b []byte) tri {
	for _, c := range b {
		switch {
		case c == '\n':
			return yes
		case c == '\t' || c == '\r' || (c >= 0x20 && c < 0x7f):
		default:
			return no
		}
	}
	return more
}

// clientLineAfter returns the offset just past the first complete line of b
// for which match is true, or -1.
func clientLineAfter(b []byte, match func(line []byte) bool) int {
	it := lineIter{b: b}
	for n := 0; n < 64; n++ {
		line, end, ok := it.next()
		if !ok {
			return -1
		}
		if match(line) {
			return end
		}
	}
	return -1
}

// upgrade handles a STARTTLS-like upgrade once the line protocol is
// confirmed: if the client sent the upgrade command (match) and, when
// accepted is not nil, some server line accepts it, the SSL child examines
// the originator's bytes after the command. match runs before accepted, so
// accepted may use what match saw (IMAP's tag).
func (c *Classifier) upgrade(st *State, in *input, match, accepted func(line []byte) bool) verdict {
	off := clientLineAfter(in.pre[0], match)
	if off < 0 {
		if in.more[0] {
			return undecided
		}
		return done
	}
	if accepted != nil {
		switch anyLine(in.pre[1], accepted) {
		case more:
			return in.needMore(1)
		case no:
			return done
		}
	}
	if c.tlsChild(st, in.pre[0][off:], in.more[0]) {
		return done
	}
	return undecided
}

// sigPair evaluates a signature pair (client and server checks on the DPD
// views, requires-reverse-signature) for a recognizer not attached by port:
// yes when both matched, no when they cannot, more while they still can.
// The sides' answers are kept in in's memo under cside and sside.
func sigPair(in *input, cside, sside sigSide, client, server func([]byte) tri) tri {
	cs := in.side(cside, in.sig[0], client)
	if cs == no {
		return no
	}
	ss := in.side(sside, in.sig[1], server)
	if cs == yes && ss == yes {
		return yes
	}
	if ss == no {
		return no
	}
	if (cs == more && !sigCanGrow(in, 0)) || (ss == more && !sigCanGrow(in, 1)) {
		return no
	}
	return more
}

// sigVerdict turns a failed or pending signature into a verdict.
func sigVerdict(t tri) verdict {
	if t == more {
		return undecided
	}
	return done
}

// anyLine reports yes if some complete line of b satisfies match, more if
// none does yet.
func anyLine(b []byte, match func(line []byte) bool) tri {
	it := lineIter{b: b}
	for n := 0; n < 64; n++ {
		line, _, ok := it.next()
		if !ok {
			return more
		}
		if match(line) {
			return yes
		}
	}
	return no
}
