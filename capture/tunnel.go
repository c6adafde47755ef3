package capture

import (
	"encoding/binary"
	"net/netip"
)

// Tunnel decapsulation, following Zeek's packet analyzers (src/packet_analysis/
// protocol/{iptunnel,gre,erspan,vxlan,geneve,teredo,ayiya,gtpv1}) and the
// port registrations in scripts/base/packet-protocols.
//
// Zeek subtleties reproduced here (and what the flow tracker must do):
//
//   - UDP tunnels are ordinary UDP connections: the outer packet is always
//     appended (first), with TunnelService set when Zeek's analyzer confirms
//     the protocol on this packet; the inner packets follow with
//     TunnelDepth+1. IP-in-IP, GRE and ERSPAN produce no outer row: only the
//     inner packets are appended.
//   - The tunnel analyzer is picked by the connection's responder port. As the
//     decoder does not know which side is the responder, it tries the
//     destination port and then the source port. UDP packets on no tunnel
//     port go through Zeek's protocol detection for Teredo and AYIYA.
//   - A UDP datagram with a bad checksum is not decapsulated (Zeek stops in
//     the UDP analyzer), so neither service nor inner packets appear
//     (btest core.tunnels.vxlan-unknown-internal-packet).
//   - Teredo: Tunnel::delay_teredo_confirmation = T. Zeek confirms "teredo"
//     only once valid Teredo was seen from both the originator and the
//     responder. The decoder sets TunnelService = "teredo" on every valid
//     Teredo packet; the flow tracker must add the service only when both
//     directions of the connection carried such a packet. GTPv1 is confirmed
//     on the first valid G-PDU (delay_gtp_confirmation = F); VXLAN, Geneve
//     and AYIYA on any well-formed header, even when the inner packet is then
//     truncated or not IP (btests geneve-truncated, geneve-arp).
//   - Teredo bubbles (IPv6 with no next header) yield no inner packet.
//   - After an analyzer violation Zeek stops decapsulating that connection
//     for good (AnalyzerViolated); the decoder is stateless and keeps trying
//     packet by packet. This only matters for malformed tunnel traffic.
//   - Geneve maps 0x6558 to Ethernet, 0x0800 and 0x86DD to IP and 0x0806 to
//     ARP (Zeek registered 0x08DD, a typo, until it was fixed; current Zeek
//     decapsulates IPv6 directly in Geneve, btest core.tunnels.geneve-ipv6).
//   - Tunnel::max_depth = 4: a tunnel found at depth 4 is not decapsulated.
//     The tunnel analyzers' depth check (TunnelAnalyzer::CheckTunnelDepth)
//     then adds 'X' to the history of the UDP connection that carries the
//     tunnel, if any: VXLAN, Geneve, Teredo, AYIYA, GTPv1 and GRE over UDP
//     (Packet.AnalysisPartial); IP-in-IP and GRE over IP have none.
//   - tunnel_parents: an inner connection's parent is the connection of the
//     outer UDP packet for UDP tunnels, and for IP-in-IP and GRE (ERSPAN,
//     Aruba and PPTP included) a tunnel named by the carrying IP header's
//     address pair, which Zeek gives a UID of its own (IPLayerTunnelAnalyzer,
//     Tunnel::ip_tunnel_timeout). Packet.Encap, EncapSrc and EncapDst carry
//     what the flow tracker needs to name them.

// Well-known UDP tunnel ports.
const (
	portVXLAN    = 4789
	portGeneve   = 6081
	portTeredo   = 3544
	portAYIYA    = 5072
	portGTPU     = 2152
	portGTPC     = 2123
	portGREinUDP = 4754
)

// Tunnel service names as conn.log shows them.
const (
	ServiceVXLAN  = "vxlan"
	ServiceGeneve = "geneve"
	ServiceTeredo = "teredo"
	ServiceAYIYA  = "ayiya"
	ServiceGTPv1  = "gtpv1"
)

type encapType uint8

const (
	encapNone encapType = iota
	encapIP
	encapGRE
	encapVXLAN
	encapGeneve
	encapTeredo
	encapAYIYA
	encapGTP
)

// innerResult is the result of Zeek's IP::ParsePacket on an inner packet.
type innerResult uint8

const (
	innerOK innerResult = iota
	innerTooSmall
	innerTooLarge
	innerBadProtocol
)

// parseInnerIP mirrors zeek::packet_analysis::IP::ParsePacket: the inner
// packet must have the expected version and exactly fill the captured data.
func parseInnerIP(data []byte, v6 bool) innerResult {
	var total int
	if v6 {
		if len(data) < 40 {
			return innerTooSmall
		}
		if data[0]>>4 != 6 {
			return innerBadProtocol
		}
		total = int(binary.BigEndian.Uint16(data[4:6])) + 40
	} else {
		if len(data) < 20 {
			return innerBadProtocol
		}
		if data[0]>>4 != 4 {
			return innerBadProtocol
		}
		total = int(binary.BigEndian.Uint16(data[2:4]))
	}
	switch {
	case len(data) < total:
		return innerTooSmall
	case len(data) > total:
		return innerTooLarge
	}
	return innerOK
}

func innerError(r innerResult) error {
	switch r {
	case innerBadProtocol:
		return errInnerIPVersion
	case innerTooSmall:
		return errInnerTruncated
	}
	return errInnerIPLen
}

// innerWire is the wire length of inner data: its captured length plus what
// the snap length cut off the frame (Zeek's build_inner_packet).
func (d *Decoder) innerWire(inner []byte) int { return len(inner) + d.missing }

// encapState is the innermost encapsulation entered so far: its type and,
// for IP-in-IP and GRE, the addresses of the IP header that carries it.
type encapState struct {
	typ      encapType
	src, dst netip.Addr
}

// enter records the encapsulation while an inner packet is decoded and
// returns the previous one for leave. ip is the carrying IP header of an
// IP-in-IP or GRE tunnel (nil for UDP tunnels).
func (d *Decoder) enter(t encapType, ip *ipHeader) encapState {
	prev := d.encap
	d.encap = encapState{typ: t}
	if ip != nil {
		d.encap.src, d.encap.dst = ip.src, ip.dst
	}
	return prev
}

func (d *Decoder) leave(prev encapState) { d.encap = prev }

// public is the Encapsulation that Packet.Encap reports for packets decoded
// inside an encapsulation of type e.
func (e encapType) public() Encapsulation {
	switch e {
	case encapNone:
		return EncapNone
	case encapIP:
		return EncapIPinIP
	case encapGRE:
		return EncapGRE
	}
	return EncapUDPTunnel
}

// decodeIPTunnel handles IP-in-IP (protocols 4 and 41).
func (d *Decoder) decodeIPTunnel(ip *ipHeader, proto uint8, rem []byte, plen, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		return errTunnelDepth
	}
	// Zeek's IPInIP analyzer requires the inner packet to fill the outer
	// payload exactly; link-layer padding is not part of it here.
	inner := captured(rem, plen)
	if r := parseInnerIP(inner, proto == protoIPv6); r != innerOK {
		return innerError(r)
	}
	prev := d.enter(encapIP, ip)
	err := d.decodeIPByVersion(inner, d.innerWire(inner), depth+1)
	d.leave(prev)
	return err
}

// greHeaderLen is Zeek's gre_header_len.
func greHeaderLen(flags uint16) int {
	n := 4
	if flags&0x8000 != 0 { // checksum
		n += 4
	}
	if flags&0x2000 != 0 { // key
		n += 4
	}
	if flags&0x1000 != 0 { // sequence
		n += 4
	}
	if flags&0x0080 != 0 { // acknowledgement
		n += 4
	}
	return n
}

// isArubaGRE reports the GRE protocol types that carry Aruba 802.11 frames.
func isArubaGRE(pt uint16) bool {
	return (pt&0x8200 == 0x8200 && pt&0x0f == 0 && pt <= 0x82f0) ||
		(pt&0x8300 == 0x8300 && pt&0x0f == 0 && pt <= 0x8370) ||
		pt == 0x9000
}

// decodeGRE handles GRE (IP protocol 47, or UDP port 4754). data is the
// captured data after the outer header.
func (d *Decoder) decodeGRE(ip *ipHeader, data []byte, plen, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		return errTunnelDepth
	}
	if len(data) < 4 {
		return errTruncatedGRE
	}
	flags := binary.BigEndian.Uint16(data[0:2])
	pt := binary.BigEndian.Uint16(data[2:4])
	version := flags & 0x0007
	greLen := greHeaderLen(flags)
	switch {
	case version > 1:
		return errGREVersion
	case version == 1 && pt != 0x880b:
		return errGREProto
	case flags&0x4000 != 0:
		return errGRERouting
	case flags&0x0078 != 0:
		return errGREFlags
	case len(data) < greLen:
		return errTruncatedGRE
	}
	if version == 1 {
		// Enhanced GRE (PPTP): a PPP header with address/control follows.
		if len(data) < greLen+4 {
			return errTruncatedGRE
		}
		pppProto := binary.BigEndian.Uint16(data[greLen+2 : greLen+4])
		if pppProto != 0x0021 && pppProto != 0x0057 {
			return errNonIPInEncap
		}
		inner := data[greLen+4:]
		if r := parseInnerIP(inner, pppProto == 0x0057); r != innerOK {
			return innerError(r)
		}
		prev := d.enter(encapGRE, ip)
		err := d.decodeIPByVersion(inner, d.innerWire(inner), depth+1)
		d.leave(prev)
		return err
	}
	inner := data[greLen:]
	prev := d.enter(encapGRE, ip)
	err := d.decodeGREPayload(pt, flags, inner, d.innerWire(inner), depth+1)
	d.leave(prev)
	return err
}

// decodeGREPayload dispatches the payload of a GRE version 0 packet by its
// protocol type (no defer in decodeGRE: too many returns for an open-coded
// one).
func (d *Decoder) decodeGREPayload(pt, flags uint16, inner []byte, wire, depth int) error {
	switch {
	case pt == 0x0800 || pt == 0x86dd:
		return d.decodeIPByVersion(inner, wire, depth)
	case pt == 0x8847:
		return d.decodeMPLS(inner, wire, depth)
	case pt == 0x6558:
		if len(inner) <= 14 {
			return errTruncatedGRE
		}
		return d.decodeEthernet(inner, wire, depth)
	case pt == 0x88be && flags&0x1000 == 0:
		// ERSPAN type I: no ERSPAN header, the mirrored frame follows.
		if len(inner) <= 14 {
			return errTruncatedGRE
		}
		return d.decodeEthernet(inner, wire, depth)
	case pt == 0x88be || pt == 0x22eb:
		return d.decodeERSPAN(inner, wire, depth)
	case isArubaGRE(pt):
		if len(inner) == 0 {
			return errTruncatedGRE
		}
		return d.decode80211(inner, wire, depth)
	}
	return nil // no analyzer for this protocol type
}

// decodeERSPAN handles ERSPAN type II (version 1) and III (version 2).
func (d *Decoder) decodeERSPAN(data []byte, wire, depth int) error {
	if len(data) < 8 {
		return errTruncatedERSPAN
	}
	n := 0
	switch data[0] >> 4 {
	case 1:
		n = 8
	case 2:
		if len(data) < 12 {
			return errTruncatedERSPAN
		}
		n = 12
		if data[11]&0x01 != 0 { // optional platform-specific sub-header
			n += 8
			if len(data) < n {
				return errTruncatedERSPAN
			}
		}
	default:
		return errERSPANVersion
	}
	return d.decodeEthernet(data[n:], wire-n, depth)
}

// udpTunnel decapsulates a UDP tunnel. The outer packet was appended at
// index idx; payload is the UDP payload (bounded by the IP payload length).
func (d *Decoder) udpTunnel(idx int, ip *ipHeader, payload []byte, depth int) error {
	sport, dport := d.out[idx].SrcPort, d.out[idx].DstPort
	kind := udpTunnelByPort(dport)
	if kind == encapNone {
		kind = udpTunnelByPort(sport)
	}
	if kind == encapNone {
		// Zeek's protocol detection on UDP packets without a port match.
		switch {
		case detectTeredo(payload):
			kind = encapTeredo
		case detectAYIYA(payload):
			kind = encapAYIYA
		default:
			return nil
		}
	}
	switch kind {
	case encapVXLAN:
		return d.decodeVXLAN(idx, payload, depth)
	case encapGeneve:
		return d.decodeGeneve(idx, payload, depth)
	case encapTeredo:
		return d.decodeTeredo(idx, payload, depth)
	case encapAYIYA:
		return d.decodeAYIYA(idx, payload, depth)
	case encapGTP:
		return d.decodeGTPv1(idx, payload, depth)
	case encapGRE:
		if depth >= d.opts.MaxTunnelDepth {
			// The GRE analyzer's depth check sees the UDP connection.
			d.out[idx].AnalysisPartial = true
			return errTunnelDepth
		}
		return d.decodeGRE(ip, payload, len(payload), depth)
	}
	return nil
}

// TunnelPort reports whether UDP port p is one of the tunnels' (VXLAN,
// Geneve, Teredo, AYIYA, GTPv1, GRE over UDP).
func TunnelPort(p uint16) bool { return udpTunnelByPort(p) != encapNone }

func udpTunnelByPort(p uint16) encapType {
	switch p {
	case portVXLAN:
		return encapVXLAN
	case portGeneve:
		return encapGeneve
	case portTeredo:
		return encapTeredo
	case portAYIYA:
		return encapAYIYA
	case portGTPU, portGTPC:
		return encapGTP
	case portGREinUDP:
		return encapGRE
	}
	return encapNone
}

func (d *Decoder) decodeVXLAN(idx int, data []byte, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		d.out[idx].AnalysisPartial = true
		return errTunnelDepth
	}
	if len(data) < 8 || data[0]&0x08 == 0 { // header truncated or I flag not set
		return errTunnelViolation
	}
	d.out[idx].TunnelService = ServiceVXLAN
	inner := data[8:]
	if len(inner) == 0 {
		return errEmptyTunnel
	}
	prev := d.enter(encapVXLAN, nil)
	err := d.decodeEthernet(inner, d.innerWire(inner), depth+1)
	d.leave(prev)
	return err
}

func (d *Decoder) decodeGeneve(idx int, data []byte, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		d.out[idx].AnalysisPartial = true
		return errTunnelDepth
	}
	if len(data) < 8 {
		return errTunnelViolation
	}
	if data[0]>>6 != 0 {
		return errGeneveVersion
	}
	hdr := 8 + int(data[0]&0x3f)*4
	if hdr > len(data) {
		return errTunnelViolation
	}
	d.out[idx].TunnelService = ServiceGeneve
	next := binary.BigEndian.Uint16(data[2:4])
	inner := data[hdr:]
	if len(inner) == 0 {
		return errEmptyTunnel
	}
	var err error
	prev := d.enter(encapGeneve, nil)
	switch wire := d.innerWire(inner); next {
	case 0x6558:
		err = d.decodeEthernet(inner, wire, depth+1)
	case 0x0800, 0x86dd:
		err = d.decodeIPByVersion(inner, wire, depth+1)
	}
	d.leave(prev) // ARP or an unregistered protocol: no inner IP packet
	return err
}

// detectTeredo is TeredoAnalyzer::DetectProtocol.
func detectTeredo(data []byte) bool {
	n := len(data)
	if n < 40 || (n > 8 && data[0]>>4 != 6 && (data[0] != 0 || (data[1] != 0 && data[1] != 1))) {
		return false
	}
	if teredoPattern(data) {
		return true
	}
	val := uint16(data[1])
	if val == 1 {
		idLen, auLen := int(data[2]), int(data[3])
		if n < 13+idLen+auLen {
			return false
		}
		data = data[13+idLen+auLen:]
		if len(data) < 40 {
			return false
		}
		val = binary.BigEndian.Uint16(data)
	}
	if val == 0 {
		if len(data) < 8 {
			return false
		}
		data = data[8:]
		if len(data) < 40 {
			return false
		}
		return data[0]>>4 == 6
	}
	return false
}

// teredoPattern matches Zeek's anchored regular expression
// ^([\x60-\x6f].{7}\x20\x01\x00\x00.{28})|([\x60-\x6f].{23}\x20\x01\x00\x00).{12}
// (an IPv6 header whose source or destination is in 2001:0::/32).
func teredoPattern(b []byte) bool {
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	return (b[8] == 0x20 && b[9] == 0x01 && b[10] == 0 && b[11] == 0) ||
		(b[24] == 0x20 && b[25] == 0x01 && b[26] == 0 && b[27] == 0)
}

func (d *Decoder) decodeTeredo(idx int, data []byte, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		d.out[idx].AnalysisPartial = true
		return errTunnelDepth
	}
	inner, ok := parseTeredo(data)
	if !ok {
		return errTunnelViolation
	}
	switch parseInnerIP(inner, true) {
	case innerOK:
	case innerTooLarge:
		// Only a bubble (no next header, empty payload) may carry extra data.
		if inner[6] != ipv6NoNext || binary.BigEndian.Uint16(inner[4:6]) != 0 {
			return errTunnelViolation
		}
	default:
		return errTunnelViolation
	}
	d.out[idx].TunnelService = ServiceTeredo
	prev := d.enter(encapTeredo, nil)
	wasTeredo := d.inTeredo
	d.inTeredo = true
	err := d.decodeIPv6(inner, d.innerWire(inner), depth+1)
	d.inTeredo = wasTeredo
	d.leave(prev)
	return err
}

// parseTeredo is TeredoEncapsulation::DoParse: optional authentication and
// origin indication headers, then an IPv6 packet.
func parseTeredo(data []byte) ([]byte, bool) {
	foundOrigin, foundAuth := false, false
	for {
		if len(data) < 2 {
			return nil, false
		}
		tag := binary.BigEndian.Uint16(data)
		switch {
		case tag == 0:
			if foundOrigin || len(data) < 8 {
				return nil, false
			}
			foundOrigin = true
			data = data[8:]
		case tag == 1:
			if foundOrigin || foundAuth || len(data) < 4 {
				return nil, false
			}
			tot := 4 + int(data[2]) + int(data[3]) + 8 + 1
			if len(data) < tot {
				return nil, false
			}
			foundAuth = true
			data = data[tot:]
		case tag>>12 == 6:
			if len(data) < 40 {
				return nil, false
			}
			return data, true
		default:
			return nil, false
		}
	}
}

// detectAYIYA is AYIYAAnalyzer::DetectProtocol.
func detectAYIYA(data []byte) bool {
	return len(data) >= 3 && data[1] == 0x52 && data[2] == 0x11
}

func (d *Decoder) decodeAYIYA(idx int, data []byte, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		d.out[idx].AnalysisPartial = true
		return errTunnelDepth
	}
	if len(data) < 8 {
		return errTunnelViolation
	}
	// Identity length 2^n (current Zeek no longer truncates it to 8 bits:
	// btest core.tunnels.ayiya-large-identity has a 256-byte identity).
	idLen := 1 << (data[0] >> 4)
	sigLen := int(data[1]>>4) * 4
	hdr := 8 + idLen + sigLen
	if hdr > len(data) {
		return errTunnelViolation
	}
	if data[2]&0x0f != 1 { // not a "forward" operation: nothing to decapsulate
		return nil
	}
	next := data[3]
	d.out[idx].TunnelService = ServiceAYIYA
	inner := data[hdr:]
	if len(inner) == 0 {
		return errEmptyTunnel
	}
	if next != protoIPIP && next != protoIPv6 {
		return nil
	}
	prev := d.enter(encapAYIYA, nil)
	err := d.decodeIPByVersion(inner, d.innerWire(inner), depth+1)
	d.leave(prev)
	return err
}

// decodeGTPv1 follows Zeek's GTPv1 binpac analyzer for G-PDUs (message type
// 255); control messages carry no inner packet.
func (d *Decoder) decodeGTPv1(idx int, data []byte, depth int) error {
	if depth >= d.opts.MaxTunnelDepth {
		d.out[idx].AnalysisPartial = true
		return errTunnelDepth
	}
	if d.encap.typ == encapGTP { // GTP is never tunnelled in GTP
		return errTunnelViolation
	}
	if len(data) < 8 {
		return errTunnelViolation
	}
	flags, msgType := data[0], data[1]
	hdr := 8
	if flags&0x07 != 0 { // sequence number, N-PDU number and next extension type
		hdr += 4
		if len(data) < hdr {
			return errTunnelViolation
		}
	}
	if flags&0x04 != 0 { // extension headers until one says "no next"
		for {
			if len(data) < hdr+1 {
				return errTunnelViolation
			}
			l := int(data[hdr]) * 4
			if l < 2 || len(data) < hdr+l {
				return errTunnelViolation
			}
			next := data[hdr+l-1]
			hdr += l
			if next == 0 {
				break
			}
		}
	}
	if flags>>5 != 1 {
		return errTunnelViolation
	}
	if flags&0x10 == 0 || msgType != 0xff {
		return nil // GTP' or a control message
	}
	inner := data[hdr:]
	if len(inner) < 20 {
		return errTunnelViolation
	}
	v := inner[0] >> 4
	if v != 4 && v != 6 {
		return errTunnelViolation
	}
	if parseInnerIP(inner, v == 6) != innerOK {
		return errTunnelViolation
	}
	d.out[idx].TunnelService = ServiceGTPv1
	prev := d.enter(encapGTP, nil)
	err := d.decodeIPByVersion(inner, d.innerWire(inner), depth+1)
	d.leave(prev)
	return err
}
