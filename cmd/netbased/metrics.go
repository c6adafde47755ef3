package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/pipeline"
)

// liveStatser is a capture source with kernel statistics (capture.LiveSource).
type liveStatser interface {
	Stats() capture.LiveStats
}

// engineCounters are the shared stages' running totals (across reloads).
type engineCounters struct {
	ConnsAggregated uint64
	RecordsEmitted  uint64
	WindowsEmitted  uint64
	LateConns       uint64
	HostsRefused    uint64
	EmitErrors      uint64
	// Monitored is the number of monitored IPs in the open window.
	Monitored int
	// Remote output (Elasticsearch, Kafka, ClickHouse) totals; Output is empty for
	// stdout and files.
	Output                             string
	Delivered, Retried, DeliveryFailed uint64
	Pending                            int64
	// PendingWindows is the number of windows handed over by the workers
	// and not yet written.
	PendingWindows int
	// OutputKind names the records output for every output (stdout, file,
	// elasticsearch, kafka, clickhouse); Dropped counts its lost records by
	// emit.DropReason; QueuedBytes and SpooledBytes are what it holds;
	// OutputHealthy is its current health.
	OutputKind                string
	Dropped                   [emit.NumDropReasons]uint64
	QueuedBytes, SpooledBytes int64
	OutputHealthy             bool
}

// daemonCollector turns the published snapshots into metrics at scrape
// time (a custom prometheus.Collector: nothing is updated per packet).
type daemonCollector struct {
	workers []*pipeline.Worker
	live    []liveStatser // per worker; nil entries for sources without kernel stats
	engine  func() engineCounters

	packets, bytes, drops, freezes              *prometheus.Desc
	decodeErrors, active, ended, evictions      *prometheus.Desc
	conns, records, windows, late, emitErrs     *prometheus.Desc
	refused, pendingWindows                     *prometheus.Desc
	workersDesc, monitored                      *prometheus.Desc
	delivered, retried, deliveryFailed, pending *prometheus.Desc
	dropped, queued, spooled, outputHealthy     *prometheus.Desc
}

func newDaemonCollector(workers []*pipeline.Worker, live []liveStatser, engine func() engineCounters) *daemonCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("netbased_"+name, help, labels, nil)
	}
	return &daemonCollector{
		workers:        workers,
		live:           live,
		engine:         engine,
		packets:        d("capture_packets_total", "Frames captured, per capture worker.", "worker"),
		bytes:          d("capture_bytes_total", "Bytes captured (frame wire length), per capture worker.", "worker"),
		drops:          d("capture_kernel_drops_total", "Frames the kernel dropped because the worker's ring was full.", "worker"),
		freezes:        d("capture_queue_freezes_total", "Times the worker's TPACKET_V3 ring froze (full).", "worker"),
		decodeErrors:   d("decode_errors_total", "Frames rejected by the decoder, by reason (Zeek's weird name).", "reason"),
		active:         d("connections_active", "Connections in the workers' tables."),
		ended:          d("connections_ended_total", "Connections ended (removed from the tables)."),
		evictions:      d("connection_table_evictions_total", "Connections ended early because a table was full (--max-connections)."),
		conns:          d("aggregate_connections_total", "Ended connections handed to the interval aggregation."),
		records:        d("records_emitted_total", "Interval records written."),
		windows:        d("windows_emitted_total", "Windows that produced records."),
		late:           d("aggregate_late_connections_total", "Connections that ended before the open window (counted in it)."),
		emitErrs:       d("emit_errors_total", "Errors writing records or the conn log."),
		refused:        d("aggregate_hosts_refused_total", "Address updates refused because the window already held --max-hosts addresses."),
		pendingWindows: d("windows_pending", "Windows the workers handed over that are not yet written (merged and output)."),
		workersDesc:    d("capture_workers", "Capture workers (sockets in the fanout group)."),
		monitored:      d("monitored_ips", "Monitored IPs with something to report in the open window."),
		delivered:      d("output_delivered_records_total", "Records the remote output (Elasticsearch, Kafka, ClickHouse) acknowledged.", "output"),
		retried:        d("output_retried_records_total", "Record re-sends to the remote output.", "output"),
		deliveryFailed: d("output_failed_records_total", "Records the remote output definitively failed.", "output"),
		pending:        d("output_pending_records", "Records accepted by the remote output's queue, not yet acknowledged.", "output"),
		dropped:        d("output_records_dropped_total", "Records the output lost, by reason ("+dropReasonList()+").", "output", "reason"),
		queued:         d("output_queued_bytes", "Encoded records the output holds in memory.", "output"),
		spooled:        d("output_spooled_bytes", "Bytes in the output's disk spool.", "output"),
		outputHealthy:  d("output_healthy", "1 while the output loses nothing (delivering, or spooling within its bounds), 0 while it drops records.", "output"),
	}
}

// dropReasonList names emit's drop reasons, comma-separated (the help of
// netbased_output_records_dropped_total).
func dropReasonList() string {
	names := make([]string, 0, emit.NumDropReasons)
	for _, r := range emit.DropReasons() {
		names = append(names, r.String())
	}
	return strings.Join(names, ", ")
}

// Describe implements prometheus.Collector.
func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.drops, c.freezes, c.decodeErrors, c.active,
		c.ended, c.evictions, c.conns, c.records, c.windows, c.late, c.emitErrs, c.refused, c.pendingWindows, c.workersDesc, c.monitored,
		c.delivered, c.retried, c.deliveryFailed, c.pending, c.dropped, c.queued, c.spooled, c.outputHealthy} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	var reasons [capture.NumDecodeReasons]uint64
	var active int
	var ended, evictions uint64
	for i, w := range c.workers {
		snap, _ := w.Snapshot()
		id := strconv.Itoa(i)
		ls := capture.LiveStats{Packets: snap.Frames, Bytes: snap.Bytes}
		if i < len(c.live) && c.live[i] != nil {
			ls = c.live[i].Stats() // the socket's own totals are current
		}
		counter(c.packets, ls.Packets, id)
		counter(c.bytes, ls.Bytes, id)
		counter(c.drops, ls.KernelDrops, id)
		counter(c.freezes, ls.QueueFreezes, id)
		for r, n := range snap.Decoder.ErrorsByReason {
			reasons[r] += n
		}
		active += snap.Active
		ended += snap.Tracker.Ended
		evictions += snap.Tracker.Evictions
	}
	for r := capture.DecodeReason(1); r < capture.NumDecodeReasons; r++ {
		counter(c.decodeErrors, reasons[r], r.String())
	}
	gauge(c.active, float64(active))
	counter(c.ended, ended)
	counter(c.evictions, evictions)
	e := c.engine()
	counter(c.conns, e.ConnsAggregated)
	counter(c.records, e.RecordsEmitted)
	counter(c.windows, e.WindowsEmitted)
	counter(c.late, e.LateConns)
	counter(c.emitErrs, e.EmitErrors)
	counter(c.refused, e.HostsRefused)
	gauge(c.pendingWindows, float64(e.PendingWindows))
	gauge(c.workersDesc, float64(len(c.workers)))
	gauge(c.monitored, float64(e.Monitored))
	if e.Output != "" {
		counter(c.delivered, e.Delivered, e.Output)
		counter(c.retried, e.Retried, e.Output)
		counter(c.deliveryFailed, e.DeliveryFailed, e.Output)
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(e.Pending), e.Output)
	}
	if e.OutputKind != "" {
		for _, r := range emit.DropReasons() {
			counter(c.dropped, e.Dropped[r], e.OutputKind, r.String())
		}
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(e.QueuedBytes), e.OutputKind)
		ch <- prometheus.MustNewConstMetric(c.spooled, prometheus.GaugeValue, float64(e.SpooledBytes), e.OutputKind)
		healthy := 0.0
		if e.OutputHealthy {
			healthy = 1
		}
		ch <- prometheus.MustNewConstMetric(c.outputHealthy, prometheus.GaugeValue, healthy, e.OutputKind)
	}
}

// flushBuckets are the window flush duration histogram's buckets (seconds).
var flushBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10}

// daemonMetrics is the daemon's own Prometheus registry (never the global
// default one) and the metrics the daemon observes directly.
type daemonMetrics struct {
	reg           *prometheus.Registry
	flushDuration prometheus.Histogram
	reloads       *prometheus.CounterVec
	networkTime   prometheus.Gauge
}

// newDaemonMetrics builds the registry with the daemon's own metrics; the
// collector of the engine's counters is registered once the engine runs.
func newDaemonMetrics() (*daemonMetrics, error) {
	m := &daemonMetrics{
		reg: prometheus.NewPedanticRegistry(),
		flushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "netbased_window_flush_duration_seconds",
			Help:    "Time to write one window's records (aggregation flush and output).",
			Buckets: flushBuckets,
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "netbased_reloads_total",
			Help: "SIGHUP reloads, by result (ok or error).",
		}, []string{"result"}),
		networkTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "netbased_network_time_seconds",
			Help: "Network time (Unix seconds) every worker has reached; windows close on it.",
		}),
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	build := readBuildInfo()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "netbased_build_info",
		Help: "Always 1; the labels say which build runs (netbased version).",
		ConstLabels: prometheus.Labels{
			"version":   build.Version,
			"revision":  build.Commit,
			"builddate": build.Date,
			"goversion": build.GoVersion,
		},
	})
	buildInfo.Set(1)
	for _, c := range []prometheus.Collector{
		m.flushDuration, m.reloads, m.networkTime, buildInfo,
		// The standard names (go_*, process_*), which stock dashboards
		// and alerts query.
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

// metricsServer serves /metrics and /healthz.
type metricsServer struct {
	ln  net.Listener
	srv *http.Server
	log *zap.Logger
}

// startMetricsServer listens on addr (so that a busy port fails the start)
// and serves in the background. healthy reports whether the daemon works.
func startMetricsServer(addr string, reg *prometheus.Registry, healthy func() error, log *zap.Logger) (*metricsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:      reg,
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      zap.NewStdLog(log),
	}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := healthy(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unhealthy: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "netbased: see /metrics and /healthz")
	})
	s := &metricsServer{ln: ln, log: log, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
	}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", zap.Error(err))
		}
	}()
	log.Info("serving metrics", zap.String("address", ln.Addr().String()))
	return s, nil
}

// Addr is the address the server listens on.
func (s *metricsServer) Addr() string { return s.ln.Addr().String() }

// close stops the server, waiting up to 2 s for scrapes in progress.
func (s *metricsServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}
