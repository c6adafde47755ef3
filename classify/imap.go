package classify

// IMAP recognition (Zeek's IMAP analyzer, which follows STARTTLS).
//
// Confirmation: the server greets with an untagged "* OK", "* PREAUTH" or
// "* BYE" and the client sends a tagged command ("tag SP command").
// STARTTLS: the SSL child examines the originator's bytes after the
// "tag STARTTLS" line ("imap,ssl").
//
// Attachment: port 143, or elsewhere the server greeting "* OK" together
// with a tagged client command within the DPD window.
// Bound: prefixCap per direction.

func imapServerSig(b []byte) tri {
	if len(b) < 4 {
		if prefixOfFold(b, "* OK") {
			return more
		}
		return no
	}
	if hasPrefixFold(b, "* OK") {
		return yes
	}
	return no
}

// imapTagged splits "tag SP command ..." lines.
func imapTagged(line []byte) (tag, cmd []byte, ok bool) {
	tag, rest := firstWord(line)
	if len(tag) == 0 || len(rest) == 0 || rest[0] != ' ' {
		return nil, nil, false
	}
	for _, c := range tag {
		if c < 0x21 || c > 0x7e || c == '*' || c == '+' || c == '(' || c == ')' || c == '{' || c == '"' || c == '\\' {
			return nil, nil, false
		}
	}
	cmd, _ = firstWord(rest)
	if len(cmd) == 0 {
		return nil, nil, false
	}
	for _, c := range cmd {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return nil, nil, false
		}
	}
	return tag, cmd, true
}

func imapClientSig(b []byte) tri {
	line, r := firstNonEmptyLine(b)
	if r != yes {
		return r
	}
	if _, _, ok := imapTagged(line); ok {
		return yes
	}
	return no
}

// imap is the IMAP recognizer.
func (c *Classifier) imap(st *State, in *input) verdict {
	if textStart(skipSpace(in.pre[0])) == no {
		return done
	}
	if cmd, r := firstNonEmptyLine(in.pre[0]); r == yes {
		if _, _, ok := imapTagged(cmd); !ok {
			return done
		}
	}
	if !in.port {
		if t := sigPair(in, imapClientSig, imapServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	greet, r := firstNonEmptyLine(in.pre[1])
	if r == more {
		return in.needMore(1)
	}
	if r == no || !(hasPrefixFold(greet, "* OK") || hasPrefixFold(greet, "* PREAUTH") || hasPrefixFold(greet, "* BYE")) {
		return done
	}
	cmd, r := firstNonEmptyLine(in.pre[0])
	if r == more {
		return in.needMore(0)
	}
	if r == no {
		return done
	}
	if _, _, ok := imapTagged(cmd); !ok {
		return done
	}
	c.confirm(st, svcIMAP)
	return c.upgrade(st, in, func(l []byte) bool {
		_, cmd, ok := imapTagged(l)
		return ok && equalFold(cmd, "STARTTLS")
	})
}
