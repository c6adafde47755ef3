package classify

// POP3 recognition (Zeek's POP3 analyzer).
//
// Confirmation: the server greets with "+OK" and the client's first
// command is a POP3 command (Zeek gives up on unknown client commands: the
// corpus test pop3.redis, where "+OK" replies answer RESP arrays, stays
// unclassified). STLS: the SSL child examines the originator's bytes after
// the "STLS" line ("pop3,ssl").
//
// Attachment: port 110, or elsewhere the signature pair ^\+OK (server) and a
// client line starting with USER, APOP, CAPA, AUTH or STLS, within the DPD
// window. Bound: prefixCap per direction.

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

// pop3 is the POP3 recognizer.
func (c *Classifier) pop3(st *State, in *input) verdict {
	if textStart(skipSpace(in.pre[0])) == no {
		return done
	}
	if cmd, r := firstNonEmptyLine(in.pre[0]); r == yes {
		if w, _ := firstWord(cmd); !isPOP3Command(w) {
			return done
		}
	}
	if !in.port {
		if t := sigPair(in, pop3ClientSig, pop3ServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	greet, r := firstNonEmptyLine(in.pre[1])
	if r == more {
		return in.needMore(1)
	}
	if r == no || !hasPrefixFold(greet, "+OK") {
		return done
	}
	cmd, r := firstNonEmptyLine(in.pre[0])
	if r == more {
		return in.needMore(0)
	}
	w, _ := firstWord(cmd)
	if r == no || !isPOP3Command(w) {
		return done
	}
	c.confirm(st, svcPOP3)
	return c.upgrade(st, in, func(l []byte) bool { return equalFold(skipSpace(l), "STLS") })
}
