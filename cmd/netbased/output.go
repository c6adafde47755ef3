package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/netbased/netbased/emit"
)

// openOutput opens the --out destination in the --format encoding through
// the output registry (see emit.DefaultRegistry for the destinations:
// "-", a file path, es+http(s)://…, kafka://…, clickhouse://…), with the
// es_* options (applyElasticsearchOptions). The daemon (Options.daemon)
// never waits for an output: what a back end cannot take yet waits in
// the memory queue and the --spool-dir spool, and beyond their bounds the
// oldest records are dropped, counted. Replay waits for room instead, so
// that every record is delivered or the run fails; it overwrites a file
// unless --append. When after is not nil, delivery begins once it is closed
// (emit.OutputOptions.After).
func openOutput(o *Options, stdout io.Writer, after <-chan struct{}) (*emit.Output, error) {
	format, err := emit.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("format: %w: %w", err, errUsage)
	}
	params := emit.OpenParams{
		Format:  format,
		Encoder: emit.EncoderOptions{MaxSetSize: o.MaxSetSize},
		Stdout:  stdout,
		File: emit.FileOptions{RotateSize: o.RotateSize, RotateEvery: time.Duration(o.RotateEvery),
			Truncate: o.overwrite},
		ConfigureElasticsearch: o.applyElasticsearchOptions,
	}
	opt := emit.OutputOptions{Policy: emit.Block, QueueBytes: o.OutputQueueBytes, After: after}
	if o.daemon {
		opt.Policy = emit.DropOldest
		opt.SpoolDir, opt.SpoolMaxBytes = o.SpoolDir, o.SpoolMaxBytes
	}
	out, err := emit.DefaultRegistry().Open(context.Background(), o.Out, params, opt)
	if err != nil {
		if errors.Is(err, emit.ErrBadOutput) {
			return nil, fmt.Errorf("out: %w: %w", err, errUsage)
		}
		return nil, fmt.Errorf("out: %w", err)
	}
	return out, nil
}

// closeOutput closes an output: the daemon's within --output-stop-timeout
// (what is left stays in the spool for the next start), replay's once
// everything is delivered or given up.
func closeOutput(o *Options, out *emit.Output) error {
	ctx := context.Background()
	if o.daemon {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.OutputStopTimeout))
		defer cancel()
	}
	return out.Close(ctx)
}
