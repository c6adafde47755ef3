package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// want describes one expected output packet.
type want struct {
	src, dst     string
	proto        uint8
	sport, dport uint16
	depth        uint8
	service      string
	bad          bool
	vlan         uint16
}

type decodeCase struct {
	name    string
	frame   Frame
	opts    DecoderOptions
	want    []want
	wantErr string // DecodeError reason, "" for none
}

func checkPackets(t *testing.T, got []Packet, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for i, p := range got {
			t.Logf("got[%d] = %s:%d > %s:%d proto %d depth %d svc %q", i, p.Src, p.SrcPort, p.Dst, p.DstPort,
				p.Proto, p.TunnelDepth, p.TunnelService)
		}
		t.Fatalf("got %d packets, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		p := got[i]
		if p.Src != netip.MustParseAddr(w.src) || p.Dst != netip.MustParseAddr(w.dst) {
			t.Errorf("packet %d: %s > %s, want %s > %s", i, p.Src, p.Dst, w.src, w.dst)
		}
		if p.Proto != w.proto || p.SrcPort != w.sport || p.DstPort != w.dport {
			t.Errorf("packet %d: proto %d ports %d > %d, want proto %d ports %d > %d",
				i, p.Proto, p.SrcPort, p.DstPort, w.proto, w.sport, w.dport)
		}
		if p.TunnelDepth != w.depth || p.TunnelService != w.service {
			t.Errorf("packet %d: depth %d service %q, want depth %d service %q",
				i, p.TunnelDepth, p.TunnelService, w.depth, w.service)
		}
		if p.BadChecksum != w.bad {
			t.Errorf("packet %d: BadChecksum = %v, want %v", i, p.BadChecksum, w.bad)
		}
		if p.VLAN != w.vlan {
			t.Errorf("packet %d: VLAN = %d, want %d", i, p.VLAN, w.vlan)
		}
		if !p.Timestamp.Equal(testTime) {
			t.Errorf("packet %d: timestamp %v", i, p.Timestamp)
		}
	}
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.opts)
			out, err := d.Decode(tc.frame, nil)
			var de *DecodeError
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && !errors.As(err, &de):
				t.Fatalf("error = %v, want DecodeError %q", err, tc.wantErr)
			case tc.wantErr != "" && de.Reason != tc.wantErr:
				t.Fatalf("error reason %q, want %q", de.Reason, tc.wantErr)
			}
			checkPackets(t, out, tc.want)
		})
	}
}

var (
	wTCP  = want{src: "10.0.0.1", dst: "10.0.0.2", proto: 6, sport: 1234, dport: 80}
	wUDP  = want{src: "10.0.0.1", dst: "10.0.0.2", proto: 17, sport: 5353, dport: 53}
	wUDP6 = want{src: "2001:db8::1", dst: "2001:db8::2", proto: 17, sport: 5353, dport: 53}
)

func withVLAN(w want, vlan uint16) want { w.vlan = vlan; return w }
func atDepth(w want, depth uint8) want  { w.depth = depth; return w }

func TestDecodeLinkTypes(t *testing.T) {
	pkt := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "S", nil)
	pkt6 := udp6(t, "2001:db8::1", "2001:db8::2", 5353, 53, []byte("hello"))
	le32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	sll := cat(be16(0), be16(1), be16(6), macA, []byte{0, 0}, be16(0x0800), pkt)
	sll2 := cat(be16(0x86dd), be16(0), be32(3), be16(1), []byte{0, 6}, macA, []byte{0, 0}, pkt6)
	dot11 := func(fc0, fc1 byte, body []byte) []byte {
		h := make([]byte, 24)
		h[0], h[1] = fc0, fc1
		return cat(h, body)
	}
	snap := func(et uint16, p []byte) []byte { return cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16(et), p) }
	radiotap := cat([]byte{0, 0}, []byte{8, 0}, []byte{0, 0, 0, 0})
	// NFLOG: header, a prefix TLV, then the payload TLV (type 9).
	nflog := cat([]byte{2, 0, 0, 0}, []byte{8, 0, 10, 0}, []byte("abc\x00"),
		binary.LittleEndian.AppendUint16(nil, uint16(4+len(pkt))), []byte{9, 0}, pkt)
	// 802.11 QoS data frame with an A-MSDU of two subframes.
	sub1 := snap(0x0800, pkt)
	sub2 := snap(0x0800, tcp4(t, "10.0.0.3", "10.0.0.4", 1, 2, "A", nil))
	pad1 := make([]byte, len(sub1)%4) // Zeek skips len%4 bytes
	amsdu := cat(macA, macB, be16(uint16(len(sub1))), sub1, pad1, macA, macB, be16(uint16(len(sub2))), sub2)
	qos := cat(make([]byte, 24), []byte{0x80, 0}, amsdu)
	qos[0], qos[1] = 0x88, 0x01

	runDecodeCases(t, []decodeCase{
		{name: "ethernet", frame: ethFrame(eth(0x0800, pkt)), want: []want{wTCP}},
		{name: "ethernet ipv6", frame: ethFrame(eth(0x86dd, pkt6)), want: []want{wUDP6}},
		{name: "ethernet arp", frame: ethFrame(eth(0x0806, make([]byte, 28)))},
		{name: "802.3 llc snap", frame: ethFrame(cat(macA, macB, be16(uint16(len(pkt)+8)), snap(0x0800, pkt))), want: []want{wTCP}},
		{name: "linux sll", frame: frameOf(layers.LinkTypeLinuxSLL, sll), want: []want{wTCP}},
		{name: "linux sll2", frame: frameOf(276, sll2), want: []want{wUDP6}},
		{name: "raw 101", frame: frameOf(101, pkt), want: []want{wTCP}},
		{name: "raw 12", frame: frameOf(12, pkt6), want: []want{wUDP6}},
		{name: "raw 14", frame: frameOf(14, pkt), want: []want{wTCP}},
		{name: "ipv4 228", frame: frameOf(228, pkt), want: []want{wTCP}},
		{name: "ipv6 229", frame: frameOf(229, pkt6), want: []want{wUDP6}},
		{name: "null af 2", frame: frameOf(0, cat(le32(2), pkt)), want: []want{wTCP}},
		{name: "null af 24", frame: frameOf(0, cat(le32(24), pkt6)), want: []want{wUDP6}},
		{name: "null af 28", frame: frameOf(0, cat(le32(28), pkt6)), want: []want{wUDP6}},
		{name: "null af 30", frame: frameOf(0, cat(le32(30), pkt6)), want: []want{wUDP6}},
		{name: "loop af 2 big endian", frame: frameOf(108, cat(be32(2), pkt)), want: []want{wTCP}},
		{name: "null unknown af", frame: frameOf(0, cat(le32(7), pkt))},
		{name: "ppp", frame: frameOf(9, cat([]byte{0xff, 0x03}, be16(0x0021), pkt)), want: []want{wTCP}},
		{name: "ppp ipv6", frame: frameOf(9, cat([]byte{0xff, 0x03}, be16(0x0057), pkt6)), want: []want{wUDP6}},
		{name: "ppp in hdlc", frame: frameOf(50, cat([]byte{0xff, 0x03}, be16(0x0021), pkt)), want: []want{wTCP}},
		{name: "fddi", frame: frameOf(10, cat([]byte{0x50}, macA, macB, snap(0x0800, pkt))), want: []want{wTCP}},
		{name: "802.11 data", frame: frameOf(105, dot11(0x08, 0x01, snap(0x0800, pkt))), want: []want{wTCP}},
		{name: "802.11 4-address", frame: frameOf(105, cat(dot11(0x08, 0x03, make([]byte, 6)), snap(0x0800, pkt))), want: []want{wTCP}},
		{name: "802.11 management", frame: frameOf(105, dot11(0x80, 0x00, snap(0x0800, pkt)))},
		{name: "802.11 qos protected", frame: frameOf(105, cat(dot11(0x88, 0x41, []byte{0, 0}), snap(0x0800, pkt)))},
		{name: "802.11 a-msdu", frame: frameOf(105, qos), want: []want{wTCP, {src: "10.0.0.3", dst: "10.0.0.4", proto: 6, sport: 1, dport: 2}}},
		{name: "radiotap", frame: frameOf(127, cat(radiotap, dot11(0x08, 0x02, snap(0x0800, pkt)))), want: []want{wTCP}},
		{name: "nflog", frame: frameOf(239, nflog), want: []want{wTCP}},
		{name: "out-of-band vlan", frame: Frame{Data: eth(0x0800, pkt), Length: 54, LinkType: 1, VLAN: 42, Timestamp: testTime}, want: []want{withVLAN(wTCP, 42)}},
		{name: "unknown link type", frame: frameOf(147, pkt), wantErr: "unknown_link_type"},
		{name: "truncated ethernet", frame: ethFrame(macA), wantErr: "truncated_link_header"},
		{name: "truncated 802.11", frame: frameOf(105, make([]byte, 10)), wantErr: "truncated_802_11_header"},
	})
}

func TestDecodeShims(t *testing.T) {
	pkt := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "S", nil)
	mpls := func(label uint32, bos bool) []byte {
		v := label<<12 | 64
		if bos {
			v |= 1 << 8
		}
		return be32(v)
	}
	pppoe := cat([]byte{0x11, 0}, be16(7), be16(uint16(len(pkt)+2)), be16(0x0021), pkt)
	runDecodeCases(t, []decodeCase{
		{name: "vlan", frame: ethFrame(eth(0x8100, cat(tag(100, 0x0800), pkt))), want: []want{withVLAN(wTCP, 100)}},
		{name: "qinq 88a8", frame: ethFrame(eth(0x88a8, cat(tag(10, 0x8100), tag(20, 0x0800), pkt))), want: []want{withVLAN(wTCP, 20)}},
		{name: "qinq 9100", frame: ethFrame(eth(0x9100, cat(tag(10, 0x8100), tag(0x2000|30, 0x0800), pkt))), want: []want{withVLAN(wTCP, 30)}},
		{name: "mpls two labels", frame: ethFrame(eth(0x8847, cat(mpls(100, false), mpls(200, true), pkt))), want: []want{wTCP}},
		{name: "mpls in vlan", frame: ethFrame(eth(0x8100, cat(tag(5, 0x8847), mpls(1, true), pkt))), want: []want{withVLAN(wTCP, 5)}},
		{name: "mpls truncated", frame: ethFrame(eth(0x8847, mpls(1, false))), wantErr: "truncated_mpls_header"},
		{name: "pppoe session", frame: ethFrame(eth(0x8864, pppoe)), want: []want{wTCP}},
		{name: "pppoe discovery", frame: ethFrame(eth(0x8863, pppoe))},
		{name: "pbb", frame: ethFrame(eth(0x88e7, cat(be32(0x00012345), eth(0x8100, cat(tag(9, 0x0800), pkt))))), want: []want{withVLAN(wTCP, 9)}},
		{name: "vn-tag", frame: ethFrame(eth(0x8926, cat(be32(0x80010002), be16(0x8100), tag(3, 0x0800), pkt))), want: []want{withVLAN(wTCP, 3)}},
		{name: "fabricpath", frame: ethFrame(cat(macA, macB, be16(0x8903), be16(0x0001), eth(0x0800, pkt))), want: []want{wTCP}},
		{name: "vn-tag then ip: not in Zeek's table", frame: ethFrame(eth(0x8926, cat(be32(0x80010002), be16(0x0800), pkt)))},
		// zeek/zeek#4286: VLAN → VN-Tag → VLAN → IP.
		{name: "vn-tag inside vlan", frame: ethFrame(eth(0x8100, cat(tag(7, 0x8926), be32(0x80010002), be16(0x8100), tag(3, 0x0800), pkt))), want: []want{withVLAN(wTCP, 3)}},
		{name: "vn-tag inside vlan then ip: not in Zeek's table", frame: ethFrame(eth(0x8100, cat(tag(7, 0x8926), be32(0x80010002), be16(0x0800), pkt)))},
		{name: "vn-tag inside vn-tag: not in Zeek's table", frame: ethFrame(eth(0x8926, cat(be32(0x80010002), be16(0x8926), be32(0x80010002), be16(0x8100), tag(3, 0x0800), pkt)))},
		{name: "vn-tag truncated", frame: ethFrame(eth(0x8926, cat(be32(0x80010002), be16(0x8100)))), wantErr: "truncated_link_header"},
		{name: "vlan truncated", frame: ethFrame(eth(0x8100, tag(1, 0x0800))), wantErr: "truncated_link_header"},
		{name: "88a8 inside vlan: not in Zeek's table", frame: ethFrame(eth(0x8100, cat(tag(1, 0x88a8), tag(2, 0x0800), pkt)))},
		{name: "sll vlan not followed", frame: frameOf(113, cat(be16(0), be16(1), be16(6), macA, []byte{0, 0}, be16(0x8100), tag(1, 0x0800), pkt))},
		{name: "too many tags", frame: ethFrame(eth(0x8100, cat(bytes.Repeat(tag(1, 0x8100), 20), pkt))), wantErr: "too_many_l2_headers"},
	})
}

func TestDecodeIPAndTransport(t *testing.T) {
	tcp := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "PA", []byte("GET / HTTP/1.0\r\n\r\n"))
	udp := udp4(t, "10.0.0.1", "10.0.0.2", 5353, 53, []byte("query"))
	udpZero := append([]byte(nil), udp...)
	udpZero[20+6], udpZero[20+7] = 0, 0 // checksum 0: not checked over IPv4
	icmp := icmp4Echo(t, "10.0.0.1", "10.0.0.2", []byte("ping-data"))
	icmp6 := icmp6Echo(t, "2001:db8::1", "2001:db8::2", []byte("ping6"))
	sctp := rawIP4(t, "10.0.0.1", "10.0.0.2", 132, make([]byte, 28))
	igmp := rawIP4(t, "10.0.0.1", "224.0.0.1", 2, make([]byte, 8))
	esp := rawIP4(t, "10.0.0.1", "10.0.0.2", 50, make([]byte, 40))
	badIPSum := corrupt(tcp, 10)
	zeroLen := append([]byte(nil), tcp...)
	zeroLen[2], zeroLen[3] = 0, 0
	runDecodeCases(t, []decodeCase{
		{name: "tcp", frame: ethFrame(eth(0x0800, tcp)), want: []want{wTCP}},
		{name: "tcp bad checksum", frame: ethFrame(eth(0x0800, corrupt(tcp, len(tcp)-1))), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 6, sport: 1234, dport: 80, bad: true}}},
		{name: "tcp bad checksum ignored", opts: DecoderOptions{IgnoreChecksums: true}, frame: ethFrame(eth(0x0800, corrupt(tcp, len(tcp)-1))), want: []want{wTCP}},
		{name: "udp", frame: ethFrame(eth(0x0800, udp)), want: []want{wUDP}},
		{name: "udp zero checksum", frame: ethFrame(eth(0x0800, udpZero)), want: []want{wUDP}},
		{name: "udp bad checksum", frame: ethFrame(eth(0x0800, corrupt(udp, len(udp)-1))), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 17, sport: 5353, dport: 53, bad: true}}},
		{name: "icmp echo", frame: ethFrame(eth(0x0800, icmp)), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 1, sport: 8, dport: 0}}},
		{name: "icmp bad checksum", frame: ethFrame(eth(0x0800, corrupt(icmp, len(icmp)-1))), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 1, sport: 8, dport: 0, bad: true}}},
		{name: "icmpv6 echo", frame: ethFrame(eth(0x86dd, icmp6)), want: []want{{src: "2001:db8::1", dst: "2001:db8::2", proto: 58, sport: 128, dport: 0}}},
		{name: "unknown transport sctp", frame: ethFrame(eth(0x0800, sctp)), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 132}}},
		{name: "igmp ignored", frame: ethFrame(eth(0x0800, igmp))},
		{name: "igmp as unknown transport", opts: DecoderOptions{IGMPAsUnknownTransport: true}, frame: ethFrame(eth(0x0800, igmp)), want: []want{{src: "10.0.0.1", dst: "224.0.0.1", proto: 2}}},
		{name: "esp", frame: ethFrame(eth(0x0800, esp))},
		{name: "bad ip checksum", frame: ethFrame(eth(0x0800, badIPSum)), wantErr: "bad_IP_checksum"},
		{name: "bad ip checksum ignored", opts: DecoderOptions{IgnoreChecksums: true}, frame: ethFrame(eth(0x0800, badIPSum)), want: []want{{src: "10.0.0.1", dst: "10.0.0.2", proto: 6, sport: 1234, dport: 80}}},
		{name: "zero total length", frame: ethFrame(eth(0x0800, zeroLen)), wantErr: "ip_hdr_len_zero"},
		{name: "truncated ip", frame: ethFrame(eth(0x0800, tcp[:12])), wantErr: "truncated_IP"},
		{name: "ip longer than wire", frame: ethFrame(eth(0x0800, tcp[:30])), wantErr: "truncated_IP_len"},
		{name: "unknown ip version", frame: frameOf(101, cat([]byte{0x50}, make([]byte, 30))), wantErr: "unknown_ip_version"},
	})
}

func TestDecodeFieldValues(t *testing.T) {
	payload := []byte("GET / HTTP/1.0\r\n\r\n")
	tcp := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "PA", payload)
	// Ethernet padding after a short packet must not leak into the payload.
	frame := ethFrame(cat(eth(0x0800, tcp), make([]byte, 6)))
	d := NewDecoder(DecoderOptions{})
	out, err := d.Decode(frame, nil)
	if err != nil || len(out) != 1 {
		t.Fatalf("decode: %v, %d packets", err, len(out))
	}
	p := out[0]
	if p.IPLen != uint32(len(tcp)) || p.PayloadLen != len(payload) || !bytes.Equal(p.Payload, payload) {
		t.Errorf("IPLen %d PayloadLen %d Payload %q", p.IPLen, p.PayloadLen, p.Payload)
	}
	if p.Seq != 1000 || p.Ack != 2000 || p.Window != 512 || p.TCPFlags != FlagPSH|FlagACK {
		t.Errorf("tcp fields: seq %d ack %d win %d flags %#x", p.Seq, p.Ack, p.Window, p.TCPFlags)
	}

	// Snap-length truncation: header-based lengths, no checksum verdict.
	udp := udp4(t, "10.0.0.1", "10.0.0.2", 5353, 53, make([]byte, 100))
	full := eth(0x0800, udp)
	trunc := Frame{Data: full[:60], CaptureLength: 60, Length: len(full), LinkType: 1, Timestamp: testTime}
	out, err = d.Decode(trunc, out[:0])
	if err != nil || len(out) != 1 {
		t.Fatalf("truncated: %v, %d packets", err, len(out))
	}
	p = out[0]
	if p.IPLen != 128 || p.UDPLength != 108 || p.PayloadLen != 100 || len(p.Payload) != 60-14-28 || !p.Truncated || p.BadChecksum {
		t.Errorf("truncated udp: IPLen %d UDPLength %d PayloadLen %d captured %d Truncated %v Bad %v",
			p.IPLen, p.UDPLength, p.PayloadLen, len(p.Payload), p.Truncated, p.BadChecksum)
	}

	// ICMP: payload after the 8-byte header; IPv6 IPLen = payload length + 40.
	icmp6 := icmp6Echo(t, "2001:db8::1", "2001:db8::2", []byte("ping6"))
	out, err = d.Decode(ethFrame(eth(0x86dd, icmp6)), out[:0])
	if err != nil || len(out) != 1 {
		t.Fatalf("icmp6: %v, %d packets", err, len(out))
	}
	if out[0].IPLen != uint32(len(icmp6)) || out[0].PayloadLen != 5 {
		t.Errorf("icmp6 IPLen %d PayloadLen %d", out[0].IPLen, out[0].PayloadLen)
	}
}

// ipv6WithExt inserts extension headers (chained in order) between an IPv6
// header and its payload; pkt is an IPv6 packet without extension headers.
func ipv6WithExt(pkt []byte, exts ...[]byte) []byte {
	hdr := append([]byte(nil), pkt[:40]...)
	next := hdr[6]
	hdr[6] = exts[0][0] // the first header's type is stored in our pseudo byte
	var body []byte
	for i, e := range exts {
		e = append([]byte(nil), e[1:]...)
		if i+1 < len(exts) {
			e[0] = exts[i+1][0]
		} else {
			e[0] = next
		}
		body = append(body, e...)
	}
	out := cat(hdr, body, pkt[40:])
	binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-40))
	return out
}

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	final := "2001:db8::99"
	udp := udp6(t, "2001:db8::1", final, 5353, 53, []byte("query"))
	// typed extension headers: first byte = own type (consumed), then the header.
	hbh := cat([]byte{0}, []byte{0, 0, 1, 4, 0, 0, 0, 0})
	dst := cat([]byte{60}, []byte{0, 0, 1, 4, 0, 0, 0, 0})
	// Routing type 0 with one segment left: the final destination is in it.
	addr := netip.MustParseAddr(final).As16()
	rt := cat([]byte{43}, []byte{0, 2, 0, 1, 0, 0, 0, 0}, addr[:])
	withRT := ipv6WithExt(udp, hbh, rt, dst)
	copy(withRT[24:40], netip.MustParseAddr("2001:db8::50").AsSlice()) // first hop as IP dst
	ah := cat([]byte{51}, []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})  // AH: (1+2)*4 = 12 bytes
	mobility := ipv6WithExt(udp, cat([]byte{135}, make([]byte, 8)))
	noNext := append([]byte(nil), udp[:40]...)
	noNext[6] = 59
	binary.BigEndian.PutUint16(noNext[4:6], 0)
	wFinal := want{src: "2001:db8::1", dst: final, proto: 17, sport: 5353, dport: 53}
	runDecodeCases(t, []decodeCase{
		{name: "hop-by-hop", frame: ethFrame(eth(0x86dd, ipv6WithExt(udp, hbh))), want: []want{wFinal}},
		{name: "hop, routing, dest opts", frame: ethFrame(eth(0x86dd, withRT)), want: []want{wFinal}},
		{name: "ah", frame: ethFrame(eth(0x86dd, ipv6WithExt(udp, ah))), want: []want{wFinal}},
		{name: "mobility", frame: ethFrame(eth(0x86dd, mobility))},
		{name: "no next header", frame: ethFrame(eth(0x86dd, noNext)), wantErr: "ipv6_no_next"},
		{name: "truncated extension", frame: ethFrame(eth(0x86dd, ipv6WithExt(udp, hbh)[:44])), wantErr: "truncated_IP_len"},
	})
}

// fragment4 splits an IPv4 packet into fragments carrying size bytes of
// payload each (size a multiple of 8).
func fragment4(pkt []byte, size int) [][]byte {
	hl := int(pkt[0]&0x0f) * 4
	payload := pkt[hl:]
	var frags [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		f := cat(pkt[:hl], payload[off:end])
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		field := uint16(off / 8)
		if end < len(payload) {
			field |= 0x2000
		}
		binary.BigEndian.PutUint16(f[6:8], field)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:12], ^uint16(checksumFold(checksumAdd(0, f[:hl]))))
		frags = append(frags, f)
	}
	return frags
}

// fragment6 splits an IPv6 packet (no extension headers) into fragments.
func fragment6(pkt []byte, size int, id uint32) [][]byte {
	payload := pkt[40:]
	var frags [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		field := uint16(off)
		if end < len(payload) {
			field |= 1
		}
		fh := cat([]byte{pkt[6], 0}, be16(field), be32(id))
		f := cat(pkt[:40], fh, payload[off:end])
		f[6] = 44
		binary.BigEndian.PutUint16(f[4:6], uint16(len(f)-40))
		frags = append(frags, f)
	}
	return frags
}

func TestDecodeFragments(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 30)
	for _, tc := range []struct {
		name  string
		pkt   []byte
		et    uint16
		frags func([]byte) [][]byte
	}{
		{"ipv4", udp4(t, "10.0.0.1", "10.0.0.2", 5353, 53, body), 0x0800, func(p []byte) [][]byte { return fragment4(p, 120) }},
		{"ipv6", udp6(t, "2001:db8::1", "2001:db8::2", 5353, 53, body), 0x86dd, func(p []byte) [][]byte { return fragment6(p, 120, 77) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frags := tc.frags(tc.pkt)
			if len(frags) != 3 {
				t.Fatalf("%d fragments", len(frags))
			}
			// Deliver out of order: last, first, middle.
			order := []int{2, 0, 1}
			d := NewDecoder(DecoderOptions{})
			var out []Packet
			for i, idx := range order {
				var err error
				out, err = d.Decode(ethFrame(eth(tc.et, frags[idx])), out[:0])
				if err != nil {
					t.Fatalf("fragment %d: %v", idx, err)
				}
				if i < 2 && len(out) != 0 {
					t.Fatalf("packet emitted before the datagram was complete")
				}
			}
			if len(out) != 1 {
				t.Fatalf("got %d packets after the last fragment", len(out))
			}
			p := out[0]
			if p.IPLen != uint32(len(tc.pkt)) || p.PayloadLen != len(body) || !bytes.Equal(p.Payload, body) || p.BadChecksum {
				t.Errorf("reassembled: IPLen %d (want %d) PayloadLen %d payload ok %v bad %v",
					p.IPLen, len(tc.pkt), p.PayloadLen, bytes.Equal(p.Payload, body), p.BadChecksum)
			}
			st := d.Stats()
			if st.Fragments != 3 || st.Reassembled != 1 || st.FragmentsPending != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestDecodeFragmentLimits(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 200)
	d := NewDecoder(DecoderOptions{Fragments: FragmentOptions{MaxDatagrams: 2}})
	var out []Packet
	for i := 0; i < 5; i++ {
		pkt := udp4(t, "10.0.0.1", "10.0.0.2", uint16(1000+i), 53, body)
		binary.BigEndian.PutUint16(pkt[4:6], uint16(i)) // distinct IP ids
		f := fragment4(pkt, 96)[0]
		var err error
		out, err = d.Decode(ethFrame(eth(0x0800, f)), out[:0])
		if err != nil || len(out) != 0 {
			t.Fatalf("first fragment %d: %v, %d packets", i, err, len(out))
		}
	}
	st := d.Stats()
	if st.FragmentsPending != 2 || st.DatagramsDropped != 3 {
		t.Errorf("pending %d dropped %d, want 2 and 3", st.FragmentsPending, st.DatagramsDropped)
	}
	// Timeout in packet time.
	later := ethFrame(eth(0x0800, tcp4(t, "10.0.0.1", "10.0.0.2", 1, 2, "S", nil)))
	later.Timestamp = testTime.Add(10 * 60e9)
	if _, err := d.Decode(later, out[:0]); err != nil {
		t.Fatal(err)
	}
	pkt := udp4(t, "10.0.0.9", "10.0.0.2", 1, 53, body)
	f := ethFrame(eth(0x0800, fragment4(pkt, 96)[0]))
	f.Timestamp = later.Timestamp
	if _, err := d.Decode(f, out[:0]); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.FragmentsPending != 1 || st.DatagramsDropped != 5 {
		t.Errorf("after timeout: pending %d dropped %d, want 1 and 5", st.FragmentsPending, st.DatagramsDropped)
	}
	// Incompletely captured non-first fragment: dropped.
	frags := fragment4(udp4(t, "10.0.0.1", "10.0.0.2", 1, 53, body), 96)
	full := eth(0x0800, frags[1])
	cut := Frame{Data: full[:50], CaptureLength: 50, Length: len(full), LinkType: 1, Timestamp: testTime}
	_, err := d.Decode(cut, out[:0])
	var de *DecodeError
	if !errors.As(err, &de) || de.Reason != "incompletely_captured_fragment" {
		t.Errorf("cut fragment: %v", err)
	}
}

// TestChecksumAdd compares the word-wise checksum with a byte-pair reference.
func TestChecksumAdd(t *testing.T) {
	ref := func(b []byte) uint32 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		return checksumFold(s)
	}
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	data[5], data[6] = 0xff, 0xff
	ones := bytes.Repeat([]byte{0xff}, 300) // every word add carries
	for n := 0; n <= len(data); n++ {
		if got, want := checksumFold(checksumAdd(0, data[:n])), ref(data[:n]); got != want {
			t.Fatalf("len %d: %#x, want %#x", n, got, want)
		}
		if got, want := checksumFold(checksumAdd(0xffff, ones[:n])), ref(append([]byte{0xff, 0xff}, ones[:n]...)); got != want {
			t.Fatalf("all ones, len %d: %#x, want %#x", n, got, want)
		}
	}
	// chained sums over even-length pieces equal one sum
	if got, want := checksumFold(checksumAdd(checksumAdd(0, data[:40]), data[40:])), ref(data); got != want {
		t.Fatalf("chained: %#x, want %#x", got, want)
	}
}

func TestDecodeFragmentOverlapAndAtomic(t *testing.T) {
	body := bytes.Repeat([]byte("abcdefgh"), 20)
	pkt := udp4(t, "10.0.0.1", "10.0.0.2", 5353, 53, body)
	frags := fragment4(pkt, 80) // 168 bytes of UDP: 80 + 80 + 8
	// A forged copy of the second fragment arriving later must not win.
	forged := append([]byte(nil), frags[1]...)
	for i := 20; i < len(forged); i++ {
		forged[i] = 'X'
	}
	d := NewDecoder(DecoderOptions{})
	var out []Packet
	for _, f := range [][]byte{frags[1], forged, frags[0], frags[2]} {
		var err error
		if out, err = d.Decode(ethFrame(eth(0x0800, f)), out[:0]); err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 1 || !bytes.Equal(out[0].Payload, body) || out[0].BadChecksum {
		t.Fatalf("overlap: %d packets, payload intact %v", len(out), len(out) == 1 && bytes.Equal(out[0].Payload, body))
	}

	// IPv6 atomic fragment: Zeek drops the fragment header from the length.
	u := udp6(t, "2001:db8::1", "2001:db8::2", 5353, 53, []byte("atomic"))
	atomic := fragment6(u, 1000, 9)[0]
	binary.BigEndian.PutUint16(atomic[42:44], 0) // offset 0, no MF
	out, err := d.Decode(ethFrame(eth(0x86dd, atomic)), out[:0])
	if err != nil || len(out) != 1 {
		t.Fatalf("atomic: err %v, %d packets", err, len(out))
	}
	if out[0].IPLen != uint32(len(u)) || out[0].PayloadLen != 6 {
		t.Fatalf("atomic: IPLen %d (want %d), PayloadLen %d", out[0].IPLen, len(u), out[0].PayloadLen)
	}
}
