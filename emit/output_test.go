package emit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/internal/testenv"
)

// newTestOutput starts an Output over sink (closed by the test's cleanup
// if the test did not close it).
func newTestOutput(t testing.TB, sink Sink, enc Encoder, opt OutputOptions) *Output {
	t.Helper()
	if opt.BackoffMin == 0 {
		opt.BackoffMin, opt.BackoffMax = time.Millisecond, 20*time.Millisecond
	}
	o, err := newOutput("test", Opened{Sink: sink, Encoder: enc, Destination: "test"}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = o.Close(ctx)
	})
	return o
}

// discardSink accepts everything.
type discardSink struct{}

func (discardSink) Deliver(context.Context, []Document) error { return nil }
func (discardSink) Close() error                              { return nil }

// stalledSink fails every delivery, as a dead back end does.
type stalledSink struct{}

func (stalledSink) Deliver(context.Context, []Document) error { return errors.New("back end down") }
func (stalledSink) Close() error                              { return nil }

// BenchmarkOutputEnqueue measures the caller's side of an output (the
// window merger's cost per record: encoding json and queueing), with a
// back end that keeps up (memory queue), one that is down (the memory
// queue drops its oldest), and a disk spool (a write per chunk, an fsync
// per window of 1000 records).
func BenchmarkOutputEnqueue(b *testing.B) {
	recs := testRecords(1000, esDay)
	for _, tc := range []struct {
		name  string
		sink  Sink
		spool bool
	}{
		{"memory", discardSink{}, false},
		{"memory-backend-down", stalledSink{}, false},
		{"spool", discardSink{}, true},
		{"spool-backend-down", stalledSink{}, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			opt := OutputOptions{QueueBytes: 16 << 20, SpoolMaxBytes: 256 << 20, BackoffMin: time.Millisecond, BackoffMax: time.Millisecond}
			if tc.spool {
				opt.SpoolDir = b.TempDir()
			}
			o, err := newOutput("bench", Opened{Sink: tc.sink, Encoder: NewEncoder(FormatJSON, EncoderOptions{}), Remote: true}, opt)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				o.Close(ctx)
			}()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := o.WriteInterval(&recs[i]); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(recs) {
					i = 0
					if err := o.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestOutputAfter: an output that replaces another on the same stream
// writes nothing until the old one stopped, then everything in order, and
// one closed before it took over stops at once.
func TestOutputAfter(t *testing.T) {
	var buf testenv.LockedBuffer
	enc := NewEncoder(FormatJSON, EncoderOptions{})
	recs := sampleRecords()
	old := newTestOutput(t, NewStreamSink(&buf, enc), enc, OutputOptions{Policy: Block})
	next := newTestOutput(t, NewStreamSink(&buf, enc), enc, OutputOptions{Policy: Block, After: old.Stopped()})
	if err := next.WriteInterval(&recs[1]); err != nil {
		t.Fatal(err)
	}
	if err := next.EndWindow(recs[1].StartTime, recs[1].EndTime); err != nil {
		t.Fatal(err)
	}
	if err := old.WriteInterval(&recs[0]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // time enough for next to write, if it could
	if got := buf.String(); got != "" {
		t.Fatalf("the new output wrote before the old one stopped: %q", got)
	}
	if err := old.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := next.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], recs[0].Address.String()) || !strings.Contains(lines[1], recs[1].Address.String()) {
		t.Fatalf("records out of order or missing:\n%s", buf.String())
	}

	// Closed before it took over (the daemon stopped first): no wait.
	never := make(chan struct{})
	early := newTestOutput(t, discardSink{}, enc, OutputOptions{Policy: Block, After: never})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := early.Close(ctx); err != nil || ctx.Err() != nil {
		t.Fatalf("closing an output that never took over: %v, %v", err, ctx.Err())
	}
}
