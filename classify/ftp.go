package classify

import "encoding/base64"

// FTP recognition (Zeek's FTP.cc).
//
// Confirmation: the first client line whose first word is a valid FTP
// command (at least 3 printable, non-space bytes, at most 100:
// FTP::max_command_length) — FTP.cc calls AnalyzerConfirmation for every
// such request. After confirmation, a server reply line that starts a new
// reply with a non-numeric code, a code below 100, or a fourth byte other
// than space or '-' is a violation, and Zeek HEAD then deletes "ftp" from
// the service set (as the corpus tests ftp-missing-reply-code,
// ftp-invalid-reply-code and ftp-missing-space-after-reply-code show);
// violations after violationWindow bytes are ignored.
//
// AUTH TLS: a client "AUTH TLS" answered 234 makes the SSL child see the
// rest of both streams ("ftp,ssl"). AUTH GSSAPI (GridFTP): the first ADAT
// token, base64 of a TLS record, goes to the SSL child ("ftp,ssl").
//
// Attachment: ports 21 and 2811, or elsewhere dpd_ftp_client (a line
// starting "USER ") with the reverse dpd_ftp_server (a 120/220 greeting
// then a 230/331 reply), within the DPD window.
// Bound: the confirming line within prefixCap; the reply watch within
// violationWindow bytes and maxChunks chunks.

// ftpMaxCommand is FTP::max_command_length.
const ftpMaxCommand = 100

// ftpReplyState follows the server's reply lines as a stream.
type ftpReplyState struct {
	pending uint16 // code of an open multi-line reply, 0 if none
	lineLen uint16
	head    [4]byte
}

func isFTPCommand(w []byte) bool {
	return len(w) <= ftpMaxCommand && isFTPCommandChars(w)
}

// isFTPCommandChars is FTP.cc's is_ftp_cmd: at least 3 bytes, printable
// and not white space.
func isFTPCommandChars(w []byte) bool {
	if len(w) < 3 {
		return false
	}
	for _, c := range w {
		if c <= ' ' || c >= 127 {
			return false
		}
	}
	return true
}

// ftpClientSig is dpd_ftp_client: yes when a complete line starts (after
// spaces) with "USER ", else no (the pair decides whether it may still).
func ftpClientSig(b []byte) tri {
	it := lineIter{b: b}
	for {
		line, _, ok := it.next()
		if !ok {
			return no
		}
		l := line
		for len(l) > 0 && l[0] == ' ' {
			l = l[1:]
		}
		if hasPrefixFold(l, "USER ") {
			return yes
		}
	}
}

// ftpSig checks the FTP signature pair on the DPD views.
func ftpSig(in *input) tri {
	client := in.side(sideFTPClient, in.sig[0], ftpClientSig)
	server := no
	r := in.sig[1]
	for len(r) > 0 && (r[0] == '\r' || r[0] == '\n' || r[0] == ' ') {
		r = r[1:]
	}
	switch {
	case len(r) >= 4 && (string(r[:3]) == "120" || string(r[:3]) == "220") && !isDigit(r[3]):
		it := lineIter{b: r}
		it.next()
		for {
			line, _, ok := it.next()
			if !ok {
				break
			}
			l := line
			for len(l) > 0 && l[0] == ' ' {
				l = l[1:]
			}
			if len(l) >= 4 && (string(l[:3]) == "230" || string(l[:3]) == "331") && !isDigit(l[3]) {
				server = yes
				break
			}
		}
	case len(r) >= 4, len(r) > 0 && !prefixOfFold(r, "120") && !prefixOfFold(r, "220"):
		// dpd_ftp_server is anchored: a server stream that does not start
		// with a 120/220 greeting can never match.
		return no
	}
	if client == yes && server == yes {
		return yes
	}
	if sigCanGrow(in, 0) || sigCanGrow(in, 1) {
		return more
	}
	return no
}

// ftp is the FTP recognizer.
func (c *Classifier) ftp(st *State, in *input) verdict {
	if st.disabled(svcFTP) {
		return done
	}
	if !in.port {
		if in.origStartsText() == no {
			return done // the USER signature needs a text client
		}
		switch ftpSig(in) {
		case no:
			return done
		case more:
			return undecided
		}
	}
	it := lineIter{b: in.pre[0]}
	confirmed := false
	authTLS := -1
	authGSSAPI := false
	for {
		line, end, ok := it.next()
		if !ok {
			break
		}
		w, rest := firstWord(line)
		if !isFTPCommand(w) {
			continue
		}
		if !confirmed {
			confirmed = true
			c.confirm(st, svcFTP)
			if st.has(svcFTP) && !in.inner && st.pending&(1<<recFTPWatch) == 0 && !st.attached(svcFTP) {
				// Signature-enabled: watch replies from now on.
				st.pending |= 1 << recFTPWatch
			}
			if st.has(svcFTP) {
				// PORT/EPRT/PASV/EPSV and the GridFTP ADAT exchange
				// (expect.go).
				c.beginWatch(st, in, watchFTP)
			}
		}
		if equalFold(w, "AUTH") && equalFold(skipSpace(rest), "TLS") {
			authTLS = end
			break
		}
		if equalFold(w, "AUTH") && equalFold(skipSpace(rest), "GSSAPI") {
			authGSSAPI = true
			continue
		}
		if authGSSAPI && equalFold(w, "ADAT") {
			// GridFTP: the first ADAT token is a base64 TLS record that the
			// SSL child parses (FTP_ADAT_Analyzer), after a 334 reply.
			if adatClientHello(skipSpace(rest)) {
				c.tlsChildConfirm(st)
			}
			return done
		}
	}
	if !confirmed {
		return in.needMore(0)
	}
	if authTLS < 0 {
		if in.more[0] {
			return undecided
		}
		return done
	}
	// The reply to AUTH TLS: a 234 line in the server stream.
	rit := lineIter{b: in.pre[1]}
	for {
		line, _, ok := rit.next()
		if !ok {
			return in.needMore(1)
		}
		if len(line) >= 3 && string(line[:3]) == "234" {
			if c.tlsChild(st, in.pre[0][authTLS:], in.more[0]) {
				return done
			}
			return undecided
		}
	}
}

// adatClientHello is FTP_ADAT_Analyzer's check of the first ADAT token —
// base64 of a TLS record whose length field matches the decoded length —
// followed by the SSL analyzer's ClientHello check.
func adatClientHello(b64 []byte) bool {
	for len(b64) > 0 && (b64[len(b64)-1] == ' ' || b64[len(b64)-1] == '\t') {
		b64 = b64[:len(b64)-1]
	}
	if len(b64) < 16 || len(b64)%4 != 0 {
		return false
	}
	n := len(b64) / 4 * 3
	if b64[len(b64)-1] == '=' {
		n--
		if b64[len(b64)-2] == '=' {
			n--
		}
	}
	var head [12]byte
	if _, err := base64.StdEncoding.Decode(head[:], b64[:16]); err != nil {
		return false
	}
	if head[0] != 0x16 || n-5 != be16(head[3:5]) {
		return false
	}
	return clientHello(head[:11]) == yes
}

// ftpWatch follows one chunk of server replies after confirmation.
func (c *Classifier) ftpWatch(st *State, data []byte) {
	if st.seen[0]+st.seen[1] > violationWindow {
		st.pending &^= 1 << recFTPWatch
		return
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	f := &st.sx.ftp
	for _, b := range data {
		if b == '\n' {
			c.ftpReplyLine(st)
			f.lineLen = 0
			continue
		}
		if f.lineLen < 4 {
			f.head[f.lineLen] = b
		}
		if f.lineLen < 0xffff {
			f.lineLen++
		}
		if f.lineLen == 4 {
			c.ftpReplyLine(st)
		}
		if st.pending&(1<<recFTPWatch) == 0 {
			return
		}
	}
}

// ftpReplyLine evaluates a reply line once its first 4 bytes are known (or
// it ended shorter). It runs at most once per line.
func (c *Classifier) ftpReplyLine(st *State) {
	f := &st.sx.ftp
	n := int(f.lineLen)
	if n > 4 {
		return // evaluated at 4 bytes
	}
	h := f.head[:n]
	if n > 0 && h[n-1] == '\r' {
		h = h[:n-1]
	}
	if f.lineLen == 4 && f.head[3] == '\r' {
		// A 3-byte line: evaluated at its end.
		h = f.head[:3]
	}
	if len(h) == 0 {
		return
	}
	code := 0
	if len(h) >= 3 && isDigit(h[0]) && isDigit(h[1]) && isDigit(h[2]) {
		code = int(h[0]-'0')*100 + int(h[1]-'0')*10 + int(h[2]-'0')
	}
	if f.pending != 0 {
		if code == int(f.pending) && len(h) > 3 && h[3] == ' ' {
			f.pending = 0
		}
		return
	}
	violation := false
	switch {
	case code == 0, code < 100:
		violation = true
	case len(h) > 3 && h[3] == '-':
		f.pending = uint16(code)
	case len(h) > 3 && h[3] != ' ':
		violation = true
	case code == 234:
		// AUTH TLS accepted: the rest is TLS.
		st.pending &^= 1 << recFTPWatch
	}
	if violation {
		// Before confirmation this disables FTP; after, it deletes it.
		st.violate(svcFTP)
		st.pending &^= 1 << recFTPWatch
	}
}
