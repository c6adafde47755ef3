package traffic

import (
	"encoding/binary"
	"strings"
	"time"
)

// sshPacket frames an SSH binary packet (RFC 4253 6) with random padding
// to a multiple of 8 bytes.
func (g *generator) sshPacket(payload []byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, g.bytes(pad)...)
}

func sshNameList(b []byte, names ...string) []byte {
	s := strings.Join(names, ",")
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// sshKexInit is an SSH_MSG_KEXINIT packet.
func (g *generator) sshKexInit(server bool) []byte {
	b := append([]byte{20}, g.bytes(16)...)
	kex := []string{"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "diffie-hellman-group14-sha256"}
	if server {
		kex = append(kex, "kex-strict-s-v00@openssh.com")
	} else {
		kex = append(kex, "ext-info-c", "kex-strict-c-v00@openssh.com")
	}
	b = sshNameList(b, kex...)
	b = sshNameList(b, "ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256")
	ciphers := []string{"chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"}
	macs := []string{"umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256"}
	b = sshNameList(b, ciphers...)
	b = sshNameList(b, ciphers...)
	b = sshNameList(b, macs...)
	b = sshNameList(b, macs...)
	b = sshNameList(b, "none", "zlib@openssh.com")
	b = sshNameList(b, "none", "zlib@openssh.com")
	b = sshNameList(b)
	b = sshNameList(b)
	b = append(b, 0, 0, 0, 0, 0) // first_kex_packet_follows, reserved
	return g.sshPacket(b)
}

// sshECDHInit is SSH_MSG_KEX_ECDH_INIT with a curve25519 public key.
func (g *generator) sshECDHInit() []byte {
	b := append([]byte{30, 0, 0, 0, 32}, g.bytes(32)...)
	return g.sshPacket(b)
}

// sshECDHReply is SSH_MSG_KEX_ECDH_REPLY (ed25519 host key, curve25519 key,
// signature) followed by SSH_MSG_NEWKEYS.
func (g *generator) sshECDHReply() []byte {
	hostKey := binary.BigEndian.AppendUint32(nil, 11)
	hostKey = append(hostKey, "ssh-ed25519"...)
	hostKey = binary.BigEndian.AppendUint32(hostKey, 32)
	hostKey = append(hostKey, g.bytes(32)...)
	sig := binary.BigEndian.AppendUint32(nil, 11)
	sig = append(sig, "ssh-ed25519"...)
	sig = binary.BigEndian.AppendUint32(sig, 64)
	sig = append(sig, g.bytes(64)...)
	b := []byte{31}
	b = binary.BigEndian.AppendUint32(b, uint32(len(hostKey)))
	b = append(b, hostKey...)
	b = binary.BigEndian.AppendUint32(b, 32)
	b = append(b, g.bytes(32)...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(sig)))
	b = append(b, sig...)
	return append(g.sshPacket(b), g.sshNewKeys()...)
}

func (g *generator) sshNewKeys() []byte { return g.sshPacket([]byte{21}) }

// sshEncrypted is an encrypted packet (chacha20-poly1305: length, data, tag).
func (g *generator) sshEncrypted(n int) []byte {
	n = (n + 7) &^ 7
	return g.bytes(4 + n + 16)
}

// ntpTimestamp encodes t as an NTP 64-bit timestamp.
func ntpTimestamp(t time.Time) []byte {
	const ntpEpochOffset = 2208988800
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return binary.BigEndian.AppendUint64(nil, secs<<32|frac)
}

// ntpClient is an NTPv4 client request (mode 3) sent at t.
func ntpClient(t time.Time) []byte {
	b := []byte{0x23, 0, 6, 0xe9} // LI 0, v4, mode 3; stratum 0; poll 6; precision -23
	b = append(b, make([]byte, 8)...)
	b = append(b, make([]byte, 4)...)  // reference id
	b = append(b, make([]byte, 24)...) // reference, origin, receive timestamps
	return append(b, ntpTimestamp(t)...)
}

// ntpServer is an NTPv4 server reply (mode 4, stratum 3) to a request
// whose transmit timestamp was sent.
func ntpServer(request []byte, recv, xmit time.Time) []byte {
	b := []byte{0x24, 3, 6, 0xe7}
	b = append(b, 0, 0, 0x02, 0x1c, 0, 0, 0x03, 0x4a) // root delay, root dispersion
	b = append(b, 10, 33, 8, 12)                      // reference id (upstream server)
	b = append(b, ntpTimestamp(recv.Add(-37*time.Second))...)
	b = append(b, request[40:48]...) // origin = client's transmit
	b = append(b, ntpTimestamp(recv)...)
	return append(b, ntpTimestamp(xmit)...)
}

// pingPayload is the 56-byte payload of a Linux ping (timeval + pattern).
func pingPayload(t time.Time) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(t.Unix()))
	b = binary.LittleEndian.AppendUint64(b, uint64(t.Nanosecond()/1000))
	for i := 0x10; len(b) < 56; i++ {
		b = append(b, byte(i))
	}
	return b
}
