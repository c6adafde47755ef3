package site

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPrivateContains(t *testing.T) {
	priv := Private()
	tests := []struct {
		addr string
		want bool
	}{
		{"0.0.0.0", true}, {"10.1.2.3", true}, {"100.64.0.1", true}, {"100.128.0.1", false},
		{"127.0.0.1", true}, {"169.254.9.9", true}, {"172.16.0.1", true}, {"172.31.255.255", true},
		{"172.32.0.0", false}, {"192.0.0.8", true}, {"192.0.2.1", true}, {"192.168.255.1", true},
		{"198.18.0.1", true}, {"198.19.255.255", true}, {"198.20.0.0", false}, {"198.51.100.7", true},
		{"203.0.113.9", true}, {"224.0.0.251", true}, {"224.0.1.1", false}, {"239.255.255.250", true},
		{"240.0.0.1", true}, {"255.255.255.254", true}, {"255.255.255.255", true}, {"8.8.8.8", false},
		{"1.1.1.1", false}, {"223.255.255.255", false},
		{"::", true}, {"::1", true}, {"::2", false}, {"64:ff9b:1::5", true}, {"64:ff9b::1", false},
		{"100::1", true}, {"100:0:0:1::", false}, {"2001::1", true}, {"2001:1ff::1", true}, {"2001:200::1", false},
		{"2001:2::9", true}, {"2001:db8::1", true}, {"fc00::1", true}, {"fdff::1", true}, {"fe80::1", true},
		{"febf::1", true}, {"fec0::1", true}, {"feff::1", true}, {"ff02::1", false}, {"2607:f8b0::1", false},
		{"2002:0a01:0203::1", true}, {"2002:0808:0808::1", false}, {"2002:c0a8:0101::1", true},
		{"2002:ac1f::1", true}, {"2002:ac20::1", false}, {"2002:ffff:ffff::1", true}, {"2002:ffff:fffe::1", true},
		{"2002:efff::1", true}, {"2002:e000:0100::1", false}, {"2002:e000::1", true},
		{"::ffff:10.0.0.1", true}, {"::ffff:8.8.8.8", false}, {"fe80::1%eth0", true},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := priv.Contains(a); got != tt.want {
			t.Errorf("Private().Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if len(PrivatePrefixes()) != len(privateAddressSpace) {
		t.Fatalf("private table has unparsable entries: %d of %d", len(PrivatePrefixes()), len(privateAddressSpace))
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		list    string
		in, out []string
		str     string
		errItem string
	}{
		{list: "", out: []string{"10.0.0.1", "::1"}, str: ""},
		{list: "10.1.0.0/16, 192.0.2.7", in: []string{"10.1.200.3", "192.0.2.7"},
			out: []string{"10.2.0.0", "192.0.2.8"}, str: "10.1.0.0/16,192.0.2.7/32"},
		{list: "private,125.190.109.0/24", in: []string{"125.190.109.77", "10.0.0.1", "fe80::1"},
			out: []string{"125.190.110.1"}, str: "private,125.190.109.0/24"},
		{list: "2001:db8:1::/48,[2002::]/16,fe80::5", in: []string{"2001:db8:1:ffff::1", "2002:1::", "fe80::5"},
			out: []string{"2001:db8:2::1", "fe80::6"}, str: "2001:db8:1::/48,2002::/16,fe80::5/128"},
		{list: "10.1.2.3/8", in: []string{"10.200.0.0"}, str: "10.0.0.0/8"},
		{list: "0.0.0.0/0", in: []string{"1.2.3.4", "255.255.255.255", "::ffff:1.2.3.4"}, out: []string{"::1"}},
		{list: "::/0", in: []string{"::1", "ffff::"}, out: []string{"1.2.3.4"}},
		{list: "::ffff:10.0.0.0/104", in: []string{"10.9.9.9", "::ffff:10.1.1.1"}, out: []string{"11.0.0.0"}},
		{list: "10.0.0.0/24,10.0.1.0/24,10.0.0.128/25", in: []string{"10.0.1.255"}, out: []string{"10.0.2.0"}},
		{list: "10.0.0.0/8,bogus", errItem: "bogus"},
		{list: "10.0.0.0/33", errItem: "10.0.0.0/33"},
		{list: "1.2.3.4.5", errItem: "1.2.3.4.5"},
	}
	for _, tt := range tests {
		n, err := Parse(tt.list)
		if tt.errItem != "" {
			if err == nil || !strings.Contains(err.Error(), `"`+tt.errItem+`"`) {
				t.Errorf("Parse(%q) error = %v, want one naming %q", tt.list, err, tt.errItem)
			}
			continue
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.list, err)
		}
		for _, s := range tt.in {
			if !n.Contains(netip.MustParseAddr(s)) {
				t.Errorf("Parse(%q).Contains(%s) = false", tt.list, s)
			}
		}
		for _, s := range tt.out {
			if n.Contains(netip.MustParseAddr(s)) {
				t.Errorf("Parse(%q).Contains(%s) = true", tt.list, s)
			}
		}
		if tt.str != "" && n.String() != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.list, n.String(), tt.str)
		}
	}
}

func TestNilAndUnion(t *testing.T) {
	var n *Nets
	if n.Contains(netip.MustParseAddr("10.0.0.1")) || !n.Empty() || n.String() != "" {
		t.Fatal("nil Nets must be empty")
	}
	a, _ := Parse("10.0.0.0/8")
	b, _ := Parse("fd00::/8")
	u := a.Union(b, nil)
	if !u.Contains(netip.MustParseAddr("10.3.3.3")) || !u.Contains(netip.MustParseAddr("fd00::3")) || u.Empty() {
		t.Fatal("union lost members")
	}
	if u.Contains(netip.Addr{}) {
		t.Fatal("invalid address must not be contained")
	}
}

func TestContainsDoesNotAllocate(t *testing.T) {
	priv := Private()
	a4 := netip.MustParseAddr("192.168.1.1")
	a6 := netip.MustParseAddr("2002:c0a8::1")
	allocs := testing.AllocsPerRun(100, func() {
		priv.Contains(a4)
		priv.Contains(a6)
	})
	if allocs != 0 {
		t.Fatalf("Contains allocates %.1f times per call", allocs)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"private", "10.0.0.0/8,::1", "[2002::]/24", "a,b", "1.2.3.4/99", ",,"} {
		f.Add(s, "10.1.2.3")
	}
	f.Fuzz(func(t *testing.T, list, addr string) {
		n, err := Parse(list)
		if err != nil {
			return
		}
		if a, err := netip.ParseAddr(addr); err == nil {
			got := n.Contains(a)
			// Cross-check against a linear scan of the parsed prefixes.
			want := false
			for _, item := range strings.Split(n.String(), ",") {
				if item == "" {
					continue
				}
				var ps []netip.Prefix
				if item == PrivateWord {
					ps = PrivatePrefixes()
				} else if p, err := netip.ParsePrefix(item); err == nil {
					ps = []netip.Prefix{p}
				}
				for _, p := range ps {
					pa, pb := p.Addr(), p.Bits()
					if pa.Is4In6() && pb >= 96 {
						pa, pb = pa.Unmap(), pb-96
					}
					q := a.WithZone("")
					if q.Is4In6() {
						q = q.Unmap()
					}
					if netip.PrefixFrom(pa, pb).Contains(q) {
						want = true
					}
				}
			}
			if got != want {
				t.Fatalf("Parse(%q).Contains(%s) = %v, linear scan says %v", list, addr, got, want)
			}
		}
	})
}

func BenchmarkContains(b *testing.B) {
	priv, _ := Parse("private,125.190.109.0/24,2001:db8:77::/48")
	addrs := []netip.Addr{
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("8.8.8.8"),
		netip.MustParseAddr("2607:f8b0::1"), netip.MustParseAddr("fe80::1"),
	}
	b.ReportAllocs()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if priv.Contains(addrs[i&3]) {
			hits++
		}
	}
	if hits == 0 {
		b.Fatal("no hits")
	}
}
