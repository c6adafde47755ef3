package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/pipeline"
)

// replayCommand implements `netbased replay [flags] FILE...`: the files are
// read in order as one stream; every record computed before a fault in the
// input is written before the error is returned. A replay that reads its
// input to the end prints a one-line summary on stderr.
func replayCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, files, err := parseCommandArgs("replay", args, false)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no input files (netbased replay [flags] FILE...): %w", errUsage)
	}
	opts.overwrite = !opts.Append // a replay's outputs hold that replay's records, like Zeek's logs
	filter, err := opts.captureFilter()
	if err != nil {
		return err
	}
	src, err := capture.OpenFiles(files...)
	if err != nil {
		return err
	}
	defer src.Close()
	fileStats, _ := src.(interface{ FileStats() capture.FileStats })
	var filtered *capture.FilterSource
	if filter != nil {
		filtered = capture.NewFilterSource(src, filter)
		src = filtered
	}
	eng, err := newEngine(opts, stdout, max(opts.Workers, 1), nil)
	if err != nil {
		return err
	}
	if opts.CPUProfile != "" {
		stop, err := startCPUProfile(opts.CPUProfile)
		if err != nil {
			_ = eng.close()
			return err
		}
		defer stop()
	}
	progress := newProgress(opts.Progress, src, stderr)
	replayErr := pipeline.Replay(ctx, progress.wrap(src), eng.workers)
	progress.done()
	closeErr := eng.close()
	if replayErr != nil {
		return replayErr
	}
	if closeErr != nil {
		return closeErr
	}
	// The summary closes a replay that read its input to the end (an error
	// or an interrupt is the last line instead).
	sum := replaySummary{totals: eng.totals()}
	if fileStats != nil {
		sum.unsupportedInterfaces = fileStats.FileStats().UnsupportedInterfaces
	}
	if filtered != nil {
		sum.filtered = filtered.Stats().Rejected
	}
	fmt.Fprintln(stderr, sum.String())
	return nil
}

// startCPUProfile writes a Go CPU profile of the replay to path (go tool
// pprof reads it); stop ends it.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// replaySummary is what a replay did, for its last line on stderr.
type replaySummary struct {
	totals
	filtered              uint64
	unsupportedInterfaces uint64
}

// String is the summary line.
func (s *replaySummary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "netbased replay: %d frames, %d packets, %d connections (%d evicted), %d records in %d windows",
		s.frames, s.packets, s.connections, s.evictions, s.records, s.windows)
	if s.hostsRefused > 0 {
		fmt.Fprintf(&b, ", %d address updates refused (--max-hosts)", s.hostsRefused)
	}
	if s.filtered > 0 {
		fmt.Fprintf(&b, ", %d frames filtered out", s.filtered)
	}
	if s.unsupportedInterfaces > 0 {
		fmt.Fprintf(&b, ", %d pcapng interfaces of unsupported link types skipped", s.unsupportedInterfaces)
	}
	var errs []string
	for r := capture.DecodeReason(1); r < capture.NumDecodeReasons; r++ {
		if n := s.decodeErrors[r]; n > 0 {
			errs = append(errs, fmt.Sprintf("%s %d", r, n))
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(&b, "; decode errors: %s", strings.Join(errs, ", "))
	} else {
		b.WriteString("; no decode errors")
	}
	return b.String()
}
