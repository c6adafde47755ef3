package emit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var clock = time.Date(2026, 11, 27, 3, 30, 0, 0, time.UTC)

func fixedClock() time.Time { return clock }

func pk(proto uint8, port uint16) aggregate.PortKey { return aggregate.MakePortKey(proto, port) }

// sampleRecords are two records: one using every field (PCR for every
// service, IPv6 members, a cut array, odd characters in the metadata), one
// with nothing but a count.
func sampleRecords() []aggregate.Interval {
	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	end := start.Add(5 * time.Minute)
	full := aggregate.Interval{
		Address: netip.MustParseAddr("10.0.0.1"), StartTime: start, EndTime: end,
		ExternalPorts: []aggregate.PortKey{pk(6, 443), pk(17, 53)}, ExternalPortCount: 2,
		ExternalHosts: []netip.Addr{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("9.9.9.9")}, ExternalHostCount: 7,
		ExternalClients: []netip.Addr{netip.MustParseAddr("1.2.3.4")}, ExternalClientCount: 1,
		InternalPorts: []aggregate.PortKey{pk(1, 0), pk(89, 0)}, InternalPortCount: 2,
		InternalHosts: []netip.Addr{netip.MustParseAddr("10.0.0.2")}, InternalHostCount: 1,
		InternalClients: []netip.Addr{}, InternalClientCount: 0,
		NodeHostname: `sensor "one"`, NodeIPAddress: "192.0.2.10", OriginatingAgentTag: "lab\tagent<1>",
		EventType: aggregate.EventType, ForwarderType: "zeek",
	}
	full.ConnectionsCount = 42
	full.OriginatingConnectionCount = 10
	full.SuccessfulOriginatingConnectionCount = 8
	full.RejectedOriginatingConnectionCount = 1
	full.OriginatingToHighportCount = 3
	full.OriginatingToLowportCount = 7
	full.OriginatingToService = 9
	full.ExternalOriginatingBytesSent = 123456789012
	full.ExternalOriginatingBytesReceived = 98765
	full.ExternalOriginatingPacketsSent = 1000
	full.ExternalOriginatingPacketsReceived = 2000
	full.InternalOriginatedConnections = 5
	full.InternalOriginatedRejectedConnections = 2
	full.InternalToHighportCount = 1
	full.InternalToLowportCount = 4
	full.InternalToServiceCount = 3
	full.InternalReceivedConnections = 6
	full.InternalOriginatingBytesSent = 11
	full.InternalOriginatingBytesReceived = 22
	full.InternalOriginatingPacketsSent = 33
	full.InternalOriginatingPacketsReceived = 44
	for s := aggregate.Service(0); s < aggregate.NumServices; s++ {
		full.Services[s] = aggregate.ServiceCounts{ClientConnections: uint64(s) + 1, ServerConnections: uint64(s) + 2,
			PCR: pcr3(-0.7380952380952381, 0.34, 1)}
	}
	bare := aggregate.Interval{
		Address: netip.MustParseAddr("fe80::a667:6ff:fef7:ec54"), StartTime: start.Add(123456 * time.Microsecond), EndTime: end,
		ExternalPorts: []aggregate.PortKey{}, ExternalHosts: []netip.Addr{}, ExternalClients: []netip.Addr{},
		InternalPorts: []aggregate.PortKey{}, InternalHosts: []netip.Addr{}, InternalClients: []netip.Addr{},
		NodeHostname: "h", NodeIPAddress: "::1", EventType: aggregate.EventType, ForwarderType: "zeek",
	}
	bare.ConnectionsCount = 1
	return []aggregate.Interval{full, bare}
}

// sampleMaxSet is the set cap of the sample encodings: it cuts the full
// record's external hosts (three members) and nothing else.
const sampleMaxSet = 2

// pcr3 returns the PCR statistics of three samples.
func pcr3(a, b, c float64) aggregate.PCR {
	var p aggregate.PCR
	p.Add(a)
	p.Add(b)
	p.Add(c)
	return p
}

func encodeSample(t *testing.T, f Format) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := NewEncoder(f, EncoderOptions{MaxSetSize: sampleMaxSet})
	sink := NewStreamSink(&buf, enc)
	sink.now = fixedClock
	w := newTestOutput(t, sink, enc, OutputOptions{Policy: Block})
	recs := sampleRecords()
	for i := range recs {
		if err := w.WriteInterval(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestGolden(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatDynamite, FormatZeek} {
		t.Run(f.String(), func(t *testing.T) {
			got := encodeSample(t, f)
			path := filepath.Join("testdata", f.String()+".golden")
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
				t.Errorf("%s differs from %s:\n got:\n%s\nwant:\n%s", f, path, got, want)
			}
		})
	}
}

func TestJSONIsValidAndComplete(t *testing.T) {
	out := encodeSample(t, FormatJSON)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var full, bare map[string]any
	if err := json.Unmarshal(lines[0], &full); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &bare); err != nil {
		t.Fatal(err)
	}
	// Every key of the expected records, plus the record metadata.
	keys := []string{"address", "start_time", "end_time", "interval_size", "node_hostname", "node_ip_address",
		"originating_agent_tag", "event_type", "forwarder_type"}
	for _, f := range recordFields(0) {
		keys = append(keys, f.json)
	}
	for _, k := range keys {
		if _, ok := full[k]; !ok {
			t.Errorf("full record lacks %q", k)
		}
		if _, ok := bare[k]; !ok && !strings.Contains(k, "producer_consumer") {
			t.Errorf("bare record lacks %q", k)
		}
	}
	for k := range bare {
		if strings.Contains(k, "producer_consumer") {
			t.Errorf("bare record has %q without PCR samples", k)
		}
	}
	if full["node_hostname"] != `sensor "one"` || full["originating_agent_tag"] != "lab\tagent<1>" {
		t.Errorf("strings not round-tripped: %v %v", full["node_hostname"], full["originating_agent_tag"])
	}
	if full["interval_size"] != 300.0 || full["external_originating_bytes_sent"] != 123456789012.0 {
		t.Errorf("numbers: %v %v", full["interval_size"], full["external_originating_bytes_sent"])
	}
	if ts, err := time.Parse(time.RFC3339Nano, bare["start_time"].(string)); err != nil || ts.Nanosecond() != 123456000 {
		t.Errorf("start_time %v: %v", bare["start_time"], err)
	}
	if cut, ok := full[truncatedKey].([]any); !ok || len(cut) != 1 || cut[0] != "external_hosts" {
		t.Errorf("%s = %v", truncatedKey, full[truncatedKey])
	}
	if _, ok := bare[truncatedKey]; ok {
		t.Error("truncated_sets without a cut")
	}
}

// sdkKeys are the _source keys dynamite_sdk's Interval reads
// (dynamite_sdk/objects/baselines.py).
var sdkKeys = []string{"node.ipaddr", "node.hostname", "fields.originating_agent_tag", "event_type",
	"zeek.starttime", "zeek.endtime", "zeek.address",
	"zeek.int_port_cnt", "zeek.int_host_cnt", "zeek.ext_ports", "zeek.ext_port_cnt", "zeek.ext_host_cnt",
	"zeek.int_client_cnt", "zeek.ext_client_cnt", "zeek.total_conns", "zeek.out_orig_conns", "zeek.out_succ_conns",
	"zeek.out_rej_conns", "zeek.out_to_highports", "zeek.out_to_lowports", "zeek.out_to_service",
	"zeek.int_orig_conns", "zeek.int_rej_conns", "zeek.int_to_highports", "zeek.int_to_lowports",
	"zeek.int_to_service", "zeek.int_resp_conns", "zeek.int_orig_bytes_sent", "zeek.int_orig_bytes_rcvd",
	"zeek.out_orig_bytes_sent", "zeek.out_orig_bytes_rcvd", "zeek.int_orig_pkts_sent", "zeek.int_orig_pkts_recvd",
	"zeek.out_orig_pkts_sent", "zeek.out_orig_pkts_recvd",
	"zeek.smb_client_conns", "zeek.smb_server_conns", "zeek.pcr_smb_avg", "zeek.pcr_smb_max", "zeek.pcr_smb_min",
	"zeek.http_client_conns", "zeek.http_server_conns", "zeek.pcr_http_avg", "zeek.pcr_http_max", "zeek.pcr_http_min",
	"zeek.dns_client_conns", "zeek.dns_server_conns", "zeek.pcr_dns_avg", "zeek.pcr_dns_max", "zeek.pcr_dns_min",
	"zeek.ssl_client_conns", "zeek.ssl_server_conns", "zeek.pcr_ssl_avg", "zeek.pcr_ssl_max", "zeek.pcr_ssl_min",
	"zeek.rdp_client_conns", "zeek.rdp_server_conns", "zeek.pcr_rdp_avg", "zeek.pcr_rdp_max", "zeek.pcr_rdp_min",
}

func lookup(doc map[string]any, dotted string) (any, bool) {
	var cur any = doc
	for _, part := range strings.Split(dotted, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func TestDynamiteCarriesSDKKeys(t *testing.T) {
	out := encodeSample(t, FormatDynamite)
	line, _, _ := bytes.Cut(out, []byte("\n"))
	var doc map[string]any
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range sdkKeys {
		if _, ok := lookup(doc, k); !ok {
			t.Errorf("dynamite document lacks %s", k)
		}
	}
	if doc["event_type"] != "netbase" {
		t.Errorf("event_type %v", doc["event_type"])
	}
	for _, k := range []string{"@timestamp", "zeek.starttime", "zeek.endtime"} {
		v, _ := lookup(doc, k)
		if _, err := time.Parse(time.RFC3339Nano, v.(string)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	for _, k := range []string{"node.ipaddr", "zeek.address"} {
		v, _ := lookup(doc, k)
		if _, err := netip.ParseAddr(v.(string)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	for _, k := range []string{"zeek.ext_hosts", "zeek.ext_clients", "zeek.int_ports", "zeek.int_hosts", "zeek.int_clients"} {
		if _, ok := lookup(doc, k); !ok {
			t.Errorf("dynamite document lacks %s", k)
		}
	}
}

func TestZeekLog(t *testing.T) {
	out := string(encodeSample(t, FormatZeek))
	var fields, types []string
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "#fields\t"):
			fields = strings.Split(l, "\t")[1:]
		case strings.HasPrefix(l, "#types\t"):
			types = strings.Split(l, "\t")[1:]
		case strings.HasPrefix(l, "#"):
		default:
			rows = append(rows, strings.Split(l, "\t"))
		}
	}
	if len(fields) == 0 || len(fields) != len(types) || len(rows) != 2 {
		t.Fatalf("header: %d fields, %d types, %d rows", len(fields), len(types), len(rows))
	}
	for _, r := range rows {
		if len(r) != len(fields) {
			t.Fatalf("row has %d columns, header %d", len(r), len(fields))
		}
	}
	col := map[string]int{}
	for i, f := range fields {
		col[f] = i
	}
	if rows[1][col["pcr_dns_avg"]] != "-" || rows[1][col["ext_ports"]] != "(empty)" || rows[0][col["ext_ports"]] != "443,53" {
		t.Errorf("unset/empty/set columns: %q %q %q", rows[1][col["pcr_dns_avg"]], rows[1][col["ext_ports"]], rows[0][col["ext_ports"]])
	}
	// Zeek writes an integral double with ".0" (1.0, never 1).
	if got := rows[0][col["pcr_dns_max"]]; got != "1.0" {
		t.Errorf("pcr_dns_max %q, want 1.0", got)
	}
	if rows[1][col["starttime"]] != "1795748400.123456" {
		t.Errorf("starttime %q", rows[1][col["starttime"]])
	}
	if !strings.HasPrefix(out, "#separator \\x09\n") || !strings.Contains(out, "#path\tnetbase\n") || !strings.HasSuffix(out, "#close\t2026-11-27-03-30-00\n") {
		t.Errorf("header/footer:\n%s", out)
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"json", "dynamite", "zeek"} {
		f, err := ParseFormat(s)
		if err != nil || f.String() != s {
			t.Errorf("ParseFormat(%q) = %v, %v", s, f, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil || !strings.Contains(err.Error(), "csv") {
		t.Errorf("ParseFormat(csv) error %v", err)
	}
}

func TestEncodersDoNotAllocate(t *testing.T) {
	recs := sampleRecords()
	for _, f := range []Format{FormatJSON, FormatDynamite, FormatZeek} {
		enc := NewEncoder(f, EncoderOptions{})
		buf := make([]byte, 0, 1<<16)
		allocs := testing.AllocsPerRun(100, func() {
			buf = enc.Append(buf[:0], &recs[0])
		})
		if allocs != 0 {
			t.Errorf("%s encoder: %.1f allocations per record", f, allocs)
		}
	}
}

// readLines returns a file's lines.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func countRows(lines []string) (rows, headers, footers int) {
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "#fields"):
			headers++
		case strings.HasPrefix(l, "#close"):
			footers++
		case !strings.HasPrefix(l, "#"):
			rows++
		}
	}
	return
}

func TestFileRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "netbase.log")
	now := clock
	var mu sync.Mutex // now is read by the delivery goroutine
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	enc := NewEncoder(FormatZeek, EncoderOptions{})
	sink, err := OpenFile(path, enc, FileOptions{RotateSize: 1500, RotateEvery: time.Hour, Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	w := newTestOutput(t, sink, enc, OutputOptions{Policy: Block})
	advance := func(d time.Duration) {
		if err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	recs := sampleRecords()
	written := 0
	for win := 0; win < 6; win++ {
		for i := range recs {
			if err := w.WriteInterval(&recs[i]); err != nil {
				t.Fatal(err)
			}
			written++
		}
		if err := w.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
			t.Fatal(err)
		}
		advance(time.Second)
	}
	// Age-based rotation: a small window after an hour.
	advance(2 * time.Hour)
	if err := w.WriteInterval(&recs[1]); err != nil {
		t.Fatal(err)
	}
	written++
	if err := w.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "netbase*.log"))
	if len(files) < 3 {
		t.Fatalf("only %d files after rotation: %v", len(files), files)
	}
	total := 0
	for _, f := range files {
		rows, headers, footers := countRows(readLines(t, f))
		if rows == 0 && headers == 0 && footers == 0 {
			continue // the new, still empty file after the last rotation
		}
		if headers != 1 || footers != 1 {
			t.Errorf("%s: %d headers, %d footers", filepath.Base(f), headers, footers)
		}
		total += rows
	}
	if total != written {
		t.Errorf("%d rows in the files, %d written", total, written)
	}
	if names := strings.Join(files, " "); !strings.Contains(names, "netbase.2026-11-27-03-30-00.log") ||
		!strings.Contains(names, "netbase.2026-11-27-03-30-00-1.log") {
		t.Errorf("rotated names: %v", files)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "netbase.json")
	enc := NewEncoder(FormatJSON, EncoderOptions{})
	sink, err := OpenFile(path, enc, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := newTestOutput(t, sink, enc, OutputOptions{Policy: Block})
	ctx := context.Background()
	recs := sampleRecords()
	w.WriteInterval(&recs[0])
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(dir, "netbase.json.1")
	if err := os.Rename(path, moved); err != nil { // what logrotate does
		t.Fatal(err)
	}
	w.WriteInterval(&recs[1]) // delivered before the reopen: to the moved file
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Reopen(); err != nil {
		t.Fatal(err)
	}
	w.WriteInterval(&recs[0])
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(readLines(t, moved)); n != 2 {
		t.Errorf("moved file has %d lines, want 2", n)
	}
	if n := len(readLines(t, path)); n != 1 {
		t.Errorf("reopened file has %d lines, want 1", n)
	}
	if st := w.Stats(); st.Records != 3 || st.Delivered != 3 || st.Pending != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := w.WriteInterval(&recs[0]); err == nil {
		t.Error("write after Close accepted")
	}
}

func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"plain", `q"uote\`, "tab\tnew\nline", "\x00\x1f<>&", "é€😀", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", b, s, err)
		}
		if want := strings.ToValidUTF8(s, "\ufffd"); got != want && strings.ToValidUTF8(s, "") == s {
			t.Fatalf("round trip %q -> %q", s, got)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	recs := sampleRecords()
	for _, f := range []Format{FormatJSON, FormatDynamite, FormatZeek} {
		b.Run(f.String(), func(b *testing.B) {
			enc := NewEncoder(f, EncoderOptions{})
			buf := make([]byte, 0, 1<<16)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				buf = enc.Append(buf[:0], &recs[i&1])
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

// Outputs that cannot be fsynced (here /dev/null) are written without error.
func TestFileSinkUnsyncableDevice(t *testing.T) {
	s, err := OpenFile(os.DevNull, NewEncoder(FormatJSON, EncoderOptions{}), FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Deliver(context.Background(), []Document{{Body: []byte("x\n")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndWindow(time.Time{}, time.Time{}); err != nil {
		t.Errorf("Sync on %s: %v", os.DevNull, err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close on %s: %v", os.DevNull, err)
	}
}

// TestAppendRFC3339MatchesTimeFormat compares the hand-written timestamp
// with time.Format's on instants across the representable range, in
// zones other than UTC too.
func TestAppendRFC3339MatchesTimeFormat(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 30*60))
	cases := []time.Time{
		time.Unix(0, 0), time.Unix(1, 999_999_999), time.Unix(1700000000, 123_456_789),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_000, time.UTC),
		time.Date(2026, 2, 28, 21, 0, 0, 1_000, zone),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	}
	for i := int64(0); i < 2000; i++ {
		cases = append(cases, time.Unix(i*7_654_321_987%4_000_000_000, i*999_983%1_000_000_000))
	}
	for _, tc := range cases {
		want := tc.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		if got := string(appendRFC3339(nil, tc)); got != want {
			t.Fatalf("%v: got %s, want %s", tc, got, want)
		}
	}
}
