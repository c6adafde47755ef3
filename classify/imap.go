package classify

// IMAP recognition (Zeek's IMAP analyzer, imap-analyzer.pac).
//
// Confirmation (proc_imap_token, per "tag command" line): a server line
// "* OK" (the greeting), a client line whose command is "capability" or
// STARTTLS, or a line from either side whose command is authenticate,
// login, examine, create, list or fetch (these compare case-sensitively in
// Zeek, so lowercase only). STARTTLS: the client's "tag STARTTLS" answered
// "tag OK" starts the SSL child ("imap,ssl").
//
// Attachment: port 143 only (Zeek ships no IMAP signature).
// Bound: 64 lines per direction within prefixCap.

// imapTagged splits "tag SP command ..." lines (tag: alphanumerics and
// punctuation, as imap-protocol.pac's TAG).
func imapTagged(line []byte) (tag, cmd []byte, ok bool) {
	i := 0
	for i < len(line) && line[i] > 0x20 && line[i] < 0x7f {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ' ' {
		return nil, nil, false
	}
	tag = line[:i]
	for i < len(line) && line[i] == ' ' {
		i++
	}
	j := i
	for j < len(line) && line[j] > 0x20 && line[j] < 0x7f {
		j++
	}
	if j == i {
		return nil, nil, false
	}
	return tag, line[i:j], true
}

// imapConfirms reports whether a line makes proc_imap_token confirm.
func imapConfirms(line []byte, orig bool) bool {
	tag, cmd, ok := imapTagged(line)
	if !ok {
		return false
	}
	if !orig && string(tag) == "*" && equalFold(cmd, "ok") {
		return true
	}
	if orig && (string(cmd) == "capability" || equalFold(cmd, "starttls")) {
		return true
	}
	switch string(cmd) {
	case "authenticate", "login", "examine", "create", "list", "fetch":
		return true
	}
	return false
}

// imap is the IMAP recognizer.
func (c *Classifier) imap(st *State, in *input) verdict {
	if !in.port || in.inner {
		return done
	}
	r0 := anyLine(in.pre[0], func(l []byte) bool { return imapConfirms(l, true) })
	r1 := anyLine(in.pre[1], func(l []byte) bool { return imapConfirms(l, false) })
	if r0 != yes && r1 != yes {
		if (r0 == more && in.more[0]) || (r1 == more && in.more[1]) {
			return undecided
		}
		return done
	}
	c.confirm(st, svcIMAP)
	var starttlsTag []byte
	return c.upgrade(st, in, func(l []byte) bool {
		tag, cmd, ok := imapTagged(l)
		if ok && equalFold(cmd, "STARTTLS") {
			starttlsTag = tag
			return true
		}
		return false
	}, func(l []byte) bool { // the server must answer "tag OK"
		tag, cmd, ok := imapTagged(l)
		return ok && string(tag) == string(starttlsTag) && equalFold(cmd, "OK")
	})
}
