package classify

import (
	"encoding/binary"
	"testing"
)

// Sessions built from the specifications of DNP3 (IEEE 1815 link layer),
// MQTT 3.1.1, SOCKS (RFC 1928, SOCKS4), syslog (RFC 5424, RFC 6587),
// Finger (RFC 1288), RFB (RFC 6143) and WebSocket (RFC 6455): for each a
// confirming session, a one-sided capture, near misses Zeek does not
// confirm and a violation after the confirmation.

// dnp3Frame builds a link-layer frame carrying user data (transport byte
// included) with its header and block CRCs.
func dnp3Frame(ctrl byte, user []byte) []byte {
	h := []byte{0x05, 0x64, byte(5 + len(user)), ctrl, 1, 0, 3, 0}
	crc := dnp3CRC(h)
	b := append(h, byte(crc), byte(crc>>8))
	for len(user) > 0 {
		n := min(len(user), 16)
		crc := dnp3CRC(user[:n])
		b = append(b, user[:n]...)
		b = append(b, byte(crc), byte(crc>>8))
		user = user[n:]
	}
	return b
}

func TestZeekDNP3(t *testing.T) {
	read := dnp3Frame(0xc4, []byte{0xc0, 0xc3, 0x01, 0x3c, 0x02, 0x06})
	resp := dnp3Frame(0x44, []byte{0xc0, 0xc3, 0x81, 0x00, 0x00})
	long := dnp3Frame(0x44, append([]byte{0xc0, 0xc3, 0x81, 0x00, 0x00}, make([]byte, 40)...))
	linkOnly := dnp3Frame(0xc0, nil)
	badHdr := append([]byte{}, read...)
	badHdr[8] ^= 0xff
	badBlock := append([]byte{}, read...)
	badBlock[len(badBlock)-1] ^= 0xff
	runCases(t, []traceCase{
		{name: "dnp3-read", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: []chunk{{true, hx(read)}, {false, hx(resp)}, {false, hx(long)}}},
		{name: "dnp3-udp", t: UDP, origPort: 50000, respPort: 20000, want: "dnp3_udp",
			chunks: []chunk{{true, hx(read)}, {false, hx(resp)}}},
		{name: "dnp3-split-bytes", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: splitChunks([]chunk{{true, hx(read, read)}}, 3)},
		{name: "dnp3-one-sided-response", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: []chunk{{false, hx(resp)}}},
		// Near misses: no signature off port 20000; a bad header CRC before
		// any confirmation; wrong start bytes stop the analyzer quietly.
		{name: "dnp3-other-port", t: TCP, origPort: 50000, respPort: 20001, want: "",
			chunks: []chunk{{true, hx(read)}, {false, hx(resp)}}},
		{name: "dnp3-bad-header-crc", t: TCP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx(badHdr)}, {false, hx(resp)}}},
		{name: "dnp3-bad-magic", t: TCP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx([]byte{0x05, 0x65}, read[2:])}}},
		{name: "dnp3-header-short", t: TCP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx(read[:10])}}},
		// A bad data-block CRC stops the analyzer without a violation: the
		// later bad header is never looked at.
		{name: "dnp3-bad-block-then-bad-header", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: []chunk{{true, hx(badBlock)}, {true, hx(badHdr)}}},
		// DNP3.cc drops the rest of the delivery after a link-only frame:
		// the frame after it in the same chunk is never parsed.
		{name: "dnp3-link-only-quirk", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: []chunk{{true, hx(linkOnly, read, badHdr)}}},
		{name: "dnp3-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx(read)}, {true, hx(badHdr)}}},
		// A link-only frame ends the delivery (ClearEndpointState; return
		// true): a broken frame after it in the same chunk or datagram is
		// never parsed, but the next delivery starts a new header.
		{name: "dnp3-link-only-drops-rest-of-chunk", t: TCP, origPort: 50000, respPort: 20000, want: "dnp3_tcp",
			chunks: []chunk{{true, hx(linkOnly, []byte{0}, badHdr)}}},
		{name: "dnp3-link-only-drops-rest-of-datagram", t: UDP, origPort: 50000, respPort: 20000, want: "dnp3_udp",
			chunks: []chunk{{true, hx(linkOnly, []byte{0}, badHdr)}}},
		{name: "dnp3-link-only-next-chunk-is-parsed", t: TCP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx(linkOnly, []byte{0}, str("no magic here"))}, {true, hx(badHdr)}}},
		{name: "dnp3-link-only-next-datagram-is-parsed", t: UDP, origPort: 50000, respPort: 20000, want: "",
			chunks: []chunk{{true, hx(linkOnly, []byte{0}, str("no magic here"))}, {true, hx(badHdr)}}},
	})
}

// mqttPkt frames an MQTT control packet.
func mqttPkt(fixed byte, body []byte) []byte {
	b := []byte{fixed}
	n := len(body)
	for {
		v := byte(n % 128)
		n /= 128
		if n > 0 {
			v |= 0x80
		}
		b = append(b, v)
		if n == 0 {
			break
		}
	}
	return append(b, body...)
}

func mqttStr(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func TestZeekMQTT(t *testing.T) {
	connect := mqttPkt(0x10, cat(mqttStr("MQTT"), []byte{4, 0xc2, 0, 60}, mqttStr("client-1"), mqttStr("user"), mqttStr("pw")))
	connack := mqttPkt(0x20, []byte{0, 0})
	publish := mqttPkt(0x32, cat(mqttStr("a/b"), []byte{0, 1}, []byte("hello")))
	puback := mqttPkt(0x40, []byte{0, 1})
	badConnect := mqttPkt(0x10, cat(mqttStr("MQTT"), []byte{4, 0x02, 0, 60}, []byte{0, 40, 'x'}))
	session := []chunk{{true, hx(connect)}, {false, hx(connack)}, {true, hx(publish)}, {false, hx(puback)}}
	runCases(t, []traceCase{
		{name: "mqtt-session", t: TCP, origPort: 50000, respPort: 1883, want: "mqtt", chunks: session},
		{name: "mqtt-signature-port", t: TCP, origPort: 50000, respPort: 18830, want: "mqtt", chunks: session},
		{name: "mqtt-split", t: TCP, origPort: 50000, respPort: 1883, want: "mqtt", chunks: splitChunks(session, 3)},
		{name: "mqtt-one-sided-client", t: TCP, origPort: 50000, respPort: 1883, want: "mqtt", chunks: pick(session, true)},
		// Only a CONNECT confirms.
		{name: "mqtt-one-sided-server", t: TCP, origPort: 50000, respPort: 1883, want: "", chunks: pick(session, false)},
		{name: "mqtt-connect-client-id-too-long", t: TCP, origPort: 50000, respPort: 1883, want: "",
			chunks: []chunk{{true, hx(badConnect)}, {false, hx(connack)}}},
		{name: "mqtt-four-length-bytes", t: TCP, origPort: 50000, respPort: 1883, want: "",
			chunks: []chunk{{true, hx([]byte{0x10, 0x80, 0x80, 0x80, 0x01})}}},
		{name: "mqtt-signature-misses", t: TCP, origPort: 50000, respPort: 18830, want: "",
			chunks: []chunk{{true, hx([]byte{0x10, 0x10, 0, 0, 0, 0, 0, 0, 'M', 'Q'})}}},
		{name: "mqtt-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 1883, want: "",
			chunks: []chunk{{true, hx(connect)}, {false, hx(mqttPkt(0x40, []byte{1}))}}},
		// dpd_mqtt matches the stream, across chunks.
		{name: "mqtt-signature-split", t: TCP, origPort: 50000, respPort: 18830, want: "mqtt",
			chunks: []chunk{{true, hx(connect[:3])}, {true, hx(connect[3:])}, {false, hx(connack)}}},
		{name: "mqtt-signature-split-bytewise", t: TCP, origPort: 50000, respPort: 18830, want: "mqtt",
			chunks: splitChunks(session, 1)},
		{name: "mqtt-signature-split-misses", t: TCP, origPort: 50000, respPort: 18830, want: "",
			chunks: []chunk{{true, hx([]byte{0x10, 0x10, 0, 0})}, {true, hx([]byte{0, 0, 0, 0, 'M', 'Q'})}}},
		{name: "mqtt-signature-split-bad-connect", t: TCP, origPort: 50000, respPort: 18830, want: "",
			chunks: []chunk{{true, hx(badConnect[:2])}, {true, hx(badConnect[2:])}, {false, hx(connack)}}},
	})
}

func TestZeekSOCKS(t *testing.T) {
	get := str("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
	ok := str("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	req := cat([]byte{5, 1, 0, 1, 93, 184, 216, 34}, []byte{0, 80})
	rep := cat([]byte{5, 0, 0, 1, 10, 0, 0, 1}, []byte{0x1f, 0x90})
	v5 := []chunk{{true, "050100"}, {false, "0500"}, {true, hx(req)}, {false, hx(rep)}, {true, hx(get)}, {false, hx(ok)}}
	userpass := []chunk{{true, "050102"}, {false, "0502"}, {true, hx([]byte{1, 4}, str("anna"), []byte{2}, str("pw"))},
		{false, "0100"}, {true, hx(req)}, {false, hx(rep)}}
	badReserved := append([]byte{}, req...)
	badReserved[2] = 1
	v4 := []chunk{{true, hx([]byte{4, 1, 0, 80, 93, 184, 216, 34}, str("anna\x00"))}, {false, "005a000000000000"}}
	runCases(t, []traceCase{
		{name: "socks5-http-inside", t: TCP, origPort: 50000, respPort: 1080, want: "socks,http", chunks: v5},
		{name: "socks5-signature-port", t: TCP, origPort: 50000, respPort: 9050, want: "socks,http", chunks: v5},
		{name: "socks5-userpass", t: TCP, origPort: 50000, respPort: 1080, want: "socks", chunks: userpass},
		{name: "socks5-one-sided", t: TCP, origPort: 50000, respPort: 1080, want: "", chunks: pick(v5, true)},
		{name: "socks5-partial", t: TCP, origPort: 50000, respPort: 1080, partial: true, want: "", chunks: v5},
		// A standard SOCKSv4 reply starts with 0, which Zeek reads as the
		// version: a violation.
		{name: "socks4-standard-reply", t: TCP, origPort: 50000, respPort: 1080, want: "", chunks: v4},
		{name: "socks5-reserved-byte", t: TCP, origPort: 50000, respPort: 1080, want: "",
			chunks: []chunk{v5[0], v5[1], {true, hx(badReserved)}, v5[3]}},
		{name: "socks5-unknown-reply-address", t: TCP, origPort: 50000, respPort: 1080, want: "",
			chunks: []chunk{v5[0], v5[1], v5[2], {false, "0500000900"}}},
	})
}

func TestZeekSyslog(t *testing.T) {
	msg := str("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
	runCases(t, []traceCase{
		{name: "syslog-udp", t: UDP, origPort: 50000, respPort: 514, want: "syslog", chunks: []chunk{{true, hx(msg)}}},
		{name: "syslog-udp-no-priority", t: UDP, origPort: 50000, respPort: 514, want: "syslog",
			chunks: []chunk{{true, hx(str("just text"))}}},
		{name: "syslog-udp-other-port", t: UDP, origPort: 50000, respPort: 515, want: "", chunks: []chunk{{true, hx(msg)}}},
		{name: "syslog-udp-bad-priority", t: UDP, origPort: 50000, respPort: 514, want: "",
			chunks: []chunk{{true, hx(str("<3x>hello"))}, {true, hx(msg)}}},
		{name: "syslog-udp-violation-after-confirmation", t: UDP, origPort: 50000, respPort: 514, want: "",
			chunks: []chunk{{true, hx(msg)}, {true, hx(str("<>"))}}},
		{name: "syslog-tcp-non-transparent", t: TCP, origPort: 50000, respPort: 514, want: "syslog_tcp",
			chunks: []chunk{{true, hx(msg, str("\n"), msg, str("\n"))}}},
		{name: "syslog-tcp-octet-counting", t: TCP, origPort: 50000, respPort: 514, want: "syslog_tcp",
			chunks: splitChunks([]chunk{{true, hx(str("12 <13>hello wo"), str("5 abcde"))}}, 4)},
		{name: "syslog-tcp-unterminated", t: TCP, origPort: 50000, respPort: 514, want: "", chunks: []chunk{{true, hx(msg)}}},
		{name: "syslog-tcp-leading-zero", t: TCP, origPort: 50000, respPort: 514, want: "",
			chunks: []chunk{{true, hx(str("012 <13>hello wo"))}}},
		{name: "syslog-tcp-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 514, want: "",
			chunks: []chunk{{true, hx(msg, str("\n"))}, {true, hx(str("garbage\n"))}}},
	})
}

func TestZeekFinger(t *testing.T) {
	reply := str("Login: anna           \t\t\tName: Anna\r\nDirectory: /home/anna\r\n")
	runCases(t, []traceCase{
		{name: "finger-user", t: TCP, origPort: 50000, respPort: 79, want: "finger",
			chunks: []chunk{{true, hx(str("anna\r\n"))}, {false, hx(reply)}}},
		{name: "finger-whois-empty", t: TCP, origPort: 50000, respPort: 79, want: "finger",
			chunks: []chunk{{true, hx(str("/W\r\n"))}}},
		{name: "finger-one-sided-reply", t: TCP, origPort: 50000, respPort: 79, want: "finger", chunks: []chunk{{false, hx(reply)}}},
		{name: "finger-list-short-reply", t: TCP, origPort: 50000, respPort: 79, want: "",
			chunks: []chunk{{true, hx(str("\r\n"))}, {false, hx(str("No one.\r\n"))}}},
		{name: "finger-other-port", t: TCP, origPort: 50000, respPort: 80, want: "",
			chunks: []chunk{{true, hx(str("anna\r\n"))}, {false, hx(str("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"))}}},
		{name: "finger-binary-request", t: TCP, origPort: 50000, respPort: 79, want: "",
			chunks: []chunk{{true, hx([]byte{0xff, 0xfe, '\r', '\n'})}}},
		{name: "finger-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 79, want: "",
			chunks: []chunk{{true, hx(str("anna\r\n"))}, {false, hx([]byte{0xc3, 0x28, '\n'})}}},
	})
}

func TestZeekRFB(t *testing.T) {
	serverInit := cat([]byte{4, 0, 3, 0}, make([]byte, 16), []byte{0, 0, 0, 4}, str("desk"))
	session := []chunk{
		{false, hx(str("RFB 003.008\n"))},
		{true, hx(str("RFB 003.008\n"))},
		{false, "020102"},
		{true, "02"},
		{false, hx(make([]byte, 16))},
		{true, hx(make([]byte, 16))},
		{false, "00000000"},
		{true, "01"},
		{false, hx(serverInit)},
		{true, hx([]byte{3, 0, 0, 0, 0, 0, 4, 0, 0, 3})},
	}
	v33 := []chunk{
		{false, hx(str("RFB 003.003\n"))}, {true, hx(str("RFB 003.003\n"))}, {false, "00000001"},
		{true, "01"}, {false, hx(serverInit)}, {true, hx([]byte{4, 1, 0, 0, 0, 0, 0, 0x61})},
	}
	runCases(t, []traceCase{
		{name: "rfb-3.8-vnc-auth", t: TCP, origPort: 50000, respPort: 5900, want: "rfb", chunks: session},
		{name: "rfb-3.3-no-auth", t: TCP, origPort: 50000, respPort: 5901, want: "rfb", chunks: v33},
		{name: "rfb-one-sided", t: TCP, origPort: 50000, respPort: 5900, want: "", chunks: pick(session, true)},
		{name: "rfb-partial", t: TCP, origPort: 50000, respPort: 5900, partial: true, want: "", chunks: session},
		{name: "rfb-server-not-rfb", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: []chunk{{false, hx(str("SSH-2.0-x\r\n"))}, {true, hx(str("RFB 003.008\n"))}}},
		{name: "rfb-bad-version-literal", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: []chunk{{false, hx(str("RFB 003.008\n"))}, {true, hx(str("RFB_003.008\n"))}}},
		{name: "rfb-violation-unknown-selection", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: []chunk{session[0], session[1], session[2], {true, "05"}}},
		{name: "rfb-violation-unknown-client-message", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: append(append([]chunk{}, session...), chunk{true, "fa00"})},
		// Zeek parses each side in arrival order: a server that sends its
		// security types before the client's version sent data while it
		// waited (WaitData, then InvalidData throws), so the client's
		// version is never parsed and nothing confirms.
		{name: "rfb-server-version-and-types-in-one-segment", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: append([]chunk{{false, hx(str("RFB 003.008\n"), []byte{2, 1, 2})}}, session[1:2:2]...)},
		{name: "rfb-server-types-before-client-version", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: []chunk{session[0], session[2], session[1], session[3]}},
		{name: "rfb-split-bytewise", t: TCP, origPort: 50000, respPort: 5900, want: "rfb", chunks: splitChunks(session, 1)},
		{name: "rfb-client-version-first", t: TCP, origPort: 50000, respPort: 5900, want: "rfb",
			chunks: []chunk{session[1], session[0], session[2], session[3]}},
		// The client's selection right behind its version is parsed at
		// once (the client is not waiting in 3.8): the same session.
		{name: "rfb-client-version-and-selection-in-one-segment", t: TCP, origPort: 50000, respPort: 5900, want: "rfb",
			chunks: append([]chunk{session[0], {true, hx(str("RFB 003.008\n"), []byte{2})}, session[2]}, session[4:]...)},
		// The minor version is read with strtol: white space and a sign.
		{name: "rfb-minor-version-leading-space", t: TCP, origPort: 50000, respPort: 5900, want: "rfb",
			chunks: withClientVersion(session, "RFB 003. 08\n")},
		{name: "rfb-minor-version-plus-sign", t: TCP, origPort: 50000, respPort: 5900, want: "rfb",
			chunks: withClientVersion(session, "RFB 003.+08\n")},
		{name: "rfb-minor-version-minus-sign-is-3.3", t: TCP, origPort: 50000, respPort: 5900, want: "",
			chunks: withClientVersion(session, "RFB 003.-08\n")},
		{name: "rfb-minor-version-minus-sign-3.3-session", t: TCP, origPort: 50000, respPort: 5900, want: "rfb",
			chunks: withClientVersion(v33, "RFB 003.-08\n")},
	})
}

// withClientVersion returns an RFB session whose client ProtocolVersion
// (its second chunk) is v.
func withClientVersion(session []chunk, v string) []chunk {
	out := append([]chunk{}, session...)
	out[1] = chunk{true, hx(str(v))}
	return out
}

func TestZeekWebSocket(t *testing.T) {
	req := str("GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp := str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
	masked := []byte{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}
	runCases(t, []traceCase{
		{name: "websocket-text", t: TCP, origPort: 50000, respPort: 80, want: "http,websocket",
			chunks: []chunk{{true, hx(req)}, {false, hx(resp)}, {true, hx(masked)}, {false, "810548656c6c6f"}}},
		{name: "websocket-server-only-frame", t: TCP, origPort: 50000, respPort: 80, want: "http,websocket",
			chunks: []chunk{{true, hx(req)}, {false, hx(resp, []byte{0x81, 0x02, 'h', 'i'})}}},
		{name: "websocket-fragmented", t: TCP, origPort: 50000, respPort: 80, want: "http,websocket",
			chunks: []chunk{{true, hx(req)}, {false, hx(resp)}, {false, "01026869"}, {false, "800121"}}},
		{name: "websocket-no-frame", t: TCP, origPort: 50000, respPort: 80, want: "http",
			chunks: []chunk{{true, hx(req)}, {false, hx(resp)}}},
		{name: "websocket-without-connection-upgrade", t: TCP, origPort: 50000, respPort: 80, want: "http",
			chunks: []chunk{{true, hx(req)}, {false, hx(str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
				[]byte{0x81, 0x02, 'h', 'i'})}}},
		// Another Upgrade token starts a PIA on the raw stream.
		{name: "upgrade-other-protocol-dpd", t: TCP, origPort: 50000, respPort: 80, want: "http,ssl",
			chunks: []chunk{{true, hx(str("GET / HTTP/1.1\r\nUpgrade: TLS/1.2\r\nConnection: Upgrade\r\n\r\n"))},
				{false, hx(str("HTTP/1.1 101 Switching\r\nUpgrade: TLS/1.2\r\nConnection: Upgrade\r\n\r\n"))},
				{true, hexClientHello}}},
	})
}

func FuzzMoreAnalyzers(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hx(dnp3Frame(0xc4, []byte{0xc0, 0xc3, 0x01}))}))
	f.Add(seedChunks(1, chunk{true, hx(mqttPkt(0x10, cat(mqttStr("MQTT"), []byte{4, 2, 0, 60}, mqttStr("c"))))}))
	f.Add(seedChunks(2, chunk{true, "050100"}, chunk{false, "0500"}))
	f.Add(seedChunks(3, chunk{true, hx(str("<13>hi\n"))}))
	f.Add(seedChunks(4, chunk{true, hx(str("anna\r\n"))}))
	f.Add(seedChunks(5, chunk{false, hx(str("RFB 003.008\n"))}, chunk{true, hx(str("RFB 003.008\n"))}))
	tcp := fuzzTarget{enabled: "all", t: TCP, ports: []uint16{20000, 1883, 1080, 514, 79, 5900, 80}}
	udp := fuzzTarget{enabled: "all", t: UDP, ports: []uint16{20000, 514}}
	f.Fuzz(func(t *testing.T, data []byte) {
		mqttSig(data)
		socks4ClientSig(data)
		socks5ServerSig(data)
		fingerRequest(data)
		fingerReply(data)
		rfbSig(data)
		webSocketMessage(data)
		fuzzConn(t, tcp, data)
		fuzzConn(t, udp, data)
	})
}
