package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/netbased/netbased/emit"
)

// outputCloseTimeout bounds how long the daemon delivers what is queued
// when it closes an output (SIGTERM, a reload); what is left stays in the
// spool for the next start. It leaves room in systemd's 60 s stop timeout.
const outputCloseTimeout = 20 * time.Second

// openOutput opens the --out destination in the --format encoding through
// the output registry (see emit.DefaultRegistry for the destinations:
// "-", a file path, es+http(s)://…, kafka://…). The daemon (an interface
// is set) never waits for an output: full queues drop their oldest records,
// counted. Replay waits for room instead, so that every record is
// delivered or the run fails.
func openOutput(o *Options, stdout io.Writer) (*emit.Output, error) {
	format, err := emit.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("format: %w: %w", err, errUsage)
	}
	params := emit.OpenParams{
		Format:  format,
		Encoder: emit.EncoderOptions{MaxSetSize: o.MaxSetSize},
		Stdout:  stdout,
		File:    emit.FileOptions{RotateSize: o.RotateSize, RotateEvery: time.Duration(o.RotateEvery)},
	}
	opt := emit.OutputOptions{Policy: emit.Block}
	if o.Interface != "" {
		opt.Policy = emit.DropOldest
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

// closeOutput closes an output: the daemon's within outputCloseTimeout,
// replay's once everything is delivered or given up.
func closeOutput(o *Options, out *emit.Output) error {
	ctx := context.Background()
	if o.Interface != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, outputCloseTimeout)
		defer cancel()
	}
	return out.Close(ctx)
}
