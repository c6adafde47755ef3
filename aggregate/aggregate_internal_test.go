package aggregate

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

// TestTextOrderKeys: sorting by rank keys gives the text order the
// records are written in, for ports and addresses (IPv4, IPv6, mixed).
func TestTextOrderKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 50 {
		var ports []PortKey
		for range 300 {
			ports = append(ports, MakePortKey([]uint8{6, 17, 1, 47}[rng.IntN(4)], uint16(rng.IntN(1<<16>>uint(rng.IntN(16))))))
		}
		got := slices.Clone(ports)
		sortPortsText(got)
		want := slices.Clone(ports)
		slices.SortFunc(want, comparePortText)
		for i := range got {
			if comparePortText(got[i], want[i]) != 0 {
				t.Fatalf("trial %d: ports %v, want %v", trial, got, want)
			}
		}
		var addrs []netip.Addr
		for range 300 {
			if trial%3 != 0 && rng.IntN(5) == 0 {
				var b [16]byte
				b[0], b[1], b[15] = 0x20, 0x01, byte(rng.IntN(256))
				addrs = append(addrs, netip.AddrFrom16(b))
				continue
			}
			v := rng.Uint32() >> uint(rng.IntN(24))
			addrs = append(addrs, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		}
		gotA := slices.Clone(addrs)
		sortAddrsText(gotA)
		wantA := slices.Clone(addrs)
		slices.SortFunc(wantA, compareAddrText)
		if !slices.Equal(gotA, wantA) {
			t.Fatalf("trial %d: addresses\n got %v\nwant %v", trial, gotA, wantA)
		}
	}
}

// TestU32Index checks the IPv4 index against a Go map over growth and
// reset.
func TestU32Index(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var x u32index
	for round := range 3 {
		want := map[uint32]int32{}
		for i := range 5000 {
			k := rng.Uint32() >> uint(rng.IntN(20))
			if _, ok := want[k]; ok {
				continue
			}
			want[k] = int32(i)
			x.put(k, int32(i))
		}
		for k, v := range want {
			if got, ok := x.get(k); !ok || got != v {
				t.Fatalf("round %d: get(%d) = %d, %v; want %d", round, k, got, ok, v)
			}
		}
		for range 1000 {
			k := rng.Uint32()
			_, inWant := want[k]
			if _, ok := x.get(k); ok != inWant {
				t.Fatalf("round %d: get(%d) found %v, want %v", round, k, ok, inWant)
			}
		}
		x.reset()
		if _, ok := x.get(0); ok {
			t.Fatal("found a key after reset")
		}
	}
}

// comparePortText orders port keys as their text ("1000/tcp" < "53/udp"),
// the order sortPortsText must give.
func comparePortText(a, b PortKey) int {
	var ba, bb [24]byte
	return bytes.Compare(a.AppendText(ba[:0]), b.AppendText(bb[:0]))
}

// TestU32SetTiers: a set holds the same members as a map whatever tier
// (inline, midSet, bitmap) it and a set merged into it are in, with
// repeats and members spread over the space or packed.
func TestU32SetTiers(t *testing.T) {
	sizes := []int{0, 1, smallSetSize, smallSetSize + 1, midSetSize, midSetSize + 1, 200}
	rng := rand.New(rand.NewPCG(3, 4))
	members := func(n int, spread bool) []uint32 {
		var xs []uint32
		for i := 0; i < n; i++ {
			x := uint32(rng.IntN(3 * n))
			if spread {
				x = rng.Uint32()
			}
			xs = append(xs, x, x) // every member twice
		}
		return xs
	}
	check := func(name string, s *u32set, want map[uint32]bool) {
		t.Helper()
		got := map[uint32]bool{}
		s.iterate(func(x uint32) bool {
			if got[x] {
				t.Fatalf("%s: %d twice", name, x)
			}
			got[x] = true
			return true
		})
		if !maps.Equal(got, want) {
			t.Fatalf("%s: %d members, want %d", name, len(got), len(want))
		}
	}
	for _, spread := range []bool{false, true} {
		for _, a := range sizes {
			for _, b := range sizes {
				name := fmt.Sprintf("spread=%v %d+%d", spread, a, b)
				var s, o u32set
				want := map[uint32]bool{}
				for _, x := range members(a, spread) {
					s.add(x)
					want[x] = true
				}
				check(name+" before merge", &s, want)
				ob := map[uint32]bool{}
				for _, x := range members(b, spread) {
					o.add(x)
					ob[x] = true
				}
				s.merge(&o)
				maps.Copy(want, ob)
				check(name, &s, want)
				check(name+" merged set", &o, ob)
			}
		}
	}
	var s u32set
	n := 0
	for x := uint32(0); x < 40; x++ {
		s.add(x)
	}
	s.iterate(func(uint32) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("iterate went on after false: %d calls", n)
	}
}
