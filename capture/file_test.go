package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testRecord is one packet to write into a test capture file.
type testRecord struct {
	ts      time.Time
	data    []byte
	wireLen int
	iface   int // pcapng interface index
}

func pcapFile(order binary.ByteOrder, nanos bool, linkType uint32, recs []testRecord) []byte {
	var b bytes.Buffer
	magic := uint32(pcapMagicMicro)
	if nanos {
		magic = pcapMagicNano
	}
	w := func(v any) { binary.Write(&b, order, v) }
	w(magic)
	w(uint16(2))
	w(uint16(4))
	w(int32(0))
	w(uint32(0))
	w(uint32(65535))
	w(linkType)
	for _, r := range recs {
		w(uint32(r.ts.Unix()))
		if nanos {
			w(uint32(r.ts.Nanosecond()))
		} else {
			w(uint32(r.ts.Nanosecond() / 1000))
		}
		w(uint32(len(r.data)))
		wl := r.wireLen
		if wl == 0 {
			wl = len(r.data)
		}
		w(uint32(wl))
		b.Write(r.data)
	}
	return b.Bytes()
}

type ngIface struct {
	linkType uint16
	tsresol  byte // 0 = default (microseconds)
}

func pcapngFile(order binary.ByteOrder, ifaces []ngIface, recs []testRecord) []byte {
	var b bytes.Buffer
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		total := uint32(12 + len(body))
		binary.Write(&b, order, typ)
		binary.Write(&b, order, total)
		b.Write(body)
		binary.Write(&b, order, total)
	}
	var shb bytes.Buffer
	binary.Write(&shb, order, uint32(pcapngByteOrder))
	binary.Write(&shb, order, uint16(1))
	binary.Write(&shb, order, uint16(0))
	binary.Write(&shb, order, int64(-1))
	block(pcapngSHB, shb.Bytes())
	for _, ifc := range ifaces {
		var idb bytes.Buffer
		binary.Write(&idb, order, ifc.linkType)
		binary.Write(&idb, order, uint16(0))
		binary.Write(&idb, order, uint32(0))
		if ifc.tsresol != 0 {
			binary.Write(&idb, order, uint16(9))
			binary.Write(&idb, order, uint16(1))
			idb.Write([]byte{ifc.tsresol, 0, 0, 0})
		}
		binary.Write(&idb, order, uint32(0)) // opt_endofopt
		block(blockIDB, idb.Bytes())
	}
	// An unknown block type is skipped.
	block(0x0bad, []byte("ignored"))
	for _, r := range recs {
		var res byte
		if r.iface < len(ifaces) {
			res = ifaces[r.iface].tsresol
		}
		var units uint64
		switch {
		case res == 0:
			units = uint64(r.ts.UnixNano() / 1000)
		case res == 9:
			units = uint64(r.ts.UnixNano())
		case res&0x80 != 0:
			units = uint64(r.ts.Unix())<<(res&0x7f) | uint64(r.ts.Nanosecond())<<(res&0x7f)/1e9
		}
		var epb bytes.Buffer
		binary.Write(&epb, order, uint32(r.iface))
		binary.Write(&epb, order, uint32(units>>32))
		binary.Write(&epb, order, uint32(units))
		binary.Write(&epb, order, uint32(len(r.data)))
		wl := r.wireLen
		if wl == 0 {
			wl = len(r.data)
		}
		binary.Write(&epb, order, uint32(wl))
		epb.Write(r.data)
		block(blockEPB, epb.Bytes())
	}
	return b.Bytes()
}

func gzipped(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll reads every frame of src and the terminating error.
func readAll(t *testing.T, src Source) ([]Frame, error) {
	t.Helper()
	var frames []Frame
	for i := 0; i < 10000; i++ {
		f, err := src.Next()
		if err != nil {
			return frames, err
		}
		f.Data = append([]byte(nil), f.Data...)
		frames = append(frames, f)
	}
	t.Fatal("Next never ended")
	return nil, nil
}

func testRecords(t *testing.T) []testRecord {
	return []testRecord{
		{ts: time.Unix(1700000000, 123456000), data: eth(0x0800, tcp4(t, "10.0.0.1", "10.0.0.2", 1, 2, "S", nil))},
		{ts: time.Unix(1700000001, 999999000), data: eth(0x0800, udp4(t, "10.0.0.1", "10.0.0.2", 3, 4, []byte("x"))), wireLen: 1500},
		{ts: time.Unix(1700000002, 0), data: eth(0x0806, make([]byte, 28))},
	}
}

func TestFileFormats(t *testing.T) {
	recs := testRecords(t)
	ngRecs := []testRecord{
		{ts: time.Unix(1700000000, 123456789), data: recs[0].data, iface: 0},
		{ts: time.Unix(1700000001, 5000), data: recs[1].data[14:], iface: 1, wireLen: 1486},
		{ts: time.Unix(1700000002, 500000000), data: recs[2].data, iface: 2},
	}
	ngIfaces := []ngIface{{linkType: 1, tsresol: 9}, {linkType: 101}, {linkType: 1, tsresol: 0x80 | 10}}
	nsRecs := append([]testRecord(nil), recs...)
	nsRecs[0].ts = time.Unix(1700000000, 123456789)
	cases := []struct {
		name   string
		data   []byte
		frames []testRecord
		links  []int
	}{
		{"pcap little endian", pcapFile(binary.LittleEndian, false, 1, recs), recs, []int{1, 1, 1}},
		{"pcap big endian", pcapFile(binary.BigEndian, false, 1, recs), recs, []int{1, 1, 1}},
		{"pcap nanoseconds", pcapFile(binary.LittleEndian, true, 1, nsRecs), nsRecs, []int{1, 1, 1}},
		{"pcap nanoseconds big endian", pcapFile(binary.BigEndian, true, 1, nsRecs), nsRecs, []int{1, 1, 1}},
		{"pcap gzip", gzipped(pcapFile(binary.LittleEndian, false, 1, recs)), recs, []int{1, 1, 1}},
		{"pcapng three interfaces", pcapngFile(binary.LittleEndian, ngIfaces, ngRecs), ngRecs, []int{1, 101, 1}},
		{"pcapng big endian", pcapngFile(binary.BigEndian, ngIfaces, ngRecs), ngRecs, []int{1, 101, 1}},
		{"pcapng gzip", gzipped(pcapngFile(binary.LittleEndian, ngIfaces, ngRecs)), ngRecs, []int{1, 101, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "trace.bin", tc.data) // name says nothing about the format
			src, err := OpenFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			frames, err := readAll(t, src)
			if err != io.EOF {
				t.Fatalf("end: %v", err)
			}
			if len(frames) != len(tc.frames) {
				t.Fatalf("%d frames, want %d", len(frames), len(tc.frames))
			}
			for i, f := range frames {
				r := tc.frames[i]
				wl := r.wireLen
				if wl == 0 {
					wl = len(r.data)
				}
				if !bytes.Equal(f.Data, r.data) || f.CaptureLength != len(r.data) || f.Length != wl {
					t.Errorf("frame %d: data/len mismatch (cap %d wire %d)", i, f.CaptureLength, f.Length)
				}
				// Interface 2 of the pcapng cases has a 2^-10 s resolution.
				coarse := strings.Contains(tc.name, "pcapng") && i == 2
				if d := f.Timestamp.Sub(r.ts); (!coarse && d != 0) || d < -time.Millisecond || d > time.Millisecond {
					t.Errorf("frame %d: timestamp %v, want %v", i, f.Timestamp, r.ts)
				}
				if int(f.LinkType) != tc.links[i] {
					t.Errorf("frame %d: link type %d, want %d", i, f.LinkType, tc.links[i])
				}
				if f.Origin != path {
					t.Errorf("frame %d: origin %q", i, f.Origin)
				}
			}
			p, ok := src.(Progress)
			if !ok || p.TotalBytes() != int64(len(tc.data)) || p.BytesRead() != int64(len(tc.data)) {
				t.Errorf("progress: ok=%v read %d total %d, want %d", ok, p.BytesRead(), p.TotalBytes(), len(tc.data))
			}
		})
	}
}

func TestOpenFilesSequence(t *testing.T) {
	recs := testRecords(t)
	a := writeTemp(t, "a.pcap", pcapFile(binary.LittleEndian, false, 1, recs[:2]))
	b := writeTemp(t, "b.pcapng", gzipped(pcapngFile(binary.BigEndian, []ngIface{{linkType: 1}}, recs[2:])))
	src, err := OpenFiles(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frames, err := readAll(t, src)
	if err != io.EOF || len(frames) != 3 {
		t.Fatalf("%d frames, end %v", len(frames), err)
	}
	if frames[0].Origin != a || frames[2].Origin != b || frames[2].Offset == 0 {
		t.Errorf("origins %q %q offset %d", frames[0].Origin, frames[2].Origin, frames[2].Offset)
	}
	if _, err := src.Next(); err != io.EOF {
		t.Errorf("after end: %v", err)
	}
}

func TestFileErrors(t *testing.T) {
	recs := testRecords(t)
	good := pcapFile(binary.LittleEndian, false, 1, recs)
	rec1 := 24 + 16 + len(recs[0].data) // offset of the second record
	rec2 := rec1 + 16 + len(recs[1].data)
	header := func(data []byte, at int, v uint32) []byte {
		c := append([]byte(nil), data...)
		binary.LittleEndian.PutUint32(c[at:], v)
		return c
	}
	cases := []struct {
		name       string
		data       []byte
		openErr    bool // OpenFiles itself fails
		wantFrames int
		wantInErr  []string
	}{
		{"empty file", nil, true, 0, []string{"offset 0", "empty file"}},
		{"corrupt magic", []byte("this is not a capture file at all"), true, 0, []string{"offset 0", "corrupt file header"}},
		{"short header", good[:10], true, 0, []string{"offset 0", "truncated pcap file header"}},
		{"unknown link type", header(good, 20, 4242), true, 0, []string{"offset 20", "unknown link type 4242"}},
		{"truncated record", good[:rec2+16+5], false, 2, []string{"offset " + itoa(rec2), "truncated packet record: unexpected EOF"}},
		{"truncated record header", good[:rec1+7], false, 1, []string{"offset " + itoa(rec1), "truncated packet record header"}},
		{"huge caplen", header(good, rec1+8, 1<<30), false, 1, []string{"offset " + itoa(rec1), "exceeds maximum"}},
		{"gzip truncated", gzipped(good)[:60], false, 0, []string{"trace", "decompressed offset", "truncated gzip file: the compressed data ends at offset 60"}},
		{"pcapng bad block length", append(pcapngFile(binary.LittleEndian, []ngIface{{linkType: 1}}, recs[:1]), 6, 0, 0, 0, 3, 0, 0, 0), false, 1, []string{"corrupt pcapng block: total length 3"}},
		{"pcapng truncated", trimEnd(pcapngFile(binary.LittleEndian, []ngIface{{linkType: 1}}, recs), 10), false, 2, []string{"truncated pcapng block"}},
		{"pcapng unknown interface", pcapngFile(binary.LittleEndian, []ngIface{{linkType: 1}}, []testRecord{{data: recs[0].data, iface: 1}}), false, 0, []string{"unknown interface 1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, "trace.pcap", tc.data)
			src, err := OpenFiles(path)
			var frames []Frame
			if err == nil {
				frames, err = readAll(t, src)
				src.Close()
				if tc.openErr {
					t.Errorf("OpenFiles succeeded, want an error")
				}
			} else if !tc.openErr {
				t.Fatalf("OpenFiles: %v", err)
			}
			if err == nil || err == io.EOF {
				t.Fatalf("no error (err=%v, %d frames)", err, len(frames))
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("%d frames before the error, want %d", len(frames), tc.wantFrames)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			for _, s := range tc.wantInErr {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q lacks %q", msg, s)
				}
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("error %T is not a *FileError", err)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "nope.pcap")
		_, err := OpenFiles(missing)
		if err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("error %v does not name %s", err, missing)
		}
	})
	t.Run("error in second file", func(t *testing.T) {
		a := writeTemp(t, "a.pcap", good)
		b := writeTemp(t, "b.pcap", good[:rec1+20])
		src, err := OpenFiles(a, b)
		if err != nil {
			t.Fatal(err)
		}
		frames, err := readAll(t, src)
		if len(frames) != 4 || err == nil || !strings.Contains(err.Error(), b+": offset "+itoa(rec1)) {
			t.Fatalf("%d frames, error %v", len(frames), err)
		}
		if _, again := src.Next(); again == nil || again.Error() != err.Error() {
			t.Errorf("error not sticky: %v", again)
		}
	})
}

func trimEnd(b []byte, n int) []byte { return b[:len(b)-n] }

func itoa(n int) string { return strconv.Itoa(n) }

// TestPcapNGUnsupportedInterfaces: interfaces of a link type the decoder
// does not support are skipped and counted; the packets of the others are
// read, and a packet on a skipped interface reaches the decoder, which
// rejects it as unknown_link_type.
func TestPcapNGUnsupportedInterfaces(t *testing.T) {
	recs := testRecords(t)
	ifaces := []ngIface{{linkType: 274}, {linkType: 1}, {linkType: 4242}, {linkType: 1}}
	on := func(r testRecord, iface int) testRecord { r.iface = iface; return r }
	file := pcapngFile(binary.LittleEndian, ifaces, []testRecord{on(recs[0], 1), on(recs[1], 3), on(recs[0], 2), on(recs[2], 1)})
	src, err := OpenFiles(writeTemp(t, "many.pcapng", file), writeTemp(t, "again.pcapng", file))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	frames, err := readAll(t, src)
	if err != io.EOF {
		t.Fatalf("ended with %v, want EOF", err)
	}
	if len(frames) != 8 {
		t.Fatalf("%d frames, want 8", len(frames))
	}
	if got := src.(interface{ FileStats() FileStats }).FileStats().UnsupportedInterfaces; got != 4 {
		t.Errorf("%d unsupported interfaces counted, want 4 (2 per file)", got)
	}
	d := NewDecoder(DecoderOptions{})
	var out []Packet
	for _, f := range frames {
		out, _ = d.Decode(f, out[:0])
	}
	st := d.Stats()
	if st.Errors != 2 || st.ErrorsByReason[ReasonUnknownLinkType] != 2 || st.Packets != 4 {
		t.Errorf("decoded: %d errors (%d unknown_link_type), %d packets; want 2, 2, 4", st.Errors,
			st.ErrorsByReason[ReasonUnknownLinkType], st.Packets)
	}
}
