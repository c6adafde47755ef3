package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/site"
)

// runCommand implements `netbased run --interface IF [flags]`: the live
// sensor. It captures until ctx is cancelled (SIGINT/SIGTERM), then ends
// every connection, writes the partial window and returns nil. SIGHUP
// reloads the configuration and reopens the outputs (see deploy/README.md).
func runCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, positional, err := parseCommandArgs("run", args, true)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("unexpected arguments %q (run takes only flags; replay reads files): %w", positional, errUsage)
	}
	if opts.Interface == "" {
		return fmt.Errorf("--interface is required (or `interface:` in --config): %w", errUsage)
	}
	if opts.FanoutGroup < 0 || opts.FanoutGroup > 0xffff {
		return fmt.Errorf("--fanout-group %d is not between 0 and 65535: %w", opts.FanoutGroup, errUsage)
	}
	if opts.Workers < 0 || opts.Snaplen < 0 || opts.RingSizeMB < 0 {
		return fmt.Errorf("--workers, --snaplen and --ring-size-mb must not be negative: %w", errUsage)
	}
	if _, err := opts.validate(); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	level := zap.NewAtomicLevel()
	if err := level.UnmarshalText([]byte(opts.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w: %w", err, errUsage)
	}
	log := newLogger(level, stderr)
	defer func() { _ = log.Sync() }()

	workers := opts.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	tick := max(time.Duration(opts.ClockTick), 10*time.Millisecond)
	live, err := capture.OpenLive(capture.LiveConfig{
		Interface:   opts.Interface,
		Workers:     workers,
		Snaplen:     opts.Snaplen,
		RingSizeMB:  opts.RingSizeMB,
		FanoutGroup: uint16(opts.FanoutGroup),
		Promiscuous: opts.Promiscuous,
		PollTimeout: min(tick, capture.DefaultLivePollTimeout),
	})
	if err != nil {
		if errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("%w (capturing needs root or CAP_NET_RAW and CAP_NET_ADMIN; see deploy/README.md)", err)
		}
		return err
	}
	sources := make([]daemonSource, len(live))
	for i, s := range live {
		sources[i] = s
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default: // one pending reload is enough
			}
		}
	}()
	return runDaemon(ctx, daemonParams{
		args:    args,
		opts:    opts,
		sources: sources,
		stdout:  stdout,
		log:     log,
		level:   level,
		reload:  reload,
		notify:  func(state string) { _, _ = daemon.SdNotify(false, state) },
		now:     time.Now,
		idleLag: 2 * capture.DefaultLiveBlockTimeout,
	})
}

// daemonSource is a capture source the daemon can stop from another
// goroutine (capture.LiveSource; fakes in tests). After Stop, Next returns
// what is still buffered and then io.EOF. Next may return capture.ErrIdle
// when nothing arrived for a while.
type daemonSource interface {
	capture.Source
	Stop()
}

// daemonParams is everything runDaemon needs; tests fill it with fake
// sources and clocks.
type daemonParams struct {
	args    []string // the command line, re-parsed on reload
	opts    Options
	sources []daemonSource
	stdout  io.Writer
	log     *zap.Logger
	level   zap.AtomicLevel
	reload  <-chan struct{}
	notify  func(state string)
	now     func() time.Time
	// idleLag is how far behind the clock an idle worker's network time
	// stays: frames not yet handed over by the kernel are at most that old.
	idleLag time.Duration
	// started, when set, is called once everything runs (tests).
	started func(d *daemonState)
}

// daemonState is the running daemon.
type daemonState struct {
	p       daemonParams
	log     *zap.Logger
	tick    time.Duration
	workers []*liveWorker
	metrics *daemonMetrics
	server  *metricsServer

	// mu serializes everything that reaches the engine, so that windows
	// close and reloads swap engines between two connections.
	mu      sync.Mutex
	eng     *engine
	opts    Options // the engine's options
	pending *pendingReload
	base    engineCounters // totals of engines closed by reloads
	errSeen error          // the engine error last logged
	// iv is the window length (0: one window). With windows, winEnd is the
	// end (Unix ns) of the engine's open window (0 until known), and held
	// keeps the connections that end at or after it: a window is written
	// only when every worker's network time passed its end, so that a
	// worker ahead of the others cannot close it before their connections
	// are in.
	iv     int64
	winEnd int64
	held   []flow.Conn
	// clock is the network time (Unix ns) every worker has reached and the
	// engine was advanced to.
	clock atomic.Int64
	// local decides the trackers' local_orig/local_resp; a reload replaces it.
	local atomic.Pointer[site.Nets]
	// stopAll ends the daemon; fatalErr is the error it then returns.
	stopAll  context.CancelFunc
	fatalErr error
}

// fatal stops the daemon with err (d.mu held).
func (d *daemonState) fatal(err error) {
	if d.fatalErr == nil {
		d.fatalErr = err
	}
	d.stopAll()
}

// pendingReload is a reloaded configuration waiting for the end of the
// open window, where it takes over.
type pendingReload struct {
	opts Options
}

// liveWorker is one capture goroutine: a source, a decoder and a tracker.
type liveWorker struct {
	id    int
	src   daemonSource
	w     *worker
	stats workerStats
	// netTime is the worker's network time (Unix ns): its tracker's, or
	// the idle clock's.
	netTime    atomic.Int64
	frames     uint64
	bytes      uint64
	decodeErrs map[string]uint64
}

// runDaemon runs the workers, the clock and the metrics server until ctx is
// cancelled, then stops the sources, drains them, ends every connection
// and closes the engine (which writes the partial window).
func runDaemon(ctx context.Context, p daemonParams) error {
	if p.now == nil {
		p.now = time.Now
	}
	if p.notify == nil {
		p.notify = func(string) {}
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	d, err := newDaemonState(p)
	if err != nil {
		return err
	}
	if d.server != nil {
		defer d.server.close()
	}

	var wg sync.WaitGroup
	errs := make([]error, len(d.workers))
	workerCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	d.stopAll = stopAll
	for i, lw := range d.workers {
		wg.Go(func() {
			errs[i] = lw.run(d)
			if errs[i] != nil {
				stopAll() // a broken source stops the daemon
			}
		})
	}
	clockDone := make(chan struct{})
	clockStop := make(chan struct{})
	go func() {
		defer close(clockDone)
		d.clockLoop(clockStop)
	}()

	d.log.Info("capturing",
		zap.String("interface", p.opts.Interface), zap.Int("workers", len(d.workers)),
		zap.Duration("interval", time.Duration(p.opts.Interval)), zap.String("format", p.opts.Format),
		zap.String("out", emit.Redact(p.opts.Out)), zap.String("mode", p.opts.Mode))
	p.notify(daemon.SdNotifyReady)
	p.notify(fmt.Sprintf("STATUS=capturing on %s with %d workers", p.opts.Interface, len(d.workers)))
	if p.started != nil {
		p.started(d)
	}

	// Wait for the stop signal, handling reloads meanwhile.
wait:
	for {
		select {
		case <-workerCtx.Done():
			break wait
		case <-p.reload:
			d.reload()
		}
	}
	p.notify(daemon.SdNotifyStopping)
	d.log.Info("stopping: draining capture and ending every connection")
	for _, lw := range d.workers {
		lw.src.Stop()
	}
	wg.Wait()
	close(clockStop)
	<-clockDone
	return d.finish(errors.Join(errs...))
}

// newDaemonState opens the engine, builds one worker per source and starts
// the metrics (and their server when --metrics-listen is set). On error
// the sources are stopped and closed and nothing stays open.
func newDaemonState(p daemonParams) (*daemonState, error) {
	d := &daemonState{p: p, log: p.log.Named(logDaemon), opts: p.opts, iv: int64(p.opts.Interval),
		tick: max(time.Duration(p.opts.ClockTick), 10*time.Millisecond)}
	fail := func(err error) (*daemonState, error) {
		for _, s := range p.sources {
			s.Stop()
			_ = s.Close()
		}
		if d.eng != nil {
			_ = d.eng.close()
		}
		return nil, err
	}
	var err error
	if d.eng, err = newEngine(p.opts, p.stdout); err != nil {
		return fail(err)
	}
	d.local.Store(d.eng.set.local)

	live := make([]liveStatser, len(p.sources))
	stats := make([]*workerStats, len(p.sources))
	for i, src := range p.sources {
		lw := &liveWorker{id: i, src: src, decodeErrs: map[string]uint64{}}
		lw.w = &worker{decoder: d.eng.newDecoder()}
		cfg := d.eng.trackerConfig(uint64(i) << 48)
		cfg.Local = d.isLocal
		lw.w.tracker = flow.NewTracker(cfg, d.deliver)
		lw.stats.publish(workerCounters{}, p.now())
		d.workers = append(d.workers, lw)
		stats[i] = &lw.stats
		if ls, ok := src.(liveStatser); ok {
			live[i] = ls
		}
	}
	if d.metrics, err = newDaemonMetrics(newDaemonCollector(stats, live, d.engineCounters)); err != nil {
		return fail(err)
	}
	if p.opts.MetricsListen != "" {
		if d.server, err = startMetricsServer(p.opts.MetricsListen, d.metrics.reg, d.healthy, p.log.Named(logMetrics)); err != nil {
			return fail(err)
		}
	}
	return d, nil
}

// finish runs once every tracker is flushed: it closes the windows up to
// the last network time, hands over the held connections, writes the
// partial window and closes the outputs. workerErr is the workers' joined
// error.
func (d *daemonState) finish(workerErr error) error {
	d.mu.Lock()
	if last := d.maxWorkerTime(); !last.IsZero() {
		d.advanceToLocked(last)
	}
	d.releaseHeldLocked(math.MaxInt64)
	if d.pending != nil {
		d.log.Warn("stopped before the reloaded configuration took effect")
		d.pending = nil
	}
	closeErr := d.eng.close()
	final := d.engineCountersLocked()
	fatalErr := d.fatalErr
	d.mu.Unlock()
	if fatalErr != nil {
		return fatalErr
	}

	var captured uint64
	for _, lw := range d.workers {
		snap, _ := lw.stats.load()
		captured += snap.Frames
	}
	d.log.Info("stopped", zap.Uint64("frames", captured), zap.Uint64("records", final.RecordsEmitted),
		zap.Uint64("windows", final.WindowsEmitted))
	if workerErr != nil {
		return errors.Join(workerErr, closeErr)
	}
	if closeErr != nil {
		return fmt.Errorf("closing outputs: %w", closeErr)
	}
	return nil
}

// isLocal is the trackers' Local function (replaced atomically on reload).
func (d *daemonState) isLocal(a netip.Addr) bool { return d.local.Load().Contains(a) }

// run reads frames until the source ends, then ends the tracker's
// connections. It publishes its counters every clock tick.
func (lw *liveWorker) run(d *daemonState) error {
	log := d.p.log.Named(logCapture).With(zap.Int("worker", lw.id))
	defer func() {
		if err := lw.src.Close(); err != nil {
			log.Warn("closing the capture socket", zap.Error(err))
		}
	}()
	var lastPublish time.Time // wall-clock time of the last publish
	var runErr error
	for {
		f, err := lw.src.Next()
		if err == nil {
			lw.handle(f)
			// Reading the clock every 64 frames is enough: on a slow link
			// the source returns ErrIdle between frames.
			if lw.frames&63 == 0 {
				if wall := time.Now(); wall.Sub(lastPublish) >= d.tick {
					lastPublish = wall
					lw.publish(d.p.now())
				}
			}
			continue
		}
		if errors.Is(err, capture.ErrIdle) {
			now := d.p.now()
			lw.idle(now.Add(-d.p.idleLag))
			if wall := time.Now(); wall.Sub(lastPublish) >= d.tick {
				lastPublish = wall
				lw.publish(now)
			}
			continue
		}
		if !errors.Is(err, io.EOF) {
			log.Error("capture failed; stopping", zap.Error(err))
			runErr = err
		}
		break
	}
	// The ring is drained: the clock may move to now, then every open
	// connection ends in its current state.
	lw.idle(d.p.now().Add(-d.p.idleLag))
	lw.w.tracker.Flush()
	lw.publish(d.p.now())
	return runErr
}

// handle decodes one frame and tracks its packets, counting rejected
// frames by the decoder's reason for the metrics.
func (lw *liveWorker) handle(f capture.Frame) {
	lw.frames++
	lw.bytes += uint64(f.Length)
	if err := lw.w.handleFrame(f); err != nil {
		reason := "other"
		var de *capture.DecodeError
		if errors.As(err, &de) {
			reason = de.Reason
		}
		lw.decodeErrs[reason]++
	}
}

// idle moves the worker's network time to t (the clock, when the link is
// idle): due timers fire and end connections.
func (lw *liveWorker) idle(t time.Time) {
	lw.w.tracker.Advance(t)
	if n := t.UnixNano(); n > lw.netTime.Load() {
		lw.netTime.Store(n)
	}
}

// publish copies the worker's counters for the metrics and its network
// time for the clock.
func (lw *liveWorker) publish(now time.Time) {
	tr := lw.w.tracker
	if nt := tr.NetworkTime(); !nt.IsZero() && nt.UnixNano() > lw.netTime.Load() {
		lw.netTime.Store(nt.UnixNano())
	}
	ts := tr.Stats()
	lw.stats.publish(workerCounters{
		Frames:       lw.frames,
		Bytes:        lw.bytes,
		DecodeErrors: lw.decodeErrs,
		Decoder:      lw.w.decoder.Stats(),
		Active:       tr.Active(),
		Ended:        ts.Ended,
		Evictions:    ts.Evictions,
	}, now)
}

// minWorkerTime is the network time every worker has reached (zero until
// each has one).
func (d *daemonState) minWorkerTime() time.Time {
	var m int64
	for i, lw := range d.workers {
		n := lw.netTime.Load()
		if n == 0 {
			return time.Time{}
		}
		if i == 0 || n < m {
			m = n
		}
	}
	if m == 0 {
		return time.Time{}
	}
	return time.Unix(0, m).UTC()
}

// maxWorkerTime is the latest network time of any worker.
func (d *daemonState) maxWorkerTime() time.Time {
	var m int64
	for _, lw := range d.workers {
		m = max(m, lw.netTime.Load())
	}
	if m == 0 {
		return time.Time{}
	}
	return time.Unix(0, m).UTC()
}

// clockLoop advances the engine to the workers' common network time every
// tick (closing windows on time even when the link is idle) and pings the
// systemd watchdog.
func (d *daemonState) clockLoop(stop <-chan struct{}) {
	ticker := time.NewTicker(d.tick)
	defer ticker.Stop()
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	var lastPing time.Time
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		if t := d.minWorkerTime(); !t.IsZero() {
			d.mu.Lock()
			d.advanceToLocked(t)
			d.mu.Unlock()
		}
		if watchdog > 0 && time.Since(lastPing) >= watchdog/3 {
			if err := d.healthy(); err == nil {
				d.p.notify(daemon.SdNotifyWatchdog)
				lastPing = time.Now()
			} else {
				d.log.Warn("not pinging the watchdog", zap.Error(err))
			}
		}
	}
}

// windowEnd is the end of the epoch-aligned window containing ns.
func (d *daemonState) windowEnd(ns int64) int64 {
	start := ns - ns%d.iv
	if ns%d.iv < 0 {
		start -= d.iv
	}
	return start + d.iv
}

// advanceToLocked moves the engine's network time to t: every window that
// ended by t is written (a pending reload takes over at its end) and the
// connections held for the next one are handed over.
func (d *daemonState) advanceToLocked(t time.Time) {
	ns := t.UnixNano()
	if ns <= d.clock.Load() {
		return
	}
	if d.iv > 0 {
		if d.winEnd == 0 {
			d.winEnd = d.windowEnd(ns)
		}
		for ns >= d.winEnd {
			end := d.winEnd
			d.engineAdvanceLocked(end) // writes the window ending there
			if d.pending != nil {
				d.swapLocked(time.Unix(0, end).UTC())
			}
			// Skip windows nothing ended in.
			next := max(end+d.iv, d.windowEnd(ns))
			for _, c := range d.held {
				next = min(next, max(end+d.iv, d.windowEnd(c.End.UnixNano())))
			}
			d.winEnd = next
			d.releaseHeldLocked(next)
		}
	}
	d.engineAdvanceLocked(ns)
}

// engineAdvanceLocked advances the engine to ns (never back) and times the
// window flush it causes.
func (d *daemonState) engineAdvanceLocked(ns int64) {
	if ns <= d.clock.Load() {
		return
	}
	d.clock.Store(ns)
	d.metrics.networkTime.Set(float64(ns) / 1e9)
	before := d.eng.windows()
	start := time.Now()
	d.eng.advance(time.Unix(0, ns).UTC())
	d.observeFlushLocked(before, start)
}

// releaseHeldLocked hands the held connections that end before until to
// the engine, in the order they ended.
func (d *daemonState) releaseHeldLocked(until int64) {
	if len(d.held) == 0 {
		return
	}
	slices.SortStableFunc(d.held, func(a, b flow.Conn) int { return a.End.Compare(b.End) })
	n := 0
	for n < len(d.held) && d.held[n].End.UnixNano() < until {
		d.deliverLocked(&d.held[n])
		n++
	}
	d.held = slices.Delete(d.held, 0, n)
}

// observeFlushLocked records a flush duration when the engine emitted a
// window since before was read, and logs a new engine error.
func (d *daemonState) observeFlushLocked(before uint64, start time.Time) {
	if after := d.eng.windows(); after != before {
		d.metrics.flushDuration.Observe(time.Since(start).Seconds())
		d.log.Info("window written", zap.Uint64("windows", after), zap.Duration("took", time.Since(start)))
	}
	if err := d.eng.firstErr(); err != nil && err != d.errSeen {
		d.errSeen = err
		d.p.log.Named(logEmit).Error("writing records failed", zap.Error(err))
	}
}

// deliver takes one ended connection from a worker's tracker (valid only
// during the call). One that ends at or after the open window's end waits
// until every worker passed that end.
func (d *daemonState) deliver(c *flow.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.iv > 0 {
		end := c.End.UnixNano()
		if d.winEnd == 0 {
			d.winEnd = d.windowEnd(max(end, d.clock.Load()))
		}
		if end >= d.winEnd {
			d.held = append(d.held, cloneConn(c))
			return
		}
	}
	d.deliverLocked(c)
}

// deliverLocked hands one ended connection to the engine and times the
// window flush it may cause.
func (d *daemonState) deliverLocked(c *flow.Conn) {
	before := d.eng.windows()
	start := time.Now()
	d.eng.deliver(c)
	d.observeFlushLocked(before, start)
}

// cloneConn deep-copies an ended connection.
func cloneConn(c *flow.Conn) flow.Conn {
	cp := *c
	cp.UID = strings.Clone(c.UID)
	cp.ConnState = strings.Clone(c.ConnState)
	cp.History = strings.Clone(c.History)
	cp.Services = slices.Clone(c.Services)
	for i, s := range cp.Services {
		cp.Services[i] = strings.Clone(s)
	}
	cp.TunnelParents = slices.Clone(c.TunnelParents)
	return cp
}

// reload re-reads the command line and configuration file (SIGHUP). The
// log level applies at once; the record settings (networks, mode, format,
// output, metadata, conn log) apply from the end of the open window, when a
// new engine with freshly opened outputs takes over; capture settings need
// a restart.
func (d *daemonState) reload() {
	log := d.log.With(zap.String("event", "reload"))
	opts, _, err := parseArgs("run", d.p.args, true)
	if err == nil {
		_, err = opts.validate()
	}
	if err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		log.Error("reload failed; keeping the running configuration", zap.Error(err))
		return
	}
	if err := d.p.level.UnmarshalText([]byte(opts.LogLevel)); err != nil {
		log.Warn("log_level not changed", zap.Error(err))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if changed := keepRestartOnly(&d.opts, &opts); len(changed) > 0 {
		log.Warn("these settings change only after a restart", zap.Strings("settings", changed))
	}
	d.metrics.reloads.WithLabelValues("ok").Inc()
	// The records file is reopened at once (logrotate moved it).
	if err := d.eng.reopenOutputs(); err != nil {
		log.Error("reopening the records output", zap.Error(err))
	} else {
		log.Info("records output reopened", zap.String("out", emit.Redact(d.opts.Out)))
	}
	if !recordSettingsChanged(&d.opts, &opts) {
		d.pending = nil
		return
	}
	if d.iv <= 0 {
		// One window until the daemon stops: there is no boundary to
		// switch at without splitting it.
		log.Warn("with --interval 0 the reloaded record settings apply only after a restart")
		return
	}
	d.pending = &pendingReload{opts: opts}
	from := "the end of the first window"
	if d.winEnd != 0 {
		from = time.Unix(0, d.winEnd).UTC().Format(time.RFC3339)
	}
	log.Info("configuration reloaded; it applies from the next window",
		zap.String("from", from), zap.String("mode", opts.Mode),
		zap.Strings("local_nets", opts.LocalNets), zap.String("out", emit.Redact(opts.Out)))
}

// recordSettingsChanged reports whether b differs from a in anything but
// the log level and the progress display.
func recordSettingsChanged(a, b *Options) bool {
	x, y := *a, *b
	x.LogLevel, y.LogLevel = "", ""
	x.Progress, y.Progress = "", ""
	return !reflect.DeepEqual(x, y)
}

// swapLocked closes the running engine, whose last window ended at
// boundary (nothing after it was delivered), and hands over to an engine
// built from the pending configuration (outputs opened anew, in append
// mode). If the new outputs cannot be opened, the running configuration's
// are reopened; if that fails too, the daemon stops.
func (d *daemonState) swapLocked(boundary time.Time) {
	p := d.pending
	d.pending = nil
	log := d.log.With(zap.String("event", "reload"))
	if err := d.eng.close(); err != nil {
		log.Error("closing the outputs of the previous configuration", zap.Error(err))
	}
	d.base = d.engineCountersLocked() // after close: its last records count too
	opts := p.opts
	next, err := newEngine(opts, d.p.stdout)
	if err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		log.Error("cannot apply the reloaded configuration; reopening the running one", zap.Error(err))
		opts = d.opts
		if next, err = newEngine(opts, d.p.stdout); err != nil {
			log.Error("cannot reopen the outputs; stopping", zap.Error(err))
			d.fatal(fmt.Errorf("reopening outputs after a reload: %w", err))
			return // d.eng stays the closed engine: it refuses more input
		}
	}
	d.eng, d.opts, d.errSeen = next, opts, nil
	d.local.Store(next.set.local) // the same networks as opts' settings
	log.Info("reloaded configuration in effect", zap.Time("from", boundary))
}

// keepRestartOnly names the settings that apply only at start and in
// which reloaded differs from running, and puts running's values back
// into reloaded.
func keepRestartOnly(running, reloaded *Options) []string {
	var changed []string
	keepSetting(&changed, "interface", running.Interface, &reloaded.Interface)
	keepSetting(&changed, "workers", running.Workers, &reloaded.Workers)
	keepSetting(&changed, "snaplen", running.Snaplen, &reloaded.Snaplen)
	keepSetting(&changed, "ring_size_mb", running.RingSizeMB, &reloaded.RingSizeMB)
	keepSetting(&changed, "fanout_group", running.FanoutGroup, &reloaded.FanoutGroup)
	keepSetting(&changed, "promiscuous", running.Promiscuous, &reloaded.Promiscuous)
	keepSetting(&changed, "metrics_listen", running.MetricsListen, &reloaded.MetricsListen)
	keepSetting(&changed, "clock_tick", running.ClockTick, &reloaded.ClockTick)
	keepSetting(&changed, "interval", running.Interval, &reloaded.Interval)
	keepSetting(&changed, "ignore_checksums", running.IgnoreChecksums, &reloaded.IgnoreChecksums)
	keepSetting(&changed, "max_connections", running.MaxConnections, &reloaded.MaxConnections)
	if !slices.Equal(running.Services, reloaded.Services) {
		changed = append(changed, "services")
	}
	if len(changed) > 0 {
		reloaded.Services = running.Services
	}
	return changed
}

// keepSetting sets *reloaded to running, adding name to changed when they
// differed.
func keepSetting[T comparable](changed *[]string, name string, running T, reloaded *T) {
	if *reloaded != running {
		*changed = append(*changed, name)
		*reloaded = running
	}
}

// engineCounters reads the shared stages' totals (for the metrics).
func (d *daemonState) engineCounters() engineCounters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.engineCountersLocked()
}

// engineCountersLocked adds the running engine's counters to those of the
// engines reloads closed (d.mu held).
func (d *daemonState) engineCountersLocked() engineCounters {
	c := d.base
	s := d.eng.aggStats()
	c.ConnsAggregated += s.Conns
	c.RecordsEmitted += s.Records
	c.WindowsEmitted += s.Windows
	c.LateConns += s.Late
	c.EmitErrors += d.eng.errCount()
	if ds, ok := d.eng.out.Delivery(); ok {
		c.Output = ds.Output
		c.Delivered += ds.Delivered
		c.Retried += ds.Retried
		c.DeliveryFailed += ds.Failed
		c.Pending = ds.Pending
	}
	st := d.eng.out.Stats()
	c.OutputKind = st.Kind
	for r, n := range st.Dropped {
		c.Dropped[r] += n
	}
	c.QueuedBytes, c.SpooledBytes = st.QueuedBytes, st.SpooledBytes
	c.OutputHealthy = st.Health.OK()
	c.Monitored = d.eng.agg.Monitored()
	c.HeldConns = len(d.held)
	return c
}

// healthy reports an error when a worker stopped turning (no publish for
// many ticks) or an output failed.
func (d *daemonState) healthy() error {
	now := d.p.now()
	limit := max(20*d.tick, 5*time.Second)
	for _, lw := range d.workers {
		if _, alive := lw.stats.load(); now.Sub(alive) > limit {
			return fmt.Errorf("capture worker %d has not reported for %v", lw.id, now.Sub(alive).Round(time.Second))
		}
	}
	d.mu.Lock()
	err := d.eng.firstErr()
	out := d.eng.out
	d.mu.Unlock()
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if h := out.Health(); !h.OK() {
		return fmt.Errorf("output %s is %s: %w", out.Kind(), h.State, h.Err)
	}
	return nil
}

// Engine read-outs the daemon needs (the engine keeps its state under
// e.mu).

// windows is the number of windows the engine wrote.
func (e *engine) windows() uint64 { return e.aggStats().Windows }

// aggStats reads the aggregation's counters.
func (e *engine) aggStats() aggregate.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.agg.Stats()
}

// reopenOutputs reopens the records output's file (SIGHUP after
// logrotate); standard output is only flushed.
func (e *engine) reopenOutputs() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.out.Reopen()
}

// firstErr is the first output error, nil while there was none.
func (e *engine) firstErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// errCount is the number of output errors so far.
func (e *engine) errCount() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.errs
}
