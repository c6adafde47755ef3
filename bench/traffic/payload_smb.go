package traffic

import (
	"encoding/binary"
	"unicode/utf16"
)

// der encodes one ASN.1 DER TLV.
func der(tag byte, content ...[]byte) []byte {
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
	oidSPNEGO = []byte{0x2b, 0x06, 0x01, 0x05, 0x05, 0x02}                         // 1.3.6.1.5.5.2
	oidNTLM   = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a} // 1.3.6.1.4.1.311.2.2.10
	oidNegoEx = []byte{0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e} // 1.3.6.1.4.1.311.2.2.30
)

// spnegoInit is a GSS-API InitialContextToken carrying a SPNEGO
// NegTokenInit; mechToken may be nil; hints adds the negHints a server sends.
func spnegoInit(mechToken []byte, hints bool, mechs ...[]byte) []byte {
	var types []byte
	for _, m := range mechs {
		types = append(types, der(0x06, m)...)
	}
	fields := [][]byte{der(0xa0, der(0x30, types))}
	if mechToken != nil {
		fields = append(fields, der(0xa2, der(0x04, mechToken)))
	}
	if hints {
		fields = append(fields, der(0xa3, der(0x30, der(0xa0, der(0x1b, []byte("not_defined_in_RFC4178@please_ignore"))))))
	}
	return der(0x60, der(0x06, oidSPNEGO), der(0xa0, der(0x30, fields...)))
}

// spnegoResp is a NegTokenResp; state < 0 omits negState.
func spnegoResp(state int, mech []byte, token []byte) []byte {
	var fields [][]byte
	if state >= 0 {
		fields = append(fields, der(0xa0, der(0x0a, []byte{byte(state)})))
	}
	if mech != nil {
		fields = append(fields, der(0xa1, der(0x06, mech)))
	}
	if token != nil {
		fields = append(fields, der(0xa2, der(0x04, token)))
	}
	return der(0xa1, der(0x30, fields...))
}

func utf16le(s string) []byte {
	var b []byte
	for _, r := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, r)
	}
	return b
}

const ntlmFlags = 0xe2088297

var ntlmVersion = []byte{10, 0, 0x61, 0x4a, 0, 0, 0, 15} // Windows 10.0.19041, NTLM revision 15

func ntlmHeader(typ uint32) []byte {
	return binary.LittleEndian.AppendUint32([]byte("NTLMSSP\x00"), typ)
}

// ntlmField appends an NTLM (len, maxlen, offset) field descriptor.
func ntlmField(b []byte, n, off int) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	b = binary.LittleEndian.AppendUint16(b, uint16(n))
	return binary.LittleEndian.AppendUint32(b, uint32(off))
}

func ntlmNegotiate() []byte {
	b := ntlmHeader(1)
	b = binary.LittleEndian.AppendUint32(b, ntlmFlags)
	b = ntlmField(b, 0, 0)
	b = ntlmField(b, 0, 0)
	return append(b, ntlmVersion...)
}

func avPair(id uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, id)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func (g *generator) ntlmChallenge(domain, server string) []byte {
	target := utf16le(domain)
	var info []byte
	info = append(info, avPair(2, utf16le(domain))...)
	info = append(info, avPair(1, utf16le(server))...)
	info = append(info, avPair(4, utf16le("corp.example"))...)
	info = append(info, avPair(3, utf16le(server+".corp.example"))...)
	info = append(info, avPair(7, g.filetime())...)
	info = append(info, avPair(0, nil)...)
	const head = 56
	b := ntlmHeader(2)
	b = ntlmField(b, len(target), head)
	b = binary.LittleEndian.AppendUint32(b, ntlmFlags)
	b = append(b, g.bytes(8)...)      // server challenge
	b = append(b, make([]byte, 8)...) // reserved
	b = ntlmField(b, len(info), head+len(target))
	b = append(b, ntlmVersion...)
	b = append(b, target...)
	return append(b, info...)
}

func (g *generator) ntlmAuthenticate(domain, user, workstation string) []byte {
	lm := make([]byte, 24)
	nt := g.bytes(16) // NTProofStr
	nt = append(nt, 1, 1, 0, 0, 0, 0, 0, 0)
	nt = append(nt, g.filetime()...)
	nt = append(nt, g.bytes(8)...) // client challenge
	nt = append(nt, 0, 0, 0, 0)
	nt = append(nt, avPair(2, utf16le(domain))...)
	nt = append(nt, avPair(0, nil)...)
	nt = append(nt, 0, 0, 0, 0)
	dom, usr, ws, key := utf16le(domain), utf16le(user), utf16le(workstation), g.bytes(16)
	const head = 88
	off := head
	b := ntlmHeader(3)
	for _, f := range [][]byte{lm, nt, dom, usr, ws, key} {
		b = ntlmField(b, len(f), off)
		off += len(f)
	}
	b = binary.LittleEndian.AppendUint32(b, ntlmFlags)
	b = append(b, ntlmVersion...)
	b = append(b, g.bytes(16)...) // MIC
	for _, f := range [][]byte{lm, nt, dom, usr, ws, key} {
		b = append(b, f...)
	}
	return b
}

// filetime is the trace start as a Windows FILETIME.
func (g *generator) filetime() []byte {
	const epochDelta = 116444736000000000 // 1601 → 1970 in 100 ns
	return binary.LittleEndian.AppendUint64(nil, uint64(g.cfg.Start.UnixNano()/100+epochDelta))
}

// SMB2 commands and statuses.
const (
	smb2Negotiate      = 0
	smb2SessionSetup   = 1
	smb2Logoff         = 2
	smb2TreeConnect    = 3
	smb2TreeDisconnect = 4

	statusMoreProcessing = 0xc0000016
)

// smb2 frames one SMB2 message (64-byte header + body) in a NetBIOS session
// message.
func smb2(cmd uint16, response bool, status uint32, msgID, sessionID uint64, treeID uint32, body []byte) []byte {
	h := []byte{0xfe, 'S', 'M', 'B'}
	h = binary.LittleEndian.AppendUint16(h, 64)
	charge := uint16(1)
	if cmd == smb2Negotiate {
		charge = 0
	}
	h = binary.LittleEndian.AppendUint16(h, charge)
	h = binary.LittleEndian.AppendUint32(h, status)
	h = binary.LittleEndian.AppendUint16(h, cmd)
	h = binary.LittleEndian.AppendUint16(h, 1) // credits
	var flags uint32
	if response {
		flags = 1
	}
	h = binary.LittleEndian.AppendUint32(h, flags)
	h = binary.LittleEndian.AppendUint32(h, 0) // next command
	h = binary.LittleEndian.AppendUint64(h, msgID)
	h = binary.LittleEndian.AppendUint32(h, 0xfeff) // process id
	h = binary.LittleEndian.AppendUint32(h, treeID)
	h = binary.LittleEndian.AppendUint64(h, sessionID)
	h = append(h, make([]byte, 16)...) // signature
	msg := append(h, body...)
	nb := []byte{0, byte(len(msg) >> 16), byte(len(msg) >> 8), byte(len(msg))}
	return append(nb, msg...)
}

// smbExchange is one SMB2 request/response pair.
type smbExchange struct{ req, resp []byte }

// smb2Session builds negotiate, two session setups (NTLM via SPNEGO), tree
// connect, tree disconnect and logoff. With negotiateOnly it stops after the
// negotiate exchange.
func (g *generator) smb2Session(server, serverName, share, user, workstation string, negotiateOnly bool) []smbExchange {
	guid := g.bytes(16)
	neg := binary.LittleEndian.AppendUint16(nil, 36)
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	neg = binary.LittleEndian.AppendUint16(neg, uint16(len(dialects)))
	neg = binary.LittleEndian.AppendUint16(neg, 1)          // signing enabled
	neg = binary.LittleEndian.AppendUint16(neg, 0)          // reserved
	neg = binary.LittleEndian.AppendUint32(neg, 0x0000007f) // capabilities
	neg = append(neg, guid...)
	neg = append(neg, make([]byte, 8)...) // client start time
	for _, d := range dialects {
		neg = binary.LittleEndian.AppendUint16(neg, d)
	}

	secBlob := spnegoInit(nil, true, oidNegoEx, oidNTLM)
	nr := binary.LittleEndian.AppendUint16(nil, 65)
	nr = binary.LittleEndian.AppendUint16(nr, 1)      // signing enabled
	nr = binary.LittleEndian.AppendUint16(nr, 0x0302) // SMB 3.0.2
	nr = binary.LittleEndian.AppendUint16(nr, 0)
	nr = append(nr, g.bytes(16)...)                    // server guid
	nr = binary.LittleEndian.AppendUint32(nr, 0x2f)    // capabilities
	nr = binary.LittleEndian.AppendUint32(nr, 8388608) // max transact
	nr = binary.LittleEndian.AppendUint32(nr, 8388608) // max read
	nr = binary.LittleEndian.AppendUint32(nr, 8388608) // max write
	nr = append(nr, g.filetime()...)                   // system time
	nr = append(nr, make([]byte, 8)...)                // server start time
	nr = binary.LittleEndian.AppendUint16(nr, 128)     // security buffer offset
	nr = binary.LittleEndian.AppendUint16(nr, uint16(len(secBlob)))
	nr = binary.LittleEndian.AppendUint32(nr, 0)
	nr = append(nr, secBlob...)

	out := []smbExchange{{smb2(smb2Negotiate, false, 0, 0, 0, 0, neg), smb2(smb2Negotiate, true, 0, 0, 0, 0, nr)}}
	if negotiateOnly {
		return out
	}
	sessionID := g.rng.Uint64()&0x0000ffffffffffff | 0x0000040000000000

	setup := func(blob []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 25)
		b = append(b, 0, 1)                         // flags, security mode
		b = binary.LittleEndian.AppendUint32(b, 1)  // capabilities: DFS
		b = binary.LittleEndian.AppendUint32(b, 0)  // channel
		b = binary.LittleEndian.AppendUint16(b, 88) // security buffer offset
		b = binary.LittleEndian.AppendUint16(b, uint16(len(blob)))
		b = binary.LittleEndian.AppendUint64(b, 0) // previous session
		return append(b, blob...)
	}
	setupResp := func(blob []byte) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 9)
		b = binary.LittleEndian.AppendUint16(b, 0)  // session flags
		b = binary.LittleEndian.AppendUint16(b, 72) // security buffer offset
		b = binary.LittleEndian.AppendUint16(b, uint16(len(blob)))
		return append(b, blob...)
	}
	domain := "CORP"
	out = append(out,
		smbExchange{
			smb2(smb2SessionSetup, false, 0, 1, 0, 0, setup(spnegoInit(ntlmNegotiate(), false, oidNTLM))),
			smb2(smb2SessionSetup, true, statusMoreProcessing, 1, sessionID, 0,
				setupResp(spnegoResp(1, oidNTLM, g.ntlmChallenge(domain, serverName)))),
		},
		smbExchange{
			smb2(smb2SessionSetup, false, 0, 2, sessionID, 0, setup(spnegoResp(-1, nil, g.ntlmAuthenticate(domain, user, workstation)))),
			smb2(smb2SessionSetup, true, 0, 2, sessionID, 0, setupResp(spnegoResp(0, nil, nil))),
		})

	path := utf16le(`\\` + server + `\` + share)
	tc := binary.LittleEndian.AppendUint16(nil, 9)
	tc = binary.LittleEndian.AppendUint16(tc, 0)
	tc = binary.LittleEndian.AppendUint16(tc, 72) // path offset
	tc = binary.LittleEndian.AppendUint16(tc, uint16(len(path)))
	tc = append(tc, path...)
	treeID := uint32(1 + g.rng.IntN(8))
	tr := binary.LittleEndian.AppendUint16(nil, 16)
	shareType := byte(1) // disk
	if share == "IPC$" {
		shareType = 2
	}
	tr = append(tr, shareType, 0)
	tr = binary.LittleEndian.AppendUint32(tr, 0x00000800) // share flags
	tr = binary.LittleEndian.AppendUint32(tr, 0)          // capabilities
	tr = binary.LittleEndian.AppendUint32(tr, 0x001f01ff) // maximal access
	small := binary.LittleEndian.AppendUint16(nil, 4)
	small = binary.LittleEndian.AppendUint16(small, 0)
	out = append(out,
		smbExchange{smb2(smb2TreeConnect, false, 0, 3, sessionID, 0, tc), smb2(smb2TreeConnect, true, 0, 3, sessionID, treeID, tr)},
		smbExchange{smb2(smb2TreeDisconnect, false, 0, 4, sessionID, treeID, small), smb2(smb2TreeDisconnect, true, 0, 4, sessionID, treeID, small)},
		smbExchange{smb2(smb2Logoff, false, 0, 5, sessionID, 0, small), smb2(smb2Logoff, true, 0, 5, sessionID, 0, small)},
	)
	return out
}
