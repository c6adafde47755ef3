package emit

import (
	"context"
	"errors"
	"testing"
	"time"
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
