package classify

// SMTP recognition (Zeek's SMTP analyzer).
//
// Confirmation: the server's first reply is a 220 greeting and the client
// sent a command line (HELO/EHLO when enabled by signature). STARTTLS: the
// SSL child examines the originator's bytes after the "STARTTLS" line
// ("smtp,ssl").
//
// Attachment: ports 25 and 587, or elsewhere the signature pair: the server
// stream begins with optional white space and "220" followed by white space
// or '-', and a client line starts with HELO or EHLO, within the DPD window.
// Bound: prefixCap per direction.

func smtpServerSig(b []byte) tri {
	b = skipSpace(b)
	if len(b) < 4 {
		if len(b) > 0 && !prefixOfFold(b, "220") {
			return no
		}
		return more
	}
	if string(b[:3]) == "220" && (isSpace(b[3]) || b[3] == '-') {
		return yes
	}
	return no
}

func isHelo(line []byte) bool {
	l := skipSpace(line)
	return hasPrefixFold(l, "HELO") || hasPrefixFold(l, "EHLO")
}

func smtpClientSig(b []byte) tri { return anyLine(b, isHelo) }

// smtp is the SMTP recognizer.
func (c *Classifier) smtp(st *State, in *input) verdict {
	// The confirming client command is the first line: text.
	if textStart(skipSpace(in.pre[0])) == no {
		return done
	}
	if cmd, r := firstNonEmptyLine(in.pre[0]); r == yes {
		if w, _ := firstWord(cmd); len(w) < 4 {
			return done
		}
	}
	if !in.port {
		if t := sigPair(in, smtpClientSig, smtpServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	greet, r := firstNonEmptyLine(in.pre[1])
	if r == more {
		return in.needMore(1)
	}
	if r == no || len(greet) < 3 || string(greet[:3]) != "220" {
		return done
	}
	cmd, r := firstNonEmptyLine(in.pre[0])
	if r == more {
		return in.needMore(0)
	}
	w, _ := firstWord(cmd)
	if r == no || len(w) < 4 {
		return done
	}
	c.confirm(st, svcSMTP)
	return c.upgrade(st, in, func(l []byte) bool { return equalFold(skipSpace(l), "STARTTLS") })
}
