package classify

import (
	"bytes"
	"unicode/utf8"
)

// Finger recognition (Zeek's Spicy Finger analyzer: finger.spicy,
// finger.evt).
//
// Originator (Finger::Request): optional blanks, an optional "/W", optional
// blanks, then the argument up to CR or LF; the argument, trimmed and split
// at '@', must be UTF-8. The request accepts its input (confirmation) when
// the user part is not empty or "/W" was given.
// Responder (Finger::Reply): lines up to CR LF or LF, each UTF-8; a line
// longer than 10 bytes accepts the input.
// Violations: a request or reply line that is not UTF-8, a CR in a reply
// not followed by LF.
//
// Attachment: 79/tcp (no DPD signature).
// Bound: the prefix.

// fingerRequest checks the request: r is yes (accepted), no (parsed but
// not accepted), more, or bad set for a parse error.
func fingerRequest(b []byte) (r tri, bad bool) {
	end := bytes.IndexAny(b, "\r\n")
	if end < 0 {
		return more, false
	}
	p := bytes.TrimLeft(b[:end], " \t")
	whois := bytes.HasPrefix(p, []byte("/W"))
	if whois {
		p = bytes.TrimLeft(p[2:], " \t")
	}
	arg := bytes.TrimSpace(p)
	user, host := arg, []byte(nil)
	if i := bytes.IndexByte(arg, '@'); i >= 0 {
		user, host = arg[:i], arg[i+1:]
	}
	if !utf8.Valid(user) || !utf8.Valid(host) {
		return no, true
	}
	if len(user) > 0 || whois {
		return yes, false
	}
	return no, false
}

// fingerReply walks the reply lines: accepted once a line is longer than
// 10 bytes; bad at a parse error.
func fingerReply(b []byte) (r tri, bad bool) {
	for len(b) > 0 {
		end := bytes.IndexAny(b, "\r\n")
		if end < 0 {
			return more, false
		}
		line := b[:end]
		if !utf8.Valid(line) {
			return no, true
		}
		next := end + 1
		if b[end] == '\r' {
			if end+1 >= len(b) {
				return more, false
			}
			if b[end+1] != '\n' {
				return no, true
			}
			next++
		}
		if len(line) > 10 {
			return yes, false
		}
		b = b[next:]
	}
	return more, false
}

// finger is the Finger recognizer.
func (c *Classifier) finger(st *State, in *input) verdict {
	rq, badQ := fingerRequest(in.pre[0])
	rp, badP := fingerReply(in.pre[1])
	if rq == yes || rp == yes {
		c.confirm(st, svcFinger)
	}
	if badQ || badP {
		st.violate(svcFinger)
		return done
	}
	if rp == yes {
		return done // the request's result no longer matters
	}
	w0, w1 := rq == more && in.more[0], in.more[1]
	switch {
	case w0 && w1:
		return undecided
	case w1:
		in.only = 1
		return undecided
	case w0:
		in.only = 0
		return undecided
	}
	return done
}
