package capture

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frame builders for the tests. IP packets are serialized with gopacket
// (lengths and checksums computed); the link layers, shims and tunnel
// headers around them are assembled by hand.

var testTime = time.Unix(1700000000, 123456000)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: proto,
		SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func ip6(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

// tcp4 is an IPv4/TCP packet.
func tcp4(t testing.TB, src, dst string, sport, dport uint16, flags string, payload []byte) []byte {
	ip := ip4(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 1000, Ack: 2000,
		Window: 512, DataOffset: 5}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		}
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, tcp, gopacket.Payload(payload))
}

// udp4 is an IPv4/UDP packet.
func udp4(t testing.TB, src, dst string, sport, dport uint16, payload []byte) []byte {
	ip := ip4(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

// udp6 is an IPv6/UDP packet.
func udp6(t testing.TB, src, dst string, sport, dport uint16, payload []byte) []byte {
	ip := ip6(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

// icmp4Echo is an IPv4 ICMP echo request.
func icmp4Echo(t testing.TB, src, dst string, payload []byte) []byte {
	ip := ip4(src, dst, layers.IPProtocolICMPv4)
	icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 7, Seq: 1}
	return serialize(t, ip, icmp, gopacket.Payload(payload))
}

// icmp6Echo is an IPv6 ICMPv6 echo request.
func icmp6Echo(t testing.TB, src, dst string, payload []byte) []byte {
	ip := ip6(src, dst, layers.IPProtocolICMPv6)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	if err := icmp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return serialize(t, ip, icmp, &layers.ICMPv6Echo{Identifier: 1, SeqNumber: 2}, gopacket.Payload(payload))
}

// rawIP4 is an IPv4 packet with an arbitrary protocol and payload.
func rawIP4(t testing.TB, src, dst string, proto layers.IPProtocol, payload []byte) []byte {
	return serialize(t, ip4(src, dst, proto), gopacket.Payload(payload))
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

var (
	macA = []byte{0, 1, 2, 3, 4, 5}
	macB = []byte{0, 6, 7, 8, 9, 10}
)

// eth is an Ethernet II header with the given EtherType followed by payload.
func eth(ethertype uint16, payload []byte) []byte {
	return cat(macA, macB, be16(ethertype), payload)
}

// tag is a 4-byte VLAN-style tag (TCI, inner EtherType).
func tag(tci, inner uint16) []byte { return cat(be16(tci), be16(inner)) }

// frameOf wraps data into an Ethernet-less Frame of the given link type.
func frameOf(lt layers.LinkType, data []byte) Frame {
	return Frame{Data: data, CaptureLength: len(data), Length: len(data), LinkType: lt, Timestamp: testTime}
}

func ethFrame(data []byte) Frame { return frameOf(layers.LinkTypeEthernet, data) }

// corrupt flips a byte in a copy of b.
func corrupt(b []byte, at int) []byte {
	c := append([]byte(nil), b...)
	c[at] ^= 0xff
	return c
}

func layersProto(p uint8) layers.IPProtocol { return layers.IPProtocol(p) }

// checksumFold folds a running sum into 16 bits (a valid packet gives
// 0xffff). checksumAdd's result is already folded; the tests fold sums of
// their own.
func checksumFold(sum uint32) uint32 {
	for sum > 0xffff {
		sum = (sum >> 16) + (sum & 0xffff)
	}
	return sum
}
