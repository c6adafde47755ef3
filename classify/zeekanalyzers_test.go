package classify

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"
)

// Sessions built from the protocols' specifications (RFC 4253 for SSH, the
// Modbus/TCP MBAP header, DCE/RPC C706 connection-oriented PDUs,
// [MS-RDPEUDP]), each with a confirming session, a one-sided capture, a near
// miss Zeek does not confirm and a violation after the confirmation.

// sshPkt frames an SSH2 binary packet: length, padding length, payload,
// padding to a multiple of 8.
func sshPkt(payload ...byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

// sshKexInitPkt is SSH_MSG_KEXINIT offering kex.
func sshKexInitPkt(kex ...string) []byte {
	b := append([]byte{20}, make([]byte, 16)...)
	list := func(names ...string) {
		s := strings.Join(names, ",")
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	list(kex...)
	list("ssh-ed25519")
	list("aes128-ctr")
	list("aes128-ctr")
	list("hmac-sha2-256")
	list("hmac-sha2-256")
	list("none")
	list("none")
	list()
	list()
	b = append(b, 0, 0, 0, 0, 0)
	return sshPkt(b...)
}

// sshKexMsg is a key-exchange message of type typ with a 32-byte string.
func sshKexMsg(typ byte) []byte {
	b := []byte{typ, 0, 0, 0, 32}
	return sshPkt(append(b, make([]byte, 32)...)...)
}

// ssh1Pkt frames an SSH1 packet: length (type+data+CRC), 8-len%8 padding,
// type, data, CRC.
func ssh1Pkt(typ byte, data []byte) []byte {
	n := uint32(1 + len(data) + 4)
	b := binary.BigEndian.AppendUint32(nil, n)
	b = append(b, make([]byte, 8-n%8)...)
	b = append(b, typ)
	b = append(b, data...)
	return append(b, 0, 0, 0, 0)
}

func hx(parts ...[]byte) string {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return hex.EncodeToString(b)
}

func str(s string) []byte { return []byte(s) }

// sshSession is an OpenSSH-like SSH2 session: server banner, client banner
// and KEXINIT, server KEXINIT, ECDH init and reply, NEWKEYS both ways.
func sshSession(kex string) []chunk {
	return []chunk{
		{false, hx(str("SSH-2.0-OpenSSH_8.4\r\n"))},
		{true, hx(str("SSH-2.0-OpenSSH_8.4\r\n"))},
		{true, hx(sshKexInitPkt(kex, "ext-info-c"))},
		{false, hx(sshKexInitPkt(kex))},
		{true, hx(sshKexMsg(30))},
		{false, hx(sshKexMsg(31), sshPkt(21))},
		{true, hx(sshPkt(21), []byte{0xde, 0xad, 0xbe, 0xef})},
	}
}

func TestZeekSSH(t *testing.T) {
	full := sshSession("curve25519-sha256")
	cases := []traceCase{
		{name: "ssh2-session", t: TCP, origPort: 50000, respPort: 22, chunks: full, want: "ssh"},
		{name: "ssh2-session-other-port-signature", t: TCP, origPort: 50000, respPort: 2222, chunks: full, want: "ssh"},
		{name: "ssh2-dh-group-exchange", t: TCP, origPort: 50000, respPort: 22, want: "ssh", chunks: []chunk{
			{false, hx(str("SSH-1.99-OpenSSH_3.1p1\n"))},
			{true, hx(str("SSH-2.0-OpenSSH_3.6.1p1\n"), sshKexInitPkt("diffie-hellman-group-exchange-sha1"))},
			{false, hx(sshKexInitPkt("diffie-hellman-group-exchange-sha1"))},
			{true, hx(sshPkt(34, 0, 0, 4, 0))}, {false, hx(sshKexMsg(31))}, {true, hx(sshKexMsg(32))},
			{false, hx(sshKexMsg(33), sshPkt(21))}}},
		{name: "ssh2-server-pre-banner", t: TCP, origPort: 50000, respPort: 22, want: "ssh", chunks: append([]chunk{
			{false, hx(str("Welcome\r\n"))}}, full...)},
		{name: "ssh2-split-byte-by-byte", t: TCP, origPort: 50000, respPort: 2222, want: "ssh", chunks: splitChunks(full, 16)},
		{name: "ssh1-session", t: TCP, origPort: 50000, respPort: 22, want: "ssh", chunks: []chunk{
			{false, hx(str("SSH-1.5-1.2.27\n"))},
			{true, hx(str("SSH-1.5-1.2.27\n"))},
			{false, hx(ssh1Pkt(2, make([]byte, 40)))},
			{true, hx(ssh1Pkt(3, make([]byte, 40)))}}},
		{name: "ssh1-client-199-server", t: TCP, origPort: 50000, respPort: 22, want: "ssh", chunks: []chunk{
			{false, hx(str("SSH-1.99-OpenSSH_2.9\n"))},
			{true, hx(str("SSH-1.5-1.2.27\n"))},
			{false, hx(ssh1Pkt(2, make([]byte, 40)))},
			{true, hx(ssh1Pkt(3, make([]byte, 40)))}}},
		// One-sided captures: the other side's version is never known, so
		// the first binary packet throws in Zeek's parser.
		{name: "ssh2-client-side-only", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: pick(full, true)},
		{name: "ssh2-server-side-only", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: pick(full, false)},
		// Near misses.
		{name: "ssh2-partial-connection", t: TCP, origPort: 50000, respPort: 22, partial: true, chunks: full, want: ""},
		{name: "ssh2-server-kexinit-before-client-version", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: []chunk{
			{false, hx(str("SSH-2.0-x\r\n"), sshKexInitPkt("curve25519-sha256"))},
			{true, hx(str("SSH-2.0-y\r\n"), sshKexInitPkt("curve25519-sha256"))},
			{true, hx(sshKexMsg(30))}, {false, hx(sshKexMsg(31), sshPkt(21))}, {true, hx(sshPkt(21))}}},
		{name: "ssh1-client-ssh2-server", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: []chunk{
			{false, hx(str("SSH-2.0-x\r\n"))}, {true, hx(str("SSH-1.5-y\n"))},
			{true, hx(sshKexInitPkt("curve25519-sha256"))}, {false, hx(sshPkt(21))}}},
		{name: "ssh-signature-needs-both-sides", t: TCP, origPort: 50000, respPort: 2222, want: "", chunks: append([]chunk{
			{false, hx(str("Welcome\r\n"))}}, full...)},
		{name: "ssh2-newkeys-unfinished", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: []chunk{
			full[0], full[1], full[2], full[3], full[4], {false, hx(sshKexMsg(31), sshPkt(21)[:8])}}},
		{name: "ssh2-ecdh-unexpected-message", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: []chunk{
			full[0], full[1], full[2], full[3], {true, hx(sshPkt(2, 0, 0, 0, 0))}, full[5], full[6]}},
		// A violation after the confirmation removes the service: the
		// server confirmed with NEWKEYS, the client's next key-exchange
		// message cannot be parsed in the ECDH state.
		{name: "ssh2-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 22, want: "", chunks: []chunk{
			full[0], full[1], full[2], full[3], {false, hx(sshKexMsg(31), sshPkt(21))}, {true, hx(sshPkt(2, 0, 0, 0, 0))}}},
		{name: "http-on-port-22", t: TCP, origPort: 50000, respPort: 22, want: "http", chunks: []chunk{
			{true, hx(str("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))}, {false, hx(str("HTTP/1.1 200 OK\r\n\r\n"))}}},
	}
	runCases(t, cases)
}

func TestZeekSSHGap(t *testing.T) {
	full := sshSession("curve25519-sha256")
	for _, gapOrig := range []bool{true, false} {
		c := New(All)
		var st State
		c.Start(&st, TCP, 50000, 22, false)
		for i, ch := range full {
			if i == 3 {
				c.Gap(&st, gapOrig) // SSH.cc: had_gap stops both directions
			}
			if st.Wants(ch.orig) {
				c.Deliver(&st, ch.orig, mustHex(t, ch.hex))
			}
		}
		if got := strings.Join(st.Services(nil), ","); got != "" {
			t.Errorf("gap from orig=%v: services %q, want none", gapOrig, got)
		}
	}
}

func TestZeekSSHKexStates(t *testing.T) {
	for alg, want := range map[string]uint8{
		"curve25519-sha256": sshKexECC, "curve25519-sha256@libssh.org": sshKexECC, "ecdh-sha2-nistp256": sshKexECC,
		"diffie-hellman-group14-sha1": sshKexDH, "diffie-hellman-group-exchange-sha256": sshKexGEX,
		"gss-group14-sha1-toWM5Slw5Ew8Mqkay+al2g==": sshKexGSS, "rsa2048-sha256": sshKexRSA,
		"sntrup761x25519-sha512@openssh.com": sshKexECC, "mlkem768x25519-sha256": sshKexECC, "made-up": sshKexInit,
	} {
		if got := sshKexState([]byte(alg)); got != want {
			t.Errorf("%s: state %d, want %d", alg, got, want)
		}
	}
}

// Modbus/TCP: MBAP header (transaction, protocol 0, length, unit) + PDU.
func mbap(tid uint16, unit byte, pdu ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, tid)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(1+len(pdu)))
	return append(append(b, unit), pdu...)
}

func TestZeekModbus(t *testing.T) {
	readReq := mbap(1, 1, 0x03, 0x00, 0x00, 0x00, 0x02) // read holding registers 0..1
	readResp := mbap(1, 1, 0x03, 0x04, 0x00, 0x2a, 0x00, 0x2b)
	bad := []byte{0, 2, 0, 0, 0, 1, 1} // length 1: no room for the function code
	runCases(t, []traceCase{
		{name: "modbus-session", t: TCP, origPort: 50000, respPort: 502, want: "modbus",
			chunks: []chunk{{true, hx(readReq)}, {false, hx(readResp)}}},
		{name: "modbus-split", t: TCP, origPort: 50000, respPort: 502, want: "modbus",
			chunks: []chunk{{true, hx(readReq[:3])}, {true, hx(readReq[3:])}}},
		{name: "modbus-request-only", t: TCP, origPort: 50000, respPort: 502, want: "modbus",
			chunks: []chunk{{true, hx(readReq)}}},
		{name: "modbus-other-port", t: TCP, origPort: 50000, respPort: 5020, want: "",
			chunks: []chunk{{true, hx(readReq)}, {false, hx(readResp)}}},
		{name: "modbus-truncated-pdu", t: TCP, origPort: 50000, respPort: 502, want: "",
			chunks: []chunk{{true, hx(readReq[:9])}}},
		{name: "modbus-bad-length", t: TCP, origPort: 50000, respPort: 502, want: "",
			chunks: []chunk{{true, hx(bad)}, {false, hx(readResp)}}},
		{name: "modbus-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 502, want: "",
			chunks: []chunk{{true, hx(readReq)}, {false, hx(bad)}}},
	})
}

// dcePDU is a connection-oriented DCE/RPC PDU (little-endian drep).
func dcePDU(ptype byte, body []byte) []byte {
	b := []byte{5, 0, ptype, 0x03, 0x10, 0, 0, 0}
	b = binary.LittleEndian.AppendUint16(b, uint16(16+len(body)))
	b = binary.LittleEndian.AppendUint16(b, 0)
	b = binary.LittleEndian.AppendUint32(b, 1)
	return append(b, body...)
}

func TestZeekDCERPC(t *testing.T) {
	bind := dcePDU(11, append([]byte{0xb8, 0x10, 0xb8, 0x10, 0, 0, 0, 0, 1, 0, 0, 0}, make([]byte, 44)...))
	bindAck := dcePDU(12, make([]byte, 40))
	badLen := []byte{5, 0, 11, 3, 0x10, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0}
	runCases(t, []traceCase{
		{name: "dce-rpc-bind-dynamic-port", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind)}, {false, hx(bindAck)}}},
		{name: "dce-rpc-epmapper-port", t: TCP, origPort: 50000, respPort: 135, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind)}, {false, hx(bindAck)}}},
		{name: "dce-rpc-one-sided-bind", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind[:20])}, {true, hx(bind[20:])}}},
		{name: "dce-rpc-signature-not-at-start", t: TCP, origPort: 50000, respPort: 49667, want: "",
			chunks: []chunk{{true, hx(str("x"), bind)}, {false, hx(str("y"), bindAck)}}},
		{name: "dce-rpc-version-4", t: TCP, origPort: 50000, respPort: 49667, want: "",
			chunks: []chunk{{true, hx([]byte{4}, bind[1:])}}},
		// The client's PDU throws (ignored: DCE_RPC is in
		// DPD::ignore_violations); the server's bind_ack still confirms.
		{name: "dce-rpc-frag-length-short-one-side", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(badLen)}, {false, hx(bindAck)}}},
		{name: "dce-rpc-frag-length-short-both-sides", t: TCP, origPort: 50000, respPort: 49667, want: "",
			chunks: []chunk{{true, hx(badLen)}, {false, hx(badLen)}}},
		// DPD::ignore_violations holds DCE_RPC: a bad PDU after the
		// confirmation changes nothing.
		{name: "dce-rpc-violation-after-confirmation-ignored", t: TCP, origPort: 50000, respPort: 135, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind)}, {false, hx(badLen)}}},
		// dpd_dce_rpc matches the stream, across chunks: a first chunk
		// shorter than the signature leaves it undecided.
		{name: "dce-rpc-signature-split-1-3", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind[:1])}, {true, hx(bind[1:])}}},
		{name: "dce-rpc-signature-split-bytewise", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(bind[:1])}, {true, hx(bind[1:2])}, {true, hx(bind[2:3])}, {true, hx(bind[3:])}}},
		{name: "dce-rpc-signature-split-server-waits", t: TCP, origPort: 50000, respPort: 49667, want: "dce_rpc",
			chunks: []chunk{{true, hx(str("not dce"))}, {false, hx(bindAck[:2])}, {false, hx(bindAck[2:])}}},
		{name: "dce-rpc-signature-split-fails", t: TCP, origPort: 50000, respPort: 49667, want: "",
			chunks: []chunk{{true, hx(bind[:2])}, {true, hx([]byte{0x20}, bind[3:])}}},
		{name: "dce-rpc-signature-split-past-window", t: TCP, origPort: 50000, respPort: 49667, want: "",
			chunks: []chunk{{true, hx(bind[:2])}, {false, hx(make([]byte, 1100))}, {true, hx(bind[2:])}}},
	})
}

// rdpudp builds an RDPUDP datagram: FEC header and the rest, padded to n.
func rdpudp(snSourceAck uint32, flags uint16, rest []byte, n int) []byte {
	b := binary.BigEndian.AppendUint32(nil, snSourceAck)
	b = binary.BigEndian.AppendUint16(b, 64)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, rest...)
	if len(b) < n {
		b = append(b, make([]byte, n-len(b))...)
	}
	return b
}

func TestZeekRDPEUDP(t *testing.T) {
	syn := rdpudp(0xffffffff, 0x0001, []byte{0, 0, 0, 1, 4, 0xc8, 4, 0xc8}, 1232)
	synAck := rdpudp(0x00000001, 0x0005, []byte{0, 0, 0, 7, 4, 0xc8, 4, 0xc8}, 1232)
	ack := rdpudp(0x00000007, 0x0004, []byte{0, 0}, 12)
	runCases(t, []traceCase{
		{name: "rdpeudp-handshake", t: UDP, origPort: 50000, respPort: 3389, want: "rdpeudp",
			chunks: []chunk{{true, hx(syn)}, {false, hx(synAck)}, {true, hx(ack)}}},
		{name: "rdpeudp-signature-other-port", t: UDP, origPort: 50000, respPort: 3390, want: "rdpeudp",
			chunks: []chunk{{true, hx(syn)}, {false, hx(synAck)}}},
		{name: "rdpeudp-syn-only", t: UDP, origPort: 50000, respPort: 3389, want: "",
			chunks: []chunk{{true, hx(syn)}, {true, hx(syn)}, {true, hx(syn)}}},
		{name: "rdpeudp-synack-without-syn", t: UDP, origPort: 50000, respPort: 3389, want: "",
			chunks: []chunk{{false, hx(synAck)}, {true, hx(ack)}}},
		{name: "rdpeudp-syn-wrong-ack-field", t: UDP, origPort: 50000, respPort: 3389, want: "",
			chunks: []chunk{{true, hx(rdpudp(0, 0x0001, nil, 1232))}, {false, hx(synAck)}}},
		{name: "rdpeudp-other-port-not-1232", t: UDP, origPort: 50000, respPort: 3390, want: "",
			chunks: []chunk{{true, hx(syn[:1000])}, {false, hx(synAck)}}},
		{name: "rdpeudp-violation-after-confirmation", t: UDP, origPort: 50000, respPort: 3389, want: "",
			chunks: []chunk{{true, hx(syn)}, {false, hx(synAck)}, {true, hx([]byte{0, 0, 0, 7})}}},
	})
}

func TestTrackRemovedServices(t *testing.T) {
	readReq := mbap(1, 1, 0x03, 0x00, 0x00, 0x00, 0x02)
	bad := []byte{0, 2, 0, 0, 0, 1, 1}
	for _, tc := range []struct {
		track bool
		want  string
	}{{false, ""}, {true, "modbus,-modbus"}} {
		c := NewWithOptions(All, Options{TrackRemovedServices: tc.track})
		var st State
		c.Start(&st, TCP, 50000, 502, false)
		c.Deliver(&st, true, readReq)
		c.Deliver(&st, false, bad)
		if got := strings.Join(st.Services(nil), ","); got != tc.want {
			t.Errorf("track=%v: services %q, want %q", tc.track, got, tc.want)
		}
		if st.Has("modbus") != tc.track {
			t.Errorf("track=%v: Has(modbus) = %v", tc.track, st.Has("modbus"))
		}
	}
	// A violation before any confirmation adds nothing, tracked or not.
	c := NewWithOptions(All, Options{TrackRemovedServices: true})
	var st State
	c.Start(&st, TCP, 50000, 502, false)
	c.Deliver(&st, true, bad)
	c.Deliver(&st, false, readReq)
	if got := st.Services(nil); len(got) != 0 {
		t.Errorf("violation before confirmation: services %q", got)
	}
}

func runCases(t *testing.T, cases []traceCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := run(t, tc); got != tc.want {
				t.Errorf("services = %q, want %q", got, tc.want)
			}
		})
	}
}

// pick keeps one direction's chunks.
func pick(chunks []chunk, orig bool) []chunk {
	var out []chunk
	for _, c := range chunks {
		if c.orig == orig {
			out = append(out, c)
		}
	}
	return out
}

// splitChunks cuts every chunk into pieces of n bytes.
func splitChunks(chunks []chunk, n int) []chunk {
	var out []chunk
	for _, c := range chunks {
		b := mustHexNoT(c.hex)
		for len(b) > 0 {
			k := min(n, len(b))
			out = append(out, chunk{c.orig, hex.EncodeToString(b[:k])})
			b = b[k:]
		}
	}
	return out
}

func FuzzModbus(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hx(mbap(1, 1, 3, 0, 0, 0, 2))}, chunk{false, hx(mbap(1, 1, 3, 2, 0, 1))}))
	f.Add(seedChunks(0, chunk{true, "00020000000101"}))
	ft := fuzzTarget{enabled: "modbus", t: TCP, ports: []uint16{502, 503}}
	f.Fuzz(func(t *testing.T, data []byte) {
		modbusPDU(data)
		fuzzConn(t, ft, data)
	})
}

func FuzzDCERPC(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hx(dcePDU(11, make([]byte, 56)))}, chunk{false, hx(dcePDU(12, make([]byte, 40)))}))
	f.Add(seedChunks(0, chunk{false, "05000b03100000000800000001000000"}))
	ft := fuzzTarget{enabled: "dce_rpc", t: TCP, ports: []uint16{135, 49667}}
	f.Fuzz(func(t *testing.T, data []byte) {
		dceRPCSig(data)
		if len(data) >= 16 {
			dceHeader(data)
		}
		fuzzConn(t, ft, data)
	})
}

func FuzzRDPEUDP(f *testing.F) {
	syn := rdpudp(0xffffffff, 0x0001, nil, 1232)
	f.Add(seedChunks(0, chunk{true, hx(syn)}, chunk{false, hx(rdpudp(1, 5, nil, 1232))}, chunk{true, "00000007"}))
	ft := fuzzTarget{enabled: "rdpeudp", t: UDP, ports: []uint16{3389, 3390}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rdpeudpSig(data)
		fuzzConn(t, ft, data)
	})
}

func TestZeekSIP(t *testing.T) {
	invite := "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060\r\nContent-Length: 0\r\n\r\n"
	trying := "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 10.0.0.1:5060\r\nContent-Length: 0\r\n\r\n"
	ok := "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"
	bye := "BYE sip:alice@10.0.0.1 SIP/2.0\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
	options := "OPTIONS sip:alice@10.0.0.1 SIP/2.0\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	runCases(t, []traceCase{
		{name: "sip-invite-trying", t: UDP, origPort: 5060, respPort: 5060, want: "sip",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(trying))}, {false, hx(str(ok))}}},
		{name: "sip-signature-other-port", t: UDP, origPort: 40000, respPort: 5080, want: "sip",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}}},
		{name: "sip-request-only", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {true, hx(str(invite))}}},
		{name: "sip-reply-without-signature", t: UDP, origPort: 40000, respPort: 5080, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str("SIP/2.0 200OK\r\n\r\n"))}}},
		{name: "sip-not-a-reply", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str("HTTP/1.1 200 OK\r\n\r\n"))}, {false, hx(str(ok))}}},
		{name: "sip-violation-after-confirmation", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {true, hx(str("\r\n\r\n"))}}},
		// SIP.cc DeliverPacket chooses the parser by content, not by
		// direction: the callee's BYE is a request, a reply from the
		// originator confirms.
		{name: "sip-request-from-responder", t: UDP, origPort: 5060, respPort: 5060, want: "sip",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {false, hx(str(bye))}, {true, hx(str(ok))}}},
		{name: "sip-reply-from-originator-confirms", t: UDP, origPort: 5060, respPort: 5060, want: "sip",
			chunks: []chunk{{false, hx(str(options))}, {true, hx(str(ok))}}},
		{name: "sip-reply-from-originator-signature", t: UDP, origPort: 40000, respPort: 5080, want: "sip",
			chunks: []chunk{{true, hx(str(ok))}}},
		// A 2-byte datagram starting '\r' is dropped unparsed; anything
		// longer, or "\n\r", reaches the request parser.
		{name: "sip-crlf-keepalive-ignored", t: UDP, origPort: 5060, respPort: 5060, want: "sip",
			chunks: []chunk{{true, hx(str(invite))}, {true, hx(str("\r\n"))}, {false, hx(str(ok))}, {false, hx(str("\r\n"))}, {true, hx(str("\r\n"))}}},
		{name: "sip-cr-anything-two-bytes-ignored", t: UDP, origPort: 5060, respPort: 5060, want: "sip",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {true, hx(str("\rX"))}}},
		{name: "sip-lfcr-is-a-violation", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {true, hx(str("\n\r"))}}},
		{name: "sip-three-byte-crlf-is-a-violation", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {true, hx(str("\r\n\n"))}}},
		// "SIP/" datagrams of 6 bytes or fewer go to the request parser.
		{name: "sip-six-byte-reply-prefix-is-a-request", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {false, hx(str("SIP/2 "))}}},
		{name: "sip-reply-line-without-status-from-originator", t: UDP, origPort: 5060, respPort: 5060, want: "",
			chunks: []chunk{{true, hx(str(invite))}, {false, hx(str(ok))}, {true, hx(str("SIP/2.0 OK\r\n\r\n"))}}},
	})
}

func FuzzSIP(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hx(str("INVITE sip:a@b SIP/2.0\r\n\r\n"))}, chunk{false, hx(str("SIP/2.0 200 OK\r\n\r\n"))}))
	ft := fuzzTarget{enabled: "sip", t: UDP, ports: []uint16{5060, 5080}}
	f.Fuzz(func(t *testing.T, data []byte) {
		sipSig(data)
		sipRequestLine(data)
		sipReplyLine(data)
		fuzzConn(t, ft, data)
	})
}

// snmpGet is an SNMPv2c GetRequest (RFC 3416) with community "public";
// pduTag A0 is GetRequest, A2 the Response.
func snmpMsg(version byte, pduTag byte) []byte {
	pdu := []byte{pduTag, 0x19, 0x02, 0x04, 0, 0, 0, 1, 0x02, 0x01, 0, 0x02, 0x01, 0,
		0x30, 0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x05, 0x00}
	body := append([]byte{0x02, 0x01, version, 0x04, 0x06}, "public"...)
	body = append(body, pdu...)
	return append([]byte{0x30, byte(len(body))}, body...)
}

func TestZeekSNMP(t *testing.T) {
	get, resp := snmpMsg(1, 0xa0), snmpMsg(1, 0xa2)
	runCases(t, []traceCase{
		{name: "snmp-get-response", t: UDP, origPort: 40000, respPort: 161, want: "snmp",
			chunks: []chunk{{true, hx(get)}, {false, hx(resp)}}},
		{name: "snmp-request-only", t: UDP, origPort: 40000, respPort: 161, want: "",
			chunks: []chunk{{true, hx(get)}, {true, hx(get)}}},
		{name: "snmp-trap-to-162", t: UDP, origPort: 40000, respPort: 162, want: "",
			chunks: []chunk{{true, hx(snmpMsg(0, 0xa4))}}},
		{name: "snmp-other-port", t: UDP, origPort: 40000, respPort: 1161, want: "",
			chunks: []chunk{{true, hx(get)}, {false, hx(resp)}}},
		{name: "snmp-bad-community-tag", t: UDP, origPort: 40000, respPort: 161, want: "",
			chunks: []chunk{{true, hx(get)}, {false, hx([]byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00})}, {false, hx(resp)}}},
		{name: "snmp-violation-after-confirmation", t: UDP, origPort: 40000, respPort: 161, want: "",
			chunks: []chunk{{true, hx(get)}, {false, hx(resp)}, {true, hx(str("garbage"))}}},
	})
}

// ber is a BER element (X.690) with a definite short-form length, or, when
// lenBytes > 0, a long-form length written in that many bytes.
func ber(tag byte, lenBytes int, content ...[]byte) []byte {
	var c []byte
	for _, p := range content {
		c = append(c, p...)
	}
	out := []byte{tag}
	if lenBytes == 0 {
		out = append(out, byte(len(c)))
	} else {
		out = append(out, 0x80|byte(lenBytes))
		for i := lenBytes - 1; i >= 0; i-- {
			if i >= 8 {
				out = append(out, 0)
			} else {
				out = append(out, byte(uint64(len(c))>>(8*i)))
			}
		}
	}
	return append(out, c...)
}

// snmpV2c builds an SNMPv2c message (RFC 3416) whose outer SEQUENCE header
// is seqHdr (nil: a short-form header with the true length) and whose
// version INTEGER content is version.
func snmpV2c(seqHdr, version []byte, pduTag byte) []byte {
	pdu := ber(pduTag, 0, ber(0x02, 0, []byte{0, 0, 0, 1}), ber(0x02, 0, []byte{0}), ber(0x02, 0, []byte{0}),
		ber(0x30, 0, ber(0x30, 0, ber(0x06, 0, []byte{0x2b, 6, 1, 2, 1, 1, 5, 0}), []byte{0x05, 0x00})))
	body := append(ber(0x02, 0, version), ber(0x04, 0, str("public"))...)
	body = append(body, pdu...)
	if seqHdr == nil {
		return ber(0x30, 0, body)
	}
	return append(append([]byte{}, seqHdr...), body...)
}

// snmpV3 builds an SNMPv3 message (RFC 3412): msgGlobalData with the given
// msgFlags, USM security parameters, and the rest (a scopedPDU or an
// encrypted OCTET STRING). flagsTag lets a case put a wrong tag on
// msgFlags.
func snmpV3(flagsTag byte, flags []byte, rest []byte) []byte {
	global := ber(0x30, 0, ber(0x02, 0, []byte{0x12, 0x34}), ber(0x02, 0, []byte{0x05, 0xdc}),
		ber(flagsTag, 0, flags), ber(0x02, 0, []byte{3}))
	secParams := ber(0x04, 0, ber(0x30, 0, ber(0x04, 0, nil), ber(0x02, 0, []byte{0}), ber(0x02, 0, []byte{0}),
		ber(0x04, 0, nil), ber(0x04, 0, nil), ber(0x04, 0, nil)))
	return ber(0x30, 0, ber(0x02, 0, []byte{3}), global, secParams, rest)
}

// TestZeekSNMPBinpac covers binpac's lenience and strictness in the SNMP
// header (snmp-protocol.pac, snmp-analyzer.pac, asn1.pac): any long-form
// length, only the outer SEQUENCE's header read, integers up to 9 bytes,
// and the whole v3Header before proc_header confirms.
func TestZeekSNMPBinpac(t *testing.T) {
	v2 := []byte{1}
	scopedPDU := func(pduTag byte) []byte {
		return ber(0x30, 0, ber(0x04, 0, []byte{0x80, 0, 0x1f, 0x88}), ber(0x04, 0, nil),
			ber(pduTag, 0, ber(0x02, 0, []byte{1}), ber(0x02, 0, []byte{0}), ber(0x02, 0, []byte{0}), ber(0x30, 0)))
	}
	scoped, scopedResp := scopedPDU(0xa0), scopedPDU(0xa2)
	get, resp := snmpV2c(nil, v2, 0xa0), snmpV2c(nil, v2, 0xa2)
	pair := func(name string, q, r []byte, want string) traceCase {
		return traceCase{name: name, t: UDP, origPort: 40000, respPort: 161, want: want,
			chunks: []chunk{{true, hx(q)}, {false, hx(r)}}}
	}
	long := func(n int) []byte { // an outer header whose length takes n bytes
		return ber(0x30, n, get[2:])[:2+n]
	}
	beyond := append([]byte{}, resp...)
	beyond[1] = 0x7f // the outer SEQUENCE claims more than the datagram holds
	nine := []byte{0, 0, 0, 0, 0, 0, 0, 0, 1}
	ten := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	runCases(t, []traceCase{
		pair("snmp-v2c-baseline", get, resp, "snmp"),
		pair("snmp-outer-length-in-5-bytes", snmpV2c(long(5), v2, 0xa0), snmpV2c(long(5), v2, 0xa2), "snmp"),
		pair("snmp-outer-length-in-10-bytes", snmpV2c(long(10), v2, 0xa0), snmpV2c(long(10), v2, 0xa2), "snmp"),
		pair("snmp-outer-length-0x80-is-zero", snmpV2c([]byte{0x30, 0x80}, v2, 0xa0), snmpV2c([]byte{0x30, 0x80}, v2, 0xa2), "snmp"),
		pair("snmp-outer-sequence-past-datagram", get, beyond, "snmp"),
		pair("snmp-outer-length-bytes-missing", get, []byte{0x30, 0x84, 0, 0}, ""),
		pair("snmp-outer-not-a-sequence", get, append([]byte{0x31}, resp[1:]...), ""),
		pair("snmp-version-9-bytes", snmpV2c(nil, nine, 0xa0), snmpV2c(nil, nine, 0xa2), "snmp"),
		pair("snmp-version-10-bytes", snmpV2c(nil, ten, 0xa0), snmpV2c(nil, ten, 0xa2), ""),
		pair("snmp-version-empty-is-v1", snmpV2c(nil, nil, 0xa0), snmpV2c(nil, nil, 0xa2), "snmp"),
		pair("snmp-version-past-datagram", get, []byte{0x30, 0x10, 0x02, 0x05, 0}, ""),
		// A community whose content runs past the datagram throws.
		pair("snmp-community-past-datagram", get, resp[:8], ""),
		// A community length whose 32 low bits are negative as a C int
		// throws (ExceptionInvalidStringLength).
		pair("snmp-community-length-negative-int", get, []byte{0x30, 0x0b, 0x02, 0x01, 0x01, 0x04, 0x84, 0x80, 0, 0, 0, 'x'}, ""),
		// A length of 2^32+1 is 1 as binpac's int.
		pair("snmp-community-length-wraps-to-1", get, []byte{0x30, 0x0c, 0x02, 0x01, 0x01, 0x04, 0x85, 1, 0, 0, 0, 1, 'x'}, "snmp"),
		pair("snmp-unknown-version-confirms", get, ber(0x30, 0, ber(0x02, 0, []byte{7}), str("anything")), "snmp"),
		pair("snmp-v3-plaintext", snmpV3(0x04, []byte{0x04}, scoped), snmpV3(0x04, []byte{0x00}, scopedResp), "snmp"),
		pair("snmp-v3-encrypted", snmpV3(0x04, []byte{0x07}, ber(0x04, 0, []byte{1, 2, 3})), snmpV3(0x04, []byte{0x03}, ber(0x04, 0, []byte{4, 5, 6})), "snmp"),
		// proc_v3_header_data: msgFlags must be exactly one byte.
		pair("snmp-v3-flags-two-bytes", snmpV3(0x04, []byte{0x04}, scoped), snmpV3(0x04, []byte{0, 0}, scopedResp), ""),
		pair("snmp-v3-flags-empty", snmpV3(0x04, []byte{0x04}, scoped), snmpV3(0x04, nil, scopedResp), ""),
		pair("snmp-v3-flags-not-octet-string", snmpV3(0x04, []byte{0x04}, scoped), snmpV3(0x02, []byte{0}, scopedResp), ""),
		// The whole v3Header must parse before proc_header confirms.
		pair("snmp-v3-security-parameters-missing", get, ber(0x30, 0, ber(0x02, 0, []byte{3}),
			ber(0x30, 0, ber(0x02, 0, []byte{1}), ber(0x02, 0, []byte{1}), ber(0x04, 0, []byte{0}), ber(0x02, 0, []byte{3}))), ""),
		pair("snmp-v3-context-name-missing", get, snmpV3(0x04, []byte{0}, ber(0x30, 0, ber(0x04, 0, []byte{1}))), ""),
	})
}

// TestZeekSNMPFlagsViolationTracked: a responder's v3 datagram whose
// msgFlags is two bytes raises proc_v3_header_data's violation and then
// proc_header's confirmation; dpd.zeek adds the service and removes it in
// analyzer_failed, queued behind the confirmation, so a tracked removal
// shows both names. From the originator it is a violation only.
func TestZeekSNMPFlagsViolationTracked(t *testing.T) {
	bad := snmpV3(0x04, []byte{0, 0}, ber(0x04, 0, []byte{1}))
	for _, tc := range []struct {
		fromOrig bool
		want     string
	}{{false, "snmp,-snmp"}, {true, ""}} {
		c := NewWithOptions(All, Options{TrackRemovedServices: true})
		var st State
		c.Start(&st, UDP, 40000, 161, false)
		c.Deliver(&st, tc.fromOrig, bad)
		if got := strings.Join(st.Services(nil), ","); got != tc.want {
			t.Errorf("fromOrig=%v: services %q, want %q", tc.fromOrig, got, tc.want)
		}
	}
}

// radiusMsg is an Access-Request (RFC 2865) with a User-Name attribute.
func radiusMsg(code byte, attrs ...byte) []byte {
	b := []byte{code, 7, 0, 0}
	b = append(b, make([]byte, 16)...)
	b = append(b, attrs...)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	return b
}

func TestZeekRADIUS(t *testing.T) {
	req := radiusMsg(1, 1, 7, 'a', 'l', 'i', 'c', 'e')
	accept := radiusMsg(2)
	runCases(t, []traceCase{
		{name: "radius-access", t: UDP, origPort: 40000, respPort: 1812, want: "radius",
			chunks: []chunk{{true, hx(req)}, {false, hx(accept)}}},
		{name: "radius-request-only", t: UDP, origPort: 40000, respPort: 1812, want: "radius",
			chunks: []chunk{{true, hx(req)}}},
		{name: "radius-other-port", t: UDP, origPort: 40000, respPort: 1645, want: "",
			chunks: []chunk{{true, hx(req)}, {false, hx(accept)}}},
		{name: "radius-length-beyond-datagram", t: UDP, origPort: 40000, respPort: 1812, want: "",
			chunks: []chunk{{true, hx(req[:len(req)-3])}, {false, hx(accept)}}},
		{name: "radius-violation-after-confirmation", t: UDP, origPort: 40000, respPort: 1812, want: "",
			chunks: []chunk{{true, hx(req)}, {false, hx(radiusMsg(2, 1, 1))}}},
	})
}

func FuzzSNMPRADIUS(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hx(snmpMsg(1, 0xa0))}, chunk{false, hx(snmpMsg(1, 0xa2))}))
	f.Add(seedChunks(1, chunk{true, hx(radiusMsg(1, 1, 3, 'x'))}, chunk{false, hx(radiusMsg(2))}))
	ft := fuzzTarget{enabled: "snmp,radius", t: UDP, ports: []uint16{161, 1812, 9999}}
	f.Add(seedChunks(0, chunk{false, hx(snmpV3(0x04, []byte{0}, ber(0x04, 0, []byte{1})))}))
	f.Fuzz(func(t *testing.T, data []byte) {
		snmpHeader(data)
		radiusMessage(data)
		fuzzConn(t, ft, data)
	})
}
