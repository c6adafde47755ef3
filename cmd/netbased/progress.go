package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/netbased/netbased/capture"
)

// progress draws a one-line progress bar on a terminal while a replay runs:
// bytes read of the total and packets per second. On a pipe, under CI, or
// with --progress never it draws nothing.
type progress struct {
	out    io.Writer
	src    capture.Progress
	frames atomic.Uint64
	stop   chan struct{}
	doneCh chan struct{}
}

// countingSource counts the frames that pass through it.
type countingSource struct {
	capture.Source
	p *progress
}

func (c countingSource) Next() (capture.Frame, error) {
	f, err := c.Source.Next()
	if err == nil {
		c.p.frames.Add(1)
	}
	return f, err
}

// newProgress decides from mode (auto, always, never) whether to draw.
func newProgress(mode string, src capture.Source, out io.Writer) *progress {
	p := &progress{out: out}
	show := mode == "always" || (mode == "auto" && isTerminal(out) && os.Getenv("CI") == "")
	ps, ok := src.(capture.Progress)
	if !show || !ok {
		return p
	}
	p.src = ps
	p.stop, p.doneCh = make(chan struct{}), make(chan struct{})
	go p.loop()
	return p
}

// wrap returns the source to read from (counting frames when drawing).
func (p *progress) wrap(src capture.Source) capture.Source {
	if p.src == nil {
		return src
	}
	return countingSource{Source: src, p: p}
}

func (p *progress) loop() {
	defer close(p.doneCh)
	start := time.Now()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			p.draw(start, true)
			return
		case <-tick.C:
			p.draw(start, false)
		}
	}
}

func (p *progress) draw(start time.Time, final bool) {
	read, total := p.src.BytesRead(), p.src.TotalBytes()
	frac := 0.0
	if total > 0 {
		frac = float64(read) / float64(total)
		if frac > 1 {
			frac = 1
		}
	}
	const width = 30
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if float64(i) < frac*width {
			bar[i] = '='
		}
	}
	elapsed := time.Since(start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.frames.Load()) / elapsed
	}
	end := ""
	if final {
		end = "\n"
	}
	if total == 0 { // standard input: the size is unknown
		fmt.Fprintf(p.out, "\r%d MB  %.0f packets/s%s", read>>20, rate, end)
		return
	}
	fmt.Fprintf(p.out, "\r[%s] %5.1f%%  %d/%d MB  %.0f packets/s%s", bar, 100*frac, read>>20, total>>20, rate, end)
}

// done stops drawing (and ends the line).
func (p *progress) done() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.doneCh
}
