package emit

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// KafkaConfig configures a KafkaSink.
type KafkaConfig struct {
	// Brokers are the seed brokers, host:port (port 9092 when omitted).
	Brokers []string
	// Topic receives every record.
	Topic string
	// ClientID is the Kafka client id (default "netbased").
	ClientID string
	// Format is the encoding the sink will receive. The zeek format is
	// rejected: its header and footer are not records and its lines carry
	// no JSON "address" to key on. (Lines starting with '#' are skipped
	// and counted regardless.)
	Format Format
	// Compression is none, snappy, lz4 or zstd ("" is none).
	Compression string
	// MaxBufferedRecords bounds the records produced but not yet
	// acknowledged (default 10000). When it is reached, Write blocks
	// until the brokers acknowledge older records: back-pressure on the
	// aggregator instead of drops.
	MaxBufferedRecords int
	// WriteTimeout bounds how long one Write may take, i.e. block on a
	// full buffer (0: block as long as it takes). When it expires, Write
	// fails the lines it could not hand over to the client and returns an
	// error; the lines it did hand over are still delivered or reported
	// by Sync.
	WriteTimeout time.Duration
	// ProduceTimeout is how long a broker may take to answer a produce
	// request (default 10s).
	ProduceTimeout time.Duration
	// DeliveryTimeout bounds how long kgo keeps retrying a record before
	// failing it (default 30s). With idempotent producing a record that
	// was sent but never answered cannot be failed safely; kgo keeps it
	// (it is never dropped) and SyncTimeout bounds the wait instead.
	DeliveryTimeout time.Duration
	// SyncTimeout bounds Sync and the flush in Close (default
	// DeliveryTimeout + ProduceTimeout).
	SyncTimeout time.Duration
	// TLS, when not nil, connects with TLS using this configuration.
	TLS *tls.Config
	// SASLMechanism is "", "plain", "scram-sha-256" or "scram-sha-512";
	// SASLUser and SASLPassword are its credentials.
	SASLMechanism string
	SASLUser      string
	SASLPassword  string
	// Opts are extra kgo options appended last (tests, tuning).
	Opts []kgo.Opt
}

// KafkaStats are a KafkaSink's counters, for Prometheus.
type KafkaStats struct {
	// Produced is the records the brokers acknowledged.
	Produced uint64
	// Failed is the records that failed definitively.
	Failed uint64
	// Bytes is the value bytes of the acknowledged records.
	Bytes uint64
	// Buffered is the records handed to the client, not yet finished.
	Buffered int64
	// Skipped is the comment lines ('#') that were not produced.
	Skipped uint64
	// Unkeyed is the records produced without a key because their line
	// had no "address" (they are spread over partitions).
	Unkeyed uint64
}

// KafkaSink produces every line written to it as one record on a Kafka
// topic, keyed by the record's address so that one host's records stay in
// order in one partition. Producing is idempotent with acks from all
// in-sync replicas; kgo retries. Sync waits until every record is
// acknowledged and reports the records that failed since the last Sync.
//
// Write, Sync, Fresh and Close are called by one goroutine at a time (as
// emit.Writer does); Stats may be called concurrently.
type KafkaSink struct {
	cl      *kgo.Client
	topic   string
	brokers string
	cfg     KafkaConfig

	produced, failed, bytes, skipped, unkeyed atomic.Uint64

	mu       sync.Mutex
	errCount uint64 // failures since the last Sync
	firstErr error  // the first of them

	promise func(*kgo.Record, error)
	wrote   bool
	closed  bool
}

var _ Sink = (*KafkaSink)(nil)

// Defaults of KafkaConfig.
const (
	defaultKafkaClientID        = "netbased"
	defaultKafkaBufferedRecords = 10000
	defaultKafkaProduceTimeout  = 10 * time.Second
	defaultKafkaDeliveryTimeout = 30 * time.Second
)

// NewKafkaSink returns a sink producing to cfg.Topic. It does not connect:
// the first records do (see Check for a start-up probe).
func NewKafkaSink(cfg KafkaConfig) (*KafkaSink, error) {
	if cfg.Format == FormatZeek {
		return nil, errors.New("kafka output: the zeek format is not supported, use json or dynamite")
	}
	var brokers []string
	for _, b := range cfg.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, errors.New("kafka output: no brokers given")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka output: no topic given")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = defaultKafkaClientID
	}
	if cfg.MaxBufferedRecords <= 0 {
		cfg.MaxBufferedRecords = defaultKafkaBufferedRecords
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = defaultKafkaProduceTimeout
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = defaultKafkaDeliveryTimeout
	}
	if cfg.SyncTimeout <= 0 {
		cfg.SyncTimeout = cfg.DeliveryTimeout + cfg.ProduceTimeout
	}
	codec, err := kafkaCompression(cfg.Compression)
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.ProducerBatchCompression(codec),
		kgo.ProduceRequestTimeout(cfg.ProduceTimeout),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		// Metadata and connection attempts give up within the delivery
		// timeout too, so a dead cluster surfaces as failed records.
		kgo.RetryTimeout(cfg.DeliveryTimeout),
	}
	if cfg.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(cfg.TLS))
	}
	if cfg.SASLMechanism != "" {
		m, err := kafkaSASL(cfg.SASLMechanism, cfg.SASLUser, cfg.SASLPassword)
		if err != nil {
			return nil, err
		}
		opts = append(opts, m)
	}
	opts = append(opts, cfg.Opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka output: %w", err)
	}
	s := &KafkaSink{cl: cl, topic: cfg.Topic, brokers: strings.Join(brokers, ","), cfg: cfg}
	s.promise = s.finish
	return s, nil
}

func kafkaCompression(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka output: compression %q: want none, snappy, lz4 or zstd", name)
}

func kafkaSASL(mechanism, user, pass string) (kgo.Opt, error) {
	switch strings.ToLower(mechanism) {
	case "plain":
		return kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()), nil
	case "scram-sha-256":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()), nil
	case "scram-sha-512":
		return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()), nil
	}
	return nil, fmt.Errorf("kafka output: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", mechanism)
}

// finish is every record's promise: it counts the outcome.
func (s *KafkaSink) finish(r *kgo.Record, err error) {
	if err == nil {
		s.produced.Add(1)
		s.bytes.Add(uint64(len(r.Value)))
		return
	}
	s.fail(1, err)
}

func (s *KafkaSink) fail(n uint64, err error) {
	s.failed.Add(n)
	s.mu.Lock()
	if s.errCount == 0 {
		s.firstErr = err
	}
	s.errCount += n
	s.mu.Unlock()
}

// takeErr returns the failures since the last call as one error.
func (s *KafkaSink) takeErr() error {
	s.mu.Lock()
	n, err := s.errCount, s.firstErr
	s.errCount, s.firstErr = 0, nil
	s.mu.Unlock()
	if n == 0 {
		return nil
	}
	return fmt.Errorf("kafka output: %d records to topic %q (brokers %s) failed, the first: %w", n, s.topic, s.brokers, err)
}

// Write produces every line of p (whole lines, one record each) as one
// record. It blocks while the client's buffer is full.
func (s *KafkaSink) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("kafka output: write after Close")
	}
	if len(p) == 0 {
		return 0, nil
	}
	s.wrote = true
	// kgo keeps the values until they are acknowledged, and the caller
	// reuses p: one copy serves all the records of this write.
	data := bytes.Clone(p)
	n := bytes.Count(data, []byte{'\n'})
	if data[len(data)-1] != '\n' {
		n++
	}
	recs := make([]kgo.Record, n)
	ctx := context.Background()
	if s.cfg.WriteTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.WriteTimeout)
		defer cancel()
	}
	i := 0
	for off := 0; off < len(data); {
		start := off
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
			off = len(data)
		} else {
			end += off
			off = end + 1
		}
		line := data[start:end]
		if len(line) == 0 {
			continue
		}
		if line[0] == '#' {
			s.skipped.Add(1)
			continue
		}
		if ctx.Err() != nil {
			// The buffer stayed full past WriteTimeout: fail the rest
			// of this write rather than block again for each line.
			err := s.blockedErr(ctx.Err())
			s.fail(countRecordLines(data[start:]), err)
			return start, err
		}
		r := &recs[i]
		i++
		r.Value = line
		r.Key = recordAddress(line)
		if r.Key == nil {
			s.unkeyed.Add(1)
		}
		// The record's own context must not carry WriteTimeout: kgo
		// would cancel buffered records with it.
		r.Context = context.Background()
		s.cl.Produce(ctx, r, s.promise)
	}
	if err := ctx.Err(); err != nil {
		return len(p), s.blockedErr(err)
	}
	return len(p), nil
}

func (s *KafkaSink) blockedErr(err error) error {
	return fmt.Errorf("kafka output: topic %q (brokers %s): buffer full for %s: %w", s.topic, s.brokers, s.cfg.WriteTimeout, err)
}

// countRecordLines counts the non-empty lines of b that are not comments.
func countRecordLines(b []byte) uint64 {
	var n uint64
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}

// recordAddress returns the value of the line's "address" key: the first
// key of a json line, under "zeek" in a dynamite line. The value is an IP
// address, which needs no JSON escapes. A string value cannot contain the
// pattern (its quotes are escaped), nor can a key ending in "address".
func recordAddress(line []byte) []byte {
	const jsonPrefix = `{"address":"`
	const key = `"address":"`
	var start int
	if bytes.HasPrefix(line, []byte(jsonPrefix)) {
		start = len(jsonPrefix)
	} else if i := bytes.Index(line, []byte(key)); i >= 0 {
		start = i + len(key)
	} else {
		return nil
	}
	end := bytes.IndexByte(line[start:], '"')
	if end <= 0 {
		return nil
	}
	return line[start : start+end : start+end]
}

// Sync waits until every record written so far is acknowledged or failed
// (at most SyncTimeout) and returns an error if any record failed since
// the last Sync, or if records are still unacknowledged. Unacknowledged
// records are not dropped: kgo keeps retrying them.
func (s *KafkaSink) Sync() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SyncTimeout)
	defer cancel()
	return s.flush(ctx)
}

// flushSlice is how long one kgo Flush call waits before Sync calls it
// again. Each call re-triggers draining every partition: kgo v1.22.3 can
// otherwise leave retried batches idle until the next record is produced
// (seen after a NOT_ENOUGH_REPLICAS answer: the idempotent epoch is bumped
// and nothing drains until DeliveryTimeout fails the records).
const flushSlice = 250 * time.Millisecond

func (s *KafkaSink) flush(ctx context.Context) error {
	var pending error
	if err := s.flushSliced(ctx); err != nil {
		pending = fmt.Errorf("kafka output: %d records to topic %q (brokers %s) not acknowledged after %s: %w",
			s.cl.BufferedProduceRecords(), s.topic, s.brokers, s.cfg.SyncTimeout, err)
	}
	return errors.Join(s.takeErr(), pending)
}

func (s *KafkaSink) flushSliced(ctx context.Context) error {
	for {
		slice, cancel := context.WithTimeout(ctx, flushSlice)
		err := s.cl.Flush(slice)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		s.cl.ForceMetadataRefresh()
	}
}

// Fresh reports whether nothing was written yet.
func (s *KafkaSink) Fresh() bool { return !s.wrote }

// Close flushes (at most SyncTimeout) and closes the client. Records that
// are still unacknowledged then fail and are reported.
func (s *KafkaSink) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.SyncTimeout)
	defer cancel()
	err := s.flush(ctx)
	s.cl.Close()
	// Close fails what is left; its promises run asynchronously.
	wait, cancelWait := context.WithTimeout(context.Background(), time.Second)
	defer cancelWait()
	s.cl.Flush(wait)
	return errors.Join(err, s.takeErr())
}

// Stats returns the sink's counters.
func (s *KafkaSink) Stats() KafkaStats {
	return KafkaStats{
		Produced: s.produced.Load(),
		Failed:   s.failed.Load(),
		Bytes:    s.bytes.Load(),
		Buffered: s.cl.BufferedProduceRecords(),
		Skipped:  s.skipped.Load(),
		Unkeyed:  s.unkeyed.Load(),
	}
}

// Check asks the brokers for the topic's metadata: a start-up probe that
// fails fast when the brokers are unreachable or the topic does not exist.
func (s *KafkaSink) Check(ctx context.Context) error {
	req := kmsg.NewPtrMetadataRequest()
	t := kmsg.NewMetadataRequestTopic()
	t.Topic = kmsg.StringPtr(s.topic)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, s.cl)
	if err != nil {
		return fmt.Errorf("kafka output: brokers %s: %w", s.brokers, err)
	}
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == s.topic {
			if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
				return fmt.Errorf("kafka output: topic %q (brokers %s): %w", s.topic, s.brokers, err)
			}
			return nil
		}
	}
	return fmt.Errorf("kafka output: topic %q (brokers %s): not in the metadata", s.topic, s.brokers)
}

// KafkaURLScheme starts an --out value that names a Kafka topic.
const KafkaURLScheme = "kafka://"

// ParseKafkaURL reads kafka://HOST[:PORT][,HOST[:PORT]...]/TOPIC[?QUERY]
// into a config. The query may set compression (none, snappy, lz4, zstd),
// client_id, tls (true: TLS with the system's roots), sasl (plain,
// scram-sha-256, scram-sha-512) and user; the SASL password is left to
// the caller (an environment variable or file, never the command line).
func ParseKafkaURL(s string) (KafkaConfig, error) {
	var cfg KafkaConfig
	rest, ok := strings.CutPrefix(s, KafkaURLScheme)
	if !ok {
		return cfg, fmt.Errorf("kafka output %q: want %sBROKER[,BROKER...]/TOPIC", s, KafkaURLScheme)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	hosts, topic, ok := strings.Cut(rest, "/")
	if !ok || topic == "" || strings.Contains(topic, "/") {
		return cfg, fmt.Errorf("kafka output %q: want %sBROKER[,BROKER...]/TOPIC", s, KafkaURLScheme)
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Brokers = append(cfg.Brokers, h)
		}
	}
	if len(cfg.Brokers) == 0 {
		return cfg, fmt.Errorf("kafka output %q: no brokers", s)
	}
	cfg.Topic = topic
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return cfg, fmt.Errorf("kafka output %q: %w", s, err)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "compression":
			if _, err := kafkaCompression(v); err != nil {
				return cfg, err
			}
			cfg.Compression = v
		case "client_id":
			cfg.ClientID = v
		case "tls":
			switch v {
			case "true", "1", "yes":
				cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
			case "false", "0", "no", "":
			default:
				return cfg, fmt.Errorf("kafka output %q: tls=%q: want true or false", s, v)
			}
		case "sasl":
			cfg.SASLMechanism = v
		case "user":
			cfg.SASLUser = v
		default:
			return cfg, fmt.Errorf("kafka output %q: unknown parameter %q (want compression, client_id, tls, sasl or user)", s, key)
		}
	}
	return cfg, nil
}
