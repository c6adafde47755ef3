package emit

import (
	"context"
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
