package traffic

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// DNS record types and response codes used by the generator.
const (
	dnsTypeA     = 1
	dnsTypeCNAME = 5
	dnsTypeTXT   = 16
	dnsTypeAAAA  = 28
	dnsTypeOPT   = 41

	dnsRcodeNXDomain = 3
)

// dnsAnswer is one resource record of a response. Owner "" means the
// question's name (encoded as a compression pointer).
type dnsAnswer struct {
	owner string
	typ   uint16
	ttl   uint32
	addr  netip.Addr // A / AAAA
	name  string     // CNAME target
	txt   []string   // TXT strings
}

func appendName(b []byte, name string) []byte {
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		if label == "" {
			continue
		}
		b = append(b, byte(len(label)))
		b = append(b, label...)
	}
	return append(b, 0)
}

// dnsMessage encodes a DNS message with one question, the given answers and
// an EDNS0 OPT record (advertising a 1232-byte UDP payload).
func dnsMessage(id uint16, response bool, rcode uint8, qname string, qtype uint16, answers []dnsAnswer) []byte {
	b := make([]byte, 12, 64+len(qname)+len(answers)*32)
	binary.BigEndian.PutUint16(b[0:], id)
	var flags uint16 = 0x0100 // RD
	if response {
		flags |= 0x8000 | 0x0080 | uint16(rcode&0x0f) // QR, RA
	}
	binary.BigEndian.PutUint16(b[2:], flags)
	binary.BigEndian.PutUint16(b[4:], 1)
	binary.BigEndian.PutUint16(b[6:], uint16(len(answers)))
	binary.BigEndian.PutUint16(b[8:], 0)
	binary.BigEndian.PutUint16(b[10:], 1) // OPT
	b = appendName(b, qname)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1) // IN
	for _, a := range answers {
		if a.owner == "" {
			b = append(b, 0xc0, 0x0c) // pointer to the question name
		} else {
			b = appendName(b, a.owner)
		}
		b = binary.BigEndian.AppendUint16(b, a.typ)
		b = binary.BigEndian.AppendUint16(b, 1)
		b = binary.BigEndian.AppendUint32(b, a.ttl)
		var rdata []byte
		switch a.typ {
		case dnsTypeA, dnsTypeAAAA:
			rdata = a.addr.AsSlice()
		case dnsTypeCNAME:
			rdata = appendName(nil, a.name)
		case dnsTypeTXT:
			for _, s := range a.txt {
				for len(s) > 255 {
					rdata = append(rdata, 255)
					rdata = append(rdata, s[:255]...)
					s = s[255:]
				}
				rdata = append(rdata, byte(len(s)))
				rdata = append(rdata, s...)
			}
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(rdata)))
		b = append(b, rdata...)
	}
	// OPT pseudo-record: root owner, type 41, class = UDP payload size.
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, dnsTypeOPT)
	b = binary.BigEndian.AppendUint16(b, 1232)
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint16(b, 0)
	return b
}

// dnsOverTCP prefixes a message with its two-byte length (RFC 1035 4.2.2).
func dnsOverTCP(msg []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)
}
