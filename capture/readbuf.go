package capture

import (
	"bufio"
	"io"
)

// readBuf is a read buffer with bufio.Reader's Peek, Discard and Read
// semantics, whose contents the file reader also takes directly: a record
// that is already buffered is returned as a slice of it without a call
// (fileReader.take), which is most records.
type readBuf struct {
	buf  []byte
	r, w int // read and write positions in buf
	src  io.Reader
	err  error
	// ahead, when not nil, reads src on its own goroutine: buf is then the
	// read-ahead buffer being read (nil before the first).
	ahead *readAhead
}

// maxEmptyReads is how many reads returning nothing fill tolerates before
// it reports io.ErrNoProgress (as bufio).
const maxEmptyReads = 100

func newReadBuf(src io.Reader, size int) *readBuf {
	return &readBuf{buf: make([]byte, size), src: src}
}

// newReadAheadBuf returns a read buffer that reads src ahead on a goroutine
// of its own; close must stop it.
func newReadAheadBuf(src io.Reader) *readBuf {
	return &readBuf{src: src, ahead: startReadAhead(src)}
}

// close stops a read-ahead (nothing to do otherwise).
func (b *readBuf) close() {
	if b.ahead != nil {
		b.ahead.close()
	}
}

// Reset discards the buffered data and reads from src (not for a
// read-ahead buffer).
func (b *readBuf) Reset(src io.Reader) {
	b.r, b.w, b.src, b.err = 0, 0, src, nil
}

// Size is the most a Peek can return at once: the buffer's size (a
// read-ahead buffer's room for a record cut by its end).
func (b *readBuf) Size() int {
	if b.ahead != nil {
		return aheadHead
	}
	return len(b.buf)
}

func (b *readBuf) buffered() int { return b.w - b.r }

// fill moves the unread data to the front and reads once more. With a
// read-ahead, the unread data goes in front of the next filled buffer's.
func (b *readBuf) fill() {
	if b.ahead != nil {
		b.fillAhead()
		return
	}
	if b.r > 0 {
		copy(b.buf, b.buf[b.r:b.w])
		b.w -= b.r
		b.r = 0
	}
	for range maxEmptyReads {
		n, err := b.src.Read(b.buf[b.w:])
		if n < 0 || n > len(b.buf)-b.w {
			panic("capture: reader returned an invalid count")
		}
		b.w += n
		if err != nil {
			b.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	b.err = io.ErrNoProgress
}

// fillAhead moves on to the next read-ahead buffer, the unread data (at
// most Size bytes: Peek asks for no more) copied in front of its own, and
// gives the current one back.
func (b *readBuf) fillAhead() {
	c, ok := b.ahead.next()
	if !ok {
		b.err = b.ahead.last
		if b.err == nil {
			b.err = io.ErrUnexpectedEOF // cannot happen: the last chunk carries an error
		}
		return
	}
	tail := b.buf[b.r:b.w]
	start := aheadHead - len(tail)
	copy(c.buf[start:aheadHead], tail)
	if b.buf != nil {
		b.ahead.recycle(b.buf)
	}
	b.buf, b.r, b.w, b.err = c.buf, start, aheadHead+c.n, c.err
}

func (b *readBuf) readErr() error {
	err := b.err
	b.err = nil
	return err
}

// Peek returns the next n bytes without advancing; fewer with the error
// that stopped the reading (bufio.ErrBufferFull when n exceeds the
// buffer).
func (b *readBuf) Peek(n int) ([]byte, error) {
	for b.buffered() < n && b.buffered() < b.Size() && b.err == nil {
		b.fill()
	}
	if n > b.Size() {
		return b.buf[b.r:b.w], bufio.ErrBufferFull
	}
	var err error
	if avail := b.buffered(); avail < n {
		n = avail
		if err = b.readErr(); err == nil {
			err = bufio.ErrBufferFull
		}
	}
	return b.buf[b.r : b.r+n], err
}

// Discard skips the next n bytes and returns how many it skipped.
func (b *readBuf) Discard(n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	remain := n
	for {
		skip := b.buffered()
		if skip == 0 {
			b.fill()
			skip = b.buffered()
		}
		skip = min(skip, remain)
		b.r += skip
		remain -= skip
		if remain == 0 {
			return n, nil
		}
		if b.err != nil {
			return n - remain, b.readErr()
		}
	}
}

// Read reads into p (io.Reader).
func (b *readBuf) Read(p []byte) (int, error) {
	if len(p) == 0 {
		if b.buffered() > 0 {
			return 0, nil
		}
		return 0, b.readErr()
	}
	if b.r == b.w {
		if b.err != nil {
			return 0, b.readErr()
		}
		if b.ahead != nil {
			b.fill()
			if b.r == b.w {
				return 0, b.readErr()
			}
			n := copy(p, b.buf[b.r:b.w])
			b.r += n
			return n, nil
		}
		if len(p) >= len(b.buf) {
			n, err := b.src.Read(p)
			if n < 0 {
				panic("capture: reader returned a negative count")
			}
			b.err = err
			return n, b.readErr()
		}
		b.r, b.w = 0, 0
		n, err := b.src.Read(b.buf)
		if n < 0 {
			panic("capture: reader returned a negative count")
		}
		b.err = err
		if n == 0 {
			return 0, b.readErr()
		}
		b.w += n
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}
