// Command naive is the yardstick of netbased's throughput benchmark: the
// simplest useful Go packet loop. It reads a pcap with gopacket's pcapgo,
// decodes Ethernet, 802.1Q, IPv4, IPv6, TCP and UDP with gopacket's
// DecodingLayerParser and counts packets per 5-tuple in a map. It has no
// connection semantics, no services and no records: whatever netbased
// costs beyond it is the price of doing the job.
//
//	go run ./bench/naive FILE.pcap
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// fiveTuple is a map key: addresses as 16-byte arrays (IPv4 mapped).
type fiveTuple struct {
	src, dst     [16]byte
	sport, dport uint16
	proto        uint8
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: naive FILE.pcap")
		os.Exit(2)
	}
	packets, flows, err := count(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "naive:", err)
		os.Exit(1)
	}
	fmt.Printf("%d packets, %d 5-tuples\n", packets, flows)
}

func count(path string) (packets, flows int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return 0, 0, err
	}
	var (
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		payload gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	table := make(map[fiveTuple]uint64)
	for {
		data, _, err := r.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return packets, len(table), nil
		}
		if err != nil {
			return packets, len(table), err
		}
		packets++
		_ = parser.DecodeLayers(data, &decoded)
		var k fiveTuple
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeIPv4:
				copy(k.src[12:], ip4.SrcIP.To4())
				copy(k.dst[12:], ip4.DstIP.To4())
				k.proto = uint8(ip4.Protocol)
			case layers.LayerTypeIPv6:
				copy(k.src[:], ip6.SrcIP)
				copy(k.dst[:], ip6.DstIP)
				k.proto = uint8(ip6.NextHeader)
			case layers.LayerTypeTCP:
				k.sport, k.dport = uint16(tcp.SrcPort), uint16(tcp.DstPort)
			case layers.LayerTypeUDP:
				k.sport, k.dport = uint16(udp.SrcPort), uint16(udp.DstPort)
			}
		}
		table[k]++
	}
}
