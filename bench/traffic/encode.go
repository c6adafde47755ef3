package traffic

import (
	"fmt"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// IP protocol numbers used by flows.
const (
	protoICMP   = 1
	protoTCP    = 6
	protoUDP    = 17
	protoICMPv6 = 58
)

// TCP flag bits of segment.flags.
const (
	flagFIN uint8 = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// segment is one packet of a session before encoding.
type segment struct {
	at       int64 // µs since the trace start
	f        *flow
	fromOrig bool
	// TCP
	flags    uint8
	seq, ack uint32
	window   uint16
	wscale   uint8 // SYN and SYN-ACK: MSS, SACK-permitted and this window scale (0: no options)
	// ICMP echo
	icmpType, icmpCode uint8
	icmpID, icmpSeq    uint16
	payload            []byte
}

// encoder serializes segments, reusing its layers and buffer.
type encoder struct {
	buf   gopacket.SerializeBuffer
	opts  gopacket.SerializeOptions
	eth   layers.Ethernet
	dot1q layers.Dot1Q
	ip4   layers.IPv4
	ip6   layers.IPv6
	tcp   layers.TCP
	udp   layers.UDP
	icmp4 layers.ICMPv4
	icmp6 layers.ICMPv6
	echo6 layers.ICMPv6Echo
	stack []gopacket.SerializableLayer
	// synOptions is shared by every SYN: MSS 1460, SACK permitted, window scale 7.
	synOptions []layers.TCPOption
}

func newEncoder() *encoder {
	return &encoder{
		buf:  gopacket.NewSerializeBuffer(),
		opts: gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true},
		synOptions: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{7}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindSACKPermitted},
		},
	}
}

// encode returns the frame bytes of seg; they are valid until the next call.
func (e *encoder) encode(seg *segment) ([]byte, error) {
	f := seg.f
	src, dst := f.orig, f.resp
	sport, dport := f.sport, f.dport
	if !seg.fromOrig {
		src, dst = dst, src
		sport, dport = dport, sport
	}
	e.stack = e.stack[:0]
	v6 := src.addr.Is6()
	etherType := layers.EthernetTypeIPv4
	if v6 {
		etherType = layers.EthernetTypeIPv6
	}
	e.eth = layers.Ethernet{SrcMAC: net.HardwareAddr(src.mac[:]), DstMAC: net.HardwareAddr(dst.mac[:]), EthernetType: etherType}
	e.stack = append(e.stack, &e.eth)
	if f.vlan != 0 {
		e.eth.EthernetType = layers.EthernetTypeDot1Q
		e.dot1q = layers.Dot1Q{VLANIdentifier: f.vlan, Type: etherType}
		e.stack = append(e.stack, &e.dot1q)
	}
	var network gopacket.NetworkLayer
	if v6 {
		s, d := src.addr.As16(), dst.addr.As16()
		e.ip6 = layers.IPv6{Version: 6, HopLimit: src.ttl, SrcIP: net.IP(s[:]), DstIP: net.IP(d[:]),
			NextHeader: layers.IPProtocol(f.proto), FlowLabel: uint32(sport)<<4 ^ uint32(dport)}
		network = &e.ip6
		e.stack = append(e.stack, &e.ip6)
	} else {
		s, d := src.addr.As4(), dst.addr.As4()
		e.ip4 = layers.IPv4{Version: 4, IHL: 5, TTL: src.ttl, Id: src.ipID, Protocol: layers.IPProtocol(f.proto),
			SrcIP: net.IP(s[:]), DstIP: net.IP(d[:])}
		src.ipID++
		if f.proto == protoTCP {
			e.ip4.Flags = layers.IPv4DontFragment
		}
		network = &e.ip4
		e.stack = append(e.stack, &e.ip4)
	}
	switch f.proto {
	case protoTCP:
		e.tcp = layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seg.seq, Ack: seg.ack,
			Window: seg.window,
			FIN:    seg.flags&flagFIN != 0, SYN: seg.flags&flagSYN != 0, RST: seg.flags&flagRST != 0,
			PSH: seg.flags&flagPSH != 0, ACK: seg.flags&flagACK != 0}
		if seg.wscale != 0 {
			e.synOptions[2].OptionData[0] = seg.wscale
			e.tcp.Options = e.synOptions
		}
		if err := e.tcp.SetNetworkLayerForChecksum(network); err != nil {
			return nil, fmt.Errorf("tcp checksum layer: %w", err)
		}
		e.stack = append(e.stack, &e.tcp)
	case protoUDP:
		e.udp = layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
		if err := e.udp.SetNetworkLayerForChecksum(network); err != nil {
			return nil, fmt.Errorf("udp checksum layer: %w", err)
		}
		e.stack = append(e.stack, &e.udp)
	case protoICMP:
		e.icmp4 = layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(seg.icmpType, seg.icmpCode), Id: seg.icmpID, Seq: seg.icmpSeq}
		e.stack = append(e.stack, &e.icmp4)
	case protoICMPv6:
		e.icmp6 = layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(seg.icmpType, seg.icmpCode)}
		if err := e.icmp6.SetNetworkLayerForChecksum(network); err != nil {
			return nil, fmt.Errorf("icmpv6 checksum layer: %w", err)
		}
		e.echo6 = layers.ICMPv6Echo{Identifier: seg.icmpID, SeqNumber: seg.icmpSeq}
		e.stack = append(e.stack, &e.icmp6, &e.echo6)
	default:
		return nil, fmt.Errorf("unsupported protocol %d", f.proto)
	}
	if len(seg.payload) > 0 {
		e.stack = append(e.stack, gopacket.Payload(seg.payload))
	}
	if err := gopacket.SerializeLayers(e.buf, e.opts, e.stack...); err != nil {
		return nil, fmt.Errorf("serialize: %w", err)
	}
	frame := e.buf.Bytes()
	if len(frame) < minFrame {
		// Frames on the wire are padded to the Ethernet minimum; the IP
		// length, not the frame length, tells where the packet ends.
		pad, err := e.buf.AppendBytes(minFrame - len(frame))
		if err != nil {
			return nil, fmt.Errorf("pad frame: %w", err)
		}
		clear(pad)
		frame = e.buf.Bytes()
	}
	return frame, nil
}

// minFrame is the minimum Ethernet frame length without the FCS.
const minFrame = 60
