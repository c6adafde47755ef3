package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// fuzzLinkTypes are the link types FuzzDecode feeds its input to.
var fuzzLinkTypes = []layers.LinkType{1, 0, 101, 113, 276, 9, 105, 127, 239, 108, 10}

func FuzzDecode(f *testing.F) {
	inner := tcp4(f, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	seeds := [][]byte{
		eth(0x0800, inner),
		eth(0x8100, cat(tag(100, 0x8847), be32(1<<12|1<<8|64), inner)),
		eth(0x0800, udp4(f, "172.16.0.1", "172.16.0.2", 40000, 4789, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, eth(0x0800, inner)))),
		eth(0x0800, udp4(f, "172.16.0.1", "172.16.0.2", 40000, 6081, cat([]byte{1, 0}, be16(0x6558), make([]byte, 8), eth(0x0800, inner)))),
		eth(0x0800, udp4(f, "172.16.0.1", "172.16.0.2", 2152, 2152, cat([]byte{0x30, 0xff}, be16(uint16(len(inner))), be32(1), inner))),
		eth(0x0800, rawIP4(f, "172.16.0.1", "172.16.0.2", 47, cat(be16(0), be16(0x6558), eth(0x86dd, udp6(f, "2001:db8::1", "2001:db8::2", 1, 2, nil))))),
		eth(0x86dd, udp6(f, "2001:0:4136:e378::1", "2001:db8::2", 3544, 3544, udp6(f, "2001:0:4136:e378::1", "2001:db8::2", 5000, 53, []byte("q")))),
	}
	for i, s := range seeds {
		f.Add(uint8(0), s)
		f.Add(uint8(i), s[14:])
	}
	f.Fuzz(func(t *testing.T, lt uint8, data []byte) {
		for _, ignore := range []bool{false, true} {
			d := NewDecoder(DecoderOptions{IgnoreChecksums: ignore, Fragments: FragmentOptions{MaxDatagrams: 4, MaxBytes: 1 << 16}})
			defer func() {
				if st := d.Stats(); st.FragmentsPending > 4 || d.frag.bytes > 1<<16 || d.frag.bytes < 0 {
					t.Fatalf("fragment table: %d datagrams, %d bytes", st.FragmentsPending, d.frag.bytes)
				}
			}()
			frame := frameOf(fuzzLinkTypes[int(lt)%len(fuzzLinkTypes)], data)
			var out []Packet
			for i := 0; i < 2; i++ { // twice: fragment state must stay consistent
				out, _ = d.Decode(frame, out[:0])
				for _, p := range out {
					if p.TunnelDepth > 4 {
						t.Fatalf("tunnel depth %d", p.TunnelDepth)
					}
					if !p.Src.IsValid() || !p.Dst.IsValid() {
						t.Fatalf("invalid address in %+v", p)
					}
				}
			}
			// A frame cut by the snap length must decode without panicking too.
			if len(data) > 1 {
				cut := frame
				cut.Data, cut.CaptureLength = data[:len(data)/2], len(data)/2
				_, _ = d.Decode(cut, out[:0])
			}
		}
	})
}

func FuzzReadFile(f *testing.F) {
	rec := []testRecord{{ts: testTime, data: eth(0x0800, tcp4(f, "10.0.0.1", "10.0.0.2", 1, 2, "S", nil))}}
	f.Add(pcapFile(binary.LittleEndian, false, 1, rec))
	f.Add(pcapFile(binary.BigEndian, true, 101, rec))
	f.Add(pcapngFile(binary.LittleEndian, []ngIface{{linkType: 1, tsresol: 9}, {linkType: 105}}, append(rec, testRecord{data: []byte{1, 2, 3}, iface: 1})))
	f.Add(gzipped(pcapngFile(binary.BigEndian, []ngIface{{linkType: 1}}, rec)))
	f.Add(gzipped(pcapFile(binary.LittleEndian, false, 1, rec)))
	// Hostile shapes from the adversarial tests.
	pkt := rec[0].data
	n := uint32(len(pkt))
	f.Add(rawPcap(20, pcapRecord{n, n, pkt}, pcapRecord{0, 0, nil}))
	f.Add(rawPcap(0, pcapRecord{0xffffffff, 1, pkt}))
	f.Add(cat(ngSHB(), ngIDB(1, 30), ngEPB(0, n, n, pkt), ngEPB(3, n, n, pkt)))
	f.Add(cat(ngSHB(), ngIDB(1, 0, 9, 0, 1, 0, 0x80|30, 0, 0, 0), ngBlock(blockSPB, cat(le32(n), pkt), 0, 0), le32(blockEPB), le32(0)))
	f.Add(cat(gzipped(pcapFile(binary.LittleEndian, false, 1, rec)), []byte("trailing garbage")))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := newFileReader(io.NopCloser(bytes.NewReader(data)), "fuzz.pcap", nil, int64(len(data)), nil, len(data)&1 == 1)
		if err != nil {
			return
		}
		defer r.close()
		// Every record consumes at least 8 bytes of (decompressed) input, so
		// the loop is bounded; the cap only guards against a hang bug.
		for i := 0; i < 1<<16; i++ {
			var fr Frame
			if err := r.next(&fr); err != nil {
				return
			}
			if len(fr.Data) > MaxCaptureLength || fr.CaptureLength != len(fr.Data) {
				t.Fatalf("frame of %d bytes (caplen %d)", len(fr.Data), fr.CaptureLength)
			}
		}
		t.Fatalf("reader did not terminate")
	})
}
