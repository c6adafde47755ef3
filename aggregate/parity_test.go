package aggregate_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow/connlog"
	"github.com/netbased/netbased/internal/testenv"
	"github.com/netbased/netbased/site"
)

// jsonCollector encodes every record with the json encoder.
type jsonCollector struct {
	enc     emit.Encoder
	lines   [][]byte
	windows int
}

func (c *jsonCollector) WriteInterval(r *aggregate.Interval) error {
	c.lines = append(c.lines, c.enc.Append(nil, r))
	return nil
}

func (c *jsonCollector) EndWindow(_, _ time.Time) error { c.windows++; return nil }

// derivedSizes fills the sizes conn.log leaves unset for zero-duration rows
// (testdata/zeek/README.md "Zero-duration connections").
func derivedSizes(row *connlog.Row) {
	if row.DurationSet || row.Raw["orig_bytes"] != "-" {
		return
	}
	c := &row.Conn
	h := uint64(20)
	if !c.Orig.Unmap().Is4() {
		h = 40
	}
	size := func(ipBytes, pkts, hdr uint64) uint64 {
		if ipBytes < pkts*hdr {
			return 0
		}
		return ipBytes - pkts*hdr
	}
	switch row.Proto {
	case "udp", "icmp":
		c.OrigBytes = size(c.OrigIPBytes, c.OrigPkts, h+8)
		c.RespBytes = size(c.RespIPBytes, c.RespPkts, h+8)
	case "tcp":
		c.OrigBytes, c.RespBytes = 0, 0
		if strings.Contains(c.History, "D") {
			c.OrigBytes = size(c.OrigIPBytes, c.OrigPkts, h+20)
		}
		if strings.Contains(c.History, "d") {
			c.RespBytes = size(c.RespIPBytes, c.RespPkts, h+20)
		}
	default:
		c.OrigBytes, c.RespBytes = 0, 0
	}
}

// localNets follows the rows' local_orig/local_resp; without those
// columns the local networks are Zeek's private address space.
func localNets(t *testing.T, rows []connlog.Row) *site.Nets {
	if len(rows) == 0 {
		return site.Private()
	}
	if _, ok := rows[0].Raw["local_orig"]; !ok {
		return site.Private()
	}
	local := map[netip.Addr]bool{}
	note := func(a netip.Addr, v string) {
		a = a.Unmap()
		isLocal := v == "T"
		if prev, ok := local[a]; ok && prev != isLocal {
			t.Errorf("address %s is both local and not local in conn.log", a)
		}
		local[a] = isLocal
	}
	var prefixes []netip.Prefix
	for i := range rows {
		note(rows[i].Orig, rows[i].Raw["local_orig"])
		note(rows[i].Resp, rows[i].Raw["local_resp"])
	}
	for a, isLocal := range local {
		if isLocal {
			prefixes = append(prefixes, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return site.FromPrefixes(prefixes...)
}

func decodeObject(t *testing.T, line []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("bad JSON %q: %v", line, err)
	}
	return m
}

// sameValue compares decoded JSON values; numbers compare by value.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if xi, err := x.Int64(); err == nil {
			if yi, err := y.Int64(); err == nil {
				return xi == yi
			}
		}
		xf, e1 := x.Float64()
		yf, e2 := y.Float64()
		return e1 == nil && e2 == nil && xf == yf
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func runParity(t *testing.T, dir string, shards int) (records, exact, fieldMismatches int, mismatches []string) {
	f, err := os.Open(filepath.Join(dir, "conn.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := connlog.ReadZeek(f)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	col := &jsonCollector{enc: emit.NewEncoder(emit.FormatJSON, emit.EncoderOptions{})}
	agg, err := aggregate.New(aggregate.Config{LocalNets: localNets(t, rows), Shards: shards}, col)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		derivedSizes(&rows[i])
		if err := agg.Add(&rows[i].Conn); err != nil {
			t.Fatal(err)
		}
	}
	if err := agg.Close(); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]any{}
	for _, l := range col.lines {
		m := decodeObject(t, l)
		got[fmt.Sprint(m["address"])] = m
	}
	ef, err := os.Open(filepath.Join(dir, "netbase.expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sc := bufio.NewScanner(ef)
	sc.Buffer(nil, 16<<20)
	seen := map[string]bool{}
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		want := decodeObject(t, sc.Bytes())
		addr := fmt.Sprint(want["address"])
		records++
		seen[addr] = true
		g, ok := got[addr]
		if !ok {
			mismatches = append(mismatches, fmt.Sprintf("%s: missing record", addr))
			fieldMismatches++
			continue
		}
		bad := 0
		keys := make([]string, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !sameValue(want[k], g[k]) {
				bad++
				mismatches = append(mismatches, fmt.Sprintf("%s %s: got %v, want %v", addr, k, g[k], want[k]))
			}
		}
		for k := range g { // PCR fields must be absent exactly when expected omits them
			if strings.Contains(k, "_producer_consumer_ratio_") {
				if _, ok := want[k]; !ok {
					bad++
					mismatches = append(mismatches, fmt.Sprintf("%s %s: got %v, want absent", addr, k, g[k]))
				}
			}
		}
		if bad == 0 {
			exact++
		}
		fieldMismatches += bad
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for addr := range got {
		if !seen[addr] {
			mismatches = append(mismatches, fmt.Sprintf("%s: unexpected record", addr))
			fieldMismatches++
		}
	}
	if len(col.lines) > 0 && col.windows != 1 {
		t.Errorf("%s: %d windows, want 1", dir, col.windows)
	}
	return records, exact, fieldMismatches, mismatches
}

// TestParity aggregates every Zeek conn.log of the shared ground truth in
// one window and compares each record, field by field, with
// netbase.expected.jsonl.
func TestParity(t *testing.T) {
	base := filepath.Join(testenv.SharedDir(t), "testdata", "zeek")
	dirs, err := filepath.Glob(filepath.Join(base, "*", "netbase.expected.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 10 {
		t.Fatalf("only %d expected files under %s", len(dirs), base)
	}
	for _, shards := range []int{1, 3} {
		var tests, records, exact int
		for _, p := range dirs {
			dir := filepath.Dir(p)
			name := filepath.Base(dir)
			tests++
			r, e, bad, why := runParity(t, dir, shards)
			records += r
			exact += e
			if bad > 0 {
				t.Errorf("shards=%d %s: %d of %d records exact; %d mismatches:\n  %s", shards, name, e, r, bad,
					strings.Join(why, "\n  "))
			}
		}
		t.Logf("shards=%d: %d tests, %d of %d expected records exact (%.1f%%)", shards, tests, exact, records,
			100*float64(exact)/float64(max(records, 1)))
		if records == 0 {
			t.Fatal("no expected records at all")
		}
	}
}
