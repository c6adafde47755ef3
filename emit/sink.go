package emit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// Sink receives encoded bytes.
type Sink interface {
	io.Writer
	// Sync makes everything written so far durable (a file: fsync).
	Sync() error
	// Fresh reports whether the current output has received nothing yet,
	// so a file header is due.
	Fresh() bool
	Close() error
}

// Rotator is a Sink whose file can be rotated and reopened.
type Rotator interface {
	Sink
	// RotateDue reports whether the current file is due for rotation.
	RotateDue() bool
	// Rotate closes the current file, renames it aside atomically and
	// opens a new, empty one.
	Rotate() error
	// Reopen closes and reopens the path (after logrotate moved it).
	Reopen() error
}

// StreamSink writes to an io.Writer such as os.Stdout. Sync calls the
// writer's Flush method if it has one; Close closes it only if it is an
// io.Closer other than os.Stdout/os.Stderr.
type StreamSink struct {
	w     io.Writer
	wrote bool
}

// NewStreamSink returns a sink writing to w.
func NewStreamSink(w io.Writer) *StreamSink { return &StreamSink{w: w} }

// Write writes p to the stream.
func (s *StreamSink) Write(p []byte) (int, error) {
	if len(p) > 0 {
		s.wrote = true
	}
	return s.w.Write(p)
}

// Sync flushes a buffered writer.
func (s *StreamSink) Sync() error {
	if f, ok := s.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// Fresh reports whether nothing was written yet.
func (s *StreamSink) Fresh() bool { return !s.wrote }

// Close flushes and, for a closable writer that is not stdout or stderr,
// closes it.
func (s *StreamSink) Close() error {
	err := s.Sync()
	if c, ok := s.w.(io.Closer); ok && s.w != io.Writer(os.Stdout) && s.w != io.Writer(os.Stderr) {
		err = errors.Join(err, c.Close())
	}
	return err
}

// FileOptions configure a FileSink.
type FileOptions struct {
	// RotateSize rotates a file once it holds at least this many bytes
	// (checked at window ends; 0: never).
	RotateSize int64
	// RotateEvery rotates a file this long after it was opened (checked at
	// window ends; 0: never).
	RotateEvery time.Duration
	// Now is the clock for file ages and rotated names (default time.Now).
	Now func() time.Time
	// Perm is the mode of new files (default 0644).
	Perm os.FileMode
	// Truncate empties an existing file when OpenFile opens it (a replay
	// overwrites its output, as Zeek overwrites its logs); files opened
	// later by rotation or Reopen are appended to.
	Truncate bool
}

// FileSink appends to a file. Rotation renames the finished file to
// <name>.<opened time>.<ext> (an atomic rename in the same directory) and
// opens a new file at the path.
type FileSink struct {
	path   string
	opt    FileOptions
	f      *os.File
	size   int64
	opened time.Time
}

// OpenFile opens (creating or appending to, or with opt.Truncate
// overwriting) path.
func OpenFile(path string, opt FileOptions) (*FileSink, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Perm == 0 {
		opt.Perm = 0o644
	}
	s := &FileSink{path: path, opt: opt}
	if err := s.openFlags(opt.Truncate); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *FileSink) open() error { return s.openFlags(false) }

// openFlags opens the path for appending, emptying it first when truncate.
func (s *FileSink) openFlags(truncate bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(s.path, flags, s.opt.Perm)
	if err != nil {
		return fmt.Errorf("opening output file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening output file: %w", err)
	}
	s.f, s.size, s.opened = f, st.Size(), s.opt.Now()
	return nil
}

// Path is the file's path.
func (s *FileSink) Path() string { return s.path }

// Write appends p to the file.
func (s *FileSink) Write(p []byte) (int, error) {
	if s.f == nil {
		return 0, errors.New("output file is closed")
	}
	n, err := s.f.Write(p)
	s.size += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", s.path, err)
	}
	return n, nil
}

// Sync fsyncs the file. Outputs that cannot be synced (a pipe, a FIFO,
// /dev/null: EINVAL) have nothing to make durable and are not an error.
func (s *FileSink) Sync() error {
	if s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("syncing %s: %w", s.path, err)
	}
	return nil
}

// Fresh reports whether the current file is empty.
func (s *FileSink) Fresh() bool { return s.size == 0 }

// RotateDue reports whether a non-empty file reached the size or age limit.
func (s *FileSink) RotateDue() bool {
	if s.size == 0 {
		return false
	}
	return (s.opt.RotateSize > 0 && s.size >= s.opt.RotateSize) ||
		(s.opt.RotateEvery > 0 && s.opt.Now().Sub(s.opened) >= s.opt.RotateEvery)
}

// Rotate fsyncs and closes the file, renames it aside and opens a new one.
func (s *FileSink) Rotate() error {
	if err := s.closeFile(); err != nil {
		return err
	}
	dst := s.rotatedName()
	if err := os.Rename(s.path, dst); err != nil {
		return errors.Join(fmt.Errorf("rotating %s: %w", s.path, err), s.open())
	}
	if d, err := os.Open(filepath.Dir(s.path)); err == nil { // make the rename durable
		d.Sync()
		d.Close()
	}
	return s.open()
}

// Reopen closes and reopens the path, e.g. on SIGHUP after logrotate.
func (s *FileSink) Reopen() error {
	if err := s.closeFile(); err != nil {
		return err
	}
	return s.open()
}

// Close fsyncs and closes the file.
func (s *FileSink) Close() error { return s.closeFile() }

func (s *FileSink) closeFile() error {
	if s.f == nil {
		return nil
	}
	err := s.Sync()
	err = errors.Join(err, s.f.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}

func (s *FileSink) rotatedName() string {
	dir, base := filepath.Split(s.path)
	ext := filepath.Ext(base)
	stem := strings.TrimSuffix(base, ext)
	stamp := s.opened.UTC().Format("2006-01-02-15-04-05")
	name := filepath.Join(dir, stem+"."+stamp+ext)
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = filepath.Join(dir, stem+"."+stamp+"-"+strconv.Itoa(i)+ext)
	}
}

// Writer encodes records into a sink. It implements aggregate.Output:
// records are buffered and written out at least at every window end, which
// also fsyncs a file and rotates it when due. Reopen may be called from
// another goroutine (a SIGHUP handler).
type Writer struct {
	mu      sync.Mutex
	enc     Encoder
	sink    Sink
	buf     []byte
	now     func() time.Time
	records uint64
	closed  bool
}

// flushThreshold is the buffer size that triggers a write before the
// window ends.
const flushThreshold = 256 << 10

// NewWriter returns a Writer encoding with enc into sink.
func NewWriter(sink Sink, enc Encoder) *Writer {
	return &Writer{enc: enc, sink: sink, now: time.Now, buf: make([]byte, 0, 64<<10)}
}

// SetClock replaces the wall clock used in file headers (tests).
func (w *Writer) SetClock(now func() time.Time) { w.now = now }

// Records is the number of records written.
func (w *Writer) Records() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.records
}

// WriteInterval encodes one record.
func (w *Writer) WriteInterval(r *aggregate.Interval) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errors.New("emit: write after Close")
	}
	if len(w.buf) == 0 && w.sink.Fresh() {
		w.buf = w.enc.Header(w.buf, w.now())
	}
	w.buf = w.enc.Append(w.buf, r)
	w.records++
	if len(w.buf) >= flushThreshold {
		return w.flushLocked()
	}
	return nil
}

func (w *Writer) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.sink.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// writeFooterLocked writes the encoding's footer to the sink (w.buf must
// be empty: the footer is built in its array).
func (w *Writer) writeFooterLocked() error {
	if _, err := w.sink.Write(w.enc.Footer(w.buf[:0], w.now())); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// EndWindow writes the window's records out, rotates the file if due and
// makes the output durable.
func (w *Writer) EndWindow(_, _ time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return err
	}
	if r, ok := w.sink.(Rotator); ok && r.RotateDue() {
		if err := w.writeFooterLocked(); err != nil {
			return err
		}
		if err := r.Rotate(); err != nil {
			return fmt.Errorf("emit: %w", err)
		}
	}
	return w.sink.Sync()
}

// Flush writes buffered records out and syncs the sink.
func (w *Writer) Flush() error { return w.EndWindow(time.Time{}, time.Time{}) }

// Reopen ends the current file (footer) and reopens the sink's path, for
// SIGHUP after logrotate; a sink without files is only flushed.
func (w *Writer) Reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return err
	}
	r, ok := w.sink.(Rotator)
	if !ok {
		return w.sink.Sync()
	}
	if !r.Fresh() {
		if err := w.writeFooterLocked(); err != nil {
			return err
		}
	}
	if err := r.Reopen(); err != nil {
		return fmt.Errorf("emit: %w", err)
	}
	return nil
}

// Close writes the rest and the footer, and closes the sink.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flushLocked()
	if !w.sink.Fresh() {
		err = errors.Join(err, w.writeFooterLocked())
	}
	return errors.Join(err, w.sink.Close())
}

var _ aggregate.Output = (*Writer)(nil)
