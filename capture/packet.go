// Package capture reads link-layer frames from pcap/pcapng files (optionally
// gzip-compressed) and from live interfaces, and decodes them, through every
// link layer, L2 shim and tunnel that Zeek decapsulates by default, into the
// IP-level packets that connection tracking consumes.
package capture

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Frame is one captured link-layer frame. Data is only valid until the next
// call to Source.Next.
type Frame struct {
	Data          []byte
	Timestamp     time.Time
	CaptureLength int
	Length        int
	LinkType      layers.LinkType
	// VLAN is the VLAN id reported out of band (AF_PACKET strips the tag); 0 when none.
	VLAN uint16
	// Origin names where the frame came from (a file name) and Offset is the
	// byte offset of its record there, for error messages.
	Origin string
	Offset int64
}

// Source yields frames in capture order. Next returns io.EOF at the end of
// input. Implementations: files (pcap, pcapng, gzip) and live AF_PACKET.
type Source interface {
	Next() (Frame, error)
	Close() error
}

// TCP flag bits as they appear in Packet.TCPFlags.
const (
	FlagFIN uint8 = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Encapsulation is the kind of tunnel a packet was decapsulated from.
type Encapsulation uint8

const (
	// EncapNone: the packet is not inside a tunnel.
	EncapNone Encapsulation = iota
	// EncapUDPTunnel: inside VXLAN, Geneve, Teredo, AYIYA or GTPv1, whose
	// outer UDP packet is a connection of its own; it precedes this packet
	// in the decoded frame, at TunnelDepth−1.
	EncapUDPTunnel
	// EncapIPinIP: inside IP-in-IP (IP protocols 4 and 41).
	EncapIPinIP
	// EncapGRE: inside GRE (plain, ERSPAN, Aruba, PPTP; also GRE over UDP).
	EncapGRE
)

// IP protocol numbers the tracker treats specially.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
)

// Packet is one IP packet ready for connection tracking: the innermost IP
// packet of a frame, or an outer IP packet whose UDP flow is a tunnel that
// Zeek logs as a connection of its own (TunnelService is then set).
//
// A Packet is filled in place by the decoder and reused; Payload points into
// the frame (or the defragmentation buffer) and is valid only until the next
// decode.
type Packet struct {
	Timestamp time.Time
	Src, Dst  netip.Addr
	// Proto is the transport's IP protocol number (after IPv6 extension headers).
	Proto uint8
	// IPLen is the IP-level size Zeek's ConnSize counts: IPv4 total length, or
	// IPv6 payload length + 40.
	IPLen uint32
	// SrcPort and DstPort are the TCP/UDP ports. For ICMP/ICMPv6 they hold the
	// raw type (SrcPort) and code (DstPort); the tracker maps them as Zeek does.
	SrcPort, DstPort uint16
	// TCP header fields (Proto == 6).
	Seq, Ack uint32
	TCPFlags uint8
	Window   uint16
	// UDPLength is the UDP header's length field (Proto == 17).
	UDPLength uint16
	// PayloadLen is the transport payload length according to the headers
	// (TCP: IP payload − TCP header; UDP: length field − 8; ICMP: IP payload −
	// 8; other: IP payload). Payload holds the captured part of it, possibly shorter.
	PayloadLen int
	Payload    []byte
	// BadChecksum is true when the transport checksum was verified and is wrong.
	BadChecksum bool
	// TunnelService is the tunnel name (vxlan, geneve, teredo, ayiya, gtpv1)
	// when this is the outer UDP packet of a tunnel that Zeek logs as a
	// connection; empty otherwise.
	TunnelService string
	// TunnelDepth is 0 for a packet that is not inside any tunnel, 1 inside one, ….
	TunnelDepth uint8
	// Encap is the kind of the innermost tunnel the packet was found in
	// (EncapNone when TunnelDepth is 0). It decides what Zeek writes in
	// conn.log's tunnel_parents: the connection of the UDP packet one level
	// up (EncapUDPTunnel), or the IP tunnel named by EncapSrc and EncapDst.
	Encap Encapsulation
	// EncapSrc and EncapDst are the addresses of the IP header that carries
	// an IP-in-IP or GRE tunnel (Encap EncapIPinIP or EncapGRE); zero
	// otherwise.
	EncapSrc, EncapDst netip.Addr
	// AnalysisPartial is set on the outer packet of a UDP tunnel (VXLAN,
	// Geneve, Teredo, AYIYA, GTPv1, GRE over UDP) that was not
	// decapsulated because Tunnel::max_depth was reached: Zeek then adds
	// 'X' ("connection analysis partial") to the history of that UDP
	// connection.
	AnalysisPartial bool
	// VLAN is the innermost VLAN id (0 when none), informational only.
	VLAN uint16
	// Truncated is true when fewer bytes than the IP header announces were
	// captured after the IP header (snaplen). Zeek then skips the checksum
	// test (BadChecksum stays false), does not feed ICMP packets to
	// ConnSize, and does not deliver the TCP payload to analyzers.
	Truncated bool
}
