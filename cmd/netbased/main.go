// Command netbased replays pcaps (`netbased replay FILE…`) or captures live
// (`netbased run --interface IF`), rebuilds connections as Zeek does,
// recognizes their services and writes one Interval record per monitored IP
// and window.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/netbased/netbased/capture"
)

const usage = `netbased — Zeek-exact per-host interval records from packets

Usage:
  netbased replay [flags] FILE...       replay pcap/pcapng files (gzip too; - is standard input)
  netbased run --interface IF [flags]   capture live (AF_PACKET) as a daemon
  netbased check [--connect] [flags]    validate a configuration without capturing
  netbased es-template [flags]          print the Elasticsearch index template
  netbased clickhouse-schema [flags]    print the ClickHouse DDL of --out clickhouse://
  netbased version                      print the version (also --version)
  netbased help [COMMAND]               flags of a command

Run 'netbased COMMAND -h' for the flags of a command.
`

// command is one subcommand of netbased.
type command struct {
	// run executes the command; a returned error wrapping errUsage exits 2,
	// flag.ErrHelp prints the command's help.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// flags registers the command's flags (for its help and the man page);
	// nil for a command without flags.
	flags func(fs *flag.FlagSet)
	// synopsis is the first line of the command's help.
	synopsis string
	// summary says what the command does (the man page).
	summary string
	// interruptible commands end early on SIGINT/SIGTERM and then exit
	// 128+signal, like a program a shell's Ctrl-C killed; the others (run)
	// treat the signal as the normal way to stop.
	interruptible bool
}

// commandTable returns netbased's subcommands by name (the man page
// generator reads the table too).
func commandTable() map[string]command {
	return map[string]command{
		"replay": {
			summary:       "Replays capture files (pcap, pcapng, gzip-compressed too) as one stream, in order, and writes the records of their network time. Outputs are overwritten unless --append.",
			run:           replayCommand,
			flags:         replayFlags,
			synopsis:      "netbased replay [flags] FILE...   (pcap/pcapng, gzip too; several files replay in order; - reads standard input)",
			interruptible: true,
		},
		"run": {
			summary:  "Captures live with AF_PACKET (TPACKET_V3 rings, one socket per worker in a fanout group) and writes each window's records within seconds of its end; serves Prometheus metrics and /healthz on --metrics-listen.",
			run:      runCommand,
			flags:    runFlags,
			synopsis: "netbased run --interface IF [flags]   (live AF_PACKET capture as a daemon)",
		},
		"check": {
			summary:  "Validates what run would be given (every setting, the interface, the files it writes or reads; with --connect, the remote outputs) without capturing; prints ok or lists every problem.",
			run:      checkCommand,
			flags:    checkFlags,
			synopsis: "netbased check [--config FILE] [--connect] [flags]   (validate the settings of `run` without capturing)",
		},
		"es-template": {
			summary:  "Prints the Elasticsearch index template of the configured output's format and index pattern, to install once with PUT _index_template/netbase.",
			run:      esTemplateCommand,
			flags:    runFlags, // it reads --config, --out and --format of them
			synopsis: "netbased es-template [--config FILE] [--out es+https://host:9200/index] [--format json|dynamite]   (print the Elasticsearch index template)",
		},
		"clickhouse-schema": {
			summary:  "Prints the ClickHouse DDL of --out clickhouse://HOST/DATABASE (the partial-record table, the merged view DATABASE.intervals, with --kafka the Kafka engine path, with --cluster the Distributed tables), for operators who manage schemas themselves.",
			run:      clickhouseSchemaCommand,
			flags:    clickhouseSchemaFlags,
			synopsis: "netbased clickhouse-schema [--database DB] [--cluster CLUSTER] [--kafka kafka://BROKERS/TOPIC]   (print the ClickHouse DDL)",
		},
		"version": {
			summary:  "Prints the version, commit, build date and Go version (also --version).",
			run:      versionCommand,
			synopsis: "netbased version   (also netbased --version)",
		},
		"man": { // hidden: generates the man page (make deb)
			summary:  "Prints this manual page.",
			run:      manCommand,
			synopsis: "netbased man   (print the manual page, roff)",
		},
	}
}

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		// With the default bounds (--max-connections, --max-hosts) the
		// heap stays well below this; the soft limit makes the garbage
		// collector work harder before the process reaches 2 GiB under a
		// flood. GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT is set.
const defaultMemoryLimit = 1792 << 20

// runMain runs the command line args and returns the exit status: 0, 1 for
// a failure, 2 for a usage error, 128+n when signal n interrupted a replay.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if _, ok := commandTable()[args[1]]; ok {
				writeHelp(stdout, args[1])
				return 0
			}
			fmt.Fprintf(stderr, "netbased help: unknown command %q\n%s", args[1], usageHint(""))
			return 2
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "--version", "-version", "-V":
		name = "version"
	}
	cmd, ok := commandTable()[name]
	if !ok {
		fmt.Fprintf(stderr, "netbased: unknown command %q\n%s", name, usageHint(""))
		return 2
	}
	ctx, interrupted, stop := signalContext()
	defer stop()
	err := cmd.run(ctx, args[1:], stdout, stderr)
	if sig := interrupted(); sig != 0 && cmd.interruptible {
		// What was computed before the signal is written; the exit
		// status says the input was not read to its end. An input
		// that ends mid-record then is the signal's doing (Ctrl-C
		// also stops the writer of a pipe): only other errors are
		// worth a word.
		var inputErr *capture.FileError
		if err != nil && !errors.Is(err, context.Canceled) && !errors.As(err, &inputErr) {
			printError(stderr, name, err.Error())
		}
		return 128 + int(sig)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		writeHelp(stdout, name)
		return 0
	case errors.Is(err, errUsage):
		printError(stderr, name, usageMessage(err))
		fmt.Fprint(stderr, usageHint(name))
		return 2
	default:
		printError(stderr, name, err.Error())
		return 1
	}
}

// printError writes msg prefixed with the command, each line of a joined
// error on a line of its own.
func printError(w io.Writer, name, msg string) {
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(w, "netbased %s: %s\n", name, line)
	}
}

// signalContext returns a context cancelled by the first SIGINT or SIGTERM,
// a function telling which signal that was (0 for none), and a function
// releasing the signal handling. After the first signal the default
// handling is restored, so that a second Ctrl-C kills a process that does
// not stop quickly enough.
func signalContext() (context.Context, func() syscall.Signal, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			signal.Stop(ch)
			cancel(signalError{s.(syscall.Signal)})
		case <-done:
		}
	}()
	interrupted := func() syscall.Signal {
		var se signalError
		if errors.As(context.Cause(ctx), &se) {
			return se.sig
		}
		return 0
	}
	stop := func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
	return ctx, interrupted, stop
}

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "interrupted by " + e.sig.String() }

// errUsage marks command-line mistakes (exit status 2). It is wrapped last,
// fmt.Errorf("what is wrong: %w", errUsage), and the message printed
// without it.
var errUsage = errors.New("usage")

// usageMessage is the message of a usage error without errUsage's own text.
func usageMessage(err error) string {
	return strings.TrimSuffix(err.Error(), ": "+errUsage.Error())
}

// usageHint is the line after a usage error pointing at the help.
func usageHint(name string) string {
	if name == "" {
		return "Run 'netbased help' for the commands.\n"
	}
	return fmt.Sprintf("Run 'netbased %s -h' for its flags.\n", name)
}

// writeHelp prints a command's synopsis and flags.
func writeHelp(w io.Writer, name string) {
	cmd := commandTable()[name]
	fmt.Fprintf(w, "Usage: %s\n", cmd.synopsis)
	if cmd.flags == nil {
		return
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cmd.flags(fs)
	fs.SetOutput(w)
	fmt.Fprint(w, "\nFlags:\n")
	fs.PrintDefaults()
}

// versionCommand prints the build information.
func versionCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	if len(args) > 0 {
		if args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
			return flag.ErrHelp
		}
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	readBuildInfo().write(stdout)
	return nil
}
