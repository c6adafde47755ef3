// Package pipeline runs netbased's per-packet path, the same way for a
// replay and a live capture: a Worker reads frames, decodes them
// (capture), tracks their connections with Zeek's semantics (flow) and
// counts every ended connection into its own aggregate.Accumulator, whose
// windows the aggregate.Windows engine merges and writes. Live, each
// worker reads its own fanout socket (Run); a replay with several workers
// has one reader spread the frames over them by their outer address pair
// (Replay).
package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/flow"
)

// Config is what every worker of a pipeline shares.
type Config struct {
	Decoder capture.DecoderOptions
	// Tracker configures each worker's connection tracker.
	Tracker flow.Config
}

// ConnSink receives a worker's ended connections besides its accumulator
// (a conn log). It is called on the worker's goroutine; the Conn is valid
// only during the call. Flush is called when the worker publishes its
// counters and when it finishes: whatever the sink buffers should go out
// then.
type ConnSink interface {
	Conn(c *flow.Conn)
	Flush()
}

// Worker is one goroutine's share of the traffic: a decoder, a connection
// tracker and an accumulator. It is not safe for concurrent use, except
// Snapshot and NetworkTime.
type Worker struct {
	id     int
	cfg    Config
	dec    *capture.Decoder
	tr     *flow.Tracker
	acc    *aggregate.Accumulator
	sink   ConnSink
	pkts   []capture.Packet
	addErr error

	frames, bytes uint64
	// netTime is the worker's network time (Unix ns), for other
	// goroutines.
	netTime atomic.Int64

	mu    sync.Mutex
	snap  Snapshot
	alive time.Time
}

// NewWorker returns worker id counting into acc; sink, if not nil, also
// receives the ended connections.
func NewWorker(id int, cfg Config, acc *aggregate.Accumulator, sink ConnSink) *Worker {
	w := &Worker{id: id, cfg: cfg, dec: capture.NewDecoder(cfg.Decoder), acc: acc, sink: sink}
	w.tr = flow.NewTracker(cfg.Tracker, w.ended)
	return w
}

// ID is the worker's index.
func (w *Worker) ID() int { return w.id }

// ended takes one connection from the tracker.
func (w *Worker) ended(c *flow.Conn) {
	if err := w.acc.Add(c); err != nil && w.addErr == nil {
		w.addErr = err
	}
	if w.sink != nil {
		w.sink.Conn(c)
	}
}

// Frame handles one frame this worker owns: network time moves to its
// time (timers fire), its packets are tracked, and the accumulator learns
// the new network time. A frame the decoder rejects is counted by reason
// (capture.DecoderStats) and skipped; packets decoded before the fault are
// still tracked.
func (w *Worker) Frame(f capture.Frame) { w.frame(f, roleAll, nil) }

// role says which of a frame's packets a worker tracks: all of them, or,
// when a tunnel's outer and inner connections belong to different workers,
// the outer (depth 0) or the inner ones.
type role uint8

const (
	roleAll role = iota
	roleOuter
	roleInner
)

// frame handles f in role r. parents, when not nil, are the tunnel names of
// the frame's packets, one each (a reader named them: see Replay).
func (w *Worker) frame(f capture.Frame, r role, parents []flow.Parent) {
	if r != roleInner {
		// A frame handed to two workers counts once.
		w.frames++
		w.bytes += uint64(f.Length)
	}
	w.tr.Tick(f.Timestamp)
	w.pkts, _ = w.dec.Decode(f, w.pkts[:0])
	if parents != nil && len(parents) != len(w.pkts) {
		parents = nil // cannot happen: the reader decoded the same frame alike
	}
	for i := range w.pkts {
		p := &w.pkts[i]
		if r == roleOuter && p.TunnelDepth > 0 || r == roleInner && p.TunnelDepth == 0 {
			continue
		}
		if parents != nil {
			w.tr.PacketFrom(p, parents[i])
		} else {
			w.tr.Packet(p)
		}
	}
	w.advance()
}

// ticks are the times (Unix ns, in order) of a run of frames other
// workers of the same traffic own: network time moves on exactly as if
// this worker had read them. The accumulator learns the network time once,
// at the end.
func (w *Worker) ticks(ts []int64) {
	w.tr.Ticks(ts)
	w.advance()
}

// Idle moves network time to t without a frame: the clock of an idle link
// (live capture). Due timers fire; windows that ended are handed over.
func (w *Worker) Idle(t time.Time) {
	w.tr.Advance(t)
	if nt := w.tr.NetworkTime(); nt.IsZero() {
		// Nothing captured yet: the accumulator still moves on, so the
		// other workers' windows are not held up.
		w.acc.Advance(t)
		w.netTime.Store(t.UnixNano())
		return
	}
	w.advance()
}

// advance hands the tracker's network time to the accumulator.
func (w *Worker) advance() {
	nt := w.tr.NetworkTime()
	w.acc.Advance(nt)
	w.netTime.Store(nt.UnixNano())
}

// NetworkTime is the worker's network time (zero before its first frame or
// clock tick). Safe from any goroutine.
func (w *Worker) NetworkTime() time.Time {
	n := w.netTime.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Finish ends every open connection at the current network time (Zeek's
// end of input) and closes the accumulator. It returns the first error the
// accumulator reported (Add after Close).
func (w *Worker) Finish() error {
	w.tr.Flush()
	w.acc.Close()
	w.Publish(time.Now())
	return w.addErr
}

// Snapshot is a worker's counters as last published.
type Snapshot struct {
	Frames, Bytes uint64
	Decoder       capture.DecoderStats
	Tracker       flow.Stats
	// Active is the connection table's size.
	Active int
}

// Publish copies the worker's counters for other goroutines (metrics,
// summaries) and records now as its last sign of life. Call it from the
// worker's goroutine now and then (a clock tick), not per frame.
func (w *Worker) Publish(now time.Time) {
	if w.sink != nil {
		w.sink.Flush()
	}
	s := Snapshot{Frames: w.frames, Bytes: w.bytes, Decoder: w.dec.Stats(), Tracker: w.tr.Stats(), Active: w.tr.Active()}
	w.mu.Lock()
	w.snap, w.alive = s, now
	w.mu.Unlock()
}

// Snapshot returns the last published counters and when they were
// published. Safe from any goroutine.
func (w *Worker) Snapshot() (Snapshot, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap, w.alive
}

// Live configures Run on a live source.
type Live struct {
	// Now is the wall clock (default time.Now).
	Now func() time.Time
	// IdleLag is how far behind the clock an idle worker's network time
	// stays: frames the kernel has not handed over yet are at most that
	// old.
	IdleLag time.Duration
	// PublishEvery is how often the worker publishes its counters.
	PublishEvery time.Duration
}

// Run reads src until it ends (io.EOF) or ctx is cancelled, handling every
// frame, then finishes the worker (every open connection ends). On a live
// source (live not nil) capture.ErrIdle moves network time to the clock,
// and the counters are published every live.PublishEvery. A source error
// other than io.EOF is returned after finishing.
func (w *Worker) Run(ctx context.Context, src capture.Source, live *Live) error {
	now := time.Now
	every := time.Second
	if live != nil {
		if live.Now != nil {
			now = live.Now
		}
		if live.PublishEvery > 0 {
			every = live.PublishEvery
		}
	}
	w.Publish(now())
	var lastPublish time.Time
	var runErr error
	for n := uint64(0); ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
		f, err := src.Next()
		if err == nil {
			w.Frame(f)
			// Reading the clock every 64 frames is enough: on a slow link
			// the source returns ErrIdle between frames.
			if live != nil && w.frames&63 == 0 {
				if wall := time.Now(); wall.Sub(lastPublish) >= every {
					lastPublish = wall
					w.Publish(now())
				}
			}
			continue
		}
		if live != nil && errors.Is(err, capture.ErrIdle) {
			t := now()
			w.Idle(t.Add(-live.IdleLag))
			if wall := time.Now(); wall.Sub(lastPublish) >= every {
				lastPublish = wall
				w.Publish(t)
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			runErr = err
		}
		break
	}
	if live != nil {
		// The source is drained: the clock may move to now, then every
		// open connection ends in its current state.
		w.Idle(now().Add(-live.IdleLag))
	}
	return errors.Join(runErr, w.Finish())
}
