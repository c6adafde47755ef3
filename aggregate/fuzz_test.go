package aggregate_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
)

// FuzzAdd feeds arbitrary connections (any addresses, including invalid
// and IPv4-mapped ones, any protocol, state, services, sizes and times):
// nothing may panic, and 1 and 3 shards must agree.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{10, 0, 0, 1, 8, 8, 8, 8, 6, 1, 187, 0, 100, 0, 200}, "SF", "ssl,HTTP", int64(0))
	f.Add([]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xfd}, "REJ", "", int64(-5e9))
	f.Add([]byte{}, "", "dns", int64(1<<62))
	f.Fuzz(func(t *testing.T, data []byte, state, services string, endNs int64) {
		var conns []*flow.Conn
		for len(data) > 0 && len(conns) < 32 {
			take := func(n int) []byte {
				if n > len(data) {
					n = len(data)
				}
				b := data[:n]
				data = data[n:]
				return b
			}
			addr := func() netip.Addr {
				hdr := take(1)
				if len(hdr) == 0 {
					return netip.Addr{}
				}
				switch hdr[0] % 4 {
				case 0:
					var b [4]byte
					copy(b[:], take(4))
					return netip.AddrFrom4(b)
				case 1:
					var b [16]byte
					copy(b[:], take(16))
					return netip.AddrFrom16(b)
				case 2:
					var b [4]byte
					copy(b[:], take(4))
					return netip.AddrFrom16(netip.AddrFrom4(b).As16()) // IPv4-mapped
				}
				return netip.Addr{}
			}
			c := &flow.Conn{Orig: addr(), Resp: addr(), ConnState: state, End: time.Unix(0, endNs)}
			if b := take(5); len(b) == 5 {
				c.IPProto, c.RespPort = b[0], uint16(b[1])<<8|uint16(b[2])
				c.OrigBytes, c.RespBytes = uint64(b[3])<<56, uint64(b[4])
				c.OrigPkts = uint64(b[3])
			}
			if services != "" {
				c.Services = []string{services, "ssl"}
			}
			endNs += int64(len(conns)) * 7e9
			conns = append(conns, c)
		}
		var outs [2][]string
		for k, shards := range []int{1, 3} {
			col := &jsonCollector{enc: emit.NewEncoder(emit.FormatZeek, emit.EncoderOptions{MaxSetSize: 3})}
			a, err := aggregate.New(aggregate.Config{Interval: 10 * time.Second, Shards: shards}, col)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range conns {
				if err := a.Add(c); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			for _, l := range col.lines {
				outs[k] = append(outs[k], string(l))
			}
		}
		if !slices.Equal(outs[0], outs[1]) {
			t.Fatalf("shards disagree:\n%q\n%q", outs[0], outs[1])
		}
	})
}
