package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/netbased/netbased/aggregate"
)

const kafkaTestTopic = "netbase"

// newKafkaCluster starts an in-process cluster with the test topic in
// three partitions (auto-creation off).
func newKafkaCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, kafkaTestTopic)}, opts...)...)
	if err != nil {
		t.Fatalf("starting kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func newTestKafkaSink(t testing.TB, c *kfake.Cluster, cfg KafkaConfig) *KafkaSink {
	t.Helper()
	cfg.Brokers = c.ListenAddrs()
	if cfg.Topic == "" {
		cfg.Topic = kafkaTestTopic
	}
	s, err := NewKafkaSink(cfg)
	if err != nil {
		t.Fatalf("NewKafkaSink: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// kafkaIntervals returns perHost records for each of hosts addresses,
// interleaved (all hosts' first records, then their second ...), each
// distinguished by its start time.
func kafkaIntervals(hosts, perHost int) []aggregate.Interval {
	base := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	var out []aggregate.Interval
	for seq := range perHost {
		for h := range hosts {
			out = append(out, aggregate.Interval{
				Address:   netip.AddrFrom4([4]byte{10, 0, byte(h >> 8), byte(h)}),
				StartTime: base.Add(time.Duration(seq) * time.Second),
				EndTime:   base.Add(time.Duration(seq+1) * time.Second),
				EventType: aggregate.EventType, ForwarderType: "zeek",
			})
		}
	}
	return out
}

// kafkaConsume reads the topic from the start until want records arrived,
// then keeps polling briefly to catch duplicates.
func kafkaConsume(t *testing.T, c *kfake.Cluster, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(kafkaTestTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(5 * time.Second)
	extra := time.Time{}
	for {
		if len(got) >= want && extra.IsZero() {
			extra = time.Now().Add(300 * time.Millisecond)
		}
		end := deadline
		if !extra.IsZero() {
			end = extra
		}
		if time.Now().After(end) {
			return got
		}
		ctx, cancel := context.WithDeadline(context.Background(), end)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				t.Fatalf("consuming: %v", e.Err)
			}
		}
		got = append(got, fs.Records()...)
	}
}

// checkDelivered checks that the consumed records are exactly the lines,
// each once, in order per key, keyed by the line's address.
func checkDelivered(t *testing.T, got []*kgo.Record, lines [][]byte) {
	t.Helper()
	if len(lines) == 0 {
		t.Fatal("no lines to check")
	}
	if len(got) != len(lines) {
		t.Errorf("consumed %d records, want %d", len(got), len(lines))
	}
	wantByKey := map[string][]string{}
	for _, l := range lines {
		a := jsonAddress(t, l)
		wantByKey[a] = append(wantByKey[a], string(l))
	}
	gotByKey := map[string][]string{}
	partOfKey := map[string]int32{}
	for _, r := range got {
		a := jsonAddress(t, r.Value)
		if string(r.Key) != a {
			t.Fatalf("record keyed %q carries address %q", r.Key, a)
		}
		if p, ok := partOfKey[a]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", a, p, r.Partition)
		}
		partOfKey[a] = r.Partition
		gotByKey[a] = append(gotByKey[a], string(r.Value))
	}
	if len(wantByKey) != len(gotByKey) {
		t.Errorf("%d keys consumed, want %d", len(gotByKey), len(wantByKey))
	}
	for k, want := range wantByKey {
		if g := gotByKey[k]; strings.Join(g, "") != strings.Join(want, "") {
			t.Errorf("key %s: consumed %d records differing from the %d written (order or content)", k, len(g), len(want))
		}
	}
}

// jsonAddress parses a json or dynamite line and returns its address.
func jsonAddress(t *testing.T, line []byte) string {
	t.Helper()
	var doc struct {
		Address string `json:"address"`
		Zeek    struct {
			Address string `json:"address"`
		} `json:"zeek"`
	}
	if err := json.Unmarshal(line, &doc); err != nil {
		t.Fatalf("record is not JSON: %v: %q", err, line)
	}
	if doc.Address != "" {
		return doc.Address
	}
	if doc.Zeek.Address == "" {
		t.Fatalf("record without an address: %q", line)
	}
	return doc.Zeek.Address
}

func encodeLines(enc Encoder, recs []aggregate.Interval) [][]byte {
	var lines [][]byte
	for i := range recs {
		lines = append(lines, bytes.TrimSuffix(enc.Append(nil, &recs[i]), []byte("\n")))
	}
	return lines
}

func TestRecordAddress(t *testing.T) {
	recs := sampleRecords()
	for _, f := range []Format{FormatJSON, FormatDynamite} {
		enc := NewEncoder(f, EncoderOptions{})
		for i := range recs {
			line := enc.Append(nil, &recs[i])
			if got, want := string(recordAddress(line)), recs[i].Address.String(); got != want {
				t.Errorf("%s record %d: key %q, want %q", f, i, got, want)
			}
		}
	}
	tests := []struct{ line, want string }{
		{`{"address":"1.2.3.4","x":1}`, "1.2.3.4"},
		{`{"node_ip_address":"9.9.9.9","zeek":{"address":"::1"}}`, "::1"},
		{`{"node":{"hostname":"\"address\":\"evil\""},"zeek":{"address":"10.1.1.1"}}`, "10.1.1.1"},
		{`{"address":""}`, ""},
		{`{"address":"unterminated`, ""},
		{`not json`, ""},
		{``, ""},
	}
	for _, tt := range tests {
		if got := string(recordAddress([]byte(tt.line))); got != tt.want {
			t.Errorf("recordAddress(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func FuzzRecordAddress(f *testing.F) {
	f.Add([]byte(`{"address":"1.2.3.4"}`))
	f.Add([]byte(`{"zeek":{"address":"::1"}}`))
	f.Add([]byte(`"address":"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		k := recordAddress(line)
		if k == nil {
			return
		}
		if len(k) == 0 || bytes.IndexByte(k, '"') >= 0 || !bytes.Contains(line, k) {
			t.Fatalf("key %q of %q", k, line)
		}
	})
}

func TestNewKafkaSinkRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  KafkaConfig
		want string
	}{
		{"zeek format", KafkaConfig{Brokers: []string{"b:9092"}, Topic: "t", Format: FormatZeek}, "zeek format"},
		{"no brokers", KafkaConfig{Brokers: []string{" "}, Topic: "t"}, "no brokers"},
		{"no topic", KafkaConfig{Brokers: []string{"b:9092"}}, "no topic"},
		{"compression", KafkaConfig{Brokers: []string{"b:9092"}, Topic: "t", Compression: "brotli"}, "compression"},
		{"sasl", KafkaConfig{Brokers: []string{"b:9092"}, Topic: "t", SASLMechanism: "kerberos"}, "SASL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewKafkaSink(tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
	for _, comp := range []string{"", "none", "snappy", "lz4", "zstd"} {
		s, err := NewKafkaSink(KafkaConfig{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Compression: comp, SASLMechanism: "plain"})
		if err != nil {
			t.Errorf("compression %q: %v", comp, err)
			continue
		}
		s.Close()
	}
}

// Every record of every window arrives exactly once, in order per key,
// keyed by its address, through emit.Writer.
func TestKafkaDelivery(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatDynamite} {
		t.Run(f.String(), func(t *testing.T) {
			c := newKafkaCluster(t)
			s := newTestKafkaSink(t, c, KafkaConfig{Format: f, Compression: "zstd"})
			w := NewWriter(s, NewEncoder(f, EncoderOptions{}))
			recs := kafkaIntervals(20, 30)
			for win := range 3 { // three windows of 200 records
				for i := win * 200; i < (win+1)*200; i++ {
					if err := w.WriteInterval(&recs[i]); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.EndWindow(time.Time{}, time.Time{}); err != nil {
					t.Fatalf("window %d: %v", win, err)
				}
				if st := s.Stats(); st.Produced != uint64((win+1)*200) || st.Buffered != 0 {
					t.Fatalf("after window %d Sync: %+v", win, st)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			st := s.Stats()
			if st.Produced != 600 || st.Failed != 0 || st.Unkeyed != 0 || st.Bytes == 0 {
				t.Errorf("stats %+v", st)
			}
			checkDelivered(t, kafkaConsume(t, c, len(recs)), encodeLines(NewEncoder(f, EncoderOptions{}), recs))
		})
	}
}

// Comment lines are skipped; a line without an address is produced
// unkeyed and counted.
func TestKafkaSkipsCommentsAndCountsUnkeyed(t *testing.T) {
	c := newKafkaCluster(t)
	s := newTestKafkaSink(t, c, KafkaConfig{})
	in := "#fields\taddress\n{\"address\":\"10.0.0.1\"}\n\n{\"other\":1}\n{\"address\":\"10.0.0.2\"}" // last line unterminated
	if n, err := s.Write([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Produced != 3 || st.Skipped != 1 || st.Unkeyed != 1 {
		t.Errorf("stats %+v, want 3 produced, 1 skipped, 1 unkeyed", st)
	}
	got := kafkaConsume(t, c, 3)
	if len(got) != 3 {
		t.Fatalf("consumed %d records, want 3", len(got))
	}
	keys := map[string]string{}
	for _, r := range got {
		keys[string(r.Value)] = string(r.Key)
	}
	if keys[`{"address":"10.0.0.1"}`] != "10.0.0.1" || keys[`{"address":"10.0.0.2"}`] != "10.0.0.2" || keys[`{"other":1}`] != "" {
		t.Errorf("records and keys: %q", keys)
	}
}

// Retriable broker errors are retried by kgo; with idempotent producing
// the records still arrive exactly once, also when the broker appended
// them before answering with the error. (NOT_ENOUGH_REPLICAS stalled kgo
// v1.22.3 until DeliveryTimeout without the metadata refresh in Sync.)
func TestKafkaRetriesBrokerErrors(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut, kerr.NotLeaderForPartition} {
		t.Run(e.Message, func(t *testing.T) {
			c := newKafkaCluster(t)
			h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafkaTestTopic, Err: e, Count: 3})
			s := newTestKafkaSink(t, c, KafkaConfig{DeliveryTimeout: 5 * time.Second})
			lines := encodeLines(NewEncoder(FormatJSON, EncoderOptions{}), kafkaIntervals(7, 10))
			if _, err := s.Write(append(bytes.Join(lines, []byte("\n")), '\n')); err != nil {
				t.Fatal(err)
			}
			if err := s.Sync(); err != nil {
				t.Fatalf("Sync after retries: %v", err)
			}
			if n := h.Hits(); n != 3 {
				t.Errorf("fault answered %d produce requests, want 3", n)
			}
			if st := s.Stats(); st.Produced != uint64(len(lines)) || st.Failed != 0 {
				t.Errorf("stats %+v", st)
			}
			checkDelivered(t, kafkaConsume(t, c, len(lines)), lines)
		})
	}
}

// Failures that do not heal surface from Sync, naming the topic and the
// brokers, within the configured timeouts; the failed records are counted.
func TestKafkaFailuresSurface(t *testing.T) {
	line := []byte(`{"address":"10.0.0.1"}` + "\n")
	tests := []struct {
		name  string
		topic string
		setup func(*kfake.Cluster)
		want  string
	}{
		{"missing topic", "no-such-topic", func(*kfake.Cluster) {}, "no-such-topic"},
		{"non-retriable error", kafkaTestTopic, func(c *kfake.Cluster) {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafkaTestTopic, Err: kerr.PolicyViolation, Count: -1})
		}, kerr.PolicyViolation.Message},
		{"cluster closed", kafkaTestTopic, func(c *kfake.Cluster) { c.Close() }, "brokers 127.0.0.1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newKafkaCluster(t)
			s := newTestKafkaSink(t, c, KafkaConfig{Topic: tt.topic, DeliveryTimeout: 1 * time.Second, SyncTimeout: 3 * time.Second})
			tt.setup(c)
			start := time.Now()
			if _, err := s.Write(bytes.Repeat(line, 5)); err != nil {
				t.Fatal(err)
			}
			err := s.Sync()
			t.Logf("Sync after %v: %v", time.Since(start).Round(time.Millisecond), err)
			if err == nil {
				t.Fatal("Sync succeeded")
			}
			for _, want := range []string{tt.want, fmt.Sprintf("topic %q", tt.topic), "brokers 127.0.0.1:"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q", want)
				}
			}
			st := s.Stats()
			if st.Failed+uint64(st.Buffered) != 5 || st.Produced != 0 {
				t.Errorf("stats %+v: want 5 records failed or still buffered", st)
			}
			if err := s.Close(); err == nil && st.Failed != 5 {
				t.Error("Close reported nothing for unacknowledged records")
			}
			if st := s.Stats(); st.Failed != 5 || st.Buffered != 0 {
				t.Errorf("after Close: stats %+v, want all 5 failed", st)
			}
		})
	}
}

func TestKafkaCheck(t *testing.T) {
	c := newKafkaCluster(t)
	if err := newTestKafkaSink(t, c, KafkaConfig{}).Check(context.Background()); err != nil {
		t.Errorf("existing topic: %v", err)
	}
	err := newTestKafkaSink(t, c, KafkaConfig{Topic: "absent"}).Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"absent"`) || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("absent topic: %v", err)
	}
}

// stallProduce makes the cluster hold every produce request until the
// returned release is called.
func stallProduce(c *kfake.Cluster) (release func()) {
	ch := make(chan struct{})
	var released atomic.Bool
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !released.Load() {
			c.SleepControl(func() { <-ch })
		}
		return nil, nil, false
	})
	return func() {
		if released.CompareAndSwap(false, true) {
			close(ch)
		}
	}
}

// With the broker stalled, Write blocks once MaxBufferedRecords are
// unacknowledged and resumes when the broker answers; nothing is lost.
func TestKafkaBackPressure(t *testing.T) {
	c := newKafkaCluster(t)
	release := stallProduce(c)
	defer release()
	s := newTestKafkaSink(t, c, KafkaConfig{MaxBufferedRecords: 4})
	lines := encodeLines(NewEncoder(FormatJSON, EncoderOptions{}), kafkaIntervals(5, 4))
	done := make(chan error, 1)
	go func() {
		_, err := s.Write(append(bytes.Join(lines, []byte("\n")), '\n'))
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	// Buffered counts the 4 records in the buffer and the one Write is
	// blocked on.
	for s.Stats().Buffered < 5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Write returned (%v) with the broker stalled and %d records buffered", err, s.Stats().Buffered)
	case <-time.After(300 * time.Millisecond):
	}
	if st := s.Stats(); st.Buffered != 5 || st.Produced != 0 {
		t.Fatalf("while stalled: stats %+v, want 4 buffered and 1 blocked", st)
	}
	release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write still blocked after the broker resumed")
	}
	if err := s.Sync(); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, kafkaConsume(t, c, len(lines)), lines)
}

// With WriteTimeout, a Write blocked on a full buffer gives up: the lines
// it could not hand over are counted failed and reported; the buffered
// ones are still delivered.
func TestKafkaWriteTimeout(t *testing.T) {
	c := newKafkaCluster(t)
	release := stallProduce(c)
	defer release()
	s := newTestKafkaSink(t, c, KafkaConfig{MaxBufferedRecords: 4, WriteTimeout: 200 * time.Millisecond})
	lines := encodeLines(NewEncoder(FormatJSON, EncoderOptions{}), kafkaIntervals(5, 4))
	p := append(bytes.Join(lines, []byte("\n")), '\n')
	n, err := s.Write(p)
	if err == nil || !strings.Contains(err.Error(), "buffer full") || n >= len(p) {
		t.Fatalf("Write = %d of %d, %v; want an error and a short count", n, len(p), err)
	}
	release()
	syncErr := s.Sync()
	if syncErr == nil {
		t.Error("Sync did not report the lines Write gave up on")
	}
	st := s.Stats()
	if st.Produced != 4 || st.Failed != uint64(len(lines)-4) {
		t.Errorf("stats %+v, want 4 produced and %d failed", st, len(lines)-4)
	}
	if got := kafkaConsume(t, c, 4); len(got) != 4 {
		t.Errorf("consumed %d records, want the 4 buffered", len(got))
	}
}

// Close flushes what was written without a Sync.
func TestKafkaCloseFlushes(t *testing.T) {
	c := newKafkaCluster(t)
	s := newTestKafkaSink(t, c, KafkaConfig{Compression: "lz4"})
	w := NewWriter(s, NewEncoder(FormatJSON, EncoderOptions{}))
	recs := kafkaIntervals(3, 50)
	for i := range recs {
		if err := w.WriteInterval(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Fresh() {
		t.Fatal("the Writer should still hold the records (below its flush threshold)")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Produced != uint64(len(recs)) || st.Buffered != 0 {
		t.Errorf("after Close: stats %+v", st)
	}
	if _, err := s.Write([]byte("{}\n")); err == nil {
		t.Error("Write after Close succeeded")
	}
	checkDelivered(t, kafkaConsume(t, c, len(recs)), encodeLines(NewEncoder(FormatJSON, EncoderOptions{}), recs))
}

func TestParseKafkaURL(t *testing.T) {
	tests := []struct {
		in      string
		brokers string
		topic   string
		comp    string
		tls     bool
		sasl    string
		wantErr string
	}{
		{in: "kafka://b1:9092,b2:9092/netbase", brokers: "b1:9092,b2:9092", topic: "netbase"},
		{in: "kafka://b1/t?compression=zstd&tls=true&sasl=scram-sha-512&user=nb&client_id=x", brokers: "b1", topic: "t", comp: "zstd", tls: true, sasl: "scram-sha-512"},
		{in: "kafka://[::1]:9092/t", brokers: "[::1]:9092", topic: "t"},
		{in: "kafka://b1", wantErr: "want kafka://"},
		{in: "kafka://b1/", wantErr: "want kafka://"},
		{in: "kafka:///t", wantErr: "no brokers"},
		{in: "kafka://b1/a/b", wantErr: "want kafka://"},
		{in: "http://b1/t", wantErr: "want kafka://"},
		{in: "kafka://b1/t?compression=gzip2", wantErr: "compression"},
		{in: "kafka://b1/t?tls=maybe", wantErr: "tls="},
		{in: "kafka://b1/t?password=x", wantErr: "unknown parameter"},
		{in: "kafka://b1/t?%zz", wantErr: "invalid URL escape"},
	}
	for _, tt := range tests {
		cfg, err := ParseKafkaURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want one mentioning %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := strings.Join(cfg.Brokers, ","); got != tt.brokers || cfg.Topic != tt.topic || cfg.Compression != tt.comp ||
			(cfg.TLS != nil) != tt.tls || cfg.SASLMechanism != tt.sasl {
			t.Errorf("%s: got %+v", tt.in, cfg)
		}
	}
}

// BenchmarkKafkaProduce produces json lines (500 per Write, 50 hosts) into
// an in-process cluster that discards them, syncing every 10,000 records.
// b.N counts records; the allocations include the in-process broker's.
func BenchmarkKafkaProduce(b *testing.B) {
	for _, comp := range []string{"none", "zstd"} {
		b.Run(comp, func(b *testing.B) {
			c := newKafkaCluster(b, kfake.BlackholeProduce())
			s := newTestKafkaSink(b, c, KafkaConfig{Compression: comp})
			recs := kafkaIntervals(50, 10)
			enc := NewEncoder(FormatJSON, EncoderOptions{})
			var p []byte
			for i := range recs {
				p = enc.Append(p, &recs[i])
			}
			b.SetBytes(int64(len(p)) / int64(len(recs)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += len(recs) {
				if _, err := s.Write(p); err != nil {
					b.Fatal(err)
				}
				if (i/len(recs))%20 == 19 {
					if err := s.Sync(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := s.Sync(); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(s.Stats().Produced)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

func FuzzParseKafkaURL(f *testing.F) {
	f.Add("kafka://b1:9092,b2/netbase?compression=lz4&tls=1")
	f.Add("kafka://,/t?sasl=plain&user=u")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseKafkaURL(s)
		if err != nil {
			return
		}
		if len(cfg.Brokers) == 0 || cfg.Topic == "" {
			t.Fatalf("%q parsed to %+v", s, cfg)
		}
	})
}
