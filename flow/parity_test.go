package flow_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/flow/connlog"
	"github.com/netbased/netbased/internal/testenv"
	"github.com/netbased/netbased/site"
)

// compared are the conn.log columns whose row-exact agreement the parity
// test checks (everything but ts, uid, service, tunnel_parents and
// ip_proto). The service column is compared on its own, as a set
// (serviceTarget).
var compared = []string{"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "duration", "orig_bytes",
	"resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history", "orig_pkts",
	"orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}

type runArgs struct {
	ignoreChecksums bool
	services        string // "" = full mode
	localNets       string
	trackRemoved    bool // --track-removed-services
}

func parseArgs(text string) (runArgs, error) {
	var a runArgs
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		switch f[i] {
		case "--ignore-checksums":
			a.ignoreChecksums = true
		case "--track-removed-services":
			a.trackRemoved = true
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
	cfg.Classifier = classify.NewWithOptions(enabled, classify.Options{TrackRemovedServices: a.trackRemoved})

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
	var pkts []capture.Packet
	for {
		f, err := src.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Logf("%s: replay: %v", trace, err)
			}
			break
		}
		// What a pipeline worker does with a frame.
		tr.Tick(f.Timestamp)
		pkts, _ = dec.Decode(f, pkts[:0])
		for i := range pkts {
			tr.Packet(&pkts[i])
		}
	}
	tr.Flush()
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
	svcZeek, svcOurs      map[string]int // rows where Zeek / we name a service
	svcBoth               map[string]int // rows where both do
	netbaseErrs           []string       // a netbase service missed or invented
	diffs                 []string
	missingKeys, extraKey []string
}

// Service-column targets (the project's issue): the sets agree on at least
// serviceTarget percent of the rows, and the five services netbase counts
// are never missed nor invented.
const serviceTarget = 97.0

var netbaseServices = []string{"dns", "http", "ssl", "smb", "rdp"}

// acceptedServiceDiffs are the rows whose service differs from Zeek's
// because the Zeek test changed a script setting that netbased does not
// model (see each test's zeek-args.txt). They still count as disagreements
// in the percentage; they are listed with their reason.
var acceptedServiceDiffs = map[string]string{
	"scripts.base.protocols.ftp.gridftp|6/tcp 192.168.57.103:35391 > 192.168.57.101:55968": "the test sets GridFTP::size_threshold=2 (default 1 GiB within 2 min of a NULL-cipher, mutually authenticated TLS channel); the 8.6 KB data channel is gridftp-data only under that setting",
}

// serviceSet parses a conn.log service column ("-" and "(empty)" are
// empty).
func serviceSet(v string) map[string]bool {
	out := map[string]bool{}
	if v == "-" || v == "(empty)" || v == "" {
		return out
	}
	for _, s := range strings.Split(v, ",") {
		out[s] = true
	}
	return out
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func compareRows(name string, want, got []connlog.Row) parityResult {
	res := parityResult{name: name, zeekRows: len(want), fieldOK: map[string]int{}, fieldN: map[string]int{},
		svcZeek: map[string]int{}, svcOurs: map[string]int{}, svcBoth: map[string]int{}}
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
		// The service column: compared as a set (Zeek before 8.0 logs it
		// in hash order).
		if wv, ok := w.Raw["service"]; ok {
			ws, gs := serviceSet(wv), serviceSet(g.Raw["service"])
			res.svcN++
			if sameSet(ws, gs) {
				res.svcOK++
			} else {
				note := "UNEXPLAINED"
				if why, ok := acceptedServiceDiffs[name+"|"+k]; ok {
					note = "accepted: " + why
				}
				res.svcDiffs = append(res.svcDiffs, fmt.Sprintf("%s service: zeek %q ours %q (%s)", k, wv, g.Raw["service"], note))
			}
			for s := range ws {
				res.svcZeek[s]++
				if gs[s] {
					res.svcBoth[s]++
				}
			}
			for s := range gs {
				res.svcOurs[s]++
			}
			for _, s := range netbaseServices {
				if ws[s] != gs[s] {
					res.netbaseErrs = append(res.netbaseErrs, fmt.Sprintf("%s: %s %s: zeek %q ours %q", name, k, s, wv, g.Raw["service"]))
				}
			}
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
	var results []parityResult
	for _, c := range testenv.Corpus(t) {
		if c.Skip != "" {
			t.Logf("skip %s: %s", c.Name, c.Skip)
			continue
		}
		a, err := parseArgs(strings.Join(c.Args, " "))
		if err != nil {
			t.Fatalf("%s: netbased-args.txt: %v", c.Name, err)
		}
		logf, err := os.Open(c.File("conn.log"))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		want, err := connlog.ReadZeek(logf)
		logf.Close()
		if err != nil {
			t.Fatalf("%s: conn.log: %v", c.Name, err)
		}
		got := replayTrace(t, c.Trace, a)
		results = append(results, compareRows(c.Name, want, got))
	}
	if len(results) == 0 {
		t.Fatal("no parity tests found")
	}

	var zeekRows, exact, missing, extra, matched, svcOK, svcN, tpOK, tpN int
	var svcDiffs, netbaseErrs []string
	fieldOK, fieldN := map[string]int{}, map[string]int{}
	svcZeek, svcOurs, svcBoth := map[string]int{}, map[string]int{}, map[string]int{}
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
		netbaseErrs = append(netbaseErrs, r.netbaseErrs...)
		for k, v := range r.svcZeek {
			svcZeek[k] += v
		}
		for k, v := range r.svcOurs {
			svcOurs[k] += v
		}
		for k, v := range r.svcBoth {
			svcBoth[k] += v
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
	var names []string
	for k := range svcZeek {
		names = append(names, k)
	}
	for k := range svcOurs {
		if svcZeek[k] == 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var per strings.Builder
	fmt.Fprintf(&per, "  %-14s %5s %5s %5s\n", "service", "zeek", "ours", "both")
	for _, k := range names {
		mark := ""
		if svcZeek[k] != svcBoth[k] || svcOurs[k] != svcBoth[k] {
			mark = "  <--"
		}
		fmt.Fprintf(&per, "  %-14s %5d %5d %5d%s\n", k, svcZeek[k], svcOurs[k], svcBoth[k], mark)
	}
	t.Logf("service column (set comparison): %d/%d rows agree (%.2f%%, target %.0f%%)\n  %s\nper service (rows where Zeek has it / we have it / both):\n%s",
		svcOK, svcN, pct(svcOK, svcN), serviceTarget, strings.Join(svcDiffs, "\n  "), per.String())
	t.Logf("tunnel_parents set/unset (informational): %d/%d agree", tpOK, tpN)
	t.Logf("TOTAL: %d tests, %d Zeek rows, %d exact (%.2f%%), %d missing, %d extra",
		len(results), zeekRows, exact, pct(exact, zeekRows), missing, extra)
	if pct(exact, zeekRows) < 97 || missing > 0 || extra > 0 {
		t.Errorf("parity below target: %.2f%% exact rows (want >= 97%%), %d missing, %d extra",
			pct(exact, zeekRows), missing, extra)
	}
	if svcN == 0 {
		t.Error("no service column compared")
	}
	if pct(svcOK, svcN) < serviceTarget {
		t.Errorf("service column below target: %.2f%% of rows agree (want >= %.0f%%)", pct(svcOK, svcN), serviceTarget)
	}
	if len(netbaseErrs) > 0 {
		t.Errorf("netbase services missed or invented:\n  %s", strings.Join(netbaseErrs, "\n  "))
	}
	covered := 0
	for _, s := range netbaseServices {
		covered += svcZeek[s]
		if svcZeek[s] == 0 {
			t.Logf("note: no corpus row has %s: its no-miss check covers only false positives", s)
		}
	}
	if covered == 0 {
		t.Error("no corpus row has a netbase service: the netbase-service check would pass vacuously")
	}
}

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
