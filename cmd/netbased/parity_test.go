package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/netbased/netbased/internal/testenv"
)

// readRecords parses JSON lines keyed by "address".
func readRecords(t *testing.T, data []byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("bad JSON record %q: %v", line, err)
		}
		addr, _ := rec["address"].(string)
		if _, dup := out[addr]; dup {
			t.Errorf("duplicate record for %s", addr)
		}
		out[addr] = rec
	}
	return out
}

func sameValue(a, b any) bool {
	if x, ok := a.(float64); ok {
		if y, ok := b.(float64); ok {
			return x == y || math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x))
		}
	}
	if x, ok := a.([]any); ok {
		if y, ok := b.([]any); ok {
			return reflect.DeepEqual(sortedStrings(x), sortedStrings(y))
		}
	}
	return reflect.DeepEqual(a, b)
}

func sortedStrings(v []any) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprint(x)
	}
	sort.Strings(out)
	return out
}

// TestIntervalParity replays every corpus trace end to end
// (`netbased replay --interval 0 --format json` plus netbased-args.txt) and
// compares the records with netbase.expected.jsonl, every field.
func TestIntervalParity(t *testing.T) {
	const target = 0.95
	fieldMiss := map[string]int{}
	var expectedTotal, exact, missing, extra int
	var report []string
	for _, c := range testenv.Corpus(t) {
		if c.Skip != "" {
			t.Logf("skip %s: %s", c.Name, c.Skip)
			continue
		}
		wantData, err := os.ReadFile(c.File("netbase.expected.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		want := readRecords(t, wantData)
		var stdout, stderr bytes.Buffer
		args := append([]string{"replay", "--interval", "0", "--format", "json", "--progress", "never"}, c.Args...)
		args = append(args, c.Trace)
		if code := runMain(args, &stdout, &stderr); code != 0 {
			t.Errorf("%s: exit %d: %s", c.Name, code, stderr.String())
			continue
		}
		got := readRecords(t, stdout.Bytes())
		caseExact := 0
		var diffs []string
		for addr, w := range want {
			expectedTotal++
			g, ok := got[addr]
			if !ok {
				missing++
				diffs = append(diffs, "missing "+addr)
				continue
			}
			ok = true
			for k, wv := range w {
				if !sameValue(wv, g[k]) {
					ok = false
					fieldMiss[k]++
					diffs = append(diffs, fmt.Sprintf("%s.%s=%v want %v", addr, k, g[k], wv))
				}
			}
			if ok {
				exact++
				caseExact++
			}
		}
		for addr := range got {
			if _, ok := want[addr]; !ok {
				extra++
				diffs = append(diffs, "extra "+addr)
			}
		}
		if len(diffs) > 0 {
			if len(diffs) > 6 {
				diffs = append(diffs[:6], fmt.Sprintf("… %d more", len(diffs)-6))
			}
			report = append(report, fmt.Sprintf("%-60s %d/%d exact: %s", c.Name, caseExact, len(want), strings.Join(diffs, "; ")))
		}
	}
	for _, line := range report {
		t.Log(line)
	}
	type kv struct {
		k string
		n int
	}
	var fields []kv
	for k, n := range fieldMiss {
		fields = append(fields, kv{k, n})
	}
	sort.Slice(fields, func(i, j int) bool {
		return fields[i].n > fields[j].n || fields[i].n == fields[j].n && fields[i].k < fields[j].k
	})
	for _, f := range fields {
		t.Logf("field %-45s differs in %d records", f.k, f.n)
	}
	if expectedTotal == 0 {
		t.Fatal("no expected records compared")
	}
	// Records we emit that Zeek's rules do not are failures too.
	rate := float64(exact) / float64(expectedTotal+extra)
	t.Logf("interval parity: %d/%d expected records exact (%.1f%%), %d missing, %d extra", exact, expectedTotal, 100*rate, missing, extra)
	if rate < target {
		t.Errorf("interval parity %.1f%% below target %.0f%%", 100*rate, 100*target)
	}
}

// TestWorkersGiveIdenticalRecords replays every corpus trace (tunnels,
// fragments, FTP data connections, VLANs, IPv6…) with 1, 2 and 3 workers
// and several shard counts, in 1-minute windows: the records and the conn
// log (UIDs and tunnel parents included) must be the same, byte for byte
// once sorted.
func TestWorkersGiveIdenticalRecords(t *testing.T) {
	dir := t.TempDir()
	replay := func(c testenv.Case, workers, shards string) (records, conns []string) {
		connLog := filepath.Join(dir, "conn-"+workers+".log")
		_ = os.Remove(connLog)
		var stdout, stderr bytes.Buffer
		args := append([]string{"replay", "--interval", "1m", "--format", "json", "--progress", "never",
			"--workers", workers, "--shards", shards, "--node-hostname", "h", "--node-ip", "::1",
			"--conn-log", connLog}, c.Args...)
		args = append(args, c.Trace)
		if code := runMain(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", c.Name, code, stderr.String())
		}
		data, err := os.ReadFile(connLog)
		if err != nil {
			t.Fatal(err)
		}
		return sortedLines(stdout.String()), sortedLines(string(data))
	}
	traces, records, conns := 0, 0, 0
	for _, c := range testenv.Corpus(t) {
		wantRecs, wantConns := replay(c, "1", "1")
		for _, v := range [][2]string{{"2", "1"}, {"3", "2"}} {
			gotRecs, gotConns := replay(c, v[0], v[1])
			if strings.Join(gotRecs, "\n") != strings.Join(wantRecs, "\n") {
				t.Errorf("%s: %s workers, %s shards: records differ from one worker's\n got %v\nwant %v", c.Name, v[0], v[1], gotRecs, wantRecs)
			}
			if strings.Join(gotConns, "\n") != strings.Join(wantConns, "\n") {
				t.Errorf("%s: %s workers: conn log differs from one worker's\n got %v\nwant %v", c.Name, v[0], gotConns, wantConns)
			}
		}
		traces++
		records += len(wantRecs)
		conns += len(wantConns)
	}
	t.Logf("%d traces, %d records, %d connections: identical for 1, 2 and 3 workers", traces, records, conns)
}

// sortedLines returns the non-empty lines of s, sorted.
func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
