package capture

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// MaxCaptureLength bounds the captured length of one record. Larger records
// are reported as corrupt instead of being allocated.
const MaxCaptureLength = 256 << 10

// maxBlockLength bounds a pcapng block that has to be held in memory (an
// interface description or a packet block). Blocks that are skipped are only
// bounded by the file itself.
const maxBlockLength = MaxCaptureLength + 64<<10

// maxSkipBlockLength bounds a pcapng block that is skipped unread.
const maxSkipBlockLength = 1 << 30

// readBufferSize is the size of a file's read buffer. Records are returned
// as slices of it (no copy), so it must hold the largest record or block
// that is read whole; a large buffer also means few read system calls.
const readBufferSize = 512 << 10

// aheadMinSize is the size from which a plain capture file is read ahead
// on a goroutine of its own (readahead.go); smaller ones are read at once.
const aheadMinSize = 2 * aheadChunkSize

// gzipInputBufferSize is the buffer between a gzip file and its decompressor.
const gzipInputBufferSize = 64 << 10

// A record or block read whole must fit in the read buffer.
var _ [readBufferSize - (maxBlockLength + 4)]struct{}

// Progress is implemented by sources that can tell how far they are through
// their input, e.g. to draw a progress bar. Both values count bytes on disk
// (compressed bytes for gzip files).
type Progress interface {
	// BytesRead is the number of input bytes consumed so far.
	BytesRead() int64
	// TotalBytes is the summed size of all inputs, or 0 when unknown.
	TotalBytes() int64
}

// FileError is the error a file source returns for unreadable or corrupt
// input. Its message names the file and the byte offset of the fault, e.g.
// "trace.pcap: offset 12345: truncated packet record: unexpected EOF". For
// gzip files the offset counts decompressed bytes (Decompressed is set and
// the message says "decompressed offset"); a fault of the gzip stream
// itself is a *GzipError, which gives the compressed offset.
type FileError struct {
	Path         string
	Offset       int64
	Decompressed bool
	Err          error
}

func (e *FileError) Error() string {
	if e.Decompressed {
		return fmt.Sprintf("%s: decompressed offset %d: %v", e.Path, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: offset %d: %v", e.Path, e.Offset, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// GzipError is a fault of a gzip file's compressed stream: the file ends
// before its gzip stream does (Truncated), or the compressed data is
// corrupt (bad deflate data, a checksum or length mismatch, a damaged
// header or trailing garbage). Offset is the position in the compressed
// file where the fault was detected.
type GzipError struct {
	Offset    int64
	Truncated bool
	Err       error
}

func (e *GzipError) Error() string {
	if e.Truncated {
		return fmt.Sprintf("truncated gzip file: the compressed data ends at offset %d, inside the gzip stream", e.Offset)
	}
	return fmt.Sprintf("corrupt gzip data at compressed offset %d: %v", e.Offset, e.Err)
}

func (e *GzipError) Unwrap() error { return e.Err }

// gzipStream is the decompressed stream of a gzip file. It reports the
// decompressor's faults as *GzipError.
type gzipStream struct {
	gz  *gzip.Reader
	raw *bufio.Reader // the compressed input, read through counter
	r   *fileReader
}

func (g *gzipStream) Read(p []byte) (int, error) {
	n, err := g.gz.Read(p)
	if err != nil && err != io.EOF {
		err = g.r.gzipError(err)
	}
	return n, err
}

// gzipError classifies a gzip or deflate error at the current compressed
// position.
func (r *fileReader) gzipError(err error) error {
	var ge *GzipError
	if errors.As(err, &ge) {
		return err
	}
	off := r.counter.n.Load()
	if r.raw != nil {
		off -= int64(r.raw.Buffered())
	}
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return &GzipError{Offset: off, Truncated: true, Err: io.ErrUnexpectedEOF}
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return &GzipError{Offset: off, Err: err}
	}
	return err // an I/O error of the file itself
}

// FileStats counts what a file source skipped. The Source that OpenFiles
// returns has a FileStats method.
type FileStats struct {
	// UnsupportedInterfaces counts pcapng interfaces whose link type the
	// decoder does not support. They are skipped: a file is read as long
	// as its packets are on supported interfaces, and a packet on an
	// unsupported one reaches the decoder, which rejects it
	// (ReasonUnknownLinkType).
	UnsupportedInterfaces uint64
}

// fileSource replays several capture files in order as one stream.
type fileSource struct {
	paths []string
	sizes []int64 // on-disk size of each path when opened
	next  int     // index of the next path to open
	total int64
	// aheadMin is the size from which a plain file is read ahead.
	aheadMin int64
	// read counts the on-disk bytes read of every file so far (Progress,
	// read by another goroutine than Next's).
	read atomic.Int64

	cur    *fileReader
	failed error // sticky error once the stream failed
	closed bool
	// spare is the read buffer of the last finished file, reused for the next.
	spare *readBuf
	stats FileStats // of the files already finished
}

// StdinPath names standard input among the paths of OpenFiles.
const StdinPath = "-"

// stdinName names standard input in errors.
const stdinName = "standard input"

// OpenFiles returns a Source that replays the given pcap / pcapng files
// (each optionally gzip-compressed, detected by its magic bytes) one after
// the other as a single stream. StdinPath ("-") reads standard input (at
// most once; the total size is then unknown). Every other path must exist;
// the first file is opened and its header checked right away, the others
// when they are reached. Frames read before a fault in a file are delivered
// first; Next then returns a *FileError naming the file and offset.
func OpenFiles(paths ...string) (Source, error) {
	return openFiles(aheadMinSize, paths...)
}

// openFiles is OpenFiles with plain files of aheadMin bytes or more read
// ahead (the tests read small files both ways).
func openFiles(aheadMin int64, paths ...string) (Source, error) {
	if len(paths) == 0 {
		return nil, errors.New("capture: no input files")
	}
	s := &fileSource{paths: append([]string(nil), paths...), aheadMin: aheadMin}
	stdin := false
	for _, p := range paths {
		if p == StdinPath {
			if stdin {
				return nil, errors.New("capture: standard input (-) given more than once")
			}
			stdin = true
			s.sizes = append(s.sizes, 0)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
		if st.IsDir() {
			return nil, fmt.Errorf("capture: %s: is a directory", p)
		}
		s.total += st.Size()
		s.sizes = append(s.sizes, st.Size())
	}
	if stdin {
		s.total = 0 // unknown
	}
	if err := s.openNext(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *fileSource) openNext() error {
	path := s.paths[s.next]
	s.next++
	var f io.ReadCloser
	if path == StdinPath {
		// Standard input stays open: the process owns it, not the source.
		f, path = io.NopCloser(os.Stdin), stdinName
	} else {
		file, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		f = file
	}
	size := s.sizes[s.next-1]
	r, err := newFileReader(f, path, s.spare, size, &s.read, size > 0 && size >= s.aheadMin)
	if err != nil {
		f.Close()
		return err
	}
	s.cur = r
	return nil
}

// Next returns the next frame of the stream, io.EOF after the last file.
func (s *fileSource) Next() (Frame, error) {
	if s.failed != nil {
		return Frame{}, s.failed
	}
	if s.closed {
		return Frame{}, errors.New("capture: source closed")
	}
	for {
		if s.cur == nil {
			if s.next >= len(s.paths) {
				return Frame{}, io.EOF
			}
			if err := s.openNext(); err != nil {
				s.failed = err
				return Frame{}, err
			}
		}
		var fr Frame
		err := s.cur.next(&fr)
		if err == nil {
			return fr, nil
		}
		if err != io.EOF {
			s.failed = err
			return Frame{}, err
		}
		s.stats.UnsupportedInterfaces += s.cur.unsupportedIfaces
		if s.cur.br.ahead == nil {
			s.spare = s.cur.br
		}
		s.cur.close()
		s.cur = nil
	}
}

// Close releases the open file.
func (s *fileSource) Close() error {
	s.closed = true
	if s.cur != nil {
		err := s.cur.close()
		s.cur = nil
		return err
	}
	return nil
}

// BytesRead implements Progress.
func (s *fileSource) BytesRead() int64 {
	return s.read.Load()
}

// TotalBytes implements Progress (0 when standard input is among the
// inputs).
func (s *fileSource) TotalBytes() int64 { return s.total }

// FileStats returns what was skipped so far.
func (s *fileSource) FileStats() FileStats {
	st := s.stats
	if s.cur != nil {
		st.UnsupportedInterfaces += s.cur.unsupportedIfaces
	}
	return st
}

// countingReader counts the bytes read from the underlying file.
type countingReader struct {
	r io.Reader
	n atomic.Int64
	// total, when not nil, counts the bytes of every file of a source.
	total *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		if c.total != nil {
			c.total.Add(int64(n))
		}
	}
	return n, err
}

type fileFormat uint8

const (
	formatPcap fileFormat = iota + 1
	formatPcapNG
)

// pcapInterface is one pcapng interface (or the single pcap "interface").
type pcapInterface struct {
	linkType layers.LinkType
	snapLen  uint32
	// units per second of the timestamps, and whether it is a power of 10
	unitsPerSec uint64
	tsOffset    int64 // seconds
}

// fileReader decodes one capture file.
type fileReader struct {
	path    string
	file    io.Closer
	counter countingReader
	gz      *gzip.Reader
	raw     *bufio.Reader // the compressed input of a gzip file
	// br reads the (decompressed) stream; frames point into its buffer.
	br     *readBuf
	off    int64 // offset in the (decompressed) stream
	format fileFormat
	order  binary.ByteOrder
	// bigEndian is order == binary.BigEndian, for the inlined u16 and u32.
	bigEndian bool
	hdr       [32]byte

	// pcap
	nanos        bool
	extraRecord  int // extra bytes per record header (modified pcap)
	pcapIf       pcapInterface
	ifaces       []pcapInterface // pcapng interfaces of the current section
	sectionStart bool
	// unsupportedIfaces counts the pcapng interfaces of an unsupported
	// link type (FileStats).
	unsupportedIfaces uint64
}

// newFileReader reads a capture file from f; path names it in errors.
// reuse, when not nil, is a read buffer that is no longer needed. size is
// the file's size, or 0 when unknown: a plain file smaller than the read
// buffer gets a buffer of its own size (a record that does not fit in it
// cannot be complete in the file either).
func newFileReader(f io.ReadCloser, path string, reuse *readBuf, size int64, read *atomic.Int64, readAhead bool) (*fileReader, error) {
	r := &fileReader{path: path, file: f}
	r.counter.r, r.counter.total = f, read
	big := func(src io.Reader, want int) *readBuf {
		if reuse != nil && reuse.Size() >= want {
			reuse.Reset(src)
			return reuse
		}
		return newReadBuf(src, want)
	}
	plainSize := readBufferSize
	if size > 0 && size < readBufferSize {
		plainSize = max(int(size), 4096)
	}
	// Peek the magic through a small reader; a plain file then gets the
	// large buffer, with the peeked bytes still in front of it.
	raw := bufio.NewReaderSize(&r.counter, gzipInputBufferSize)
	magic, err := raw.Peek(4)
	if err != nil {
		if len(magic) == 0 && err == io.EOF {
			return nil, r.errorf(0, "empty file")
		}
		return nil, r.readError(0, "file header", err)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		r.raw = raw
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, &FileError{Path: path, Err: fmt.Errorf("gzip header: %w", r.gzipError(err))}
		}
		r.gz = gz
		r.br = big(&gzipStream{gz: gz, raw: raw, r: r}, readBufferSize)
	} else if readAhead {
		r.br = newReadAheadBuf(raw)
	} else {
		r.br = big(raw, plainSize)
	}
	if err := r.readFileHeader(); err != nil {
		r.br.close()
		return nil, err
	}
	return r, nil
}

func (r *fileReader) close() error {
	if r.br != nil {
		r.br.close()
	}
	if r.gz != nil {
		r.gz.Close()
	}
	return r.file.Close()
}

func (r *fileReader) errorf(off int64, format string, args ...any) error {
	return &FileError{Path: r.path, Offset: off, Decompressed: r.gz != nil, Err: fmt.Errorf(format, args...)}
}

// readError reports a failed read of the structure what (e.g. "packet
// record") that starts at off: a fault of the gzip stream says so, anything
// else means the capture file ends inside the structure.
func (r *fileReader) readError(off int64, what string, err error) error {
	var ge *GzipError
	if errors.As(err, &ge) {
		return r.errorf(off, "reading %s: %w", what, err)
	}
	return r.errorf(off, "truncated %s: %w", what, unexpected(err))
}

// unexpected turns a plain EOF inside a structure into ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readFull reads exactly len(p) bytes and advances the offset.
func (r *fileReader) readFull(p []byte) error {
	n, err := io.ReadFull(r.br, p)
	r.off += int64(n)
	return err
}

func (r *fileReader) discard(n int64) error {
	for n > 0 {
		step := n
		if step > 1<<20 {
			step = 1 << 20
		}
		d, err := r.br.Discard(int(step))
		r.off += int64(d)
		n -= int64(d)
		if err != nil {
			return err
		}
	}
	return nil
}

const (
	pcapMagicMicro    = 0xa1b2c3d4
	pcapMagicNano     = 0xa1b23c4d
	pcapMagicModified = 0xa1b2cd34
	pcapngSHB         = 0x0a0d0d0a
	pcapngByteOrder   = 0x1a2b3c4d
)

func (r *fileReader) readFileHeader() error {
	magic, err := r.br.Peek(4)
	if err != nil {
		return r.readError(0, "file header", err)
	}
	le := binary.LittleEndian.Uint32(magic)
	be := binary.BigEndian.Uint32(magic)
	switch {
	case le == pcapngSHB:
		r.format = formatPcapNG
		r.sectionStart = true
		return nil // the SHB is read as an ordinary block
	case le == pcapMagicMicro || le == pcapMagicNano || le == pcapMagicModified:
		r.order = binary.LittleEndian
		r.bigEndian = false
	case be == pcapMagicMicro || be == pcapMagicNano || be == pcapMagicModified:
		r.order = binary.BigEndian
		r.bigEndian = true
	default:
		return r.errorf(0, "corrupt file header: unknown magic number %#08x (not pcap or pcapng)", be)
	}
	r.format = formatPcap
	h := r.hdr[:24]
	if err := r.readFull(h); err != nil {
		return r.readError(0, "pcap file header", err)
	}
	m := r.u32(h[0:4])
	r.nanos = m == pcapMagicNano
	if m == pcapMagicModified {
		r.extraRecord = 8
	}
	major := r.u16(h[4:6])
	if major != 2 {
		return r.errorf(4, "corrupt pcap file header: unsupported version %d.%d", major, r.u16(h[6:8]))
	}
	// As libpcap: a snap length of 0 or beyond the maximum means the maximum.
	r.pcapIf.snapLen = r.u32(h[16:20])
	if r.pcapIf.snapLen == 0 || r.pcapIf.snapLen > MaxCaptureLength {
		r.pcapIf.snapLen = MaxCaptureLength
	}
	// The upper bits of the link-type field carry FCS information.
	lt := r.u32(h[20:24]) & 0x0fffffff
	if lt > 0xffff {
		return r.errorf(20, "corrupt pcap file header: link type %d", lt)
	}
	r.pcapIf.linkType = layers.LinkType(lt)
	if !SupportedLinkType(r.pcapIf.linkType) {
		return r.errorf(20, "unknown link type %d", lt)
	}
	return nil
}

// u32 reads a file-order uint32 (without the interface call).
func (r *fileReader) u32(b []byte) uint32 {
	if r.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// u16 reads a file-order uint16.
func (r *fileReader) u16(b []byte) uint16 {
	if r.bigEndian {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

// next returns the next frame of this file, or io.EOF at its clean end.
func (r *fileReader) next(f *Frame) error {
	if r.format == formatPcap {
		return r.nextPcap(f)
	}
	return r.nextPcapNG(f)
}

// take returns the next n bytes of the stream as a slice of the read
// buffer, valid until the next read, and advances past them. n must not
// exceed readBufferSize.
func (r *fileReader) take(n int) ([]byte, error) {
	if br := r.br; br.w-br.r >= n && n >= 0 {
		b := br.buf[br.r : br.r+n : br.r+n]
		br.r += n
		r.off += int64(n)
		return b, nil
	}
	b, err := r.br.Peek(n)
	if len(b) < n {
		d, _ := r.br.Discard(len(b))
		r.off += int64(d)
		if err == nil || err == bufio.ErrBufferFull {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	d, _ := r.br.Discard(n)
	r.off += int64(d)
	return b, nil
}

func (r *fileReader) nextPcap(f *Frame) error {
	start := r.off
	h, err := r.take(16 + r.extraRecord)
	if err != nil {
		if err == io.EOF && r.off == start {
			return io.EOF
		}
		return r.readError(start, "packet record header", err)
	}
	sec := r.u32(h[0:4])
	frac := r.u32(h[4:8])
	caplen := r.u32(h[8:12])
	wirelen := r.u32(h[12:16])
	if caplen > MaxCaptureLength {
		return r.errorf(start, "corrupt packet record: captured length %d exceeds maximum %d", caplen, MaxCaptureLength)
	}
	var nsec int64
	if r.nanos {
		nsec = int64(frac)
	} else {
		nsec = int64(frac) * 1000
	}
	data, err := r.take(int(caplen))
	if err != nil {
		return r.readError(start, "packet record", err)
	}
	if caplen > r.pcapIf.snapLen {
		// libpcap keeps the first snaplen bytes of a record that claims
		// more (damaged files, old Solaris bufmod) and skips the rest.
		caplen = r.pcapIf.snapLen
		data = data[:caplen]
	}
	*f = Frame{
		Data:          data,
		Timestamp:     time.Unix(int64(sec), nsec),
		CaptureLength: int(caplen),
		Length:        int(wirelen),
		LinkType:      r.pcapIf.linkType,
		Origin:        r.path,
		Offset:        start,
	}
	return nil
}

const (
	blockIDB = 0x00000001
	blockOPB = 0x00000002
	blockSPB = 0x00000003
	blockEPB = 0x00000006
)

func (r *fileReader) nextPcapNG(f *Frame) error {
	for {
		start := r.off
		h := r.hdr[:8]
		b, err := r.take(8)
		if err != nil {
			if err == io.EOF && r.off == start {
				return io.EOF
			}
			return r.readError(start, "pcapng block header", err)
		}
		copy(h, b) // readSHB reads the length from r.hdr
		if binary.LittleEndian.Uint32(h[0:4]) == pcapngSHB {
			if err := r.readSHB(start); err != nil {
				return err
			}
			continue
		}
		if r.order == nil {
			return r.errorf(start, "corrupt pcapng file: block before section header")
		}
		typ := r.u32(h[0:4])
		total := r.u32(h[4:8])
		if total < 12 || total%4 != 0 {
			return r.errorf(start, "corrupt pcapng block: total length %d", total)
		}
		bodyLen := int64(total) - 12
		switch typ {
		case blockIDB, blockEPB, blockSPB, blockOPB:
		default:
			if total > maxSkipBlockLength {
				return r.errorf(start, "corrupt pcapng block: length %d exceeds maximum", total)
			}
			if err := r.discard(bodyLen + 4); err != nil {
				return r.readError(start, fmt.Sprintf("pcapng block (type %#x)", typ), err)
			}
			continue
		}
		if total > maxBlockLength {
			return r.errorf(start, "corrupt pcapng block: length %d exceeds maximum %d", total, maxBlockLength)
		}
		body, err := r.take(int(bodyLen) + 4)
		if err != nil {
			return r.readError(start, fmt.Sprintf("pcapng block (type %#x)", typ), err)
		}
		if trailer := r.u32(body[bodyLen:]); trailer != total {
			return r.errorf(start, "corrupt pcapng block: trailing length %d != %d", trailer, total)
		}
		body = body[:bodyLen]
		switch typ {
		case blockIDB:
			if err := r.readIDB(start, body); err != nil {
				return err
			}
			continue
		case blockEPB, blockOPB:
			return r.packetBlock(f, start, typ, body)
		case blockSPB:
			if len(r.ifaces) == 0 {
				return r.errorf(start, "corrupt pcapng file: simple packet block without interface")
			}
			if len(body) < 4 {
				return r.errorf(start, "corrupt pcapng simple packet block: too short")
			}
			ifc := &r.ifaces[0]
			wirelen := r.u32(body[0:4])
			caplen := uint32(len(body) - 4)
			if wirelen < caplen {
				caplen = wirelen
			}
			if ifc.snapLen != 0 && caplen > ifc.snapLen {
				caplen = ifc.snapLen
			}
			*f = Frame{
				Data: body[4 : 4+caplen],
				// No timestamp in a simple packet block: libpcap reports
				// the epoch (the zero time.Time is out of UnixNano's range).
				Timestamp:     time.Unix(0, 0),
				CaptureLength: int(caplen),
				Length:        int(wirelen),
				LinkType:      ifc.linkType,
				Origin:        r.path,
				Offset:        start,
			}
			return nil
		}
	}
}

func (r *fileReader) readSHB(start int64) error {
	// The block type is palindromic; the byte-order magic follows the length.
	var bom [4]byte
	if err := r.readFull(bom[:]); err != nil {
		return r.readError(start, "pcapng section header", err)
	}
	switch {
	case binary.LittleEndian.Uint32(bom[:]) == pcapngByteOrder:
		r.order = binary.LittleEndian
		r.bigEndian = false
	case binary.BigEndian.Uint32(bom[:]) == pcapngByteOrder:
		r.order = binary.BigEndian
		r.bigEndian = true
	default:
		return r.errorf(start+8, "corrupt pcapng section header: byte-order magic %x", bom)
	}
	total := r.u32(r.hdr[4:8])
	if total < 28 || total%4 != 0 || total > maxSkipBlockLength {
		return r.errorf(start, "corrupt pcapng section header: total length %d", total)
	}
	var ver [4]byte
	if err := r.readFull(ver[:]); err != nil {
		return r.readError(start, "pcapng section header", err)
	}
	if major := r.u16(ver[0:2]); major != 1 {
		return r.errorf(start+12, "corrupt pcapng section header: unsupported version %d", major)
	}
	// section length (8), options, trailing length
	if err := r.discard(int64(total) - 16); err != nil {
		return r.readError(start, "pcapng section header", err)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

func (r *fileReader) readIDB(start int64, body []byte) error {
	if len(body) < 8 {
		return r.errorf(start, "corrupt pcapng interface description: too short")
	}
	if len(r.ifaces) >= 1<<16 {
		return r.errorf(start, "corrupt pcapng file: too many interfaces")
	}
	ifc := pcapInterface{
		linkType:    layers.LinkType(r.u16(body[0:2])),
		snapLen:     r.u32(body[4:8]),
		unitsPerSec: 1e6,
	}
	if !SupportedLinkType(ifc.linkType) {
		// Skipped, not fatal: Zeek reads the packets of the other
		// interfaces (a packet on this one fails to decode).
		r.unsupportedIfaces++
	}
	opts := body[8:]
	for len(opts) >= 4 {
		code := r.u16(opts[0:2])
		l := int(r.u16(opts[2:4]))
		if 4+l > len(opts) {
			return r.errorf(start, "corrupt pcapng interface option %d: length %d", code, l)
		}
		val := opts[4 : 4+l]
		switch code {
		case 0: // opt_endofopt
			opts = nil
			continue
		case 9: // if_tsresol
			if l != 1 {
				return r.errorf(start, "corrupt pcapng if_tsresol option: length %d", l)
			}
			exp := uint(val[0] & 0x7f)
			if val[0]&0x80 != 0 {
				if exp > 63 {
					return r.errorf(start, "unsupported pcapng timestamp resolution 2^-%d", exp)
				}
				ifc.unitsPerSec = 1 << exp
			} else {
				if exp > 19 {
					return r.errorf(start, "unsupported pcapng timestamp resolution 10^-%d", exp)
				}
				u := uint64(1)
				for i := uint(0); i < exp; i++ {
					u *= 10
				}
				ifc.unitsPerSec = u
			}
		case 14: // if_tsoffset
			if l != 8 {
				return r.errorf(start, "corrupt pcapng if_tsoffset option: length %d", l)
			}
			ifc.tsOffset = int64(r.order.Uint64(val))
		}
		pad := (4 - l%4) % 4
		if 4+l+pad > len(opts) {
			break
		}
		opts = opts[4+l+pad:]
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

func (r *fileReader) packetBlock(f *Frame, start int64, typ uint32, body []byte) error {
	var ifID uint32
	var tsHigh, tsLow, caplen, wirelen uint32
	var data []byte
	if typ == blockEPB {
		if len(body) < 20 {
			return r.errorf(start, "corrupt pcapng enhanced packet block: too short")
		}
		ifID = r.u32(body[0:4])
		tsHigh, tsLow = r.u32(body[4:8]), r.u32(body[8:12])
		caplen, wirelen = r.u32(body[12:16]), r.u32(body[16:20])
		data = body[20:]
	} else {
		if len(body) < 20 {
			return r.errorf(start, "corrupt pcapng packet block: too short")
		}
		ifID = uint32(r.u16(body[0:2]))
		tsHigh, tsLow = r.u32(body[4:8]), r.u32(body[8:12])
		caplen, wirelen = r.u32(body[12:16]), r.u32(body[16:20])
		data = body[20:]
	}
	if caplen > MaxCaptureLength {
		return r.errorf(start, "corrupt packet record: captured length %d exceeds maximum %d", caplen, MaxCaptureLength)
	}
	if uint64(caplen) > uint64(len(data)) {
		return r.errorf(start, "corrupt pcapng packet block: captured length %d exceeds block", caplen)
	}
	if ifID >= uint32(len(r.ifaces)) {
		return r.errorf(start, "corrupt pcapng packet block: unknown interface %d", ifID)
	}
	ifc := &r.ifaces[ifID]
	if ifc.snapLen != 0 && caplen > ifc.snapLen {
		caplen = ifc.snapLen // as libpcap: never more than the snap length
	}
	ts := uint64(tsHigh)<<32 | uint64(tsLow)
	sec := ts / ifc.unitsPerSec
	frac := ts % ifc.unitsPerSec
	var nsec uint64
	switch {
	case ifc.unitsPerSec == 1e9:
		nsec = frac
	case ifc.unitsPerSec == 1e6:
		nsec = frac * 1000
	default:
		hi, lo := bits.Mul64(frac, 1e9)
		nsec, _ = bits.Div64(hi, lo, ifc.unitsPerSec) // hi < unitsPerSec: no overflow
	}
	*f = Frame{
		Data:          data[:caplen],
		Timestamp:     time.Unix(int64(sec)+ifc.tsOffset, int64(nsec)),
		CaptureLength: int(caplen),
		Length:        int(wirelen),
		LinkType:      ifc.linkType,
		Origin:        r.path,
		Offset:        start,
	}
	return nil
}
