package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// demoTrace is the trace the repository generates.
const demoTrace = "../../pcaps/demo.pcap"

// connRows replays demo.pcap with extra flags and returns its conn log.
func connRows(t *testing.T, extra ...string) []map[string]any {
	t.Helper()
	args := append([]string{"replay", "--interval", "0", "--conn-log", "-", "--out", os.DevNull}, extra...)
	code, stdout, stderr := run(append(args, demoTrace)...)
	if code != 0 {
		t.Fatalf("replay %v: exit %d: %s", extra, code, stderr)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("conn log line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestReplayFilter: --filter (flag or config key) keeps only the selected
// traffic; a bad expression is a usage error.
func TestReplayFilter(t *testing.T) {
	all := connRows(t)
	dns := 0
	for _, r := range all {
		if r["proto"] == "udp" && r["id.resp_p"] == float64(53) {
			dns++
		}
	}
	if dns == 0 || dns == len(all) {
		t.Fatalf("demo.pcap has %d DNS connections of %d: cannot test the filter", dns, len(all))
	}
	config := filepath.Join(t.TempDir(), "netbased.yaml")
	if err := os.WriteFile(config, []byte("filter: udp port 53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]string{{"--filter", "udp port 53"}, {"--config", config}} {
		rows := connRows(t, extra...)
		if len(rows) != dns {
			t.Errorf("%v: %d connections, want the %d DNS ones", extra, len(rows), dns)
		}
		for _, r := range rows {
			if r["proto"] != "udp" || r["id.resp_p"] != float64(53) {
				t.Errorf("%v: connection %v > %v:%v %v passed the filter", extra, r["id.orig_h"], r["id.resp_h"], r["id.resp_p"], r["proto"])
			}
		}
	}
	if rows := connRows(t, "--filter", "not (udp port 53)"); len(rows) != len(all)-dns {
		t.Errorf("not (udp port 53): %d connections, want %d", len(rows), len(all)-dns)
	}
	code, _, stderr := run("replay", "--filter", "tcp port", demoTrace)
	if code != 2 || !strings.Contains(stderr, "filter") {
		t.Errorf("bad filter: exit %d, stderr %q; want 2 and a message about the filter", code, stderr)
	}
}
