package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/flow/connlog"
	"github.com/netbased/netbased/pipeline"
	"github.com/netbased/netbased/site"
)

// settings are the validated, parsed form of Options that the stages use.
type settings struct {
	local, neighbors, critical *site.Nets
	mode                       aggregate.Mode
	services                   classify.Set
	serviceNames               []string
	connLogFormat              connlog.Format
}

// validate checks every option and parses the lists; errors name the
// option and the bad value.
func (o *Options) validate() (*settings, error) {
	s := &settings{}
	var errs []error
	check := func(option string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", option, err))
		}
	}
	var err error
	s.local, err = site.Parse(strings.Join(o.LocalNets, ","))
	check("local_nets", err)
	s.neighbors, err = site.Parse(strings.Join(o.NeighborNets, ","))
	check("neighbor_nets", err)
	s.critical, err = site.Parse(strings.Join(o.CriticalAssets, ","))
	check("critical_assets", err)
	s.mode, err = aggregate.ParseMode(o.Mode)
	check("mode", err)
	s.serviceNames = o.Services
	s.services, err = classify.ParseSet(strings.Join(o.Services, ","))
	check("services", err)
	s.connLogFormat, err = connlog.ParseFormat(o.ConnLogFormat)
	check("conn_log_format", err)
	_, err = emit.ParseFormat(o.Format)
	check("format", err)
	negative := func(option string, v int64) {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative", option, v))
		}
	}
	negative("max_connections", int64(o.MaxConnections))
	negative("max_set_size", int64(o.MaxSetSize))
	negative("max_hosts", int64(o.MaxHosts))
	negative("rotate_size", o.RotateSize)
	negative("spool_max_bytes", o.SpoolMaxBytes)
	negative("output_queue_bytes", o.OutputQueueBytes)
	if o.Shards < 1 || o.Shards > 256 {
		errs = append(errs, fmt.Errorf("shards: %d is not between 1 and 256", o.Shards))
	}
	if o.Workers < 0 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers: %d is not between 0 and 1024", o.Workers))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// serverPorts follows Zeek: likely_server_ports are the ports of the loaded
// analyzers, so a run with only some recognizers (like `zeek -b` with a few
// @loads) flips originators by those analyzers' ports only.
func (s *settings) serverPorts() *flow.ServerPorts {
	if len(s.serviceNames) == 1 && strings.EqualFold(s.serviceNames[0], "all") {
		return flow.DefaultServerPorts()
	}
	return flow.BareServerPorts(s.serviceNames)
}

// engine is what a replay or the daemon runs: the capture workers (one
// decoder, tracker and accumulator each), the window engine that merges and
// writes their windows, and the outputs.
type engine struct {
	opts    Options
	set     *settings
	stdout  io.Writer
	workers []*pipeline.Worker
	windows *aggregate.Windows
	connLog *connLogFile
	// local decides the trackers' local_orig/local_resp; a reload replaces
	// it.
	local atomic.Pointer[site.Nets]

	mu      sync.Mutex
	out     *emit.Output // the records output in use
	nextOut *emit.Output // a reloaded configuration's, from its window on
	// retiring counts the outputs being closed after a reload (in the
	// background: closing waits for their back end up to
	// outputCloseTimeout, and a new output takes over their spool).
	retiring sync.WaitGroup
}

// newEngine opens the outputs and builds n workers; written, if not nil,
// hears of every window written.
func newEngine(o Options, stdout io.Writer, n int, written func(aggregate.WindowReport)) (*engine, error) {
	set, err := o.validate()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errUsage)
	}
	e := &engine{opts: o, set: set, stdout: stdout}
	e.local.Store(set.local)
	if e.out, err = openOutput(&o, stdout, nil); err != nil {
		return nil, err
	}
	acfg := aggregateConfig(&o, set)
	acfg.Written = written
	if e.windows, err = aggregate.NewWindows(acfg, e.out); err != nil {
		_ = closeOutput(&o, e.out)
		return nil, err
	}
	if o.ConnLog != "" {
		if e.connLog, err = openConnLog(o.ConnLog, set.connLogFormat, stdout, o.overwrite); err != nil {
			_ = e.windows.Close() // no accumulator yet: it only stops its goroutine
			_ = closeOutput(&o, e.out)
			return nil, fmt.Errorf("conn_log: %w", err)
		}
	}
	cfg := pipeline.Config{
		Decoder: capture.DecoderOptions{IgnoreChecksums: o.IgnoreChecksums},
		Tracker: flow.Config{
			IgnoreChecksums: o.IgnoreChecksums,
			// The bound is the whole process's: each worker gets its share.
			MaxConnections: (o.MaxConnections + n - 1) / n,
			Local:          e.isLocal,
			Classifier:     classify.NewWithOptions(set.services, classify.Options{TrackRemovedServices: o.TrackRemovedServices}),
			ServerPorts:    set.serverPorts(),
			// Announced data connections are shared: a data connection
			// may reach another worker than its control connection.
			Expected: flow.NewExpectedTable(),
			NoUIDs:   o.ConnLog == "",
		},
	}
	for i := range n {
		var sink pipeline.ConnSink
		if e.connLog != nil {
			sink = e.connLog.newBuffer()
		}
		e.workers = append(e.workers, pipeline.NewWorker(i, cfg, e.windows.NewAccumulator(), sink))
	}
	return e, nil
}

// aggregateConfig is the aggregation configuration of o.
func aggregateConfig(o *Options, set *settings) aggregate.Config {
	host, ip := aggregate.DefaultNode()
	if o.NodeHostname != "" {
		host = o.NodeHostname
	}
	if o.NodeIP != "" {
		ip = o.NodeIP
	}
	return aggregate.Config{
		Interval:            time.Duration(o.Interval),
		Mode:                set.mode,
		LocalNets:           set.local,
		NeighborNets:        set.neighbors,
		CriticalAssets:      set.critical,
		Shards:              o.Shards,
		MaxHosts:            o.MaxHosts,
		NodeHostname:        host,
		NodeIPAddress:       ip,
		OriginatingAgentTag: o.AgentTag,
		ForwarderType:       o.ForwarderType,
	}
}

// isLocal is the trackers' Local function (replaced atomically on reload).
func (e *engine) isLocal(a netip.Addr) bool { return e.local.Load().Contains(a) }

// reconfigure makes o's record settings (networks, mode, metadata, output)
// take over from the window starting at from; the running output writes
// the windows before it. The trackers' local networks change at once.
func (e *engine) reconfigure(o Options, from time.Time, log *zap.Logger) error {
	set, err := o.validate()
	if err != nil {
		return err
	}
	// A local output (standard output, a file) takes over only once the
	// one it replaces has written everything: the two may share the
	// stream, whose records stay in order.
	var after <-chan struct{}
	if cur := e.output(); !cur.Remote() {
		after = cur.Stopped()
	}
	out, err := openOutput(&o, e.stdout, after)
	if err != nil {
		return err
	}
	e.mu.Lock()
	if e.nextOut != nil { // an earlier reload that has not taken over yet
		_ = closeOutput(&o, e.nextOut)
	}
	e.nextOut = out
	e.mu.Unlock()
	e.windows.Reconfigure(aggregateConfig(&o, set), out, from, func(old aggregate.Output) {
		e.mu.Lock()
		if e.nextOut == old { // never took over: the daemon stopped first
			e.nextOut = nil
		} else {
			e.out, e.nextOut = e.nextOut, nil
		}
		e.mu.Unlock()
		// Called under the window engine's lock: close in the background.
		e.retiring.Go(func() {
			if err := closeOutput(&o, old.(*emit.Output)); err != nil {
				log.Error("closing the outputs of the previous configuration", zap.Error(err))
			}
		})
		log.Info("reloaded configuration in effect", zap.Time("from", from))
	})
	e.local.Store(set.local)
	e.opts = o
	return nil
}

// reopen reopens the records file and the conn log (SIGHUP after
// logrotate moved them); standard output is only flushed.
func (e *engine) reopen() error {
	err := e.output().Reopen()
	if e.connLog != nil {
		err = errors.Join(err, e.connLog.reopen())
	}
	return err
}

// output returns the records output in use.
func (e *engine) output() *emit.Output {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out
}

// close runs once every worker finished: the last windows are written and
// the outputs flushed and closed. It returns the first output error.
func (e *engine) close() error {
	err := e.windows.Close()
	if e.connLog != nil {
		err = errors.Join(err, e.connLog.close())
	}
	e.mu.Lock()
	out, next := e.out, e.nextOut
	e.nextOut = nil
	e.mu.Unlock()
	e.retiring.Wait()
	err = errors.Join(err, closeOutput(&e.opts, out))
	if next != nil {
		err = errors.Join(err, closeOutput(&e.opts, next))
	}
	return err
}

// totals are an engine's counters: its workers' (as last published) summed,
// and its window engine's.
type totals struct {
	frames, packets, connections, evictions uint64
	records, windows, hostsRefused          uint64
	decodeErrors                            [capture.NumDecodeReasons]uint64
}

// totals sums the workers' and the windows' counters.
func (e *engine) totals() totals {
	var t totals
	for _, w := range e.workers {
		snap, _ := w.Snapshot()
		t.frames += snap.Frames
		t.packets += snap.Tracker.Packets
		t.connections += snap.Tracker.Connections
		t.evictions += snap.Tracker.Evictions
		for r, n := range snap.Decoder.ErrorsByReason {
			t.decodeErrors[r] += n
		}
	}
	st := e.windows.Stats()
	t.records, t.windows, t.hostsRefused = st.Records, st.Windows, st.HostsRefused
	return t
}
