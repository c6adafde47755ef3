package classify

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
)

// QUIC recognition (Zeek's Spicy QUIC analyzer) and its SSL child.
//
// Confirmation: a client Initial packet (long header, Initial type) of a
// known version whose payload decrypts: the Initial keys are derived from
// the version's initial salt and the Destination Connection ID (RFC 9001
// §5.2, RFC 9369 for v2: HKDF-SHA256), header protection is removed with
// AES-128-ECB, and the payload is opened with AES-128-GCM — authentication
// proves the packet. Then "quic" is confirmed; if a CRYPTO frame at offset
// 0 begins with a ClientHello of a valid version, "ssl" follows
// ("quic,ssl"), as Zeek's SSL child does.
//
// Attachment: port 443/udp, or elsewhere the signatures
// ^[\xC0-\xCF]\x00\x00\x00\x01 (v1 Initial) and ^[\xD0-\xDF]\x6b\x33\x43\xcf
// (v2 Initial); drafts 29–32 only on 443. Only the originator's first
// datagram (and one more, for coalesced or retried Initials) is tried; the
// decryption allocates, but at most twice per connection.

const (
	quicV1      = 0x00000001
	quicV2      = 0x6b3343cf
	quicDraft29 = 0xff00001d
	quicDraft32 = 0xff000020
	// quicTries bounds how many originator datagrams are decrypted.
	quicTries = 2
)

var (
	quicSaltV1      = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	quicSaltV2      = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	quicSaltDraft29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
)

// quicVarint reads a QUIC variable-length integer.
func quicVarint(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	n = 1 << (b[0] >> 6)
	if len(b) < n {
		return 0, 0, false
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, n, true
}

// hkdfExpandLabel is TLS 1.3's HKDF-Expand-Label with an empty context.
func hkdfExpandLabel(secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = append(info, byte(n>>8), byte(n), byte(len(full)))
	info = append(info, full...)
	info = append(info, 0)
	out, err := hkdf.Expand(sha256.New, secret, string(info), n)
	if err != nil {
		return nil
	}
	return out
}

// quicInitial decrypts a client Initial packet at the start of b and
// returns its plaintext payload (frames); ok is false if b is not a
// decryptable Initial of a version allowed here.
func quicInitial(b []byte, onPort bool) (plain []byte, ok bool) {
	if len(b) < 7 || b[0]&0xc0 != 0xc0 {
		return nil, false
	}
	version := be32(b[1:5])
	var salt []byte
	labels := [3]string{"quic key", "quic iv", "quic hp"}
	initialType := byte(0)
	switch {
	case version == quicV1:
		salt = quicSaltV1
	case version == quicV2:
		salt = quicSaltV2
		labels = [3]string{"quicv2 key", "quicv2 iv", "quicv2 hp"}
		initialType = 1
	case version >= quicDraft29 && version <= quicDraft32 && onPort:
		salt = quicSaltDraft29
	default:
		return nil, false
	}
	if (b[0]>>4)&3 != initialType {
		return nil, false
	}
	off := 5
	dcidLen := int(b[off])
	off++
	if dcidLen > 20 || off+dcidLen >= len(b) {
		return nil, false
	}
	dcid := b[off : off+dcidLen]
	off += dcidLen
	scidLen := int(b[off])
	off++
	if scidLen > 20 || off+scidLen > len(b) {
		return nil, false
	}
	off += scidLen
	tokLen, n, ok := quicVarint(b[off:])
	if !ok || tokLen > uint64(len(b)) {
		return nil, false
	}
	off += n + int(tokLen)
	if off > len(b) {
		return nil, false
	}
	length, n, ok := quicVarint(b[off:])
	if !ok {
		return nil, false
	}
	off += n
	pnOff := off
	if length < 20 || uint64(len(b)-pnOff) < length {
		return nil, false
	}
	end := pnOff + int(length)

	initialSecret, err := hkdf.Extract(sha256.New, dcid, salt)
	if err != nil {
		return nil, false
	}
	clientSecret := hkdfExpandLabel(initialSecret, "client in", 32)
	key := hkdfExpandLabel(clientSecret, labels[0], 16)
	iv := hkdfExpandLabel(clientSecret, labels[1], 12)
	hp := hkdfExpandLabel(clientSecret, labels[2], 16)
	if key == nil || iv == nil || hp == nil {
		return nil, false
	}

	// Header protection.
	hpBlock, err := aes.NewCipher(hp)
	if err != nil {
		return nil, false
	}
	var mask [16]byte
	hpBlock.Encrypt(mask[:], b[pnOff+4:pnOff+20])
	hdr := make([]byte, pnOff+4)
	copy(hdr, b[:pnOff+4])
	hdr[0] ^= mask[0] & 0x0f
	pnLen := int(hdr[0]&3) + 1
	var pn uint64
	for i := 0; i < pnLen; i++ {
		hdr[pnOff+i] ^= mask[1+i]
		pn = pn<<8 | uint64(hdr[pnOff+i])
	}
	hdr = hdr[:pnOff+pnLen]

	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, false
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, false
	}
	var nonce [12]byte
	copy(nonce[:], iv)
	for i := 0; i < 8; i++ {
		nonce[11-i] ^= byte(pn >> (8 * i))
	}
	ct := b[pnOff+pnLen : end]
	if len(ct) < aead.Overhead() {
		return nil, false
	}
	plain, err = aead.Open(nil, nonce[:], ct, hdr)
	if err != nil {
		return nil, false
	}
	return plain, true
}

// quicCryptoStart returns the data of the CRYPTO frame at offset 0 among
// the frames of an Initial packet, if any.
func quicCryptoStart(frames []byte) []byte {
	for i := 0; i < 64 && len(frames) > 0; i++ {
		t := frames[0]
		switch {
		case t == 0x00: // PADDING
			frames = frames[1:]
			i-- // padding runs do not count against the bound
			if len(frames) > 0 && frames[0] == 0 {
				j := 0
				for j < len(frames) && frames[j] == 0 {
					j++
				}
				frames = frames[j:]
			}
		case t == 0x01: // PING
			frames = frames[1:]
		case t == 0x02 || t == 0x03: // ACK
			p := frames[1:]
			var vals [4]uint64
			for k := 0; k < 4; k++ {
				v, n, ok := quicVarint(p)
				if !ok {
					return nil
				}
				vals[k] = v
				p = p[n:]
			}
			rangeCount := vals[2]
			if rangeCount > 256 {
				return nil
			}
			for k := uint64(0); k < 2*rangeCount; k++ {
				_, n, ok := quicVarint(p)
				if !ok {
					return nil
				}
				p = p[n:]
			}
			if t == 0x03 {
				for k := 0; k < 3; k++ {
					_, n, ok := quicVarint(p)
					if !ok {
						return nil
					}
					p = p[n:]
				}
			}
			frames = p
		case t == 0x06: // CRYPTO
			p := frames[1:]
			off, n, ok := quicVarint(p)
			if !ok {
				return nil
			}
			p = p[n:]
			l, n, ok := quicVarint(p)
			if !ok || uint64(len(p)-n) < l {
				return nil
			}
			data := p[n : n+int(l)]
			if off == 0 {
				return data
			}
			frames = p[n+int(l):]
		default:
			return nil
		}
	}
	return nil
}

// quicSig is the QUIC DPD signature pair (v1 and v2 Initial).
func quicSig(b []byte) bool {
	if len(b) < 5 {
		return false
	}
	if b[0] >= 0xc0 && b[0] <= 0xcf && be32(b[1:5]) == quicV1 {
		return true
	}
	return b[0] >= 0xd0 && b[0] <= 0xdf && be32(b[1:5]) == quicV2
}

// quic handles one UDP datagram.
func (c *Classifier) quic(st *State, fromOrig bool, data []byte) {
	onPort := st.attached(svcQUIC)
	if !fromOrig {
		if st.chunks[0] == 0 && !onPort {
			st.pending &^= 1 << recQUIC
		}
		return
	}
	if st.chunks[0] > quicTries || (!onPort && !quicSig(data)) {
		st.pending &^= 1 << recQUIC
		return
	}
	plain, ok := quicInitial(data, onPort)
	if !ok {
		return
	}
	c.confirm(st, svcQUIC)
	st.pending &^= 1 << recQUIC
	if ch := quicCryptoStart(plain); len(ch) >= 6 && ch[0] == 0x01 && validTLSVersion(be16(ch[4:6])) {
		c.confirm(st, svcSSL)
	}
}
