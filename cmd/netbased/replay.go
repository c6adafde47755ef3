package main

import (
	"context"
	"fmt"
	"io"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/flow"
)

// replayCommand implements `netbased replay [flags] FILE...`: the files are
// read in order as one stream; every record computed before a fault in the
// input is written before the error is returned.
func replayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, files, err := parseCommandArgs("replay", args, false)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no input files (netbased replay [flags] FILE...): %w", errUsage)
	}
	opts.overwrite = !opts.Append // a replay's outputs hold that replay's records, like Zeek's logs
	src, err := capture.OpenFiles(files...)
	if err != nil {
		return err
	}
	defer src.Close()
	eng, err := newEngine(opts, stdout)
	if err != nil {
		return err
	}
	w := eng.newWorker(0)
	progress := newProgress(opts.Progress, src, stderr)
	replayErr := flow.Replay(ctx, progress.wrap(src), w.decoder, w.tracker)
	progress.done()
	if t := w.tracker.NetworkTime(); !t.IsZero() {
		eng.advance(t)
	}
	closeErr := eng.close()
	if replayErr != nil {
		return replayErr
	}
	return closeErr
}
