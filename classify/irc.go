package classify

// IRC recognition (Zeek's IRC analyzer).
//
// Confirmation: a server line with a prefix and a command or numeric
// (":server 001 …", ":server NOTICE …"), among the server's first lines.
// STARTTLS: the SSL child examines the originator's bytes after the
// "STARTTLS" line once the server answered 670 ("irc,ssl").
//
// Attachment: ports 6666–6669, or elsewhere the signature pair: a client
// line starting NICK or USER, and a server prefix line, within the DPD
// window. Bound: prefixCap per direction, the first 64 lines.

// ircServerLine reports whether line is ":prefix SP command".
func ircServerLine(line []byte) bool {
	if len(line) < 2 || line[0] != ':' {
		// IRCv3 message tags may precede the prefix.
		if len(line) > 0 && line[0] == '@' {
			_, rest := firstWord(line)
			return ircServerLine(skipSpace(rest))
		}
		return false
	}
	prefix, rest := firstWord(line[1:])
	if len(prefix) == 0 {
		return false
	}
	cmd, _ := firstWord(rest)
	if len(cmd) == 0 {
		return false
	}
	if len(cmd) == 3 && isDigit(cmd[0]) && isDigit(cmd[1]) && isDigit(cmd[2]) {
		return true
	}
	for _, c := range cmd {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func ircClientSig(b []byte) tri {
	return anyLine(b, func(l []byte) bool {
		l = skipSpace(l)
		return hasPrefixFold(l, "NICK ") || hasPrefixFold(l, "USER ")
	})
}

func ircServerSig(b []byte) tri { return anyLine(b, ircServerLine) }

// irc is the IRC recognizer.
func (c *Classifier) irc(st *State, in *input) verdict {
	if !in.port {
		if t := sigPair(in, ircClientSig, ircServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	switch anyLine(in.pre[1], ircServerLine) {
	case more:
		return in.needMore(1)
	case no:
		return done
	}
	c.confirm(st, svcIRC)
	return c.upgrade(st, in, func(l []byte) bool { return equalFold(skipSpace(l), "STARTTLS") })
}
