package capture

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// checksumAddRef is RFC 1071's definition: 16-bit big-endian words (a
// trailing byte padded with zero) added with end-around carry to sum.
func checksumAddRef(sum uint32, b []byte) uint32 {
	s := uint64(sum)
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s > 0xffff {
		s = (s >> 16) + (s & 0xffff)
	}
	return uint32(s)
}

// TestChecksumAddMatchesRFC1071 compares the word-parallel sum with the
// definition on random data of every length up to 300 bytes and a few
// large ones, with running sums from 0 to past 16 bits, and on the edge
// cases of ones-complement zero (all-zero and all-ones data).
func TestChecksumAddMatchesRFC1071(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 70000)
	for i := range buf {
		buf[i] = byte(rng.Uint32())
	}
	lengths := []int{1000, 1500, 9000, 65535, 70000}
	for n := 0; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	sums := []uint32{0, 1, 0xfffe, 0xffff, 0x10000, 0x2fffd}
	for _, n := range lengths {
		for _, sum := range sums {
			off := 2 * rng.IntN(8)
			b := buf[off : off+min(n, len(buf)-off)]
			if got, want := checksumAdd(sum, b), checksumAddRef(sum, b); got != want {
				t.Fatalf("len %d sum %#x: got %#x, want %#x", len(b), sum, got, want)
			}
		}
	}
	for _, fill := range []byte{0, 0xff} {
		for n := 0; n < 80; n++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = fill
			}
			for _, sum := range sums {
				if got, want := checksumAdd(sum, b), checksumAddRef(sum, b); got != want {
					t.Fatalf("fill %#x len %d sum %#x: got %#x, want %#x", fill, n, sum, got, want)
				}
			}
		}
	}
}

// BenchmarkChecksum is the transport checksum of a typical segment.
func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 1500)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for _, n := range []int{40, 300, 1460} {
		b.Run(string(rune('0'+n/1000))+"k"+string(rune('0'+n/100%10)), func(b *testing.B) {
			b.SetBytes(int64(n))
			var s uint32
			for b.Loop() {
				s += checksumAdd(0, buf[:n])
			}
			_ = s
		})
	}
}

// TestChecksumShortcutsMatchRFC1071 checks the IPv4 header sum and the
// transport checksum's pseudo-header arithmetic against sums of the bytes
// as RFC 768/793/8200 lay them out.
func TestChecksumShortcutsMatchRFC1071(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			if rng.IntN(4) > 0 {
				b[i] = byte(rng.Uint32())
			} // else 0: all-zero stretches
		}
		return b
	}
	for range 20000 {
		hl := 4 * (5 + rng.IntN(11))
		h := randBytes(hl)
		if got, want := ipv4HeaderSum(h), checksumAddRef(0, h); got != want {
			t.Fatalf("ipv4HeaderSum(%x) = %#x, want %#x", h, got, want)
		}
		v6 := rng.IntN(2) == 0
		var ip ipHeader
		var pseudo []byte
		seg := randBytes(rng.IntN(1600))
		proto := uint8(rng.IntN(256))
		if v6 {
			a, b := [16]byte(randBytes(16)), [16]byte(randBytes(16))
			ip = ipHeader{src: netip.AddrFrom16(a), dst: netip.AddrFrom16(b), v6: true}
			pseudo = append(append(append(pseudo, a[:]...), b[:]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, proto)
		} else {
			a, b := [4]byte(randBytes(4)), [4]byte(randBytes(4))
			ip = ipHeader{src: netip.AddrFrom4(a), dst: netip.AddrFrom4(b)}
			pseudo = append(append(append(pseudo, a[:]...), b[:]...), 0, proto, byte(len(seg)>>8), byte(len(seg)))
		}
		want := checksumAddRef(0, append(pseudo, seg...))
		if got := transportChecksum(&ip, proto, seg); got != want {
			t.Fatalf("transportChecksum(v6 %v, proto %d, %d bytes) = %#x, want %#x", v6, proto, len(seg), got, want)
		}
	}
}
