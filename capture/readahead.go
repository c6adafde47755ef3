package capture

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead: a large plain capture file is read by a goroutine of its own
// into a few buffers, while the frames of the previous buffer are handled:
// the system call that copies the page cache (a fifth of a replay's time
// on one worker) overlaps the handling instead of preceding it. The frames
// still point into the buffers (no copy); a buffer is given back for
// refilling only when the reader moves past it, which the frame contract
// (valid until the next Next) allows.

// aheadBuffers is how many buffers a read-ahead cycles through: one being
// read from, one filled and waiting, one being filled.
const aheadBuffers = 3

// aheadChunkSize is how much one read-ahead buffer holds of the file.
const aheadChunkSize = 512 << 10

// aheadHead is the room in front of a read-ahead buffer's data for the
// unread end of the previous buffer (a record cut by the buffer's end):
// at most a whole record or block, which never exceeds readBufferSize.
const aheadHead = readBufferSize

// aheadChunk is a buffer the read-ahead filled: the file's bytes are
// buf[aheadHead:aheadHead+n]; err is what ended the reading (io.EOF at the
// end of the file), if anything.
type aheadChunk struct {
	buf []byte
	n   int
	err error
}

// readAhead reads src into buffers on its own goroutine, in order.
type readAhead struct {
	full  chan aheadChunk // filled buffers, in file order
	empty chan []byte     // buffers to fill
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	// last is the error of the final chunk: returned again to a reader
	// that asks past it.
	last error
}

// startReadAhead starts reading src.
func startReadAhead(src io.Reader) *readAhead {
	a := &readAhead{
		full:  make(chan aheadChunk, aheadBuffers),
		empty: make(chan []byte, aheadBuffers),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	for range aheadBuffers {
		a.empty <- make([]byte, aheadHead+aheadChunkSize)
	}
	go a.run(src)
	return a
}

// run fills buffers until the end of src, an error, or stop.
func (a *readAhead) run(src io.Reader) {
	defer close(a.done)
	defer close(a.full)
	for {
		var buf []byte
		select {
		case buf = <-a.empty:
		case <-a.stop:
			return
		}
		c := aheadChunk{buf: buf}
		for empty := 0; c.n < aheadChunkSize && c.err == nil; {
			n, err := src.Read(buf[aheadHead+c.n : aheadHead+aheadChunkSize])
			if n < 0 || n > aheadChunkSize-c.n {
				c.err = errInvalidCount
				break
			}
			c.n += n
			c.err = err
			if n == 0 && err == nil {
				if empty++; empty == maxEmptyReads {
					c.err = io.ErrNoProgress
				}
			}
		}
		select {
		case a.full <- c:
		case <-a.stop:
			return
		}
		if c.err != nil {
			return
		}
	}
}

// errInvalidCount is a reader's count outside [0, len(p)]: a broken
// io.Reader, reported rather than trusted.
var errInvalidCount = errors.New("capture: reader returned an invalid count")

// next returns the next filled chunk, or ok false after the last one.
func (a *readAhead) next() (aheadChunk, bool) {
	c, ok := <-a.full
	if ok && c.err != nil {
		a.last = c.err
	}
	return c, ok
}

// recycle gives a buffer back for filling. It never blocks: the channel
// holds every buffer there is.
func (a *readAhead) recycle(buf []byte) { a.empty <- buf }

// close stops the goroutine and waits for it.
func (a *readAhead) close() {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
	})
}
