package classify

import (
	"bytes"
	"net/netip"
)

// Expected connections (Zeek's Analyzer::schedule_analyzer).
//
// Some Zeek scripts name a connection's service before any analyzer sees
// it: the control connection announces where a data connection will go,
// the script schedules an analyzer for it, and when the connection arrives
// (scheduled_analyzer_applied) the script adds its own label:
//
//   - base/protocols/ftp/main.zeek: a client PORT/EPRT command (the server
//     will connect to the announced address and port) or a 227/229 reply
//     to PASV/EPSV (the client will connect) gives "ftp-data";
//   - base/protocols/irc/dcc-send.zeek: a "PRIVMSG … :\x01DCC SEND name addr
//     port size\x01" line in either direction gives "irc-dcc-data" (any
//     originator);
//   - base/protocols/ftp/gridftp.zeek labels the control connection itself
//     "gridftp" when the TLS handshake carried in its ADAT exchange
//     completes (ssl_established) after an AUTH whose argument contains
//     GSSAPI (see ScriptServices).
//
// classify only reads the bytes: once FTP or IRC is confirmed on a TCP
// connection, a line watch follows both directions for the rest of the
// connection (the recognizers' chunk and prefix bounds do not apply to it)
// and queues an Expectation per announcement; the caller takes them with
// TakeExpectations and keeps the table of pending data connections.
//
// Bounds: a line is kept up to expectMaxLine bytes (longer lines are
// analyzed truncated, IRC lines over 512 bytes are ignored as IRC.cc does),
// at most expectMaxQueue expectations wait between two takes (more are
// counted and dropped), ADAT tokens decode into at most adatMaxToken bytes.
// The watch stops where Zeek's analyzer stops parsing lines: after AUTH TLS
// is accepted (234), after IRC's STARTTLS (670), or when a violation
// removed the FTP analyzer.

// Data-connection service names the scripts add.
const (
	ServiceFTPData    = "ftp-data"
	ServiceIRCDCCData = "irc-dcc-data"
	ServiceGridFTP    = "gridftp"
)

// Originator says which host will open an expected connection.
type Originator uint8

// Originators of expected connections.
const (
	// OriginatorAny: any host (schedule_analyzer with 0.0.0.0; IRC DCC).
	OriginatorAny Originator = iota
	// OriginatorControlOrig: the control connection's originator (passive
	// FTP: the client connects to the address the server announced).
	OriginatorControlOrig
	// OriginatorControlResp: the control connection's responder (active
	// FTP: the server connects to the address the client announced).
	OriginatorControlResp
)

// Expectation is one announced data connection: Originator (relative to the
// control connection) will open a TCP connection to Resp:Port, and the
// scripts will give it Service.
type Expectation struct {
	Service    string
	Originator Originator
	// Resp is the announced address. RespIsControlResp is set instead for
	// an EPSV reply without an address (main.zeek uses the control
	// connection's responder).
	Resp              netip.Addr
	RespIsControlResp bool
	Port              uint16
}

// Bounds of the watch (see the comment at the top of this file).
const (
	expectMaxLine  = 16 * 1024
	expectMaxQueue = 32
	adatMaxToken   = 12 * 1024
)

// The watch's protocol.
const (
	watchFTP uint8 = iota + 1
	watchIRC
)

// expectWatch is the line watch of one connection.
type expectWatch struct {
	proto   uint8
	part    [2][]byte // a line not yet complete, per direction
	long    [2]bool   // the current line passed expectMaxLine
	lastCR  [2]bool   // IRC: the previous byte ended a line with CR
	queue   []Expectation
	dropped uint32
	// catchUp: the watch started in the current chunk; fed are the prefix
	// bytes per direction it was given then.
	catchUp bool
	fed     [2]uint32

	// FTP (main.zeek's pending-command pairing, reduced to what PASV/EPSV
	// need).
	pasv       bool   // a PASV or EPSV is waiting for its reply
	replied    bool   // a final reply came after the last PASV/EPSV
	replyCode  uint16 // code of an open multi-line reply
	authTLS    bool   // FTP.cc's auth_requested == "TLS"
	authGSSAPI bool   // … == "GSSAPI"
	lastAuthGS bool   // gridftp.zeek: the last AUTH argument contains GSSAPI
	cmdSeen    bool   // a valid command was seen: FTP.cc is confirmed from here on
	adat       *adatState
}

// adatState follows the TLS records the ADAT exchange carries
// (FTP_ADAT_Analyzer feeding Zeek's SSL analyzer) up to ssl_established.
type adatState struct {
	first       bool // the next client token is the first one
	established bool
	rec         [2]tlsWalk
	scratch     []byte
}

// tlsWalk walks one direction's TLS records.
type tlsWalk struct {
	hdr       [5]byte
	hdrN      uint8
	remaining int
	encrypted bool // a ChangeCipherSpec was sent: later records are ciphertext
}

// startWatch begins the line watch for proto on st (once).
func (st *State) startWatch(proto uint8) bool {
	if st.transport != TCP || st.flags&(flagWatch|flagWatchEnded) != 0 {
		return false
	}
	if st.sx == nil {
		st.sx = &streamState{}
	}
	st.sx.ew = &expectWatch{proto: proto}
	st.flags |= flagWatch
	return true
}

// watch returns the running line watch, or nil.
func (st *State) watch() *expectWatch {
	if st.flags&flagWatch == 0 {
		return nil
	}
	if st.sx == nil || st.sx.ew == nil {
		st.flags &^= flagWatch // cannot happen; never dereference nil
		return nil
	}
	return st.sx.ew
}

// stopWatch ends the line watch and drops its buffers (queued
// expectations stay until taken).
func (st *State) stopWatch() {
	st.flags &^= flagWatch
	st.flags |= flagWatchEnded // never again on this connection
	if st.sx != nil && st.sx.ew != nil {
		ew := st.sx.ew
		ew.part = [2][]byte{}
		ew.adat = nil
		if len(ew.queue) == 0 {
			st.sx.ew = nil
		}
	}
	st.dropStream()
}

// TakeExpectations appends the expectations announced since the last call
// to dst and forgets them. It allocates nothing when there are none.
func (st *State) TakeExpectations(dst []Expectation) []Expectation {
	if st.sx == nil || st.sx.ew == nil || len(st.sx.ew.queue) == 0 {
		return dst
	}
	ew := st.sx.ew
	dst = append(dst, ew.queue...)
	ew.queue = ew.queue[:0]
	if st.flags&flagWatch == 0 {
		st.sx.ew = nil
		st.dropStream()
	}
	return dst
}

// DroppedExpectations reports how many announcements were dropped because
// more than expectMaxQueue waited between two takes.
func (st *State) DroppedExpectations() uint32 {
	if st.sx == nil || st.sx.ew == nil {
		return 0
	}
	return st.sx.ew.dropped
}

// ScriptServices appends the services Zeek's scripts (not an analyzer
// confirmation) add to the connection itself: "gridftp".
func (st *State) ScriptServices(dst []string) []string {
	if st.flags&flagGridFTP != 0 {
		dst = append(dst, ServiceGridFTP)
	}
	return dst
}

func (ew *expectWatch) push(e Expectation) {
	if len(ew.queue) >= expectMaxQueue {
		ew.dropped++
		return
	}
	ew.queue = append(ew.queue, e)
}

// beginWatch starts the line watch for proto once the recognizer
// confirmed it, and feeds it the prefix buffered so far (originator first,
// then responder: the interleaving inside the prefix is not kept). Deliver
// feeds it the rest of the current chunk (watchTail) and every later chunk.
func (c *Classifier) beginWatch(st *State, in *input, proto uint8) {
	if in.inner || !st.startWatch(proto) {
		return
	}
	ew := st.sx.ew
	ew.catchUp = true
	for i := 0; i < 2; i++ {
		ew.fed[i] = uint32(len(in.pre[i]))
		if len(in.pre[i]) > 0 {
			c.watchChunk(st, i == 0, in.pre[i])
		}
	}
}

// watchTail feeds the part of the chunk that started the watch which the
// prefix did not hold (past prefixCap).
func (c *Classifier) watchTail(st *State, fromOrig bool, data []byte) {
	ew := st.watch()
	if ew == nil || !ew.catchUp {
		return
	}
	ew.catchUp = false
	d := dirIndex(fromOrig)
	if st.seen[d] > ew.fed[d] {
		n := st.seen[d] - ew.fed[d]
		if n > uint32(len(data)) {
			n = uint32(len(data))
		}
		c.watchChunk(st, fromOrig, data[len(data)-int(n):])
	}
}

// watchChunk splits one direction's bytes into lines.
func (c *Classifier) watchChunk(st *State, fromOrig bool, data []byte) {
	d := dirIndex(fromOrig)
	for len(data) > 0 {
		ew := st.watch()
		if ew == nil {
			return
		}
		if ew.proto == watchFTP && st.disabled(svcFTP) || ew.proto == watchIRC && st.disabled(svcIRC) {
			// dpd.zeek disabled the analyzer: no more lines are parsed.
			st.stopWatch()
			return
		}
		var i int
		if ew.proto == watchIRC {
			if ew.lastCR[d] && data[0] == '\n' {
				// CR LF is one end of line (ContentLine).
				data = data[1:]
				ew.lastCR[d] = false
				continue
			}
			i = lineEnd(data, '\r')
		} else {
			i = lineEnd(data, 0)
		}
		if i == len(data) {
			// No end of line: keep the partial line (bounded).
			ew.lastCR[d] = false
			room := expectMaxLine - len(ew.part[d])
			chunk := data
			if len(chunk) > room {
				chunk = chunk[:room]
				ew.long[d] = true
			}
			if len(chunk) > 0 {
				ew.part[d] = append(ew.part[d], chunk...)
			}
			return
		}
		line := data[:i]
		if len(ew.part[d]) > 0 {
			room := expectMaxLine - len(ew.part[d])
			if len(line) > room {
				line = line[:room]
				ew.long[d] = true
			}
			ew.part[d] = append(ew.part[d], line...)
			line = ew.part[d]
		}
		ew.lastCR[d] = data[i] == '\r'
		if n := len(line); n > 0 && line[n-1] == '\r' && ew.proto == watchFTP {
			line = line[:n-1]
		}
		long := ew.long[d]
		if ew.proto == watchFTP {
			c.ftpWatchLine(st, ew, d == 0, line, long)
		} else {
			c.ircWatchLine(st, ew, line, long)
		}
		ew.part[d] = ew.part[d][:0]
		if cap(ew.part[d]) > 1024 {
			ew.part[d] = nil // do not keep a large buffer for short lines
		}
		ew.long[d] = false
		data = data[i+1:]
	}
}

// lineEnd returns the index of the first LF in b (or of the first byte
// other before it, when other is not zero), or len(b) when there is none.
func lineEnd(b []byte, other byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if other != 0 {
		if j := bytes.IndexByte(b[:i], other); j >= 0 {
			i = j
		}
	}
	return i
}

// watchGap drops a direction's partial line after a hole in its stream.
func (st *State) watchGap(d int) {
	ew := st.watch()
	if ew == nil {
		return
	}
	ew.part[d] = ew.part[d][:0]
	ew.long[d] = false
	ew.lastCR[d] = false
}

// watchFlip swaps the watch's directions.
func (ew *expectWatch) flip() {
	ew.part[0], ew.part[1] = ew.part[1], ew.part[0]
	ew.long[0], ew.long[1] = ew.long[1], ew.long[0]
	ew.lastCR[0], ew.lastCR[1] = ew.lastCR[1], ew.lastCR[0]
	if ew.adat != nil {
		ew.adat.rec[0], ew.adat.rec[1] = ew.adat.rec[1], ew.adat.rec[0]
	}
}

// ircWatchLine handles one IRC line (either direction).
func (c *Classifier) ircWatchLine(st *State, ew *expectWatch, line []byte, long bool) {
	if long {
		return // longer than 512 bytes: IRC.cc ignores it
	}
	addr, port, dcc, starttls := ircLine(line)
	if dcc {
		ew.push(Expectation{Service: ServiceIRCDCCData, Originator: OriginatorAny, Resp: addr, Port: port})
	}
	if starttls {
		st.stopWatch()
	}
}

// ftpWatchLine handles one FTP line: client commands (FTP.cc's
// ftp_request) and server replies (ftp_reply), then what the ADAT analyzer
// sees of them.
func (c *Classifier) ftpWatchLine(st *State, ew *expectWatch, client bool, line []byte, long bool) {
	if client {
		c.ftpWatchCommand(st, ew, line, long)
	} else {
		c.ftpWatchReply(st, ew, line, long)
	}
}

func (c *Classifier) ftpWatchCommand(st *State, ew *expectWatch, line []byte, long bool) {
	w, rest := firstWord(line)
	if !isFTPCommand(w) {
		if len(w) > ftpMaxCommand && isFTPCommandChars(w) && ew.cmdSeen && st.has(svcFTP) {
			// FTP.cc: a confirmed analyzer's command longer than
			// FTP::max_command_length is LimitReachedWeird, which adds
			// the history letter X.
			st.flags |= flagLimitReached
		}
		return // FTP.cc ignores the line (nothing forwarded either)
	}
	ew.cmdSeen = true
	arg := skipSpace(rest)
	switch {
	case equalFold(w, "PORT"), equalFold(w, "EPRT"):
		var a netip.Addr
		var p uint16
		var ok bool
		if equalFold(w, "PORT") {
			a, p, ok = parseFTPPort(arg)
		} else {
			a, p, ok = parseFTPEPort(arg)
		}
		if ok && !long {
			ew.push(Expectation{Service: ServiceFTPData, Originator: OriginatorControlResp, Resp: a, Port: p})
		}
	}
	// The PASV/EPSV stays pending (main.zeek's pending commands) until a
	// later command follows a reply.
	if equalFold(w, "PASV") || equalFold(w, "EPSV") {
		ew.pasv, ew.replied = true, false
	} else if ew.replied {
		ew.pasv = false
	}
	// FTP.cc: strncmp(upper(cmd), "AUTH", cmd_len) — "AUT" counts too.
	if equalFold(w, "AUTH") || equalFold(w, "AUT") {
		ew.authTLS = string(arg) == "TLS"
		ew.authGSSAPI = string(arg) == "GSSAPI"
	}
	if equalFold(w, "AUTH") {
		ew.lastAuthGS = indexOf(arg, "GSSAPI") >= 0
	}
	if ew.adat != nil {
		// FTP_ADAT_Analyzer, client side (its command compare is a
		// case-sensitive prefix compare).
		if string(w) == "ADAT" || string(w) == "ADA" {
			c.adatToken(st, ew, 0, arg, long)
		} else if string(w) == "AUTH" || string(w) == "AUT" {
			ew.adat = nil // security state reset
		}
	}
}

func (c *Classifier) ftpWatchReply(st *State, ew *expectWatch, line []byte, long bool) {
	code := 0
	if len(line) >= 3 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) {
		code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	}
	cont := false
	var msg []byte
	if ew.replyCode != 0 {
		if code == int(ew.replyCode) && len(line) > 3 && line[3] == ' ' {
			msg = skipSpace(line[3:])
			ew.replyCode = 0
		} else {
			cont, code = true, 0
		}
	} else {
		switch {
		case code == 0, code < 100:
			return // violation: no event, nothing forwarded
		case len(line) > 3 && line[3] == '-':
			ew.replyCode = uint16(code)
			msg = skipSpace(line[4:])
			cont = true
		case len(line) > 3 && line[3] != ' ':
			return // violation
		default:
			msg = skipSpace(line[3:])
		}
	}
	if code == 234 && ew.authTLS {
		// The rest of both streams is TLS: no more lines.
		st.stopWatch()
		return
	}
	if code == 334 && ew.authGSSAPI && ew.adat == nil {
		ew.adat = &adatState{first: true}
	}
	if !cont {
		ew.replied = true
		if (code == 227 || code == 229) && ew.pasv && !long {
			var a netip.Addr
			var p uint16
			var ok bool
			if code == 227 {
				a, p, ok = parseFTPPasv(msg)
			} else {
				a, p, ok = parseFTPEpsv(msg)
			}
			if ok {
				e := Expectation{Service: ServiceFTPData, Originator: OriginatorControlOrig, Resp: a, Port: p}
				if code == 229 && a == netip.IPv6Unspecified() {
					e.Resp, e.RespIsControlResp = netip.Addr{}, true
				}
				ew.push(e)
			}
		}
	}
	if ew.adat != nil {
		// FTP_ADAT_Analyzer, server side: the raw line's code.
		rc := 0
		if len(line) >= 3 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) {
			rc = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
		}
		switch rc {
		case 232, 234:
			ew.adat = nil
		case 235, 334, 335:
			l := line[3:]
			if len(l) > 0 && l[0] == '-' {
				l = l[1:]
			}
			l = skipSpace(l)
			if len(l) >= 5 && string(l[:5]) == "ADAT=" {
				c.adatToken(st, ew, 1, l[5:], long)
			}
			if rc == 235 {
				ew.adat = nil
			}
		case 421, 431, 500, 501, 503, 535, 631, 632, 633:
			ew.adat = nil
		}
	}
}

// adatToken decodes one ADAT token of direction d and walks its TLS
// records.
func (c *Classifier) adatToken(st *State, ew *expectWatch, d int, b64 []byte, long bool) {
	a := ew.adat
	if long || len(b64)/4*3 > adatMaxToken {
		ew.adat = nil // cannot follow the handshake any more
		return
	}
	a.scratch = decodeBase64Lenient(a.scratch[:0], b64)
	msg := a.scratch
	if d == 0 && a.first {
		a.first = false
		// The first token must look like a TLS handshake record whose
		// length field matches the decoded length.
		if len(msg) < 5 || msg[0] != 0x16 || len(msg)-5 != be16(msg[3:5]) {
			ew.adat = nil
			return
		}
		if clientHello(msg[:min(len(msg), 11)]) == yes {
			c.tlsChildConfirm(st)
		}
	}
	for len(msg) > 0 && !a.established {
		w := &a.rec[d]
		if w.remaining == 0 {
			for w.hdrN < 5 && len(msg) > 0 {
				w.hdr[w.hdrN] = msg[0]
				w.hdrN++
				msg = msg[1:]
			}
			if w.hdrN < 5 {
				return
			}
			w.remaining = be16(w.hdr[3:5])
			if w.remaining == 0 {
				c.adatRecord(st, ew, d)
				continue
			}
		}
		n := min(w.remaining, len(msg))
		w.remaining -= n
		msg = msg[n:]
		if w.remaining == 0 {
			c.adatRecord(st, ew, d)
		}
	}
}

// adatRecord is one complete TLS record of direction d: a ChangeCipherSpec
// makes the side encrypted; a record from an encrypted side while both are
// encrypted is where Zeek's SSL analyzer raises ssl_established.
func (c *Classifier) adatRecord(st *State, ew *expectWatch, d int) {
	a := ew.adat
	w := &a.rec[d]
	typ := w.hdr[0]
	w.hdrN = 0
	if w.encrypted {
		if a.rec[1-d].encrypted && !a.established {
			a.established = true
			if ew.lastAuthGS {
				st.flags |= flagGridFTP
			}
		}
		return
	}
	if typ == 0x14 {
		w.encrypted = true
	}
}
