// Command gen writes netbased's synthetic traces: the committed demo pcap
// (pcaps/demo.pcap, `go run ./bench/gen -o pcaps/demo.pcap`) and large
// traces for throughput benchmarks (`-scale N`, written under bench/out/).
//
// Output depends only on the flags: the same seed gives the same bytes.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/netbased/netbased/bench/traffic"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output pcap file (required; - for stdout)")
	seed := fs.Uint64("seed", traffic.DefaultSeed, "random seed")
	sessions := fs.Int("sessions", traffic.DefaultSessions, "background sessions per unit of scale (negative: none)")
	scale := fs.Int("scale", 1, "multiply background sessions and hosts (large traces for benchmarks)")
	profile := fs.String("profile", "demo", "background traffic: demo (sized by -sessions and -scale), hour (a realistic hour), churn (short connections) or synflood (a spoofed SYN flood)")
	manifest := fs.Bool("manifest", false, "print the session table (markdown) instead of writing a pcap")
	manifestJSON := fs.Bool("manifest-json", false, "print every session's expectations as JSON lines instead of writing a pcap")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: gen -o FILE [-seed N] [-sessions N] [-scale N] | gen -manifest|-manifest-json [...]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	prof, err := traffic.ParseProfile(*profile)
	if err != nil {
		return err
	}
	cfg := traffic.Config{Seed: *seed, Sessions: *sessions, Scale: *scale, Profile: prof}
	if *manifestJSON {
		sessions, err := traffic.Manifest(cfg)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, s := range sessions {
			if err := enc.Encode(s); err != nil {
				return fmt.Errorf("write manifest: %w", err)
			}
		}
		return nil
	}
	if *manifest {
		text, err := traffic.ManifestMarkdown(cfg)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, text)
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("-o is required")
	}
	if (*scale > 1 || prof != traffic.ProfileDemo) && *out != "-" && isCommittedPath(*out) {
		return fmt.Errorf("refusing to write a scaled trace to %s: large traces belong in bench/out/ (gitignored)", *out)
	}
	var w io.Writer = stdout
	var f *os.File
	if *out != "-" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
		var err error
		f, err = os.Create(*out)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		w = f
	}
	stats, err := traffic.WritePcap(w, cfg)
	if f != nil {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close output: %w", cerr)
		}
	}
	if err != nil {
		return err
	}
	if *out != "-" {
		fmt.Fprintf(stderr, "gen: wrote %s: %d packets, %d sessions, %d frame bytes, %s .. %s\n", *out,
			stats.Packets, stats.Sessions, stats.Bytes, stats.First.Format("15:04:05"), stats.Last.Format("15:04:05"))
	}
	return nil
}

// isCommittedPath reports whether p lies in pcaps/ (committed to git).
func isCommittedPath(p string) bool {
	abs, err := filepath.Abs(p)
	if err != nil {
		return false
	}
	return strings.Contains(filepath.ToSlash(abs), "/pcaps/")
}
