package capture

import (
	"encoding/binary"
	"io"
	"os"
	"testing"
)

// benchFrames are the frames of BenchmarkDecode and TestDecodeZeroAllocs.
func benchFrames(tb testing.TB) map[string]Frame {
	payload := make([]byte, 512)
	inner := tcp4(tb, "192.168.1.1", "192.168.1.2", 4444, 443, "PA", payload)
	return map[string]Frame{
		"eth-ipv4-tcp": ethFrame(eth(0x0800, inner)),
		"vlan":         ethFrame(eth(0x8100, cat(tag(100, 0x0800), inner))),
		"eth-ipv6-udp": ethFrame(eth(0x86dd, udp6(tb, "2001:db8::1", "2001:db8::2", 5353, 53, payload))),
		"vxlan":        ethFrame(eth(0x0800, udp4(tb, "172.16.0.1", "172.16.0.2", 40000, 4789, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, eth(0x0800, inner))))),
		"gre":          ethFrame(eth(0x0800, rawIP4(tb, "172.16.0.1", "172.16.0.2", 47, cat(be16(0), be16(0x0800), inner)))),
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"eth-ipv4-tcp", "vlan", "eth-ipv6-udp", "vxlan", "gre"} {
		frame := benchFrames(b)[name]
		b.Run(name, func(b *testing.B) {
			d := NewDecoder(DecoderOptions{})
			out := make([]Packet, 0, 8)
			b.ReportAllocs()
			b.SetBytes(int64(len(frame.Data)))
			for b.Loop() {
				var err error
				out, err = d.Decode(frame, out[:0])
				if err != nil || len(out) == 0 {
					b.Fatalf("decode: %v", err)
				}
			}
		})
	}
}

// TestDecodeZeroAllocs checks the steady-state promise: decoding reuses the
// output slice and allocates nothing.
func TestDecodeZeroAllocs(t *testing.T) {
	for name, frame := range benchFrames(t) {
		d := NewDecoder(DecoderOptions{})
		out := make([]Packet, 0, 8)
		allocs := testing.AllocsPerRun(100, func() {
			out, _ = d.Decode(frame, out[:0])
		})
		if len(out) == 0 {
			t.Fatalf("%s: no packet", name)
		}
		if allocs != 0 {
			t.Errorf("%s: %.1f allocs per Decode, want 0", name, allocs)
		}
	}
}

func writeBenchFile(tb testing.TB, n int) (string, int64) {
	frame := benchFrames(tb)["eth-ipv4-tcp"]
	recs := make([]testRecord, n)
	for i := range recs {
		recs[i] = testRecord{ts: testTime, data: frame.Data}
	}
	data := pcapFile(binary.LittleEndian, false, 1, recs)
	path := tb.TempDir() + "/bench.pcap"
	if err := os.WriteFile(path, data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, int64(len(data))
}

// TestReadZeroAllocs checks that reading records allocates nothing once the
// packet buffer has grown.
func TestReadZeroAllocs(t *testing.T) {
	path, _ := writeBenchFile(t, 1000)
	src, err := OpenFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Next(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(500, func() {
		if _, err := src.Next(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per Next, want 0", allocs)
	}
}

func BenchmarkReadFile(b *testing.B) {
	path, size := writeBenchFile(b, 10000)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		src, err := OpenFiles(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := src.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		src.Close()
	}
}

// BenchmarkFilter measures a replay's per-frame filter cost (the kernel
// view of the frame and the program run) for typical expressions.
func BenchmarkFilter(b *testing.B) {
	frames := benchFrames(b)
	for _, expr := range []string{"tcp port 443", "not (udp port 53 or host 10.0.0.1) and net 192.168.0.0/16", "vlan 100 and tcp"} {
		f, err := CompileFilter(expr)
		if err != nil {
			b.Fatal(err)
		}
		p, err := f.compile(linkEthernet)
		if err != nil {
			b.Fatal(err)
		}
		frame := frames["vlan"]
		b.Run(expr, func(b *testing.B) {
			var pkt filterPacket
			b.ReportAllocs()
			for b.Loop() {
				kernelView(&pkt, &frame)
				if p.run(&pkt) == 0 {
					b.Fatal("rejected")
				}
			}
		})
	}
}
