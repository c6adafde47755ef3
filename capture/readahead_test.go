package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/netbased/netbased/internal/testenv"
)

// readDescribed reads every frame of paths (files of aheadMin bytes or more
// read ahead) and describes each, the final error and the bytes counted.
func readDescribed(t *testing.T, aheadMin int64, paths ...string) (frames []string, end string, read int64) {
	t.Helper()
	src, err := openFiles(aheadMin, paths...)
	if err != nil {
		return nil, "open: " + err.Error(), 0
	}
	defer src.Close()
	for {
		f, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				end = err.Error()
			}
			return frames, end, src.(Progress).BytesRead()
		}
		frames = append(frames, fmt.Sprintf("%d %d %d %d %x", f.Timestamp.UnixNano(), f.CaptureLength, f.Length, f.LinkType, f.Data))
	}
}

// sameReading checks that reading paths ahead gives what reading them
// directly gives: the same frames and error, and at a clean end the same
// byte count.
func sameReading(t *testing.T, name string, paths ...string) int {
	t.Helper()
	want, wantEnd, wantRead := readDescribed(t, 1<<62, paths...)
	got, gotEnd, gotRead := readDescribed(t, 0, paths...)
	if len(got) != len(want) {
		t.Fatalf("%s: read ahead: %d frames, want %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: read ahead: frame %d differs", name, i)
		}
	}
	if gotEnd != wantEnd {
		t.Fatalf("%s: read ahead ends with %q, want %q", name, gotEnd, wantEnd)
	}
	// Both count what was read from disk; read ahead may be further into
	// a file whose reading stopped at a fault.
	if wantEnd == "" && gotRead != wantRead {
		t.Fatalf("%s: read ahead counted %d bytes, want %d", name, gotRead, wantRead)
	}
	return len(got)
}

// TestReadAheadReadsAlike: every corpus trace, large generated files whose
// records straddle the read-ahead buffers (records up to the largest
// capture length), the same truncated at random offsets or with a corrupt
// record, and several files as one stream read the same ahead as directly.
func TestReadAheadReadsAlike(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	var recs []testRecord
	size := 0
	for size < 3*aheadChunkSize+aheadHead {
		n := rng.IntN(1600)
		switch rng.IntN(50) {
		case 0:
			n = MaxCaptureLength
		case 1:
			n = aheadChunkSize/2 + rng.IntN(aheadChunkSize/2)
			n = min(n, MaxCaptureLength)
		}
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		recs = append(recs, testRecord{data: data})
		size += 16 + n
	}
	files := map[string][]byte{
		"big.pcap":    pcapFile(binary.LittleEndian, false, 1, recs),
		"big-be.pcap": pcapFile(binary.BigEndian, true, 1, recs),
		"big.pcapng":  pcapngFile(binary.LittleEndian, []ngIface{{linkType: 1}}, recs),
	}
	// A block of an unknown type, larger than every buffer, is skipped
	// unread between two packets.
	pkt := recs[0].data
	n := uint32(len(pkt))
	files["skip.pcapng"] = cat(ngSHB(), ngIDB(1, 0), ngEPB(0, n, n, pkt),
		ngBlock(0x0BAD, make([]byte, 3*aheadChunkSize+aheadHead+12), 0, 0), ngEPB(0, n, n, pkt))
	whole := files["big.pcap"]
	for i := range 6 {
		files[fmt.Sprintf("cut%d.pcap", i)] = whole[:24+rng.IntN(len(whole)-24)]
	}
	corrupt := bytes.Clone(whole)
	off := len(corrupt) / 2
	// The record header at or after the middle gets an impossible length.
	for p := 24; p < len(corrupt); {
		n := int(binary.LittleEndian.Uint32(corrupt[p+8:]))
		if p >= off {
			binary.LittleEndian.PutUint32(corrupt[p+8:], MaxCaptureLength+1)
			break
		}
		p += 16 + n
	}
	files["corrupt.pcap"] = corrupt
	var paths []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
		if n := sameReading(t, name, p); n == 0 {
			t.Fatalf("%s: no frames read", name)
		}
	}
	sameReading(t, "three files", paths[0], paths[1], paths[2])
	if _, ok := testenv.Locate(); ok {
		traces := 0
		for _, c := range testenv.Corpus(t) {
			sameReading(t, c.Name, c.Trace)
			traces++
		}
		t.Logf("%d corpus traces and %d generated files read alike", traces, len(files))
	}
}
