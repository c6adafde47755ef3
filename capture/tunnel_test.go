package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestDecodeTunnels(t *testing.T) {
	inner := tcp4(t, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	inner6 := udp6(t, "2001:db8::1", "2001:db8::2", 5353, 53, []byte("hello"))
	wInner := want{src: "192.168.1.1", dst: "192.168.1.2", proto: 6, sport: 4444, dport: 443, depth: 1}
	wInner6 := atDepth(wUDP6, 1)
	outerUDP := func(sport, dport uint16, svc string) want {
		return want{src: "172.16.0.1", dst: "172.16.0.2", proto: 17, sport: sport, dport: dport, service: svc}
	}
	udpOuter := func(sport, dport uint16, payload []byte) Frame {
		return ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", sport, dport, payload)))
	}
	ipOuter := func(proto uint8, payload []byte) Frame {
		return ethFrame(eth(0x0800, rawIP4(t, "172.16.0.1", "172.16.0.2", layersProto(proto), payload)))
	}
	gre := func(flags, proto uint16, extra []byte, payload []byte) []byte {
		return cat(be16(flags), be16(proto), extra, payload)
	}
	vxlan := cat([]byte{0x08, 0, 0, 0}, []byte{0, 0, 42, 0}, eth(0x0800, inner))
	geneve := func(optWords int, proto uint16, payload []byte) []byte {
		return cat([]byte{byte(optWords), 0}, be16(proto), []byte{0, 0, 7, 0}, make([]byte, optWords*4), payload)
	}
	ayiya := func(idNibble byte, op byte, next byte, payload []byte) []byte {
		id := make([]byte, 1<<idNibble)
		return cat([]byte{idNibble<<4 | 1, 0x52, 0x10 | op, next}, be32(0), id, make([]byte, 20), payload)
	}
	gtp := func(flags byte, msg byte, ext []byte, payload []byte) []byte {
		return cat([]byte{flags, msg}, be16(uint16(len(ext)+len(payload))), be32(1), ext, payload)
	}
	// A Teredo packet: IPv6 between Teredo addresses (2001:0::/32).
	teredoInner := udp6(t, "2001:0:4136:e378::1", "2001:db8::2", 5000, 53, []byte("q"))
	teredoBubble := append([]byte(nil), teredoInner[:40]...)
	teredoBubble[6] = 59
	binary.BigEndian.PutUint16(teredoBubble[4:6], 0)
	origin := cat(be16(0), be16(0xffff^4000), be32(0xffffffff^0x01020304))
	wTeredo := want{src: "2001:0:4136:e378::1", dst: "2001:db8::2", proto: 17, sport: 5000, dport: 53, depth: 1}
	erspan2 := cat(be16(0x1000), make([]byte, 6))                  // version 1 (type II)
	erspan3 := cat([]byte{0x20, 0}, make([]byte, 9), []byte{0x01}) // version 2, O bit set
	dot11 := cat([]byte{0x08, 0x01}, make([]byte, 22), []byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16(0x0800), inner)
	// PPTP: GRE version 1 with key (payload length, call id), PPP header.
	pptp := gre(0x2001, 0x880b, cat(be16(uint16(len(inner)+4)), be16(9)), cat([]byte{0xff, 0x03}, be16(0x0021), inner))
	// Nested: GRE in GRE.
	greInGre := gre(0, 0x0800, nil, rawIP4(t, "10.9.0.1", "10.9.0.2", 47, gre(0, 0x0800, nil, inner)))
	wDeep := atDepth(wInner, 2)

	runDecodeCases(t, []decodeCase{
		{name: "ip in ip", frame: ipOuter(4, inner), want: []want{wInner}},
		{name: "ipv6 in ipv4", frame: ipOuter(41, inner6), want: []want{wInner6}},
		{name: "ip in ip version mismatch", frame: ipOuter(41, inner), wantErr: "invalid_inner_IP_version"},
		{name: "gre ip", frame: ipOuter(47, gre(0, 0x0800, nil, inner)), want: []want{wInner}},
		{name: "gre key seq csum", frame: ipOuter(47, gre(0xb000, 0x86dd, make([]byte, 12), inner6)), want: []want{wInner6}},
		{name: "gre transparent ethernet", frame: ipOuter(47, gre(0, 0x6558, nil, eth(0x0800, inner))), want: []want{wInner}},
		{name: "gre mpls", frame: ipOuter(47, gre(0, 0x8847, nil, cat(be32(1<<12|1<<8|64), inner))), want: []want{wInner}},
		{name: "gre in gre", frame: ipOuter(47, greInGre), want: []want{wDeep}},
		{name: "erspan I", frame: ipOuter(47, gre(0, 0x88be, nil, eth(0x0800, inner))), want: []want{wInner}},
		{name: "erspan II", frame: ipOuter(47, gre(0x1000, 0x88be, be32(1), cat(erspan2, eth(0x0800, inner)))), want: []want{wInner}},
		{name: "erspan III", frame: ipOuter(47, gre(0, 0x22eb, nil, cat(erspan3, make([]byte, 8), eth(0x0800, inner)))), want: []want{wInner}},
		{name: "erspan bad version", frame: ipOuter(47, gre(0, 0x22eb, nil, cat([]byte{0x70}, make([]byte, 11), eth(0x0800, inner)))), wantErr: "unknown_ERSPAN_version"},
		{name: "gre pptp", frame: ipOuter(47, pptp), want: []want{wInner}},
		{name: "gre aruba", frame: ipOuter(47, gre(0, 0x8200, nil, dot11)), want: []want{wInner}},
		{name: "gre unknown protocol", frame: ipOuter(47, gre(0, 0x1234, nil, inner))},
		{name: "gre routing", frame: ipOuter(47, gre(0x4000, 0x0800, nil, inner)), wantErr: "gre_routing"},
		{name: "gre version 2", frame: ipOuter(47, gre(0x0002, 0x0800, nil, inner)), wantErr: "unknown_gre_version"},
		{name: "gre truncated", frame: ipOuter(47, []byte{0, 0}), wantErr: "truncated_GRE"},
		{name: "vxlan", frame: udpOuter(40000, 4789, vxlan), want: []want{outerUDP(40000, 4789, "vxlan"), wInner}},
		{name: "vxlan reply direction", frame: udpOuter(4789, 40000, vxlan), want: []want{outerUDP(4789, 40000, "vxlan"), wInner}},
		{name: "vxlan without I flag", frame: udpOuter(40000, 4789, cat([]byte{0}, vxlan[1:])), want: []want{outerUDP(40000, 4789, "")}, wantErr: "tunnel_analyzer_violation"},
		{name: "vxlan bad checksum", frame: ethFrame(eth(0x0800, corrupt(udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4789, vxlan), 27))), want: []want{{src: "172.16.0.1", dst: "172.16.0.2", proto: 17, sport: 40000, dport: 4789, bad: true}}},
		{name: "geneve ethernet", frame: udpOuter(40000, 6081, geneve(2, 0x6558, eth(0x0800, inner))), want: []want{outerUDP(40000, 6081, "geneve"), wInner}},
		{name: "geneve ipv4", frame: udpOuter(40000, 6081, geneve(0, 0x0800, inner)), want: []want{outerUDP(40000, 6081, "geneve"), wInner}},
		{name: "geneve ipv6", frame: udpOuter(40000, 6081, geneve(0, 0x86dd, inner6)), want: []want{outerUDP(40000, 6081, "geneve"), wInner6}},
		{name: "geneve 08dd no longer registered", frame: udpOuter(40000, 6081, geneve(0, 0x08dd, inner6)), want: []want{outerUDP(40000, 6081, "geneve")}},
		{name: "geneve arp", frame: udpOuter(40000, 6081, geneve(0, 0x0806, make([]byte, 28))), want: []want{outerUDP(40000, 6081, "geneve")}},
		{name: "geneve empty", frame: udpOuter(40000, 6081, geneve(1, 0x6558, nil)), want: []want{outerUDP(40000, 6081, "geneve")}, wantErr: "empty_tunnel_packet"},
		{name: "geneve options truncated", frame: udpOuter(40000, 6081, geneve(0, 0x6558, nil)[:8][:8]), want: []want{outerUDP(40000, 6081, "geneve")}, wantErr: "empty_tunnel_packet"},
		{name: "teredo", frame: udpOuter(40000, 3544, teredoInner), want: []want{outerUDP(40000, 3544, "teredo"), wTeredo}},
		{name: "teredo origin indication", frame: udpOuter(40000, 3544, cat(origin, teredoInner)), want: []want{outerUDP(40000, 3544, "teredo"), wTeredo}},
		{name: "teredo bubble", frame: udpOuter(40000, 3544, teredoBubble), want: []want{outerUDP(40000, 3544, "teredo")}},
		{name: "teredo detected off port", frame: udpOuter(40000, 50000, teredoInner), want: []want{outerUDP(40000, 50000, "teredo"), wTeredo}},
		{name: "teredo garbage", frame: udpOuter(40000, 3544, bytes.Repeat([]byte{0x7f}, 60)), want: []want{outerUDP(40000, 3544, "")}, wantErr: "tunnel_analyzer_violation"},
		{name: "ayiya", frame: udpOuter(40000, 5072, ayiya(4, 1, 41, inner6)), want: []want{outerUDP(40000, 5072, "ayiya"), wInner6}},
		{name: "ayiya large identity", frame: udpOuter(40000, 5072, ayiya(8, 1, 4, inner)), want: []want{outerUDP(40000, 5072, "ayiya"), wInner}},
		{name: "ayiya detected off port", frame: udpOuter(40000, 50001, ayiya(4, 1, 4, inner)), want: []want{outerUDP(40000, 50001, "ayiya"), wInner}},
		{name: "ayiya not forward", frame: udpOuter(40000, 5072, ayiya(4, 2, 4, inner)), want: []want{outerUDP(40000, 5072, "")}},
		{name: "gtpv1 g-pdu", frame: udpOuter(2152, 2152, gtp(0x30, 0xff, nil, inner)), want: []want{outerUDP(2152, 2152, "gtpv1"), wInner}},
		{name: "gtpv1 options and extension", frame: udpOuter(2152, 2152, gtp(0x34, 0xff, cat([]byte{0, 1, 0, 0x85}, []byte{1, 0xaa, 0xbb, 0}), inner)), want: []want{outerUDP(2152, 2152, "gtpv1"), wInner}},
		{name: "gtpv1 control message", frame: udpOuter(2123, 2123, gtp(0x32, 16, nil, make([]byte, 30))), want: []want{outerUDP(2123, 2123, "")}},
		{name: "gtpv1 bad version", frame: udpOuter(2152, 2152, gtp(0x50, 0xff, nil, inner)), want: []want{outerUDP(2152, 2152, "")}, wantErr: "tunnel_analyzer_violation"},
		{name: "gtpv1 inner length mismatch", frame: udpOuter(2152, 2152, gtp(0x30, 0xff, nil, cat(inner, []byte{0}))), want: []want{outerUDP(2152, 2152, "")}, wantErr: "tunnel_analyzer_violation"},
		{name: "gre in udp", frame: udpOuter(40000, 4754, gre(0, 0x0800, nil, inner)), want: []want{outerUDP(40000, 4754, ""), wInner}},
	})
}

func TestDecodeTunnelDepth(t *testing.T) {
	p := tcp4(t, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	// Wrap in IP-in-IP n times.
	wrap := func(n int) []byte {
		b := p
		for i := 0; i < n; i++ {
			b = rawIP4(t, "172.16.0.1", "172.16.0.2", 4, b)
		}
		return b
	}
	d := NewDecoder(DecoderOptions{})
	out, err := d.Decode(ethFrame(eth(0x0800, wrap(4))), nil)
	if err != nil || len(out) != 1 || out[0].TunnelDepth != 4 {
		t.Fatalf("depth 4: err %v, %d packets", err, len(out))
	}
	out, err = d.Decode(ethFrame(eth(0x0800, wrap(5))), out[:0])
	var de *DecodeError
	if len(out) != 0 || err == nil || !asDecodeError(err, &de) || de.Reason != "exceeded_tunnel_max_depth" {
		t.Fatalf("depth 5: err %v, %d packets", err, len(out))
	}
	st := d.Stats()
	if st.TunnelPackets != 1 || st.Errors != 1 || st.Frames != 2 {
		t.Errorf("stats %+v", st)
	}
}

func asDecodeError(err error, de **DecodeError) bool {
	e, ok := err.(*DecodeError)
	*de = e
	return ok
}
