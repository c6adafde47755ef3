package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// wallClockLines are the zeek format's #open/#close lines, which carry the
// time the file was written, not network time.
var wallClockLines = regexp.MustCompile(`(?m)^#(open|close)\t.*$`)

// TestDemoGolden replays the bundled pcaps/demo.pcap in each format, with
// 5-minute windows, and compares with testdata/demo.<format>.golden
// (`go test ./cmd/netbased -run DemoGolden -update` rewrites them).
func TestDemoGolden(t *testing.T) {
	demo := filepath.Join("..", "..", "pcaps", "demo.pcap")
	for _, format := range []string{"json", "dynamite", "zeek"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := run("replay", "--format", format, "--node-hostname", "sensor-1",
				"--node-ip", "192.0.2.10", "--agent-tag", "demo", "--progress", "never", demo)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got := wallClockLines.ReplaceAll([]byte(stdout), []byte("#$1\t(wall clock)"))
			path := filepath.Join("testdata", "demo."+format+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s output differs from %s (-update rewrites it after a deliberate change)\n got %.400s\nwant %.400s", format, path, got, want)
			}
		})
	}
}
