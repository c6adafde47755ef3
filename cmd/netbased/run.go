package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/pipeline"
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
	opts.daemon = true
	if len(positional) > 0 {
		return fmt.Errorf("unexpected arguments %q (run takes only flags; replay reads files): %w", positional, errUsage)
	}
	if err := opts.validateRun(); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if _, err := opts.validate(); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	filter, err := opts.captureFilter()
	if err != nil {
		return err
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
	tick := opts.clockTick()
	live, err := capture.OpenLive(capture.LiveConfig{
		Interface:   opts.Interface,
		Workers:     workers,
		Snaplen:     opts.Snaplen,
		RingSizeMB:  opts.RingSizeMB,
		FanoutGroup: uint16(opts.FanoutGroup),
		Promiscuous: opts.Promiscuous,
		PollTimeout: min(tick, capture.DefaultLivePollTimeout),
		Filter:      filter,
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

// daemonState is the running daemon. The capture workers run on their own
// goroutines and share nothing per packet; windows are written by the
// engine's window goroutine; the daemon's lock guards only the
// configuration a reload changes.
type daemonState struct {
	p       daemonParams
	log     *zap.Logger
	tick    time.Duration
	eng     *engine
	metrics *daemonMetrics
	server  *metricsServer

	mu   sync.Mutex
	opts Options // the running configuration
	// reloadFrom is when a reloaded record configuration takes over (zero:
	// none pending).
	reloadFrom time.Time
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
	errs := make([]error, len(d.eng.workers))
	workerCtx, stopAll := context.WithCancel(ctx)
	defer stopAll()
	live := &pipeline.Live{Now: p.now, IdleLag: p.idleLag, PublishEvery: d.tick}
	for i, w := range d.eng.workers {
		src := p.sources[i]
		wg.Go(func() {
			// The source ends (io.EOF) once stopped and drained; the
			// worker then ends every connection.
			errs[i] = w.Run(context.Background(), src, live)
			if err := src.Close(); err != nil {
				d.log.Named(logCapture).Warn("closing the capture socket", zap.Int("worker", i), zap.Error(err))
			}
			if errs[i] != nil {
				d.log.Named(logCapture).Error("capture failed; stopping", zap.Int("worker", i), zap.Error(errs[i]))
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
		zap.String("interface", p.opts.Interface), zap.Int("workers", len(d.eng.workers)),
		zap.Duration("interval", time.Duration(p.opts.Interval)), zap.String("format", p.opts.Format),
		zap.String("out", emit.Redact(p.opts.Out)), zap.String("mode", p.opts.Mode))
	p.notify(daemon.SdNotifyReady)
	p.notify(fmt.Sprintf("STATUS=capturing on %s with %d workers", p.opts.Interface, len(d.eng.workers)))
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
	for _, s := range p.sources {
		s.Stop()
	}
	wg.Wait()
	close(clockStop)
	<-clockDone
	return d.finish(errors.Join(errs...))
}

// newDaemonState opens the engine with one worker per source and starts
// the metrics (and their server when --metrics-listen is set). On error
// the sources are stopped and closed and nothing stays open.
func newDaemonState(p daemonParams) (*daemonState, error) {
	d := &daemonState{p: p, log: p.log.Named(logDaemon), opts: p.opts,
		tick: p.opts.clockTick()}
	fail := func(err error) (*daemonState, error) {
		for _, s := range p.sources {
			s.Stop()
			_ = s.Close()
		}
		if d.eng != nil {
			for _, w := range d.eng.workers {
				_ = w.Finish()
			}
			_ = d.eng.close()
		}
		return nil, err
	}
	var err error
	if d.metrics, err = newDaemonMetrics(); err != nil {
		return fail(err)
	}
	emitLog := p.log.Named(logEmit)
	written := func(r aggregate.WindowReport) {
		if r.Err != nil {
			emitLog.Error("writing a window's records failed", zap.Time("start", r.Start), zap.Error(r.Err))
			return
		}
		d.metrics.flushDuration.Observe(r.Took.Seconds())
		d.log.Info("window written", zap.Time("start", r.Start), zap.Time("end", r.End),
			zap.Uint64("records", r.Records), zap.Duration("took", r.Took))
	}
	if d.eng, err = newEngine(p.opts, p.stdout, len(p.sources), written); err != nil {
		return fail(err)
	}
	live := make([]liveStatser, len(p.sources))
	for i, src := range p.sources {
		if ls, ok := src.(liveStatser); ok {
			live[i] = ls
		}
	}
	if err := d.metrics.reg.Register(newDaemonCollector(d.eng.workers, live, d.engineCounters)); err != nil {
		return fail(fmt.Errorf("registering metrics: %w", err))
	}
	if p.opts.MetricsListen != "" {
		if d.server, err = startMetricsServer(p.opts.MetricsListen, d.metrics.reg, d.healthy, p.log.Named(logMetrics)); err != nil {
			return fail(err)
		}
	}
	return d, nil
}

// finish runs once every worker finished: the engine writes the last
// windows and closes the outputs. workerErr is the workers' joined error,
// which it returns; output errors are logged (their losses are counted).
func (d *daemonState) finish(workerErr error) error {
	d.mu.Lock()
	if !d.reloadFrom.IsZero() && d.maxWorkerTime().Before(d.reloadFrom) {
		d.log.Warn("stopped before the reloaded configuration took effect")
	}
	d.mu.Unlock()
	closeErr := d.eng.close()
	if st := d.eng.output().Stats(); st.Pending > 0 {
		d.log.Warn("records not delivered yet are kept in the spool for the next start",
			zap.String("output", st.Destination), zap.Int64("records", st.Pending))
	}
	t := d.eng.totals()
	d.log.Info("stopped", zap.Uint64("frames", t.frames), zap.Uint64("records", t.records),
		zap.Uint64("windows", t.windows))
	if closeErr != nil {
		// What an output lost is counted (netbased_output_records_dropped_total)
		// and said here; a stop that went as planned still exits 0, so
		// that systemd does not take it for a failure.
		d.p.log.Named(logEmit).Error("closing the outputs", zap.Error(closeErr))
	}
	return workerErr
}

// minWorkerTime is the network time every worker has reached (zero until
// each has one): windows before it can be written.
func (d *daemonState) minWorkerTime() time.Time {
	var m time.Time
	for i, w := range d.eng.workers {
		t := w.NetworkTime()
		if t.IsZero() {
			return time.Time{}
		}
		if i == 0 || t.Before(m) {
			m = t
		}
	}
	return m
}

// maxWorkerTime is the latest network time of any worker.
func (d *daemonState) maxWorkerTime() time.Time {
	var m time.Time
	for _, w := range d.eng.workers {
		if t := w.NetworkTime(); t.After(m) {
			m = t
		}
	}
	return m
}

// clockLoop publishes the network time every tick, logs health changes and
// pings the systemd watchdog while the capture is alive (an output that is
// down shows in /healthz and the metrics, not as a restart). Idle workers
// move their own network time with the clock (pipeline.Live), so windows
// close on time.
func (d *daemonState) clockLoop(stop <-chan struct{}) {
	ticker := time.NewTicker(d.tick)
	defer ticker.Stop()
	watchdog, _ := daemon.SdWatchdogEnabled(false)
	var lastPing time.Time
	var lastErr string
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		if t := d.minWorkerTime(); !t.IsZero() {
			d.metrics.networkTime.Set(float64(t.UnixNano()) / 1e9)
		}
		err := d.healthy()
		switch {
		case err == nil && lastErr != "":
			d.log.Info("healthy again")
			lastErr = ""
		case err != nil && err.Error() != lastErr:
			d.log.Warn("unhealthy", zap.Error(err))
			lastErr = err.Error()
		}
		if watchdog > 0 && d.alive() == nil && time.Since(lastPing) >= watchdog/3 {
			d.p.notify(daemon.SdNotifyWatchdog)
			lastPing = time.Now()
		}
	}
}

// reload re-reads the command line and configuration file (SIGHUP). The
// log level applies at once and the records file and conn log are
// reopened at once (logrotate); the record settings (networks, mode,
// format, output, metadata) apply from the next window boundary, when the
// new outputs take over; capture settings need a restart.
func (d *daemonState) reload() {
	log := d.log.With(zap.String("event", "reload"))
	opts, _, err := parseArgs("run", d.p.args, true)
	opts.daemon = true
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
	if err := d.eng.reopen(); err != nil {
		log.Error("reopening the records output and conn log", zap.Error(err))
	} else {
		log.Info("records output reopened", zap.String("out", emit.Redact(d.opts.Out)))
	}
	if !recordSettingsChanged(&d.opts, &opts) {
		return
	}
	iv := time.Duration(d.opts.Interval)
	if iv <= 0 {
		// One window until the daemon stops: there is no boundary to
		// switch at without splitting it.
		log.Warn("with --interval 0 the reloaded record settings apply only after a restart")
		return
	}
	// Every worker's open window starts before this boundary.
	latest := d.maxWorkerTime()
	if latest.IsZero() {
		latest = d.p.now()
	}
	from := latest.Truncate(iv).Add(iv)
	if err := d.eng.reconfigure(opts, from, log); err != nil {
		d.metrics.reloads.WithLabelValues("error").Inc()
		log.Error("cannot apply the reloaded configuration; keeping the running one", zap.Error(err))
		return
	}
	d.opts, d.reloadFrom = opts, from
	log.Info("configuration reloaded; it applies from the next window",
		zap.Time("from", from), zap.String("mode", opts.Mode),
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
	keepSetting(&changed, "shards", running.Shards, &reloaded.Shards)
	keepSetting(&changed, "max_hosts", running.MaxHosts, &reloaded.MaxHosts)
	keepSetting(&changed, "track_removed_services", running.TrackRemovedServices, &reloaded.TrackRemovedServices)
	keepSetting(&changed, "filter", running.Filter, &reloaded.Filter)
	keepSetting(&changed, "conn_log", running.ConnLog, &reloaded.ConnLog)
	keepSetting(&changed, "conn_log_format", running.ConnLogFormat, &reloaded.ConnLogFormat)
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
	st := d.eng.windows.Stats()
	c := engineCounters{
		ConnsAggregated: st.Conns,
		RecordsEmitted:  st.Records,
		WindowsEmitted:  st.Windows,
		LateConns:       st.Late,
		HostsRefused:    st.HostsRefused,
		EmitErrors:      st.OutputErrors,
		Monitored:       d.eng.windows.Monitored(),
		PendingWindows:  d.eng.windows.Pending(),
	}
	// One output for the whole scrape: a reload may replace it meanwhile.
	out := d.eng.output()
	if ds, ok := out.Delivery(); ok {
		c.Output = ds.Output
		c.Delivered, c.Retried, c.DeliveryFailed, c.Pending = ds.Delivered, ds.Retried, ds.Failed, ds.Pending
	}
	ost := out.Stats()
	c.OutputKind = ost.Kind
	c.Dropped = ost.Dropped
	c.QueuedBytes, c.SpooledBytes = ost.QueuedBytes, ost.SpooledBytes
	c.OutputHealthy = ost.Health.OK()
	return c
}

// alive reports an error when a capture worker stopped turning (no
// publish for many ticks: a stuck capture, or a window engine that no
// longer takes windows). It is what the systemd watchdog acts on: a
// restart can mend it, unlike an output whose back end is down.
func (d *daemonState) alive() error {
	now := d.p.now()
	limit := max(20*d.tick, 5*time.Second)
	for _, w := range d.eng.workers {
		if _, alive := w.Snapshot(); now.Sub(alive) > limit {
			return fmt.Errorf("capture worker %d has not reported for %v", w.ID(), now.Sub(alive).Round(time.Second))
		}
	}
	return nil
}

// healthy is /healthz: alive, and the records output delivering or
// spooling within its bounds now (the current state: health comes back
// when the output does).
func (d *daemonState) healthy() error {
	if err := d.alive(); err != nil {
		return err
	}
	if err := d.eng.windows.Healthy(); err != nil {
		return fmt.Errorf("output: %w", err)
	}
	out := d.eng.output()
	if h := out.Health(); !h.OK() {
		return fmt.Errorf("output %s is %s: %w", out.Kind(), h.State, h.Err)
	}
	return nil
}
