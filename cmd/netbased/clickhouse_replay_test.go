package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/netbased/netbased/bench/traffic"
	"github.com/netbased/netbased/internal/clickhousetest"
	"github.com/netbased/netbased/internal/testenv"
)

// TestClickHouseReplaySplit splits a generated pcap by connection into two
// sensors' inputs, replays each into ClickHouse (--out clickhouse://),
// and compares the merged view with one replay of the whole pcap, every
// field but the node fields; then replays one sensor again (a redelivery
// of all its records) and compares again.
func TestClickHouseReplaySplit(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole.pcap")
	f, err := os.Create(whole)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := traffic.WritePcap(f, traffic.Config{Seed: 5, Sessions: 400}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	parts := []string{filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")}
	in, err := os.Open(whole)
	if err != nil {
		t.Fatal(err)
	}
	var outs []io.Writer
	for _, p := range parts {
		o, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		outs = append(outs, o)
	}
	if _, err := clickhousetest.SplitPcap(in, outs); err != nil {
		t.Fatal(err)
	}
	in.Close()

	replay := func(args ...string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runMain(append([]string{"replay", "--interval", "1m", "--progress", "never"}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("replay %q: exit %d: %s", args, code, stderr.String())
		}
	}
	wantPath := filepath.Join(dir, "whole.json")
	replay("--out", wantPath, "--node-hostname", "whole", whole)
	dest := "clickhouse://" + srv.Addr() + "/netbase"
	for i, p := range parts {
		replay("--out", dest, "--node-hostname", "sensor-"+string(rune('a'+i)), "--node-ip", "192.0.2.1", p)
	}
	wantJSON, err := os.ReadFile(wantPath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := clickhousetest.ParseJSON(wantJSON)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		got, err := clickhousetest.QueryView(ctx, srv.Addr(), "netbase.intervals")
		if err != nil {
			t.Fatal(err)
		}
		res := clickhousetest.Compare(got, want, "node_hostname", "node_ip_address", "originating_agent_tag")
		if !res.OK() || res.Records == 0 {
			t.Fatalf("%s: %s", what, res.Summary())
		}
		t.Logf("%s: %s", what, res.Summary())
	}
	check("two sensors' replays")
	replay("--out", dest, "--node-hostname", "sensor-a", "--node-ip", "192.0.2.1", parts[0])
	check("after replaying sensor a again")
}
