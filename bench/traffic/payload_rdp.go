package traffic

import (
	"encoding/binary"
)

// RDP security protocols (RDP_NEG_REQ/RSP).
const (
	rdpProtocolRDP    = 0
	rdpProtocolSSL    = 1
	rdpProtocolHybrid = 2
)

// tpkt wraps an X.224 TPDU in a TPKT header (RFC 1006).
func tpkt(tpdu []byte) []byte {
	b := []byte{3, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(4+len(tpdu)))
	return append(b, tpdu...)
}

// x224Data wraps MCS data in an X.224 Data TPDU.
func x224Data(mcs []byte) []byte { return tpkt(append([]byte{0x02, 0xf0, 0x80}, mcs...)) }

// rdpConnectionRequest is the client's X.224 Connection Request with the
// mstshash cookie and an RDP_NEG_REQ.
func rdpConnectionRequest(user string, protocols uint32) []byte {
	var body []byte
	body = append(body, 0xe0, 0, 0, 0, 0, 0) // CR, dst-ref, src-ref, class 0
	body = append(body, "Cookie: mstshash="+user+"\r\n"...)
	body = append(body, 0x01, 0x00, 0x08, 0x00)
	body = binary.LittleEndian.AppendUint32(body, protocols)
	return tpkt(append([]byte{byte(len(body))}, body...))
}

// rdpConnectionConfirm is the server's X.224 Connection Confirm with an
// RDP_NEG_RSP selecting protocol.
func rdpConnectionConfirm(protocol uint32) []byte {
	body := []byte{0xd0, 0, 0, 0x12, 0x34, 0}
	body = append(body, 0x02, 0x1f, 0x08, 0x00) // flags: extended client data, dynvc gfx, ...
	body = binary.LittleEndian.AppendUint32(body, protocol)
	return tpkt(append([]byte{byte(len(body))}, body...))
}

// berLen2 is a BER length in the two-byte long form (0x82 hi lo), the form
// MCS Connect PDUs use and Zeek's parser expects.
func berLen2(n int) []byte { return []byte{0x82, byte(n >> 8), byte(n)} }

// perLen2 is a PER length in its two-byte form (0x8000 | n).
func perLen2(n int) []byte { return []byte{0x80 | byte(n>>8), byte(n)} }

func domainParameters(maxChannels, maxUsers, maxTokens, maxPDU int) []byte {
	var b []byte
	for _, v := range []int{maxChannels, maxUsers, maxTokens, 1, 0, 1, maxPDU, 2} {
		switch {
		case v < 0x80:
			b = append(b, 0x02, 1, byte(v))
		case v < 0x8000:
			b = append(b, 0x02, 2, byte(v>>8), byte(v))
		default:
			b = append(b, 0x02, 3, byte(v>>16), byte(v>>8), byte(v))
		}
	}
	return der(0x30, b)
}

func dataBlock(typ uint16, body []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, typ)
	b = binary.LittleEndian.AppendUint16(b, uint16(4+len(body)))
	return append(b, body...)
}

func fixedUTF16(s string, n int) []byte {
	b := utf16le(s)
	if len(b) > n-2 {
		b = b[:n-2]
	}
	return append(b, make([]byte, n-len(b))...)
}

var rdpChannels = []string{"rdpdr", "rdpsnd", "cliprdr", "drdynvc"}

// mcsConnectInitial is the client's MCS Connect-Initial carrying a GCC
// Conference Create Request with client core, security and network data.
func mcsConnectInitial(clientName string, build uint32, serverSelected uint32) []byte {
	le32 := binary.LittleEndian.AppendUint32
	le16 := binary.LittleEndian.AppendUint16
	var core []byte
	core = le32(core, 0x00080004) // RDP 5+
	core = le16(core, 1920)
	core = le16(core, 1080)
	core = le16(core, 0xca01)     // RNS_UD_COLOR_8BPP
	core = le16(core, 0xaa03)     // RNS_UD_SAS_DEL
	core = le32(core, 0x00000409) // en-US keyboard
	core = le32(core, build)
	core = append(core, fixedUTF16(clientName, 32)...)
	core = le32(core, 4)  // IBM enhanced keyboard
	core = le32(core, 0)  // subtype
	core = le32(core, 12) // function keys
	core = append(core, make([]byte, 64)...)
	core = le16(core, 0xca01) // postBeta2ColorDepth
	core = le16(core, 1)      // clientProductId
	core = le32(core, 0)      // serialNumber
	core = le16(core, 24)     // highColorDepth
	core = le16(core, 0x000f) // supportedColorDepths
	core = le16(core, 0x07a1) // earlyCapabilityFlags
	core = append(core, fixedUTF16("00000-00000-00000-AA000", 64)...)
	core = append(core, 6, 0) // connectionType LAN, pad
	core = le32(core, serverSelected)

	sec := le32(nil, 0x0000001b) // 40, 128, 56-bit and FIPS
	sec = le32(sec, 0)

	network := le32(nil, uint32(len(rdpChannels)))
	for _, ch := range rdpChannels {
		name := make([]byte, 8)
		copy(name, ch)
		network = append(network, name...)
		network = le32(network, 0x80800000)
	}
	blocks := append(dataBlock(0xc001, core), dataBlock(0xc002, sec)...)
	blocks = append(blocks, dataBlock(0xc003, network)...)

	// GCC Conference Create Request (T.124, PER) with the "Duca" H.221 key.
	ccr := []byte{0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xc0, 0x00, 'D', 'u', 'c', 'a'}
	ccr = append(ccr, perLen2(len(blocks))...)
	ccr = append(ccr, blocks...)
	gcc := []byte{0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01}
	gcc = append(gcc, perLen2(len(ccr))...)
	gcc = append(gcc, ccr...)

	var ci []byte
	ci = append(ci, 0x04, 0x01, 0x01) // callingDomainSelector
	ci = append(ci, 0x04, 0x01, 0x01) // calledDomainSelector
	ci = append(ci, 0x01, 0x01, 0xff) // upwardFlag
	ci = append(ci, domainParameters(34, 2, 0, 0xffff)...)
	ci = append(ci, domainParameters(1, 1, 1, 0x420)...)
	ci = append(ci, domainParameters(0xffff, 0xfc17, 0xffff, 0xffff)...)
	ci = append(ci, 0x04)
	ci = append(ci, berLen2(len(gcc))...)
	ci = append(ci, gcc...)
	mcs := append([]byte{0x7f, 0x65}, berLen2(len(ci))...)
	return x224Data(append(mcs, ci...))
}

// mcsConnectResponse is the server's MCS Connect-Response with a GCC
// Conference Create Response: server core, security (standard RDP security
// with a proprietary certificate) and network data.
func (g *generator) mcsConnectResponse() []byte {
	le32 := binary.LittleEndian.AppendUint32
	le16 := binary.LittleEndian.AppendUint16
	core := le32(nil, 0x00080004)
	core = le32(core, rdpProtocolRDP)

	// Proprietary server certificate: RSA public key blob + signature.
	modulus := append(g.bytes(64), make([]byte, 8)...)
	keyBlob := append([]byte("RSA1"), le32(nil, uint32(len(modulus)))...)
	keyBlob = le32(keyBlob, 512)
	keyBlob = le32(keyBlob, 65537)
	keyBlob = append(keyBlob, modulus...)
	cert := le32(nil, 1) // CERT_CHAIN_VERSION_1, permanently issued
	cert = le32(cert, 1) // SIGNATURE_ALG_RSA
	cert = le32(cert, 1) // KEY_EXCHANGE_ALG_RSA
	cert = le16(cert, 6) // BB_RSA_KEY_BLOB
	cert = le16(cert, uint16(len(keyBlob)))
	cert = append(cert, keyBlob...)
	sig := append(g.bytes(64), make([]byte, 8)...)
	cert = le16(cert, 8) // BB_RSA_SIGNATURE_BLOB
	cert = le16(cert, uint16(len(sig)))
	cert = append(cert, sig...)
	sec := le32(nil, 2) // ENCRYPTION_METHOD_128BIT
	sec = le32(sec, 2)  // ENCRYPTION_LEVEL_CLIENT_COMPATIBLE
	sec = le32(sec, 32)
	sec = le32(sec, uint32(len(cert)))
	sec = append(sec, g.bytes(32)...)
	sec = append(sec, cert...)

	network := le16(nil, 0x03eb) // I/O channel
	network = le16(network, uint16(len(rdpChannels)))
	for i := range rdpChannels {
		network = le16(network, uint16(0x03ec+i))
	}
	if len(rdpChannels)%2 == 1 {
		network = append(network, 0, 0)
	}
	blocks := append(dataBlock(0x0c01, core), dataBlock(0x0c02, sec)...)
	blocks = append(blocks, dataBlock(0x0c03, network)...)

	ccr := []byte{0x14, 0x76, 0x0a, 0x01, 0x01, 0x00, 0x01, 0xc0, 0x00, 'M', 'c', 'D', 'n'}
	ccr = append(ccr, perLen2(len(blocks))...)
	ccr = append(ccr, blocks...)
	gcc := []byte{0x00, 0x05, 0x00, 0x14, 0x7c, 0x00, 0x01, 0x2a}
	gcc = append(gcc, ccr...)

	var cr []byte
	cr = append(cr, 0x0a, 0x01, 0x00) // result: rt-successful
	cr = append(cr, 0x02, 0x01, 0x00) // calledConnectId
	cr = append(cr, domainParameters(34, 3, 0, 0xfff8)...)
	cr = append(cr, 0x04)
	cr = append(cr, berLen2(len(gcc))...)
	cr = append(cr, gcc...)
	mcs := append([]byte{0x7f, 0x66}, berLen2(len(cr))...)
	return x224Data(append(mcs, cr...))
}

// Short MCS domain PDUs after the Connect exchange (T.125 PER).
var (
	mcsErectDomain  = x224Data([]byte{0x04, 0x01, 0x00, 0x01, 0x00})
	mcsAttachUser   = x224Data([]byte{0x28})
	mcsAttachUserOK = x224Data([]byte{0x2e, 0x00, 0x00, 0x07})
)

func mcsChannelJoin(user, channel uint16, confirm bool) []byte {
	if confirm {
		return x224Data([]byte{0x3e, 0x00, byte(user >> 8), byte(user), byte(channel >> 8), byte(channel), byte(channel >> 8), byte(channel)})
	}
	return x224Data([]byte{0x38, byte(user >> 8), byte(user), byte(channel >> 8), byte(channel)})
}

// rdpSecurityExchange is the client's Security Exchange PDU (encrypted
// client random) in an MCS Send Data Request.
func (g *generator) rdpSecurityExchange() []byte {
	random := append(g.bytes(64), make([]byte, 8)...)
	pdu := binary.LittleEndian.AppendUint16(nil, 0x0001) // SEC_EXCHANGE_PKT
	pdu = binary.LittleEndian.AppendUint16(pdu, 0)
	pdu = binary.LittleEndian.AppendUint32(pdu, uint32(len(random)))
	pdu = append(pdu, random...)
	send := []byte{0x64, 0x00, 0x06, 0x03, 0xeb, 0x70}
	send = append(send, perLen2(len(pdu))...)
	return x224Data(append(send, pdu...))
}

// rdpEncrypted is a slow-path PDU with an encrypted payload of about n bytes.
func (g *generator) rdpEncrypted(fromClient bool, n int) []byte {
	pdu := binary.LittleEndian.AppendUint16(nil, 0x0008) // SEC_ENCRYPT
	pdu = binary.LittleEndian.AppendUint16(pdu, 0)
	pdu = append(pdu, g.bytes(8+n)...) // MAC signature + data
	var hdr []byte
	if fromClient {
		hdr = []byte{0x64, 0x00, 0x06, 0x03, 0xeb, 0x70}
	} else {
		hdr = []byte{0x68, 0x00, 0x01, 0x03, 0xeb, 0x70}
	}
	hdr = append(hdr, perLen2(len(pdu))...)
	return x224Data(append(hdr, pdu...))
}
