package classify

// SSL/TLS recognition.
//
// Confirmation (Zeek's SSL analyzer, proc_client_hello): a ClientHello whose
// client version is valid. A ServerHello alone never confirms. The check is
// header-level: the TLS record header (content type 22, version 3.x), the
// handshake header (type 1) and the client version; or an SSLv2
// CLIENT-HELLO (2- or 3-byte record header, message type 1, version 0.2 or
// 3.x).
//
// Attachment: the SSL ports (443, 465, 563, 585, 614, 636, 989, 990, 992,
// 993, 995, 5223) or, elsewhere, Zeek's dpd_tls_client signature (a TLS
// ClientHello record header) or dpd_tls_server
// signature (a ServerHello, possibly after an alert) within the DPD window;
// either one enables the analyzer, which then needs the ClientHello. Also as a child: after STARTTLS (smtp, pop3,
// imap, irc, ftp AUTH TLS, ldap StartTLS, mysql SSL request), inside RDP
// negotiated to TLS/CredSSP, and inside QUIC Initial packets.
// Bound: the ClientHello's first 11 bytes, at most prefixCap bytes in.

// validTLSVersion reports whether v is a client version Zeek's SSL analyzer
// accepts: SSLv2, SSLv3, TLS 1.0–1.3, TLS 1.3 drafts (0x7fxx) and DTLS.
func validTLSVersion(v int) bool {
	switch {
	case v == 0x0002:
		return true
	case v >= 0x0300 && v <= 0x0304:
		return true
	case v >= 0x7f00 && v <= 0x7fff:
		return true
	case v == 0xfeff || v == 0xfefd || v == 0xfefc:
		return true
	}
	return false
}

// clientHello checks that b begins with a TLS or SSLv2 ClientHello.
func clientHello(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0] == 0x16 {
		// TLS record: 16 03 0x LL LL | 01 LL LL LL | vv vv
		if len(b) >= 2 && b[1] != 0x03 {
			return no
		}
		if len(b) >= 3 && b[2] > 0x04 {
			return no
		}
		if len(b) >= 6 && b[5] != 0x01 {
			return no
		}
		if len(b) >= 5 && be16(b[3:5]) < 6 {
			return no
		}
		if len(b) < 11 {
			return more
		}
		if !validTLSVersion(be16(b[9:11])) {
			return no
		}
		return yes
	}
	return sslv2ClientHello(b)
}

// sslv2ClientHello checks for an SSLv2 CLIENT-HELLO record.
func sslv2ClientHello(b []byte) tri {
	hdr := 3
	if b[0]&0x80 != 0 {
		hdr = 2
	} else if b[0]&0x40 != 0 {
		return no
	}
	if len(b) < hdr+3 {
		if len(b) > hdr && b[hdr] != 0x01 {
			return no
		}
		return more
	}
	var l int
	if hdr == 2 {
		l = int(b[0]&0x7f)<<8 | int(b[1])
	} else {
		l = int(b[0]&0x3f)<<8 | int(b[1])
	}
	if b[hdr] != 0x01 || l < 9 {
		return no
	}
	v := be16(b[hdr+1 : hdr+3])
	if v != 0x0002 && (v < 0x0300 || v > 0x0303) {
		return no
	}
	return yes
}

// sslClientSig is HEAD's dpd_tls_client:
// ^\x16\x03[\x00-\x03]..\x01...\x03[\x00-\x03] (older Zeek also had SSLv2
// alternatives; HEAD's signature has none, so SSLv2 is recognized only on
// the SSL ports).
func sslClientSig(b []byte) tri {
	return matchPattern(b, "\x16\x03[0123]..\x01...\x03[0123]")
}

// sslServerSig is HEAD's dpd_tls_server:
// ^(\x15\x03[\x00-\x03]....)?\x16\x03[\x00-\x03]..\x02...((\x03[\x00-\x04])|(\x7F[\x00-\x50]))
func sslServerSig(b []byte) tri {
	res := no
	for _, p := range [...]struct {
		pat   string
		draft int // index of the byte after \x7f that must be <= 0x50, or 0
	}{
		{"\x16\x03[0123]..\x02...\x03[01234]", 0},
		{"\x16\x03[0123]..\x02...\x7f.", 10},
		{"\x15\x03[0123]....\x16\x03[0123]..\x02...\x03[01234]", 0},
		{"\x15\x03[0123]....\x16\x03[0123]..\x02...\x7f.", 17},
	} {
		switch matchPattern(b, p.pat) {
		case yes:
			if p.draft == 0 || b[p.draft] <= 0x50 {
				return yes
			}
		case more:
			res = more
		}
	}
	return res
}

// matchPattern matches b's beginning against a tiny pattern language: '.'
// is any byte, "[...]" a class of the listed bytes, where the digits '0'–'4'
// stand for the bytes 0x00–0x04; anything else is literal.
func matchPattern(b []byte, p string) tri {
	i := 0
	for j := 0; j < len(p); {
		if i >= len(b) {
			return more
		}
		c := b[i]
		switch p[j] {
		case '.':
			j++
		case '[':
			k := j + 1
			found := false
			for k < len(p) && p[k] != ']' {
				v := p[k]
				if v >= '0' && v <= '4' {
					v -= '0'
				}
				if v == c {
					found = true
				}
				k++
			}
			if !found {
				return no
			}
			j = k + 1
		default:
			if p[j] != c {
				return no
			}
			j++
		}
		i++
	}
	return yes
}

// ssl is the TCP SSL recognizer.
func (c *Classifier) ssl(st *State, in *input) verdict {
	if st.flags&flagSSLHello != 0 && !in.inner {
		return sslServerFirst(st, in)
	}
	if clientHello(in.pre[0]) == no {
		return done // the confirming evidence can no longer appear
	}
	if !in.port {
		cs := sslClientSig(in.sig[0])
		ss := sslServerSig(in.sig[1])
		if cs != yes && ss != yes {
			if (cs == more && sigCanGrow(in, 0)) || (ss == more && sigCanGrow(in, 1)) {
				return undecided
			}
			return done
		}
	}
	switch clientHello(in.pre[0]) {
	case yes:
		c.confirm(st, svcSSL)
		if in.inner {
			return done
		}
		st.flags |= flagSSLHello
		return sslServerFirst(st, in)
	case more:
		return in.needMore(0)
	}
	return done
}

// sslServerFirst runs after the ClientHello: the server's first bytes must
// start a TLS record (content type 20–24, major version 3) or an SSLv2
// record; otherwise the SSL analyzer raises a violation ("unknown SSL record
// type") and dpd.zeek deletes the service (e.g. an HTTP server on 443).
func sslServerFirst(st *State, in *input) verdict {
	switch tlsRecordStart(in.pre[1]) {
	case more:
		if in.more[1] {
			in.only = 1
			return undecided
		}
	case no:
		st.violate(svcSSL)
	}
	return done
}

// tlsRecordStart checks the first bytes of a TLS or SSLv2 record stream.
func tlsRecordStart(b []byte) tri {
	if len(b) == 0 {
		return more
	}
	if b[0]&0x80 != 0 {
		return yes // SSLv2 two-byte header
	}
	if b[0] < 20 || b[0] > 24 {
		return no
	}
	if len(b) < 2 {
		return more
	}
	if b[1] != 3 {
		return no
	}
	return yes
}

// sigCanGrow reports whether direction d's signature view can still get
// more bytes (the DPD window is still open for it).
func sigCanGrow(in *input, d int) bool {
	return in.more[d] && len(in.sig[d]) == len(in.pre[d]) && !in.windowClosed
}

// tlsChild confirms ssl if b (a stream after a STARTTLS-like upgrade) begins
// with a ClientHello; it returns false while more bytes are needed.
func (c *Classifier) tlsChild(st *State, b []byte, canGrow bool) bool {
	if st.flags&flagPartial != 0 {
		return true // SSL.cc skips partial connections, as a child too
	}
	switch clientHello(b) {
	case yes:
		c.confirm(st, svcSSL)
		return true
	case more:
		return !canGrow
	}
	return true
}

// tlsChildConfirm confirms ssl for a child that found a ClientHello.
func (c *Classifier) tlsChildConfirm(st *State) {
	if st.flags&flagPartial == 0 {
		c.confirm(st, svcSSL)
	}
}

// dtlsTries bounds how many originator datagrams are checked for a DTLS
// ClientHello (the signature is anchored at a datagram's start; the
// ClientHello is the first or, after a HelloVerifyRequest, the second).
const dtlsTries = 4

// dtlsClientHello is the DTLS client signature plus a valid version:
// 16 FE FF|FD, 7×00, 3 any, 01, 11 any, FE FF|FD.
func dtlsClientHello(b []byte) bool {
	if len(b) < 27 || b[0] != 0x16 || b[1] != 0xfe || (b[2] != 0xff && b[2] != 0xfd) {
		return false
	}
	for i := 3; i < 10; i++ {
		if b[i] != 0 {
			return false
		}
	}
	if b[13] != 0x01 {
		return false
	}
	return b[25] == 0xfe && (b[26] == 0xff || b[26] == 0xfd)
}
