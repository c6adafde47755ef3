package main

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/netbased/netbased/emit"
)

// openOutput opens the --out destination (stdout for "-") as an emit.Writer
// in the --format encoding; files rotate by --rotate-size/--rotate-every.
func openOutput(o *Options, stdout io.Writer) (*emit.Writer, error) {
	format, err := emit.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	enc := emit.NewEncoder(format)
	if o.Out == "" || o.Out == "-" {
		return emit.NewWriter(emit.NewStreamSink(bufio.NewWriterSize(stdout, 64<<10)), enc), nil
	}
	sink, err := emit.OpenFile(o.Out, emit.FileOptions{RotateSize: o.RotateSize, RotateEvery: time.Duration(o.RotateEvery)})
	if err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	return emit.NewWriter(sink, enc), nil
}
