package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Adversarial input: every case asserts what happens (error, counter,
// bound), not only that nothing panics.

// frag4 is one IPv4 fragment (UDP protocol) with a valid header checksum.
func frag4(t testing.TB, id uint16, off int, more bool, payload []byte) []byte {
	ip := ip4("10.0.0.1", "10.0.0.2", layers.IPProtocolUDP)
	ip.Id = id
	ip.FragOffset = uint16(off / 8)
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	return serialize(t, ip, gopacket.Payload(payload))
}

// udpHeader is a UDP header without checksum for a payload of n bytes.
func udpHeader(sport, dport uint16, n int) []byte {
	return cat(be16(sport), be16(dport), be16(uint16(8+n)), be16(0))
}

func decodeErrReason(err error) string {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestFragmentFloodsStayBounded(t *testing.T) {
	body := bytes.Repeat([]byte("f"), 1000)
	cases := []struct {
		name         string
		opts         FragmentOptions
		datagrams    int
		wantPending  int
		wantDropped  uint64
		wantBytesMax int
	}{
		{"distinct ids, datagram bound", FragmentOptions{MaxDatagrams: 64}, 10000, 64, 10000 - 64, 64 * 1000},
		{"distinct ids, byte bound", FragmentOptions{MaxDatagrams: 1 << 20, MaxBytes: 4096}, 500, 4, 500 - 4, 4096},
		{"one slot", FragmentOptions{MaxDatagrams: 1}, 300, 1, 299, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(DecoderOptions{Fragments: tc.opts})
			var out []Packet
			for i := 0; i < tc.datagrams; i++ {
				// First fragments only: none ever completes.
				f := ethFrame(eth(0x0800, frag4(t, uint16(i), 0, true, body)))
				var err error
				out, err = d.Decode(f, out[:0])
				if err != nil || len(out) != 0 {
					t.Fatalf("fragment %d: err %v, %d packets", i, err, len(out))
				}
				if len(d.frag.m) > tc.wantPending || d.frag.bytes > tc.wantBytesMax {
					t.Fatalf("after %d fragments: %d datagrams, %d bytes buffered", i+1, len(d.frag.m), d.frag.bytes)
				}
			}
			st := d.Stats()
			if st.FragmentsPending != tc.wantPending || st.DatagramsDropped != tc.wantDropped || st.Fragments != uint64(tc.datagrams) {
				t.Errorf("stats %+v, want %d pending and %d dropped", st, tc.wantPending, tc.wantDropped)
			}
		})
	}
}

func TestFragmentEvictionIsOldestFirst(t *testing.T) {
	d := NewDecoder(DecoderOptions{Fragments: FragmentOptions{MaxDatagrams: 2}})
	first := func(id uint16) []byte { return frag4(t, id, 0, true, cat(udpHeader(1, 2, 16), make([]byte, 8))) }
	last := func(id uint16) []byte { return frag4(t, id, 16, false, make([]byte, 8)) }
	var out []Packet
	for _, pkt := range [][]byte{first(1), first(2), frag4(t, 1, 8, true, make([]byte, 8)), first(3)} {
		out, _ = d.Decode(ethFrame(eth(0x0800, pkt)), out[:0])
	}
	// Datagram 2 went longest without a fragment: it was evicted, 1 was kept.
	out, err := d.Decode(ethFrame(eth(0x0800, last(1))), out[:0])
	if err != nil || len(out) != 1 || out[0].PayloadLen != 16 {
		t.Fatalf("datagram 1: err %v, packets %+v", err, out)
	}
	out, err = d.Decode(ethFrame(eth(0x0800, last(2))), out[:0])
	if err != nil || len(out) != 0 {
		t.Fatalf("datagram 2 was not evicted: err %v, %d packets", err, len(out))
	}
	if st := d.Stats(); st.DatagramsDropped != 1 || st.Reassembled != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestFragmentOverlapsAndOversize(t *testing.T) {
	a := cat(udpHeader(7, 9, 24), []byte("AAAAAAAA")) // offset 0, 16 bytes
	b := []byte("BBBBBBBBBBBBBBBB")                   // offset 8, 16 bytes: overlaps a
	c := []byte("CCCCCCCC")                           // offset 24, last
	type frag struct {
		off  int
		more bool
		data []byte
	}
	cases := []struct {
		name        string
		frags       []frag
		wantPayload string // "" = no datagram
		wantErr     string
		wantDropped uint64 // FragmentsDropped
		wantPending int
	}{
		{"first data wins (in order)", []frag{{0, true, a}, {8, true, b}, {24, false, c}}, "AAAAAAAABBBBBBBBCCCCCCCC", "", 0, 0},
		{"first data wins (overlap first)", []frag{{8, true, b}, {0, true, a}, {24, false, c}}, "BBBBBBBBBBBBBBBBCCCCCCCC", "", 0, 0},
		{"exact duplicate", []frag{{0, true, a}, {0, true, a}, {16, false, b[:8]}}, "AAAAAAAABBBBBBBB", "", 0, 0},
		{"beyond 64 KiB", []frag{{65528, false, make([]byte, 100)}}, "", "excessively_large_fragment", 1, 0},
		{"last fragment at the limit", []frag{{0, true, a}, {65520, false, make([]byte, 8)}}, "", "", 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(DecoderOptions{})
			var out []Packet
			var err error
			for _, f := range tc.frags {
				out, err = d.Decode(ethFrame(eth(0x0800, frag4(t, 42, f.off, f.more, f.data))), out[:0])
			}
			if got := decodeErrReason(err); got != tc.wantErr {
				t.Fatalf("error %q, want %q", got, tc.wantErr)
			}
			switch {
			case tc.wantPayload == "" && len(out) != 0:
				t.Fatalf("unexpected datagram %+v", out)
			case tc.wantPayload != "" && (len(out) != 1 || string(out[0].Payload) != tc.wantPayload):
				t.Fatalf("reassembled %+v, want payload %q", out, tc.wantPayload)
			}
			if st := d.Stats(); st.FragmentsDropped != tc.wantDropped || st.FragmentsPending != tc.wantPending {
				t.Errorf("stats %+v", st)
			}
		})
	}

	// Thousands of disjoint 8-byte pieces of one datagram: the span list
	// and buffer stay within one datagram's size and nothing completes.
	d := NewDecoder(DecoderOptions{})
	var out []Packet
	for off := 8; off < 65000; off += 16 {
		out, _ = d.Decode(ethFrame(eth(0x0800, frag4(t, 7, off, true, make([]byte, 8)))), out[:0])
		if len(out) != 0 {
			t.Fatalf("datagram completed at offset %d", off)
		}
	}
	if d.frag.bytes > maxDatagram || len(d.frag.m) != 1 {
		t.Errorf("%d bytes in %d datagrams", d.frag.bytes, len(d.frag.m))
	}
}

func TestTunnelNestingBeyondMaxDepth(t *testing.T) {
	inner := tcp4(t, "192.168.1.1", "192.168.1.2", 4444, 443, "S", nil)
	ipip := func(n int) []byte {
		b := inner
		for i := 0; i < n; i++ {
			b = rawIP4(t, "172.16.0.1", "172.16.0.2", 4, b)
		}
		return eth(0x0800, b)
	}
	greNest := func(n int) []byte {
		b := inner
		for i := 0; i < n; i++ {
			b = rawIP4(t, "172.16.0.1", "172.16.0.2", 47, cat(be16(0), be16(0x0800), b))
		}
		return eth(0x0800, b)
	}
	vxlanNest := func(n int) []byte {
		b := eth(0x0800, inner)
		for i := 0; i < n; i++ {
			b = eth(0x0800, udp4(t, "172.16.0.1", "172.16.0.2", uint16(40000+i), 4789, cat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, b)))
		}
		return b
	}
	vlans := func(n int) []byte {
		b := inner
		for i := 0; i < n; i++ {
			b = cat(tag(uint16(i), 0x8100), b)
		}
		return eth(0x8100, b)
	}
	fabricPath := func(n int) []byte {
		b := eth(0x0800, inner)
		for i := 0; i < n; i++ {
			b = cat(macA, macB, be16(0x8903), be16(0), b)
		}
		return b
	}
	cases := []struct {
		name      string
		frame     []byte
		maxDepth  int
		wantErr   string
		wantPkts  int
		wantDepth uint8 // of the last packet
	}{
		{"ip-in-ip at max depth", ipip(4), 0, "", 1, 4},
		{"ip-in-ip 60 deep", ipip(60), 0, "exceeded_tunnel_max_depth", 0, 0},
		{"ip-in-ip 2 deep, max 1", ipip(2), 1, "exceeded_tunnel_max_depth", 0, 0},
		{"gre 60 deep", greNest(60), 0, "exceeded_tunnel_max_depth", 0, 0},
		// Each UDP level is a packet of its own; the one at depth 4 is
		// kept but not decapsulated.
		{"vxlan 8 deep", vxlanNest(8), 0, "exceeded_tunnel_max_depth", 5, 4},
		{"300 vlan tags", vlans(300), 0, "too_many_l2_headers", 0, 0},
		{"300 fabricpath headers", fabricPath(300), 0, "too_many_l2_headers", 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(DecoderOptions{MaxTunnelDepth: tc.maxDepth})
			out, err := d.Decode(ethFrame(tc.frame), nil)
			if got := decodeErrReason(err); got != tc.wantErr {
				t.Fatalf("error %q, want %q", got, tc.wantErr)
			}
			if len(out) != tc.wantPkts {
				t.Fatalf("%d packets, want %d", len(out), tc.wantPkts)
			}
			for i, p := range out {
				if int(p.TunnelDepth) != i && tc.wantPkts > 1 {
					t.Errorf("packet %d at depth %d", i, p.TunnelDepth)
				}
			}
			if n := len(out); n > 0 && out[n-1].TunnelDepth != tc.wantDepth {
				t.Errorf("last packet at depth %d, want %d", out[n-1].TunnelDepth, tc.wantDepth)
			}
			if st := d.Stats(); (tc.wantErr != "") != (st.Errors == 1) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// pcapRecord is a record with explicit header lengths.
type pcapRecord struct {
	caplen, wirelen uint32
	data            []byte // written as is (may differ from caplen)
}

func rawPcap(snaplen uint32, recs ...pcapRecord) []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	w(uint32(pcapMagicMicro))
	w(uint16(2))
	w(uint16(4))
	w(int32(0))
	w(uint32(0))
	w(snaplen)
	w(uint32(1))
	for i, r := range recs {
		w(uint32(1700000000 + i))
		w(uint32(0))
		w(r.caplen)
		w(r.wirelen)
		b.Write(r.data)
	}
	return b.Bytes()
}

func TestPcapHostileLengths(t *testing.T) {
	pkt := eth(0x0800, udp4(t, "10.0.0.1", "10.0.0.2", 1, 2, make([]byte, 100)))
	n := uint32(len(pkt))
	good := pcapRecord{n, n, pkt}
	big := make([]byte, MaxCaptureLength)
	copy(big, pkt)
	cases := []struct {
		name     string
		file     []byte
		wantCaps []int  // CaptureLength of each frame delivered
		wantWire []int  // Length of each frame (nil: = caps)
		wantErr  string // "" = clean EOF
	}{
		{"caplen beyond snaplen is cut as libpcap does", rawPcap(100, pcapRecord{150, 150, cat(pkt, make([]byte, 150-len(pkt)))}, good),
			[]int{100, 100}, []int{150, int(n)}, ""},
		{"snaplen 0 means the maximum", rawPcap(0, pcapRecord{MaxCaptureLength, MaxCaptureLength, big}, good),
			[]int{MaxCaptureLength, int(n)}, nil, ""},
		{"caplen beyond the maximum", rawPcap(0, good, pcapRecord{MaxCaptureLength + 1, 10, nil}),
			[]int{int(n)}, nil, "exceeds maximum"},
		{"caplen 2^32-1", rawPcap(65535, good, pcapRecord{0xffffffff, 0xffffffff, pkt}),
			[]int{int(n)}, nil, "exceeds maximum"},
		{"huge wire length", rawPcap(65535, pcapRecord{n, 0xffffffff, pkt}),
			[]int{int(n)}, []int{0xffffffff}, ""},
		{"caplen beyond the end of file", rawPcap(65535, good, pcapRecord{5000, 5000, pkt}),
			[]int{int(n)}, nil, "truncated packet record: unexpected EOF"},
		{"zero-length records", rawPcap(65535, pcapRecord{0, 0, nil}, pcapRecord{0, 60, nil}),
			[]int{0, 0}, []int{0, 60}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenFiles(writeTemp(t, "hostile.pcap", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			frames, err := readAll(t, src)
			checkFrames(t, frames, tc.wantCaps, tc.wantWire)
			checkEnd(t, err, tc.wantErr)
			// Every delivered frame decodes without panicking.
			d := NewDecoder(DecoderOptions{})
			for _, f := range frames {
				d.Decode(f, nil)
			}
		})
	}
}

func checkFrames(t *testing.T, frames []Frame, caps, wires []int) {
	t.Helper()
	if len(frames) != len(caps) {
		t.Fatalf("%d frames, want %d", len(frames), len(caps))
	}
	for i, f := range frames {
		wire := caps[i]
		if wires != nil {
			wire = wires[i]
		}
		if f.CaptureLength != caps[i] || len(f.Data) != caps[i] || f.Length != wire {
			t.Errorf("frame %d: caplen %d (%d bytes) wire %d, want %d and %d", i, f.CaptureLength, len(f.Data), f.Length, caps[i], wire)
		}
	}
}

func checkEnd(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != io.EOF {
			t.Fatalf("ended with %v, want EOF", err)
		}
		return
	}
	var fe *FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("ended with %v, want a *FileError with %q", err, want)
	}
}

// ngBlock is a pcapng block; total and trailer override the computed
// length when not zero.
func ngBlock(typ uint32, body []byte, total, trailer uint32) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	if total == 0 {
		total = n
	}
	if trailer == 0 {
		trailer = total
	}
	return cat(le32(typ), le32(total), body, le32(trailer))
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func ngSHB() []byte {
	return ngBlock(pcapngSHB, cat(le32(pcapngByteOrder), le16(1), le16(0), le32(0xffffffff), le32(0xffffffff)), 0, 0)
}

func ngIDB(linkType uint16, snaplen uint32, opts ...byte) []byte {
	return ngBlock(blockIDB, cat(le16(linkType), le16(0), le32(snaplen), opts), 0, 0)
}

func ngEPB(iface, caplen, wirelen uint32, data []byte) []byte {
	return ngBlock(blockEPB, cat(le32(iface), le32(0), le32(1), le32(caplen), le32(wirelen), data), 0, 0)
}

func TestPcapngHostileBlocks(t *testing.T) {
	pkt := eth(0x0800, udp4(t, "10.0.0.1", "10.0.0.2", 1, 2, make([]byte, 40)))
	n := uint32(len(pkt))
	head := cat(ngSHB(), ngIDB(1, 0))
	ok := ngEPB(0, n, n, pkt)
	cases := []struct {
		name     string
		file     []byte
		wantCaps []int
		wantErr  string
	}{
		{"zero-length block", cat(head, ok, le32(blockEPB), le32(0)), []int{int(n)}, "total length 0"},
		{"length not a multiple of 4", cat(head, ok, ngBlock(0xbad, nil, 13, 0)), []int{int(n)}, "total length 13"},
		{"length below the minimum", cat(head, ok, le32(0xbad), le32(8), le32(8)), []int{int(n)}, "total length 8"},
		{"trailer mismatch", cat(head, ngBlock(blockEPB, cat(le32(0), le32(0), le32(0), le32(n), le32(n), pkt), 0, 16), ok), nil, "trailing length 16"},
		{"skipped block beyond the limit", cat(head, ok, le32(0xbad), le32(0x7ffffffc)), []int{int(n)}, "exceeds maximum"},
		{"skipped block beyond the end of file", cat(head, ok, le32(0xbad), le32(1<<20), make([]byte, 64)), []int{int(n)}, "truncated pcapng block"},
		{"packet block beyond the limit", cat(head, ok, le32(blockEPB), le32(maxBlockLength+4)), []int{int(n)}, "exceeds maximum"},
		{"caplen beyond the block", cat(head, ngEPB(0, n+100, n+100, pkt), ok), nil, "exceeds block"},
		{"caplen beyond the maximum", cat(head, ngEPB(0, 0xfffffff0, 10, pkt)), nil, "exceeds maximum"},
		{"interface that does not exist", cat(head, ok, ngEPB(7, n, n, pkt)), []int{int(n)}, "unknown interface 7"},
		{"packet before any interface", cat(ngSHB(), ngEPB(0, n, n, pkt)), nil, "unknown interface 0"},
		{"simple packet before any interface", cat(ngSHB(), ngBlock(blockSPB, cat(le32(n), pkt), 0, 0)), nil, "simple packet block without interface"},
		{"short section header", cat(head, ok, ngBlock(pcapngSHB, le32(pcapngByteOrder), 0, 0)), []int{int(n)}, "section header"},
		{"section header resets interfaces", cat(head, ok, ngSHB(), ngEPB(0, n, n, pkt)), []int{int(n)}, "unknown interface 0"},
		{"timestamp resolution 2^-100", cat(ngSHB(), ngIDB(1, 0, le16(9)[0], le16(9)[1], 1, 0, 0x80|100, 0, 0, 0), ok), nil, "timestamp resolution"},
		{"timestamp resolution 10^-20", cat(ngSHB(), ngIDB(1, 0, le16(9)[0], le16(9)[1], 1, 0, 20, 0, 0, 0), ok), nil, "timestamp resolution"},
		{"option longer than the block", cat(ngSHB(), ngIDB(1, 0, 2, 0, 0xff, 0), ok), nil, "interface option"},
		{"caplen beyond the interface snaplen is cut", cat(ngSHB(), ngIDB(1, 50), ok), []int{50}, ""},
		{"simple packet block", cat(head, ngBlock(blockSPB, cat(le32(n), pkt), 0, 0)), []int{int(n)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenFiles(writeTemp(t, "hostile.pcapng", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			frames, err := readAll(t, src)
			wires := make([]int, len(tc.wantCaps))
			for i := range wires {
				wires[i] = int(n)
			}
			checkFrames(t, frames, tc.wantCaps, wires)
			for _, f := range frames {
				if ts := f.Timestamp.UnixNano(); ts < 0 || f.Timestamp.Unix() != ts/1e9 {
					t.Errorf("timestamp %v out of range", f.Timestamp)
				}
			}
			checkEnd(t, err, tc.wantErr)
		})
	}
}

func TestGzipHostile(t *testing.T) {
	recs := testRecords(t)
	good := pcapFile(binary.LittleEndian, false, 1, recs)
	gz := gzipped(good)
	badCRC := append([]byte(nil), gz...)
	badCRC[len(badCRC)-8] ^= 0xff // CRC-32 in the trailer
	badBlock := append([]byte(nil), gz...)
	badBlock[10] |= 0x06 // first deflate block: BTYPE 11 (reserved)
	half := len(good) - 20
	twoMembers := cat(gzipped(good[:half]), gzipped(good[half:]))
	cases := []struct {
		name       string
		file       []byte
		wantFrames int
		wantErr    string
	}{
		{"garbage after the stream", cat(gz, []byte("garbage that is not gzip")), 3, "corrupt gzip data at compressed offset " + itoa(len(gz)+10) + ": gzip: invalid header"},
		{"bad checksum", badCRC, 3, "corrupt gzip data at compressed offset %d: gzip: invalid checksum"},
		{"trailer cut off", gz[:len(gz)-4], 3, "truncated gzip file: the compressed data ends at offset %d, inside the gzip stream"},
		{"deflate data cut", gz[:len(gz)/2], 0, "truncated gzip file: the compressed data ends at offset %d"},
		{"deflate block type reserved", badBlock, 0, "corrupt gzip data at compressed offset 11: flate: corrupt input"},
		{"two members are one stream", twoMembers, 3, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, err := OpenFiles(writeTemp(t, "trace.pcap.gz", tc.file))
			var frames []Frame
			if err == nil { // else the fault is in the file header
				frames, err = readAll(t, src)
				src.Close()
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("%d frames, want %d", len(frames), tc.wantFrames)
			}
			want := tc.wantErr
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, len(tc.file))
			}
			checkEnd(t, err, want)
			if want == "" {
				return
			}
			// The gzip fault is typed, and the offsets say which they count.
			var ge *GzipError
			if !errors.As(err, &ge) || ge.Offset > int64(len(tc.file)) || ge.Truncated != strings.Contains(want, "truncated") {
				t.Errorf("%v: want a *GzipError within the file", err)
			}
			if !strings.Contains(err.Error(), "decompressed offset") {
				t.Errorf("%v: the offset does not say it counts decompressed bytes", err)
			}
		})
	}
}

// TestGzipBomb streams 32 MiB of decompressed zero records (a few KiB on
// disk): the reader must walk through them with bounded memory.
func TestGzipBomb(t *testing.T) {
	const zeros = 32 << 20
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(rawPcap(65535))
	chunk := make([]byte, 1<<20)
	for i := 0; i < zeros/len(chunk); i++ {
		zw.Write(chunk)
	}
	zw.Close()
	if b.Len() > 256<<10 {
		t.Fatalf("bomb is %d bytes compressed", b.Len())
	}
	src, err := OpenFiles(writeTemp(t, "bomb.pcap.gz", b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	frames := 0
	for {
		f, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Data) != 0 {
			t.Fatalf("frame of %d bytes", len(f.Data))
		}
		frames++
	}
	runtime.ReadMemStats(&after)
	if frames != zeros/16 {
		t.Errorf("%d frames, want %d", frames, zeros/16)
	}
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 4<<20 {
		t.Errorf("allocated %d bytes while reading %d frames", grown, frames)
	}
}

func TestBadChecksumsBothSettings(t *testing.T) {
	tcp := tcp4(t, "10.0.0.1", "10.0.0.2", 1, 2, "PA", []byte("payload"))
	udp := udp4(t, "10.0.0.1", "10.0.0.2", 1, 2, []byte("payload"))
	icmp := icmp4Echo(t, "10.0.0.1", "10.0.0.2", []byte("payload"))
	udp6p := udp6(t, "2001:db8::1", "2001:db8::2", 1, 2, []byte("payload"))
	udpZero := append([]byte(nil), udp...)
	udpZero[26], udpZero[27] = 0, 0 // IPv4 UDP checksum 0: not computed
	cases := []struct {
		name   string
		pkt    []byte
		et     uint16
		want   bool   // BadChecksum without -C
		ipErr  string // error without -C (IP header checksum)
		ipDrop bool
	}{
		{"tcp payload byte", corrupt(tcp, len(tcp)-1), 0x0800, true, "", false},
		{"udp payload byte", corrupt(udp, len(udp)-1), 0x0800, true, "", false},
		{"udp checksum 0 over ipv4", udpZero, 0x0800, false, "", false},
		{"icmp payload byte", corrupt(icmp, len(icmp)-1), 0x0800, true, "", false},
		{"udp over ipv6", corrupt(udp6p, len(udp6p)-1), 0x86dd, true, "", false},
		{"ip header checksum", corrupt(tcp, 10), 0x0800, false, "bad_IP_checksum", true},
		{"intact tcp", tcp, 0x0800, false, "", false},
	}
	for _, tc := range cases {
		for _, ignore := range []bool{false, true} {
			name := tc.name
			if ignore {
				name += " -C"
			}
			t.Run(name, func(t *testing.T) {
				d := NewDecoder(DecoderOptions{IgnoreChecksums: ignore})
				out, err := d.Decode(ethFrame(eth(tc.et, tc.pkt)), nil)
				wantErr, drop, bad := tc.ipErr, tc.ipDrop, tc.want
				if ignore {
					wantErr, drop, bad = "", false, false
				}
				if got := decodeErrReason(err); got != wantErr {
					t.Fatalf("error %q, want %q", got, wantErr)
				}
				if drop {
					if len(out) != 0 || d.Stats().BadIPChecksum != 1 {
						t.Fatalf("%d packets, stats %+v", len(out), d.Stats())
					}
					return
				}
				if len(out) != 1 || out[0].BadChecksum != bad {
					t.Fatalf("packets %+v, want one with BadChecksum %v", out, bad)
				}
			})
		}
	}
}
