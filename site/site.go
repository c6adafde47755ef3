// Package site holds sets of IP networks: the local networks, neighbor
// networks, critical assets and Zeek's private address space that decide
// which addresses netbased monitors and which way a connection goes.
//
// A Nets is immutable once built. Membership tests are allocation-free
// binary searches over sorted, merged address ranges (one list per family).
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are treated as the IPv4
// address they carry, as Zeek does (it stores IPv4 in that form).
package site

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// PrivateWord is the list item that stands for Zeek's private address space.
const PrivateWord = "private"

// privateAddressSpace is Zeek's Site::private_address_space (HEAD, the
// same since v8.0): IPv4 blocks, their 6to4 forms in the same order, IPv6.
var privateAddressSpace = [...]string{
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
	"192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
	"224.0.0.0/24", "239.0.0.0/8", "240.0.0.0/4", "255.255.255.255/32",

	"2002::/24", "2002:a00::/24", "2002:6440::/26", "2002:7f00::/24", "2002:a9fe::/32", "2002:ac10::/28",
	"2002:c000::/40", "2002:c000:200::/40", "2002:c0a8::/32", "2002:c612::/31", "2002:c633:6400::/40",
	"2002:cb00:7100::/40", "2002:e000::/40", "2002:ef00::/24", "2002:f000::/20", "2002:ffff:ffff::/48",

	"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:2::/48", "2001:db8::/32",
	"fc00::/7", "fe80::/10", "fec0::/10",
}

// PrivatePrefixes returns Zeek's Site::private_address_space as prefixes.
func PrivatePrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(privateAddressSpace))
	for _, s := range privateAddressSpace {
		// The table is a constant of this package; a parse error is a
		// programming error caught by the tests, so it is skipped here.
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

type range4 struct{ lo, hi uint32 }

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

type range6 struct{ lo, hi u128 }

// Nets is an immutable set of IP networks. The zero value and a nil *Nets
// are empty sets.
type Nets struct {
	v4    []range4
	v6    []range6
	items []string // the list as given (normalized), for String
}

// Parse reads a comma-separated list of CIDR prefixes or bare addresses;
// the word "private" stands for Zeek's private address space. Blank items
// are ignored, so "" is the empty set. An error names the bad item.
func Parse(list string) (*Nets, error) {
	var prefixes []netip.Prefix
	var items []string
	for _, raw := range strings.Split(list, ",") {
		item := strings.TrimSpace(raw)
		if item == "" {
			continue
		}
		if strings.EqualFold(item, PrivateWord) {
			prefixes = append(prefixes, PrivatePrefixes()...)
			items = append(items, PrivateWord)
			continue
		}
		p, err := parseItem(item)
		if err != nil {
			return nil, fmt.Errorf("network list item %q: %w", item, err)
		}
		prefixes = append(prefixes, p)
		items = append(items, p.String())
	}
	n := FromPrefixes(prefixes...)
	n.items = items
	return n, nil
}

func parseItem(item string) (netip.Prefix, error) {
	if strings.Contains(item, "/") {
		// Accept Zeek's bracketed IPv6 spelling, e.g. [2002::]/24.
		item = strings.Replace(strings.Replace(item, "[", "", 1), "]", "", 1)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR prefix: %w", err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(strings.Trim(item, "[]"))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an address or CIDR prefix: %w", err)
	}
	a = a.WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Private returns Zeek's Site::private_address_space.
func Private() *Nets {
	n := FromPrefixes(PrivatePrefixes()...)
	n.items = []string{PrivateWord}
	return n
}

// FromPrefixes builds a set from prefixes. IPv4-mapped IPv6 prefixes of at
// least 96 bits become the IPv4 prefix they cover; invalid prefixes are
// ignored.
func FromPrefixes(prefixes ...netip.Prefix) *Nets {
	n := &Nets{}
	for _, p := range prefixes {
		if !p.IsValid() {
			continue
		}
		p = p.Masked()
		a := p.Addr().WithZone("")
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				n.v6 = append(n.v6, range6FromPrefix(a, bits))
				n.items = append(n.items, p.String())
				continue
			}
			a, bits = a.Unmap(), bits-96
		}
		if a.Is4() {
			b := a.As4()
			lo := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
			var host uint32
			if bits < 32 {
				host = ^uint32(0) >> uint(bits)
			}
			n.v4 = append(n.v4, range4{lo, lo | host})
		} else {
			n.v6 = append(n.v6, range6FromPrefix(a, bits))
		}
		n.items = append(n.items, netip.PrefixFrom(a, bits).String())
	}
	n.v4 = merge4(n.v4)
	n.v6 = merge6(n.v6)
	return n
}

func range6FromPrefix(a netip.Addr, bits int) range6 {
	lo := addr128(a)
	var mhi, mlo uint64
	switch {
	case bits == 0:
		mhi, mlo = ^uint64(0), ^uint64(0)
	case bits < 64:
		mhi, mlo = ^uint64(0)>>uint(bits), ^uint64(0)
	case bits < 128:
		mlo = ^uint64(0) >> uint(bits-64)
	}
	return range6{lo, u128{lo.hi | mhi, lo.lo | mlo}}
}

func addr128(a netip.Addr) u128 {
	b := a.As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	return u128{hi, lo}
}

func merge4(rs []range4) []range4 {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b range4) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi || (last.hi != ^uint32(0) && r.lo == last.hi+1) {
			if r.hi > last.hi {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	if len(rs) == 0 {
		return nil
	}
	slices.SortFunc(rs, func(a, b range6) int {
		switch {
		case a.lo.less(b.lo):
			return -1
		case b.lo.less(a.lo):
			return 1
		}
		return 0
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if !last.hi.less(r.lo) { // overlap
			if last.hi.less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// Contains reports whether a is inside one of the networks. It does not
// allocate. An IPv4-mapped IPv6 address is looked up as IPv4.
func (n *Nets) Contains(a netip.Addr) bool {
	if n == nil || !a.IsValid() {
		return false
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		b := a.As4()
		return n.Contains4(uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]))
	}
	v := addr128(a)
	rs := n.v6
	lo, hi := 0, len(rs)
	for lo < hi { // first range with lo > v
		m := int(uint(lo+hi) >> 1)
		if v.less(rs[m].lo) {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && !rs[lo-1].hi.less(v)
}

// Contains4 reports whether the IPv4 address v (big-endian as a number) is
// inside one of the networks.
func (n *Nets) Contains4(v uint32) bool {
	if n == nil {
		return false
	}
	rs := n.v4
	lo, hi := 0, len(rs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if v < rs[m].lo {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo > 0 && v <= rs[lo-1].hi
}

// Empty reports whether the set holds no address.
func (n *Nets) Empty() bool { return n == nil || (len(n.v4) == 0 && len(n.v6) == 0) }

// Union returns a new set holding the networks of n and others.
func (n *Nets) Union(others ...*Nets) *Nets {
	out := &Nets{}
	for _, s := range append([]*Nets{n}, others...) {
		if s == nil {
			continue
		}
		out.v4 = append(out.v4, s.v4...)
		out.v6 = append(out.v6, s.v6...)
		out.items = append(out.items, s.items...)
	}
	out.v4 = merge4(out.v4)
	out.v6 = merge6(out.v6)
	return out
}

// String returns the list the set was built from, comma-separated, with
// prefixes in canonical form ("private" stays a word).
func (n *Nets) String() string {
	if n == nil {
		return ""
	}
	return strings.Join(n.items, ",")
}
