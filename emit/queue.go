package emit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// chunk is the producer's unit: the encoded records written since the
// last hand-over, and whether a window ends after them.
type chunk struct {
	buf  []byte
	docs []Document
	ends []int // end offset in buf of each document's body
	// window marks the end of the window [start, end) after the docs.
	window     bool
	start, end time.Time
}

// seal points every document's Body into buf (which no longer grows).
func (c *chunk) seal() {
	prev := 0
	for i := range c.docs {
		c.docs[i].Body = c.buf[prev:c.ends[i]:c.ends[i]]
		prev = c.ends[i]
	}
}

func (c *chunk) reset() {
	c.buf, c.docs, c.ends = c.buf[:0], c.docs[:0], c.ends[:0]
	c.window, c.start, c.end = false, time.Time{}, time.Time{}
}

// memSize is what the chunk holds in memory.
func (c *chunk) memSize() int64 { return int64(cap(c.buf)) + int64(cap(c.docs))*64 }

func newChunk() *chunk {
	return &chunk{buf: make([]byte, 0, chunkBytes+chunkBytes/4), docs: make([]Document, 0, chunkDocs),
		ends: make([]int, 0, chunkDocs)}
}

// batch is what the delivery goroutine sends at once: documents in queue
// order, ending at most at one window end.
type batch struct {
	docs       []Document
	window     bool
	start, end time.Time
	// settled counts the documents delivered or dropped so far.
	settled int

	chunks []*chunk // memQueue: the chunks the documents point into

	// spool: the entries' span [from, to) in segment seg, the records in
	// it, and whether the size bound deleted them while in flight.
	seg       uint64
	from, to  int64
	records   int
	abandoned bool
}

// queue holds the records between the producer (WriteInterval) and the
// delivery goroutine.
type queue interface {
	// newChunk returns an empty chunk for the producer.
	newChunk() *chunk
	// put queues a sealed chunk; under Block it waits for room.
	put(c *chunk) error
	// commit makes what was put durable (a spool's fsync).
	commit() error
	// closeInput says no more chunks come: next returns nil once drained.
	closeInput()
	// next waits for the next batch; nil when the input is closed and
	// everything was taken, or ctx ended.
	next(ctx context.Context, maxDocs, maxBytes int) *batch
	// ack releases a sent batch; unread puts it back (Close's deadline).
	ack(b *batch)
	unread(b *batch)
	// abandoned reports whether the bounds dropped b while in flight.
	abandoned(b *batch) bool
	// wake wakes a waiting next (its ctx ended).
	wake()
	// idle reports whether nothing is queued or being sent.
	idle() bool
	// size is the bytes held in memory and on disk.
	size() (memory, disk int64)
	// close releases the queue; what is not delivered is dropped and
	// counted (memory) or kept (spool).
	close() error
}

// queueCore is what memQueue and spool share: the lock and condition the
// producer and the delivery goroutine wait on, the end of the input, and
// the chunks kept for the producer to reuse.
type queueCore struct {
	mu          sync.Mutex
	cond        *sync.Cond
	inputClosed bool
	free        []*chunk
	maxFree     int // the chunks kept for reuse
}

// init prepares the core of a queue that keeps up to maxFree chunks.
func (q *queueCore) init(maxFree int) {
	q.cond = sync.NewCond(&q.mu)
	q.maxFree = maxFree
}

func (q *queueCore) newChunk() *chunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n := len(q.free); n > 0 {
		c := q.free[n-1]
		q.free = q.free[:n-1]
		return c
	}
	return newChunk()
}

// recycleLocked keeps c for reuse unless enough are kept or it grew large.
func (q *queueCore) recycleLocked(c *chunk) {
	if len(q.free) < q.maxFree && cap(c.buf) <= 4*chunkBytes {
		c.reset()
		q.free = append(q.free, c)
	}
}

func (q *queueCore) closeInput() {
	q.mu.Lock()
	q.inputClosed = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *queueCore) wake() {
	q.mu.Lock()
	q.cond.Broadcast()
	q.mu.Unlock()
}

// memQueue is a bounded FIFO of chunks in memory.
type memQueue struct {
	queueCore
	chunks    []*chunk
	bytes     int64 // queued
	inflight  int64 // the batch being sent
	max       int64
	policy    Policy
	drop      func(DropReason, int, error)
	handedOff bool // a spool took over (deferredSpool)
	b         batch
}

func newMemQueue(max int64, policy Policy, drop func(DropReason, int, error)) *memQueue {
	q := &memQueue{max: max, policy: policy, drop: drop}
	q.init(8)
	return q
}

func (q *memQueue) put(c *chunk) error {
	size := c.memSize()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.policy == Block {
		for q.bytes+size > q.max && len(q.chunks) > 0 {
			q.cond.Wait()
		}
	} else {
		for q.bytes+size > q.max && len(q.chunks) > 0 {
			old := q.chunks[0]
			q.chunks[0] = nil
			q.chunks = q.chunks[1:]
			q.bytes -= old.memSize()
			q.drop(DropQueueFull, len(old.docs), errors.New("the output queue is full: the back end does not keep up"))
			q.recycleLocked(old)
		}
	}
	q.chunks = append(q.chunks, c)
	q.bytes += size
	q.cond.Broadcast()
	return nil
}

func (q *memQueue) commit() error { return nil }

func (q *memQueue) next(ctx context.Context, maxDocs, maxBytes int) *batch {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.chunks) == 0 {
		if q.inputClosed || q.handedOff || ctx.Err() != nil {
			return nil
		}
		q.cond.Wait()
	}
	if ctx.Err() != nil {
		return nil
	}
	b := &q.b
	b.docs, b.chunks = b.docs[:0], b.chunks[:0]
	b.window, b.settled = false, 0
	bytes := 0
	n := 0
	for n < len(q.chunks) {
		c := q.chunks[n]
		if n > 0 && (len(b.docs)+len(c.docs) > maxDocs || bytes+len(c.buf) > maxBytes) {
			break
		}
		b.docs = append(b.docs, c.docs...)
		b.chunks = append(b.chunks, c)
		bytes += len(c.buf)
		q.bytes -= c.memSize()
		q.inflight += c.memSize()
		n++
		if c.window {
			b.window, b.start, b.end = true, c.start, c.end
			break
		}
	}
	clear(q.chunks[:n])
	q.chunks = q.chunks[n:]
	q.cond.Broadcast() // room for a blocked put
	return b
}

func (q *memQueue) ack(b *batch) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range b.chunks {
		q.inflight -= c.memSize()
		q.recycleLocked(c)
	}
	clear(b.docs) // drop the references into recycled chunks
	b.docs, b.chunks = b.docs[:0], b.chunks[:0]
}

// unread drops the rest of a batch interrupted by Close's deadline: a
// memory queue keeps nothing across restarts.
func (q *memQueue) unread(b *batch) {
	q.drop(DropShutdown, len(b.docs)-b.settled, errors.New("not delivered when the output was closed"))
	b.settled = len(b.docs)
	q.ack(b)
}

func (q *memQueue) abandoned(*batch) bool { return false }

func (q *memQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.chunks) == 0 && q.inflight == 0
}

func (q *memQueue) size() (int64, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes + q.inflight, 0
}

func (q *memQueue) close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, c := range q.chunks {
		n += len(c.docs)
	}
	q.chunks = nil
	q.bytes = 0
	q.drop(DropShutdown, n, errors.New("not delivered when the output was closed"))
	return nil
}

// handOff removes every queued chunk for a spool that takes over, and
// makes a waiting next return.
func (q *memQueue) handOff() []*chunk {
	q.mu.Lock()
	defer q.mu.Unlock()
	cs := q.chunks
	q.chunks = nil
	q.bytes = 0
	q.handedOff = true
	q.cond.Broadcast()
	return cs
}
