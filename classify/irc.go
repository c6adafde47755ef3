package classify

// IRC recognition (Zeek's IRC analyzer).
//
// Confirmation: a server line with a prefix and a command or numeric
// (":server 001 …", ":server NOTICE …"), among the server's first lines.
// STARTTLS: the SSL child examines the originator's bytes after the
// "STARTTLS" line once the server answered 670 ("irc,ssl").
//
// Attachment: ports 6666–6669, or elsewhere the signature pair: client
// lines USER and NICK (either order) and a server line "(:prefix )?NNN ",
// within the DPD window. Bound: prefixCap per direction, the first 64 lines.

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

// ircClientSig is irc_client1/irc_client2: a USER line and a NICK line, in
// either order.
func ircClientSig(b []byte) tri {
	var user, nick bool
	r := anyLine(b, func(l []byte) bool {
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
	return r
}

// ircServerSig is irc_server_reply: a line "(:prefix )?NNN ".
func ircServerSig(b []byte) tri {
	return anyLine(b, func(l []byte) bool {
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
		return len(l) >= 4 && isDigit(l[0]) && isDigit(l[1]) && isDigit(l[2]) && l[3] == ' '
	})
}

// irc is the IRC recognizer.
func (c *Classifier) irc(st *State, in *input) verdict {
	if !in.port {
		if textStart(in.pre[0]) == no {
			return done // the USER/NICK signature needs a text client
		}
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
