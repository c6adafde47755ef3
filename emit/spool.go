package emit

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The disk spool of a remote output: a directory of append-only segment
// files. Each segment starts with spoolMagic; then come entries, each
//
//	length uint32 | crc32c(payload) uint32 | payload (length bytes)
//
// in little-endian order. A payload is a record
//
//	'R' | start ns int64 | end ns int64 | address length (4 or 16) | address |
//	uvarint sensor length | sensor | body
//
// or a window end 'W' | start ns int64 | end ns int64. The writer appends
// whole chunks with one write, fsyncs at every window end (commit), and
// starts a new segment past segmentBytes and at every start. The reader
// (the delivery goroutine) reads from the acknowledged position; the
// position is kept in the file "ack" (segment, offset, crc32c) and
// segments wholly delivered are deleted. On start, segments are checked
// entry by entry: a torn or corrupt tail is cut off, a corrupt entry
// inside a segment is skipped, both counted as DropSpoolCorrupt; the rest
// is delivered again (a record delivered just before a crash may be
// delivered twice: back ends key records by DocumentID). A lock file keeps
// two processes out of one spool.
const (
	spoolMagic     = "NBSPOOL1"
	spoolEntryHead = 8
	spoolAckFile   = "ack"
	spoolLockFile  = "lock"
	spoolSegExt    = ".seg"
	// maxSpoolEntry bounds an entry's payload (a record and its header).
	maxSpoolEntry  = MaxRecordBytes + 1<<10
	entryRecord    = 'R'
	entryWindowEnd = 'W'
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errSpoolBusy says another output (of this process, until a reload's
// old output is closed, or of another process) holds the spool.
var errSpoolBusy = errors.New("in use by another output")

// spoolPath is the spool directory of one output: the kind and a hash of
// the (redacted) destination, so that outputs sharing --spool-dir keep
// apart and a restarted output finds its own spool.
func spoolPath(dir, kind, dest string) string {
	sum := sha256.Sum256([]byte(dest))
	return filepath.Join(dir, kind+"-"+hex.EncodeToString(sum[:6]))
}

// segmentBytes is the size past which the writer starts a new segment: an
// eighth of the bound (drops come a segment at a time), within [1, 64] MiB.
func segmentBytes(bound int64) int64 {
	return min(max(bound/8, 1<<20), 64<<20)
}

// spoolSegment is one segment file's bookkeeping.
type spoolSegment struct {
	id      uint64
	size    int64 // bytes of whole entries (and the magic)
	records int   // record entries in it
}

// spool is a queue backed by a spool directory.
type spool struct {
	dir    string
	max    int64
	segMax int64
	policy Policy
	drop   func(DropReason, int, error)

	queueCore
	lock     *os.File
	segs     []spoolSegment // oldest first; the last is being written
	total    int64          // bytes of every segment
	w        *os.File       // the last segment
	dirty    bool           // written since the last commit
	newSegs  bool           // segments created since the last commit
	wbuf     []byte
	r        *os.File // the reader's segment file
	rid      uint64   // … its id
	roff     int64    // the acknowledged offset in segs[0]
	rrec     int      // records acknowledged in segs[0]
	rbuf     []byte
	ackFile  *os.File
	inflight *batch
	replayed uint64
	sensor   string // the last sensor read back (shared by its records)
	b        batch
}

// openSpool opens (creating) the spool at dir, checks its segments and
// prepares what they hold for delivery.
func openSpool(dir string, maxBytes int64, policy Policy, drop func(DropReason, int, error)) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, spoolLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool %s: %w", dir, errSpoolBusy)
		}
		return nil, fmt.Errorf("spool %s: locking: %w", dir, err)
	}
	q := &spool{dir: dir, max: maxBytes, segMax: segmentBytes(maxBytes), policy: policy, drop: drop, lock: lock}
	q.init(2)
	if err := q.recover(); err != nil {
		q.closeFiles()
		return nil, err
	}
	return q, nil
}

func (q *spool) segPath(id uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%016x%s", id, spoolSegExt))
}

// recover reads the acknowledged position, checks every segment, deletes
// the delivered ones and opens a new segment for writing.
func (q *spool) recover() error {
	ack, err := os.OpenFile(filepath.Join(q.dir, spoolAckFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	q.ackFile = ack
	ackSeg, ackOff, ackOK := readAck(ack)
	names, err := os.ReadDir(q.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var ids []uint64
	for _, e := range names {
		stem, ok := strings.CutSuffix(e.Name(), spoolSegExt)
		if !ok || len(stem) != 16 {
			continue
		}
		id, err := strconv.ParseUint(stem, 16, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var next uint64 = 1
	q.roff = int64(len(spoolMagic))
	for _, id := range ids {
		next = max(next, id+1)
		if ackOK && id < ackSeg {
			_ = os.Remove(q.segPath(id)) // delivered
			continue
		}
		ackAt := int64(-1)
		if ackOK && id == ackSeg && len(q.segs) == 0 {
			ackAt = ackOff
		}
		seg, c, err := q.check(id, ackAt)
		if err != nil {
			return err
		}
		// Corrupt regions count as replayed records that were lost.
		q.replayed += uint64(c.corrupt)
		q.drop(DropSpoolCorrupt, c.corrupt, fmt.Errorf("spool segment %s was damaged (a crash or a disk fault)", q.segPath(id)))
		if seg.records == 0 {
			_ = os.Remove(q.segPath(id))
			continue
		}
		if len(q.segs) == 0 && c.ackBoundary {
			// Resume at the acknowledged offset (else from the start of
			// the segment: delivered again).
			q.roff, q.rrec = ackAt, c.before
		}
		q.segs = append(q.segs, seg)
		q.total += seg.size
	}
	for _, s := range q.segs {
		q.replayed += uint64(s.records)
	}
	q.replayed -= uint64(q.rrec)
	if len(q.segs) == 0 {
		q.roff, q.rrec = int64(len(spoolMagic)), 0
	}
	return q.newSegment(next)
}

// readAck reads the acknowledged position.
func readAck(f *os.File) (seg uint64, off int64, ok bool) {
	var b [20]byte
	if _, err := f.ReadAt(b[:], 0); err != nil {
		return 0, 0, false
	}
	if crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[:8]), int64(binary.LittleEndian.Uint64(b[8:16])), true
}

// writeAck records the acknowledged position (made durable at the next
// commit; a lost update only means records delivered again).
func (q *spool) writeAck() {
	var b [20]byte
	var seg uint64
	if len(q.segs) > 0 {
		seg = q.segs[0].id
	}
	binary.LittleEndian.PutUint64(b[:8], seg)
	binary.LittleEndian.PutUint64(b[8:16], uint64(q.roff))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	_, _ = q.ackFile.WriteAt(b[:], 0)
}

// checked is what check found in a segment besides its bookkeeping.
type checked struct {
	corrupt     int  // corrupt regions (entries skipped, a tail cut off)
	ackBoundary bool // the acknowledged offset is an entry boundary
	before      int  // records before it
}

// check scans segment id: it cuts a torn or corrupt tail off, counts the
// records and the corrupt regions, and, when ackAt >= 0, the records
// before offset ackAt.
func (q *spool) check(id uint64, ackAt int64) (spoolSegment, checked, error) {
	seg := spoolSegment{id: id}
	var c checked
	data, err := os.ReadFile(q.segPath(id))
	if err != nil {
		return seg, c, fmt.Errorf("spool: %w", err)
	}
	seg.records, seg.size, c = scanSegment(data, ackAt)
	if seg.size < int64(len(data)) && seg.size >= int64(len(spoolMagic)) {
		if err := os.Truncate(q.segPath(id), seg.size); err != nil {
			return seg, c, fmt.Errorf("spool: cutting the damaged tail off %s: %w", q.segPath(id), err)
		}
	}
	return seg, c, nil
}

// scanSegment checks a segment's bytes entry by entry: the records, the
// size of its valid part (0 when the magic is wrong), and what it found
// (corrupt regions, the records before offset ackAt when it is an entry
// boundary).
func scanSegment(data []byte, ackAt int64) (records int, size int64, c checked) {
	if len(data) < len(spoolMagic) || string(data[:len(spoolMagic)]) != spoolMagic {
		if len(data) > 0 {
			c.corrupt++
		}
		return 0, 0, c
	}
	sr := segmentReader{buf: data, size: int64(len(data)), off: int64(len(spoolMagic))}
	for sr.off < sr.size {
		if sr.off == ackAt {
			c.ackBoundary, c.before = true, records
		}
		kind, payload, next, status := sr.entry()
		if status == entryOK && kind == entryRecord {
			if _, _, ok := decodeRecordEntry(payload); !ok {
				status = entryCorrupt
			}
		}
		if status == entryOK {
			if kind == entryRecord {
				records++
			}
		} else {
			c.corrupt++
		}
		if status == entryTorn {
			break
		}
		sr.off = next
	}
	if sr.off == ackAt {
		c.ackBoundary, c.before = true, records
	}
	return records, sr.off, c
}

// newSegment starts segment id for writing.
func (q *spool) newSegment(id uint64) error {
	f, err := os.OpenFile(q.segPath(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.Write([]byte(spoolMagic)); err != nil {
		f.Close()
		_ = os.Remove(q.segPath(id))
		return fmt.Errorf("spool: %w", err)
	}
	if q.w != nil {
		_ = q.w.Sync()
		q.w.Close()
	}
	q.w = f
	q.segs = append(q.segs, spoolSegment{id: id, size: int64(len(spoolMagic))})
	q.total += int64(len(spoolMagic))
	q.newSegs, q.dirty = true, true
	return nil
}

func (q *spool) replayedRecords() uint64 { return q.replayed }

// put appends the chunk's entries to the spool in one write and recycles
// the chunk.
func (q *spool) put(c *chunk) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	defer q.recycleLocked(c)
	b := q.wbuf[:0]
	for i := range c.docs {
		b = appendRecordEntry(b, &c.docs[i])
	}
	if c.window {
		b = appendWindowEntry(b, c.start, c.end)
	}
	q.wbuf = b[:0]
	if len(b) == 0 {
		return nil
	}
	need := int64(len(b))
	if need+int64(len(spoolMagic)) > q.max {
		q.drop(DropSpoolFull, len(c.docs), fmt.Errorf("%d bytes of records do not fit a spool of %d bytes", need, q.max))
		return nil
	}
	if q.segs[len(q.segs)-1].size >= q.segMax {
		if err := q.newSegment(q.segs[len(q.segs)-1].id + 1); err != nil {
			q.drop(DropSpoolWrite, len(c.docs), err)
			return nil
		}
	}
	for q.total+need > q.max {
		if q.policy == Block && !q.inputClosed && q.unreadLocked() {
			q.cond.Wait()
			continue
		}
		if !q.dropOldestLocked() {
			break
		}
	}
	last := &q.segs[len(q.segs)-1]
	n, err := q.w.Write(b)
	if err != nil {
		if n > 0 {
			if terr := q.w.Truncate(last.size); terr != nil {
				err = errors.Join(err, terr)
			}
		}
		q.drop(DropSpoolWrite, len(c.docs), fmt.Errorf("writing the spool: %w", err))
		return nil
	}
	last.size += need
	last.records += len(c.docs)
	q.total += need
	q.dirty = true
	q.cond.Broadcast()
	return nil
}

// dropOldestLocked deletes the oldest segment to make room, counting its
// undelivered records as dropped; when only the segment being written is
// left, a new one is started first. It reports whether it freed anything.
func (q *spool) dropOldestLocked() bool {
	if len(q.segs) == 1 {
		if q.segs[0].size <= int64(len(spoolMagic)) {
			return false
		}
		if err := q.newSegment(q.segs[0].id + 1); err != nil {
			return false
		}
	}
	old := q.segs[0]
	lost := old.records - q.rrec
	if q.inflight != nil && q.inflight.seg == old.id {
		q.inflight.abandoned = true
		lost -= q.inflight.records // counted by the sender unless delivered
	}
	q.drop(DropSpoolFull, lost, fmt.Errorf("the spool reached its bound of %d bytes: the back end does not keep up", q.max))
	q.removeFirstLocked()
	return true
}

// removeFirstLocked deletes the first segment and moves the reader to
// the next.
func (q *spool) removeFirstLocked() {
	old := q.segs[0]
	if q.r != nil && q.rid == old.id {
		q.r.Close()
		q.r = nil
	}
	_ = os.Remove(q.segPath(old.id))
	q.total -= old.size
	q.segs = slices.Delete(q.segs, 0, 1)
	q.roff, q.rrec = int64(len(spoolMagic)), 0
	q.writeAck()
	q.cond.Broadcast()
}

// commit fsyncs what was written since the last commit (and the
// directory when segments were created) and the acknowledged position.
func (q *spool) commit() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.dirty {
		return nil
	}
	var err error
	if q.w != nil {
		err = q.w.Sync()
	}
	if q.newSegs {
		if d, derr := os.Open(q.dir); derr == nil {
			err = errors.Join(err, d.Sync())
			d.Close()
		}
		q.newSegs = false
	}
	err = errors.Join(err, q.ackFile.Sync())
	q.dirty = false
	if err != nil {
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	return nil
}

// unreadLocked reports whether the spool holds entries past the reader.
func (q *spool) unreadLocked() bool {
	return len(q.segs) > 1 || q.roff < q.segs[0].size
}

// next reads the next batch from the acknowledged position: records up to
// the limits, ending at a window end or the segment's end.
func (q *spool) next(ctx context.Context, maxDocs, maxBytes int) *batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if ctx.Err() != nil {
			return nil
		}
		// Step past a wholly read segment that is not being written.
		for len(q.segs) > 1 && q.roff >= q.segs[0].size {
			q.removeFirstLocked()
		}
		if q.unreadLocked() {
			break
		}
		if q.inputClosed {
			return nil
		}
		q.cond.Wait()
	}
	seg := q.segs[0]
	if q.r == nil || q.rid != seg.id {
		if q.r != nil {
			q.r.Close()
		}
		f, err := os.Open(q.segPath(seg.id))
		if err != nil { // deleted under us: count and skip it
			q.drop(DropSpoolCorrupt, seg.records-q.rrec, fmt.Errorf("reading the spool: %w", err))
			q.removeFirstLocked()
			q.r = nil
			return q.emptyBatch()
		}
		q.r, q.rid = f, seg.id
	}
	b := &q.b
	b.docs, b.window, b.settled, b.abandoned, b.records = b.docs[:0], false, 0, false, 0
	b.seg, b.from = seg.id, q.roff
	want := min(int64(maxBytes)+1<<16, seg.size-q.roff)
	if !q.fill(q.roff, want) {
		return q.emptyBatch()
	}
	sr := segmentReader{buf: q.rbuf, base: q.roff, off: q.roff, size: seg.size}
	bytes := 0
	for sr.off < seg.size && len(b.docs) < maxDocs && (bytes < maxBytes || len(b.docs) == 0) {
		kind, payload, next, status := sr.entry()
		if status == entryShort {
			if sr.off > b.from {
				break // the next batch starts with it
			}
			// One entry larger than the buffer: read it whole.
			if !q.fill(sr.off, min(max(next-sr.off, want), seg.size-sr.off)) {
				return q.emptyBatch()
			}
			sr = segmentReader{buf: q.rbuf, base: sr.off, off: sr.off, size: seg.size}
			continue
		}
		if status == entryTorn { // not in a checked segment: skip the rest
			q.drop(DropSpoolCorrupt, seg.records-q.rrec-b.records, fmt.Errorf("spool segment %s is damaged", q.segPath(seg.id)))
			b.records = seg.records - q.rrec
			sr.off = seg.size
			break
		}
		sr.off = next
		if status == entryCorrupt { // counted when the spool was opened
			continue
		}
		if kind == entryWindowEnd {
			b.window = true
			b.start, b.end = entryWindow(payload)
			break
		}
		d, ok := q.decodeRecord(payload)
		if !ok { // counted when the spool was opened
			continue
		}
		b.records++
		b.docs = append(b.docs, d)
		bytes += len(d.Body)
	}
	b.to = sr.off
	q.inflight = b
	return b
}

// fill reads n bytes of the reader's segment at off into rbuf; on a read
// error the segment's undelivered records are counted lost and it is
// skipped.
func (q *spool) fill(off, n int64) bool {
	q.rbuf = slices.Grow(q.rbuf[:0], int(n))[:n]
	if _, err := q.r.ReadAt(q.rbuf, off); err != nil {
		seg := q.segs[0]
		q.drop(DropSpoolCorrupt, seg.records-q.rrec, fmt.Errorf("reading the spool: %w", err))
		if len(q.segs) > 1 {
			q.removeFirstLocked()
		} else {
			q.roff, q.rrec = seg.size, seg.records
		}
		return false
	}
	return true
}

// emptyBatch is a batch with nothing to send (the sender acks it).
func (q *spool) emptyBatch() *batch {
	b := &q.b
	b.docs, b.window, b.settled, b.abandoned, b.records = b.docs[:0], false, 0, true, 0
	q.inflight = b
	return b
}

func (q *spool) ack(b *batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.inflight = nil
	if b.abandoned || len(q.segs) == 0 || q.segs[0].id != b.seg || q.roff != b.from {
		return
	}
	q.roff = b.to
	q.rrec += b.records
	if len(q.segs) > 1 && q.roff >= q.segs[0].size {
		q.removeFirstLocked()
	} else {
		q.writeAck()
	}
	q.cond.Broadcast()
}

func (q *spool) unread(*batch) {
	q.mu.Lock()
	q.inflight = nil
	q.mu.Unlock()
}

func (q *spool) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inflight == nil && (len(q.segs) == 0 || !q.unreadLocked())
}

func (q *spool) abandoned(b *batch) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return b.abandoned
}

func (q *spool) size() (int64, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return int64(cap(q.rbuf)), q.total
}

// close makes everything durable and releases the files; undelivered
// records stay for the next start.
func (q *spool) close() error {
	err := q.commit()
	q.mu.Lock()
	defer q.mu.Unlock()
	// A wholly delivered spool leaves only its empty last segment: remove
	// it so that an idle spool directory holds no segment.
	if len(q.segs) == 1 && q.roff >= q.segs[0].size {
		q.w.Close()
		q.w = nil
		_ = os.Remove(q.segPath(q.segs[0].id))
		q.segs = nil
		q.roff = 0
		q.writeAck()
		err = errors.Join(err, q.ackFile.Sync())
	}
	q.closeFiles()
	return err
}

func (q *spool) closeFiles() {
	for _, f := range []*os.File{q.w, q.r, q.ackFile, q.lock} {
		if f != nil {
			f.Close()
		}
	}
	q.w, q.r, q.ackFile, q.lock = nil, nil, nil, nil
}

// appendEntryWindow appends the start of an entry of kind: room for its
// length and checksum (sealEntry), the kind and the window's bounds.
func appendEntryWindow(b []byte, kind byte, start, end time.Time) []byte {
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0, kind)
	b = binary.LittleEndian.AppendUint64(b, uint64(start.UnixNano()))
	return binary.LittleEndian.AppendUint64(b, uint64(end.UnixNano()))
}

// entryWindow reads the window's bounds after the kind of a payload that
// has them (17 bytes or more).
func entryWindow(p []byte) (start, end time.Time) {
	return time.Unix(0, int64(binary.LittleEndian.Uint64(p[1:9]))).UTC(),
		time.Unix(0, int64(binary.LittleEndian.Uint64(p[9:17]))).UTC()
}

// appendRecordEntry appends d as a record entry.
func appendRecordEntry(b []byte, d *Document) []byte {
	start := len(b)
	b = appendEntryWindow(b, entryRecord, d.Start, d.End)
	if d.Address.Is4() {
		a := d.Address.As4()
		b = append(b, 4)
		b = append(b, a[:]...)
	} else {
		a := d.Address.As16()
		b = append(b, 16)
		b = append(b, a[:]...)
	}
	b = binary.AppendUvarint(b, uint64(len(d.Sensor)))
	b = append(b, d.Sensor...)
	b = append(b, d.Body...)
	return sealEntry(b, start)
}

// appendWindowEntry appends a window end entry.
func appendWindowEntry(b []byte, start, end time.Time) []byte {
	s := len(b)
	return sealEntry(appendEntryWindow(b, entryWindowEnd, start, end), s)
}

// sealEntry fills in the length and checksum of the entry at b[start:].
func sealEntry(b []byte, start int) []byte {
	payload := b[start+spoolEntryHead:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

// decodeRecord reads a record entry's payload back into a document whose
// Body points into p.
func (q *spool) decodeRecord(p []byte) (Document, bool) {
	d, sensor, ok := decodeRecordEntry(p)
	if !ok {
		return d, false
	}
	if string(sensor) != q.sensor {
		q.sensor = string(sensor)
	}
	d.Sensor = q.sensor
	return d, true
}

// decodeRecordEntry parses a record payload; sensor points into p.
func decodeRecordEntry(p []byte) (d Document, sensor []byte, ok bool) {
	if len(p) < 1+16+1 || p[0] != entryRecord {
		return d, nil, false
	}
	d.Start, d.End = entryWindow(p)
	rest := p[17:]
	switch n := int(rest[0]); {
	case n == 4 && len(rest) >= 5:
		d.Address = netip.AddrFrom4([4]byte(rest[1:5]))
		rest = rest[5:]
	case n == 16 && len(rest) >= 17:
		d.Address = netip.AddrFrom16([16]byte(rest[1:17]))
		rest = rest[17:]
	default:
		return d, nil, false
	}
	sl, k := binary.Uvarint(rest)
	if k <= 0 || sl > uint64(len(rest)-k) {
		return d, nil, false
	}
	sensor = rest[k : k+int(sl)]
	d.Body = rest[k+int(sl):]
	return d, sensor, true
}

// Entry states of segmentReader.entry.
const (
	entryOK      = iota
	entryCorrupt // a checksum mismatch or an unknown kind: skip it
	entryTorn    // the length runs past the segment or is not sane: stop
	entryShort   // the entry runs past the buffer (not the segment)
)

// segmentReader reads the entries of one segment from buf, which holds
// the segment's bytes from offset base.
type segmentReader struct {
	buf  []byte
	base int64
	off  int64
	size int64 // the segment's valid size
}

// read returns the n bytes at off, and the entry state when they are not
// all there.
func (sr *segmentReader) read(off int64, n int) ([]byte, int) {
	if off+int64(n) > sr.size {
		return nil, entryTorn
	}
	if off < sr.base || off+int64(n) > sr.base+int64(len(sr.buf)) {
		return nil, entryShort
	}
	return sr.buf[off-sr.base : off-sr.base+int64(n)], entryOK
}

// entry reads the entry at sr.off: its kind, payload and the next offset.
func (sr *segmentReader) entry() (kind byte, payload []byte, next int64, status int) {
	head, st := sr.read(sr.off, spoolEntryHead)
	if st != entryOK {
		return 0, nil, sr.off + spoolEntryHead, st
	}
	n := binary.LittleEndian.Uint32(head)
	sum := binary.LittleEndian.Uint32(head[4:])
	if n == 0 || n > maxSpoolEntry {
		return 0, nil, sr.off, entryTorn
	}
	next = sr.off + spoolEntryHead + int64(n)
	payload, st = sr.read(sr.off+spoolEntryHead, int(n))
	if st != entryOK {
		return 0, nil, next, st
	}
	if crc32.Checksum(payload, castagnoli) != sum {
		return 0, nil, next, entryCorrupt
	}
	switch payload[0] {
	case entryRecord:
	case entryWindowEnd:
		if len(payload) != 17 {
			return 0, nil, next, entryCorrupt
		}
	default:
		return 0, nil, next, entryCorrupt
	}
	return payload[0], payload, next, entryOK
}
