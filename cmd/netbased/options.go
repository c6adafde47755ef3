package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"go.yaml.in/yaml/v3"

	"github.com/netbased/netbased/capture"
)

// listValue is a comma-separated list on the command line and either a
// string or a sequence of strings in the configuration file.
type listValue []string

// String implements flag.Value.
func (l *listValue) String() string { return strings.Join(*l, ",") }

// Set replaces the list with the comma-separated items of s.
func (l *listValue) Set(s string) error {
	*l = nil
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

// UnmarshalYAML accepts a scalar ("a,b") or a sequence ([a, b]).
func (l *listValue) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		return l.Set(n.Value)
	case yaml.SequenceNode:
		*l = nil
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: list items must be strings", item.Line)
			}
			*l = append(*l, strings.TrimSpace(item.Value))
		}
		return nil
	}
	return fmt.Errorf("line %d: want a string or a list of strings", n.Line)
}

// durationValue is a time.Duration that the configuration file may spell
// "5m" or a number of seconds.
type durationValue time.Duration

// String implements flag.Value.
func (d *durationValue) String() string { return time.Duration(*d).String() }

// Set parses a Go duration ("5m", "30s") or a bare number of seconds.
func (d *durationValue) Set(s string) error {
	s = strings.TrimSpace(s)
	if v, err := time.ParseDuration(s); err == nil {
		if v < 0 {
			return fmt.Errorf("negative duration %q", s)
		}
		*d = durationValue(v)
		return nil
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || secs < 0 || math.IsInf(secs, 0) || math.IsNaN(secs) {
		return fmt.Errorf("invalid duration %q (want e.g. 5m, 30s, 0)", s)
	}
	*d = durationValue(time.Duration(secs * float64(time.Second)))
	return nil
}

// UnmarshalYAML parses the scalar with Set.
func (d *durationValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a duration such as 5m", n.Line)
	}
	return d.Set(n.Value)
}

// Options are every setting of replay and run. Each has a command-line
// flag and the same-named key (with underscores) in the YAML configuration
// file; a flag given on the command line wins over the file.
type Options struct {
	// Capture filter: a tcpdump expression (capture.CompileFilter).
	Filter string `yaml:"filter"`

	// Connections and services.
	ConnLog         string    `yaml:"conn_log"`
	ConnLogFormat   string    `yaml:"conn_log_format"`
	IgnoreChecksums bool      `yaml:"ignore_checksums"`
	Services        listValue `yaml:"services"`
	MaxConnections  int       `yaml:"max_connections"`
	// TrackRemovedServices is Zeek's DPD::track_removed_services_in_connection.
	TrackRemovedServices bool `yaml:"track_removed_services"`

	// Monitoring.
	Mode           string    `yaml:"mode"`
	LocalNets      listValue `yaml:"local_nets"`
	NeighborNets   listValue `yaml:"neighbor_nets"`
	CriticalAssets listValue `yaml:"critical_assets"`

	// Records.
	Interval durationValue `yaml:"interval"`
	Format   string        `yaml:"format"`
	Out      string        `yaml:"out"`
	// Append makes a replay add to existing --out and --conn-log files
	// instead of overwriting them (the daemon always appends).
	Append        bool          `yaml:"append"`
	RotateSize    int64         `yaml:"rotate_size"`
	RotateEvery   durationValue `yaml:"rotate_every"`
	MaxSetSize    int           `yaml:"max_set_size"`
	AgentTag      string        `yaml:"agent_tag"`
	NodeHostname  string        `yaml:"node_hostname"`
	NodeIP        string        `yaml:"node_ip"`
	ForwarderType string        `yaml:"forwarder_type"`
	Shards        int           `yaml:"shards"`
	MaxHosts      int           `yaml:"max_hosts"`

	// Workers is the number of capture workers (0: one per CPU for run,
	// one for replay).
	Workers int `yaml:"workers"`

	// Output queues (emit.OutputOptions): the daemon never waits for an
	// output; what a remote back end cannot take yet waits in memory and in
	// a disk spool, the oldest dropped (counted) beyond the bounds.
	SpoolDir          string        `yaml:"spool_dir"`
	SpoolMaxBytes     int64         `yaml:"spool_max_bytes"`
	OutputQueueBytes  int64         `yaml:"output_queue_bytes"`
	OutputStopTimeout durationValue `yaml:"output_stop_timeout"`

	// Elasticsearch output (--out es+http(s)://…): TLS and the API key.
	ESCAFile             string `yaml:"es_ca_file"`
	ESInsecureSkipVerify bool   `yaml:"es_insecure_skip_verify"`
	ESAPIKey             string `yaml:"es_api_key"`
	ESAPIKeyFile         string `yaml:"es_api_key_file"`

	// Daemon (netbased run).
	Interface     string        `yaml:"interface"`
	Snaplen       int           `yaml:"snaplen"`
	RingSizeMB    int           `yaml:"ring_size_mb"`
	FanoutGroup   int           `yaml:"fanout_group"`
	Promiscuous   bool          `yaml:"promiscuous"`
	MetricsListen string        `yaml:"metrics_listen"`
	ClockTick     durationValue `yaml:"clock_tick"`

	LogLevel string `yaml:"log_level"`
	Progress string `yaml:"progress"`
	// CPUProfile is replay's --cpuprofile (no configuration key).
	CPUProfile string `yaml:"-"`

	// overwrite truncates the --out and --conn-log files when they are
	// opened: set by replay unless --append, never by the daemon.
	overwrite bool
	// daemon is set by run (and its reloads): outputs then never wait
	// for a back end (the oldest records drop, --spool-dir keeps what is
	// not delivered) and close within --output-stop-timeout. A replay
	// waits for every record, whatever its configuration file says.
	daemon bool
}

// Default bounds (deploy/README.md, "Bounds"):
//   - defaultMaxHosts monitored addresses per window: with the default
//     connection bound the whole process stays under 2 GiB even when every
//     connection comes from another address (a spoofed flood);
//   - defaultMaxSetSize members per unique-set array written: the largest
//     record (six arrays of IPv6 addresses) stays under 1 MB, Kafka's
//     default message size limit and the smallest of the outputs'.
const (
	defaultMaxHosts   = 500_000
	defaultMaxSetSize = 3_000
)

func defaultOptions() Options {
	return Options{
		ConnLogFormat:     "json",
		Services:          listValue{"all"},
		MaxConnections:    1_000_000,
		Mode:              "local",
		LocalNets:         listValue{"private"},
		Interval:          durationValue(5 * time.Minute),
		Format:            "json",
		Out:               "-",
		ForwarderType:     "zeek",
		Shards:            1,
		MaxHosts:          defaultMaxHosts,
		MaxSetSize:        defaultMaxSetSize,
		Snaplen:           65535,
		RingSizeMB:        64,
		FanoutGroup:       42,
		Promiscuous:       true,
		MetricsListen:     "127.0.0.1:9753",
		ClockTick:         durationValue(500 * time.Millisecond),
		SpoolMaxBytes:     1 << 30,
		OutputQueueBytes:  64 << 20,
		OutputStopTimeout: durationValue(20 * time.Second),
		LogLevel:          "info",
		Progress:          "auto",
	}
}

// register binds every option to a flag of fs. daemon adds the flags only
// `run` has.
func (o *Options) register(fs *flag.FlagSet, daemon bool) *string {
	config := fs.String("config", "", "YAML configuration file (keys as the flags, with underscores); flags win")
	fs.StringVar(&o.Filter, "filter", o.Filter, "capture filter, a tcpdump `expression` (as zeek -f); run attaches it in the kernel, replay applies it to every frame")
	fs.StringVar(&o.ConnLog, "conn-log", o.ConnLog, "write ended connections as a conn log to `PATH` (- for stdout)")
	fs.StringVar(&o.ConnLogFormat, "conn-log-format", o.ConnLogFormat, "conn log format: json or zeek")
	fs.BoolVar(&o.IgnoreChecksums, "ignore-checksums", o.IgnoreChecksums, "accept packets with bad checksums (like zeek -C)")
	fs.Var(&o.Services, "services", "service recognizers to run: all, none, or comma-separated `names`")
	fs.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "connection table bound (oldest idle evicted and counted)")
	fs.BoolVar(&o.TrackRemovedServices, "track-removed-services", o.TrackRemovedServices, "keep a service removed after a protocol violation and add -name (like Zeek's DPD::track_removed_services_in_connection)")
	fs.StringVar(&o.Mode, "mode", o.Mode, "which addresses get records: local, private or local+neighbors")
	fs.Var(&o.LocalNets, "local-nets", "local networks: comma-separated CIDRs; `private` = Zeek's private address space")
	fs.Var(&o.NeighborNets, "neighbor-nets", "neighbor networks (CIDRs), monitored in local+neighbors mode")
	fs.Var(&o.CriticalAssets, "critical-assets", "CIDRs always monitored")
	fs.Var(&o.Interval, "interval", "window length (aligned to the epoch); 0 = one window for the whole input")
	fs.StringVar(&o.Format, "format", o.Format, "record format: json, dynamite, zeek or clickhouse (the rows of the ClickHouse Kafka path)")
	fs.StringVar(&o.Out, "out", o.Out, "where records go: - (stdout), a file `PATH`, es+http://host:9200[/index] (Elasticsearch), kafka://brokers/topic or clickhouse://host:9000[,host2]/DATABASE")
	fs.Int64Var(&o.RotateSize, "rotate-size", o.RotateSize, "rotate the --out file after this many `bytes` (0 = never)")
	fs.Var(&o.RotateEvery, "rotate-every", "rotate the --out file at this interval (0 = never)")
	fs.IntVar(&o.MaxSetSize, "max-set-size", o.MaxSetSize, "cap each unique-set array at `N` members (counts stay exact; 0 = no cap)")
	fs.StringVar(&o.AgentTag, "agent-tag", o.AgentTag, "originating_agent_tag: the sensor's friendly name")
	fs.StringVar(&o.NodeHostname, "node-hostname", o.NodeHostname, "node_hostname (default: this host's name)")
	fs.StringVar(&o.NodeIP, "node-ip", o.NodeIP, "node_ip_address (default: this host's primary address)")
	fs.StringVar(&o.ForwarderType, "forwarder-type", o.ForwarderType, "forwarder_type written in each record")
	fs.IntVar(&o.Shards, "shards", o.Shards, "split each window's per-address states into this many shards, merged in parallel")
	fs.IntVar(&o.MaxHosts, "max-hosts", o.MaxHosts, "monitored addresses per window (beyond it an address's updates are refused and counted; 0 = no bound)")
	fs.StringVar(&o.ESCAFile, "es-ca-file", o.ESCAFile, "Elasticsearch output: PEM `file` of the certificate authorities to trust (default: the system's)")
	fs.BoolVar(&o.ESInsecureSkipVerify, "es-insecure-skip-verify", o.ESInsecureSkipVerify, "Elasticsearch output: do not verify the server's TLS certificate (testing only)")
	fs.StringVar(&o.ESAPIKey, "es-api-key", o.ESAPIKey, "Elasticsearch output: base64 API `key` (visible in the process list: prefer --es-api-key-file)")
	fs.StringVar(&o.ESAPIKeyFile, "es-api-key-file", o.ESAPIKeyFile, "Elasticsearch output: read the API key from `file` (default: $CREDENTIALS_DIRECTORY/es-api-key when systemd passes it)")
	fs.StringVar(&o.LogLevel, "log-level", o.LogLevel, "log level: debug, info, warn, error")
	fs.StringVar(&o.SpoolDir, "spool-dir", o.SpoolDir, "keep the records a remote output (Elasticsearch, Kafka, ClickHouse) has not taken yet in this `directory`, delivered after a restart (empty: memory only)")
	fs.Int64Var(&o.SpoolMaxBytes, "spool-max-bytes", o.SpoolMaxBytes, "bound of each output's spool in `bytes`; beyond it the oldest records are dropped and counted")
	fs.Int64Var(&o.OutputQueueBytes, "output-queue-bytes", o.OutputQueueBytes, "bound of each output's memory queue in `bytes`")
	fs.Var(&o.OutputStopTimeout, "output-stop-timeout", "how long the daemon delivers queued records when it stops or reloads (the rest stays in the spool)")
	if daemon {
		fs.IntVar(&o.Workers, "workers", o.Workers, "capture workers, one fanout socket each (0 = number of CPUs)")
		fs.StringVar(&o.Interface, "interface", o.Interface, "network interface to capture on")
		fs.IntVar(&o.Snaplen, "snaplen", o.Snaplen, "capture snap length in bytes")
		fs.IntVar(&o.RingSizeMB, "ring-size-mb", o.RingSizeMB, "TPACKET_V3 ring size per worker in MiB")
		fs.IntVar(&o.FanoutGroup, "fanout-group", o.FanoutGroup, "PACKET_FANOUT group id")
		fs.BoolVar(&o.Promiscuous, "promiscuous", o.Promiscuous, "put the interface in promiscuous mode")
		fs.StringVar(&o.MetricsListen, "metrics-listen", o.MetricsListen, "address for /metrics and /healthz (empty = off)")
		fs.Var(&o.ClockTick, "clock-tick", "how often the clock moves network time forward on an idle link")
	} else {
		fs.IntVar(&o.Workers, "workers", o.Workers, "workers: a reader spreads the frames over them by address pair (0 or 1: the reader does it all)")
		fs.StringVar(&o.CPUProfile, "cpuprofile", o.CPUProfile, "write a Go CPU profile of the replay to `FILE` (go tool pprof)")
		fs.StringVar(&o.Progress, "progress", o.Progress, "progress bar: auto (on a terminal), always or never")
		fs.BoolVar(&o.Append, "append", o.Append, "append to existing --out and --conn-log files instead of overwriting them")
	}
	return config
}

// replayFlags registers the flags of `netbased replay` (help, man page).
func replayFlags(fs *flag.FlagSet) { o := defaultOptions(); o.register(fs, false) }

// runFlags registers the flags of `netbased run` (help, man page; check
// and es-template take them too).
func runFlags(fs *flag.FlagSet) { o := defaultOptions(); o.register(fs, true) }

// captureFilter compiles the filter option; nil when there is none. Its
// error is a usage error.
func (o *Options) captureFilter() (*capture.Filter, error) {
	if strings.TrimSpace(o.Filter) == "" {
		return nil, nil
	}
	f, err := capture.CompileFilter(o.Filter)
	if err != nil {
		return nil, fmt.Errorf("filter: %w: %w", err, errUsage)
	}
	return f, nil
}

// loadConfig reads a YAML configuration file into o. Unknown keys and bad
// values are errors that name the key.
func loadConfig(path string, o *Options) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(o); err != nil {
		if errors.Is(err, io.EOF) {
			// An empty file is a mistake (a wrong path, a truncated
			// copy), not a request for the defaults.
			return fmt.Errorf("configuration %s holds no settings (every line empty or a comment)", path)
		}
		return fmt.Errorf("configuration %s: %w", path, err)
	}
	return nil
}

// parseArgs parses flags and positional arguments in any order, applying the
// configuration file first so that flags given on the command line win.
// Help (-h) returns flag.ErrHelp; the caller prints the help.
func parseArgs(name string, args []string, daemon bool) (Options, []string, error) {
	return parseArgsWith(name, args, daemon, nil)
}

// parseArgsWith is parseArgs for a command with flags of its own besides
// the options: extra registers them (it is called once per parsing pass).
func parseArgsWith(name string, args []string, daemon bool, extra func(fs *flag.FlagSet)) (Options, []string, error) {
	newFlagSet := func(o *Options) (*flag.FlagSet, *string) {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		// The caller reports errors and prints help: the flag package
		// must not print them (or the whole help) itself.
		fs.SetOutput(io.Discard)
		fs.Usage = func() {}
		config := o.register(fs, daemon)
		if extra != nil {
			extra(fs)
		}
		return fs, config
	}
	// First pass: find --config without applying anything else.
	probe := defaultOptions()
	fs, configPath := newFlagSet(&probe)
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return probe, nil, err
	}
	opts := defaultOptions()
	if *configPath != "" {
		if err := loadConfig(*configPath, &opts); err != nil {
			return opts, nil, &configError{err}
		}
	}
	// Second pass: command-line flags win over the file.
	fs2, _ := newFlagSet(&opts)
	if _, err := parseInterleaved(fs2, args); err != nil {
		return opts, nil, err
	}
	return opts, positional, nil
}

// configError is an error in the configuration file (as opposed to one on
// the command line).
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

// parseCommandArgs is parseArgs for a subcommand's command line: an error
// that is not already a usage error (or a request for help) is marked as
// one.
func parseCommandArgs(name string, args []string, daemon bool) (Options, []string, error) {
	opts, positional, err := parseArgs(name, args, daemon)
	if err != nil && !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
		err = fmt.Errorf("%w: %w", err, errUsage)
	}
	return opts, positional, err
}

// parseInterleaved lets flags follow positional arguments
// (`netbased replay a.pcap --interval 0`).
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if rest[0] == "--" {
			return append(positional, rest[1:]...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// clockTick is the daemon's clock period: --clock-tick, at least 10 ms.
func (o *Options) clockTick() time.Duration {
	return max(time.Duration(o.ClockTick), 10*time.Millisecond)
}

// validateRun checks the settings only `run` has (validate checks the
// others); the error joins every problem.
func (o *Options) validateRun() error {
	var errs []error
	if o.Interface == "" {
		errs = append(errs, errors.New("--interface is required (or `interface:` in --config)"))
	}
	if o.FanoutGroup < 0 || o.FanoutGroup > 0xffff {
		errs = append(errs, fmt.Errorf("--fanout-group (fanout_group) %d is not between 0 and 65535", o.FanoutGroup))
	}
	if o.Snaplen < 0 || o.RingSizeMB < 0 { // workers: validate checks it for every command
		errs = append(errs, errors.New("--snaplen and --ring-size-mb (snaplen, ring_size_mb) must not be negative"))
	}
	var level zapcore.Level
	if err := level.UnmarshalText([]byte(o.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("--log-level (log_level): %w", err))
	}
	return errors.Join(errs...)
}
