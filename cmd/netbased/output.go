package main

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/emit"
)

// output writes interval records to stdout in the chosen format. It
// implements aggregate.Output.
type output struct {
	enc     emit.Encoder
	w       *bufio.Writer
	buf     []byte
	started bool
	records uint64
}

// openOutput opens the --out destination.
func openOutput(o *Options, stdout io.Writer) (*output, error) {
	format, err := emit.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	if o.Out != "-" && o.Out != "" {
		return nil, fmt.Errorf("out: file outputs are not wired yet")
	}
	return &output{enc: emit.NewEncoder(format), w: bufio.NewWriter(stdout)}, nil
}

func (out *output) start() {
	if !out.started {
		out.started = true
		out.buf = out.enc.Header(out.buf[:0], time.Now())
	}
}

// WriteInterval encodes one record.
func (out *output) WriteInterval(r *aggregate.Interval) error {
	out.start()
	out.buf = out.enc.Append(out.buf, r)
	out.records++
	_, err := out.w.Write(out.buf)
	out.buf = out.buf[:0]
	return err
}

// EndWindow flushes the window's records.
func (out *output) EndWindow(start, end time.Time) error { return out.w.Flush() }

func (out *output) close() error {
	if out.started {
		out.buf = out.enc.Footer(out.buf[:0], time.Now())
		if _, err := out.w.Write(out.buf); err != nil {
			return err
		}
	}
	return out.w.Flush()
}
