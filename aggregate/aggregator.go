package aggregate

import (
	"time"

	"github.com/netbased/netbased/flow"
)

// Aggregator is one accumulator and its Windows driven from one goroutine,
// synchronously: a window is written by the time the call that passed its
// end returns. It suits one stream of ended connections (tests, conn logs
// turned into records); capture workers use Windows and Accumulators.
type Aggregator struct {
	w      *Windows
	acc    *Accumulator
	failed uint64 // windows whose output failed, reported so far
}

// New returns an Aggregator writing to out.
func New(cfg Config, out Output) (*Aggregator, error) {
	w, err := NewWindows(cfg, out)
	if err != nil {
		return nil, err
	}
	return &Aggregator{w: w, acc: w.NewAccumulator()}, nil
}

// Add counts one ended connection (Accumulator.Add) and returns the error
// of a window it caused to be written.
func (a *Aggregator) Add(c *flow.Conn) error {
	if err := a.acc.Add(c); err != nil {
		return err
	}
	return a.sync()
}

// Advance moves network time to t and returns the error of a window it
// caused to be written.
func (a *Aggregator) Advance(t time.Time) error {
	a.acc.Advance(t)
	return a.sync()
}

// sync waits for the windows ready to be written and reports a new output
// error.
func (a *Aggregator) sync() error {
	a.w.Sync()
	last, failed := a.w.Err()
	if failed == a.failed {
		return nil
	}
	a.failed = failed
	return last
}

// Close writes the last window and returns the first output error.
func (a *Aggregator) Close() error {
	a.acc.Close()
	return a.w.Close()
}

// Stats returns the counters so far.
func (a *Aggregator) Stats() Stats { return a.w.Stats() }

// Monitored is the number of monitored addresses in the open window. Safe
// from any goroutine.
func (a *Aggregator) Monitored() int { return a.w.Monitored() }
