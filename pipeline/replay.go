package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/netbased/netbased/capture"
)

// Replay reads src to its end and has the workers handle every frame, then
// finishes them (every open connection ends; the accumulators close).
//
// One worker reads on the calling goroutine. With several, a reader
// spreads the frames over them by the frame's outermost IP address pair
// (capture.Decoder.OuterAddrs), so that the packets of a connection, its
// fragments, an FTP data connection and its control connection, and a
// tunnel with what it carries all reach one worker; every other worker
// gets the frame's time (Worker.Tick), so that its timers fire exactly when
// one worker's would. The records are the same for any number of workers.
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
	d := newDispatcher(len(workers))
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
)

// item is a frame of the batch's worker, or the time of another worker's
// frame (a tick).
type item struct {
	ts         int64
	off, n     uint32
	captureLen int32
	wireLen    int32
	link       layers.LinkType
	vlan       uint16
	tick       bool
}

type batch struct {
	items []item
	data  []byte
}

// dispatcher is the reader's side of a multi-worker replay.
type dispatcher struct {
	probe *capture.Decoder
	queue []chan *batch // per worker, filled batches
	free  []chan *batch // per worker, handled batches for reuse
	cur   []*batch
}

func newDispatcher(n int) *dispatcher {
	d := &dispatcher{probe: capture.NewDecoder(capture.DecoderOptions{})}
	for range n {
		d.queue = append(d.queue, make(chan *batch, batchesQueued))
		d.free = append(d.free, make(chan *batch, batchesQueued+2))
		d.cur = append(d.cur, newBatch())
	}
	return d
}

func newBatch() *batch {
	return &batch{items: make([]item, 0, batchItems), data: make([]byte, 0, batchBytes)}
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
	n := uint32(len(d.queue))
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
		owner := uint32(0) // frames without IP: worker 0 decodes and counts them
		if a, b, ok := d.probe.OuterAddrs(f); ok {
			owner = pairHash(a, b) % n
		}
		ts := f.Timestamp.UnixNano()
		for k := range d.cur {
			if uint32(k) == owner {
				d.addFrame(k, &f, ts)
			} else {
				d.addTick(k, ts)
			}
		}
	}
}

func (d *dispatcher) addFrame(k int, f *capture.Frame, ts int64) {
	b := d.cur[k]
	if len(b.data)+len(f.Data) > cap(b.data) && len(b.items) > 0 {
		b = d.send(k)
	}
	off := len(b.data)
	b.data = append(b.data, f.Data...)
	b.items = append(b.items, item{ts: ts, off: uint32(off), n: uint32(len(f.Data)), captureLen: int32(f.CaptureLength),
		wireLen: int32(f.Length), link: f.LinkType, vlan: f.VLAN})
	if len(b.items) == batchItems {
		d.send(k)
	}
}

func (d *dispatcher) addTick(k int, ts int64) {
	b := d.cur[k]
	b.items = append(b.items, item{ts: ts, tick: true})
	if len(b.items) == batchItems {
		d.send(k)
	}
}

// send queues worker k's batch and returns a fresh one.
func (d *dispatcher) send(k int) *batch {
	d.queue[k] <- d.cur[k]
	var b *batch
	select {
	case b = <-d.free[k]:
		b.items, b.data = b.items[:0], b.data[:0]
	default:
		b = newBatch()
	}
	d.cur[k] = b
	return b
}

// work handles worker k's batches until the reader is done, then finishes
// the worker.
func (d *dispatcher) work(w *Worker, k int) error {
	for b := range d.queue[k] {
		for i := range b.items {
			it := &b.items[i]
			ts := time.Unix(0, it.ts)
			if it.tick {
				w.Tick(ts)
				continue
			}
			w.Frame(capture.Frame{Data: b.data[it.off : it.off+it.n], Timestamp: ts, CaptureLength: int(it.captureLen),
				Length: int(it.wireLen), LinkType: it.link, VLAN: it.vlan})
		}
		select {
		case d.free[k] <- b:
		default:
		}
	}
	return w.Finish()
}

// pairHash hashes an address pair the same in either order.
func pairHash(a, b netip.Addr) uint32 {
	return uint32(mix(addrHash64(a) + addrHash64(b)))
}

func addrHash64(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	return mix(binary.LittleEndian.Uint64(b[:8])) ^ binary.LittleEndian.Uint64(b[8:])*0x9e3779b97f4a7c15
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
