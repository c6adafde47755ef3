package main

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/netbased/netbased/internal/testenv"
)

// TestClickHouseSchemaCommand loads the printed DDL into a real server
// with clickhouse-client, twice (it is idempotent).
func TestClickHouseSchemaCommand(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	var out, errb bytes.Buffer
	if code := runMain([]string{"clickhouse-schema", "--database", "nb", "--kafka", "kafka://127.0.0.1:1/rows"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for range 2 {
		cmd := exec.Command("clickhouse-client", "--host", "127.0.0.1", "--port", strconv.Itoa(srv.TCPPort), "--multiquery")
		cmd.Stdin = bytes.NewReader(out.Bytes())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("clickhouse-client: %v\n%s", err, b)
		}
	}
	if got := srv.Query("SELECT name FROM system.tables WHERE database = 'nb' ORDER BY name"); got != "interval_parts\ninterval_queue\ninterval_queue_mv\nintervals\n" {
		t.Fatalf("tables: %q", got)
	}
	errb.Reset()
	if code := runMain([]string{"clickhouse-schema", "--database", "a;b"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "a;b") {
		t.Fatalf("a bad database name: exit %d, %q", code, errb.String())
	}
}
