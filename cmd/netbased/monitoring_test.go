package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"go.yaml.in/yaml/v3"

	"github.com/netbased/netbased/capture"
)

const (
	dashboardFile = "../../deploy/netbased-dashboard.json"
	alertsFile    = "../../deploy/netbased-alerts.yml"
	alertTests    = "../../deploy/netbased-alerts.test.yml"
)

// notExported are the series a dashboard or rule may query that netbased
// does not export itself: Prometheus's own scrape health.
var notExported = map[string]bool{"up": true}

// Every metric the Grafana dashboard or an alert rule queries is one a
// running daemon exports (with an Elasticsearch output and a decode error,
// so that every metric family has a sample).
func TestMonitoringQueriesExportedMetrics(t *testing.T) {
	exported := daemonMetricNames(t)
	for _, want := range []string{"netbased_build_info", "process_cpu_seconds_total", "go_goroutines", "netbased_output_pending_records"} {
		if !exported[want] {
			t.Fatalf("the daemon does not export %s; exported: %v", want, sortedKeys(exported))
		}
	}
	for name := range exported {
		if strings.HasPrefix(name, "netbased_process_") || strings.HasPrefix(name, "netbased_go_") {
			t.Errorf("%s: the process and Go collectors must use the standard names (process_*, go_*)", name)
		}
	}
	check := func(where string, exprs []string, min int) {
		t.Helper()
		refs := 0
		for _, expr := range exprs {
			for _, name := range promqlMetrics(expr) {
				refs++
				if !exported[name] && !notExported[name] {
					t.Errorf("%s queries %s, which netbased does not export (in %q)", where, name, expr)
				}
			}
		}
		if refs < min {
			t.Errorf("%s: only %d metric references found in %d queries (want ≥ %d): the parser misses them", where, refs, len(exprs), min)
		}
	}
	check(dashboardFile, dashboardQueries(t), 30)
	check(alertsFile, alertExprs(t), 11)
}

// The rules load and their unit tests pass under promtool (apt package
// prometheus).
func TestAlertRulesPromtool(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		msg := "PROMTOOL NOT INSTALLED: the alert rules are not checked (apt-get install prometheus)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " (CI=true: failing instead of skipping)")
		}
		t.Skip(msg)
	}
	for _, args := range [][]string{
		{"check", "rules", filepath.Base(alertsFile)},
		{"test", "rules", filepath.Base(alertTests)},
	} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = filepath.Dir(alertsFile)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

func TestPromQLMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (instance) (rate(netbased_x_total{a="b", c=~"d|e"}[5m])) / on(instance) group_left up`, []string{"netbased_x_total", "up"}},
		{`histogram_quantile(0.9, sum by (le) (rate(h_bucket[$__rate_interval]))) > 1e3`, []string{"h_bucket"}},
		{`time() - netbased_network_time_seconds{instance=~"$instance"} > 120 and bool x offset 5m`, []string{"netbased_network_time_seconds", "x"}},
		{`label_values(netbased_build_info{job="$job"}, instance)`, []string{"netbased_build_info"}},
	} {
		if got := promqlMetrics(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("promqlMetrics(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlVariable = regexp.MustCompile(`\$\{?\w+\}?`)
	promqlIdent    = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*(?:\s*\()?`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true}
)

// promqlMetrics returns the metric names a PromQL expression (or a Grafana
// label_values(metric, label) query) selects: the identifiers left once
// strings, label matchers, ranges, grouping clauses and variables are
// removed, that are neither functions nor keywords.
func promqlMetrics(expr string) []string {
	if rest, ok := strings.CutPrefix(strings.TrimSpace(expr), "label_values("); ok {
		expr, _, _ = strings.Cut(rest, ",")
	}
	s := promqlString.ReplaceAllString(expr, `""`)
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	s = promqlVariable.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promqlIdent.FindAllString(s, -1) {
		if strings.HasSuffix(m, "(") || promqlKeywords[m] {
			continue // a function or an aggregation, or a keyword
		}
		names = append(names, m)
	}
	return names
}

// dashboardQueries returns every PromQL query of the dashboard: panel
// targets (rows included) and template variable queries.
func dashboardQueries(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var exprs []string
	var walk func([]json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			for _, tg := range p.Targets {
				if tg.Expr == "" {
					t.Errorf("panel %q has a target without expr", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, q.Query)
	}
	return exprs
}

// alertExprs returns the expr of every rule of the alert rules file.
func alertExprs(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs
}

// daemonMetricNames runs a daemon on the demo pcap (plus one frame the
// decoder rejects) with an Elasticsearch output to a fake _bulk endpoint,
// and returns the sample names of its /metrics exposition.
func daemonMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		var items []string
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 1<<24)
		for sc.Scan() {
			if sc.Scan() {
				items = append(items, `{"index":{"status":201}}`)
			}
		}
		_, _ = io.WriteString(w, `{"errors":false,"items":[`+strings.Join(items, ",")+`]}`)
	}))
	defer es.Close()
	src := newFakeSource(t, demoPcap(t))
	last := src.frames[len(src.frames)-1]
	src.frames = append(src.frames, capture.Frame{Data: []byte{1, 2, 3}, CaptureLength: 3, Length: 3,
		LinkType: layers.LinkTypeEthernet, Timestamp: last.Timestamp})
	td := startTestDaemon(t, []string{"--interface", "fake0", "--interval", "1m", "--metrics-listen", "127.0.0.1:0",
		"--out", "es+" + es.URL + "/netbase-%Y.%m.%d"}, src)
	d := <-td.state
	<-src.drained
	var body string
	waitFor(t, "the worker's decode error and a window flush in /metrics", 10*time.Second, func() bool {
		resp, err := http.Get("http://" + d.server.Addr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, "netbased_decode_errors_total{") && strings.Contains(body, "netbased_output_delivered_records_total{")
	})
	td.stop(t)
	names := map[string]bool{}
	for name := range parseMetrics(body) {
		name, _, _ = strings.Cut(name, "{")
		names[name] = true
	}
	return names
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
