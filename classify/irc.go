package classify

// IRC recognition (Zeek's IRC analyzer).
//
// Confirmation (IRC.cc DeliverStream): any originator line of at most 512
// bytes that, after leading blanks, has at least 3 bytes and, if it starts
// with a ':' prefix, a blank after the prefix and 3 more bytes. STARTTLS:
// the server's 670 reply starts the SSL child ("irc,ssl"); netbased has it
// examine the originator's bytes after the "STARTTLS" line.
//
// Attachment: ports 6666–6669, or elsewhere the signature pair: client
// lines USER and NICK (either order) and a server line "(:prefix )?NNN ",
// within the DPD window. Bound: 64 lines within prefixCap.

// ircClientLine is IRC.cc's acceptance of an originator line.
func ircClientLine(line []byte) bool {
	if len(line) > 512 {
		return false
	}
	for len(line) > 0 && line[0] == ' ' {
		line = line[1:]
	}
	if len(line) < 3 {
		return false
	}
	if line[0] == ':' {
		i := 0
		for i < len(line) && line[i] != ' ' {
			i++
		}
		if i == len(line) {
			return false
		}
		line = line[i+1:]
		for len(line) > 0 && line[0] == ' ' {
			line = line[1:]
		}
		return len(line) >= 3
	}
	return true
}

// ircServerLine reports whether line is "(:prefix )?NNN …" or a prefixed
// command (used by tests and the reply check).
func ircServerLine(line []byte) bool {
	if len(line) > 0 && line[0] == '@' {
		// IRCv3 message tags precede the prefix.
		_, rest := firstWord(line)
		return ircServerLine(skipSpace(rest))
	}
	if len(line) < 2 || line[0] != ':' {
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

// ircClientSig is irc_client1/irc_client2: a USER line and a NICK line, in
// either order.
func ircClientSig(b []byte) tri {
	var user, nick bool
	return anyLine(b, func(l []byte) bool {
		for len(l) > 0 && l[0] == ' ' {
			l = l[1:]
		}
		if hasPrefixFold(l, "USER ") {
			user = true
		}
		if hasPrefixFold(l, "NICK ") {
			nick = true
		}
		return user && nick
	})
}

// ircReply reports whether line is "(:prefix )?NNN " with code (any code
// if code is 0).
func ircReply(l []byte, code string) bool {
	if len(l) > 0 && l[0] == ':' {
		i := 1
		for i < len(l) && l[i] != ' ' {
			i++
		}
		if i == 1 || i >= len(l) {
			return false
		}
		l = l[i+1:]
	}
	if len(l) < 4 || !isDigit(l[0]) || !isDigit(l[1]) || !isDigit(l[2]) || l[3] != ' ' {
		return false
	}
	return code == "" || string(l[:3]) == code
}

// ircServerSig is irc_server_reply: a line "(:prefix )?NNN ".
func ircServerSig(b []byte) tri {
	return anyLine(b, func(l []byte) bool { return ircReply(l, "") })
}

// irc is the IRC recognizer.
func (c *Classifier) irc(st *State, in *input) verdict {
	if in.origStartsText() == no {
		return done
	}
	if !in.port {
		if t := sigPair(in, sideIRCClient, sideIRCServer, ircClientSig, ircServerSig); t != yes {
			return sigVerdict(t)
		}
	}
	switch anyLine(in.pre[0], ircClientLine) {
	case more:
		return in.needMore(0)
	case no:
		return done
	}
	c.confirm(st, svcIRC)
	if st.has(svcIRC) {
		c.beginWatch(st, in, watchIRC) // DCC SEND (expect.go)
	}
	return c.upgrade(st, in, func(l []byte) bool { return equalFold(skipSpace(l), "STARTTLS") },
		func(l []byte) bool { return ircReply(l, "670") })
}
