package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netbased/netbased/bench/traffic"
)

// netbaseServices are the services the Interval record counts.
var netbaseServices = []string{"dns", "http", "ssl", "smb", "rdp"}

// TestGeneratedTrafficServices replays traces of the project's generator
// (realistic DNS, HTTP, TLS, SMB, RDP, SSH, scans, IPv6, VLAN) and checks
// every connection against what the generator predicts Zeek logs: service,
// conn_state, history and packets. The Zeek corpus has no SMB or RDP
// session, so this is where those two are checked for misses as well as
// false positives.
func TestGeneratedTrafficServices(t *testing.T) {
	for _, cfg := range []traffic.Config{traffic.DefaultConfig(), {Seed: 5, Sessions: 300}} {
		t.Run(fmt.Sprintf("seed%d", cfg.Seed), func(t *testing.T) {
			sessions, err := traffic.Manifest(cfg)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pcap, connLog := filepath.Join(dir, "trace.pcap"), filepath.Join(dir, "conn.json")
			f, err := os.Create(pcap)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := traffic.WritePcap(f, cfg); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if code, _, stderr := run("replay", "--interval", "0", "--out", filepath.Join(dir, "records.json"),
				"--conn-log", connLog, "--progress", "never", pcap); code != 0 {
				t.Fatalf("replay: exit %d: %s", code, stderr)
			}
			got := readConnLog(t, connLog)
			if len(got) != len(sessions) {
				t.Errorf("%d connections logged, the generator made %d", len(got), len(sessions))
			}
			type tally struct{ want, have, both int }
			perService := map[string]*tally{}
			for _, s := range netbaseServices {
				perService[s] = &tally{}
			}
			mismatches := 0
			for _, s := range sessions {
				key := fmt.Sprintf("%s %s:%d > %s:%d", s.Proto, s.Orig, s.OrigPort, s.Resp, s.RespPort)
				c, ok := got[key]
				if !ok {
					t.Errorf("session %d (%s): no connection %s", s.ID, s.Kind, key)
					continue
				}
				want, have := splitServices(s.Service), splitServices(c.Service)
				for _, svc := range netbaseServices {
					w, h := want[svc], have[svc]
					ps := perService[svc]
					if w {
						ps.want++
					}
					if h {
						ps.have++
					}
					if w && h {
						ps.both++
					}
				}
				var diffs []string
				if !equalSets(want, have) {
					diffs = append(diffs, fmt.Sprintf("service %q want %q", c.Service, s.Service))
				}
				if c.ConnState != s.ConnState {
					diffs = append(diffs, fmt.Sprintf("conn_state %s want %s", c.ConnState, s.ConnState))
				}
				if s.History != "" && c.History != s.History {
					diffs = append(diffs, fmt.Sprintf("history %s want %s", c.History, s.History))
				}
				if c.OrigPkts+c.RespPkts != s.Packets {
					diffs = append(diffs, fmt.Sprintf("packets %d want %d", c.OrigPkts+c.RespPkts, s.Packets))
				}
				if len(diffs) > 0 {
					mismatches++
					t.Errorf("session %d (%s) %s: %s", s.ID, s.Kind, key, strings.Join(diffs, "; "))
				}
			}
			for _, svc := range netbaseServices {
				ps := perService[svc]
				t.Logf("%-4s predicted %3d, recognized %3d, both %3d", svc, ps.want, ps.have, ps.both)
				if ps.want == 0 {
					t.Errorf("the generated trace has no %s session: the check would be vacuous", svc)
				}
			}
			t.Logf("%d/%d connections exactly as predicted", len(sessions)-mismatches, len(sessions))
		})
	}
}

type loggedConn struct {
	Proto     string `json:"proto"`
	OrigH     string `json:"id.orig_h"`
	OrigP     int    `json:"id.orig_p"`
	RespH     string `json:"id.resp_h"`
	RespP     int    `json:"id.resp_p"`
	Service   string `json:"service"`
	ConnState string `json:"conn_state"`
	History   string `json:"history"`
	OrigPkts  int    `json:"orig_pkts"`
	RespPkts  int    `json:"resp_pkts"`
}

func readConnLog(t *testing.T, path string) map[string]loggedConn {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]loggedConn{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c loggedConn
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("conn log line %q: %v", sc.Text(), err)
		}
		out[fmt.Sprintf("%s %s:%d > %s:%d", c.Proto, c.OrigH, c.OrigP, c.RespH, c.RespP)] = c
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func splitServices(s string) map[string]bool {
	out := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		if name != "" {
			out[name] = true
		}
	}
	return out
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !b[k] {
			return false
		}
	}
	return true
}
