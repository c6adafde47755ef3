package emit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// deferredSpool is the queue of an output whose spool another output
// holds: a reload's new output, opened while the output it replaces still
// runs. Records wait in memory, and the spool takes over (the queued
// records moved into it) as soon as the producer finds it free: the old
// output is closed when the new one takes over, so at the first window
// the new one writes.
type deferredSpool struct {
	mem  *memQueue
	open func() (*spool, error)
	// replayed hears of the records found in the spool when it opens.
	replayed func(uint64)

	mu          sync.Mutex // producer side: routing and the take-over
	sp          atomic.Pointer[spool]
	lastTry     time.Time
	inputClosed bool
}

// retrySpool is the least time between two attempts to open a busy spool.
const retrySpool = 100 * time.Millisecond

// acquireLocked opens the spool if it is free and moves the queued
// records into it.
func (d *deferredSpool) acquireLocked(force bool) {
	if d.sp.Load() != nil || (!force && time.Since(d.lastTry) < retrySpool) {
		return
	}
	d.lastTry = time.Now()
	sp, err := d.open()
	if err != nil {
		return
	}
	d.replayed(sp.replayedRecords())
	for _, c := range d.mem.handOff() {
		_ = sp.put(c) // failures are counted by the spool
	}
	if d.inputClosed {
		sp.closeInput()
	}
	d.sp.Store(sp)
}

func (d *deferredSpool) newChunk() *chunk {
	if sp := d.sp.Load(); sp != nil {
		return sp.newChunk()
	}
	return d.mem.newChunk()
}

func (d *deferredSpool) put(c *chunk) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acquireLocked(false)
	if sp := d.sp.Load(); sp != nil {
		return sp.put(c)
	}
	return d.mem.put(c)
}

func (d *deferredSpool) commit() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.acquireLocked(true) // a window end: try now
	if sp := d.sp.Load(); sp != nil {
		return sp.commit()
	}
	return nil
}

func (d *deferredSpool) closeInput() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.inputClosed = true
	d.mem.closeInput()
	if sp := d.sp.Load(); sp != nil {
		sp.closeInput()
	}
}

func (d *deferredSpool) next(ctx context.Context, maxDocs, maxBytes int) *batch {
	for {
		if sp := d.sp.Load(); sp != nil {
			return sp.next(ctx, maxDocs, maxBytes)
		}
		if b := d.mem.next(ctx, maxDocs, maxBytes); b != nil || d.sp.Load() == nil {
			return b
		}
		// The spool took over while next waited: read it.
	}
}

// fromMemory reports whether b came from the memory queue.
func (d *deferredSpool) fromMemory(b *batch) bool { return b == &d.mem.b }

func (d *deferredSpool) ack(b *batch) {
	if d.fromMemory(b) {
		d.mem.ack(b)
		return
	}
	d.sp.Load().ack(b)
}

func (d *deferredSpool) unread(b *batch) {
	if d.fromMemory(b) {
		d.mem.unread(b)
		return
	}
	d.sp.Load().unread(b)
}

func (d *deferredSpool) abandoned(b *batch) bool {
	if d.fromMemory(b) {
		return false
	}
	return d.sp.Load().abandoned(b)
}

func (d *deferredSpool) wake() {
	d.mem.wake()
	if sp := d.sp.Load(); sp != nil {
		sp.wake()
	}
}

func (d *deferredSpool) idle() bool {
	sp := d.sp.Load()
	return d.mem.idle() && (sp == nil || sp.idle())
}

func (d *deferredSpool) size() (int64, int64) {
	m, _ := d.mem.size()
	if sp := d.sp.Load(); sp != nil {
		sm, disk := sp.size()
		return m + sm, disk
	}
	return m, 0
}

// close hands what is still in memory to the spool if it can be had now
// (else it is dropped and counted) and closes the spool.
func (d *deferredSpool) close() error {
	d.mu.Lock()
	d.acquireLocked(true)
	d.mu.Unlock()
	err := d.mem.close()
	if sp := d.sp.Load(); sp != nil {
		err = errors.Join(err, sp.close())
	}
	return err
}
