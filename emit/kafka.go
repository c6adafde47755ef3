package emit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	// Format is the encoding of the records: json, dynamite, or
	// clickhouse (rows for ClickHouse's Kafka engine). The zeek format is
	// rejected: its lines are not documents.
	Format Format
	// Compression is none, snappy, lz4 or zstd ("" is none).
	Compression string
	// MaxBufferedRecords bounds the records handed to the client and not
	// yet acknowledged, hence one Deliver's batch (default 10000).
	MaxBufferedRecords int
	// ProduceTimeout is how long a broker may take to answer a produce
	// request (default 10s).
	ProduceTimeout time.Duration
	// DeliveryTimeout bounds how long kgo keeps retrying a record within
	// one Deliver before failing it (default 10s); the Output retries
	// after that, with backoff, and reports the failure in its health.
	DeliveryTimeout time.Duration
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

// KafkaStats are a KafkaSink's counters (the Output counts records).
type KafkaStats struct {
	// Produced is the records the brokers acknowledged.
	Produced uint64
	// Bytes is the value bytes of the acknowledged records.
	Bytes uint64
}

// KafkaSink produces every document as one record on a Kafka topic, keyed
// by the record's address so that one host's records stay in order in one
// partition; the value is the document's body without its newline.
// Producing is idempotent with acks from all in-sync replicas; kgo retries
// within DeliveryTimeout, the Output after it.
type KafkaSink struct {
	cl      *kgo.Client
	topic   string
	brokers string
	cfg     KafkaConfig

	recs    []kgo.Record
	ptrs    []*kgo.Record
	keys    []byte
	keyEnds []int
	bytes   atomic.Uint64
	prod    atomic.Uint64
}

var _ Sink = (*KafkaSink)(nil)

// Defaults of KafkaConfig.
const (
	defaultKafkaClientID        = "netbased"
	defaultKafkaBufferedRecords = 10000
	defaultKafkaProduceTimeout  = 10 * time.Second
	defaultKafkaDeliveryTimeout = 10 * time.Second
)

// NewKafkaSink returns a sink producing to cfg.Topic. It does not connect:
// the first records do (see Check for a start-up probe).
func NewKafkaSink(cfg KafkaConfig) (*KafkaSink, error) {
	if !isLineFormat(cfg.Format) {
		return nil, badOutput("kafka output: the %s format is not supported, use json or dynamite", cfg.Format)
	}
	var brokers []string
	for _, b := range cfg.Brokers {
		if b = strings.TrimSpace(b); b != "" {
			brokers = append(brokers, b)
		}
	}
	if len(brokers) == 0 {
		return nil, badOutput("kafka output: no brokers given")
	}
	if cfg.Topic == "" {
		return nil, badOutput("kafka output: no topic given")
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
	return &KafkaSink{cl: cl, topic: cfg.Topic, brokers: strings.Join(brokers, ","), cfg: cfg}, nil
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
	return kgo.CompressionCodec{}, badOutput("kafka output: compression %q: want none, snappy, lz4 or zstd", name)
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
	return nil, badOutput("kafka output: SASL mechanism %q: want plain, scram-sha-256 or scram-sha-512", mechanism)
}

// Deliver produces docs and waits until the brokers acknowledged each or
// kgo gave up on it. A record too large for the brokers is a permanent
// failure; others are retried by the Output.
func (s *KafkaSink) Deliver(ctx context.Context, docs []Document) error {
	if cap(s.recs) < len(docs) {
		s.recs = make([]kgo.Record, len(docs))
		s.ptrs = make([]*kgo.Record, len(docs))
	}
	recs, ptrs := s.recs[:len(docs)], s.ptrs[:len(docs)]
	keys, ends := s.keys[:0], s.keyEnds[:0]
	for i := range docs {
		keys = docs[i].Address.AppendTo(keys)
		ends = append(ends, len(keys))
	}
	off := 0
	for i := range docs {
		end := ends[i]
		recs[i] = kgo.Record{Key: keys[off:end:end], Value: trimNewline(docs[i].Body), Context: ctx}
		ptrs[i] = &recs[i]
		off = end
	}
	s.keys, s.keyEnds = keys[:0], ends[:0]
	// Flush alongside: it makes kgo drain retried batches at once (see
	// flushSlice).
	fctx, stopFlush := context.WithCancel(ctx)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		s.flushSliced(fctx)
	}()
	results := s.cl.ProduceSync(ctx, ptrs...)
	stopFlush()
	<-flushed
	var pe *PartialError
	for i, r := range results {
		if r.Err == nil {
			s.prod.Add(1)
			s.bytes.Add(uint64(len(recs[i].Value)))
			continue
		}
		if pe == nil {
			pe = &PartialError{}
		}
		err := fmt.Errorf("kafka output: topic %q (brokers %s): record of %s: %w", s.topic, s.brokers, docs[i].Address, r.Err)
		if errors.Is(r.Err, kerr.MessageTooLarge) || errors.Is(r.Err, kerr.RecordListTooLarge) || errors.Is(r.Err, kerr.InvalidRecord) {
			err = Permanent(err)
		}
		pe.Failed = append(pe.Failed, DocError{Index: i, Err: err})
	}
	clear(recs) // drop the references to the bodies
	if pe == nil {
		return nil
	}
	if len(pe.Failed) == len(docs) && !IsPermanent(pe.Failed[0].Err) {
		return pe.Failed[0].Err
	}
	return pe
}

// flushSlice is how long one kgo Flush call waits before flushSliced calls
// it again. Each call re-triggers draining every partition: kgo v1.22.3 can
// otherwise leave retried batches idle until the next record is produced
// (seen after a NOT_ENOUGH_REPLICAS answer: the idempotent epoch is bumped
// and nothing drains until DeliveryTimeout fails the records).
const flushSlice = 250 * time.Millisecond

// flushSliced calls Flush in slices of flushSlice until it succeeds or ctx
// ends, refreshing the metadata between slices.
func (s *KafkaSink) flushSliced(ctx context.Context) {
	for {
		slice, cancel := context.WithTimeout(ctx, flushSlice)
		err := s.cl.Flush(slice)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		s.cl.ForceMetadataRefresh()
	}
}

// Close closes the client (Deliver already waited for its records).
func (s *KafkaSink) Close() error {
	s.cl.Close()
	return nil
}

// Stats returns the sink's counters.
func (s *KafkaSink) Stats() KafkaStats {
	return KafkaStats{Produced: s.prod.Load(), Bytes: s.bytes.Load()}
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

// kafkaScheme is the URL scheme of Kafka destinations.
const kafkaScheme = "kafka"

// KafkaURLScheme starts an --out value that names a Kafka topic.
const KafkaURLScheme = kafkaScheme + "://"

// KafkaPasswordEnv names the environment variable that may hold the SASL
// password (it overrides one in the URL).
const KafkaPasswordEnv = "NETBASED_KAFKA_PASSWORD"

// kafkaKind produces records to a Kafka topic:
// kafka://[user[:password]@]broker[,broker…]/topic[?…].
func kafkaKind() Kind {
	return Kind{Name: "kafka", Schemes: []string{kafkaScheme}, Open: func(_ context.Context, dest string, p OpenParams) (Opened, error) {
		cfg, err := ParseKafkaURL(dest)
		if err != nil {
			return Opened{}, err
		}
		cfg.Format = p.Format
		if pass := p.getenv(KafkaPasswordEnv); pass != "" {
			cfg.SASLPassword = pass
		}
		if p.ConfigureKafka != nil {
			if err := p.ConfigureKafka(&cfg); err != nil {
				return Opened{}, err
			}
		}
		s, err := NewKafkaSink(cfg)
		if err != nil {
			return Opened{}, err
		}
		return Opened{Sink: s, Encoder: NewEncoder(p.Format, p.Encoder), Destination: Redact(dest),
			MaxBatchDocs: min(s.cfg.MaxBufferedRecords, defaultBatchDocs), Remote: true}, nil
	}}
}

// ParseKafkaURL reads kafka://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...]/TOPIC[?QUERY]
// into a config. USER and PASSWORD are SASL credentials (percent-encoded;
// the mechanism defaults to plain); the password is better left to
// $NETBASED_KAFKA_PASSWORD than written on a command line. The query may
// set compression (none, snappy, lz4, zstd), client_id, tls (true: TLS
// with the system's roots), sasl (plain, scram-sha-256, scram-sha-512),
// user and delivery_timeout (a duration, default 10s). Errors never show
// the password.
func ParseKafkaURL(s string) (KafkaConfig, error) {
	var cfg KafkaConfig
	shown := Redact(s)
	usage := func() error {
		return badOutput("kafka output %s: want %s[USER@]BROKER[,BROKER...]/TOPIC", shown, KafkaURLScheme)
	}
	rest, ok := strings.CutPrefix(s, KafkaURLScheme)
	if !ok {
		return cfg, usage()
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, pass, hasPass := strings.Cut(rest[:at], ":")
		var uerr, perr error
		cfg.SASLUser, uerr = url.PathUnescape(user)
		if hasPass {
			cfg.SASLPassword, perr = url.PathUnescape(pass)
		}
		if uerr != nil || perr != nil {
			return KafkaConfig{}, badOutput("kafka output %s: malformed %%-escape in the credentials", shown)
		}
		if cfg.SASLUser == "" {
			return KafkaConfig{}, badOutput("kafka output %s: empty SASL user", shown)
		}
		cfg.SASLMechanism = "plain"
		rest = rest[at+1:]
	}
	hosts, topic, ok := strings.Cut(rest, "/")
	if !ok || topic == "" || strings.Contains(topic, "/") {
		return KafkaConfig{}, usage()
	}
	for _, h := range strings.Split(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			cfg.Brokers = append(cfg.Brokers, h)
		}
	}
	if len(cfg.Brokers) == 0 {
		return KafkaConfig{}, badOutput("kafka output %s: no brokers", shown)
	}
	cfg.Topic = topic
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// The parser's message quotes the bad text: it may be a secret.
		return KafkaConfig{}, badOutput("kafka output %s: malformed query", shown)
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "compression":
			if _, err := kafkaCompression(v); err != nil {
				return KafkaConfig{}, err
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
				return KafkaConfig{}, badOutput("kafka output %s: tls=%q: want true or false", shown, v)
			}
		case "sasl":
			if _, err := kafkaSASL(v, "", ""); err != nil {
				return KafkaConfig{}, err
			}
			cfg.SASLMechanism = v
		case "user":
			cfg.SASLUser = v
		case "delivery_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return KafkaConfig{}, badOutput("kafka output %s: delivery_timeout=%q: want a duration of at least 1s", shown, v)
			}
			cfg.DeliveryTimeout = d
		default:
			if secretParam(key) {
				return KafkaConfig{}, badOutput("kafka output %s: parameter %q: secrets go in $%s, not in the URL",
					shown, key, KafkaPasswordEnv)
			}
			return KafkaConfig{}, badOutput("kafka output %s: unknown parameter %q (want compression, client_id, tls, sasl, user or delivery_timeout)", shown, key)
		}
	}
	return cfg, nil
}
