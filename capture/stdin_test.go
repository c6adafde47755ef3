package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// withStdin makes os.Stdin a pipe fed with data for the test.
func withStdin(t *testing.T, data []byte) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = w.Write(data)
		_ = w.Close()
	}()
	saved := os.Stdin
	os.Stdin = r
	t.Cleanup(func() {
		os.Stdin = saved
		_ = r.Close()
	})
}

// "-" reads a capture (gzip too) from standard input, between files, and
// leaves standard input open.
func TestOpenFilesStdin(t *testing.T) {
	recs := testRecords(t)
	a := writeTemp(t, "a.pcap", pcapFile(binary.LittleEndian, false, 1, recs[:1]))
	withStdin(t, gzipped(pcapngFile(binary.BigEndian, []ngIface{{linkType: 1}}, recs[1:])))
	src, err := OpenFiles(a, StdinPath)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := readAll(t, src)
	if err != io.EOF || len(frames) != len(recs) {
		t.Fatalf("%d frames (want %d), end %v", len(frames), len(recs), err)
	}
	if frames[len(frames)-1].Origin != stdinName {
		t.Errorf("origin %q, want %q", frames[len(frames)-1].Origin, stdinName)
	}
	if p, ok := src.(Progress); !ok || p.TotalBytes() != 0 {
		t.Errorf("total size of an input with standard input: want 0 (unknown)")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stdin.Stat(); err != nil {
		t.Errorf("standard input closed by the source: %v", err)
	}
}

func TestOpenFilesStdinErrors(t *testing.T) {
	if _, err := OpenFiles(StdinPath, StdinPath); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("stdin twice: %v", err)
	}
	recs := testRecords(t)
	data := pcapFile(binary.LittleEndian, false, 1, recs)
	withStdin(t, data[:len(data)-3])
	src, err := OpenFiles(StdinPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = readAll(t, src)
	var fe *FileError
	if !errors.As(err, &fe) || fe.Path != stdinName || !strings.Contains(err.Error(), "standard input: offset") {
		t.Errorf("truncated standard input: %v, want a FileError naming standard input and the offset", err)
	}
}
