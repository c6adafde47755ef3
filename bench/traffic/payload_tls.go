package traffic

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"math/big"
	"time"
)

// TLS record content types and versions.
const (
	tlsChangeCipherSpec = 0x14
	tlsHandshake        = 0x16
	tlsApplicationData  = 0x17
)

// bytes returns n pseudo-random bytes (encrypted-looking data).
func (g *generator) bytes(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := g.rng.Uint64()
		for j := i; j < min(i+8, n); j++ {
			b[j] = byte(v)
			v >>= 8
		}
	}
	return b
}

func appendU24(b []byte, n int) []byte { return append(b, byte(n>>16), byte(n>>8), byte(n)) }

// tlsRecord wraps a fragment in a record header.
func tlsRecord(typ byte, version uint16, fragment []byte) []byte {
	b := []byte{typ, byte(version >> 8), byte(version)}
	b = binary.BigEndian.AppendUint16(b, uint16(len(fragment)))
	return append(b, fragment...)
}

func handshakeMsg(typ byte, body []byte) []byte {
	return append(appendU24([]byte{typ}, len(body)), body...)
}

func appendExt(b []byte, typ uint16, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

// clientHello builds a browser-like ClientHello record. With tls13 it
// offers TLS 1.3 (supported_versions, key_share) and a legacy session id.
func (g *generator) clientHello(sni string, tls13 bool, alpn ...string) []byte {
	body := []byte{0x03, 0x03}
	body = append(body, g.bytes(32)...)
	if tls13 {
		body = append(body, 32)
		body = append(body, g.bytes(32)...)
	} else {
		body = append(body, 0)
	}
	suites := []uint16{0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035}
	if tls13 {
		suites = append([]uint16{0x1301, 0x1302, 0x1303}, suites...)
	}
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(suites)))
	for _, s := range suites {
		body = binary.BigEndian.AppendUint16(body, s)
	}
	body = append(body, 1, 0) // compression: null

	var ext []byte
	if sni != "" {
		name := append([]byte{0}, u16(len(sni))...)
		name = append(name, sni...)
		ext = appendExt(ext, 0x0000, append(u16(len(name)), name...))
	}
	ext = appendExt(ext, 0x0017, nil)                                              // extended_master_secret
	ext = appendExt(ext, 0xff01, []byte{0})                                        // renegotiation_info
	ext = appendExt(ext, 0x000a, []byte{0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18}) // x25519, P-256, P-384
	ext = appendExt(ext, 0x000b, []byte{1, 0})                                     // ec_point_formats: uncompressed
	ext = appendExt(ext, 0x0023, nil)                                              // session_ticket
	if len(alpn) > 0 {
		var list []byte
		for _, p := range alpn {
			list = append(list, byte(len(p)))
			list = append(list, p...)
		}
		ext = appendExt(ext, 0x0010, append(u16(len(list)), list...))
	}
	ext = appendExt(ext, 0x0005, []byte{1, 0, 0, 0, 0}) // status_request: OCSP
	sigalgs := []byte{0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x08, 0x07}
	ext = appendExt(ext, 0x000d, append(u16(len(sigalgs)), sigalgs...))
	if tls13 {
		share := []byte{0x00, 0x1d, 0x00, 0x20}
		share = append(share, g.bytes(32)...)
		ext = appendExt(ext, 0x0033, append(u16(len(share)), share...)) // key_share
		ext = appendExt(ext, 0x002d, []byte{1, 1})                      // psk_key_exchange_modes
		ext = appendExt(ext, 0x002b, []byte{4, 0x03, 0x04, 0x03, 0x03}) // supported_versions
	}
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	return tlsRecord(tlsHandshake, 0x0301, handshakeMsg(1, body))
}

// serverHello13 builds a TLS 1.3 server flight: ServerHello, the
// compatibility ChangeCipherSpec and the encrypted rest of the handshake.
func (g *generator) serverHello13(clientHello []byte) []byte {
	body := []byte{0x03, 0x03}
	body = append(body, g.bytes(32)...)
	// Echo the client's legacy session id (after record 5 + hs 4 + version 2 + random 32).
	sid := clientHello[43 : 44+int(clientHello[43])]
	body = append(body, sid...)
	body = append(body, 0x13, 0x01, 0) // TLS_AES_128_GCM_SHA256, null compression
	var ext []byte
	ext = appendExt(ext, 0x002b, []byte{0x03, 0x04})
	share := []byte{0x00, 0x1d, 0x00, 0x20}
	ext = appendExt(ext, 0x0033, append(share, g.bytes(32)...))
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	out := tlsRecord(tlsHandshake, 0x0303, handshakeMsg(2, body))
	out = append(out, tlsRecord(tlsChangeCipherSpec, 0x0303, []byte{1})...)
	// EncryptedExtensions, Certificate, CertificateVerify, Finished.
	out = append(out, tlsRecord(tlsApplicationData, 0x0303, g.bytes(int(g.between(1600, 3000))))...)
	return out
}

// clientFinished13 is the client's second flight in TLS 1.3.
func (g *generator) clientFinished13() []byte {
	out := tlsRecord(tlsChangeCipherSpec, 0x0303, []byte{1})
	return append(out, tlsRecord(tlsApplicationData, 0x0303, g.bytes(53))...)
}

// serverHello12 builds a TLS 1.2 ECDHE server flight: ServerHello,
// Certificate (a real Ed25519 certificate for name), ServerKeyExchange and
// ServerHelloDone.
func (g *generator) serverHello12(name string) []byte {
	body := []byte{0x03, 0x03}
	body = append(body, g.bytes(32)...)
	body = append(body, 32)
	body = append(body, g.bytes(32)...)
	body = append(body, 0xc0, 0x2b, 0) // ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
	var ext []byte
	ext = appendExt(ext, 0xff01, []byte{0})
	ext = appendExt(ext, 0x000b, []byte{1, 0})
	ext = appendExt(ext, 0x0017, nil)
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)
	out := tlsRecord(tlsHandshake, 0x0303, handshakeMsg(2, body))

	cert := g.certificate(name)
	chain := appendU24(nil, len(cert))
	chain = append(chain, cert...)
	out = append(out, tlsRecord(tlsHandshake, 0x0303, handshakeMsg(11, append(appendU24(nil, len(chain)), chain...)))...)

	ske := []byte{3, 0x00, 0x1d, 32}
	ske = append(ske, g.bytes(32)...)
	ske = append(ske, 0x08, 0x07, 0x00, 0x40) // ed25519 signature
	ske = append(ske, g.bytes(64)...)
	flight := handshakeMsg(12, ske)
	flight = append(flight, handshakeMsg(14, nil)...)
	return append(out, tlsRecord(tlsHandshake, 0x0303, flight)...)
}

// clientKeyExchange12 is the client's second flight in TLS 1.2.
func (g *generator) clientKeyExchange12() []byte {
	cke := append([]byte{32}, g.bytes(32)...)
	out := tlsRecord(tlsHandshake, 0x0303, handshakeMsg(16, cke))
	out = append(out, tlsRecord(tlsChangeCipherSpec, 0x0303, []byte{1})...)
	return append(out, tlsRecord(tlsHandshake, 0x0303, g.bytes(40))...) // encrypted Finished
}

// serverFinished12 is the server's ChangeCipherSpec and encrypted Finished.
func (g *generator) serverFinished12() []byte {
	out := tlsRecord(tlsChangeCipherSpec, 0x0303, []byte{1})
	return append(out, tlsRecord(tlsHandshake, 0x0303, g.bytes(40))...)
}

// appData returns TLS application data records carrying about n bytes.
func (g *generator) appData(n int) []byte {
	var out []byte
	for n > 0 {
		chunk := min(n, 16384)
		out = append(out, tlsRecord(tlsApplicationData, 0x0303, g.bytes(chunk+17))...)
		n -= chunk
	}
	return out
}

// certificate returns a self-consistent DER certificate for name, signed by
// a deterministic Ed25519 key, cached per name.
func (g *generator) certificate(name string) []byte {
	if c, ok := g.certs[name]; ok {
		return c
	}
	seed := sha256.Sum256([]byte("netbased-bench:" + name))
	key := ed25519.NewKeyFromSeed(seed[:])
	notBefore := g.cfg.Start.Add(-30 * 24 * time.Hour).Truncate(time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(seed[:12]),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"netbased bench"}},
		Issuer:                pkix.Name{CommonName: name},
		DNSNames:              []string{name},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(90 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          seed[12:32],
	}
	der, err := x509.CreateCertificate(zeroReader{}, tmpl, tmpl, key.Public(), key)
	if err != nil {
		// Cannot happen with these inputs; fall back to opaque bytes so
		// generation never fails.
		der = append([]byte{0x30, 0x82, 0x01, 0x00}, g.bytes(256)...)
	}
	g.certs[name] = der
	return der
}

// zeroReader is a deterministic io.Reader for APIs that want randomness
// they do not need (Ed25519 signatures are deterministic).
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
