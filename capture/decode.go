package capture

// Decoding follows Zeek's packet analyzers (src/packet_analysis/protocol/*
// and the dispatch tables in scripts/base/packet-protocols) rather than a
// generic protocol stack, because what Zeek drops, keeps or counts decides
// the connection records. The parsing is hand-written over the frame bytes:
// it allocates nothing, and Zeek's length and truncation rules (which differ
// from gopacket's layer decoders) are easier to reproduce exactly.
//
// Covered:
//   - link types: Ethernet (1), Linux SLL (113) and SLL2 (276), raw IP (101,
//     12, 14, 228, 229), BSD null (0, any byte order) and loop (108), PPP (9)
//     and PPP in HDLC framing (50), FDDI (10), 802.11 (105) and radiotap
//     (127) with LLC/SNAP and A-MSDU, NFLOG (239);
//   - L2 shims: VLAN 0x8100, QinQ 0x88A8/0x9100, MPLS 0x8847, PPPoE session
//     0x8864, PBB 0x88E7, VN-Tag 0x8926, Cisco FabricPath 0x8903, 802.3
//     LLC/SNAP;
//   - IPv4 (header checksum, fragment reassembly), IPv6 (hop-by-hop, routing,
//     destination options, AH, fragments), TCP, UDP, ICMP, ICMPv6 and any
//     other protocol as an unknown-transport packet (except ESP, IPv6
//     mobility and no-next-header, which Zeek does not turn into
//     connections, and IGMP, see DecoderOptions);
//   - tunnels: see tunnel.go.
//
// Deviations from Zeek, all deliberate: DLT_LOOP (108) and big-endian null
// headers are decoded (Zeek's root analyzer would fall back to raw IP and
// fail); fragments time out after FragmentOptions.Timeout (Zeek's
// frag_timeout defaults to never); a TCP packet whose header length is bad
// yields no packet (Zeek creates the connection but counts nothing).

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// DecoderOptions configures a Decoder. The zero value gives Zeek's defaults.
type DecoderOptions struct {
	// IgnoreChecksums behaves like `zeek -C`: no checksum is verified, so
	// BadChecksum is never set and IPv4 packets with a bad header checksum or
	// a zero total length are kept.
	IgnoreChecksums bool
	// MaxTunnelDepth is Zeek's Tunnel::max_depth (default 4): deeper
	// encapsulations are not decapsulated.
	MaxTunnelDepth int
	// Fragment reassembly limits; zero values pick the defaults.
	Fragments FragmentOptions
	// IGMPAsUnknownTransport emits IGMP (IP protocol 2) packets as
	// unknown-transport packets, as Zeek 7.1 - 7.x did. Current Zeek has an
	// IGMP packet analyzer that writes igmp.log and creates no connection,
	// so by default IGMP packets yield nothing.
	IGMPAsUnknownTransport bool
}

// DecoderStats counts what a Decoder saw. All counters only grow.
type DecoderStats struct {
	Frames  uint64 // frames passed to Decode
	Packets uint64 // packets appended to out
	// TunnelPackets counts appended packets with TunnelDepth > 0.
	TunnelPackets uint64
	// NonIP counts frames that yielded no packet and no error: ARP, LLDP,
	// STP, ..., IGMP, ESP, Teredo bubbles, fragments still waiting.
	NonIP uint64
	// Errors counts Decode calls that returned an error, and
	// ErrorsByReason counts them by the error's DecodeReason (index 0,
	// ReasonNone, stays 0).
	Errors         uint64
	ErrorsByReason [NumDecodeReasons]uint64
	// BadIPChecksum counts IPv4 packets dropped for a bad header checksum.
	BadIPChecksum uint64
	// Fragments counts IP fragments seen; Reassembled counts datagrams that
	// were completed; FragmentsDropped counts fragments rejected on arrival
	// (incompletely captured, oversized, inconsistent); DatagramsDropped
	// counts partial datagrams given up (limits, timeouts, inconsistencies).
	Fragments        uint64
	Reassembled      uint64
	FragmentsDropped uint64
	DatagramsDropped uint64
	// FragmentsPending is the number of datagrams waiting for fragments.
	FragmentsPending int
}

// Decoder turns frames into Packets. It is not safe for concurrent use: use
// one Decoder per worker.
type Decoder struct {
	opts  DecoderOptions
	stats DecoderStats
	frag  fragTable

	// per-frame state
	out     []Packet
	ts      time.Time
	vlan    uint16
	full    bool // the whole frame was captured (wire length <= captured length)
	shims   int
	emitted int
	// inTeredo is set while decoding the inner packet of a Teredo tunnel.
	inTeredo bool
	// encap is the innermost encapsulation entered so far.
	encap encapState
	// missing is the number of frame bytes the snap length cut off.
	missing int
	// probe is set by Probe: the first IP header ends the walk, its
	// findings go to probed.
	probe  bool
	probed Probe
}

// NewDecoder returns a Decoder with the given options.
func NewDecoder(opts DecoderOptions) *Decoder {
	if opts.MaxTunnelDepth <= 0 {
		opts.MaxTunnelDepth = 4
	}
	d := &Decoder{opts: opts}
	d.frag.init(opts.Fragments)
	return d
}

// Stats returns the counters accumulated so far.
func (d *Decoder) Stats() DecoderStats {
	s := d.stats
	s.DatagramsDropped = d.frag.dropped
	s.FragmentsPending = len(d.frag.m)
	return s
}

// SupportedLinkType reports whether Decode understands frames of link type lt.
func SupportedLinkType(lt layers.LinkType) bool {
	switch lt {
	case linkNull, linkEthernet, linkRawA, linkRawB, linkPPP, linkFDDI, linkPPPHDLC, linkRaw,
		linkLoop, linkIEEE80211, linkLinuxSLL, linkRadiotap, linkIPv4, linkIPv6, linkNFLOG, linkLinuxSLL2:
		return true
	}
	return false
}

// Link types (LINKTYPE_* values as they appear in pcap files).
const (
	linkNull      layers.LinkType = 0
	linkEthernet  layers.LinkType = 1
	linkPPP       layers.LinkType = 9
	linkFDDI      layers.LinkType = 10
	linkRawA      layers.LinkType = 12 // DLT_RAW on some BSDs
	linkRawB      layers.LinkType = 14 // DLT_RAW on OpenBSD
	linkPPPHDLC   layers.LinkType = 50
	linkRaw       layers.LinkType = 101
	linkIEEE80211 layers.LinkType = 105
	linkLoop      layers.LinkType = 108
	linkLinuxSLL  layers.LinkType = 113
	linkRadiotap  layers.LinkType = 127
	linkIPv4      layers.LinkType = 228
	linkIPv6      layers.LinkType = 229
	linkNFLOG     layers.LinkType = 239
	linkLinuxSLL2 layers.LinkType = 276
)

// Decode appends the IP packets of frame f to out and returns the extended
// slice. Most frames yield one packet; a UDP tunnel yields the outer packet
// followed by the inner one(s); a non-IP frame or an incomplete fragment
// yields none. Packets appended before a fault stay in the returned slice
// even when an error is returned. Payloads point into f.Data or into the
// Decoder's reassembly buffers and are valid until the next Decode call.
// Decode does not allocate in steady state (reassembly aside).
func (d *Decoder) Decode(f Frame, out []Packet) ([]Packet, error) {
	d.stats.Frames++
	d.out = out
	d.ts = f.Timestamp
	d.vlan = f.VLAN
	d.shims = 0
	d.emitted = 0
	d.inTeredo = false
	d.frag.newFrame()
	data := f.Data
	if f.CaptureLength > 0 && f.CaptureLength < len(data) {
		data = data[:f.CaptureLength]
	}
	wire := f.Length
	if wire < len(data) {
		wire = len(data)
	}
	d.full = wire <= len(data)
	d.missing = wire - len(data)
	d.encap = encapState{}
	err := d.decodeLink(f.LinkType, data, wire)
	out = d.out
	d.out = nil
	if err != nil {
		d.stats.Errors++
		if de, ok := err.(*DecodeError); ok {
			d.stats.ErrorsByReason[de.Code]++
		}
	} else if d.emitted == 0 {
		d.stats.NonIP++
	}
	return out, err
}

// Probe is what a reader spreading frames over workers needs of a frame:
// the addresses of its outermost IP header, and whether that header may
// carry a tunnel (IP-in-IP, GRE, or UDP to or from a tunnel port, or an
// IPv6 header whose payload the probe does not look into), in which case
// the inner connections' addresses are known only by decoding it.
type Probe struct {
	// Pair is PairHash of the outermost IP header's addresses.
	Pair      uint64
	MayTunnel bool
}

// PairHash hashes an address pair the same in either order (an IPv4
// address alike in its IPv4-mapped IPv6 form): the key a reader spreads
// frames over workers by.
func PairHash(a, b netip.Addr) uint64 {
	return pairHash16(a.As16(), b.As16())
}

func pairHash16(a, b [16]byte) uint64 {
	return hashMix(addrFold(&a) + addrFold(&b))
}

// addrFold folds a 16-byte address into 64 bits.
func addrFold(a *[16]byte) uint64 {
	return hashMix(binary.LittleEndian.Uint64(a[:8])) ^ binary.LittleEndian.Uint64(a[8:])*0x9e3779b97f4a7c15
}

func hashMix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Probe walks frame f's link layer and L2 shims exactly as Decode does but
// stops at the outermost IP header (no checksum, transport or tunnel work,
// no statistics). ok is false for a frame without an IP header (ARP, …)
// or one Decode would reject before reaching it. A reader spreading frames
// over workers by this address pair sends every packet of a connection,
// its fragments and the tunnels it rides in to one worker.
func (d *Decoder) Probe(f Frame) (p Probe, ok bool) {
	data := f.Data
	if f.CaptureLength > 0 && f.CaptureLength < len(data) {
		data = data[:f.CaptureLength]
	}
	wire := max(f.Length, len(data))
	d.probe, d.probed, d.shims = true, Probe{}, 0
	err := d.decodeLink(f.LinkType, data, wire)
	d.probe = false
	if err != errProbeDone {
		return Probe{}, false
	}
	return d.probed, true
}

// probeIP records the probe of an outermost IP header: its address pair
// (16-byte forms), and whether the transport (proto, transport when
// unfragmented) may be a tunnel.
func (d *Decoder) probeIP(src, dst [16]byte, proto uint8, transport []byte, v6 bool) {
	d.probed = Probe{Pair: pairHash16(src, dst)}
	switch proto {
	case 4, 41, 47: // IP-in-IP, IPv6-in-IP, GRE
		d.probed.MayTunnel = true
	case 17:
		if len(transport) < 4 {
			d.probed.MayTunnel = true // a fragment: decode to know
			return
		}
		sp, dp := binary.BigEndian.Uint16(transport), binary.BigEndian.Uint16(transport[2:])
		d.probed.MayTunnel = udpTunnelByPort(sp) != encapNone || udpTunnelByPort(dp) != encapNone
		if !d.probed.MayTunnel && len(transport) > 8 {
			// Teredo and AYIYA are also found without their ports, as
			// udpTunnel does (on the payload the UDP length bounds).
			payload := transport[8:]
			if ul := int(binary.BigEndian.Uint16(transport[4:])); ul >= 8 && ul-8 < len(payload) {
				payload = payload[:ul-8]
			}
			d.probed.MayTunnel = detectTeredo(payload) || detectAYIYA(payload)
		}
	case 6, 1, 58:
	default:
		d.probed.MayTunnel = v6 // an extension header: the probe does not follow the chain
	}
}

// errProbeDone ends a Probe walk at the first IP header.
var errProbeDone = &DecodeError{Reason: "probe"}

func (d *Decoder) decodeLink(lt layers.LinkType, data []byte, wire int) error {
	switch lt {
	case linkEthernet:
		return d.decodeEthernet(data, wire, 0)
	case linkRaw, linkRawA, linkRawB, linkIPv4, linkIPv6:
		return d.decodeIPByVersion(data, wire, 0)
	case linkNull, linkLoop:
		if len(data) < 4 {
			return errTruncatedLink
		}
		// The address family is in host byte order (Null) or network byte
		// order (Loop); accept either.
		af := binary.LittleEndian.Uint32(data)
		if af > 0xffff {
			af = binary.BigEndian.Uint32(data)
		}
		switch af {
		case 2, 24, 28, 30:
			return d.decodeIPByVersion(data[4:], wire-4, 0)
		}
		return nil
	case linkLinuxSLL:
		if len(data) < 16 {
			return errTruncatedLink
		}
		return d.decodeSLLProto(binary.BigEndian.Uint16(data[14:16]), data[16:], wire-16)
	case linkLinuxSLL2:
		if len(data) < 20 {
			return errTruncatedLink
		}
		return d.decodeSLLProto(binary.BigEndian.Uint16(data[0:2]), data[20:], wire-20)
	case linkPPP, linkPPPHDLC:
		return d.decodePPPSerial(data, wire, 0)
	case linkFDDI:
		// frame control (1), dst (6), src (6), then LLC/SNAP
		if len(data) < 13 {
			return errTruncatedLink
		}
		return d.decodeLLC(data[13:], wire-13, 0)
	case linkIEEE80211:
		return d.decode80211(data, wire, 0)
	case linkRadiotap:
		if len(data) < 4 {
			return errTruncatedRadiotap
		}
		n := int(binary.LittleEndian.Uint16(data[2:4]))
		if n < 4 || n > len(data) {
			return errTruncatedRadiotap
		}
		return d.decode80211(data[n:], wire-n, 0)
	case linkNFLOG:
		return d.decodeNFLOG(data, wire)
	}
	return errUnknownLinkType
}

// decodePPPSerial handles PPP in HDLC-like framing (address 0xff, control
// 0x03) and PPP without it, as Zeek's PPPSerial analyzer does for the
// protocols it knows.
func (d *Decoder) decodePPPSerial(data []byte, wire, depth int) error {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
		data, wire = data[2:], wire-2
	}
	return d.decodePPP(data, wire, depth)
}

// decodePPP decodes a two-byte PPP protocol field followed by its payload
// (Zeek does not handle protocol-field compression).
func (d *Decoder) decodePPP(data []byte, wire, depth int) error {
	if len(data) < 2 {
		return errTruncatedLink
	}
	proto := binary.BigEndian.Uint16(data)
	data, wire = data[2:], wire-2
	switch proto {
	case 0x0021:
		return d.decodeIPv4(data, wire, depth)
	case 0x0057:
		return d.decodeIPv6(data, wire, depth)
	case 0x0281:
		return d.decodeMPLS(data, wire, depth)
	}
	return nil
}

// decodeNFLOG decodes Linux NFLOG: a 4-byte header (family, version, resource
// id) followed by TLVs; the packet is in NFULA_PAYLOAD (type 9).
func (d *Decoder) decodeNFLOG(data []byte, wire int) error {
	if len(data) < 4 {
		return errTruncatedLink
	}
	family := data[0]
	off := 4
	for off+4 <= len(data) {
		l := int(binary.LittleEndian.Uint16(data[off:]))
		typ := binary.LittleEndian.Uint16(data[off+2:]) & 0x7fff
		if l < 4 {
			return errTruncatedLink
		}
		if typ == 9 {
			end := off + l
			if end > len(data) {
				end = len(data)
			}
			payload := data[off+4 : end]
			w := l - 4
			if w < len(payload) {
				w = len(payload)
			}
			switch family {
			case 2:
				return d.decodeIPv4(payload, w, 0)
			case 10:
				return d.decodeIPv6(payload, w, 0)
			}
			return d.decodeIPByVersion(payload, w, 0)
		}
		off += (l + 3) &^ 3
	}
	return nil
}

// decode80211 decodes an 802.11 data frame exactly as Zeek's IEEE802_11
// analyzer does (no HT-control skipping, protected bit only tested on QoS
// frames, LLC/SNAP with a zero OUI required) and splits A-MSDU aggregates.
func (d *Decoder) decode80211(data []byte, wire, depth int) error {
	hdr := 24
	if hdr >= len(data) {
		return errTruncated80211
	}
	fc := data[0]
	if (fc>>2)&0x02 == 0 { // management and control frames
		return nil
	}
	if (fc>>4)&0x04 != 0 { // subtypes without data
		return nil
	}
	if data[1]&0x03 == 0x03 { // ToDS and FromDS: fourth address
		hdr += 6
	}
	if hdr >= len(data) {
		return errTruncated80211
	}
	amsdu := false
	if (fc>>4)&0x08 != 0 { // QoS data
		amsdu = data[hdr]&0x80 != 0
		if data[1]&0x40 != 0 { // protected: encrypted payload
			return nil
		}
		hdr += 2
	}
	if hdr >= len(data) {
		return errTruncated80211
	}
	data, wire = data[hdr:], wire-hdr
	if !amsdu {
		return d.decode80211Inner(data, wire, depth)
	}
	for len(data) > 0 {
		if len(data) < 14 {
			return errTruncated80211
		}
		l := int(binary.BigEndian.Uint16(data[12:14]))
		if len(data) < l+14 {
			return errTruncated80211
		}
		data, wire = data[14:], wire-14
		if err := d.decode80211Inner(data[:l], l, depth); err != nil {
			return err
		}
		data, wire = data[l:], wire-l
		// Zeek skips len%4 bytes of padding (sic) when they are there.
		if pad := l % 4; len(data) >= pad {
			data, wire = data[pad:], wire-pad
		}
	}
	return nil
}

// decode80211Inner handles the LLC/SNAP header of an 802.11 payload.
func (d *Decoder) decode80211Inner(data []byte, wire, depth int) error {
	if len(data) < 8 {
		return errTruncated80211
	}
	if data[0] != 0xaa || data[1] != 0xaa || data[2] != 0x03 || data[3] != 0 || data[4] != 0 || data[5] != 0 {
		return nil
	}
	return d.decodeEtherType(binary.BigEndian.Uint16(data[6:8]), data[8:], wire-8, depth)
}

// decodeLLC decodes an 802.2 LLC header; only SNAP (AA AA 03) with an
// EtherType is followed.
func (d *Decoder) decodeLLC(data []byte, wire, depth int) error {
	if len(data) < 3 {
		return errTruncatedLink
	}
	if data[0] == 0xaa && data[1] == 0xaa && data[2] == 0x03 {
		if len(data) < 8 {
			return errTruncatedLink
		}
		return d.decodeEtherType(binary.BigEndian.Uint16(data[6:8]), data[8:], wire-8, depth)
	}
	return nil
}

// decodeEthernet decodes an Ethernet II or 802.3 header.
func (d *Decoder) decodeEthernet(data []byte, wire, depth int) error {
	if len(data) < 14 {
		return errTruncatedLink
	}
	et := binary.BigEndian.Uint16(data[12:14])
	if et == 0x8903 {
		// Cisco FabricPath: the outer header (DA, SA, 0x8903, FTag/TTL = 16
		// bytes) precedes a complete inner Ethernet header. Each one
		// counts as a shim, which bounds the recursion.
		if len(data) <= 16+14 {
			return errTruncatedLink
		}
		d.shims++
		if d.shims > maxShims {
			return errTooManyShims
		}
		return d.decodeEthernet(data[16:], wire-16, depth)
	}
	if et <= 1500 {
		// 802.3 length field: LLC follows (SNAP, Novell raw 0xffff, ...).
		return d.decodeLLC(data[14:], wire-14, depth)
	}
	return d.decodeEtherType(et, data[14:], wire-14, depth)
}

const maxShims = 16

// decodeSLLProto handles the protocol field of Linux cooked captures (v1
// and v2): Zeek registers only IP (and ARP) there.
func (d *Decoder) decodeSLLProto(proto uint16, data []byte, wire int) error {
	switch proto {
	case 0x0800:
		return d.decodeIPv4(data, wire, 0)
	case 0x86dd:
		return d.decodeIPv6(data, wire, 0)
	}
	return nil
}

// l2Context names the analyzer whose EtherType dispatch table applies:
// Zeek registers different follow-ups after Ethernet, VLAN and VN-Tag.
type l2Context uint8

const (
	fromEthernet l2Context = iota
	fromVLAN
	fromVNTag
)

// decodeEtherType follows an EtherType through the L2 shims Zeek knows, with
// the dispatch tables of scripts/base/packet-protocols/{ethernet,vlan,vntag}:
// Ethernet → VLAN (0x8100, 0x88A8, 0x9100) or VN-Tag; VLAN → VLAN (0x8100
// only) or VN-Tag; VN-Tag → VLAN (all three) only.
func (d *Decoder) decodeEtherType(et uint16, data []byte, wire, depth int) error {
	ctx := fromEthernet
	for {
		d.shims++
		if d.shims > maxShims {
			return errTooManyShims
		}
		if ctx == fromVNTag && et != 0x8100 && et != 0x88a8 && et != 0x9100 {
			return nil // VN-Tag is followed only by VLAN tags in Zeek
		}
		switch et {
		case 0x0800:
			return d.decodeIPv4(data, wire, depth)
		case 0x86dd:
			return d.decodeIPv6(data, wire, depth)
		case 0x8100, 0x88a8, 0x9100: // VLAN, QinQ
			if ctx == fromVLAN && et != 0x8100 {
				return nil
			}
			if len(data) <= 4 { // Zeek: truncated_VLAN_header
				return errTruncatedLink
			}
			d.vlan = binary.BigEndian.Uint16(data) & 0x0fff
			et = binary.BigEndian.Uint16(data[2:4])
			data, wire = data[4:], wire-4
			ctx = fromVLAN
		case 0x8926: // VN-Tag: 4-byte tag, then the EtherType
			// Registered after Ethernet and after VLAN (zeek/zeek#4286:
			// VN-Tag inside an 802.1Q tag).
			if ctx == fromVNTag {
				return nil
			}
			if len(data) <= 6 { // Zeek: truncated_vntag_header
				return errTruncatedLink
			}
			et = binary.BigEndian.Uint16(data[4:6])
			data, wire = data[6:], wire-6
			ctx = fromVNTag
		case 0x88e7: // PBB: I-TAG (4 bytes), then the customer Ethernet header
			if len(data) < 4 {
				return errTruncatedLink
			}
			return d.decodeEthernet(data[4:], wire-4, depth)
		case 0x8847: // MPLS unicast
			return d.decodeMPLS(data, wire, depth)
		case 0x8864: // PPPoE session: 6-byte header, then the PPP protocol
			if len(data) < 8 {
				return errTruncatedLink
			}
			return d.decodePPP(data[6:], wire-6, depth)
		default:
			if et <= 1500 && ctx == fromVLAN { // 802.3 length inside a tag
				return d.decodeLLC(data, wire, depth)
			}
			return nil // ARP, LLDP, ... : not IP
		}
	}
}

// decodeMPLS skips the label stack and decodes IP by its version nibble.
func (d *Decoder) decodeMPLS(data []byte, wire, depth int) error {
	for {
		if len(data) < 4 {
			return errTruncatedMPLS
		}
		bos := data[2]&0x01 != 0
		data, wire = data[4:], wire-4
		if bos {
			break
		}
	}
	return d.decodeIPByVersion(data, wire, depth)
}

func (d *Decoder) decodeIPByVersion(data []byte, wire, depth int) error {
	if len(data) < 1 {
		return errTruncatedIP
	}
	switch data[0] >> 4 {
	case 4:
		return d.decodeIPv4(data, wire, depth)
	case 6:
		return d.decodeIPv6(data, wire, depth)
	}
	if len(data) < 20 {
		return errTruncatedIP
	}
	return errUnknownIPVersion
}
