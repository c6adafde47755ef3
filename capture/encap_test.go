package capture

import (
	"errors"
	"net/netip"
	"testing"
)

// vxlanHdr is a VXLAN header (I flag, VNI 42).
var vxlanHdr = []byte{0x08, 0, 0, 0, 0, 0, 42, 0}

// geneveHdr is a Geneve header without options carrying protocol proto.
func geneveHdr(proto uint16) []byte { return cat([]byte{0, 0}, be16(proto), []byte{0, 0, 7, 0}) }

// TestDecodeEncapsulation checks what the decoder reports about the
// innermost tunnel of each packet: the flow tracker names tunnel_parents
// from it.
func TestDecodeEncapsulation(t *testing.T) {
	inner := tcp4(t, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	outerA, outerB := netip.MustParseAddr("172.16.0.1"), netip.MustParseAddr("172.16.0.2")
	ipOuter := func(proto uint8, payload []byte) Frame {
		return ethFrame(eth(0x0800, rawIP4(t, "172.16.0.1", "172.16.0.2", layersProto(proto), payload)))
	}
	type encapWant struct {
		encap    Encapsulation
		src, dst netip.Addr
	}
	none := encapWant{}
	udpTun := encapWant{encap: EncapUDPTunnel}
	gre := encapWant{EncapGRE, outerA, outerB}
	greInner := encapWant{EncapGRE, netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")}
	dot11 := cat([]byte{0x08, 0x01}, make([]byte, 22), []byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16(0x0800), inner)
	cases := []struct {
		name  string
		frame Frame
		want  []encapWant
	}{
		{"plain", ethFrame(eth(0x0800, inner)), []encapWant{none}},
		{"ip in ip", ipOuter(4, inner), []encapWant{{EncapIPinIP, outerA, outerB}}},
		{"gre", ipOuter(47, cat(be16(0), be16(0x0800), inner)), []encapWant{gre}},
		{"erspan I", ipOuter(47, cat(be16(0), be16(0x88be), eth(0x0800, inner))), []encapWant{gre}},
		{"erspan II", ipOuter(47, cat(be16(0x1000), be16(0x88be), be32(1), be16(0x1000), make([]byte, 6), eth(0x0800, inner))), []encapWant{gre}},
		{"aruba", ipOuter(47, cat(be16(0), be16(0x8200), dot11)), []encapWant{gre}},
		{"gre in gre", ipOuter(47, cat(be16(0), be16(0x0800), rawIP4(t, "10.9.0.1", "10.9.0.2", 47, cat(be16(0), be16(0x0800), inner)))), []encapWant{greInner}},
		{"vxlan", ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4789, cat(vxlanHdr, eth(0x0800, inner))))), []encapWant{none, udpTun}},
		{"gre over udp", ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4754, cat(be16(0), be16(0x0800), inner)))), []encapWant{none, gre}},
		{"ip in ip inside vxlan", ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4789,
			cat(vxlanHdr, eth(0x0800, rawIP4(t, "10.9.0.1", "10.9.0.2", 4, inner)))))),
			[]encapWant{none, {EncapIPinIP, netip.MustParseAddr("10.9.0.1"), netip.MustParseAddr("10.9.0.2")}}},
		{"vxlan inside gre", ipOuter(47, cat(be16(0), be16(0x0800), udp4(t, "10.9.0.1", "10.9.0.2", 40000, 4789, cat(vxlanHdr, eth(0x0800, inner))))),
			[]encapWant{gre, udpTun}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := NewDecoder(DecoderOptions{}).Decode(tc.frame, nil)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(out) != len(tc.want) {
				t.Fatalf("got %d packets, want %d", len(out), len(tc.want))
			}
			for i, w := range tc.want {
				p := out[i]
				if p.Encap != w.encap || p.EncapSrc != w.src || p.EncapDst != w.dst {
					t.Errorf("packet %d (depth %d): encap %d %v > %v, want %d %v > %v",
						i, p.TunnelDepth, p.Encap, p.EncapSrc, p.EncapDst, w.encap, w.src, w.dst)
				}
				if (p.TunnelDepth == 0) != (p.Encap == EncapNone) {
					t.Errorf("packet %d: depth %d with encap %d", i, p.TunnelDepth, p.Encap)
				}
			}
		})
	}
}

// TestDecodeTunnelDepthPartial checks that a UDP tunnel found at
// Tunnel::max_depth marks its outer packet (Zeek adds history 'X').
func TestDecodeTunnelDepthPartial(t *testing.T) {
	inner := tcp4(t, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	vxlanIn := udp4(t, "10.9.0.1", "10.9.0.2", 40001, 4789, cat(vxlanHdr, eth(0x0800, inner)))
	teredo := udp6(t, "2001:0:4136:e378::1", "2001:db8::2", 5000, 53, []byte("q"))
	geneveIn := udp4(t, "10.9.0.1", "10.9.0.2", 40001, 6081, cat(geneveHdr(0x0800), inner))
	teredoIn := udp4(t, "10.9.0.1", "10.9.0.2", 40001, 3544, teredo)
	ayiyaIn := udp4(t, "10.9.0.1", "10.9.0.2", 40001, 5072, cat([]byte{0x41, 0x52, 0x11, 4}, be32(0), make([]byte, 16), inner))
	gtpIn := udp4(t, "10.9.0.1", "10.9.0.2", 2152, 2152, cat([]byte{0x30, 0xff}, be16(uint16(len(inner))), be32(1), inner))
	greIn := udp4(t, "10.9.0.1", "10.9.0.2", 40001, 4754, cat(be16(0), be16(0x0800), inner))
	for _, tc := range []struct {
		name    string
		carried []byte
		partial bool
	}{
		{"vxlan", vxlanIn, true},
		{"geneve", geneveIn, true},
		{"teredo", teredoIn, true},
		{"ayiya", ayiyaIn, true},
		{"gtpv1", gtpIn, true},
		{"gre over udp", greIn, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Tunnel::max_depth 1: the outer VXLAN is decapsulated, the
			// tunnel inside it is not.
			frame := ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4789, cat(vxlanHdr, eth(0x0800, tc.carried)))))
			d := NewDecoder(DecoderOptions{MaxTunnelDepth: 1})
			out, err := d.Decode(frame, nil)
			var de *DecodeError
			if !errors.As(err, &de) || de.Reason != "exceeded_tunnel_max_depth" {
				t.Fatalf("error %v, want exceeded_tunnel_max_depth", err)
			}
			if len(out) != 2 {
				t.Fatalf("got %d packets, want the outer and the carrying UDP packet", len(out))
			}
			if out[0].AnalysisPartial {
				t.Errorf("outer VXLAN packet marked partial")
			}
			if out[1].AnalysisPartial != tc.partial || out[1].TunnelService != "" {
				t.Errorf("carrying packet: partial %v service %q, want partial %v and no service",
					out[1].AnalysisPartial, out[1].TunnelService, tc.partial)
			}
		})
	}
	// The default depth (4) decapsulates the same frame.
	frame := ethFrame(eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", 40000, 4789, cat(vxlanHdr, eth(0x0800, vxlanIn)))))
	out, err := NewDecoder(DecoderOptions{}).Decode(frame, nil)
	if err != nil || len(out) != 3 || out[1].AnalysisPartial || out[1].TunnelService != ServiceVXLAN {
		t.Fatalf("default depth: err %v, %d packets", err, len(out))
	}
}

// TestDecodeTruncatedNestedTunnel is zeek/zeek#2914 (btest
// core.tunnels.geneve-vxlan-truncated): DNS in VXLAN in Geneve, the frame
// cut a few bytes short by the snap length. Zeek keeps the inner packets'
// wire lengths intact, so every level decodes, with checksums unchecked.
func TestDecodeTruncatedNestedTunnel(t *testing.T) {
	dns := cat(be16(0x1234), be16(0x0100), be16(1), be16(0), be16(0), be16(0),
		[]byte("\x07example\x03com\x00"), be16(1), be16(1))
	query := udp4(t, "172.16.11.201", "1.1.1.1", 36872, 53, dns)
	vx := udp4(t, "127.0.0.1", "127.0.0.1", 26383, 4789, cat(vxlanHdr, eth(0x0800, query)))
	gen := udp4(t, "127.0.0.1", "127.0.0.1", 11803, 6081, cat(geneveHdr(0x6558), eth(0x0800, vx)))
	whole := eth(0x0800, gen)
	for _, cut := range []int{0, 1, 3, 10} {
		f := ethFrame(whole)
		f.Data = whole[:len(whole)-cut]
		f.CaptureLength = len(f.Data)
		out, err := NewDecoder(DecoderOptions{}).Decode(f, nil)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if len(out) != 3 {
			t.Fatalf("cut %d: %d packets, want 3", cut, len(out))
		}
		wantSvc := []string{ServiceGeneve, ServiceVXLAN, ""}
		wantLen := []uint32{uint32(len(gen)), uint32(len(vx)), uint32(len(query))}
		for i, p := range out {
			if p.TunnelService != wantSvc[i] || p.IPLen != wantLen[i] || int(p.TunnelDepth) != i {
				t.Errorf("cut %d packet %d: service %q IP length %d depth %d, want %q %d %d",
					cut, i, p.TunnelService, p.IPLen, p.TunnelDepth, wantSvc[i], wantLen[i], i)
			}
			if p.Truncated != (cut > 0) || p.BadChecksum {
				t.Errorf("cut %d packet %d: truncated %v bad checksum %v", cut, i, p.Truncated, p.BadChecksum)
			}
			if p.PayloadLen-len(p.Payload) != cut {
				t.Errorf("cut %d packet %d: %d of %d payload bytes captured", cut, i, len(p.Payload), p.PayloadLen)
			}
		}
	}
}

// TestDecodeErrorsByReason checks the per-reason counters and the reason
// table.
func TestDecodeErrorsByReason(t *testing.T) {
	seen := map[string]bool{}
	for r := DecodeReason(1); r < NumDecodeReasons; r++ {
		name := r.String()
		if name == "" || name == "none" || name == "unknown" || seen[name] {
			t.Errorf("reason %d: name %q empty or repeated", r, name)
		}
		seen[name] = true
		if e := &decodeErrors[r]; e.Code != r || e.Reason != name {
			t.Errorf("reason %d: error %+v", r, e)
		}
	}
	if NumDecodeReasons.String() != "unknown" {
		t.Errorf("out-of-range reason named %q", NumDecodeReasons.String())
	}
	pkt := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "S", nil)
	d := NewDecoder(DecoderOptions{})
	frames := []Frame{
		ethFrame(eth(0x0800, pkt[:10])),                     // truncated_IP
		ethFrame(eth(0x0800, pkt[:10])),                     // truncated_IP
		ethFrame(eth(0x0800, corrupt(pkt, 10))),             // bad_IP_checksum
		frameOf(4242, pkt),                                  // unknown_link_type
		ethFrame(eth(0x0800, pkt)),                          // fine
		ethFrame(eth(0x8100, cat(tag(1, 0x0800), pkt[:4]))), // truncated_IP
	}
	var out []Packet
	for _, f := range frames {
		out, _ = d.Decode(f, out[:0])
	}
	st := d.Stats()
	want := map[DecodeReason]uint64{ReasonTruncatedIP: 3, ReasonBadIPChecksum: 1, ReasonUnknownLinkType: 1}
	var sum uint64
	for r, n := range st.ErrorsByReason {
		sum += n
		if n != want[DecodeReason(r)] {
			t.Errorf("%s: %d errors, want %d", DecodeReason(r), n, want[DecodeReason(r)])
		}
	}
	if sum != st.Errors || st.Errors != 5 {
		t.Errorf("errors %d, by reason %d, want 5", st.Errors, sum)
	}
}
