package classify

// SMTP recognition (Zeek's SMTP analyzer).
//
// Confirmation: SMTP.cc calls ProtocolConfirmation in RequestEvent, i.e. for
// the first client line whose first word is a known SMTP command (EHLO,
// HELO, MAIL, RCPT, DATA, …; unknown words are ignored and later lines
// still count). The greeting is not needed. STARTTLS: after the server's
// 220 reply the SSL child sees the rest; netbased has it examine the
// originator's bytes after the "STARTTLS" line ("smtp,ssl").
//
// Violation: a server line without a reply code in 100–599 deletes (or,
// before confirmation, disables) smtp.
//
// Attachment: ports 25 and 587, or elsewhere the signature pair: a client
// line starting (after white space) with HELO or EHLO, and the server stream
// beginning with optional white space and "220" followed by white space or
// '-', within the DPD window. Bound: the first 64 client lines within
// prefixCap.

var smtpCommands = [...]string{
	"EHLO", "HELO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "SEND", "SOML", "SAML", "VRFY", "EXPN",
	"HELP", "NOOP", "QUIT", "TURN", "STARTTLS", "ATRN", "ETRN", "AUTH", "X-ANONYMOUSTLS",
	"X-EXPS", "X-LINK2STATE", "XEXCH50",
}

func isSMTPCommand(w []byte) bool {
	for _, c := range smtpCommands {
		if equalFold(w, c) {
			return true
		}
	}
	return false
}

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

// smtpCommandLine reports whether a client line is a known command (Zeek's
// get_word takes the word from the line's first byte).
func smtpCommandLine(line []byte) bool {
	i := 0
	for i < len(line) && !isSpace(line[i]) {
		i++
	}
	return isSMTPCommand(line[:i])
}

// smtp is the SMTP recognizer.
func (c *Classifier) smtp(st *State, in *input) verdict {
	if in.origStartsText() == no {
		return done // the client's command lines are text
	}
	if !in.port {
		if t := sigPair(in, sideSMTPClient, sideNone, smtpClientSig, smtpServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	switch anyLine(in.pre[0], smtpCommandLine) {
	case more:
		return in.needMore(0)
	case no:
		return done
	}
	c.confirm(st, svcSMTP)
	if smtpBadReply(in.pre[1]) {
		// "reply code out of range": a violation deletes smtp.
		st.violate(svcSMTP)
		return done
	}
	return c.upgrade(st, in, func(l []byte) bool { return equalFold(l, "STARTTLS") }, nil)
}

// smtpBadReply reports whether a server line before any TLS has no reply
// code in 100–599 (SMTP.cc's ProtocolViolation). The walk stops at the
// first binary byte (the TLS after a STARTTLS 220).
func smtpBadReply(b []byte) bool {
	it := lineIter{b: b}
	for n := 0; n < 64; n++ {
		line, _, ok := it.next()
		if !ok || textStart(line) == no {
			return false
		}
		if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
			return true
		}
		code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		if code < 100 || code > 599 {
			return true
		}
	}
	return false
}
