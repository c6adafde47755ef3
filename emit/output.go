package emit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netbased/netbased/aggregate"
)

// Policy says what an Output does when its queue (or spool) is full.
type Policy uint8

const (
	// DropOldest never makes the caller wait: the oldest queued records
	// are dropped and counted (the daemon: capture must not stall).
	DropOldest Policy = iota
	// Block makes WriteInterval wait for room, and gives up on a batch
	// only after OutputOptions.MaxRetryTime (replay: back-pressure, every
	// record delivered or the run fails).
	Block
)

// OutputOptions configure an Output's queue, spool and retries. The zero
// value is a drop-oldest memory queue of DefaultQueueBytes with no spool.
type OutputOptions struct {
	// Policy is what happens when the queue or spool is full.
	Policy Policy
	// QueueBytes bounds the encoded records held in memory waiting for
	// delivery (default DefaultQueueBytes). With a spool, records wait on
	// disk instead and memory holds only the batch being delivered.
	QueueBytes int64
	// SpoolDir, when set, is the directory of the disk spool of remote
	// outputs: each has a subdirectory of append-only, checksummed
	// segments, fsynced at every window end and replayed on start.
	SpoolDir string
	// SpoolMaxBytes bounds one output's spool (default
	// DefaultSpoolMaxBytes); past it the oldest records are dropped
	// (DropOldest) or the writer waits (Block).
	SpoolMaxBytes int64
	// MaxRetryTime bounds the retries of one batch under the Block policy
	// (default 5 min; negative: retry for ever); after a batch was given
	// up, the next get one attempt each until a delivery succeeds. Under
	// DropOldest a batch is retried until it is delivered, dropped by the
	// bounds, or Close's deadline passes.
	MaxRetryTime time.Duration
	// BackoffMin and BackoffMax bound the jittered exponential backoff
	// between retries (defaults 100 ms and 30 s).
	BackoffMin, BackoffMax time.Duration
	// HealthWindow is how long a drop keeps the output's health at
	// StateDropping (default 1 min).
	HealthWindow time.Duration
	// StallTimeout is how long one delivery may wait for the back end
	// before the health says StateSpooling (default 10 s): a back end
	// that accepts and never answers is not a healthy one.
	StallTimeout time.Duration
	// Now is the clock of health and retries (default time.Now).
	Now func() time.Time
	// After, when not nil, holds the delivery back until it is closed:
	// an output that replaces another on the same stream (a reload's, on
	// standard output or a file) waits for the old one's Stopped, so that
	// the records stay in order and the two never write at once. Records
	// are queued meanwhile.
	After <-chan struct{}
}

// Defaults of OutputOptions.
const (
	DefaultQueueBytes    = 64 << 20
	DefaultSpoolMaxBytes = 1 << 30
	defaultMaxRetryTime  = 5 * time.Minute
	defaultBackoffMin    = 100 * time.Millisecond
	defaultBackoffMax    = 30 * time.Second
	defaultHealthWindow  = time.Minute
	defaultStallTimeout  = 10 * time.Second
	defaultBatchDocs     = 5000
	defaultBatchBytes    = 5 << 20
	// chunkBytes and chunkDocs bound the producer's chunks: the unit
	// handed to the queue and dropped by it.
	chunkBytes = 256 << 10
	chunkDocs  = 256
	// MaxRecordBytes is the largest encoded record an Output takes; a
	// larger one is dropped (DropTooLarge).
	MaxRecordBytes = 64 << 20
)

func (opt *OutputOptions) setDefaults() error {
	if opt.QueueBytes == 0 {
		opt.QueueBytes = DefaultQueueBytes
	}
	if opt.SpoolMaxBytes == 0 {
		opt.SpoolMaxBytes = DefaultSpoolMaxBytes
	}
	if opt.QueueBytes < 0 || opt.SpoolMaxBytes < 0 {
		return badOutput("queue and spool sizes must not be negative")
	}
	if opt.MaxRetryTime == 0 {
		opt.MaxRetryTime = defaultMaxRetryTime
	}
	if opt.BackoffMin == 0 {
		opt.BackoffMin = defaultBackoffMin
	}
	if opt.BackoffMax == 0 {
		opt.BackoffMax = defaultBackoffMax
	}
	if opt.BackoffMin < 0 || opt.BackoffMax < opt.BackoffMin {
		return badOutput("want 0 <= BackoffMin <= BackoffMax")
	}
	if opt.HealthWindow <= 0 {
		opt.HealthWindow = defaultHealthWindow
	}
	if opt.StallTimeout <= 0 {
		opt.StallTimeout = defaultStallTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return nil
}

// DropReason says why records were lost.
type DropReason uint8

// The reasons records are dropped.
const (
	// DropQueueFull: the memory queue was full (no spool) and these were
	// the oldest.
	DropQueueFull DropReason = iota
	// DropSpoolFull: the spool reached its size bound and these were the
	// oldest.
	DropSpoolFull
	// DropRejected: the back end refused them for good (a mapping error,
	// a record too large for it).
	DropRejected
	// DropRetriesExhausted: still failing after MaxRetryTime (Block).
	DropRetriesExhausted
	// DropShutdown: not delivered by Close's deadline and not spooled.
	DropShutdown
	// DropSpoolCorrupt: unreadable spool entries found on start (a
	// corrupt region counts one).
	DropSpoolCorrupt
	// DropSpoolWrite: the spool could not be written (a full or broken
	// disk).
	DropSpoolWrite
	// DropTooLarge: a record larger than MaxRecordBytes.
	DropTooLarge
	// NumDropReasons is the number of reasons (the size of
	// OutputStats.Dropped).
	NumDropReasons
)

var dropReasonNames = [NumDropReasons]string{
	"queue_full", "spool_full", "rejected", "retries_exhausted", "shutdown", "spool_corrupt", "spool_write", "too_large",
}

// String is the reason's metric label value.
func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// DropReasons lists every reason, for metrics that export zeros too.
func DropReasons() []DropReason {
	rs := make([]DropReason, NumDropReasons)
	for i := range rs {
		rs[i] = DropReason(i)
	}
	return rs
}

// State is an output's current condition.
type State uint8

const (
	// StateDelivering: the last attempt succeeded (or nothing was due);
	// nothing was dropped within the health window.
	StateDelivering State = iota
	// StateSpooling: the back end fails or is slow, records wait in the
	// queue or spool within its bounds. Healthy: nothing is lost.
	StateSpooling
	// StateDropping: records were dropped within the health window.
	StateDropping
)

// String names the state.
func (s State) String() string {
	switch s {
	case StateSpooling:
		return "spooling"
	case StateDropping:
		return "dropping"
	}
	return "delivering"
}

// Health is an output's current state (not its history).
type Health struct {
	State State
	// Err is the latest delivery failure while the back end fails (nil
	// once a delivery succeeds), or why records were last dropped.
	Err error
	// Since is when the back end started failing, or the last drop.
	Since time.Time
}

// OK reports whether the output loses nothing now.
func (h Health) OK() bool { return h.State != StateDropping }

// OutputStats are an output's counters.
type OutputStats struct {
	// Kind is the output kind's name (the metrics' output label).
	Kind string
	// Destination is where records go, credentials removed.
	Destination string
	// Records were accepted by WriteInterval; Replayed were found in the
	// spool on start.
	Records, Replayed uint64
	// Delivered records were accepted by the back end.
	Delivered uint64
	// Retried counts document re-sends (one document sent three times
	// counts 2).
	Retried uint64
	// Pending records are accepted (or replayed) and neither delivered nor
	// dropped: queued, spooled or being sent.
	Pending int64
	// QueuedBytes are held in memory; SpooledBytes on disk.
	QueuedBytes, SpooledBytes int64
	// Dropped counts the lost records by reason (index: DropReason).
	Dropped [NumDropReasons]uint64
	Health  Health
}

// DroppedTotal is the number of records lost for any reason.
func (s *OutputStats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

// Output is one --out destination: it implements aggregate.Output. The
// caller's goroutine (the window merger) only encodes records and hands
// them to a bounded queue — memory, or a disk spool for remote back ends —
// and never waits on the back end; a delivery goroutine sends batches to
// the sink with retries and backoff. When the queue is full the oldest
// records are dropped and counted (DropOldest), or the caller waits
// (Block). Health and Stats may be called from any goroutine.
type Output struct {
	kind   string
	dest   string
	remote bool
	sink   Sink
	enc    Encoder
	opt    OutputOptions
	q      queue

	maxDocs, maxBytes int
	chunkDocs         int

	// Producer side, guarded by pmu.
	pmu     sync.Mutex
	cur     *chunk
	sensors sensorCache
	closed  bool

	// sinkMu serializes the sink's calls (delivery goroutine, Reopen).
	sinkMu sync.Mutex

	// sendCtx is cancelled when Close's deadline passes.
	sendCtx    context.Context
	cancelSend context.CancelFunc
	done       chan struct{}
	// closing is closed when Close begins; stopped when it has finished
	// with the sink.
	closing, stopped chan struct{}

	// sending is when the delivery in progress began (Unix ns; 0: none).
	sending atomic.Int64
	// gaveUp is set (Block) when a batch was given up and nothing was
	// delivered since (delivery goroutine only).
	gaveUp bool

	records, replayed, delivered, retried atomic.Uint64
	dropped                               [NumDropReasons]atomic.Uint64

	hmu       sync.Mutex
	failing   error     // the last delivery error, nil after a success
	failSince time.Time // when failing began
	lastDrop  time.Time
	dropErr   error
	idle      *sync.Cond // signalled when a batch finished (Flush)
	signals   uint64     // … counted, so that Flush misses none
}

var _ aggregate.Output = (*Output)(nil)

// newOutput starts the delivery of an opened destination.
func newOutput(kind string, o Opened, opt OutputOptions) (*Output, error) {
	if err := opt.setDefaults(); err != nil {
		return nil, err
	}
	out := &Output{kind: kind, dest: o.Destination, remote: o.Remote, sink: o.Sink, enc: o.Encoder, opt: opt,
		maxDocs: o.MaxBatchDocs, maxBytes: o.MaxBatchBytes, done: make(chan struct{}),
		closing: make(chan struct{}), stopped: make(chan struct{})}
	if out.maxDocs <= 0 {
		out.maxDocs = defaultBatchDocs
	}
	if out.maxBytes <= 0 {
		out.maxBytes = defaultBatchBytes
	}
	out.chunkDocs = min(chunkDocs, out.maxDocs)
	out.idle = sync.NewCond(&out.hmu)
	if o.Remote && opt.SpoolDir != "" {
		open := func() (*spool, error) {
			return openSpool(spoolPath(opt.SpoolDir, kind, o.spoolKey), opt.SpoolMaxBytes, opt.Policy, out.drop)
		}
		sq, err := open()
		switch {
		case errors.Is(err, errSpoolBusy):
			// Another output holds it (a reload's old output, until it
			// is closed): start in memory, take the spool over later.
			out.q = &deferredSpool{mem: newMemQueue(opt.QueueBytes, opt.Policy, out.drop), open: open,
				replayed: func(n uint64) { out.replayed.Add(n) }}
		case err != nil:
			return nil, fmt.Errorf("output %s: %w", o.Destination, err)
		default:
			out.replayed.Store(sq.replayedRecords())
			out.q = sq
		}
	} else {
		out.q = newMemQueue(opt.QueueBytes, opt.Policy, out.drop)
	}
	out.sendCtx, out.cancelSend = context.WithCancel(context.Background())
	go out.deliverLoop()
	return out, nil
}

// Kind is the output kind's name ("file", "elasticsearch"): the metrics'
// output label, free of credentials.
func (o *Output) Kind() string { return o.kind }

// Destination is where records go, credentials removed (for logs).
func (o *Output) Destination() string { return o.dest }

// WriteInterval encodes r and queues it. It does not wait for the back
// end: only for room in the queue under the Block policy, and for a local
// disk write with a spool.
func (o *Output) WriteInterval(r *aggregate.Interval) error {
	o.pmu.Lock()
	defer o.pmu.Unlock()
	if o.closed {
		return errors.New("emit: write after Close")
	}
	c := o.cur
	if c == nil {
		c = o.q.newChunk()
		o.cur = c
	}
	start := len(c.buf)
	c.buf = o.enc.Append(c.buf, r)
	o.records.Add(1)
	if len(c.buf)-start > MaxRecordBytes {
		c.buf = c.buf[:start]
		o.drop(DropTooLarge, 1, fmt.Errorf("a record of %s is larger than %d bytes", r.Address, MaxRecordBytes))
		return nil
	}
	c.docs = append(c.docs, Document{Address: r.Address, Start: r.StartTime, End: r.EndTime, Sensor: o.sensors.of(r)})
	c.ends = append(c.ends, len(c.buf))
	if len(c.docs) >= o.chunkDocs || len(c.buf) >= chunkBytes {
		return o.pushLocked()
	}
	return nil
}

// pushLocked hands the current chunk to the queue.
func (o *Output) pushLocked() error {
	c := o.cur
	if c == nil {
		return nil
	}
	o.cur = nil
	c.seal()
	return o.q.put(c)
}

// EndWindow queues the window's end after its records and makes the queue
// durable (a spool's fsync); a file sink rotates and fsyncs when the
// delivery goroutine reaches it.
func (o *Output) EndWindow(start, end time.Time) error {
	o.pmu.Lock()
	defer o.pmu.Unlock()
	if o.closed {
		return errors.New("emit: EndWindow after Close")
	}
	if o.cur == nil {
		o.cur = o.q.newChunk()
	}
	o.cur.window, o.cur.start, o.cur.end = true, start, end
	if err := o.pushLocked(); err != nil {
		return err
	}
	return o.q.commit()
}

// Reopen reopens the destination (a file moved by logrotate: SIGHUP); a
// destination without files has nothing to reopen.
func (o *Output) Reopen() error {
	rs, ok := o.sink.(ReopenSink)
	if !ok {
		return nil
	}
	o.sinkMu.Lock()
	defer o.sinkMu.Unlock()
	return rs.Reopen()
}

// Flush waits until every record written so far is delivered or dropped
// and the sink saw every window end, or ctx ends (then it returns ctx's
// error).
func (o *Output) Flush(ctx context.Context) error {
	o.pmu.Lock()
	if !o.closed {
		if err := o.pushLocked(); err != nil {
			o.pmu.Unlock()
			return err
		}
	}
	o.pmu.Unlock()
	stop := context.AfterFunc(ctx, o.signal)
	defer stop()
	for {
		// The queue's lock is taken outside hmu (the queue calls drop,
		// which takes hmu, under its own).
		o.hmu.Lock()
		gen := o.signals
		o.hmu.Unlock()
		if o.pending() <= 0 && o.q.idle() {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		select {
		case <-o.done:
			return nil
		default:
		}
		o.hmu.Lock()
		for o.signals == gen {
			o.idle.Wait()
		}
		o.hmu.Unlock()
	}
}

// signal wakes Flush.
func (o *Output) signal() {
	o.hmu.Lock()
	o.signalLocked()
	o.hmu.Unlock()
}

// signalLocked wakes Flush; hmu is held.
func (o *Output) signalLocked() {
	o.signals++
	o.idle.Broadcast()
}

// Close ends the input, delivers what is queued until ctx's deadline, and
// closes the sink. Records still undelivered then stay in the spool for
// the next start (not an error: Stats().Pending says how many), or
// (without a spool) are dropped and counted as DropShutdown. The error
// says what was lost.
func (o *Output) Close(ctx context.Context) error {
	o.pmu.Lock()
	if o.closed {
		o.pmu.Unlock()
		return nil
	}
	o.closed = true
	close(o.closing)
	defer close(o.stopped)
	err := o.pushLocked()
	err = errors.Join(err, o.q.commit())
	o.q.closeInput()
	o.pmu.Unlock()

	select {
	case <-o.done:
	case <-ctx.Done():
		o.cancelSend()
		o.q.wake()
		<-o.done
	}
	o.cancelSend()
	err = errors.Join(err, o.q.close())
	o.sinkMu.Lock()
	err = errors.Join(err, o.sink.Close())
	o.sinkMu.Unlock()
	st := o.Stats()
	if st.Pending > 0 && !o.spooled() {
		err = errors.Join(err, fmt.Errorf("output %s: %d records not delivered: %w", o.dest, st.Pending, o.lastErr()))
	}
	if n := st.DroppedTotal(); n > 0 {
		err = errors.Join(err, fmt.Errorf("output %s: %d records lost (%s): %w", o.dest, n, dropSummary(&st), o.lastErr()))
	}
	return err
}

// Stopped is closed once Close has delivered what it could and closed the
// sink: nothing is written through the output after that.
func (o *Output) Stopped() <-chan struct{} { return o.stopped }

// Remote reports whether the output sends to a server (not standard
// output or a local file).
func (o *Output) Remote() bool { return o.remote }

// spooled reports whether the output's records wait in a disk spool (and
// so outlive the process).
func (o *Output) spooled() bool {
	switch q := o.q.(type) {
	case *spool:
		return true
	case *deferredSpool:
		return q.sp.Load() != nil
	}
	return false
}

// lastErr is the last delivery or drop error, for Close's message.
func (o *Output) lastErr() error {
	o.hmu.Lock()
	defer o.hmu.Unlock()
	if o.failing != nil {
		return o.failing
	}
	if o.dropErr != nil {
		return o.dropErr
	}
	return errors.New("no error recorded")
}

func dropSummary(st *OutputStats) string {
	s := ""
	for r, n := range st.Dropped {
		if n == 0 {
			continue
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", n, DropReason(r))
	}
	return s
}

// pending is the number of records accepted and not yet delivered or
// dropped.
func (o *Output) pending() int64 {
	var dropped uint64
	for i := range o.dropped {
		dropped += o.dropped[i].Load()
	}
	return int64(o.records.Load()+o.replayed.Load()) - int64(o.delivered.Load()+dropped)
}

// Stats returns the output's counters and health.
func (o *Output) Stats() OutputStats {
	st := OutputStats{
		Kind:        o.kind,
		Destination: o.dest,
		Records:     o.records.Load(),
		Replayed:    o.replayed.Load(),
		Delivered:   o.delivered.Load(),
		Retried:     o.retried.Load(),
		Health:      o.Health(),
	}
	for i := range o.dropped {
		st.Dropped[i] = o.dropped[i].Load()
	}
	st.Pending = o.pending()
	st.QueuedBytes, st.SpooledBytes = o.q.size()
	return st
}

// Health is the output's current state.
func (o *Output) Health() Health {
	now := o.opt.Now()
	o.hmu.Lock()
	defer o.hmu.Unlock()
	if !o.lastDrop.IsZero() && now.Sub(o.lastDrop) < o.opt.HealthWindow {
		err := o.dropErr
		if o.failing != nil {
			err = fmt.Errorf("%w; delivering: %w", err, o.failing)
		}
		return Health{State: StateDropping, Err: err, Since: o.lastDrop}
	}
	if o.failing != nil {
		return Health{State: StateSpooling, Err: o.failing, Since: o.failSince}
	}
	if began := o.sending.Load(); began != 0 {
		if since := time.Unix(0, began); now.Sub(since) >= o.opt.StallTimeout {
			return Health{State: StateSpooling, Since: since,
				Err: fmt.Errorf("output %s: a delivery has been waiting for the back end for %s", o.dest, now.Sub(since).Round(time.Second))}
		}
	}
	return Health{State: StateDelivering}
}

// drop counts n lost records (the queue calls it too).
func (o *Output) drop(reason DropReason, n int, why error) {
	if n <= 0 {
		return
	}
	o.dropped[reason].Add(uint64(n))
	o.hmu.Lock()
	o.lastDrop = o.opt.Now()
	o.dropErr = fmt.Errorf("%d records dropped (%s): %w", n, reason, why)
	o.signalLocked()
	o.hmu.Unlock()
}

func (o *Output) setFailing(err error) {
	o.hmu.Lock()
	if o.failing == nil {
		o.failSince = o.opt.Now()
	}
	o.failing = err
	o.hmu.Unlock()
}

func (o *Output) setDelivered(n int) {
	o.delivered.Add(uint64(n))
	o.hmu.Lock()
	o.failing = nil
	o.signalLocked()
	o.hmu.Unlock()
}

// deliverLoop is the delivery goroutine: it takes batches from the queue
// until the queue is closed and drained or Close's deadline passed.
func (o *Output) deliverLoop() {
	defer o.signal() // after done is closed: Flush sees it
	defer close(o.done)
	if o.opt.After != nil {
		select {
		case <-o.opt.After:
		case <-o.closing: // closed before it took over: nothing to order
		}
	}
	for {
		b := o.q.next(o.sendCtx, o.maxDocs, o.maxBytes)
		if b == nil {
			return
		}
		if !o.send(b) { // Close's deadline: what is left stays queued
			o.q.unread(b)
			return
		}
		if b.window {
			if ws, isWS := o.sink.(WindowSink); isWS {
				o.sinkMu.Lock()
				err := ws.EndWindow(b.start, b.end)
				o.sinkMu.Unlock()
				if err != nil {
					o.setFailing(err)
				}
			}
		}
		o.q.ack(b)
		o.signal()
	}
}

// send delivers the documents of b, retrying what fails retryably with
// backoff, and counts each as delivered or dropped (b.settled). It returns
// false when Close's deadline interrupted it.
func (o *Output) send(b *batch) bool {
	docs := b.docs
	began := o.opt.Now()
	for attempt := 0; len(docs) > 0; attempt++ {
		if o.q.abandoned(b) {
			o.drop(DropSpoolFull, len(docs), errors.New("the spool reached its size bound while these were being sent"))
			b.settled += len(docs)
			return true
		}
		o.sinkMu.Lock()
		o.sending.Store(o.opt.Now().UnixNano())
		err := o.sink.Deliver(o.sendCtx, docs)
		o.sending.Store(0)
		o.sinkMu.Unlock()
		if err == nil {
			o.gaveUp = false
			o.setDelivered(len(docs))
			b.settled += len(docs)
			return true
		}
		if o.sendCtx.Err() != nil { // Close's deadline: keep the last real failure
			return false
		}
		var retry []Document
		var pe *PartialError
		switch {
		case errors.As(err, &pe):
			failed := make(map[int]bool, len(pe.Failed))
			var rejected int
			var rejectErr error
			for _, f := range pe.Failed {
				if f.Index < 0 || f.Index >= len(docs) || failed[f.Index] {
					continue
				}
				failed[f.Index] = true
				if IsPermanent(f.Err) {
					rejected++
					rejectErr = f.Err
				} else {
					retry = append(retry, docs[f.Index])
				}
			}
			o.setDelivered(len(docs) - len(failed))
			o.drop(DropRejected, rejected, rejectErr)
			b.settled += len(docs) - len(retry)
			if len(retry) > 0 {
				o.setFailing(err)
			}
		case IsPermanent(err):
			o.drop(DropRejected, len(docs), err)
			b.settled += len(docs)
			return true
		default:
			retry = docs
			o.setFailing(err)
		}
		if len(retry) == 0 {
			return true
		}
		wait := o.backoff(attempt)
		if o.opt.Policy == Block && o.opt.MaxRetryTime > 0 && (o.gaveUp || o.opt.Now().Sub(began)+wait > o.opt.MaxRetryTime) {
			// Once a batch gave up, the next ones make one attempt each
			// until a delivery succeeds: a replay to a dead back end
			// ends in MaxRetryTime, not MaxRetryTime per batch.
			o.gaveUp = true
			o.drop(DropRetriesExhausted, len(retry), err)
			b.settled += len(retry)
			return true
		}
		o.retried.Add(uint64(len(retry)))
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-o.sendCtx.Done():
			t.Stop()
			return false
		}
		docs = retry
	}
	return true
}

// backoff is the jittered wait before retry number attempt+1.
func (o *Output) backoff(attempt int) time.Duration {
	d := o.opt.BackoffMax
	if attempt < 32 {
		if e := o.opt.BackoffMin << attempt; e > 0 && e < d {
			d = e
		}
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}
