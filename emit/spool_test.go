package emit

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// dropCounter counts a queue's drops by reason.
type dropCounter struct {
	mu sync.Mutex
	n  [NumDropReasons]int
}

func (d *dropCounter) drop(r DropReason, n int, _ error) {
	if n <= 0 {
		return
	}
	d.mu.Lock()
	d.n[r] += n
	d.mu.Unlock()
}

func (d *dropCounter) get(r DropReason) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n[r]
}

var spoolWindow = time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)

// spoolChunk returns a sealed chunk of n records numbered from first
// (address 10.1.x.y, body "rec N\n"), ending window w when window is set.
func spoolChunk(first, n int, window bool) *chunk {
	c := newChunk()
	for i := first; i < first+n; i++ {
		c.buf = fmt.Appendf(c.buf, "rec %d\n", i)
		c.docs = append(c.docs, Document{Address: netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}),
			Start: spoolWindow, End: spoolWindow.Add(time.Minute), Sensor: "s/1/t"})
		c.ends = append(c.ends, len(c.buf))
	}
	if window {
		c.window, c.start, c.end = true, spoolWindow, spoolWindow.Add(time.Minute)
	}
	c.seal()
	return c
}

func openTestSpool(t *testing.T, dir string, max int64, policy Policy) (*spool, *dropCounter) {
	t.Helper()
	d := &dropCounter{}
	q, err := openSpool(dir, max, policy, d.drop)
	if err != nil {
		t.Fatal(err)
	}
	return q, d
}

// drain reads and acknowledges every batch the spool holds, returning the
// bodies in order and the number of window ends.
func drain(t *testing.T, q *spool) (bodies []string, windows int) {
	t.Helper()
	for !q.idle() {
		b := q.next(context.Background(), 1000, 1<<20)
		if b == nil {
			t.Fatal("next returned nil with records unread")
		}
		for _, d := range b.docs {
			bodies = append(bodies, string(d.Body))
			if d.Sensor != "s/1/t" || d.Start != spoolWindow {
				t.Fatalf("record read back with sensor %q start %v", d.Sensor, d.Start)
			}
		}
		if b.window {
			windows++
		}
		q.ack(b)
	}
	return bodies, windows
}

func wantBodies(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("rec %d\n", i))
	}
	return out
}

// Records put and committed come back in order after a restart; those
// acknowledged before it do not.
func TestSpoolReplaysUnacknowledgedAfterRestart(t *testing.T) {
	dir := t.TempDir()
	q, _ := openTestSpool(t, dir, 1<<20, DropOldest)
	for i := 0; i < 10; i++ {
		if err := q.put(spoolChunk(i*10, 10, i%3 == 2)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.commit(); err != nil {
		t.Fatal(err)
	}
	// Deliver the first batches (up to the first window end).
	b := q.next(context.Background(), 1000, 1<<20)
	if !b.window || len(b.docs) != 30 {
		t.Fatalf("first batch: %d docs, window %v; want 30 ending a window", len(b.docs), b.window)
	}
	q.ack(b)
	b = q.next(context.Background(), 5, 1<<20) // in flight at the "crash"
	if len(b.docs) != 5 {
		t.Fatalf("limited batch has %d docs", len(b.docs))
	}
	if err := q.close(); err != nil {
		t.Fatal(err)
	}

	q2, d := openTestSpool(t, dir, 1<<20, DropOldest)
	defer q2.close()
	if q2.replayedRecords() != 70 {
		t.Errorf("replayed %d records, want 70", q2.replayedRecords())
	}
	got, windows := drain(t, q2)
	if !slices.Equal(got, wantBodies(30, 100)) {
		t.Errorf("replayed %d bodies, want records 30..99 in order: %q…", len(got), got[:min(3, len(got))])
	}
	if windows != 2 {
		t.Errorf("%d window ends replayed, want 2", windows)
	}
	if n := d.get(DropSpoolCorrupt); n != 0 {
		t.Errorf("%d records counted corrupt", n)
	}
}

// The segment files of a spool directory.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*"+spoolSegExt))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// writeSpool puts n records (10 per chunk, a window end every 30) and
// closes the spool, leaving one segment.
func writeSpool(t *testing.T, dir string, n int) string {
	t.Helper()
	q, _ := openTestSpool(t, dir, 1<<20, DropOldest)
	for i := 0; i < n; i += 10 {
		if err := q.put(spoolChunk(i, 10, i%30 == 10)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.close(); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("want one segment, have %v", files)
	}
	return files[0]
}

// entryOffsets lists the offsets of a segment's entries.
func entryOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	var offs []int
	for off := len(spoolMagic); off < len(data); {
		offs = append(offs, off)
		off += spoolEntryHead + int(binary.LittleEndian.Uint32(data[off:]))
	}
	return offs
}

// A crash mid-write leaves a torn last entry: it is cut off and counted,
// the whole entries before it are delivered.
func TestSpoolCutsTornTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
		want   []string
	}{
		{"truncated mid-entry", func(d []byte) []byte { return d[:len(d)-3] }, wantBodies(0, 59)},
		{"truncated mid-header", func(d []byte) []byte {
			offs := entryOffsets(t, d)
			return d[:offs[len(offs)-1]+4]
		}, wantBodies(0, 59)},
		{"zeros appended", func(d []byte) []byte { return append(d, make([]byte, 4096)...) }, wantBodies(0, 60)},
		{"garbage length", func(d []byte) []byte { return append(d, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5) }, wantBodies(0, 60)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			seg := writeSpool(t, dir, 60)
			data, _ := os.ReadFile(seg)
			if err := os.WriteFile(seg, tc.damage(data), 0o600); err != nil {
				t.Fatal(err)
			}
			q, d := openTestSpool(t, dir, 1<<20, DropOldest)
			defer q.close()
			got, _ := drain(t, q)
			if !slices.Equal(got, tc.want) {
				t.Errorf("delivered %d records, want %d", len(got), len(tc.want))
			}
			if n := d.get(DropSpoolCorrupt); n != 1 {
				t.Errorf("%d corrupt regions counted, want 1", n)
			}
			if st, _ := os.Stat(seg); st != nil && st.Size() > int64(len(data)) {
				t.Errorf("the damaged tail was not cut off: %d bytes", st.Size())
			}
		})
	}
}

// A checksum mismatch inside a segment skips that entry only.
func TestSpoolSkipsEntryWithBadChecksum(t *testing.T) {
	dir := t.TempDir()
	seg := writeSpool(t, dir, 60)
	data, _ := os.ReadFile(seg)
	offs := entryOffsets(t, data)
	// Entry 5 is record 5 (window ends come after records 19 and 49):
	// flip a byte of its body.
	bad := offs[5]
	n := binary.LittleEndian.Uint32(data[bad:])
	data[bad+spoolEntryHead+int(n)-2] ^= 0x40
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	q, d := openTestSpool(t, dir, 1<<20, DropOldest)
	defer q.close()
	got, windows := drain(t, q)
	want := slices.Delete(wantBodies(0, 60), 5, 6)
	if !slices.Equal(got, want) {
		t.Errorf("delivered %d records, want 59 without record 5", len(got))
	}
	if windows != 2 {
		t.Errorf("%d window ends, want 2", windows)
	}
	if n := d.get(DropSpoolCorrupt); n != 1 {
		t.Errorf("%d corrupt entries counted, want 1", n)
	}
	// The replayed count includes the lost record, so that pending
	// (replayed − delivered − dropped) ends at zero.
	if q.replayedRecords() != 60 {
		t.Errorf("replayed %d, want 60", q.replayedRecords())
	}
}

// A segment whose magic is damaged holds nothing trustworthy: it is
// removed and counted; a damaged ack file means delivering again from the
// oldest segment.
func TestSpoolDamagedMagicAndAck(t *testing.T) {
	dir := t.TempDir()
	seg := writeSpool(t, dir, 20)
	data, _ := os.ReadFile(seg)
	data[0] = 'X'
	os.WriteFile(seg, data, 0o600)
	os.WriteFile(filepath.Join(dir, spoolAckFile), []byte("garbage garbage garbage"), 0o600)
	q, d := openTestSpool(t, dir, 1<<20, DropOldest)
	got, _ := drain(t, q)
	if len(got) != 0 || d.get(DropSpoolCorrupt) != 1 {
		t.Errorf("damaged segment: delivered %d, %d counted corrupt; want 0 and 1", len(got), d.get(DropSpoolCorrupt))
	}
	q.close()
}

// Past its bound the spool drops its oldest segments, counting every
// undelivered record in them, and stays within the bound.
func TestSpoolDropsOldestPastItsBound(t *testing.T) {
	dir := t.TempDir()
	const bound = 4 << 20 // segments of 1 MiB
	q, d := openTestSpool(t, dir, bound, DropOldest)
	defer q.close()
	body := bytes.Repeat([]byte("x"), 1000)
	put := 0
	for put < 20000 { // about 20 MB
		c := newChunk()
		for range 100 {
			c.buf = fmt.Appendf(c.buf, "%08d", put)
			c.buf = append(c.buf, body...)
			c.docs = append(c.docs, Document{Address: netip.MustParseAddr("10.0.0.1"), Start: spoolWindow, End: spoolWindow, Sensor: "s/1/t"})
			c.ends = append(c.ends, len(c.buf))
			put++
		}
		c.seal()
		if err := q.put(c); err != nil {
			t.Fatal(err)
		}
		if _, disk := q.size(); disk > bound {
			t.Fatalf("spool holds %d bytes, bound %d", disk, bound)
		}
	}
	var got []string
	for !q.idle() {
		b := q.next(context.Background(), 1000, 1<<20)
		for _, doc := range b.docs {
			got = append(got, string(doc.Body[:8]))
		}
		q.ack(b)
	}
	dropped := d.get(DropSpoolFull)
	if dropped+len(got) != put {
		t.Errorf("%d dropped + %d delivered != %d put", dropped, len(got), put)
	}
	if dropped == 0 || len(got) == 0 {
		t.Fatalf("dropped %d, kept %d", dropped, len(got))
	}
	// What is left is the newest, in order.
	for i, s := range got {
		if want := fmt.Sprintf("%08d", dropped+i); s != want {
			t.Fatalf("record %d is %s, want %s", i, s, want)
		}
	}
}

// A batch in flight when the bound drops its segment is abandoned: the
// sender counts it unless it was delivered, and its ack moves nothing.
func TestSpoolAbandonsBatchInFlight(t *testing.T) {
	dir := t.TempDir()
	q, d := openTestSpool(t, dir, 2<<20, DropOldest) // segments of 1 MiB
	defer q.close()
	big := func(first int) *chunk {
		c := newChunk()
		for i := first; i < first+100; i++ {
			c.buf = append(c.buf, bytes.Repeat([]byte{'a' + byte(i%26)}, 4000)...)
			c.docs = append(c.docs, Document{Address: netip.MustParseAddr("10.0.0.2"), Start: spoolWindow, End: spoolWindow, Sensor: "s/1/t"})
			c.ends = append(c.ends, len(c.buf))
		}
		c.seal()
		return c
	}
	q.put(big(0))
	b := q.next(context.Background(), 10, 1<<20)
	if len(b.docs) != 10 {
		t.Fatalf("batch of %d", len(b.docs))
	}
	for i := 1; i <= 10; i++ { // 4 MB more: the first segment goes
		q.put(big(i * 100))
	}
	if !q.abandoned(b) {
		t.Fatal("the in-flight batch's segment was dropped but the batch is not abandoned")
	}
	if n := d.get(DropSpoolFull); n%100 != 90 {
		t.Errorf("%d counted dropped: the 10 in flight must be left to the sender", n)
	}
	q.ack(b)
	if q.roff < int64(len(spoolMagic)) || q.rrec != 0 {
		t.Errorf("acknowledging an abandoned batch moved the reader to %d (%d records)", q.roff, q.rrec)
	}
}

// Under the Block policy a full spool makes put wait for the reader.
func TestSpoolBlockPolicyWaits(t *testing.T) {
	dir := t.TempDir()
	q, d := openTestSpool(t, dir, 2<<20, Block)
	defer q.close()
	body := bytes.Repeat([]byte("y"), 3000)
	put := func(i int) {
		c := newChunk()
		for range 100 {
			c.buf = append(c.buf, body...)
			c.docs = append(c.docs, Document{Address: netip.MustParseAddr("10.0.0.3"), Start: spoolWindow, End: spoolWindow, Sensor: "s/1/t"})
			c.ends = append(c.ends, len(c.buf))
		}
		c.seal()
		q.put(c)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 30 { // 9 MB through a 2 MiB spool
			put(i)
		}
	}()
	got := 0
	for got < 3000 {
		b := q.next(context.Background(), 500, 1<<20)
		if b == nil {
			t.Fatal("next returned nil")
		}
		got += len(b.docs)
		q.ack(b)
		if _, disk := q.size(); disk > 2<<20 {
			t.Fatalf("spool holds %d bytes", disk)
		}
	}
	<-done
	if n := d.get(DropSpoolFull); n != 0 {
		t.Errorf("Block dropped %d records", n)
	}
}

// Every window end is fsynced (commit), and a second process cannot open
// the same spool.
func TestSpoolCommitAndLock(t *testing.T) {
	dir := t.TempDir()
	q, _ := openTestSpool(t, dir, 1<<20, DropOldest)
	if _, err := openSpool(dir, 1<<20, DropOldest, func(DropReason, int, error) {}); err == nil {
		t.Error("a second open of a spool in use succeeded")
	}
	q.put(spoolChunk(0, 5, true))
	if !q.dirty {
		t.Error("not dirty after a put")
	}
	if err := q.commit(); err != nil {
		t.Fatal(err)
	}
	if q.dirty {
		t.Error("still dirty after commit")
	}
	q.close()
	// Everything was delivered? No: closing keeps the 5 records.
	q2, _ := openTestSpool(t, dir, 1<<20, DropOldest)
	got, _ := drain(t, q2)
	if len(got) != 5 {
		t.Errorf("replayed %d, want 5", len(got))
	}
	q2.close()
	// Wholly delivered: the directory keeps no segment.
	if files := segmentFiles(t, dir); len(files) != 0 {
		t.Errorf("segments left after everything was delivered: %v", files)
	}
}

// readSegment reads a segment's bytes as the delivery goroutine does,
// through a window of window bytes that slides over it, and returns the
// records it decodes.
func readSegment(t *testing.T, data []byte, size int64, window int) int {
	records := 0
	off := int64(len(spoolMagic))
	for steps := 0; off < size; steps++ {
		if steps > len(data)+10 {
			t.Fatal("the reader does not advance")
		}
		end := min(off+int64(window), size)
		sr := segmentReader{buf: data[off:end], base: off, off: off, size: size}
		kind, payload, next, status := sr.entry()
		for status == entryShort { // the delivery goroutine reads it whole
			if next <= off {
				t.Fatalf("a short entry at %d needs %d", off, next)
			}
			end = min(max(next, end), size)
			sr = segmentReader{buf: data[off:end], base: off, off: off, size: size}
			kind, payload, next, status = sr.entry()
		}
		switch status {
		case entryTorn:
			t.Fatalf("a torn entry at %d inside the valid size %d", off, size)
		case entryOK:
			if kind == entryRecord {
				if _, _, ok := decodeRecordEntry(payload); ok {
					records++
				}
			}
		}
		if next <= off {
			t.Fatalf("entry at %d goes back to %d", off, next)
		}
		off = next
	}
	return records
}

// FuzzSegmentReader feeds arbitrary bytes to the recovery scan and to the
// windowed reader: no panic, no loop, and both find the same records in
// the part the scan keeps.
func FuzzSegmentReader(f *testing.F) {
	var seed []byte
	seed = append(seed, spoolMagic...)
	c := spoolChunk(0, 3, true)
	for i := range c.docs {
		seed = appendRecordEntry(seed, &c.docs[i])
	}
	seed = appendWindowEntry(seed, c.start, c.end)
	f.Add(seed, 64)
	f.Add(seed[:len(seed)-5], 7)
	f.Add([]byte(spoolMagic), 1)
	f.Add(append([]byte(spoolMagic), 1, 0, 0, 0, 0, 0, 0, 0, 'R'), 16)
	f.Fuzz(func(t *testing.T, data []byte, window int) {
		window = 1 + (window&0xffff)%4096
		records, size, _ := scanSegment(data, -1)
		if size > int64(len(data)) || (size > 0 && size < int64(len(spoolMagic))) {
			t.Fatalf("valid size %d of %d bytes", size, len(data))
		}
		if size == 0 {
			return
		}
		if got := readSegment(t, data, size, window); got != records {
			t.Fatalf("the reader found %d records, the scan %d", got, records)
		}
	})
}
