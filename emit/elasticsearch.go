package emit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultElasticsearchIndex is the index pattern used when none is given:
// one index per UTC day of the window's end.
const DefaultElasticsearchIndex = "netbase-%Y.%m.%d"

// ElasticsearchConfig configures an ElasticsearchSink. Zero values take the
// defaults named in each field's comment.
type ElasticsearchConfig struct {
	// URLs are the Elasticsearch nodes, e.g. "http://localhost:9200"
	// (required). Requests are spread over them; a failed request is
	// retried on the next one.
	URLs []string
	// Username and Password are HTTP basic-auth credentials (optional).
	Username, Password string
	// APIKey is a base64-encoded API key; it overrides Username/Password.
	APIKey string
	// Index is the index name, or a pattern with %Y (year), %m (month),
	// %d (day), %H (hour) and %% taken from the document's window end in
	// UTC (json: end_time, dynamite: @timestamp). Default
	// DefaultElasticsearchIndex. It must be a valid lowercase index name.
	Index string
	// Format is the encoding of the lines written to the sink: FormatJSON
	// or FormatDynamite. FormatZeek is not a document format and is
	// rejected.
	Format Format
	// FlushBytes sends a bulk request once this many bytes (actions and
	// documents) are buffered (default 5 MiB).
	FlushBytes int
	// FlushDocs sends a bulk request once this many documents are buffered
	// (default 5000).
	FlushDocs int
	// Workers is the number of bulk requests in flight at once (default 1).
	Workers int
	// QueueBatches is the number of full batches that may wait for a
	// worker; when the queue is full, Write blocks (default 4). Memory is
	// bounded by about (Workers+QueueBatches+1)×FlushBytes.
	QueueBatches int
	// MaxRetries is the number of times a failed request or document is
	// sent again before it counts as failed (default 8; negative: never
	// retry).
	MaxRetries int
	// MaxRetryTime bounds the time spent retrying one batch (default 5 min;
	// negative: no bound other than MaxRetries).
	MaxRetryTime time.Duration
	// BackoffMin and BackoffMax bound the exponential backoff between
	// retries (defaults 100 ms and 30 s); each wait is jittered between
	// half and all of min(BackoffMax, BackoffMin×2^attempt).
	BackoffMin, BackoffMax time.Duration
	// RequestTimeout bounds one bulk request (default 30 s).
	RequestTimeout time.Duration
	// CAFile is a PEM file of certificate authorities to trust for https
	// (optional; default: the system pool).
	CAFile string
	// InsecureSkipVerify disables TLS certificate verification.
	InsecureSkipVerify bool
	// DocumentIDs gives every document an _id derived from its content, so
	// a document re-sent after an ambiguous failure (a timeout after
	// Elasticsearch indexed it) overwrites itself instead of duplicating.
	// Costs some indexing speed on the Elasticsearch side.
	DocumentIDs bool
	// Transport replaces the HTTP transport (tests; CAFile and
	// InsecureSkipVerify are then ignored).
	Transport http.RoundTripper
	// Now is the clock used when a document carries no window time
	// (default time.Now).
	Now func() time.Time
}

// ElasticsearchStats are the sink's counters, for Prometheus.
type ElasticsearchStats struct {
	// Documents is the number of documents Elasticsearch acknowledged.
	Documents uint64
	// Retried is the number of document re-sends (one document retried
	// twice counts 2).
	Retried uint64
	// Failed is the number of documents that definitively failed (rejected
	// by Elasticsearch, e.g. a mapping error, or still failing at the retry
	// limit), and lines that were not JSON objects.
	Failed uint64
	// BulkRequests is the number of bulk requests made, retries included.
	BulkRequests uint64
	// FailedRequests is the number of bulk requests that failed as a whole
	// (connection error, timeout, HTTP 429 or 5xx, or another HTTP error).
	FailedRequests uint64
	// Pending is the number of documents buffered or in flight: neither
	// acknowledged nor failed yet.
	Pending int64
}

// ElasticsearchSink is a Sink that indexes each written line (one JSON
// document, as the json or dynamite encoder writes it) into Elasticsearch
// with the _bulk API. Documents are batched and sent when a batch is full,
// at Sync and at Close; Write blocks while the queue of batches is full.
// Failed requests and documents (connection errors, HTTP 429 and 5xx) are
// retried with jittered exponential backoff; documents Elasticsearch
// rejects (other 4xx, e.g. mapping errors) are not retried. Sync returns
// when every document written before it is acknowledged or definitively
// failed, with an error describing the failures since the previous Sync.
type ElasticsearchSink struct {
	cfg    ElasticsearchConfig
	client *esBulkClient
	urls   string // the node URLs without credentials, for messages
	index  indexPattern
	idle   interface{ CloseIdleConnections() }

	// Writer side, guarded by wmu.
	wmu       sync.Mutex
	cur       *esBatch
	partial   []byte // an incomplete last line, completed by the next Write
	wrote     bool
	closed    bool
	lastStamp string // the hour stamp of lastIndex ("2006-01-02T15")
	lastIndex string

	queue   chan *esBatch
	free    chan *esBatch // sent batches, for reuse
	workers sync.WaitGroup

	// Completion state, guarded by mu.
	mu        sync.Mutex
	done      *sync.Cond
	inflight  int     // batches queued or being sent
	errs      []error // failures since the last Sync (first maxReportedErrors)
	errsTotal int

	documents, retried, failed, requests, failedRequests atomic.Uint64
	pending                                              atomic.Int64
}

// maxReportedErrors caps the errors kept for one Sync; the rest are counted.
const maxReportedErrors = 10

// esBatch is a bulk request body: for every document an action line and
// a source line, at item spans of buf.
type esBatch struct {
	buf   []byte
	items []esSpan
}

type esSpan struct{ start, end int }

// NewElasticsearchSink validates cfg and returns a sink with its workers
// started. It does not contact Elasticsearch: an unreachable server shows
// as errors from Sync once the retries are used up.
func NewElasticsearchSink(cfg ElasticsearchConfig) (*ElasticsearchSink, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	idx, err := parseIndexPattern(cfg.Index)
	if err != nil {
		return nil, err
	}
	redacted := make([]string, len(cfg.URLs))
	for i, raw := range cfg.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("elasticsearch: URL %q: want http://host:port or https://host:port", raw)
		}
		if u.User != nil && cfg.Username == "" && cfg.APIKey == "" {
			cfg.Username = u.User.Username()
			cfg.Password, _ = u.User.Password()
		}
		u.User = nil
		redacted[i] = u.String()
	}
	s := &ElasticsearchSink{cfg: cfg, urls: strings.Join(redacted, ","), index: idx}
	transport, err := cfg.transport()
	if err != nil {
		return nil, err
	}
	if c, ok := transport.(interface{ CloseIdleConnections() }); ok {
		s.idle = c
	}
	s.client = newESBulkClient(transport, redacted, cfg.Username, cfg.Password, cfg.APIKey)
	s.done = sync.NewCond(&s.mu)
	s.queue = make(chan *esBatch, cfg.QueueBatches)
	s.free = make(chan *esBatch, cfg.QueueBatches+cfg.Workers+1)
	s.cur = s.newBatch()
	s.workers.Add(cfg.Workers)
	for range cfg.Workers {
		go s.work()
	}
	return s, nil
}

// transport is cfg.Transport, or an HTTP transport with cfg's TLS settings.
func (cfg *ElasticsearchConfig) transport() (http.RoundTripper, error) {
	if cfg.Transport != nil {
		return cfg.Transport, nil
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = cfg.Workers + 1
	tc := &tls.Config{InsecureSkipVerify: cfg.InsecureSkipVerify} //nolint:gosec // opt-in by the operator
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("elasticsearch: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	ht.TLSClientConfig = tc
	return ht, nil
}

func (cfg *ElasticsearchConfig) setDefaults() error {
	if len(cfg.URLs) == 0 {
		return errors.New("elasticsearch: no URL given")
	}
	switch cfg.Format {
	case FormatJSON, FormatDynamite:
	default:
		return fmt.Errorf("elasticsearch: format %s is not supported (want json or dynamite)", cfg.Format)
	}
	if cfg.Index == "" {
		cfg.Index = DefaultElasticsearchIndex
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.FlushBytes, 5<<20)
	def(&cfg.FlushDocs, 5000)
	def(&cfg.Workers, 1)
	def(&cfg.QueueBatches, 4)
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 8
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&cfg.MaxRetryTime, 5*time.Minute)
	defDur(&cfg.BackoffMin, 100*time.Millisecond)
	defDur(&cfg.BackoffMax, 30*time.Second)
	defDur(&cfg.RequestTimeout, 30*time.Second)
	if cfg.BackoffMin < 0 || cfg.BackoffMax < cfg.BackoffMin || cfg.RequestTimeout < 0 {
		return errors.New("elasticsearch: want 0 <= BackoffMin <= BackoffMax and RequestTimeout >= 0")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return nil
}

// newBatch returns an empty batch, reusing a sent one when there is one.
func (s *ElasticsearchSink) newBatch() *esBatch {
	select {
	case b := <-s.free:
		return b
	default:
	}
	n := s.cfg.FlushBytes + s.cfg.FlushBytes/8
	if n > 8<<20 {
		n = 8 << 20
	}
	return &esBatch{buf: make([]byte, 0, n), items: make([]esSpan, 0, min(s.cfg.FlushDocs, 1<<14))}
}

// URLs are the node URLs, without credentials.
func (s *ElasticsearchSink) URLs() string { return s.urls }

// Stats returns the sink's counters.
func (s *ElasticsearchSink) Stats() ElasticsearchStats {
	return ElasticsearchStats{
		Documents:      s.documents.Load(),
		Retried:        s.retried.Load(),
		Failed:         s.failed.Load(),
		BulkRequests:   s.requests.Load(),
		FailedRequests: s.failedRequests.Load(),
		Pending:        s.pending.Load(),
	}
}

// Fresh reports whether nothing was written yet (the json and dynamite
// formats have no header anyway).
func (s *ElasticsearchSink) Fresh() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return !s.wrote
}

// Write queues every complete line of p as one document; an incomplete
// last line waits for the rest. It blocks while the queue is full. Lines
// that are not JSON objects are counted as failed and reported by Sync.
func (s *ElasticsearchSink) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return 0, errors.New("elasticsearch: write after Close")
	}
	if len(p) > 0 {
		s.wrote = true
	}
	rest := p
	if len(s.partial) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			s.partial = append(s.partial, rest...)
			return len(p), nil
		}
		s.partial = append(s.partial, rest[:i]...)
		s.addLine(s.partial)
		s.partial = s.partial[:0]
		rest = rest[i+1:]
	}
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			s.partial = append(s.partial, rest...)
			break
		}
		s.addLine(rest[:i])
		rest = rest[i+1:]
	}
	return len(p), nil
}

// addLine appends one document and its action to the current batch and
// queues the batch when full.
func (s *ElasticsearchSink) addLine(line []byte) {
	line = bytes.TrimRight(line, " \t\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if line[0] != '{' || line[len(line)-1] != '}' {
		s.failed.Add(1)
		s.report(fmt.Errorf("elasticsearch: a line is not a JSON object (zeek format?): %q", snippet(line)))
		return
	}
	index := s.indexOf(line)
	b := s.cur
	start := len(b.buf)
	b.buf = append(b.buf, `{"index":{"_index":"`...)
	b.buf = append(b.buf, index...)
	if s.cfg.DocumentIDs {
		h := fnv.New128a()
		h.Write(line)
		var sum [16]byte
		b.buf = append(b.buf, `","_id":"`...)
		b.buf = hex.AppendEncode(b.buf, h.Sum(sum[:0]))
	}
	b.buf = append(b.buf, "\"}}\n"...)
	if s.cfg.Format == FormatJSON {
		b.buf = append(b.buf, line[:len(line)-1]...)
		b.buf = append(b.buf, `,"elasticsearch_index":"`...)
		b.buf = append(b.buf, index...)
		b.buf = append(b.buf, "\"}\n"...)
	} else {
		b.buf = append(b.buf, line...)
		b.buf = append(b.buf, '\n')
	}
	b.items = append(b.items, esSpan{start, len(b.buf)})
	s.pending.Add(1)
	if len(b.buf) >= s.cfg.FlushBytes || len(b.items) >= s.cfg.FlushDocs {
		s.enqueue()
	}
}

// enqueue hands the current batch to the workers, blocking while the queue
// is full (back-pressure), and starts a new batch.
func (s *ElasticsearchSink) enqueue() {
	if len(s.cur.items) == 0 {
		return
	}
	s.mu.Lock()
	s.inflight++
	s.mu.Unlock()
	s.queue <- s.cur
	s.cur = s.newBatch()
}

// timeKeys locate the window end in a document, per format.
var (
	jsonTimeKey     = []byte(`"end_time":"`)
	dynamiteTimeKey = []byte(`"@timestamp":"`)
)

// indexOf is the index of a document: the pattern expanded with the
// document's window end (the clock if it has none).
func (s *ElasticsearchSink) indexOf(doc []byte) string {
	if s.index.fixed {
		return s.index.literal
	}
	key := jsonTimeKey
	if s.cfg.Format == FormatDynamite {
		key = dynamiteTimeKey
	}
	var stamp []byte
	if i := bytes.Index(doc, key); i >= 0 && len(doc) >= i+len(key)+13 {
		stamp = doc[i+len(key) : i+len(key)+13]
		if !validStamp(stamp) {
			stamp = nil
		}
	}
	if stamp == nil {
		stamp = s.cfg.Now().UTC().AppendFormat(nil, "2006-01-02T15")
	}
	if string(stamp) == s.lastStamp {
		return s.lastIndex
	}
	s.lastStamp = string(stamp)
	s.lastIndex = s.index.expand(stamp)
	return s.lastIndex
}

// validStamp checks the form "2006-01-02T15".
func validStamp(b []byte) bool {
	for i, c := range b {
		switch i {
		case 4, 7:
			if c != '-' {
				return false
			}
		case 10:
			if c != 'T' {
				return false
			}
		default:
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// indexPattern is a parsed Index setting.
type indexPattern struct {
	fixed   bool
	literal string   // the index when fixed
	parts   []string // literal text and verbs ("%Y", ...) in order
}

func parseIndexPattern(p string) (indexPattern, error) {
	var ip indexPattern
	var lit strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			lit.WriteByte(p[i])
			continue
		}
		if i+1 >= len(p) {
			return ip, fmt.Errorf("elasticsearch: index pattern %q ends with %%", p)
		}
		i++
		switch p[i] {
		case '%':
			lit.WriteByte('%')
		case 'Y', 'm', 'd', 'H':
			if lit.Len() > 0 {
				ip.parts = append(ip.parts, lit.String())
				lit.Reset()
			}
			ip.parts = append(ip.parts, "%"+string(p[i]))
		default:
			return ip, fmt.Errorf("elasticsearch: index pattern %q: unknown %%%c (want %%Y, %%m, %%d, %%H or %%%%)", p, p[i])
		}
	}
	if lit.Len() > 0 {
		ip.parts = append(ip.parts, lit.String())
	}
	sample := ip.expand([]byte("2026-01-02T03"))
	if err := validIndexName(sample); err != nil {
		return ip, fmt.Errorf("elasticsearch: index pattern %q: %w", p, err)
	}
	if !strings.Contains(p, "%Y") && !strings.Contains(p, "%m") && !strings.Contains(p, "%d") && !strings.Contains(p, "%H") {
		ip.fixed, ip.literal = true, sample
	}
	return ip, nil
}

// expand fills the verbs from a "2006-01-02T15" stamp.
func (ip indexPattern) expand(stamp []byte) string {
	var b strings.Builder
	for _, part := range ip.parts {
		switch part {
		case "%Y":
			b.Write(stamp[0:4])
		case "%m":
			b.Write(stamp[5:7])
		case "%d":
			b.Write(stamp[8:10])
		case "%H":
			b.Write(stamp[11:13])
		default:
			b.WriteString(part)
		}
	}
	return b.String()
}

// validIndexName applies Elasticsearch's index name rules.
func validIndexName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return errors.New("not a valid index name")
	case len(name) > 255:
		return errors.New("index name longer than 255 bytes")
	case strings.ContainsAny(name[:1], "-_+"):
		return errors.New("index name must not start with -, _ or +")
	case strings.ContainsAny(name, `\/*?"<>| ,#:`):
		return errors.New(`index name must not contain \ / * ? " < > | , # : or a space`)
	case strings.ToLower(name) != name:
		return errors.New("index name must be lowercase")
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f {
			return errors.New("index name must not contain control characters")
		}
	}
	return nil
}

// report records a failure for the next Sync.
func (s *ElasticsearchSink) report(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errsTotal++
	if len(s.errs) < maxReportedErrors {
		s.errs = append(s.errs, err)
	}
}

// Sync sends the buffered documents and waits until every document written
// so far is acknowledged or definitively failed. It returns the failures
// since the previous Sync (documents rejected by Elasticsearch, documents
// still failing at the retry limit), nil when there were none.
func (s *ElasticsearchSink) Sync() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	return s.syncLocked()
}

func (s *ElasticsearchSink) syncLocked() error {
	s.enqueue()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.inflight > 0 {
		s.done.Wait()
	}
	if s.errsTotal == 0 {
		return nil
	}
	errs := s.errs
	if more := s.errsTotal - len(errs); more > 0 {
		errs = append(errs, fmt.Errorf("elasticsearch: and %d more failures", more))
	}
	s.errs, s.errsTotal = nil, 0
	return errors.Join(errs...)
}

// Close sends everything buffered (an incomplete last line too), waits for
// it as Sync does, stops the workers and returns Sync's error.
func (s *ElasticsearchSink) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return nil
	}
	if len(s.partial) > 0 {
		s.addLine(s.partial)
		s.partial = nil
	}
	err := s.syncLocked()
	s.closed = true
	close(s.queue)
	s.workers.Wait()
	if s.idle != nil {
		s.idle.CloseIdleConnections()
	}
	return err
}

func (s *ElasticsearchSink) work() {
	defer s.workers.Done()
	var scratch []byte
	for b := range s.queue {
		scratch = s.send(b, scratch)
		b.buf, b.items = b.buf[:0], b.items[:0]
		select {
		case s.free <- b:
		default:
		}
		s.mu.Lock()
		s.inflight--
		s.done.Broadcast()
		s.mu.Unlock()
	}
}

// send delivers batch b, retrying what failed retryably, and accounts for
// every document as acknowledged or failed. scratch is reused for the
// bodies of retries.
func (s *ElasticsearchSink) send(b *esBatch, scratch []byte) []byte {
	pending := make([]int, len(b.items))
	for i := range pending {
		pending[i] = i
	}
	body := b.buf
	began := time.Now()
	for attempt := 0; ; attempt++ {
		retry, lastErr := s.attempt(b, pending, body)
		if len(retry) == 0 {
			return scratch
		}
		wait := s.backoff(attempt)
		elapsed := time.Since(began)
		if attempt >= s.cfg.MaxRetries || (s.cfg.MaxRetryTime > 0 && elapsed+wait > s.cfg.MaxRetryTime) {
			s.failed.Add(uint64(len(retry)))
			s.pending.Add(-int64(len(retry)))
			s.report(fmt.Errorf("elasticsearch %s: %d documents not indexed after %d attempts in %s: %w",
				s.urls, len(retry), attempt+1, elapsed.Round(time.Millisecond), lastErr))
			return scratch
		}
		s.retried.Add(uint64(len(retry)))
		time.Sleep(wait)
		pending = retry
		scratch = scratch[:0]
		for _, i := range pending {
			sp := b.items[i]
			scratch = append(scratch, b.buf[sp.start:sp.end]...)
		}
		body = scratch
	}
}

// backoff is the jittered wait before retry number attempt+1.
func (s *ElasticsearchSink) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffMax
	if attempt < 32 {
		if e := s.cfg.BackoffMin << attempt; e > 0 && e < d {
			d = e
		}
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// bulkItem is one entry of a bulk response's items.
type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// attempt sends body (the items pending of b) once. It returns the items
// to retry and why; acknowledged and rejected items are accounted here.
func (s *ElasticsearchSink) attempt(b *esBatch, pending []int, body []byte) ([]int, error) {
	s.requests.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.client.bulk(ctx, body)
	if err != nil {
		s.failedRequests.Add(1)
		return pending, fmt.Errorf("bulk request: %w", err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		s.failedRequests.Add(1)
		return pending, fmt.Errorf("reading bulk response: %w", err)
	}
	if res.StatusCode == http.StatusTooManyRequests || res.StatusCode >= 500 {
		s.failedRequests.Add(1)
		return pending, fmt.Errorf("bulk request: HTTP %d: %s", res.StatusCode, snippet(data))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		// Authentication, a missing permission, a body too large: sending
		// again will not help.
		s.failedRequests.Add(1)
		s.failed.Add(uint64(len(pending)))
		s.pending.Add(-int64(len(pending)))
		s.report(fmt.Errorf("elasticsearch %s: bulk request of %d documents rejected: HTTP %d: %s",
			s.urls, len(pending), res.StatusCode, snippet(data)))
		return nil, nil
	}
	var head struct {
		Errors bool            `json:"errors"`
		Items  json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		s.failedRequests.Add(1)
		return pending, fmt.Errorf("bulk response is not JSON: %w: %s", err, snippet(data))
	}
	if !head.Errors {
		s.documents.Add(uint64(len(pending)))
		s.pending.Add(-int64(len(pending)))
		return nil, nil
	}
	var items []map[string]bulkItem
	if err := json.Unmarshal(head.Items, &items); err != nil || len(items) != len(pending) {
		s.failedRequests.Add(1)
		return pending, fmt.Errorf("bulk response has %d items for %d documents (%v): %s", len(items), len(pending), err, snippet(data))
	}
	var retry []int
	var why error
	acked := 0
	for k, entry := range items {
		var it bulkItem
		for _, v := range entry { // one key: the action
			it = v
		}
		switch {
		case it.Status >= 200 && it.Status <= 299:
			acked++
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			retry = append(retry, pending[k])
			why = fmt.Errorf("document rejected with HTTP %d%s", it.Status, itemReason(it))
		default:
			s.failed.Add(1)
			s.pending.Add(-1)
			s.report(fmt.Errorf("elasticsearch %s: document to index %q rejected: HTTP %d%s",
				s.urls, indexOfAction(b.buf[b.items[pending[k]].start:b.items[pending[k]].end]), it.Status, itemReason(it)))
		}
	}
	s.documents.Add(uint64(acked))
	s.pending.Add(-int64(acked))
	return retry, why
}

func itemReason(it bulkItem) string {
	if it.Error == nil {
		return ""
	}
	return ": " + it.Error.Type + ": " + it.Error.Reason
}

// indexOfAction reads the _index back from an item's action line.
func indexOfAction(item []byte) string {
	const key = `"_index":"`
	i := bytes.Index(item, []byte(key))
	if i < 0 {
		return ""
	}
	rest := item[i+len(key):]
	if j := bytes.IndexByte(rest, '"'); j >= 0 {
		return string(rest[:j])
	}
	return ""
}

// snippet shortens b for an error message.
func snippet(b []byte) string {
	const max = 300
	b = bytes.TrimSpace(b)
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// ParseElasticsearchOut reads an --out value of the form
// es+http://[user:pass@]host:port[/index-pattern] (or es+https://...;
// several nodes separated by commas: es+http://a:9200,b:9200/index).
// ok is false when out does not start with "es+". The index pattern is
// taken verbatim (a % is not a URL escape here); empty means
// DefaultElasticsearchIndex. Credentials in the URL become
// Username/Password.
func ParseElasticsearchOut(out string) (cfg ElasticsearchConfig, ok bool, err error) {
	rest, ok := strings.CutPrefix(out, "es+")
	if !ok {
		return cfg, false, nil
	}
	scheme, rest, found := strings.Cut(rest, "://")
	if !found || (scheme != "http" && scheme != "https") {
		return cfg, true, errors.New("elasticsearch output: want es+http://host:port/index or es+https://host:port/index")
	}
	hosts, index, _ := strings.Cut(rest, "/")
	if at := strings.LastIndexByte(hosts, '@'); at >= 0 {
		user, pass, _ := strings.Cut(hosts[:at], ":")
		if cfg.Username, err = url.PathUnescape(user); err == nil {
			cfg.Password, err = url.PathUnescape(pass)
		}
		if err != nil {
			return cfg, true, fmt.Errorf("elasticsearch output: credentials: %w", err)
		}
		hosts = hosts[at+1:]
	}
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return cfg, true, errors.New("elasticsearch output: empty host")
		}
		cfg.URLs = append(cfg.URLs, scheme+"://"+h)
	}
	cfg.Index = strings.TrimSuffix(index, "/")
	if cfg.Index != "" {
		if _, err := parseIndexPattern(cfg.Index); err != nil {
			return cfg, true, err
		}
	}
	return cfg, true, nil
}

var _ Sink = (*ElasticsearchSink)(nil)
