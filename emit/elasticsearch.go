package emit

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
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
	// UTC. Default DefaultElasticsearchIndex. It must be a valid lowercase
	// index name.
	Index string
	// Format is the encoding of the documents: FormatJSON or
	// FormatDynamite. FormatZeek is not a document format and is rejected.
	Format Format
	// FlushBytes and FlushDocs bound one bulk request: its bytes (actions
	// and documents) and its documents (defaults 5 MiB and 5000).
	FlushBytes int
	FlushDocs  int
	// RequestTimeout bounds one bulk request (default 30 s).
	RequestTimeout time.Duration
	// CAFile is a PEM file of certificate authorities to trust for https
	// (optional; default: the system pool).
	CAFile string
	// InsecureSkipVerify disables TLS certificate verification.
	InsecureSkipVerify bool
	// Transport replaces the HTTP transport (tests; CAFile and
	// InsecureSkipVerify are then ignored).
	Transport http.RoundTripper
}

// ElasticsearchStats are the sink's counters (the Output counts records;
// these count requests).
type ElasticsearchStats struct {
	// BulkRequests is the number of bulk requests made, retries included.
	BulkRequests uint64
	// FailedRequests is the number of bulk requests that failed as a whole
	// (connection error, timeout, HTTP 429 or 5xx, or another HTTP error).
	FailedRequests uint64
}

// ElasticsearchSink indexes documents into Elasticsearch with the _bulk
// API, one request per Deliver. Every document is indexed under its
// DocumentID as _id, so a document sent again after an ambiguous failure
// (a timeout after Elasticsearch indexed it, a spool replayed after a
// crash) overwrites itself instead of doubling. Connection errors, HTTP
// 408, 429 and 5xx, and authorization failures and 404 (which an operator
// can fix without losing the spooled records) are retryable; documents
// Elasticsearch rejects (a mapping error) and requests it refuses as
// malformed or too large are permanent failures.
type ElasticsearchSink struct {
	cfg    ElasticsearchConfig
	client *esBulkClient
	urls   string // the node URLs without credentials, for messages
	index  indexPattern

	body      []byte
	lastStamp string // the hour stamp of lastIndex ("2006-01-02T15")
	lastIndex string

	requests, failedRequests atomic.Uint64
}

// NewElasticsearchSink validates cfg and returns a sink. It does not
// contact Elasticsearch: an unreachable server shows as Deliver errors.
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
		u, ok := parseESNode(raw)
		if !ok {
			return nil, badOutput("elasticsearch: URL %s: want http://host:port or https://host:port", Redact(raw))
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
	s.client = newESBulkClient(transport, redacted, cfg.Username, cfg.Password, cfg.APIKey)
	return s, nil
}

// transport is cfg.Transport, or an HTTP transport with cfg's TLS settings.
func (cfg *ElasticsearchConfig) transport() (http.RoundTripper, error) {
	if cfg.Transport != nil {
		return cfg.Transport, nil
	}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	ht.MaxIdleConnsPerHost = 2
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
		return badOutput("elasticsearch: no URL given")
	}
	if cfg.Format != FormatJSON && cfg.Format != FormatDynamite {
		return badOutput("elasticsearch output: the %s format is not supported, use json or dynamite", cfg.Format)
	}
	if cfg.Index == "" {
		cfg.Index = DefaultElasticsearchIndex
	}
	if cfg.FlushBytes <= 0 {
		cfg.FlushBytes = defaultBatchBytes
	}
	if cfg.FlushDocs <= 0 {
		cfg.FlushDocs = defaultBatchDocs
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.RequestTimeout < 0 {
		return badOutput("elasticsearch: want RequestTimeout >= 0")
	}
	return nil
}

// URLs are the node URLs, without credentials.
func (s *ElasticsearchSink) URLs() string { return s.urls }

// Stats returns the sink's counters.
func (s *ElasticsearchSink) Stats() ElasticsearchStats {
	return ElasticsearchStats{BulkRequests: s.requests.Load(), FailedRequests: s.failedRequests.Load()}
}

// Deliver indexes docs in one bulk request.
func (s *ElasticsearchSink) Deliver(ctx context.Context, docs []Document) error {
	b := s.body[:0]
	for i := range docs {
		b = s.appendItem(b, &docs[i])
	}
	s.body = b[:0]
	return s.bulk(ctx, docs, b)
}

// appendItem appends the action line and the source line of d.
func (s *ElasticsearchSink) appendItem(b []byte, d *Document) []byte {
	index := s.indexOf(d.End)
	b = append(b, `{"index":{"_index":"`...)
	b = append(b, index...)
	b = append(b, `","_id":"`...)
	b = d.ID().AppendText(b)
	b = append(b, "\"}}\n"...)
	line := trimNewline(d.Body)
	if s.cfg.Format == FormatJSON && len(line) > 0 && line[len(line)-1] == '}' {
		b = append(b, line[:len(line)-1]...)
		b = append(b, `,"elasticsearch_index":"`...)
		b = append(b, index...)
		b = append(b, "\"}\n"...)
	} else {
		b = append(b, line...)
		b = append(b, '\n')
	}
	return b
}

// indexOf is the index of a document whose window ended at end: the
// pattern expanded with end in UTC.
func (s *ElasticsearchSink) indexOf(end time.Time) string {
	if s.index.fixed {
		return s.index.literal
	}
	var buf [16]byte
	stamp := end.UTC().AppendFormat(buf[:0], "2006-01-02T15")
	if len(stamp) != 13 || !validStamp(stamp) { // a year past 9999
		stamp = time.Unix(0, 0).UTC().AppendFormat(buf[:0], "2006-01-02T15")
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
	literal string      // the index when fixed
	parts   []indexPart // literal text and date verbs in order
}

// indexPart is literal text (verb 0) or a date verb ('Y', 'm', 'd', 'H').
// A "%%" in the pattern is literal text "%", never a verb.
type indexPart struct {
	verb byte
	text string
}

func parseIndexPattern(p string) (indexPattern, error) {
	var ip indexPattern
	var lit strings.Builder
	flushLiteral := func() {
		if lit.Len() > 0 {
			ip.parts = append(ip.parts, indexPart{text: lit.String()})
			lit.Reset()
		}
	}
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
			flushLiteral()
			ip.parts = append(ip.parts, indexPart{verb: p[i]})
		default:
			return ip, fmt.Errorf("elasticsearch: index pattern %q: unknown %%%c (want %%Y, %%m, %%d, %%H or %%%%)", p, p[i])
		}
	}
	flushLiteral()
	sample := ip.expand([]byte("2026-01-02T03"))
	if err := validIndexName(sample); err != nil {
		return ip, fmt.Errorf("elasticsearch: index pattern %q: %w", p, err)
	}
	if !slices.ContainsFunc(ip.parts, indexPart.isVerb) {
		ip.fixed, ip.literal = true, sample
	}
	return ip, nil
}

func (part indexPart) isVerb() bool { return part.verb != 0 }

// expand fills the verbs from a "2006-01-02T15" stamp.
func (ip indexPattern) expand(stamp []byte) string {
	var b strings.Builder
	for _, part := range ip.parts {
		switch part.verb {
		case 'Y':
			b.Write(stamp[0:4])
		case 'm':
			b.Write(stamp[5:7])
		case 'd':
			b.Write(stamp[8:10])
		case 'H':
			b.Write(stamp[11:13])
		default:
			b.WriteString(part.text)
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

// bulkItem is one entry of a bulk response's items.
type bulkItem struct {
	Status int `json:"status"`
	Error  *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// bulk sends one bulk request of body (the items of docs) and sorts the
// outcome out as Deliver returns it.
func (s *ElasticsearchSink) bulk(ctx context.Context, docs []Document, body []byte) error {
	s.requests.Add(1)
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	res, err := s.client.bulk(ctx, body)
	if err != nil {
		s.failedRequests.Add(1)
		return fmt.Errorf("elasticsearch %s: bulk request: %w", s.urls, err)
	}
	data, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		s.failedRequests.Add(1)
		return fmt.Errorf("elasticsearch %s: reading bulk response: %w", s.urls, err)
	}
	switch code := res.StatusCode; {
	case code == http.StatusTooManyRequests || code >= 500 || code == http.StatusUnauthorized ||
		code == http.StatusForbidden || code == http.StatusNotFound || code == http.StatusRequestTimeout:
		s.failedRequests.Add(1)
		return fmt.Errorf("elasticsearch %s: bulk request: HTTP %d: %s", s.urls, code, snippet(data))
	case code < 200 || code > 299:
		// A malformed or too large request: sending it again will not help.
		s.failedRequests.Add(1)
		return Permanent(fmt.Errorf("elasticsearch %s: bulk request of %d documents refused: HTTP %d: %s",
			s.urls, len(docs), code, snippet(data)))
	}
	var head struct {
		Errors bool            `json:"errors"`
		Items  json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		s.failedRequests.Add(1)
		return fmt.Errorf("elasticsearch %s: bulk response is not JSON: %v: %s", s.urls, err, snippet(data))
	}
	if !head.Errors {
		return nil
	}
	var items []map[string]bulkItem
	if err := json.Unmarshal(head.Items, &items); err != nil || len(items) != len(docs) {
		s.failedRequests.Add(1)
		return fmt.Errorf("elasticsearch %s: bulk response has %d items for %d documents (%v): %s",
			s.urls, len(items), len(docs), err, snippet(data))
	}
	pe := &PartialError{}
	for k, entry := range items {
		var it bulkItem
		for _, v := range entry { // one key: the action
			it = v
		}
		switch {
		case it.Status >= 200 && it.Status <= 299:
		case it.Status == http.StatusTooManyRequests || it.Status >= 500:
			pe.Failed = append(pe.Failed, DocError{Index: k, Err: fmt.Errorf("elasticsearch %s: document of %s rejected with HTTP %d%s",
				s.urls, docs[k].Address, it.Status, itemReason(it))})
		default:
			pe.Failed = append(pe.Failed, DocError{Index: k, Err: Permanent(fmt.Errorf("elasticsearch %s: document of %s to index %q rejected: HTTP %d%s",
				s.urls, docs[k].Address, s.indexOf(docs[k].End), it.Status, itemReason(it)))})
		}
	}
	if len(pe.Failed) == 0 {
		return nil
	}
	return pe
}

// Close closes idle connections.
func (s *ElasticsearchSink) Close() error {
	s.client.http.CloseIdleConnections()
	return nil
}

func itemReason(it bulkItem) string {
	if it.Error == nil {
		return ""
	}
	return ": " + it.Error.Type + ": " + it.Error.Reason
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

// ESAPIKeyEnv names the environment variable that may hold an
// Elasticsearch API key (it overrides credentials in the URL).
const ESAPIKeyEnv = "NETBASED_ES_API_KEY"

// elasticsearchKind indexes records into Elasticsearch:
// es+http(s)://[user:pass@]host:port[,host:port…][/index-pattern].
func elasticsearchKind() Kind {
	return Kind{Name: "elasticsearch", Schemes: []string{"es+http", "es+https"},
		Open: func(_ context.Context, dest string, p OpenParams) (Opened, error) {
			cfg, _, err := ParseElasticsearchOut(dest)
			if err != nil {
				return Opened{}, err
			}
			cfg.Format = p.Format
			if key := p.getenv(ESAPIKeyEnv); key != "" {
				cfg.APIKey = key
			}
			if p.ConfigureElasticsearch != nil {
				if err := p.ConfigureElasticsearch(&cfg); err != nil {
					return Opened{}, err
				}
			}
			s, err := NewElasticsearchSink(cfg)
			if err != nil {
				return Opened{}, err
			}
			return Opened{Sink: s, Encoder: NewEncoder(p.Format, p.Encoder), Destination: Redact(dest),
				MaxBatchDocs: s.cfg.FlushDocs, MaxBatchBytes: s.cfg.FlushBytes, Remote: true}, nil
		}}
}

// ParseElasticsearchOut reads an --out value of the form
// es+http://[user:pass@]host:port[/index-pattern] (or es+https://...;
// several nodes separated by commas: es+http://a:9200,b:9200/index).
// ok is false when out does not start with "es+". The credentials end at
// the last '@', so a password may contain '/' (percent-encode an '@'; an
// index pattern cannot contain one). The index pattern is taken verbatim
// (a % is not a URL escape here); empty means DefaultElasticsearchIndex.
// Errors never show the password.
func ParseElasticsearchOut(out string) (cfg ElasticsearchConfig, ok bool, err error) {
	rest, ok := strings.CutPrefix(out, "es+")
	if !ok {
		return cfg, false, nil
	}
	scheme, rest, found := strings.Cut(rest, "://")
	if !found || (scheme != "http" && scheme != "https") {
		return cfg, true, badOutput("elasticsearch output %s: want es+http://host:port/index or es+https://host:port/index", Redact(out))
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user, pass, _ := strings.Cut(rest[:at], ":")
		var uerr, perr error
		cfg.Username, uerr = url.PathUnescape(user)
		cfg.Password, perr = url.PathUnescape(pass)
		if uerr != nil || perr != nil {
			return ElasticsearchConfig{}, true, badOutput("elasticsearch output %s: malformed %%-escape in the credentials", Redact(out))
		}
		rest = rest[at+1:]
	}
	hosts, index, _ := strings.Cut(rest, "/")
	for _, h := range strings.Split(hosts, ",") {
		if h == "" {
			return ElasticsearchConfig{}, true, badOutput("elasticsearch output %s: empty host", Redact(out))
		}
		cfg.URLs = append(cfg.URLs, scheme+"://"+h)
	}
	cfg.Index = strings.TrimSuffix(index, "/")
	if cfg.Index != "" {
		if _, err := parseIndexPattern(cfg.Index); err != nil {
			return ElasticsearchConfig{}, true, fmt.Errorf("%w: %w", ErrBadOutput, err)
		}
	}
	return cfg, true, nil
}

var _ Sink = (*ElasticsearchSink)(nil)
