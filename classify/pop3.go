package classify

// POP3 recognition (Zeek's POP3 analyzer).
//
// Confirmation (POP3.cc ProcessReply): a server "+OK" answering a client
// USER, CAPA or STLS command. Client commands and server replies are paired
// in order, as the analyzer's command queue does: the server's first line
// is a greeting that answers nothing when the server spoke first; unknown
// client lines still take a reply; the bodies of multi-line replies (CAPA,
// RETR, TOP, argument-less LIST/UIDL) are skipped up to their "." line.
// STLS answered "+OK" starts the SSL child ("pop3,ssl"). The analyzer
// ignores partial connections. The corpus test pop3.redis ("+OK" replies
// to RESP arrays) stays unclassified.
//
// Attachment: port 110, or elsewhere the signature pair ^\+OK (server) and a
// client line starting with USER or APOP and white space, CAPA, AUTH or
// STLS, within the DPD window. Bound: 64 lines within prefixCap.

var pop3Commands = [...]string{
	"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "STAT", "LIST", "RETR", "DELE", "NOOP",
	"RSET", "TOP", "UIDL", "QUIT", "LAST", "XSENDER",
}

func isPOP3Command(w []byte) bool {
	for _, c := range pop3Commands {
		if equalFold(w, c) {
			return true
		}
	}
	return false
}

func pop3ServerSig(b []byte) tri {
	if len(b) < 3 {
		if prefixOfFold(b, "+OK") {
			return more
		}
		return no
	}
	if string(b[:3]) == "+OK" {
		return yes
	}
	return no
}

// pop3ClientSig is dpd_pop3_client: a line (after white space) starting
// with USER or APOP and white space, CAPA, AUTH or STLS.
func pop3ClientSig(b []byte) tri {
	return anyLine(b, func(l []byte) bool {
		l = skipSpace(l)
		if (hasPrefixFold(l, "USER") || hasPrefixFold(l, "APOP")) && len(l) > 4 && isSpace(l[4]) {
			return true
		}
		return hasPrefixFold(l, "CAPA") || hasPrefixFold(l, "AUTH") || hasPrefixFold(l, "STLS")
	})
}

// pop3Pair walks the server replies against the client commands. It
// returns whether a "+OK" answered USER, CAPA or STLS, and for STLS the
// offset after the client's STLS line (-1 if none, -2 after a violation);
// r is more while the walk needs more lines.
func pop3Pair(orig, resp []byte, greeting bool) (confirmed bool, tlsOff int, r tri) {
	var cmds [64][]byte
	var ends [64]int
	n := 0
	it := lineIter{b: orig}
	for n < len(cmds) {
		line, end, ok := it.next()
		if !ok {
			break
		}
		if len(line) == 0 {
			continue // ProcessRequest ignores empty lines
		}
		cmds[n], ends[n] = line, end
		n++
	}
	next := 0 // index of the command the next reply answers
	multi := false
	rit := lineIter{b: resp}
	first := true
	for lines := 0; lines < 64; lines++ {
		line, _, ok := rit.next()
		if !ok {
			return confirmed, -1, more
		}
		if multi {
			if len(line) == 1 && line[0] == '.' {
				multi = false
				next++
			}
			continue
		}
		w, _ := firstWord(line)
		ok200 := equalFold(w, "+OK")
		if !ok200 && !equalFold(w, "-ERR") {
			if !authSeen(cmds[:min(next+1, n)]) {
				// "unknown server command": a violation disables (or
				// deletes) pop3.
				return false, -2, no
			}
			continue
		}
		if first && greeting {
			first = false
			continue
		}
		first = false
		if next >= n {
			return confirmed, -1, more
		}
		cw, rest := firstWord(cmds[next])
		arg := len(skipSpace(rest)) > 0
		if ok200 {
			switch {
			case equalFold(cw, "USER"), equalFold(cw, "CAPA"):
				confirmed = true
			case equalFold(cw, "STLS"):
				return true, ends[next], yes
			}
			if equalFold(cw, "CAPA") || equalFold(cw, "RETR") || equalFold(cw, "TOP") ||
				(!arg && (equalFold(cw, "LIST") || equalFold(cw, "UIDL"))) {
				multi = true
				continue
			}
		}
		next++
		if confirmed {
			// Keep walking only to find STLS.
			continue
		}
	}
	return confirmed, -1, no
}

// authSeen reports whether an AUTH command was sent (the server's SASL
// challenges then are not violations).
func authSeen(cmds [][]byte) bool {
	for _, c := range cmds {
		if w, _ := firstWord(c); equalFold(w, "AUTH") {
			return true
		}
	}
	return false
}

// pop3 is the POP3 recognizer.
func (c *Classifier) pop3(st *State, in *input) verdict {
	if st.flags&flagPartial != 0 || in.origStartsText() == no {
		return done
	}
	if !in.port {
		if t := sigPair(in, sidePOP3Client, sideNone, pop3ClientSig, pop3ServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	confirmed, tlsOff, r := pop3Pair(in.pre[0], in.pre[1], st.flags&flagRespFirst != 0 || in.inner)
	if tlsOff == -2 {
		st.violate(svcPOP3)
		return done
	}
	if confirmed {
		c.confirm(st, svcPOP3)
	}
	if tlsOff >= 0 {
		if c.tlsChild(st, in.pre[0][tlsOff:], in.more[0]) {
			return done
		}
		return undecided
	}
	if r == more && (in.more[0] || in.more[1]) {
		return undecided
	}
	return done
}
