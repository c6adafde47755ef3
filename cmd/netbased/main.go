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
	"syscall"
)

const usage = `netbased — Zeek-exact per-host interval records from packets

Usage:
  netbased replay [flags] FILE...   replay pcap/pcapng files (gzip too) and print intervals
  netbased run --interface IF [flags]   capture live (AF_PACKET) as a daemon
  netbased clickhouse-schema [flags]   print the ClickHouse DDL of --out clickhouse://
  netbased help [replay|run]        flags of a command

Run 'netbased replay -h' for the flags.
`

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

// runMain runs the command line args and returns the exit status.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "replay":
		err = replayCommand(ctx, args[1:], stdout, stderr)
	case "run":
		err = runCommand(ctx, args[1:], stdout, stderr)
	case "clickhouse-schema":
		err = clickhouseSchemaCommand(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 {
			return runMain([]string{args[1], "-h"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "netbased: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "netbased %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "netbased %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks command-line mistakes (exit status 2).
var errUsage = errors.New("usage")
