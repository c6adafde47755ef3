package clickhousetest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// SplitPcap splits an Ethernet pcap into len(outs) sensors' inputs, as
// several taps would see a network: every packet of one host pair and IP
// protocol (so every packet of a connection, its fragments too) goes to
// one output, chosen by a hash. Frames that are not IP go to the first
// output.
//
// Sensors share network time, as live sensors share the wall clock: for
// every packet written to one output, the others get a clock packet with
// the same timestamp, a UDP packet between two addresses no sensor ever
// monitors (203.0.113.255 to 255.255.255.255: dotted forms ending in .255
// or starting with 255.). Without it each replay's network time would
// advance only with its own packets, and Zeek's timers (a connection's
// removal, hence its end and window) would fire at other times than in a
// replay of the whole input. It returns the packets written to each
// output, clock packets excluded.
func SplitPcap(in io.Reader, outs []io.Writer) ([]int, error) {
	if len(outs) == 0 {
		return nil, errors.New("split pcap: no outputs")
	}
	r, err := pcapgo.NewReader(in)
	if err != nil {
		return nil, fmt.Errorf("split pcap: %w", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("split pcap: link type %v, want Ethernet", r.LinkType())
	}
	ws := make([]*pcapgo.Writer, len(outs))
	for i, o := range outs {
		ws[i] = pcapgo.NewWriterNanos(o)
		if err := ws[i].WriteFileHeader(r.Snaplen(), layers.LinkTypeEthernet); err != nil {
			return nil, fmt.Errorf("split pcap: %w", err)
		}
	}
	counts := make([]int, len(outs))
	clock := clockPacket()
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return counts, fmt.Errorf("split pcap: %w", err)
		}
		i := int(pairHash(data) % uint64(len(outs)))
		for j, w := range ws {
			pkt, pci := data, ci
			if j != i {
				pkt = clock
				pci = gopacket.CaptureInfo{Timestamp: ci.Timestamp, CaptureLength: len(clock), Length: len(clock)}
			}
			if err := w.WritePacket(pci, pkt); err != nil {
				return counts, fmt.Errorf("split pcap: %w", err)
			}
		}
		counts[i]++
	}
	return counts, nil
}

// pairHash hashes the unordered address pair and IP protocol of an
// Ethernet frame (after VLAN tags); 0 for a frame that is not IP.
func pairHash(b []byte) uint64 {
	if len(b) < 14 {
		return 0
	}
	et, off := binary.BigEndian.Uint16(b[12:]), 14
	for (et == 0x8100 || et == 0x88a8) && len(b) >= off+4 {
		et, off = binary.BigEndian.Uint16(b[off+2:]), off+4
	}
	var a, c []byte
	var proto byte
	switch {
	case et == 0x0800 && len(b) >= off+20:
		proto, a, c = b[off+9], b[off+12:off+16], b[off+16:off+20]
	case et == 0x86dd && len(b) >= off+40:
		proto, a, c = b[off+6], b[off+8:off+24], b[off+24:off+40]
	default:
		return 0
	}
	if string(a) > string(c) {
		a, c = c, a
	}
	h := fnv.New64a()
	h.Write(a)
	h.Write(c)
	h.Write([]byte{proto})
	return h.Sum64()
}

// clockPacket is an Ethernet/IPv4/UDP frame from 203.0.113.255 to
// 255.255.255.255 (never monitored, whatever the local networks) with
// valid checksums.
func clockPacket() []byte {
	eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: []byte{203, 0, 113, 255}, DstIP: []byte{255, 255, 255, 255}}
	udp := &layers.UDP{SrcPort: 9, DstPort: 9}
	_ = udp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, udp, gopacket.Payload("netbased clock")); err != nil {
		panic(err) // fixed, valid layers
	}
	return buf.Bytes()
}
