package connlog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/internal/testenv"
)

func TestReadZeekCorpusRoundTrip(t *testing.T) {
	logs, err := filepath.Glob(filepath.Join(testenv.SharedDir(t), "testdata", "zeek", "*", "conn.log"))
	if err != nil || len(logs) < 50 {
		t.Fatalf("expected the corpus' conn logs, found %d (%v)", len(logs), err)
	}
	total := 0
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := ReadZeek(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want := 0
		for _, l := range strings.Split(string(data), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") && !strings.Contains(l, "id.orig_h") {
				want++
			}
		}
		if len(rows) != want {
			t.Errorf("%s: %d rows, want %d", path, len(rows), want)
		}
		total += len(rows)
		// Write them back (zeek format) and read again: same connections.
		var buf bytes.Buffer
		w := NewWriter(&buf, Zeek)
		for i := range rows {
			if err := w.Write(&rows[i].Conn); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		again, err := ReadZeek(&buf)
		if err != nil {
			t.Fatalf("%s: re-reading our own log: %v", path, err)
		}
		if len(again) != len(rows) {
			t.Fatalf("%s: round trip gave %d rows, want %d", path, len(again), len(rows))
		}
		for i := range rows {
			a, b := rows[i].Conn, again[i].Conn
			if !rows[i].DurationSet {
				// Unlogged sizes stay unlogged: compare what the log shows.
				a.OrigBytes, a.RespBytes = 0, 0
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("%s row %d: round trip\n got %+v\nwant %+v", path, i, b, a)
			}
		}
	}
	t.Logf("parsed %d conn.log rows from %d logs", total, len(logs))
}

func TestWriteJSON(t *testing.T) {
	start := time.Unix(1300000000, 123456000)
	c := flow.Conn{
		UID: "CAbc", Start: start, LastTime: start.Add(1500 * time.Millisecond),
		Orig: netip.MustParseAddr("10.0.0.1"), OrigPort: 5555,
		Resp: netip.MustParseAddr("2001:db8::1"), RespPort: 443, IPProto: 6,
		Services: []string{"quic", "ssl"}, OrigBytes: 10, RespBytes: 20, ConnState: "SF",
		LocalOrig: true, History: "ShADadFf", OrigPkts: 5, OrigIPBytes: 300, RespPkts: 4, RespIPBytes: 400,
		TunnelParents: []string{"Cx"},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, JSON)
	if err := w.Write(&c); err != nil {
		t.Fatal(err)
	}
	zero := c
	zero.LastTime = zero.Start
	zero.History = ""
	zero.Services = nil
	if err := w.Write(&zero); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines", len(lines))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("invalid JSON %s: %v", lines[0], err)
	}
	want := map[string]any{
		"ts": 1300000000.123456, "uid": "CAbc", "id.orig_h": "10.0.0.1", "id.orig_p": 5555.0,
		"id.resp_h": "2001:db8::1", "id.resp_p": 443.0, "proto": "tcp", "service": "quic,ssl",
		"duration": 1.5, "orig_bytes": 10.0, "resp_bytes": 20.0, "conn_state": "SF", "local_orig": true,
		"local_resp": false, "missed_bytes": 0.0, "history": "ShADadFf", "orig_pkts": 5.0,
		"orig_ip_bytes": 300.0, "resp_pkts": 4.0, "resp_ip_bytes": 400.0,
		"tunnel_parents": []any{"Cx"}, "ip_proto": 6.0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON record\n got %v\nwant %v", got, want)
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"duration", "orig_bytes", "resp_bytes", "service", "history"} {
		if _, ok := second[k]; ok {
			t.Errorf("zero-duration record has %q, Zeek leaves it unset", k)
		}
	}
}

func TestReadZeekErrors(t *testing.T) {
	for name, in := range map[string]string{
		"no header":    "1.0\tC\t1.2.3.4\n",
		"short row":    "#fields\tts\tuid\n1.0\n",
		"bad address":  "#fields\tid.orig_h\nnot-an-ip\n",
		"bad count":    "#fields\torig_pkts\nabc\n",
		"bad duration": "#fields\tduration\nx1\n",
	} {
		if _, err := ReadZeek(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzReadZeek(f *testing.F) {
	f.Add("#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tduration\n1.5\tC1\t1.2.3.4\t80\t0.5\n")
	f.Add("#fields\tid.resp_h\tproto\tservice\n::1\ticmp\tdns,ssl\n")
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := ReadZeek(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, JSON)
		for i := range rows {
			if err := w.Write(&rows[i].Conn); err != nil {
				t.Fatal(err)
			}
		}
		_ = w.Close()
	})
}
