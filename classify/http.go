package classify

// HTTP recognition (Zeek's HTTP analyzer).
//
// Confirmation: a request line parses — an HTTP token (the method), white
// space, then a URI and optionally "HTTP/x.y" (Zeek's HTTP_RequestLine and
// ParseRequest: only "no URI but a version" fails). Never on partial
// connections.
//
// Attachment: ports 80, 81, 631, 1080, 3128, 8000, 8080, 8888, or
// elsewhere the DPD signatures within the window: the originator's stream
// begins with optional white space, a method of dpd.sig's list and white
// space; or the responder's begins with "HTTP/" and a digit.
//
// CONNECT: after a CONNECT request answered 200, Zeek hands the tunnelled
// bytes (after both header blocks) to a fresh PIA, which can only enable
// analyzers by signature; netbased runs its signature-gated recognizers on
// them (e.g. "http,smtp").
//
// Bound: the request line must end within the originator's first
// prefixCap bytes; empty lines before it are skipped.

// httpSigMethods are the methods of Zeek's HTTP DPD signature.
var httpSigMethods = [...]string{
	"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PATCH", "QUERY",
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
	"MKACTIVITY", "CHECKOUT", "MERGE", "MKWORKSPACE", "VERSION-CONTROL", "BASELINE-CONTROL",
	"UPDATE", "LABEL", "ACL", "ORDERPATCH", "MKREDIRECTREF", "UPDATEREDIRECTREF", "BIND",
	"REBIND", "UNBIND", "MKCALENDAR", "BCOPY", "BDELETE", "BMOVE", "BPROPFIND", "BPROPPATCH",
	"NOTIFY", "POLL", "SUBSCRIBE", "UNSUBSCRIBE", "X-MS-ENUMATTS", "RPC_IN_DATA", "RPC_OUT_DATA",
}

// httpClientSig matches ^[[:space:]]*METHOD[[:space:]].
func httpClientSig(b []byte) tri {
	b = skipSpace(b)
	if len(b) == 0 {
		return more
	}
	res := no
	for _, m := range httpSigMethods {
		if len(b) > len(m) {
			if string(b[:len(m)]) == m && isSpace(b[len(m)]) {
				return yes
			}
		} else if string(b) == m[:len(b)] {
			res = more
		}
	}
	return res
}

// httpServerSig matches ^HTTP/[0-9] case-insensitively.
func httpServerSig(b []byte) tri {
	if len(b) < 6 {
		if prefixOfFold(b, "HTTP/") {
			return more
		}
		return no
	}
	if hasPrefixFold(b, "HTTP/") && isDigit(b[5]) {
		return yes
	}
	return no
}

// isHTTPTokenChar reports whether c may appear in an HTTP token.
func isHTTPTokenChar(c byte) bool {
	if c <= 32 || c >= 127 {
		return false
	}
	switch c {
	case '(', ')', '<', '>', '@', ',', ';', ':', '\\', '"', '/', '[', ']', '?', '=', '{', '}':
		return false
	}
	return true
}

// isURIChar is is_reserved_URI_char || is_unreserved_URI_char || '%'.
func isURIChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')', // unreserved
		';', '/', '?', ':', '@', '&', '=', '+', '$', ',', // reserved
		'%':
		return true
	}
	return false
}

// isBlank is Zeek's skip_whitespace set.
func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// httpRequestLine is HEAD's HTTP_RequestLine + ParseRequest: an HTTP token
// (the method), white space, then a URI and optionally "HTTP/x.y" anywhere
// after it; without a version (HTTP/0.9) the method must have at least 3
// bytes and the URI must not be empty. It returns the method.
func httpRequestLine(line []byte) (method []byte, ok bool) {
	i := 0
	for i < len(line) && isHTTPTokenChar(line[i]) {
		i++
	}
	if i == 0 || i >= len(line) || !isBlank(line[i]) {
		return nil, false
	}
	method = line[:i]
	rest := line[i:]
	for len(rest) > 0 && isBlank(rest[0]) {
		rest = rest[1:]
	}
	u := 0
	for u < len(rest) && isURIChar(rest[u]) {
		u++
	}
	if u >= len(rest) && hasPrefixFold(rest, "HTTP/") {
		u = 0 // missing_HTTP_uri
	}
	uriLen := u
	for v := u; v < len(rest); v++ {
		uriLen = v
		for v < len(rest) && isBlank(rest[v]) {
			v++
		}
		if hasPrefixFold(rest[v:], "HTTP/") {
			return method, true
		}
	}
	// HTTP/0.9
	if len(method) < 3 || uriLen == 0 {
		return nil, false
	}
	return method, true
}

// httpRequest finds the first request line in b (skipping empty lines:
// Zeek's "empty_http_request"; any other line that is not a request line is
// a violation that stops the request side); it returns the method and the
// offset after the line.
func httpRequest(b []byte) (method []byte, end int, r tri) {
	it := lineIter{b: b}
	for n := 0; n < 8; n++ {
		line, e, ok := it.next()
		if !ok {
			return nil, 0, more
		}
		if len(line) == 0 {
			continue
		}
		m, ok := httpRequestLine(line)
		if !ok {
			return nil, 0, no
		}
		return m, e, yes
	}
	return nil, 0, no
}

// http09 reports whether the request line (ending b) carries no version.
func http09(b []byte) bool {
	it := lineIter{b: b}
	for {
		line, _, ok := it.next()
		if !ok {
			return false
		}
		if len(line) == 0 {
			continue
		}
		return indexOf(line, "HTTP/") < 0 && indexOf(line, "http/") < 0
	}
}

// httpFirstReply checks the server's first non-empty line as HEAD's
// HTTP_ReplyLine: "HTTP/" (case-sensitive), then after white space at least
// three bytes (the status code).
func httpFirstReply(b []byte) tri {
	it := lineIter{b: b}
	for n := 0; n < 8; n++ {
		line, _, ok := it.next()
		if !ok {
			if len(b) >= 5 && !prefixOfFold(b[:5], "HTTP/") && string(b[:5]) != "HTTP/" {
				return no // cannot become an HTTP reply line
			}
			return more
		}
		if len(line) == 0 {
			continue
		}
		if len(line) < 5 || string(line[:5]) != "HTTP/" {
			return no
		}
		rest := line[5:]
		i := 0
		for i < len(rest) && !isBlank(rest[i]) {
			i++
		}
		for i < len(rest) && isBlank(rest[i]) {
			i++
		}
		if len(rest)-i < 3 {
			return no
		}
		return yes
	}
	return no
}

// httpHeaderEnd returns the offset after the blank line ending the header
// block that starts at b, or -1.
func httpHeaderEnd(b []byte) int {
	it := lineIter{b: b}
	for {
		line, e, ok := it.next()
		if !ok {
			return -1
		}
		if len(line) == 0 {
			return e
		}
	}
}

// http is the HTTP recognizer.
func (c *Classifier) http(st *State, in *input) verdict {
	if st.flags&flagHTTPReq == 0 {
		if _, _, r := httpRequest(in.pre[0]); r == no {
			return done // the confirming evidence can no longer appear
		}
		if !in.port {
			cs := httpClientSig(in.sig[0])
			ss := httpServerSig(in.sig[1])
			if cs != yes && ss != yes {
				if (cs == more && sigCanGrow(in, 0)) || (ss == more && sigCanGrow(in, 1)) ||
					(len(in.sig[1]) == 0 && sigCanGrow(in, 1)) {
					return undecided
				}
				return done
			}
		}
		method, reqEnd, r := httpRequest(in.pre[0])
		switch r {
		case more:
			return in.needMore(0)
		case no:
			return done
		}
		c.confirm(st, svcHTTP)
		if in.inner {
			return done
		}
		st.flags |= flagHTTPReq
		if http09(in.pre[0][:reqEnd]) {
			st.flags |= flagHTTP09
		}
		// HTTP_Request: strncasecmp(method, "CONNECT", len(method)) == 0.
		if len(method) <= 7 && hasPrefixFold([]byte("CONNECT"), string(method)) {
			st.flags |= flagHTTPConnect
		}
	}
	// The first reply line: anything but an HTTP reply line is a violation
	// that deletes the service (dpd.zeek), unless the request was HTTP/0.9
	// (then the reply has no status line).
	if st.flags&flagHTTP09 == 0 {
		switch httpFirstReply(in.pre[1]) {
		case more:
			if in.more[1] {
				if st.flags&flagHTTPConnect == 0 {
					in.only = 1
				}
				return undecided
			}
		case no:
			st.violate(svcHTTP)
			return done
		}
	}
	if st.flags&flagHTTPConnect == 0 {
		if st.flags&flagHTTP09 == 0 {
			return c.httpUpgrade(st, in)
		}
		return done
	}
	return c.httpTunnel(st, in)
}

// httpTunnel looks inside a CONNECT tunnel once the reply is 2xx.
func (c *Classifier) httpTunnel(st *State, in *input) verdict {
	resp := in.pre[1]
	line, _, ok := nextLine(resp)
	if !ok {
		return in.needMore(1)
	}
	if !hasPrefixFold(line, "HTTP/") {
		return done
	}
	_, rest := firstWord(line)
	code, _ := firstWord(rest)
	if string(code) != "200" {
		return done // the tunnel opens only on 200
	}
	oe := httpHeaderEnd(in.pre[0])
	re := httpHeaderEnd(resp)
	if oe < 0 || re < 0 {
		if (oe < 0 && in.more[0]) || (re < 0 && in.more[1]) {
			return undecided
		}
		return done
	}
	return c.innerDPD(st, in.pre[0][oe:], resp[re:], in.more, false)
}

// innerDPD runs the signature-enabled recognizers on tunnelled streams (a
// fresh PIA in Zeek: HTTP CONNECT, SOCKS), withHTTP adding HTTP itself.
func (c *Classifier) innerDPD(st *State, orig, resp []byte, more [2]bool, withHTTP bool) verdict {
	var sub input
	sub.inner = true
	sub.pre[0], sub.pre[1] = orig, resp
	sub.sig = sub.pre
	sub.more = more
	waiting := false
	if withHTTP && !st.has(svcHTTP) && !st.disabled(svcHTTP) && c.on(svcHTTP) && st.flags&flagPartial == 0 {
		if c.http(st, &sub) == undecided {
			waiting = true
		}
	}
	for _, f := range [...]func(*State, *input) verdict{c.ssl, c.smtp, c.pop3, c.imap, c.ftp, c.irc} {
		if f(st, &sub) == undecided {
			waiting = true
		}
	}
	if waiting {
		return undecided
	}
	return done
}
