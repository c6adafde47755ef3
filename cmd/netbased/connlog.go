package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/flow/connlog"
)

// connLogFile is the --conn-log output shared by the workers: each worker
// encodes its ended connections into its own buffer (connLogBuffer) and
// writes whole buffers under the file's lock, so no lock is taken per
// connection.
type connLogFile struct {
	mu     sync.Mutex
	path   string // "-": standard output
	format connlog.Format
	w      *connlog.Writer
	file   *os.File // nil for standard output
	bufs   []*connLogBuffer
	err    error // first write error
}

// openConnLog opens path or standard output for "-". It appends to the
// file, like the records file, so a restart or a reload never truncates
// what was logged before, unless overwrite (a replay without --append).
func openConnLog(path string, format connlog.Format, stdout io.Writer, overwrite bool) (*connLogFile, error) {
	c := &connLogFile{path: path, format: format}
	if path == "-" {
		c.w = connlog.NewWriter(stdout, format)
		return c, nil
	}
	if err := c.openFile(overwrite); err != nil {
		return nil, err
	}
	return c, nil
}

// openFile opens c.path for appending, emptying it first when truncate.
func (c *connLogFile) openFile(truncate bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if truncate {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(c.path, flags, 0o644)
	if err != nil {
		return err
	}
	c.file, c.w = f, connlog.NewWriter(f, c.format)
	return nil
}

// newBuffer returns a worker's buffer.
func (c *connLogFile) newBuffer() *connLogBuffer {
	b := &connLogBuffer{file: c, format: c.format}
	c.mu.Lock()
	c.bufs = append(c.bufs, b)
	c.mu.Unlock()
	return b
}

// write writes n encoded records.
func (c *connLogFile) write(p []byte, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.w.WriteEncoded(p, n); err != nil && c.err == nil {
		c.err = err
	}
}

// reopen closes and reopens the file (SIGHUP after logrotate). Records
// the workers buffered are written to the new file.
func (c *connLogFile) reopen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == nil {
		return c.w.Flush()
	}
	err := errors.Join(c.w.Close(), c.file.Close())
	if oerr := c.openFile(false); oerr != nil {
		return errors.Join(err, fmt.Errorf("reopening conn log: %w", oerr))
	}
	return err
}

// close writes what the workers buffered, the footer, and closes the file.
// The workers must have finished.
func (c *connLogFile) close() error {
	for _, b := range c.bufs {
		b.Flush()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.err, c.w.Close())
	if c.file != nil {
		err = errors.Join(err, c.file.Close())
	}
	return err
}

// connLogBuffer is one worker's conn log buffer (pipeline.ConnSink).
type connLogBuffer struct {
	file   *connLogFile
	format connlog.Format
	buf    []byte
	n      int
}

// connLogFlushSize is how much a worker buffers before writing.
const connLogFlushSize = 64 << 10

// Conn encodes one ended connection.
func (b *connLogBuffer) Conn(c *flow.Conn) {
	b.buf = connlog.AppendRecord(b.buf, c, b.format)
	b.n++
	if len(b.buf) >= connLogFlushSize {
		b.Flush()
	}
}

// Flush writes the buffered records.
func (b *connLogBuffer) Flush() {
	if b.n == 0 {
		return
	}
	b.file.write(b.buf, b.n)
	b.buf, b.n = b.buf[:0], 0
}
