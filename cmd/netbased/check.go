package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/netbased/netbased/emit"
)

// connectTimeout bounds each connection `check --connect` makes.
const connectTimeout = 5 * time.Second

// checkFlags registers the flags of `netbased check` (help, man page):
// those of `run` and --connect.
func checkFlags(fs *flag.FlagSet) {
	runFlags(fs)
	registerConnect(fs, new(bool))
}

// registerConnect binds check's own flag, --connect, to connect.
func registerConnect(fs *flag.FlagSet, connect *bool) {
	fs.BoolVar(connect, "connect", false, "also connect to the remote outputs (Elasticsearch: GET / with the credentials and TLS settings; Kafka: a TCP connection to each broker)")
}

// checkFailed is the list of problems `check` found.
type checkFailed []string

func (c checkFailed) Error() string {
	noun := "problems"
	if len(c) == 1 {
		noun = "problem"
	}
	return fmt.Sprintf("%d %s:\n  - %s", len(c), noun, strings.Join(c, "\n  - "))
}

// checkCommand implements `netbased check [--config FILE] [--connect]
// [flags]`: it validates what `run` would be given — every setting, the
// interface, the files it would write or read, and with --connect the
// remote outputs — without capturing or writing anything. It exits 0 and
// says what it checked, or lists every problem (exit 1).
func checkCommand(ctx context.Context, args []string, stdout, _ io.Writer) error {
	var connect bool
	opts, positional, err := parseArgsWith("check", args, true, func(fs *flag.FlagSet) { registerConnect(fs, &connect) })
	var cfgErr *configError
	switch {
	case errors.As(err, &cfgErr):
		return checkFailed{cfgErr.Error()}
	case err != nil && errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return fmt.Errorf("%w: %w", err, errUsage)
	case len(positional) > 0:
		return fmt.Errorf("unexpected arguments %q (check takes only flags): %w", positional, errUsage)
	}
	problems := checkOptions(ctx, &opts, connect)
	if len(problems) > 0 {
		return checkFailed(problems)
	}
	what := "settings, interface and files"
	if connect {
		what += ", remote outputs reachable"
	}
	_, err = fmt.Fprintf(stdout, "ok: %s (interface %s)\n", what, opts.Interface)
	return err
}

// checkOptions returns every problem of opts as `run` would meet it.
func checkOptions(ctx context.Context, o *Options, connect bool) []string {
	var problems []string
	add := func(err error) {
		if err == nil {
			return
		}
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	_, err := o.validate()
	add(err)
	add(o.validateRun())
	if o.Interface != "" {
		if _, err := net.InterfaceByName(o.Interface); err != nil {
			add(fmt.Errorf("interface %s: no such network interface on this host", o.Interface))
		}
	}
	if o.MetricsListen != "" {
		add(checkListenAddress(o.MetricsListen))
	}
	if o.ConnLog != "" && o.ConnLog != "-" {
		add(checkWritableFile("conn_log", o.ConnLog))
	}
	add(checkOutput(ctx, o, connect))
	return problems
}

// checkOutput checks the --out destination: a file that can be written,
// or a remote output whose settings parse (and, with connect, that
// answers).
func checkOutput(ctx context.Context, o *Options, connect bool) error {
	switch {
	case o.Out == "" || o.Out == "-":
		return nil
	case strings.HasPrefix(o.Out, "es+"):
		cfg, _, err := emit.ParseElasticsearchOut(o.Out)
		if err != nil {
			return fmt.Errorf("out: %w", err)
		}
		if err := o.applyElasticsearchOptions(&cfg); err != nil {
			return err
		}
		if o.ESCAFile != "" {
			if _, err := os.ReadFile(o.ESCAFile); err != nil {
				return fmt.Errorf("es_ca_file: %w", err)
			}
		}
		if !connect {
			return nil
		}
		ctx, cancel := context.WithTimeout(ctx, connectTimeout)
		defer cancel()
		return emit.PingElasticsearch(ctx, cfg)
	case strings.HasPrefix(o.Out, emit.KafkaURLScheme):
		cfg, err := emit.ParseKafkaURL(o.Out)
		if err != nil {
			return fmt.Errorf("out: %w", err)
		}
		if !connect {
			return nil
		}
		var errs []error
		for _, broker := range cfg.Brokers {
			if _, _, err := net.SplitHostPort(broker); err != nil {
				broker = net.JoinHostPort(broker, "9092")
			}
			d := net.Dialer{Timeout: connectTimeout}
			c, err := d.DialContext(ctx, "tcp", broker)
			if err != nil {
				errs = append(errs, fmt.Errorf("kafka broker %s: %w", broker, err))
				continue
			}
			_ = c.Close()
		}
		return errors.Join(errs...)
	}
	return checkWritableFile("out", o.Out)
}

// checkWritableFile checks that path can be opened for appending: its
// directory exists and takes new files, and the file, if it exists, is a
// regular file that can be written. Nothing is left behind.
func checkWritableFile(setting, path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s %s: directory %s does not exist", setting, path, dir)
	case err != nil:
		return fmt.Errorf("%s %s: %w", setting, path, err)
	case !st.IsDir():
		return fmt.Errorf("%s %s: %s is not a directory", setting, path, dir)
	}
	if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s %s: not a regular file", setting, path)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", setting, err)
		}
		return f.Close()
	}
	// Rotation and a missing file need new files in the directory.
	f, err := os.CreateTemp(dir, ".netbased-check-*")
	if err != nil {
		return fmt.Errorf("%s %s: cannot create files in %s: %w", setting, path, dir, err)
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// checkListenAddress checks that addr is a host:port to listen on (it does
// not bind it: the running daemon may hold it).
func checkListenAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("metrics_listen %q: %w", addr, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("metrics_listen %q: bad port %q", addr, port)
	}
	if host != "" && host != "localhost" {
		if ip := net.ParseIP(host); ip == nil {
			if _, err := net.LookupHost(host); err != nil {
				return fmt.Errorf("metrics_listen %q: %w", addr, err)
			}
		}
	}
	return nil
}
