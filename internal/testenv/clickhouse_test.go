package testenv

import (
	"strings"
	"testing"
)

func TestClickHouseStartStop(t *testing.T) {
	s := StartClickHouse(t)
	if got := strings.TrimSpace(s.Query("SELECT 1+1")); got != "2" {
		t.Fatalf("SELECT 1+1 = %q", got)
	}
	s.Query("CREATE TABLE default.t (x UInt64) ENGINE = MergeTree ORDER BY x")
	s.Query("INSERT INTO default.t VALUES (7)")
	s.Stop()
	if _, err := s.TryQuery("SELECT 1"); err == nil {
		t.Fatal("a stopped server answered")
	}
	s.Start()
	if got := strings.TrimSpace(s.Query("SELECT sum(x) FROM default.t")); got != "7" {
		t.Fatalf("after a restart the table holds %q, want 7", got)
	}
}
