package classify

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// SMB sessions built from [MS-SMB2] and [MS-CIFS] with the security blobs
// of RFC 4178 (SPNEGO), [MS-NLMP] (NTLMSSP) and RFC 4121 (Kerberos GSS
// tokens), and DCE/RPC PDUs (C706) on named pipes: the children Zeek's SMB
// analyzer feeds (gssapi, ntlm, krb, dce_rpc).

// derTLV encodes one DER element.
func derTLV(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	b := []byte{tag}
	switch {
	case n < 0x80:
		b = append(b, byte(n))
	case n < 0x100:
		b = append(b, 0x81, byte(n))
	default:
		b = append(b, 0x82, byte(n>>8), byte(n))
	}
	for _, c := range content {
		b = append(b, c...)
	}
	return b
}

var (
	testOIDNTLM  = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
	testOIDKRB5  = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}
	testOIDSPNEG = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}
)

// negTokenInit is a GSS InitialContextToken with a SPNEGO NegTokenInit.
func negTokenInit(mechToken []byte, mechs ...[]byte) []byte {
	var types []byte
	for _, m := range mechs {
		types = append(types, derTLV(0x06, m)...)
	}
	fields := [][]byte{derTLV(0xa0, derTLV(0x30, types))}
	if mechToken != nil {
		fields = append(fields, derTLV(0xa2, derTLV(0x04, mechToken)))
	}
	return derTLV(0x60, derTLV(0x06, testOIDSPNEG), derTLV(0xa0, derTLV(0x30, fields...)))
}

// negTokenResp is a SPNEGO NegTokenResp (state < 0: no negState).
func negTokenResp(state int, token []byte) []byte {
	var fields [][]byte
	if state >= 0 {
		fields = append(fields, derTLV(0xa0, derTLV(0x0a, []byte{byte(state)})))
	}
	if token != nil {
		fields = append(fields, derTLV(0xa2, derTLV(0x04, token)))
	}
	return derTLV(0xa1, derTLV(0x30, fields...))
}

func ntlmMsg(typ uint32, rest ...byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte("NTLMSSP\x00"), typ)
	return append(b, rest...)
}

// ntlmNeg is an NTLM NEGOTIATE without domain or workstation.
func ntlmNeg() []byte {
	b := ntlmMsg(1)
	b = binary.LittleEndian.AppendUint32(b, 0xe2088297)
	return append(b, make([]byte, 16)...)
}

// ntlmChal is a CHALLENGE with a target name and target info.
func ntlmChal() []byte {
	target := utf16le("CORP")
	info := binary.LittleEndian.AppendUint16(nil, 2)
	info = binary.LittleEndian.AppendUint16(info, uint16(len(target)))
	info = append(info, target...)
	info = append(info, 0, 0, 0, 0) // MsvAvEOL
	b := ntlmMsg(2)
	b = ntlmFieldBytes(b, len(target), 48)
	b = binary.LittleEndian.AppendUint32(b, 0x00800005|0x00000200)
	b = append(b, make([]byte, 16)...) // challenge, reserved
	b = ntlmFieldBytes(b, len(info), 48+len(target))
	b = append(b, target...)
	return append(b, info...)
}

// ntlmAuth is an AUTHENTICATE with a user name.
func ntlmAuth() []byte {
	user := utf16le("anna")
	b := ntlmMsg(3)
	for i := 0; i < 6; i++ {
		n := 0
		if i == 3 {
			n = len(user)
		}
		b = ntlmFieldBytes(b, n, 64)
	}
	b = binary.LittleEndian.AppendUint32(b, 0x00000001)
	return append(b, user...)
}

func ntlmFieldBytes(b []byte, n, off int) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	return binary.LittleEndian.AppendUint32(b, uint32(off))
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return b
}

// krbAPReq is a minimal Kerberos AP-REQ (pvno 5, msg-type 14).
func krbAPReq() []byte {
	ticket := derTLV(0xa3, derTLV(0x61, derTLV(0x30, derTLV(0xa0, derTLV(0x02, []byte{5})))))
	auth := derTLV(0xa4, derTLV(0x30, derTLV(0xa0, derTLV(0x02, []byte{23})), derTLV(0xa2, derTLV(0x04, make([]byte, 16)))))
	return derTLV(0x6e, derTLV(0x30,
		derTLV(0xa0, derTLV(0x02, []byte{5})), derTLV(0xa1, derTLV(0x02, []byte{14})),
		derTLV(0xa2, derTLV(0x03, []byte{0, 0x20, 0, 0, 0})), ticket, auth))
}

// krbGSSToken is an RFC 4121 InitialContextToken: OID, token id 01 00, AP-REQ.
func krbGSSToken() []byte {
	return derTLV(0x60, derTLV(0x06, testOIDKRB5), []byte{1, 0}, krbAPReq())
}

// nbss frames a NetBIOS session message.
func nbss(msg ...[]byte) []byte {
	var m []byte
	for _, p := range msg {
		m = append(m, p...)
	}
	return append([]byte{0, byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
}

// smb2Hdr is a 64-byte SMB2 sync header.
func smb2Hdr(cmd uint16, resp bool, status uint32, mid uint64, tree uint32) []byte {
	h := []byte{0xfe, 'S', 'M', 'B', 64, 0, 1, 0}
	h = binary.LittleEndian.AppendUint32(h, status)
	h = binary.LittleEndian.AppendUint16(h, cmd)
	h = binary.LittleEndian.AppendUint16(h, 1)
	var flags uint32
	if resp {
		flags = 1
	}
	h = binary.LittleEndian.AppendUint32(h, flags)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint64(h, mid)
	h = binary.LittleEndian.AppendUint32(h, 0xfeff)
	h = binary.LittleEndian.AppendUint32(h, tree)
	h = binary.LittleEndian.AppendUint64(h, 0x1000000001)
	return append(h, make([]byte, 16)...)
}

func u16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func smb2NegotiateReq() []byte {
	body := cat(u16(36), u16(2), u16(1), u16(0), u32(0x7f), make([]byte, 16), make([]byte, 8), u16(0x0210), u16(0x0300))
	return nbss(smb2Hdr(0, false, 0, 0, 0), body)
}

func smb2NegotiateResp(blob []byte) []byte {
	body := cat(u16(65), u16(1), u16(0x0300), u16(0), make([]byte, 16), u32(0x2f), u32(1<<20), u32(1<<20), u32(1<<20),
		make([]byte, 16), u16(128), u16(uint16(len(blob))), u32(0), blob)
	return nbss(smb2Hdr(0, true, 0, 0, 0), body)
}

func smb2SessionSetupReq(mid uint64, blob []byte) []byte {
	body := cat(u16(25), []byte{0, 1}, u32(1), u32(0), u16(88), u16(uint16(len(blob))), u64(0), blob)
	return nbss(smb2Hdr(1, false, 0, mid, 0), body)
}

func smb2SessionSetupResp(mid uint64, status uint32, blob []byte) []byte {
	body := cat(u16(9), u16(0), u16(72), u16(uint16(len(blob))), blob)
	return nbss(smb2Hdr(1, true, status, mid, 0), body)
}

func smb2TreeConnectReq(mid uint64, path string) []byte {
	p := utf16le(path)
	return nbss(smb2Hdr(3, false, 0, mid, 0), cat(u16(9), u16(0), u16(72), u16(uint16(len(p))), p))
}

func smb2TreeConnectResp(mid uint64, tree uint32, shareType byte) []byte {
	return nbss(smb2Hdr(3, true, 0, mid, tree), cat(u16(16), []byte{shareType, 0}, u32(0), u32(0), u32(0x1f01ff)))
}

func smb2WriteReq(mid uint64, tree uint32, fid uint64, data []byte) []byte {
	body := cat(u16(49), u16(112), u32(uint32(len(data))), u64(0), u64(fid), u64(fid+1), u32(0), u32(0), u16(0), u16(0), u32(0), data)
	return nbss(smb2Hdr(9, false, 0, mid, tree), body)
}

func smb2WriteResp(mid uint64, tree uint32, n int) []byte {
	return nbss(smb2Hdr(9, true, 0, mid, tree), cat(u16(17), u16(0), u32(uint32(n)), u32(0), u16(0), u16(0)))
}

func smb2ReadReq(mid uint64, tree uint32, fid uint64) []byte {
	body := cat(u16(49), []byte{0x50, 0}, u32(1024), u64(0), u64(fid), u64(fid+1), u32(0), u32(0), u32(0), u16(0), u16(0), []byte{0})
	return nbss(smb2Hdr(8, false, 0, mid, tree), body)
}

func smb2ReadResp(mid uint64, data []byte) []byte {
	return nbss(smb2Hdr(8, true, 0, mid, 0), cat(u16(17), u16(80), u32(uint32(len(data))), u32(0), u32(0), data))
}

func smb2IoctlReq(mid uint64, tree uint32, fid uint64, data []byte) []byte {
	body := cat(u16(57), u16(0), u32(0x0011c017), u64(fid), u64(fid+1), u32(120), u32(uint32(len(data))), u32(0),
		u32(120), u32(0), u32(1024), u32(1), u32(0), data)
	return nbss(smb2Hdr(11, false, 0, mid, tree), body)
}

func smb2IoctlResp(mid uint64, tree uint32, fid uint64, data []byte) []byte {
	body := cat(u16(49), u16(0), u32(0x0011c017), u64(fid), u64(fid+1), u32(112), u32(0), u32(112),
		u32(uint32(len(data))), u32(0), u32(0), data)
	return nbss(smb2Hdr(11, true, 0, mid, tree), body)
}

// testBind is a bind for one context (little-endian), with an optional
// auth trailer.
func testBind(authType byte, auth []byte) []byte {
	body := cat(u16(4280), u16(4280), u32(0), []byte{1, 0, 0, 0}, u16(0), []byte{1, 0}, make([]byte, 20), make([]byte, 20))
	return dcePDUAuth(11, body, authType, auth)
}

func testBindAck(authType byte, auth []byte) []byte {
	body := cat(u16(4280), u16(4280), u32(0x1234), u16(4), []byte("135\x00"), []byte{0, 0}, []byte{1, 0, 0, 0}, make([]byte, 24))
	return dcePDUAuth(12, body, authType, auth)
}

func dcePDUAuth(ptype byte, body []byte, authType byte, auth []byte) []byte {
	total := 16 + len(body)
	if len(auth) > 0 {
		total += 8 + len(auth)
	}
	b := cat([]byte{5, 0, ptype, 3, 0x10, 0, 0, 0}, u16(uint16(total)), u16(uint16(len(auth))), u32(2), body)
	if len(auth) > 0 {
		b = cat(b, []byte{authType, 2, 0, 0}, u32(0), auth)
	}
	return b
}

// smb2Session is negotiate, NTLM via SPNEGO (two session setups), an IPC$
// tree and a DCE/RPC bind on a pipe by write/read.
func smb2Session() []chunk {
	hints := negTokenInit(nil, testOIDNTLM)
	return []chunk{
		{true, hx(smb2NegotiateReq())},
		{false, hx(smb2NegotiateResp(hints))},
		{true, hx(smb2SessionSetupReq(1, negTokenInit(ntlmNeg(), testOIDNTLM)))},
		{false, hx(smb2SessionSetupResp(1, 0xc0000016, negTokenResp(1, ntlmChal())))},
		{true, hx(smb2SessionSetupReq(2, negTokenResp(-1, ntlmAuth())))},
		{false, hx(smb2SessionSetupResp(2, 0, negTokenResp(0, nil)))},
		{true, hx(smb2TreeConnectReq(3, `\\fs\IPC$`))},
		{false, hx(smb2TreeConnectResp(3, 5, 2))},
		{true, hx(smb2WriteReq(4, 5, 0x40, testBind(0, nil)))},
		{false, hx(smb2WriteResp(4, 5, 72))},
		{true, hx(smb2ReadReq(5, 5, 0x40))},
		{false, hx(smb2ReadResp(5, testBindAck(0, nil)))},
	}
}

// smb1Hdr is a 32-byte SMB1 header (unicode strings, NT status).
func smb1Hdr(cmd byte, resp bool, tid, mid uint16) []byte {
	flags := byte(0x18)
	if resp {
		flags |= 0x80
	}
	h := cat([]byte{0xff, 'S', 'M', 'B', cmd}, u32(0), []byte{flags}, u16(0xc807), make([]byte, 12))
	return cat(h, u16(tid), u16(0xfeff), u16(0x800), u16(mid))
}

func smb1NegotiateReq() []byte {
	return nbss(smb1Hdr(0x72, false, 0, 1), []byte{0}, u16(12), []byte("\x02NT LM 0.12\x00"))
}

// smb1NegotiateResp is the NT LM 0.12 response with extended security.
func smb1NegotiateResp(blob []byte) []byte {
	words := cat(u16(0), []byte{3}, u16(50), u16(1), u32(16644), u32(65536), u32(0), u32(0x8000e3fd), u64(0), u16(0), []byte{0})
	return nbss(smb1Hdr(0x72, true, 0, 1), []byte{17}, words, u16(uint16(16+len(blob))), make([]byte, 16), blob)
}

func smb1SessionSetupReq(mid uint16, blob []byte) []byte {
	words := cat([]byte{0xff, 0}, u16(0), u16(16644), u16(50), u16(0), u32(0), u16(uint16(len(blob))), u32(0), u32(0x800000d4))
	return nbss(smb1Hdr(0x73, false, 0, mid), []byte{12}, words, u16(uint16(len(blob))), blob)
}

func smb1SessionSetupResp(mid uint16, blob []byte) []byte {
	words := cat([]byte{0xff, 0}, u16(0), u16(0), u16(uint16(len(blob))))
	return nbss(smb1Hdr(0x73, true, 0, mid), []byte{4}, words, u16(uint16(len(blob))), blob)
}

func smb1TreeConnectResp(tid, mid uint16, service string) []byte {
	words := cat([]byte{0xff, 0}, u16(0), u16(1))
	bytes := cat([]byte(service+"\x00"), []byte{0, 0})
	return nbss(smb1Hdr(0x75, true, tid, mid), []byte{3}, words, u16(uint16(len(bytes))), bytes)
}

// smb1TransReq is SMB_COM_TRANSACTION on name (unicode) with data, two
// setup words (TransactNmPipe, fid).
func smb1TransReq(tid, mid uint16, name string, data []byte) []byte {
	nameBytes := cat([]byte{0}, utf16le(name), []byte{0, 0}) // pad, name, NUL
	const fixed = 32 + 1 + 2*16 + 2
	dataOff := fixed + len(nameBytes)
	words := cat(u16(0), u16(uint16(len(data))), u16(0), u16(1024), []byte{0, 0}, u16(0), u32(0), u16(0),
		u16(0), u16(uint16(dataOff)), u16(uint16(len(data))), u16(uint16(dataOff)), []byte{2, 0}, u16(0x26), u16(0x4000))
	return nbss(smb1Hdr(0x25, false, tid, mid), []byte{16}, words, u16(uint16(len(nameBytes)+len(data))), nameBytes, data)
}

func smb1TransResp(tid, mid uint16, data []byte) []byte {
	const dataOff = 32 + 1 + 20 + 2 + 1
	words := cat(u16(0), u16(uint16(len(data))), u16(0), u16(0), u16(uint16(dataOff)), u16(0),
		u16(uint16(len(data))), u16(uint16(dataOff)), u16(0), []byte{0, 0})
	return nbss(smb1Hdr(0x25, true, tid, mid), []byte{10}, words, u16(uint16(len(data)+1)), []byte{0}, data)
}

func TestSMBChildren(t *testing.T) {
	full := smb2Session()
	hints := negTokenInit(nil, testOIDNTLM)
	krb := []chunk{
		{true, hx(smb2NegotiateReq())},
		{false, hx(smb2NegotiateResp(hints))},
		{true, hx(smb2SessionSetupReq(1, negTokenInit(krbGSSToken(), testOIDKRB5)))},
		{false, hx(smb2SessionSetupResp(1, 0, negTokenResp(0, nil)))},
	}
	// A bind on a disk share is file data, not a pipe.
	disk := append(append([]chunk{}, full[:7]...),
		chunk{false, hx(smb2TreeConnectResp(3, 5, 1))}, full[8], full[9], full[10], full[11])
	ioctl := append(append([]chunk{}, full[:8]...),
		chunk{true, hx(smb2IoctlReq(4, 5, 0x40, testBind(0, nil)))},
		chunk{false, hx(smb2IoctlResp(4, 5, 0x40, testBindAck(0, nil)))})
	badResp := append(append([]chunk{}, full[:3]...),
		chunk{false, hx(smb2SessionSetupResp(1, 0xc0000016, derTLV(0xa1, derTLV(0x30, derTLV(0xa5, derTLV(0x02, []byte{1}))))))})
	smb1 := []chunk{
		{true, hx(smb1NegotiateReq())},
		{false, hx(smb1NegotiateResp(hints))},
		{true, hx(smb1SessionSetupReq(2, ntlmNeg()))},
		{false, hx(smb1SessionSetupResp(2, ntlmChal()))},
		{false, hx(smb1TreeConnectResp(2048, 3, "IPC"))},
		{true, hx(smb1TransReq(2048, 4, `\PIPE\`, testBind(0, nil)))},
		{false, hx(smb1TransResp(2048, 4, testBindAck(0, nil)))},
	}
	smb1Lanman := append(append([]chunk{}, smb1[:5]...),
		chunk{true, hx(smb1TransReq(2048, 4, `\PIPE\LANMAN`, testBind(0, nil)))})
	runCases(t, []traceCase{
		// gssapi confirms on the negotiate response's SPNEGO hints (chunk 2),
		// ntlm inside the first session setup (chunk 3) before SMB counts it.
		{name: "smb2-ntlm-pipe", t: TCP, origPort: 50000, respPort: 445, chunks: full, want: "gssapi,ntlm,smb,dce_rpc"},
		{name: "smb2-ntlm-pipe-signature-port", t: TCP, origPort: 50000, respPort: 4455, chunks: full, want: "gssapi,ntlm,smb,dce_rpc"},
		{name: "smb2-split-into-small-chunks", t: TCP, origPort: 50000, respPort: 445, chunks: splitChunks(full, 40),
			want: "smb,gssapi,ntlm,dce_rpc"},
		// SMB.cc syncs only on a chunk holding a whole SMB header.
		{name: "smb2-tiny-segments-never-sync", t: TCP, origPort: 50000, respPort: 445, chunks: splitChunks(full, 7), want: ""},
		{name: "smb2-kerberos", t: TCP, origPort: 50000, respPort: 445, chunks: krb, want: "gssapi,krb,smb"},
		{name: "smb2-ioctl-transceive", t: TCP, origPort: 50000, respPort: 445, chunks: ioctl, want: "gssapi,ntlm,smb,dce_rpc"},
		{name: "smb1-raw-ntlm-transaction-pipe", t: TCP, origPort: 50000, respPort: 445, chunks: smb1, want: "gssapi,ntlm,smb,dce_rpc"},
		// One-sided: the client's three chunks confirm SMB; the client's
		// NegTokenInit confirms gssapi after its NTLM child.
		{name: "smb2-client-side-only", t: TCP, origPort: 50000, respPort: 445, chunks: pick(full, true), want: "ntlm,gssapi,smb"},
		{name: "smb2-server-side-only", t: TCP, origPort: 50000, respPort: 445, chunks: pick(full, false), want: "gssapi,ntlm,smb"},
		// Near misses.
		{name: "smb2-bind-on-disk-share", t: TCP, origPort: 50000, respPort: 445, chunks: disk, want: "gssapi,ntlm,smb"},
		{name: "smb1-lanman-is-rap-not-pipe", t: TCP, origPort: 50000, respPort: 445, chunks: smb1Lanman, want: "gssapi,ntlm,smb"},
		{name: "smb2-short-blob", t: TCP, origPort: 50000, respPort: 445, want: "smb", chunks: []chunk{
			{true, hx(smb2NegotiateReq())}, {false, hx(smb2NegotiateResp([]byte{0x60, 2, 6, 0}))},
			{true, hx(smb2SessionSetupReq(1, nil))}}},
		{name: "smb2-without-smb", t: TCP, origPort: 50000, respPort: 445, enabled: "dce_rpc,gssapi,ntlm", chunks: full, want: ""},
		// A GSSAPI token that does not parse after gssapi confirmed removes it.
		{name: "smb2-gssapi-violation-after-confirmation", t: TCP, origPort: 50000, respPort: 445, chunks: badResp, want: "ntlm,smb"},
	})
}

func TestDCERPCAuthChildren(t *testing.T) {
	runCases(t, []traceCase{
		{name: "dce-rpc-ntlm-bind", t: TCP, origPort: 50000, respPort: 135, want: "ntlm,dce_rpc", chunks: []chunk{
			{true, hx(testBind(0x0a, ntlmNeg()))}, {false, hx(testBindAck(0x0a, ntlmChal()))}}},
		{name: "dce-rpc-spnego-bind", t: TCP, origPort: 50000, respPort: 49667, want: "ntlm,gssapi,dce_rpc", chunks: []chunk{
			{true, hx(testBind(0x09, negTokenInit(ntlmNeg(), testOIDNTLM)))}}},
		// Kerberos (auth type 16) goes to KRB as a stream, which it ignores.
		{name: "dce-rpc-kerberos-auth-type", t: TCP, origPort: 50000, respPort: 135, want: "dce_rpc", chunks: []chunk{
			{true, hx(testBind(0x10, krbAPReq()))}}},
		// A verifier too short for an NTLM message: NTLM's violation is ignored.
		{name: "dce-rpc-ntlm-short", t: TCP, origPort: 50000, respPort: 135, want: "dce_rpc", chunks: []chunk{
			{true, hx(testBind(0x0a, []byte("NTLMSSP")))}}},
		{name: "dce-rpc-bind-body-too-short", t: TCP, origPort: 50000, respPort: 135, want: "", chunks: []chunk{
			{true, hx(dcePDUAuth(11, make([]byte, 10), 0, nil))}}},
	})
}

func TestGSSAPIParse(t *testing.T) {
	c := New(All)
	tests := []struct {
		name string
		tok  []byte
		ok   bool
		want string
	}{
		{"negtokeninit-ntlm", negTokenInit(ntlmNeg(), testOIDNTLM), true, "ntlm,gssapi"},
		{"negtokeninit-krb", negTokenInit(krbGSSToken(), testOIDKRB5), true, "krb,gssapi"},
		{"negtokenresp-challenge", negTokenResp(1, ntlmChal()), true, "ntlm,gssapi"},
		{"mic-token", append([]byte{0x04, 0x04}, make([]byte, 26)...), true, "gssapi"},
		{"wrap-token", append([]byte{0x05, 0x04}, make([]byte, 40)...), true, "gssapi"},
		{"index-5", derTLV(0xa1, derTLV(0x30, derTLV(0xa5, []byte{0}))), false, ""},
		{"truncated", negTokenInit(ntlmNeg(), testOIDNTLM)[:20], false, ""},
		{"trailing-byte", append(negTokenResp(0, nil), 0), false, ""},
	}
	for _, tc := range tests {
		var st State
		c.Start(&st, TCP, 1, 445, false)
		if got := c.gssapiSelect(&st, tc.tok); got != tc.ok {
			t.Errorf("%s: parses = %v, want %v", tc.name, got, tc.ok)
		}
		st = State{}
		c.Start(&st, TCP, 1, 445, false)
		c.gssapiChild(&st, tc.tok)
		if got := joinServices(&st); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNTLMParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		ok   bool
	}{
		{"negotiate", ntlmNeg(), true},
		{"challenge", ntlmChal(), true},
		{"authenticate", ntlmAuth(), true},
		{"other-type", ntlmMsg(7), true},
		{"short", []byte("NTLMSSP\x00\x01"), false},
		{"negotiate-short", ntlmMsg(1, 1, 2, 3), false},
		{"auth-user-past-end", ntlmAuth()[:70], false},
		{"challenge-unknown-av-id", append(ntlmChal()[:len(ntlmChal())-4], 0x20, 0, 0, 0), false},
	} {
		if got := ntlmParses(tc.b); got != tc.ok {
			t.Errorf("%s: parses = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func joinServices(st *State) string {
	s := ""
	for i, n := range st.Services(nil) {
		if i > 0 {
			s += ","
		}
		s += n
	}
	return s
}

func FuzzSMBChildren(f *testing.F) {
	for _, chunks := range [][]chunk{smb2Session()} {
		f.Add(seedChunks(0, chunks...))
		f.Add(seedChunks(1, chunks...))
	}
	ft := fuzzTarget{enabled: "smb,gssapi,ntlm,dce_rpc,krb", t: TCP, ports: []uint16{445, 4455}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st State
		c := New(All)
		c.Start(&st, TCP, 1, 445, false)
		c.gssapiChild(&st, data)
		ntlmParses(data)
		fuzzConn(t, ft, data)
	})
}
