package emit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
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

// newKafkaClient is a client of c, closed when the test ends.
func newKafkaClient(t testing.TB, c *kfake.Cluster) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// openKafka opens a Kafka output producing to brokers (the test topic by
// default), with short kgo timeouts.
func openKafka(t testing.TB, brokers []string, cfg KafkaConfig, opt OutputOptions) *Output {
	t.Helper()
	cfg.Brokers = brokers
	if cfg.Topic == "" {
		cfg.Topic = kafkaTestTopic
	}
	if cfg.DeliveryTimeout == 0 {
		cfg.DeliveryTimeout = 2 * time.Second
	}
	s, err := NewKafkaSink(cfg)
	if err != nil {
		t.Fatalf("NewKafkaSink: %v", err)
	}
	if opt.BackoffMin == 0 {
		opt.BackoffMin, opt.BackoffMax = time.Millisecond, 50*time.Millisecond
	}
	o, err := newOutput("kafka", Opened{Sink: s, Encoder: NewEncoder(cfg.Format, EncoderOptions{}), Destination: "kafka",
		MaxBatchDocs: 1000, Remote: true}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		o.Close(ctx)
	})
	return o
}

// kafkaConsume reads the topic from the start until want records arrived,
// then keeps polling briefly to catch duplicates.
func kafkaConsume(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(kafkaTestTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
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

// checkProduced checks that the consumed records are exactly the
// records' lines, each once, in order per key, keyed by address, one
// partition per key.
func checkProduced(t *testing.T, got []*kgo.Record, recs []aggregate.Interval, format Format) {
	t.Helper()
	enc := NewEncoder(format, EncoderOptions{})
	wantByKey := map[string][]string{}
	for i := range recs {
		a := recs[i].Address.String()
		wantByKey[a] = append(wantByKey[a], string(bytes.TrimSuffix(enc.Append(nil, &recs[i]), []byte("\n"))))
	}
	if len(got) != len(recs) {
		t.Errorf("consumed %d records, want %d", len(got), len(recs))
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
	for k, want := range wantByKey {
		if g := gotByKey[k]; strings.Join(g, "|") != strings.Join(want, "|") {
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
	return doc.Zeek.Address
}

// kafkaWindows returns windows windows of hosts records each.
func kafkaWindows(hosts, windows int) [][]aggregate.Interval {
	var out [][]aggregate.Interval
	for w := range windows {
		out = append(out, testRecords(hosts, esDay.Add(time.Duration(w)*time.Minute)))
	}
	return out
}

func TestKafkaOutputProducesEachRecordOnceKeyedByAddress(t *testing.T) {
	for _, format := range []Format{FormatJSON, FormatDynamite} {
		t.Run(format.String(), func(t *testing.T) {
			c := newKafkaCluster(t)
			o := openKafka(t, c.ListenAddrs(), KafkaConfig{Format: format}, OutputOptions{})
			var all []aggregate.Interval
			for _, recs := range kafkaWindows(40, 5) {
				writeWindow(t, o, recs)
				all = append(all, recs...)
			}
			flush(t, o)
			checkProduced(t, kafkaConsume(t, c.ListenAddrs(), len(all)), all, format)
			if st := o.Stats(); st.Delivered != uint64(len(all)) || st.DroppedTotal() != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// The registry opens kafka:// URLs; the URL's user and password become
// SASL credentials (not a broker name).
func TestKafkaOutputThroughTheRegistry(t *testing.T) {
	c := newKafkaCluster(t)
	dest := "kafka://" + strings.Join(c.ListenAddrs(), ",") + "/" + kafkaTestTopic
	o, err := DefaultRegistry().Open(context.Background(), dest, OpenParams{Format: FormatJSON}, OutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	recs := testRecords(25, esDay)
	writeWindow(t, o, recs)
	if err := o.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkProduced(t, kafkaConsume(t, c.ListenAddrs(), len(recs)), recs, FormatJSON)
	if o.Kind() != "kafka" {
		t.Errorf("kind %q", o.Kind())
	}
}

// Transient broker errors are retried (by kgo, then the output), and the
// idempotent producer writes each record once.
func TestKafkaOutputRetriesBrokerErrors(t *testing.T) {
	for _, e := range []*kerr.Error{kerr.NotEnoughReplicas, kerr.RequestTimedOut, kerr.NotLeaderForPartition} {
		t.Run(e.Message, func(t *testing.T) {
			c := newKafkaCluster(t)
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: kafkaTestTopic, Err: e, Count: 3})
			o := openKafka(t, c.ListenAddrs(), KafkaConfig{}, OutputOptions{})
			recs := testRecords(70, esDay)
			writeWindow(t, o, recs)
			flush(t, o)
			checkProduced(t, kafkaConsume(t, c.ListenAddrs(), len(recs)), recs, FormatJSON)
		})
	}
}

// A record the brokers refuse as too large is dropped and counted, the
// others go through.
func TestKafkaOutputTooLargeIsRejected(t *testing.T) {
	c := newKafkaCluster(t, kfake.BrokerConfigs(map[string]string{"message.max.bytes": "4000"}))
	o := openKafka(t, c.ListenAddrs(), KafkaConfig{}, OutputOptions{})
	recs := testRecords(5, esDay)
	big := recs[2]
	for i := range 400 {
		big.ExternalHosts = append(big.ExternalHosts, testRecords(400, esDay)[i].Address)
	}
	big.ExternalHostCount = uint64(len(big.ExternalHosts))
	big.Address = testRecords(300, esDay)[299].Address
	// One window: the small records, then the big one alone in a batch.
	writeWindow(t, o, recs)
	flush(t, o)
	writeWindow(t, o, []aggregate.Interval{big})
	flush(t, o)
	st := o.Stats()
	if st.Delivered != 5 || st.Dropped[DropRejected] != 1 {
		t.Errorf("stats %+v: want 5 delivered, 1 rejected", st)
	}
	if h := o.Health(); h.State != StateDropping || !errors.Is(h.Err, kerr.MessageTooLarge) {
		t.Errorf("health %v %v", h.State, h.Err)
	}
}

// A cluster that goes away: records wait in the spool; the cluster back
// on the same port after a restart gets every record once.
func TestKafkaOutputClusterDownSpoolsAndDeliversAfterRestart(t *testing.T) {
	addr := freePort(t)
	_, portText, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portText)
	spool := t.TempDir()
	opt := OutputOptions{SpoolDir: spool}
	o := openKafka(t, []string{addr}, KafkaConfig{DeliveryTimeout: time.Second}, opt)
	var all []aggregate.Interval
	for _, recs := range kafkaWindows(30, 3) {
		writeWindow(t, o, recs)
		all = append(all, recs...)
	}
	waitFor(t, "spooling", func() bool { return o.Health().State == StateSpooling })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	began := time.Now()
	o.Close(ctx)
	cancel()
	took := time.Since(began)
	t.Logf("Close with a 300ms deadline returned after %v", took)
	if took > 5*time.Second {
		t.Errorf("Close took %v with a 300ms deadline", took)
	}

	c := newKafkaCluster(t, kfake.Ports(port))
	o2 := openKafka(t, c.ListenAddrs(), KafkaConfig{}, opt)
	if st := o2.Stats(); st.Replayed != uint64(len(all)) {
		t.Errorf("replayed %d, want %d", st.Replayed, len(all))
	}
	flush(t, o2)
	checkProduced(t, kafkaConsume(t, c.ListenAddrs(), len(all)), all, FormatJSON)
}

func TestNewKafkaSinkRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  KafkaConfig
		want string
	}{
		{"zeek format", KafkaConfig{Brokers: []string{"b"}, Topic: "t", Format: FormatZeek}, "zeek format"},
		{"no brokers", KafkaConfig{Topic: "t"}, "no brokers"},
		{"no topic", KafkaConfig{Brokers: []string{"b"}}, "no topic"},
		{"compression", KafkaConfig{Brokers: []string{"b"}, Topic: "t", Compression: "gzip9"}, "compression"},
		{"sasl", KafkaConfig{Brokers: []string{"b"}, Topic: "t", SASLMechanism: "gssapi"}, "SASL mechanism"},
	} {
		s, err := NewKafkaSink(tc.cfg)
		if err == nil {
			s.Close()
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestKafkaCheck(t *testing.T) {
	c := newKafkaCluster(t)
	sink := func(topic string) *KafkaSink {
		s, err := NewKafkaSink(KafkaConfig{Brokers: c.ListenAddrs(), Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	if err := sink(kafkaTestTopic).Check(context.Background()); err != nil {
		t.Errorf("existing topic: %v", err)
	}
	err := sink("absent").Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"absent"`) || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("absent topic: %v", err)
	}
}

func TestParseKafkaURL(t *testing.T) {
	tests := []struct {
		in         string
		brokers    string
		topic      string
		comp       string
		tls        bool
		sasl       string
		user, pass string
		wantErr    string
	}{
		{in: "kafka://b1:9092,b2:9092/netbase", brokers: "b1:9092,b2:9092", topic: "netbase"},
		{in: "kafka://b1/t?compression=zstd&tls=true&sasl=scram-sha-512&user=nb&client_id=x", brokers: "b1", topic: "t",
			comp: "zstd", tls: true, sasl: "scram-sha-512", user: "nb"},
		{in: "kafka://[::1]:9092/t", brokers: "[::1]:9092", topic: "t"},
		{in: "kafka://user:S3cretPW@host/topic", brokers: "host", topic: "topic", sasl: "plain", user: "user", pass: "S3cretPW"},
		{in: "kafka://u:p%40ss@h1,h2:9093/t?sasl=scram-sha-256", brokers: "h1,h2:9093", topic: "t", sasl: "scram-sha-256", user: "u", pass: "p@ss"},
		{in: "kafka://alice@h/t", brokers: "h", topic: "t", sasl: "plain", user: "alice"},
		{in: "kafka://b1", wantErr: "want kafka://"},
		{in: "kafka://b1/", wantErr: "want kafka://"},
		{in: "kafka:///t", wantErr: "no brokers"},
		{in: "kafka://b1/a/b", wantErr: "want kafka://"},
		{in: "http://b1/t", wantErr: "want kafka://"},
		{in: "kafka://b1/t?compression=gzip2", wantErr: "compression"},
		{in: "kafka://b1/t?tls=maybe", wantErr: "tls="},
		{in: "kafka://b1/t?password=x", wantErr: "secrets go in $NETBASED_KAFKA_PASSWORD"},
		{in: "kafka://b1/t?colour=x", wantErr: "unknown parameter"},
		{in: "kafka://b1/t?%zz", wantErr: "malformed query"},
		{in: "kafka://:pw@b1/t", wantErr: "empty SASL user"},
		{in: "kafka://u:%zz@b1/t", wantErr: "malformed %-escape"},
	}
	for _, tt := range tests {
		cfg, err := ParseKafkaURL(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadOutput) {
				t.Errorf("%s: error %v, want a bad output setting mentioning %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if got := strings.Join(cfg.Brokers, ","); got != tt.brokers || cfg.Topic != tt.topic || cfg.Compression != tt.comp ||
			(cfg.TLS != nil) != tt.tls || cfg.SASLMechanism != tt.sasl || cfg.SASLUser != tt.user || cfg.SASLPassword != tt.pass {
			t.Errorf("%s: got %+v", tt.in, cfg)
		}
	}
}

func FuzzParseKafkaURL(f *testing.F) {
	f.Add("kafka://b1:9092,b2/netbase?compression=lz4&tls=1")
	f.Add("kafka://,/t?sasl=plain&user=u")
	f.Add("kafka://u:pw@h/t?password=pw2")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseKafkaURL(s)
		if err != nil {
			for _, secret := range []string{cfg.SASLPassword, secretOf(s)} {
				if len(secret) >= 3 && strings.Contains(err.Error(), secret) {
					t.Fatalf("%q: the error shows the secret %q: %v", s, secret, err)
				}
			}
			return
		}
		if len(cfg.Brokers) == 0 || cfg.Topic == "" {
			t.Fatalf("%q parsed to %+v", s, cfg)
		}
		for _, b := range cfg.Brokers {
			if strings.Contains(b, "@") {
				t.Fatalf("%q: broker %q holds credentials", s, b)
			}
		}
	})
}

// secretOf returns the password of a kafka:// URL's userinfo, as the
// parser reads it, unescaped or not ("" if none).
func secretOf(s string) string {
	rest, ok := strings.CutPrefix(s, KafkaURLScheme)
	if !ok {
		return ""
	}
	rest, _, _ = strings.Cut(rest, "?")
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	_, pass, _ := strings.Cut(rest[:at], ":")
	return pass
}

// BenchmarkKafkaOutput produces json records through an Output into an
// in-process cluster that discards them; b.N counts records (the
// allocations include the in-process broker's).
func BenchmarkKafkaOutput(b *testing.B) {
	c := newKafkaCluster(b, kfake.BlackholeProduce())
	o := openKafka(b, c.ListenAddrs(), KafkaConfig{}, OutputOptions{Policy: Block})
	recs := testRecords(500, esDay)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := o.WriteInterval(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		if i%len(recs) == len(recs)-1 {
			o.EndWindow(recs[0].StartTime, recs[0].EndTime)
		}
	}
	flush(b, o)
	b.ReportMetric(float64(o.Stats().Delivered)/b.Elapsed().Seconds(), "records/s")
}
