package flow

import (
	"context"
	"errors"
	"io"

	"github.com/netbased/netbased/capture"
)

// Replay reads every frame of src, decodes it with dec and feeds the
// packets to tr, then flushes tr (ending every open connection at the last
// network time). A frame that fails to decode is counted
// (Stats.DecodeErrs) and skipped; packets decoded from it before the fault
// are still tracked. A source error flushes what was tracked so far and is
// returned; so is the context's error when ctx is cancelled.
func Replay(ctx context.Context, src capture.Source, dec *capture.Decoder, tr *Tracker) error {
	var pkts []capture.Packet
	for n := 0; ; n++ {
		if n&1023 == 0 {
			if err := ctx.Err(); err != nil {
				tr.Flush()
				return err
			}
		}
		f, err := src.Next()
		if err != nil {
			tr.Flush()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err // the source's error names the file and offset
		}
		var derr error
		pkts, derr = dec.Decode(f, pkts[:0])
		if derr != nil {
			tr.stats.DecodeErrs++
		}
		for i := range pkts {
			tr.Packet(&pkts[i])
		}
	}
}
