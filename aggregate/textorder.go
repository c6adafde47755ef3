package aggregate

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Unique sets are written sorted by their members' text ("10.0.0.10" <
// "10.0.0.9", "1000/tcp" < "53/udp"), as the expected records are. Sorting
// by formatting and comparing texts costs a formatting per comparison; the
// text order of an IPv4 address or a port key is instead the order of a
// number built from the text ranks of its parts (octets, the port number,
// the transport name), computed once.

// decimalRanks returns the rank of each of 0..n-1 in the text order of
// their decimal forms (a shorter form that is a prefix of a longer one
// sorts first, as the character after it, '.' or '/', sorts before every
// digit).
func decimalRanks(n int) []uint32 {
	nums := make([]int, n)
	texts := make([]string, n)
	for i := range nums {
		nums[i], texts[i] = i, strconv.Itoa(i)
	}
	slices.SortFunc(nums, func(a, b int) int { return strings.Compare(texts[a], texts[b]) })
	ranks := make([]uint32, n)
	for r, v := range nums {
		ranks[v] = uint32(r)
	}
	return ranks
}

// textRanks are the rank tables, built once (immutable afterwards).
var textRanks = sync.OnceValues(func() (octets, ports []uint32) {
	return decimalRanks(256), decimalRanks(1 << 16)
})

// transportRank orders the transport codes by their names: icmp < tcp <
// udp < unknown.
var transportRank = [4]uint32{transportUnknown: 3, transportTCP: 1, transportUDP: 2, transportICMP: 0}

// v4TextKey is a number whose order is the text order of IPv4 addresses.
func v4TextKey(v uint32, octets []uint32) uint32 {
	return octets[v>>24]<<24 | octets[v>>16&0xff]<<16 | octets[v>>8&0xff]<<8 | octets[v&0xff]
}

// portTextKey is a number whose order is the text order of port keys.
func portTextKey(k PortKey, ports []uint32) uint32 {
	return ports[k.Port()]<<2 | transportRank[k.transport()]
}

// sortPortsText sorts port keys by their text.
func sortPortsText(ps []PortKey) {
	if len(ps) < 2 {
		return
	}
	_, ports := textRanks()
	slices.SortFunc(ps, func(a, b PortKey) int { return cmp.Compare(portTextKey(a, ports), portTextKey(b, ports)) })
}

// sortAddrsText sorts addresses by their text: IPv4 by rank keys, IPv6
// (rare) by their formatted text, the two runs merged by text.
func sortAddrsText(as []netip.Addr) {
	if len(as) < 2 {
		return
	}
	octets, _ := textRanks()
	// IPv4 first, then IPv6.
	n4 := 0
	for i, a := range as {
		if a.Is4() {
			as[i], as[n4] = as[n4], as[i]
			n4++
		}
	}
	v4, v6 := as[:n4], as[n4:]
	slices.SortFunc(v4, func(a, b netip.Addr) int {
		return cmp.Compare(v4TextKey(addrU32(a), octets), v4TextKey(addrU32(b), octets))
	})
	if len(v6) == 0 {
		return
	}
	slices.SortFunc(v6, compareAddrText)
	if len(v4) == 0 {
		return
	}
	merged := make([]netip.Addr, 0, len(as))
	i, j := 0, 0
	for i < len(v4) && j < len(v6) {
		if compareAddrText(v4[i], v6[j]) <= 0 {
			merged = append(merged, v4[i])
			i++
		} else {
			merged = append(merged, v6[j])
			j++
		}
	}
	merged = append(merged, v4[i:]...)
	merged = append(merged, v6[j:]...)
	copy(as, merged)
}

// compareAddrText orders addresses as their text ("10.0.0.10" <
// "10.0.0.9", "ff02::1:2" < "ff02::2").
func compareAddrText(a, b netip.Addr) int {
	var ba, bb [64]byte
	return bytes.Compare(a.AppendTo(ba[:0]), b.AppendTo(bb[:0]))
}
