package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// demoRecords is the number of records `replay` writes for the bundled demo
// (5-minute windows), read from the json golden file.
func demoRecords(t *testing.T) int {
	t.Helper()
	code, stdout, stderr := run("replay", "--progress", "never", filepath.Join("..", "..", "pcaps", "demo.pcap"))
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, stderr)
	}
	return strings.Count(stdout, "\n")
}

// The demo's records reach an Elasticsearch _bulk endpoint (a fake one on
// loopback) in the dynamite format, each once, in daily indices. A replay
// waits for a slow back end even when its configuration file is a
// daemon's (an interface, a short output_stop_timeout): only `run` lets
// records go to keep capture going.
func TestReplayToElasticsearch(t *testing.T) {
	want := demoRecords(t)
	daemonConfig := filepath.Join(t.TempDir(), "daemon.yaml")
	if err := os.WriteFile(daemonConfig, []byte("interface: lo\noutput_stop_timeout: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		delay time.Duration // before each _bulk answer
		args  []string
	}{
		{"prompt back end", 0, nil},
		{"slow back end, daemon's configuration", 300 * time.Millisecond, []string{"--config", daemonConfig}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testReplayToElasticsearch(t, want, tc.delay, tc.args)
		})
	}
}

func testReplayToElasticsearch(t *testing.T, want int, delay time.Duration, args []string) {
	var mu sync.Mutex
	docs := map[string]int{} // address|endtime → times indexed
	indices := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			w.Write([]byte(`{}`))
			return
		}
		time.Sleep(delay)
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 1<<24)
		var items []string
		for sc.Scan() {
			var action map[string]map[string]any
			if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() {
				http.Error(w, "bad bulk body", http.StatusBadRequest)
				return
			}
			var doc struct {
				Zeek struct {
					Address string `json:"address"`
					End     any    `json:"endtime"`
				} `json:"zeek"`
				EventType string `json:"event_type"`
			}
			if err := json.Unmarshal(sc.Bytes(), &doc); err != nil || doc.EventType != "netbase" {
				http.Error(w, "bad document", http.StatusBadRequest)
				return
			}
			mu.Lock()
			docs[doc.Zeek.Address+"|"+strings.TrimSpace(jsonText(doc.Zeek.End))]++
			for _, meta := range action {
				if idx, _ := meta["_index"].(string); idx != "" {
					indices[idx] = true
				}
			}
			mu.Unlock()
			items = append(items, `{"index":{"status":201}}`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"took":1,"errors":false,"items":[` + strings.Join(items, ",") + `]}`))
	}))
	defer srv.Close()
	out := "es+" + srv.URL + "/netbase-%Y.%m.%d"
	code, _, stderr := run(append([]string{"replay", "--format", "dynamite", "--out", out, "--progress", "never",
		filepath.Join("..", "..", "pcaps", "demo.pcap")}, args...)...)
	if code != 0 {
		t.Fatalf("replay to Elasticsearch: exit %d: %s", code, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d documents indexed into %v", len(docs), indices)
	if len(docs) != want {
		t.Errorf("%d distinct documents indexed, want %d", len(docs), want)
	}
	for k, n := range docs {
		if n != 1 {
			t.Errorf("%s indexed %d times", k, n)
		}
	}
	if !indices["netbase-2024.05.14"] || len(indices) != 1 {
		t.Errorf("indices %v, want only netbase-2024.05.14", indices)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The demo's records reach a Kafka topic (an in-process kfake cluster),
// each once, keyed by address.
func TestReplayToKafka(t *testing.T) {
	want := demoRecords(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "netbase"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	out := "kafka://" + strings.Join(cluster.ListenAddrs(), ",") + "/netbase"
	code, _, stderr := run("replay", "--format", "json", "--out", out, "--progress", "never",
		filepath.Join("..", "..", "pcaps", "demo.pcap"))
	if code != 0 {
		t.Fatalf("replay to Kafka: exit %d: %s", code, stderr)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...), kgo.ConsumeTopics("netbase"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := map[string]int{}
	for n := 0; n < want && ctx.Err() == nil; {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			var rec struct {
				Address string `json:"address"`
				End     string `json:"end_time"`
			}
			if err := json.Unmarshal(r.Value, &rec); err != nil {
				t.Errorf("record %q: %v", r.Value, err)
				return
			}
			if string(r.Key) != rec.Address {
				t.Errorf("record keyed %q, address %q", r.Key, rec.Address)
			}
			seen[rec.Address+"|"+rec.End]++
			n++
		})
	}
	t.Logf("%d records consumed from topic netbase", len(seen))
	if len(seen) != want {
		t.Errorf("%d distinct records consumed, want %d", len(seen), want)
	}
	for k, c := range seen {
		if c != 1 {
			t.Errorf("%s produced %d times", k, c)
		}
	}
}
