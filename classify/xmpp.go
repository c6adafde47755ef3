package classify

// XMPP recognition (Zeek's XMPP analyzer, xmpp-analyzer.pac).
//
// Confirmation: the client's "<stream:stream" element. STARTTLS: the
// client's <starttls/> answered by the server's <proceed/> starts the SSL
// child; netbased has it examine the originator's bytes after the
// <starttls …> element ("xmpp,ssl").
//
// Attachment: ports 5222 and 5269, or elsewhere the dpd_xmpp signature
// (^(<?xml …?>)?[\r\n ]*<stream:stream [^>]*xmlns='jabber:) on either
// direction within the DPD window. Bound: prefixCap per direction.

// xmppTag finds the first element named name ("<name" followed by a blank,
// '>' or '/') and returns the offset after the '>' closing it, or -1 (more
// reports that the element may still arrive or is incomplete).
func xmppTag(b []byte, name string) (end int, r tri) {
	off := 0
	for n := 0; n < 256; n++ {
		i := indexOf(b[off:], "<"+name)
		if i < 0 {
			return -1, more
		}
		i += off
		j := i + 1 + len(name)
		if j >= len(b) {
			return -1, more
		}
		if c := b[j]; c == ' ' || c == '>' || c == '/' || c == '\t' || c == '\r' || c == '\n' {
			k := indexOf(b[j:], ">")
			if k < 0 {
				return -1, more
			}
			return j + k + 1, yes
		}
		off = j
	}
	return -1, no
}

// xmppSig is dpd_xmpp.
func xmppSig(b []byte) tri {
	s := b
	if hasPrefixFold(s, "<?xml") {
		k := indexOf(s, "?>")
		if k < 0 {
			if indexOf(s, ">") >= 0 {
				return no
			}
			return more
		}
		s = s[k+2:]
	} else if len(s) < 5 && prefixOfFold(s, "<?xml") && len(s) > 0 {
		return more
	}
	for len(s) > 0 && (s[0] == '\n' || s[0] == '\r' || s[0] == ' ') {
		s = s[1:]
	}
	const open = "<stream:stream "
	if len(s) < len(open) {
		if string(s) == open[:len(s)] {
			return more
		}
		return no
	}
	if string(s[:len(open)]) != open {
		return no
	}
	gt := indexOf(s, ">")
	x := indexOf(s, "xmlns='jabber:")
	if x >= 0 && (gt < 0 || x < gt) {
		return yes
	}
	if gt >= 0 {
		return no
	}
	return more
}

// xmpp is the XMPP recognizer.
func (c *Classifier) xmpp(st *State, in *input) verdict {
	if t := skipSpace(in.pre[0]); len(t) > 0 && t[0] != '<' {
		return done // the client's stream is XML
	}
	if !in.port {
		cs, ss := xmppSig(in.sig[0]), xmppSig(in.sig[1])
		if cs != yes && ss != yes {
			if (cs == more && sigCanGrow(in, 0)) || (ss == more && sigCanGrow(in, 1)) {
				return undecided
			}
			return done
		}
	}
	if _, r := xmppTag(in.pre[0], "stream:stream"); r != yes {
		if r == more && in.more[0] {
			return undecided
		}
		return done
	}
	c.confirm(st, svcXMPP)
	off, r := xmppTag(in.pre[0], "starttls")
	if r != yes {
		if r == more && in.more[0] {
			return undecided
		}
		return done
	}
	if _, r := xmppTag(in.pre[1], "proceed"); r != yes {
		if r == more && in.more[1] {
			return undecided
		}
		return done
	}
	if c.tlsChild(st, in.pre[0][off:], in.more[0]) {
		return done
	}
	return undecided
}
