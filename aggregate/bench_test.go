package aggregate

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/netbased/netbased/flow"
)

// discard is an Output that drops the records.
type discard struct{ n int }

func (d *discard) WriteInterval(*Interval) error  { d.n++; return nil }
func (d *discard) EndWindow(_, _ time.Time) error { return nil }

var benchT0 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// benchConns is a traffic mix: 10,000 local IPv4 hosts, 1,000 local IPv6
// hosts, 50,000 external peers (a fifth IPv6), services on a third of the
// connections, all ending in one window.
func benchConns(n int) []*flow.Conn {
	rng := rand.New(rand.NewPCG(42, 1))
	local := func() netip.Addr {
		if rng.IntN(10) == 0 {
			b := netip.MustParseAddr("fd00::").As16()
			v := rng.IntN(1000)
			b[14], b[15] = byte(v>>8), byte(v)
			return netip.AddrFrom16(b)
		}
		v := rng.IntN(10000)
		return netip.AddrFrom4([4]byte{10, 1, byte(v >> 8), byte(v)})
	}
	external := func() netip.Addr {
		v := rng.IntN(50000)
		if v%5 == 0 {
			b := netip.MustParseAddr("2001:4860::").As16()
			b[13], b[14], b[15] = byte(v>>16), byte(v>>8), byte(v)
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{93, byte(v >> 16), byte(v >> 8), byte(v)})
	}
	svcs := [][]string{nil, nil, {"dns"}, nil, {"ssl"}, {"http"}}
	out := make([]*flow.Conn, n)
	for i := range out {
		c := &flow.Conn{OrigPort: 40000, RespPort: uint16(rng.IntN(2000)), IPProto: 6, ConnState: "SF",
			OrigBytes: uint64(rng.IntN(4000)), RespBytes: uint64(rng.IntN(40000)), OrigPkts: 5, RespPkts: 7,
			Start: benchT0, End: benchT0.Add(time.Minute), LastTime: benchT0.Add(time.Minute), Services: svcs[rng.IntN(len(svcs))]}
		switch rng.IntN(4) {
		case 0, 1: // outbound
			c.Orig, c.Resp = local(), external()
		case 2: // internal
			c.Orig, c.Resp = local(), local()
		default: // inbound
			c.Orig, c.Resp = external(), local()
		}
		if c.Orig.Is6() && c.Resp.Is4() || c.Orig.Is4() && c.Resp.Is6() {
			c.Resp = c.Orig.Next() // keep the families consistent
		}
		out[i] = c
	}
	return out
}

// BenchmarkAdd measures ended connections per second into an accumulator
// whose windows have 1, 2 and 4 shard tables (the per-connection path:
// classification and the update rules).
func BenchmarkAdd(b *testing.B) {
	conns := benchConns(1 << 16)
	for _, shards := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			w, err := NewWindows(Config{Shards: shards}, &discard{})
			if err != nil {
				b.Fatal(err)
			}
			acc := w.NewAccumulator()
			for _, c := range conns[:4096] { // warm the state
				acc.Add(c)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := acc.Add(conns[i&(len(conns)-1)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
			acc.Close()
			w.Close()
		})
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkMemoryPerIP reports the heap bytes per monitored address with
// one outbound connection each (one member in ext_ports and ext_hosts).
func BenchmarkMemoryPerIP(b *testing.B) {
	const n = 100_000
	for _, v6 := range []bool{false, true} {
		b.Run(fmt.Sprintf("v6=%v", v6), func(b *testing.B) {
			conns := make([]flow.Conn, n)
			for i := range conns {
				o := netip.AddrFrom4([4]byte{10, byte(i / 250 >> 8), byte(i / 250), byte(i%250 + 1)})
				if v6 {
					bb := netip.MustParseAddr("fd00::").As16()
					bb[13], bb[14], bb[15] = byte(i>>16), byte(i>>8), byte(i)
					o = netip.AddrFrom16(bb)
				}
				conns[i] = flow.Conn{Orig: o, Resp: netip.AddrFrom4([4]byte{93, 1, 2, 3}), RespPort: 443, IPProto: 6,
					ConnState: "SF", OrigBytes: 10, RespBytes: 20, End: benchT0}
				if v6 {
					conns[i].Resp = netip.MustParseAddr("2001:4860::1")
				}
			}
			var perIP float64
			for i := 0; i < b.N; i++ {
				a, _ := New(Config{}, &discard{})
				before := heapInUse()
				for j := range conns {
					a.Add(&conns[j])
				}
				after := heapInUse()
				perIP = float64(after-before) / n
				runtime.KeepAlive(a)
			}
			b.ReportMetric(perIP, "bytes/IP")
		})
	}
}

// BenchmarkMemoryPerMember reports the heap bytes per unique-set member:
// one address contacting 1,000,000 distinct external hosts (IPv4: bitmap
// only; IPv6: bitmap plus the interning table).
func BenchmarkMemoryPerMember(b *testing.B) {
	const n = 1_000_000
	for _, v6 := range []bool{false, true} {
		b.Run(fmt.Sprintf("v6=%v", v6), func(b *testing.B) {
			var perMember float64
			for i := 0; i < b.N; i++ {
				a, _ := New(Config{}, &discard{})
				c := flow.Conn{Orig: netip.MustParseAddr("10.0.0.1"), RespPort: 443, IPProto: 6, End: benchT0}
				if v6 {
					c.Orig = netip.MustParseAddr("fd00::1")
				}
				a.Add(&c) // the address's own state first
				before := heapInUse()
				rng := rand.New(rand.NewPCG(1, 2))
				for j := 0; j < n; j++ {
					if v6 {
						bb := netip.MustParseAddr("2001:4860::").As16()
						v := rng.Uint64()
						for k := 0; k < 8; k++ {
							bb[8+k] = byte(v >> (8 * k))
						}
						c.Resp = netip.AddrFrom16(bb)
					} else {
						v := rng.Uint32()
						c.Resp = netip.AddrFrom4([4]byte{byte(v>>24) | 1, byte(v >> 16), byte(v >> 8), byte(v)})
					}
					a.Add(&c)
				}
				after := heapInUse()
				perMember = float64(after-before) / n
				runtime.KeepAlive(a)
			}
			b.ReportMetric(perMember, "bytes/member")
		})
	}
}

// BenchmarkWriteWindow100k measures the writing of a window holding 100,000
// monitored addresses (states merged, sorted, records built and handed to
// the output) as 1 or 2 accumulators saw them, in 1 or 2 shards.
func BenchmarkWriteWindow100k(b *testing.B) {
	const n = 100_000
	conns := make([]flow.Conn, 0, 3*n)
	for i := 0; i < n; i++ {
		// 250 hosts per /24: no broadcast-looking x.x.x.255 addresses.
		o := netip.AddrFrom4([4]byte{10, byte(i / 250 >> 8), byte(i / 250), byte(i%250 + 1)})
		for k := 0; k < 3; k++ {
			conns = append(conns, flow.Conn{Orig: o, Resp: netip.AddrFrom4([4]byte{93, 1, byte(k), byte(i)}),
				RespPort: uint16(80 + k), IPProto: 6, ConnState: "SF", OrigBytes: 10, RespBytes: 20,
				Services: []string{"http"}, End: benchT0})
		}
	}
	for _, accs := range []int{1, 2} {
		for _, shards := range []int{1, 2} {
			b.Run(fmt.Sprintf("accumulators=%d/shards=%d", accs, shards), func(b *testing.B) {
				b.ReportAllocs()
				out := &discard{}
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					w, _ := NewWindows(Config{Shards: shards}, out)
					as := make([]*Accumulator, accs)
					for k := range as {
						as[k] = w.NewAccumulator()
					}
					for j := range conns {
						as[j%accs].Add(&conns[j])
					}
					b.StartTimer()
					for _, a := range as {
						a.Close()
					}
					if err := w.Close(); err != nil {
						b.Fatal(err)
					}
				}
				if out.n != n*b.N {
					b.Fatalf("%d records, want %d", out.n, n*b.N)
				}
			})
		}
	}
}
