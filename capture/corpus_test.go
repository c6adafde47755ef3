package capture

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sharedDir returns the shared data directory: $NETBASED_SHARED, or
// <repo root>/../shared. It fails the test when the directory is missing.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("NETBASED_SHARED")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatalf("getwd: %v", err)
		}
		root := wd
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatalf("no go.mod above %s; set NETBASED_SHARED", wd)
			}
			root = parent
		}
		dir = filepath.Join(root, "..", "shared")
	}
	if st, err := os.Stat(filepath.Join(dir, "testdata", "zeek")); err != nil || !st.IsDir() {
		t.Fatalf("shared test data not found at %s (set NETBASED_SHARED): %v", dir, err)
	}
	return dir
}

type manifestRow struct {
	packets         int
	encap           string
	ignoreChecksums bool
}

func readManifest(t *testing.T, path string) map[string]manifestRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	rows := map[string]manifestRow{}
	var cols map[string]int
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if cols == nil {
			cols = map[string]int{}
			for i, c := range fields {
				cols[c] = i
			}
			continue
		}
		n, _ := strconv.Atoi(fields[cols["packets"]])
		rows[fields[cols["test"]]] = manifestRow{
			packets:         n,
			encap:           fields[cols["encapsulation"]],
			ignoreChecksums: strings.Contains(fields[cols["netbased_args"]], "--ignore-checksums"),
		}
	}
	if len(rows) == 0 {
		t.Fatalf("manifest %s is empty", path)
	}
	return rows
}

type traceCounts struct {
	frames, packets, tunnel, errs int
	reasons                      map[string]int
}

func decodeTrace(t *testing.T, path string, opts DecoderOptions) traceCounts {
	t.Helper()
	src, err := OpenFiles(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer src.Close()
	dec := NewDecoder(opts)
	var out []Packet
	c := traceCounts{reasons: map[string]int{}}
	for {
		fr, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next after %d frames: %v", c.frames, err)
		}
		c.frames++
		out, err = dec.Decode(fr, out[:0])
		if err != nil {
			c.errs++
			var de *DecodeError
			if errors.As(err, &de) {
				c.reasons[de.Reason]++
			} else {
				t.Errorf("frame %d: non-DecodeError %v", c.frames, err)
			}
		}
		for i := range out {
			c.packets++
			if out[i].TunnelDepth > 0 {
				c.tunnel++
			}
		}
	}
	return c
}

// TestCorpus decodes every trace of the Zeek ground truth.
func TestCorpus(t *testing.T) {
	base := filepath.Join(sharedDir(t), "testdata", "zeek")
	manifest := readManifest(t, filepath.Join(base, "MANIFEST.tsv"))
	total := 0
	for name, row := range manifest {
		dir := filepath.Join(base, name)
		trace := filepath.Join(dir, "trace.pcap")
		if _, err := os.Stat(trace); err != nil {
			trace = filepath.Join(dir, "trace.pcapng")
		}
		t.Run(name, func(t *testing.T) {
			c := decodeTrace(t, trace, DecoderOptions{IgnoreChecksums: row.ignoreChecksums})
			if c.frames != row.packets {
				t.Errorf("frames = %d, MANIFEST packets = %d", c.frames, row.packets)
			}
			if c.packets == 0 {
				t.Errorf("no packets decoded")
			}
			t.Logf("%-60s encap=%-22s frames=%5d packets=%5d tunnel=%4d errors=%d %v",
				name, row.encap, c.frames, c.packets, c.tunnel, c.errs, c.reasons)
		})
		total++
	}
	if total < 80 {
		t.Fatalf("only %d traces in manifest", total)
	}
}
