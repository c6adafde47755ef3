package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/internal/testenv"
)

func TestParseClickHouseURL(t *testing.T) {
	for _, tc := range []struct {
		dest, hosts, user, pass, db, cluster string
		create                               bool
	}{
		{"clickhouse://ch1/netbase", "ch1:9000", "", "", "netbase", "", true},
		{"clickhouse://ch1:9440,ch2/netbase?cluster=sensors&create_schema=false", "ch1:9440,ch2:9000", "", "", "netbase", "sensors", false},
		{"clickhouse://writer:s%40cret@[::1]:9000/db1", "[::1]:9000", "writer", "s@cret", "db1", "", true},
		{"clickhouse://writer@10.0.0.1/db1?dial_timeout=2s", "10.0.0.1:9000", "writer", "", "db1", "", true},
	} {
		cfg, err := ParseClickHouseURL(tc.dest)
		if err != nil {
			t.Fatalf("%s: %v", tc.dest, err)
		}
		if got := strings.Join(cfg.Hosts, ","); got != tc.hosts || cfg.Username != tc.user || cfg.Password != tc.pass ||
			cfg.Schema.Database != tc.db || cfg.Schema.Cluster != tc.cluster || cfg.CreateSchema != tc.create {
			t.Errorf("%s: got %+v", tc.dest, cfg)
		}
	}
	for _, dest := range []string{
		"clickhouse://ch1", "clickhouse://ch1/", "clickhouse:///db", "clickhouse://ch1/db;drop",
		"clickhouse://ch1/db?cluster=a-b", "clickhouse://ch1/db?bogus=1", "clickhouse://ch1/db?create_schema=maybe",
		"clickhouse://u:topsecret@ch1/bad-db",
	} {
		_, err := ParseClickHouseURL(dest)
		if err == nil {
			t.Errorf("%s: accepted", dest)
			continue
		}
		if !errors.Is(err, ErrBadOutput) {
			t.Errorf("%s: %v does not wrap ErrBadOutput", dest, err)
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("%s: the error shows the password: %v", dest, err)
		}
	}
}

func TestClickHousePasswordFromEnvironment(t *testing.T) {
	k, err := DefaultRegistry().Lookup("clickhouse://u@127.0.0.1:1/netbase")
	if err != nil {
		t.Fatal(err)
	}
	o, err := k.Open(context.Background(), "clickhouse://u@127.0.0.1:1/netbase", OpenParams{Getenv: func(k string) string {
		if k == ClickHousePasswordEnv {
			return "from-env"
		}
		return ""
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Sink.Close()
	if got := o.Sink.(*ClickHouseSink).c.cfg.Password; got != "from-env" {
		t.Fatalf("password %q, want the environment's", got)
	}
	if strings.Contains(o.Destination, "from-env") {
		t.Fatalf("destination %q shows the password", o.Destination)
	}
}

// TestClickHouseSchemaGolden keeps the DDL in testdata/clickhouse*.sql,
// for review: a change to the schema shows in the diff.
func TestClickHouseSchemaGolden(t *testing.T) {
	for name, s := range map[string]ClickHouseSchema{
		"clickhouse.sql":         {Database: "netbase"},
		"clickhouse-cluster.sql": {Database: "netbase", Cluster: "sensors", Kafka: &ClickHouseKafka{Brokers: []string{"k1:9092", "k2:9092"}, Topic: "netbase-rows"}},
	} {
		got := s.Script()
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create it)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from the schema (run with -update after reviewing)", path)
		}
	}
}

// TestClickHouseSchemaIdempotent creates the schema twice on a real
// server, Kafka path included.
func TestClickHouseSchemaIdempotent(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	s := ClickHouseSchema{Database: "nb", Kafka: &ClickHouseKafka{Brokers: []string{"127.0.0.1:1"}, Topic: "t"}}
	for range 2 {
		for _, st := range s.Statements() {
			srv.Query(st)
		}
	}
	got := srv.Query("SELECT name FROM system.tables WHERE database = 'nb' ORDER BY name")
	if want := "interval_parts\ninterval_queue\ninterval_queue_mv\nintervals\n"; got != want {
		t.Fatalf("tables %q, want %q", got, want)
	}
	// The view's columns are the json format's fields, in its order.
	cols := strings.Fields(srv.Query("SELECT name FROM system.columns WHERE database = 'nb' AND table = 'intervals' FORMAT TSV"))
	want := jsonKeys(t, NewEncoder(FormatJSON, EncoderOptions{}).Append(nil, &sampleRecords()[0]))
	if strings.Join(cols, " ") != strings.Join(want, " ") {
		t.Fatalf("view columns\n%q\nwant the json fields\n%q", cols, want)
	}
}

// jsonKeys lists the top-level keys of a JSON object in order.
func jsonKeys(t testing.TB, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestClickHouseDeliverBadRow rejects a row that is not a clickhouse row
// for good and inserts the others.
func TestClickHouseDeliverBadRow(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	s, err := NewClickHouseSink(ClickHouseConfig{Hosts: []string{srv.Addr()}, Schema: ClickHouseSchema{Database: "nb"}, CreateSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := chTestTraffic(t)
	docs := []Document{{Body: st.rows[0][0]}, {Body: []byte(`{"address":"10.0.0.1"}` + "\n")}, {Body: st.rows[0][1]}}
	err = s.Deliver(context.Background(), docs)
	var pe *PartialError
	if !errors.As(err, &pe) || len(pe.Failed) != 1 || pe.Failed[0].Index != 1 || !IsPermanent(pe.Failed[0].Err) {
		t.Fatalf("Deliver: %v, want document 1 failed for good", err)
	}
	if n := strings.TrimSpace(srv.Query("SELECT count() FROM nb.interval_parts")); n != "2" {
		t.Fatalf("%s rows inserted, want 2", n)
	}
	if st := s.Stats(); st.Inserts != 1 || st.Rows != 2 || st.BadRows != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestClickHouseDeliverServerDown fails retryably while no server answers.
func TestClickHouseDeliverServerDown(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	srv.Stop()
	s, err := NewClickHouseSink(ClickHouseConfig{Hosts: []string{srv.Addr()}, Schema: ClickHouseSchema{Database: "nb"}, CreateSchema: true, DialTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := chTestTraffic(t)
	err = s.Deliver(context.Background(), []Document{{Body: st.rows[0][0]}})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Deliver to a stopped server: %v, want a retryable error", err)
	}
	srv.Start()
	if err := s.Deliver(context.Background(), []Document{{Body: st.rows[0][0]}}); err != nil {
		t.Fatalf("Deliver after the restart: %v", err)
	}
}

// FuzzClickHouseRow feeds arbitrary bodies to the row parser: it never
// panics, and a rejected row leaves the block as it was.
func FuzzClickHouseRow(f *testing.F) {
	enc := NewClickHouseEncoder()
	for _, r := range sampleRecords() {
		f.Add(enc.Append(nil, &r))
	}
	f.Add([]byte(`{"address":"10.0.0.1","start_ns":-1}`))
	f.Add([]byte(`{"address":"\u0031","start_ns":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		blk := newCHBlock()
		if err := blk.appendRow(body); err != nil {
			if blk.rows != 0 {
				t.Fatal("a rejected row counted")
			}
		} else if blk.rows != 1 {
			t.Fatal("an accepted row not counted")
		}
		for i, c := range blk.cols {
			if n := chColumnLen(&blk.data[i], c.kind); n != blk.rows {
				t.Fatalf("column %s has %d values for %d rows", c.name, n, blk.rows)
			}
		}
	})
}

// FuzzParseClickHouseURL never panics and never shows a password in its
// errors.
func FuzzParseClickHouseURL(f *testing.F) {
	f.Add("clickhouse://u:secretpw@h1:9000,h2/db?cluster=c&create_schema=false")
	f.Add("clickhouse://@/")
	f.Fuzz(func(t *testing.T, dest string) {
		_, err := ParseClickHouseURL(dest)
		if err != nil && strings.Contains(dest, ":secretpw@") && strings.Contains(err.Error(), "secretpw") {
			t.Fatalf("error shows the password: %v", err)
		}
	})
}
