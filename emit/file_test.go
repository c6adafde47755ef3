package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// smallDisk is an outFile on a disk of cap bytes: a write that does not
// fit writes what fits and fails with ENOSPC, as write(2) does.
type smallDisk struct {
	mu   sync.Mutex
	data []byte
	cap  int
	// partials counts the writes that left part of their bytes.
	partials int
}

func (d *smallDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := d.cap - len(d.data)
	if room >= len(p) {
		d.data = append(d.data, p...)
		return len(p), nil
	}
	if room > 0 {
		d.data = append(d.data, p[:room]...)
		d.partials++
	}
	return max(room, 0), &fs.PathError{Op: "write", Path: "records.json", Err: syscall.ENOSPC}
}

func (d *smallDisk) Truncate(size int64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if size < int64(len(d.data)) {
		d.data = d.data[:size]
	}
	return nil
}

func (d *smallDisk) Sync() error                { return nil }
func (d *smallDisk) Close() error               { return nil }
func (d *smallDisk) Stat() (os.FileInfo, error) { return sizeInfo{int64(len(d.data))}, nil }

func (d *smallDisk) setCap(n int) {
	d.mu.Lock()
	d.cap = n
	d.mu.Unlock()
}

func (d *smallDisk) contents() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.data)
}

type sizeInfo struct{ size int64 }

func (s sizeInfo) Name() string       { return "records.json" }
func (s sizeInfo) Size() int64        { return s.size }
func (s sizeInfo) Mode() fs.FileMode  { return 0o644 }
func (s sizeInfo) ModTime() time.Time { return time.Time{} }
func (s sizeInfo) IsDir() bool        { return false }
func (s sizeInfo) Sys() any           { return nil }

// checkWholeLines fails unless data is whole JSON lines, each record once;
// it returns the addresses|ends seen.
func checkWholeLines(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Fatalf("the file ends in a partial line: %q", data[max(0, len(data)-80):])
	}
	seen := map[string]bool{}
	for _, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var doc struct {
			Address string `json:"address"`
			End     string `json:"end_time"`
		}
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatalf("a line is not a whole record: %v: %q", err, line)
		}
		k := doc.Address + "|" + doc.End
		if seen[k] {
			t.Fatalf("record %s written twice", k)
		}
		seen[k] = true
	}
	return seen
}

// A full disk: the file never holds a partial line, the records wait in
// the queue (the oldest dropped and counted past its bound), the health
// says so, and writing resumes when the disk has room again.
func TestFileOutputFullDiskRecovers(t *testing.T) {
	disk := &smallDisk{cap: 30 << 10}
	enc := NewEncoder(FormatJSON, EncoderOptions{})
	sink, err := openFileSink("records.json", enc, FileOptions{}, func(string, int, os.FileMode) (outFile, error) { return disk, nil })
	if err != nil {
		t.Fatal(err)
	}
	var clockMu sync.Mutex
	now := esDay
	clk := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	o := newTestOutput(t, sink, enc, OutputOptions{QueueBytes: 2 << 20, Now: clk})
	var all []aggregate.Interval
	for w := range 12 {
		recs := testRecords(500, esDay.Add(time.Duration(w)*5*time.Minute))
		writeWindow(t, o, recs)
		all = append(all, recs...)
		checkWholeLines(t, disk.contents())
	}
	waitFor(t, "the output reports the full disk", func() bool {
		h := o.Health()
		return h.State != StateDelivering && errors.Is(h.Err, syscall.ENOSPC)
	})
	if disk.partials == 0 {
		t.Fatal("the disk never cut a write short: the test tests nothing")
	}
	checkWholeLines(t, disk.contents())
	dropped := o.Stats().Dropped[DropQueueFull]
	if dropped == 0 {
		t.Errorf("nothing dropped with %d records behind a full disk and a 2 MiB queue", len(all))
	}
	if o.Health().OK() {
		t.Error("healthy while dropping records")
	}

	disk.setCap(1 << 30) // the disk is freed
	flush(t, o)
	seen := checkWholeLines(t, disk.contents())
	st := o.Stats()
	if uint64(len(seen)) != st.Delivered || st.Delivered+st.Dropped[DropQueueFull] != uint64(len(all)) || st.Pending != 0 {
		t.Errorf("%d lines, stats %+v: want delivered = lines and delivered + dropped = %d", len(seen), st, len(all))
	}
	// The newest window is whole.
	for i := len(all) - 500; i < len(all); i++ {
		if !seen[all[i].Address.String()+"|"+string(appendRFC3339(nil, all[i].EndTime))] {
			t.Fatalf("record %d of the newest window missing", i)
		}
	}
	// Within the health window the drops still show; past it, with the
	// disk working, the output is healthy again.
	if h := o.Health(); h.State != StateDropping {
		t.Errorf("health %v right after the drops, want dropping", h.State)
	}
	clockMu.Lock()
	now = now.Add(2 * defaultHealthWindow)
	clockMu.Unlock()
	if h := o.Health(); h.State != StateDelivering || h.Err != nil || !h.OK() {
		t.Errorf("health after recovery: %v %v", h.State, h.Err)
	}
}

// The same on a real, small tmpfs (root only): ENOSPC from the kernel,
// then room again.
func TestFileOutputFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "records.json")
	enc := NewEncoder(FormatJSON, EncoderOptions{})
	sink, err := OpenFile(path, enc, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := newTestOutput(t, sink, enc, OutputOptions{})
	var all []aggregate.Interval
	for w := range 4 { // about 1.9 MB of records (1.6 kB each)
		recs := testRecords(300, esDay.Add(time.Duration(w)*5*time.Minute))
		writeWindow(t, o, recs)
		all = append(all, recs...)
	}
	waitFor(t, "ENOSPC", func() bool { return errors.Is(o.Health().Err, syscall.ENOSPC) })
	data, _ := os.ReadFile(path)
	checkWholeLines(t, data)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	flush(t, o)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, _ = os.ReadFile(path)
	if seen := checkWholeLines(t, data); len(seen) != len(all) {
		t.Errorf("%d records in the file, %d written", len(seen), len(all))
	}
	if st := o.Stats(); st.DroppedTotal() != 0 || st.Delivered != uint64(len(all)) {
		t.Errorf("stats %+v", st)
	}
}
