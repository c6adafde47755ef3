package capture

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// ipHeader describes the IP header of the packet being decoded.
type ipHeader struct {
	src, dst netip.Addr
	v6       bool
	ipLen    uint32 // IPv4 total length, IPv6 payload length + 40
}

// v4Mapped is the IPv4-mapped IPv6 prefix ::ffff:0:0/96.
var v4Mapped = [16]byte{10: 0xff, 11: 0xff}

// decodeIPv4 follows Zeek's IPAnalyzer::AnalyzePacket for IPv4. data starts
// at the IP header; wire is the number of bytes from there to the end of the
// frame on the wire.
func (d *Decoder) decodeIPv4(data []byte, wire, depth int) error {
	if len(data) < 20 {
		return errTruncatedIP
	}
	if data[0]>>4 != 4 {
		return errUnknownIPVersion
	}
	if d.probe {
		var transport []byte
		if hl := int(data[0]&0x0f) * 4; hl >= 20 && hl <= len(data) && binary.BigEndian.Uint16(data[6:8])&0x1fff == 0 {
			transport = data[hl:]
		}
		src, dst := v4Mapped, v4Mapped
		copy(src[12:], data[12:16])
		copy(dst[12:], data[16:20])
		d.probeIP(src, dst, data[9], transport, false)
		return errProbeDone
	}
	hl := int(data[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(data[2:4]))
	ipLen := uint32(total)
	if total == 0 {
		// TCP segmentation offload zeroes ip_len; Zeek copes only with -C,
		// using the captured length for parsing while ConnSize still
		// counts the header's 0 (IPLen stays 0).
		if !d.opts.IgnoreChecksums {
			return errIPHdrLenZero
		}
		total = len(data)
	}
	if wire < total {
		return errTruncatedIPLen
	}
	if hl > total {
		return errInvalidIPHdrSize
	}
	if hl > len(data) {
		return errInternallyTrunc
	}
	if hl < 20 {
		return errIPv4MinHdr
	}
	if !d.opts.IgnoreChecksums && ipv4HeaderSum(data[:hl]) != 0xffff {
		d.stats.BadIPChecksum++
		return errBadIPChecksum
	}
	fragField := binary.BigEndian.Uint16(data[6:8])
	if fragField&0x3fff != 0 { // MF set or offset != 0
		d.stats.Fragments++
		fragOff := int(fragField&0x1fff) * 8
		if len(data) < total {
			// Zeek keeps only the first fragment of an incompletely
			// captured datagram and analyses it as it is.
			if fragOff != 0 {
				d.stats.FragmentsDropped++
				return errIncompleteFrag
			}
		} else {
			whole, done, err := d.frag.addIPv4(d.ts, data[:total], hl, fragOff, fragField&0x2000 != 0)
			if ok, err := d.fragmentDone(done, err); !ok {
				return err
			}
			data = whole
			total = len(whole)
			ipLen = uint32(total)
			hl = int(data[0]&0x0f) * 4
		}
	}
	ip := ipHeader{
		src:   netip.AddrFrom4([4]byte(data[12:16])),
		dst:   netip.AddrFrom4([4]byte(data[16:20])),
		ipLen: ipLen,
	}
	proto := data[9]
	if proto == 50 { // ESP: Zeek stops here, no connection
		return nil
	}
	return d.transport(&ip, proto, data[hl:], total-hl, depth)
}

// IPv6 extension header numbers.
const (
	ipv6HopByHop    = 0
	ipv6Routing     = 43
	ipv6Fragment    = 44
	ipv6ESP         = 50
	ipv6AH          = 51
	ipv6NoNext      = 59
	ipv6DstOpts     = 60
	ipv6Mobility    = 135
	protoIPIP       = 4
	protoIPv6       = 41
	protoGRE        = 47
	protoIGMP       = 2
	maxIPv6ExtChain = 32
)

// decodeIPv6 follows Zeek's IPAnalyzer and IPv6_Hdr_Chain for IPv6.
func (d *Decoder) decodeIPv6(data []byte, wire, depth int) error {
	if len(data) < 40 {
		return errTruncatedIP
	}
	if data[0]>>4 != 6 {
		return errUnknownIPVersion
	}
	if d.probe {
		d.probeIP([16]byte(data[8:24]), [16]byte(data[24:40]), data[6], data[40:], true)
		return errProbeDone
	}
	total := int(binary.BigEndian.Uint16(data[4:6])) + 40
	if wire < total {
		return errTruncatedIPLen
	}
	ip := ipHeader{
		src:   netip.AddrFrom16([16]byte(data[8:24])),
		dst:   netip.AddrFrom16([16]byte(data[24:40])),
		v6:    true,
		ipLen: uint32(total),
	}
	next := data[6]
	off := 40
	for i := 0; ; i++ {
		if i > maxIPv6ExtChain {
			return errIPv6ExtTruncated
		}
		switch next {
		case ipv6HopByHop, ipv6DstOpts, ipv6Routing, ipv6AH:
			if off+2 > len(data) || off+2 > total {
				return errIPv6ExtTruncated
			}
			var l int
			if next == ipv6AH {
				l = (int(data[off+1]) + 2) * 4
			} else {
				l = (int(data[off+1]) + 1) * 8
			}
			if off+l > len(data) || off+l > total {
				return errIPv6ExtTruncated
			}
			if next == ipv6Routing {
				// Zeek uses the final destination of a routing header
				// with segments left (type 0 and type 2) as the address.
				rtype, left := data[off+2], data[off+3]
				if left > 0 && (rtype == 0 || rtype == 2) && l >= 24 {
					n := (l - 8) / 16
					a := data[off+8+(n-1)*16 : off+8+n*16]
					ip.dst = netip.AddrFrom16([16]byte(a))
				}
			}
			next = data[off]
			off += l
			continue
		case ipv6Fragment:
			if off+8 > len(data) || off+8 > total {
				return errIPv6ExtTruncated
			}
			field := binary.BigEndian.Uint16(data[off+2 : off+4])
			fragOff := int(field & 0xfff8)
			more := field&1 != 0
			if fragOff == 0 && !more {
				// Atomic fragment: Zeek "reassembles" it at once, which
				// drops the fragment header from the IP length.
				ip.ipLen = uint32(total - 8)
				next = data[off]
				off += 8
				continue
			}
			d.stats.Fragments++
			if len(data) < total {
				if fragOff != 0 {
					d.stats.FragmentsDropped++
					return errIncompleteFrag
				}
				next = data[off]
				off += 8
				continue
			}
			whole, unfrag, fragNext, done, err := d.frag.addIPv6(d.ts, data[:total], off, fragOff, more)
			if ok, err := d.fragmentDone(done, err); !ok {
				return err
			}
			// whole is the unfragmentable part of the first fragment
			// (without the fragment header) followed by the reassembled
			// payload; its payload length field has been fixed up.
			data = whole
			total = len(whole)
			ip.ipLen = uint32(total)
			next = fragNext
			off = unfrag
			continue
		case ipv6ESP, ipv6Mobility:
			return nil
		case ipv6NoNext:
			// A Teredo bubble (or a bare IPv6 header): no connection.
			if d.inTeredo {
				return nil
			}
			return errNoNextHeader
		}
		break
	}
	return d.transport(&ip, next, data[off:], total-off, depth)
}

// transport decodes the transport header and appends the packet. rem is the
// captured data after the IP header (possibly including link padding); plen
// is the IP payload length according to the IP header.
func (d *Decoder) transport(ip *ipHeader, proto uint8, rem []byte, plen, depth int) error {
	if plen < 0 {
		plen = 0
	}
	switch proto {
	case ProtoTCP:
		return d.decodeTCP(ip, rem, plen, depth)
	case ProtoUDP:
		return d.decodeUDP(ip, rem, plen, depth)
	case ProtoICMP, ProtoICMPv6:
		return d.decodeICMP(ip, proto, rem, plen, depth)
	case protoIPIP, protoIPv6:
		return d.decodeIPTunnel(ip, proto, rem, plen, depth)
	case protoGRE:
		return d.decodeGRE(ip, rem, plen, depth)
	case protoIGMP:
		if !d.opts.IGMPAsUnknownTransport {
			return nil
		}
	}
	// Any other protocol: Zeek's unknown_transport connection, ports 0.
	p := d.newPacket(ip, proto, depth)
	p.PayloadLen = plen
	p.Payload = captured(rem, plen)
	p.Truncated = len(rem) < plen
	return nil
}

// captured returns the part of rem that belongs to an IP payload of plen bytes.
func captured(rem []byte, plen int) []byte {
	if len(rem) > plen {
		return rem[:plen]
	}
	return rem
}

func (d *Decoder) newPacket(ip *ipHeader, proto uint8, depth int) *Packet {
	d.out = append(d.out, Packet{})
	p := &d.out[len(d.out)-1]
	p.Timestamp = d.ts
	p.Src, p.Dst = ip.src, ip.dst
	p.Proto = proto
	p.IPLen = ip.ipLen
	p.TunnelDepth = uint8(depth)
	if depth > 0 {
		p.Encap = d.encap.typ.public()
		p.EncapSrc, p.EncapDst = d.encap.src, d.encap.dst
	}
	p.VLAN = d.vlan
	d.emitted++
	d.stats.Packets++
	if depth > 0 {
		d.stats.TunnelPackets++
	}
	return p
}

// checkHeaderTrunc is Zeek's IPBasedAnalyzer::CheckHeaderTrunc.
func checkHeaderTrunc(minLen int, rem []byte, plen int) error {
	if plen != 0 && plen < minLen {
		return errTruncatedHeader
	}
	if len(rem) < minLen {
		return errInternallyTrunc
	}
	return nil
}

func (d *Decoder) decodeTCP(ip *ipHeader, rem []byte, plen, depth int) error {
	if err := checkHeaderTrunc(20, rem, plen); err != nil {
		return err
	}
	hl := int(rem[12]>>4) * 4
	if hl < 20 {
		return errBadTCPHeaderLen
	}
	if hl > plen || hl > len(rem) {
		return errTruncatedHeader
	}
	p := d.newPacket(ip, ProtoTCP, depth)
	p.SrcPort = binary.BigEndian.Uint16(rem[0:2])
	p.DstPort = binary.BigEndian.Uint16(rem[2:4])
	p.Seq = binary.BigEndian.Uint32(rem[4:8])
	p.Ack = binary.BigEndian.Uint32(rem[8:12])
	p.TCPFlags = rem[13]
	p.Window = binary.BigEndian.Uint16(rem[14:16])
	p.PayloadLen = plen - hl
	seg := captured(rem, plen)
	p.Payload = seg[hl:]
	p.Truncated = len(rem) < plen
	if !d.opts.IgnoreChecksums && len(rem) >= plen {
		p.BadChecksum = transportChecksum(ip, ProtoTCP, seg) != 0xffff
	}
	return nil
}

func (d *Decoder) decodeICMP(ip *ipHeader, proto uint8, rem []byte, plen, depth int) error {
	if err := checkHeaderTrunc(8, rem, plen); err != nil {
		return err
	}
	l := plen
	if l == 0 {
		l = len(rem)
	}
	p := d.newPacket(ip, proto, depth)
	p.SrcPort = uint16(rem[0])
	p.DstPort = uint16(rem[1])
	p.PayloadLen = l - 8
	seg := captured(rem, l)
	p.Payload = seg[8:]
	p.Truncated = len(rem) < l
	if !d.opts.IgnoreChecksums && len(rem) >= l {
		var sum uint32
		if proto == ProtoICMPv6 {
			sum = transportChecksum(ip, ProtoICMPv6, seg)
		} else {
			sum = checksumAdd(0, seg)
		}
		p.BadChecksum = sum != 0xffff
	}
	return nil
}

func (d *Decoder) decodeUDP(ip *ipHeader, rem []byte, plen, depth int) error {
	if err := checkHeaderTrunc(8, rem, plen); err != nil {
		return err
	}
	l := plen
	if l == 0 { // segmentation offload
		l = len(rem)
	}
	sport := binary.BigEndian.Uint16(rem[0:2])
	dport := binary.BigEndian.Uint16(rem[2:4])
	ulen := binary.BigEndian.Uint16(rem[4:6])
	csum := binary.BigEndian.Uint16(rem[6:8])
	seg := captured(rem, l)
	validate := !d.opts.IgnoreChecksums && len(rem) >= l && d.full
	// VXLAN on its well-known port may carry a zero checksum even over IPv6.
	if validate && l > 8+8+14 && rem[8]&0x08 != 0 && dport == portVXLAN && csum == 0 {
		validate = false
	}
	bad := false
	if validate && (ip.v6 || csum != 0) {
		bad = transportChecksum(ip, ProtoUDP, seg) != 0xffff
	}
	p := d.newPacket(ip, ProtoUDP, depth)
	p.SrcPort, p.DstPort = sport, dport
	p.UDPLength = ulen
	p.PayloadLen = int(ulen) - 8
	p.Payload = seg[8:]
	p.Truncated = len(rem) < l
	p.BadChecksum = bad
	if bad {
		// Zeek does not forward a bad-checksum datagram to tunnel analyzers.
		return nil
	}
	return d.udpTunnel(len(d.out)-1, ip, seg[8:], depth)
}

// checksumAdd adds b to a ones-complement running sum and returns it
// folded to 16 bits. It sums 64-bit words with end-around carry (RFC 1071
// allows any word size as long as the result is folded) and assumes b
// starts at an even offset of the checksummed data.
func checksumAdd(sum uint32, b []byte) uint32 {
	s := uint64(sum)
	var carry uint64
	for len(b) >= 32 {
		s, carry = bits.Add64(s, binary.BigEndian.Uint64(b), carry)
		s, carry = bits.Add64(s, binary.BigEndian.Uint64(b[8:]), carry)
		s, carry = bits.Add64(s, binary.BigEndian.Uint64(b[16:]), carry)
		s, carry = bits.Add64(s, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		s, carry = bits.Add64(s, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	s, carry = bits.Add64(s, 0, carry)
	s += carry // s wrapped to 0 when carry is 1: no overflow
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	if len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	if len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint32(s)
}

// ipv4HeaderSum is the ones-complement sum of an IPv4 header (a multiple
// of 4 bytes long) folded to 16 bits: 32-bit words, which fold to the same
// sum as 16-bit ones.
func ipv4HeaderSum(h []byte) uint32 {
	var s uint64
	for len(h) >= 4 {
		s += uint64(binary.BigEndian.Uint32(h))
		h = h[4:]
	}
	s = (s >> 32) + (s & 0xffffffff)
	for s > 0xffff {
		s = (s >> 16) + (s & 0xffff)
	}
	return uint32(s)
}

// transportChecksum sums the pseudo-header and the segment. The
// pseudo-header's words are added directly (at most 2^21 for IPv6) and
// folded once with the segment, by checksumAdd (a valid packet gives
// 0xffff).
func transportChecksum(ip *ipHeader, proto uint8, seg []byte) uint32 {
	var sum uint32
	if ip.v6 {
		s, t := ip.src.As16(), ip.dst.As16()
		for i := 0; i < 16; i += 2 {
			sum += uint32(binary.BigEndian.Uint16(s[i:])) + uint32(binary.BigEndian.Uint16(t[i:]))
		}
	} else {
		s, t := ip.src.As4(), ip.dst.As4()
		sum = uint32(binary.BigEndian.Uint16(s[0:])) + uint32(binary.BigEndian.Uint16(s[2:])) +
			uint32(binary.BigEndian.Uint16(t[0:])) + uint32(binary.BigEndian.Uint16(t[2:]))
	}
	sum += uint32(proto)
	sum += uint32(len(seg)) & 0xffff
	sum += uint32(len(seg)) >> 16
	return checksumAdd(sum, seg)
}

// fragmentDone counts what adding a fragment gave: ok is false when the
// fragment was dropped (err) or its datagram is not complete yet. A
// completed datagram is whole and fully captured.
func (d *Decoder) fragmentDone(done bool, err error) (ok bool, _ error) {
	if err != nil {
		d.stats.FragmentsDropped++
		return false, err
	}
	if !done {
		return false, nil
	}
	d.stats.Reassembled++
	d.missing, d.full = 0, true
	return true, nil
}
