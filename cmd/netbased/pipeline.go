package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/flow/connlog"
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
	var err error
	if s.local, err = site.Parse(strings.Join(o.LocalNets, ",")); err != nil {
		return nil, fmt.Errorf("local_nets: %w", err)
	}
	if s.neighbors, err = site.Parse(strings.Join(o.NeighborNets, ",")); err != nil {
		return nil, fmt.Errorf("neighbor_nets: %w", err)
	}
	if s.critical, err = site.Parse(strings.Join(o.CriticalAssets, ",")); err != nil {
		return nil, fmt.Errorf("critical_assets: %w", err)
	}
	if s.mode, err = aggregate.ParseMode(o.Mode); err != nil {
		return nil, fmt.Errorf("mode: %w", err)
	}
	s.serviceNames = o.Services
	if s.services, err = classify.ParseSet(strings.Join(o.Services, ",")); err != nil {
		return nil, fmt.Errorf("services: %w", err)
	}
	if s.connLogFormat, err = connlog.ParseFormat(o.ConnLogFormat); err != nil {
		return nil, fmt.Errorf("conn_log_format: %w", err)
	}
	switch o.Format {
	case "json", "dynamite", "zeek":
	default:
		return nil, fmt.Errorf("format: %q is not json, dynamite or zeek", o.Format)
	}
	if o.MaxConnections < 0 {
		return nil, fmt.Errorf("max_connections: %d is negative", o.MaxConnections)
	}
	if o.MaxSetSize < 0 {
		return nil, fmt.Errorf("max_set_size: %d is negative", o.MaxSetSize)
	}
	if o.Shards < 1 || o.Shards > 256 {
		return nil, fmt.Errorf("shards: %d is not between 1 and 256", o.Shards)
	}
	if o.RotateSize < 0 {
		return nil, fmt.Errorf("rotate_size: %d is negative", o.RotateSize)
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

// engine is everything downstream of packet decoding that is shared by the
// workers: the ended-connection sink (conn log and aggregation) and the
// outputs. Its methods are safe for concurrent use by several workers.
type engine struct {
	opts       Options
	set        *settings
	classifier *classify.Classifier
	// expected holds announced data connections (FTP PORT/PASV, IRC DCC),
	// shared by every worker: a data connection may hash to another
	// worker than its control connection.
	expected *flow.ExpectedTable

	mu          sync.Mutex
	connLog     *connlog.Writer
	connLogFile io.Closer
	agg         *aggregate.Aggregator
	out         *emit.Output
	err         error  // first sink error; later connections still count
	errs        uint64 // every sink error
	ended       uint64
}

// newEngine opens the outputs and builds the aggregation.
func newEngine(o Options, stdout io.Writer) (*engine, error) {
	set, err := o.validate()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, errUsage)
	}
	e := &engine{opts: o, set: set, classifier: classify.New(set.services), expected: flow.NewExpectedTable()}
	if e.out, err = openOutput(&o, stdout); err != nil {
		return nil, err
	}
	host, ip := aggregate.DefaultNode()
	if o.NodeHostname != "" {
		host = o.NodeHostname
	}
	if o.NodeIP != "" {
		ip = o.NodeIP
	}
	e.agg, err = aggregate.New(aggregate.Config{
		Interval:            time.Duration(o.Interval),
		Mode:                set.mode,
		LocalNets:           set.local,
		NeighborNets:        set.neighbors,
		CriticalAssets:      set.critical,
		Shards:              o.Shards,
		NodeHostname:        host,
		NodeIPAddress:       ip,
		OriginatingAgentTag: o.AgentTag,
		ForwarderType:       o.ForwarderType,
	}, e.out)
	if err != nil {
		_ = closeOutput(&o, e.out)
		return nil, err
	}
	if o.ConnLog != "" {
		var w io.Writer = stdout
		if o.ConnLog != "-" {
			// Append, like the records file: a restart or a reload
			// never truncates what was logged before.
			f, err := os.OpenFile(o.ConnLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
			if err != nil {
				_ = closeOutput(&o, e.out)
				return nil, fmt.Errorf("conn_log: %w", err)
			}
			w, e.connLogFile = f, f
		}
		e.connLog = connlog.NewWriter(w, set.connLogFormat)
	}
	return e, nil
}

// trackerConfig is the flow tracker configuration of one worker.
func (e *engine) trackerConfig(seed uint64) flow.Config {
	return flow.Config{
		IgnoreChecksums: e.opts.IgnoreChecksums,
		MaxConnections:  e.opts.MaxConnections,
		Local:           e.set.local.Contains,
		Classifier:      e.classifier,
		ServerPorts:     e.set.serverPorts(),
		Expected:        e.expected,
		UIDSeed:         seed,
	}
}

// newWorker returns a decoder and tracker whose ended connections go to the
// engine.
func (e *engine) newWorker(id int) *worker {
	return &worker{decoder: e.newDecoder(), tracker: flow.NewTracker(e.trackerConfig(uint64(id)<<48), e.deliver)}
}

// newDecoder returns a packet decoder configured from the options.
func (e *engine) newDecoder() *capture.Decoder {
	return capture.NewDecoder(capture.DecoderOptions{IgnoreChecksums: e.opts.IgnoreChecksums})
}

// deliver takes one ended connection (valid only during the call).
func (e *engine) deliver(c *flow.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ended++
	if e.connLog != nil {
		e.keep(e.connLog.Write(c))
	}
	e.keep(e.agg.Add(c))
}

// advance moves network time forward (packets or the idle clock), closing
// windows that ended.
func (e *engine) advance(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keep(e.agg.Advance(t))
}

func (e *engine) keep(err error) {
	if err == nil {
		return
	}
	e.errs++
	if e.err == nil {
		e.err = err
	}
}

// close emits the last, partial window and flushes and closes every
// output. The workers' trackers must have been flushed first.
func (e *engine) close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.keep(e.agg.Close())
	if e.connLog != nil {
		e.keep(e.connLog.Close())
	}
	if e.connLogFile != nil {
		e.keep(e.connLogFile.Close())
	}
	e.keep(closeOutput(&e.opts, e.out))
	return e.err
}

// worker owns one decoder and one connection tracker: the per-packet path.
// A replay has one worker; a live capture one per fanout socket.
type worker struct {
	decoder *capture.Decoder
	tracker *flow.Tracker
	packets []capture.Packet
}

// handleFrame decodes one frame and feeds its packets to the tracker. A
// frame the decoder rejects is skipped; its error is returned for counting.
func (w *worker) handleFrame(f capture.Frame) error {
	var err error
	w.packets, err = w.decoder.Decode(f, w.packets[:0])
	for i := range w.packets {
		w.tracker.Packet(&w.packets[i])
	}
	return err
}
