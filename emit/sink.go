package emit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stdoutScheme is the destination "-": standard output.
const stdoutScheme = "-"

// stdoutKind writes records to standard output.
func stdoutKind() Kind {
	return Kind{Name: "stdout", Schemes: []string{stdoutScheme}, Open: func(_ context.Context, _ string, p OpenParams) (Opened, error) {
		enc := NewEncoder(p.Format, p.Encoder)
		return Opened{Sink: NewStreamSink(bufio.NewWriterSize(p.Stdout, 64<<10), enc), Encoder: enc, Destination: "-"}, nil
	}}
}

// fileKind appends records to a file (a path, or file://PATH), rotated by
// p.File.
func fileKind() Kind {
	return Kind{Name: "file", Schemes: []string{"file"}, Paths: true, Open: func(_ context.Context, dest string, p OpenParams) (Opened, error) {
		path := strings.TrimPrefix(dest, "file://")
		if path == "" {
			return Opened{}, badOutput("output %s: no file path", dest)
		}
		enc := NewEncoder(p.Format, p.Encoder)
		s, err := OpenFile(path, enc, p.File)
		if err != nil {
			return Opened{}, err
		}
		return Opened{Sink: s, Encoder: enc, Destination: path}, nil
	}}
}

// StreamSink writes documents to an io.Writer such as standard output,
// with the encoding's header before the first and its footer at Close.
// EndWindow flushes a buffered writer; Close closes the writer only if it
// is an io.Closer other than os.Stdout/os.Stderr.
type StreamSink struct {
	w     io.Writer
	enc   Encoder
	buf   []byte
	wrote bool
	now   func() time.Time
}

// NewStreamSink returns a sink writing to w in enc's encoding.
func NewStreamSink(w io.Writer, enc Encoder) *StreamSink {
	return &StreamSink{w: w, enc: enc, now: time.Now}
}

// Deliver writes the documents' bodies.
func (s *StreamSink) Deliver(_ context.Context, docs []Document) error {
	b := s.buf[:0]
	if !s.wrote {
		b = s.enc.Header(b, s.now())
	}
	for i := range docs {
		b = append(b, docs[i].Body...)
	}
	s.buf = b[:0]
	if len(b) == 0 {
		return nil
	}
	s.wrote = true
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	return nil
}

// EndWindow flushes a buffered writer.
func (s *StreamSink) EndWindow(_, _ time.Time) error { return s.flush() }

func (s *StreamSink) flush() error {
	if f, ok := s.w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

// Close writes the footer (if anything was written), flushes and, for a
// closable writer that is not stdout or stderr, closes it.
func (s *StreamSink) Close() error {
	var err error
	if s.wrote {
		if _, werr := s.w.Write(s.enc.Footer(s.buf[:0], s.now())); werr != nil {
			err = fmt.Errorf("writing records: %w", werr)
		}
	}
	err = errors.Join(err, s.flush())
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

// outFile is the part of *os.File a FileSink uses (tests inject a full
// disk).
type outFile interface {
	io.Writer
	Truncate(size int64) error
	Sync() error
	Stat() (os.FileInfo, error)
	Close() error
}

// FileSink appends to a file, never leaving a partial record: a failed
// write (a full disk) is truncated back to the last whole record and
// reported as retryable, so the Output writes the records again once the
// disk has room. Rotation renames the finished file to
// <name>.<opened time>.<ext> (an atomic rename in the same directory) and
// opens a new file at the path.
type FileSink struct {
	path   string
	enc    Encoder
	opt    FileOptions
	f      outFile
	size   int64 // bytes of whole records (and header) in the file
	dirty  bool  // a failed write may have left bytes past size
	opened time.Time
	buf    []byte
	// openFile opens the path (os.OpenFile; tests inject failures).
	openFile func(name string, flag int, perm os.FileMode) (outFile, error)
}

// OpenFile opens (creating or appending to, or with opt.Truncate
// overwriting) path, writing enc's encoding.
func OpenFile(path string, enc Encoder, opt FileOptions) (*FileSink, error) {
	return openFileSink(path, enc, opt, func(name string, flag int, perm os.FileMode) (outFile, error) {
		return os.OpenFile(name, flag, perm)
	})
}

func openFileSink(path string, enc Encoder, opt FileOptions, open func(string, int, os.FileMode) (outFile, error)) (*FileSink, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Perm == 0 {
		opt.Perm = 0o644
	}
	s := &FileSink{path: path, enc: enc, opt: opt, openFile: open}
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
	f, err := s.openFile(s.path, flags, s.opt.Perm)
	if err != nil {
		return fmt.Errorf("opening output file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening output file: %w", err)
	}
	s.f, s.size, s.dirty, s.opened = f, st.Size(), false, s.opt.Now()
	return nil
}

// Path is the file's path.
func (s *FileSink) Path() string { return s.path }

// Deliver appends the documents' bodies (after the header in a new file)
// in one write. On failure the file is cut back to its last whole record.
func (s *FileSink) Deliver(_ context.Context, docs []Document) error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if err := s.repair(); err != nil {
		return err
	}
	b := s.buf[:0]
	if s.size == 0 {
		b = s.enc.Header(b, s.opt.Now())
	}
	for i := range docs {
		b = append(b, docs[i].Body...)
	}
	s.buf = b[:0]
	return s.write(b)
}

// write appends b whole or not at all.
func (s *FileSink) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	n, err := s.f.Write(b)
	if err != nil {
		if n > 0 {
			s.dirty = true
			_ = s.repair()
		}
		return fmt.Errorf("writing %s: %w", s.path, err)
	}
	s.size += int64(n)
	return nil
}

// repair truncates what a failed write left past the last whole record.
func (s *FileSink) repair() error {
	if !s.dirty {
		return nil
	}
	if err := s.f.Truncate(s.size); err != nil {
		return fmt.Errorf("cutting the partial record off %s: %w", s.path, err)
	}
	s.dirty = false
	return nil
}

// EndWindow rotates the file when due and fsyncs it.
func (s *FileSink) EndWindow(_, _ time.Time) error {
	if s.f == nil {
		return nil
	}
	if s.RotateDue() {
		return s.Rotate()
	}
	return s.Sync()
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

// RotateDue reports whether a non-empty file reached the size or age limit.
func (s *FileSink) RotateDue() bool {
	if s.size == 0 {
		return false
	}
	return (s.opt.RotateSize > 0 && s.size >= s.opt.RotateSize) ||
		(s.opt.RotateEvery > 0 && s.opt.Now().Sub(s.opened) >= s.opt.RotateEvery)
}

// Rotate ends the file (footer, fsync), renames it aside and opens a new
// one.
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

// Reopen ends the file and reopens the path, e.g. on SIGHUP after
// logrotate moved it.
func (s *FileSink) Reopen() error {
	if err := s.closeFile(); err != nil {
		return err
	}
	return s.open()
}

// Close ends the file: footer, fsync, close.
func (s *FileSink) Close() error { return s.closeFile() }

// closeFile writes the footer of a non-empty file, fsyncs and closes it.
func (s *FileSink) closeFile() error {
	if s.f == nil {
		return nil
	}
	err := s.repair()
	if err == nil && s.size > 0 {
		err = s.write(s.enc.Footer(s.buf[:0], s.opt.Now()))
	}
	err = errors.Join(err, s.Sync(), s.f.Close())
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
