package flow_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/flow/connlog"
	"github.com/netbased/netbased/site"
)

// sharedDir locates the shared directory: $NETBASED_SHARED, else
// <repo root>/../shared. It fails the test when the directory is missing.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("NETBASED_SHARED"); d != "" {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("NETBASED_SHARED=%s: %v", d, err)
		}
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(d); err != nil {
				t.Fatalf("shared directory %s missing (set NETBASED_SHARED): %v", d, err)
			}
			return d
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no go.mod above %s and NETBASED_SHARED unset", wd)
		}
	}
}

// compared are the conn.log columns the parity test checks (everything but
// ts, uid, service, tunnel_parents and ip_proto).
var compared = []string{"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration", "orig_bytes",
	"resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts",
	"orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}

type runArgs struct {
	ignoreChecksums bool
	services        string // "" = full mode
	localNets       string
}

func parseArgs(text string) (runArgs, error) {
	var a runArgs
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "--ignore-checksums":
			a.ignoreChecksums = true
		case "--services", "--local-nets":
			if i+1 >= len(f) {
				return a, fmt.Errorf("%s needs a value", f[i])
			}
			if f[i] == "--services" {
				a.services = f[i+1]
			} else {
				a.localNets = f[i+1]
			}
			i++
		default:
			return a, fmt.Errorf("unknown flag %q", f[i])
		}
	}
	return a, nil
}

// replayTrace runs a trace through capture and the tracker and returns the
// records as Zeek's ASCII writer would print them.
func replayTrace(t *testing.T, trace string, a runArgs) []connlog.Row {
	t.Helper()
	cfg := flow.Config{IgnoreChecksums: a.ignoreChecksums}
	nets := site.Private()
	if a.localNets != "" {
		var err error
		if nets, err = site.Parse(a.localNets); err != nil {
			t.Fatalf("local nets %q: %v", a.localNets, err)
		}
	}
	cfg.Local = nets.Contains
	set := "all"
	if a.services != "" {
		set = a.services
		cfg.ServerPorts = flow.BareServerPorts(strings.Split(a.services, ","))
	}
	enabled, err := classify.ParseSet(set)
	if err != nil {
		t.Fatalf("services %q: %v", set, err)
	}
	cfg.Classifier = classify.New(enabled)

	var buf bytes.Buffer
	w := connlog.NewWriter(&buf, connlog.Zeek)
	var werr error
	tr := flow.NewTracker(cfg, func(c *flow.Conn) {
		if err := w.Write(c); err != nil && werr == nil {
			werr = err
		}
	})
	src, err := capture.OpenFiles(trace)
	if err != nil {
		t.Fatalf("open %s: %v", trace, err)
	}
	defer src.Close()
	dec := capture.NewDecoder(capture.DecoderOptions{IgnoreChecksums: a.ignoreChecksums})
	if err := flow.Replay(context.Background(), src, dec, tr); err != nil {
		t.Logf("%s: replay: %v", trace, err)
	}
	if err := w.Close(); err != nil || werr != nil {
		t.Fatalf("writing conn log: %v %v", err, werr)
	}
	rows, err := connlog.ReadZeek(&buf)
	if err != nil {
		t.Fatalf("re-reading our conn log: %v", err)
	}
	return rows
}

func rowKey(r connlog.Row) string {
	return r.Raw["ip_proto"] + "/" + r.Raw["proto"] + " " + r.Raw["id.orig_h"] + ":" + r.Raw["id.orig_p"] + " > " + r.Raw["id.resp_h"] + ":" + r.Raw["id.resp_p"]
}

type parityResult struct {
	name                  string
	zeekRows, exact       int
	missing, extra        int
	fieldOK, fieldN       map[string]int
	matched               int
	svcOK, svcN           int
	tpOK, tpN             int
	svcDiffs              []string
	diffs                 []string
	missingKeys, extraKey []string
}

func compareRows(name string, want, got []connlog.Row) parityResult {
	res := parityResult{name: name, zeekRows: len(want), fieldOK: map[string]int{}, fieldN: map[string]int{}}
	byKey := map[string][]connlog.Row{}
	for _, g := range got {
		k := rowKey(g)
		byKey[k] = append(byKey[k], g)
	}
	used := map[string]int{}
	for _, w := range want {
		k := rowKey(w)
		i := used[k]
		if i >= len(byKey[k]) {
			res.missing++
			res.missingKeys = append(res.missingKeys, k+" "+w.Raw["history"]+" "+w.Raw["conn_state"])
			continue
		}
		used[k] = i + 1
		g := byKey[k][i]
		res.matched++
		all := true
		for _, col := range compared {
			wv, ok := w.Raw[col]
			if !ok {
				continue // column not in this baseline (zeek-cut -n)
			}
			res.fieldN[col]++
			if gv := g.Raw[col]; gv == wv {
				res.fieldOK[col]++
			} else {
				all = false
				res.diffs = append(res.diffs, fmt.Sprintf("%s %s: zeek %q ours %q", k, col, wv, gv))
			}
		}
		if all {
			res.exact++
		}
		// tunnel_parents presence is informational (UIDs differ by design).
		res.tpN++
		unset := func(v string) bool { return v == "-" || v == "(empty)" || v == "" }
		if unset(w.Raw["tunnel_parents"]) == unset(g.Raw["tunnel_parents"]) {
			res.tpOK++
		}
		// Services are informational only (not part of the target).
		res.svcN++
		if w.Raw["service"] == g.Raw["service"] {
			res.svcOK++
		} else {
			res.svcDiffs = append(res.svcDiffs, fmt.Sprintf("%s service: zeek %q ours %q", k, w.Raw["service"], g.Raw["service"]))
		}
	}
	for k, rows := range byKey {
		for i := used[k]; i < len(rows); i++ {
			res.extra++
			res.extraKey = append(res.extraKey, k+" "+rows[i].Raw["history"]+" "+rows[i].Raw["conn_state"])
		}
	}
	sort.Strings(res.extraKey)
	return res
}

// TestParity replays every ground-truth trace and compares our records
// with the conn.log Zeek wrote for it.
func TestParity(t *testing.T) {
	root := filepath.Join(sharedDir(t), "testdata", "zeek")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	var results []parityResult
	for _, ent := range entries {
		if !ent.IsDir() {
			continue
		}
		dir := filepath.Join(root, ent.Name())
		if skip, err := os.ReadFile(filepath.Join(dir, "parity-skip.txt")); err == nil {
			t.Logf("skip %s: %s", ent.Name(), strings.TrimSpace(string(skip)))
			continue
		}
		trace := filepath.Join(dir, "trace.pcap")
		if _, err := os.Stat(trace); err != nil {
			trace = filepath.Join(dir, "trace.pcapng")
		}
		argText, err := os.ReadFile(filepath.Join(dir, "netbased-args.txt"))
		if err != nil {
			t.Fatalf("%s: %v", ent.Name(), err)
		}
		a, err := parseArgs(string(argText))
		if err != nil {
			t.Fatalf("%s: netbased-args.txt: %v", ent.Name(), err)
		}
		logf, err := os.Open(filepath.Join(dir, "conn.log"))
		if err != nil {
			t.Fatalf("%s: %v", ent.Name(), err)
		}
		want, err := connlog.ReadZeek(logf)
		logf.Close()
		if err != nil {
			t.Fatalf("%s: conn.log: %v", ent.Name(), err)
		}
		got := replayTrace(t, trace, a)
		results = append(results, compareRows(ent.Name(), want, got))
	}
	if len(results) == 0 {
		t.Fatal("no parity tests found")
	}

	var zeekRows, exact, missing, extra, matched, svcOK, svcN, tpOK, tpN int
	var svcDiffs []string
	fieldOK, fieldN := map[string]int{}, map[string]int{}
	var table strings.Builder
	fmt.Fprintf(&table, "%-62s %5s %5s %5s %5s\n", "test", "zeek", "exact", "miss", "extra")
	for _, r := range results {
		zeekRows += r.zeekRows
		exact += r.exact
		missing += r.missing
		extra += r.extra
		matched += r.matched
		svcOK += r.svcOK
		svcN += r.svcN
		tpOK += r.tpOK
		tpN += r.tpN
		for _, d := range r.svcDiffs {
			svcDiffs = append(svcDiffs, r.name+": "+d)
		}
		for k, v := range r.fieldOK {
			fieldOK[k] += v
		}
		for k, v := range r.fieldN {
			fieldN[k] += v
		}
		mark := ""
		if r.exact != r.zeekRows || r.extra != 0 {
			mark = "  <--"
		}
		fmt.Fprintf(&table, "%-62s %5d %5d %5d %5d%s\n", r.name, r.zeekRows, r.exact, r.missing, r.extra, mark)
		for i, d := range r.diffs {
			if i >= 12 {
				fmt.Fprintf(&table, "      ... %d more differences\n", len(r.diffs)-i)
				break
			}
			fmt.Fprintf(&table, "      diff %s\n", d)
		}
		for _, k := range r.missingKeys {
			fmt.Fprintf(&table, "      missing %s\n", k)
		}
		for _, k := range r.extraKey {
			fmt.Fprintf(&table, "      extra   %s\n", k)
		}
	}
	t.Logf("per-test results:\n%s", table.String())
	var fields strings.Builder
	for _, col := range compared {
		fmt.Fprintf(&fields, "  %-14s %5d/%d (%.1f%%)\n", col, fieldOK[col], fieldN[col], pct(fieldOK[col], fieldN[col]))
	}
	t.Logf("per-field agreement over %d matched rows:\n%s", matched, fields.String())
	t.Logf("service column (informational, not compared): %d/%d equal (%.1f%%)\n  %s", svcOK, svcN, pct(svcOK, svcN),
		strings.Join(svcDiffs, "\n  "))
	t.Logf("tunnel_parents set/unset (informational): %d/%d agree", tpOK, tpN)
	t.Logf("TOTAL: %d tests, %d Zeek rows, %d exact (%.2f%%), %d missing, %d extra",
		len(results), zeekRows, exact, pct(exact, zeekRows), missing, extra)
	if pct(exact, zeekRows) < 97 || missing > 0 || extra > 0 {
		t.Errorf("parity below target: %.2f%% exact rows (want >= 97%%), %d missing, %d extra",
			pct(exact, zeekRows), missing, extra)
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
