package classify

import "bytes"

// HTTP upgrades (Zeek's HTTP_Analyzer::ReplyMade and HTTP_Upgrade) and
// the WebSocket analyzer (WebSocket.cc, websocket-protocol.pac,
// websocket-analyzer.pac).
//
// A 101 reply to the only pending request, with a "Connection: upgrade"
// header and an "Upgrade" header, upgrades the connection once the reply's
// header block ends: the Upgrade token found in HTTP::upgrade_analyzers
// ("websocket", also lowercased) starts that analyzer on the rest of both
// streams; any other token starts a fresh PIA, whose signature-enabled
// recognizers run on the rest (innerDPD).
//
// WebSocket: each direction is a sequence of frames (FIN, RSV, opcode;
// MASK and a 7-bit length, extended by 2 or 8 bytes; a 4-byte masking key
// when masked; the payload). The analyzer confirms once a whole message
// (the frame with FIN set) parsed, from either side. With
// WebSocket::use_dpd_default (T) the text and binary payload goes to a PIA
// too; netbased does not model that inner DPD (the unmasked payload would
// need reassembling from the frames).
//
// Bound: the prefix.

// httpUpgradeHeaders reads a 101 reply's header block (b starts at the
// status line): the token of Connection and of Upgrade.
func httpUpgradeHeaders(b []byte) (connUpgrade bool, upgrade []byte) {
	it := lineIter{b: b}
	it.next() // the status line
	for n := 0; n < 64; n++ {
		line, _, ok := it.next()
		if !ok || len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name, value := line[:colon], skipSpace(line[colon+1:])
		token := value
		for i, v := range value {
			if v == ',' || v == ';' || isSpace(v) {
				token = value[:i]
				break
			}
		}
		switch {
		case equalFold(name, "connection"):
			connUpgrade = equalFold(token, "upgrade")
		case equalFold(name, "upgrade"):
			upgrade = token
		}
	}
	return connUpgrade, upgrade
}

// httpUpgrade follows an upgrade after the first reply line parsed.
func (c *Classifier) httpUpgrade(st *State, in *input) verdict {
	resp := skipEmptyLines(in.pre[1])
	line, _, ok := nextLine(resp)
	if !ok {
		return in.needMore(1)
	}
	_, rest := firstWord(line)
	if code, _ := firstWord(rest); string(code) != "101" {
		return done
	}
	re := httpHeaderEnd(resp)
	if re < 0 {
		return in.needMore(1)
	}
	connUpgrade, token := httpUpgradeHeaders(resp[:re])
	if !connUpgrade || len(token) == 0 {
		return done
	}
	oe := httpHeaderEnd(in.pre[0])
	if oe < 0 {
		return in.needMore(0)
	}
	orig, rsp := in.pre[0][oe:], resp[re:]
	if !equalFold(token, "websocket") {
		return c.innerDPD(st, orig, rsp, in.more, true)
	}
	if webSocketMessage(orig) == yes || webSocketMessage(rsp) == yes {
		c.confirm(st, svcWebSocket)
		return done
	}
	if in.more[0] || in.more[1] {
		return undecided
	}
	return done
}

// skipEmptyLines drops the empty lines HTTP tolerates before a reply.
func skipEmptyLines(b []byte) []byte {
	for {
		line, n, ok := nextLine(b)
		if !ok || len(line) > 0 {
			return b
		}
		b = b[n:]
	}
}

// webSocketMessage reports yes when b starts with frames ending in one with
// FIN set, more when b ends inside them.
func webSocketMessage(b []byte) tri {
	for n := 0; n < 64; n++ {
		if len(b) < 2 {
			return more
		}
		fin := b[0]&0x80 != 0
		l := uint64(b[1] & 0x7f)
		h := 2
		switch l {
		case 126:
			if len(b) < 4 {
				return more
			}
			l, h = uint64(be16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return more
			}
			l, h = uint64(be32(b[2:]))<<32|uint64(be32(b[6:])), 10
		}
		if b[1]&0x80 != 0 {
			h += 4
		}
		if uint64(len(b)) < uint64(h) || uint64(len(b)-h) < l {
			return more
		}
		if fin {
			return yes
		}
		b = b[h+int(l):]
	}
	return no
}
