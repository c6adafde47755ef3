package pipeline

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/flow"
)

// errNoWorkers is returned when Replay gets no worker.
var errNoWorkers = errors.New("pipeline: no workers")

// Replay reads src to its end and has the workers handle every frame, then
// finishes them (every open connection ends; the accumulators close).
//
// One worker reads on the calling goroutine. With several, a reader
// spreads the frames over them by the frame's outermost IP address pair
// (capture.Decoder.Probe), so that the packets of a connection, its
// fragments, and an FTP data connection and its control connection reach
// one worker; every other worker gets the frame's time, so that its timers
// fire exactly when one worker's would. A frame that may carry a tunnel is
// decoded by the reader, which names its tunnels (flow.Tunnels, as one
// tracker would) and hands the names over with the frame; when its inner packets belong to another worker than its outer
// ones (a connection whose two directions ride different tunnels, such as
// Teredo through two relays), both get the frame, one tracking the outer
// packets and the other the inner ones. The records, and the conn log, are
// the same for any number of workers.
//
// A source error ends the replay: what was read is handled and the error
// returned; so is ctx's error when ctx is cancelled.
func Replay(ctx context.Context, src capture.Source, workers []*Worker) error {
	switch len(workers) {
	case 0:
		return errNoWorkers
	case 1:
		return workers[0].Run(ctx, src, nil)
	}
	d := newDispatcher(len(workers), workers[0].cfg)
	var wg sync.WaitGroup
	errs := make([]error, len(workers))
	for i, w := range workers {
		wg.Go(func() { errs[i] = d.work(w, i) })
	}
	readErr := d.read(ctx, src)
	wg.Wait()
	return errors.Join(append([]error{readErr}, errs...)...)
}

// Batches: a worker gets its frames and the other workers' frame times in
// batches, in capture order.
const (
	batchItems    = 1024
	batchBytes    = 512 << 10
	batchesQueued = 4
	// batchesPerWorker bounds the batches in flight per worker (queued,
	// being handled, being filled).
	batchesPerWorker = batchesQueued + 2
)

// item is a frame of the batch's worker, or the times of a run of other
// workers' frames (ticks: the batch's ticks[off:off+n]).
type item struct {
	ts         int64
	off, n     uint32
	captureLen int32
	wireLen    int32
	link       layers.LinkType
	vlan       uint16
	tick       bool
	role       role
	// named: the reader named the frame's tunnels; the frame's packets'
	// parents are parents[pOff:pOff+pN] of the batch.
	named    bool
	pOff, pN uint32
}

type batch struct {
	items   []item
	data    []byte
	ticks   []int64
	parents []flow.Parent
}

// dispatcher is the reader's side of a multi-worker replay.
type dispatcher struct {
	probe *capture.Decoder
	// dec decodes the frames that may carry a tunnel (its options are the
	// workers'); tunnels names their outer connections.
	dec     *capture.Decoder
	pkts    []capture.Packet
	tunnels *flow.Tunnels
	parents []flow.Parent
	queue   []chan *batch // per worker, filled batches
	free    []chan *batch // per worker, handled batches for reuse
	cur     []*batch
	made    []int // batches made per worker
}

func newDispatcher(n int, cfg Config) *dispatcher {
	d := &dispatcher{probe: capture.NewDecoder(capture.DecoderOptions{}), dec: capture.NewDecoder(cfg.Decoder),
		tunnels: flow.NewTunnels(cfg.Tracker)}
	for range n {
		d.queue = append(d.queue, make(chan *batch, batchesQueued))
		d.free = append(d.free, make(chan *batch, batchesPerWorker))
		d.cur = append(d.cur, newBatch())
		d.made = append(d.made, 1)
	}
	return d
}

func newBatch() *batch {
	return &batch{items: make([]item, 0, batchItems), data: make([]byte, 0, batchBytes), ticks: make([]int64, 0, batchItems)}
}

// read reads every frame and queues it (or its time) to every worker, then
// closes the queues.
func (d *dispatcher) read(ctx context.Context, src capture.Source) error {
	defer func() {
		for k, b := range d.cur {
			if len(b.items) > 0 {
				d.queue[k] <- b
			}
			close(d.queue[k])
		}
	}()
	n := uint64(len(d.queue))
	for i := uint64(0); ; i++ {
		if i&1023 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		f, err := src.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		owner, inner := 0, -1 // frames without IP: worker 0 decodes and counts them
		named := false
		if pr, ok := d.probe.Probe(f); ok {
			owner = int(pr.Pair % n)
			if pr.MayTunnel {
				inner = d.decodeTunnels(f, owner, n)
				named = true
			}
		}
		ts := f.Timestamp.UnixNano()
		for k := range d.cur {
			switch {
			case k == owner && inner >= 0:
				d.addFrame(k, &f, ts, roleOuter, named)
			case k == owner:
				d.addFrame(k, &f, ts, roleAll, named)
			case k == inner:
				d.addFrame(k, &f, ts, roleInner, named)
			default:
				d.addTick(k, ts)
			}
		}
	}
}

// decodeTunnels decodes a frame that may carry a tunnel, names its
// tunnels (d.parents, one per packet) and returns the worker of its
// innermost packet when that is not owner (else -1). A datagram
// reassembled from fragments stays with owner, which holds its fragments.
func (d *dispatcher) decodeTunnels(f capture.Frame, owner int, n uint64) int {
	reassembled := d.dec.Stats().Reassembled
	d.pkts, _ = d.dec.Decode(f, d.pkts[:0])
	d.parents = d.parents[:0]
	var innermost *capture.Packet
	for i := range d.pkts {
		p := &d.pkts[i]
		d.parents = append(d.parents, d.tunnels.Of(p))
		if p.TunnelDepth > 0 {
			innermost = p
		}
	}
	if innermost == nil || d.dec.Stats().Reassembled != reassembled {
		return -1
	}
	if k := int(capture.PairHash(innermost.Src, innermost.Dst) % n); k != owner {
		return k
	}
	return -1
}

// addFrame queues frame f for worker k in role r; named: with the tunnel
// names of d.parents.
func (d *dispatcher) addFrame(k int, f *capture.Frame, ts int64, r role, named bool) {
	b := d.cur[k]
	if len(b.data)+len(f.Data) > cap(b.data) && len(b.items) > 0 {
		b = d.send(k)
	}
	off := len(b.data)
	b.data = append(b.data, f.Data...)
	it := item{role: r}
	if named {
		it.named, it.pOff, it.pN = true, uint32(len(b.parents)), uint32(len(d.parents))
		b.parents = append(b.parents, d.parents...)
	}
	it.ts, it.off, it.n = ts, uint32(off), uint32(len(f.Data))
	it.captureLen, it.wireLen, it.link, it.vlan = int32(f.CaptureLength), int32(f.Length), f.LinkType, f.VLAN
	b.items = append(b.items, it)
	if len(b.items) == batchItems {
		d.send(k)
	}
}

// addTick queues the time of another worker's frame for worker k: it
// extends the batch's last run of ticks or starts one.
func (d *dispatcher) addTick(k int, ts int64) {
	b := d.cur[k]
	if n := len(b.items); n > 0 && b.items[n-1].tick {
		b.items[n-1].n++
	} else {
		b.items = append(b.items, item{tick: true, off: uint32(len(b.ticks)), n: 1})
	}
	b.ticks = append(b.ticks, ts)
	if len(b.ticks) == cap(b.ticks) || len(b.items) == batchItems {
		d.send(k)
	}
}

// send queues worker k's batch and returns an empty one: a handled batch
// back from the worker, or a new one while fewer than batchesPerWorker
// exist.
func (d *dispatcher) send(k int) *batch {
	d.queue[k] <- d.cur[k]
	var b *batch
	if d.made[k] < batchesPerWorker {
		select {
		case b = <-d.free[k]:
		default:
			d.made[k]++
			b = newBatch()
		}
	} else {
		b = <-d.free[k]
	}
	b.items, b.data, b.ticks, b.parents = b.items[:0], b.data[:0], b.ticks[:0], b.parents[:0]
	d.cur[k] = b
	return b
}

// work handles worker k's batches until the reader is done, then finishes
// the worker.
func (d *dispatcher) work(w *Worker, k int) error {
	for b := range d.queue[k] {
		for i := range b.items {
			it := &b.items[i]
			if it.tick {
				w.ticks(b.ticks[it.off : it.off+it.n])
				continue
			}
			ts := time.Unix(0, it.ts)
			f := capture.Frame{Data: b.data[it.off : it.off+it.n], Timestamp: ts, CaptureLength: int(it.captureLen),
				Length: int(it.wireLen), LinkType: it.link, VLAN: it.vlan}
			var parents []flow.Parent
			if it.named {
				parents = b.parents[it.pOff : it.pOff+it.pN]
			}
			w.frame(f, it.role, parents)
		}
		d.free[k] <- b // never blocks: it holds every batch of the worker
	}
	return w.Finish()
}
