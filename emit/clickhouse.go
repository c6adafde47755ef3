package emit

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/netbased/netbased/aggregate"
)

// ClickHouse output: --out clickhouse://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/DATABASE[?cluster=NAME&…]
//
// Every record goes to ClickHouse over the native protocol as one row of
// DATABASE.interval_parts (see clickhouse_schema.go): the sensor's partial
// record with everything an exact merge needs (whole sets, PCR sums and
// counts, the window end). The merged records are in DATABASE.intervals.

// ClickHouseURLScheme is the scheme of ClickHouse destinations.
const ClickHouseURLScheme = "clickhouse"

// ClickHousePasswordEnv names the environment variable read for the
// password when the URL has none.
const ClickHousePasswordEnv = "NETBASED_CLICKHOUSE_PASSWORD"

// ClickHouseConfig configures a ClickHouse destination.
type ClickHouseConfig struct {
	// Hosts are the servers' native-protocol addresses, host:port (port
	// 9000 when omitted); the client uses the first that answers.
	Hosts []string
	// Username and Password authenticate (default user "default", no
	// password).
	Username, Password string
	// Schema names the database and, for a sharded setup, the cluster.
	Schema ClickHouseSchema
	// CreateSchema runs the schema's idempotent DDL on first use (on every
	// host of Hosts for a cluster). Default true; false when an operator
	// manages the schema (netbased clickhouse-schema prints it).
	CreateSchema bool
	// TLS, when not nil, connects with TLS (the secure native port).
	TLS *tls.Config
	// DialTimeout bounds a connection attempt (default 5 s).
	DialTimeout time.Duration
	// QueryTimeout bounds one insert or DDL statement (default 60 s).
	QueryTimeout time.Duration
}

// ParseClickHouseURL reads
// clickhouse://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]…]/DATABASE[?QUERY].
// The query may set cluster (a remote_servers cluster: inserts go to a
// Distributed table sharded by address), create_schema (true/false),
// secure (true: TLS) and dial_timeout (a Go duration). A password given
// neither in the URL nor by the caller comes from $NETBASED_CLICKHOUSE_PASSWORD.
func ParseClickHouseURL(dest string) (ClickHouseConfig, error) {
	cfg := ClickHouseConfig{CreateSchema: true}
	bad := func(why string) error {
		return badOutput("clickhouse output %s: %s (want %s://[USER[:PASSWORD]@]HOST[:PORT][,HOST[:PORT]...]/DATABASE)",
			Redact(dest), why, ClickHouseURLScheme)
	}
	rest, ok := strings.CutPrefix(dest, ClickHouseURLScheme+"://")
	if !ok { // not a URL: nothing of it is shown, it may hold a secret
		return cfg, badOutput("clickhouse output: not a %s:// URL", ClickHouseURLScheme)
	}
	rest, rawQuery, _ := strings.Cut(rest, "?")
	authority, db, ok := strings.Cut(rest, "/")
	if !ok || db == "" {
		return cfg, bad("no database")
	}
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo := authority[:i]
		authority = authority[i+1:]
		user, pass, hasPass := strings.Cut(userinfo, ":")
		var err error
		if cfg.Username, err = url.PathUnescape(user); err != nil {
			return cfg, bad("user: " + err.Error())
		}
		if hasPass {
			if cfg.Password, err = url.PathUnescape(pass); err != nil {
				return cfg, bad("password is not URL-escaped")
			}
		}
	}
	for _, h := range strings.Split(authority, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), "9000")
		}
		cfg.Hosts = append(cfg.Hosts, h)
	}
	if len(cfg.Hosts) == 0 {
		return cfg, bad("no host")
	}
	cfg.Schema.Database = db
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return cfg, bad(err.Error())
	}
	for key, vals := range q {
		v := vals[len(vals)-1]
		switch key {
		case "cluster":
			cfg.Schema.Cluster = v
		case "create_schema", "secure":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return cfg, bad(key + "=" + strconv.Quote(v) + ": want true or false")
			}
			if key == "secure" {
				if b {
					cfg.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
				}
			} else {
				cfg.CreateSchema = b
			}
		case "dial_timeout":
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return cfg, bad("dial_timeout=" + strconv.Quote(v) + ": want a duration such as 5s")
			}
			cfg.DialTimeout = d
		default:
			return cfg, bad("unknown parameter " + strconv.Quote(key) + " (want cluster, create_schema, secure or dial_timeout)")
		}
	}
	if err := cfg.Schema.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// clickHouseKind is the ClickHouse output: clickhouse:// destinations. It
// encodes with ClickHouseEncoder whatever --format says (the rows are not
// for people to read) and inserts large batches.
func clickHouseKind() Kind {
	return Kind{Name: "clickhouse", Schemes: []string{ClickHouseURLScheme}, Open: func(_ context.Context, dest string, p OpenParams) (Opened, error) {
		cfg, err := ParseClickHouseURL(dest)
		if err != nil {
			return Opened{}, err
		}
		if cfg.Password == "" {
			cfg.Password = p.getenv(ClickHousePasswordEnv)
		}
		s, err := NewClickHouseSink(cfg)
		if err != nil {
			return Opened{}, err
		}
		return Opened{Sink: s, Encoder: NewClickHouseEncoder(), Destination: Redact(dest),
			MaxBatchDocs: clickHouseBatchDocs, MaxBatchBytes: clickHouseBatchBytes, Remote: true}, nil
	}}
}

// ClickHouse inserts are batched large: a part per insert, and ClickHouse
// merges parts in the background (one row per insert manages ~30 rows/s).
const (
	clickHouseBatchDocs  = 20000
	clickHouseBatchBytes = 32 << 20
)

// ClickHouseSink inserts documents whose bodies are clickhouse rows
// (ClickHouseEncoder) into DATABASE.interval_parts (interval_parts_all on a
// cluster), one INSERT per Deliver, creating the schema on first use. A
// row that cannot be parsed fails for good (Permanent); a failed INSERT
// fails every document retryably: a retry after an INSERT that did land
// replaces its rows (ReplacingMergeTree), it does not double them.
type ClickHouseSink struct {
	c   *clickHouseClient
	blk *chBlock
}

var _ Sink = (*ClickHouseSink)(nil)

// NewClickHouseSink returns a sink for cfg. It does not connect: the first
// Deliver does.
func NewClickHouseSink(cfg ClickHouseConfig) (*ClickHouseSink, error) {
	c, err := newClickHouseClient(cfg)
	if err != nil {
		return nil, err
	}
	return &ClickHouseSink{c: c, blk: newCHBlock()}, nil
}

// Deliver inserts docs as one block.
func (s *ClickHouseSink) Deliver(ctx context.Context, docs []Document) error {
	s.blk.reset()
	var failed []DocError
	for i := range docs {
		if err := s.blk.appendRow(docs[i].Body); err != nil {
			s.c.badRows.Add(1)
			failed = append(failed, DocError{Index: i, Err: Permanent(err)})
		}
	}
	if err := s.c.insert(ctx, s.blk); err != nil {
		return err
	}
	if len(failed) > 0 {
		return &PartialError{Failed: failed}
	}
	return nil
}

// Stats returns the sink's counters.
func (s *ClickHouseSink) Stats() ClickHouseStats { return s.c.Stats() }

// Close closes the connections.
func (s *ClickHouseSink) Close() error { return s.c.Close() }

// ClickHouseEncoder writes each record as one JSON object on one line whose
// keys are the columns of DATABASE.interval_queue (the clickhouse format):
// the partial record with whole sets, PCR counts, fixed-point sums and
// min/max (as IEEE bits, which text floats would not always preserve), the
// window in nanoseconds since the epoch and the sensor. ClickHouse's Kafka
// engine reads these lines (JSONEachRow); the ClickHouse output inserts
// them over the native protocol. --max-set-size does not apply: an exact
// merge needs the whole sets.
type ClickHouseEncoder struct {
	counts []field     // the counters stored (not the sets' counts)
	pcrs   []chPCRKeys // per service, in column order
	sets   []field     // the unique sets
	sensor sensorCache
}

// chPCRKeys are the row keys of one service's PCR statistics.
type chPCRKeys struct {
	svc                         aggregate.Service
	count, hi, lo, minBits, max string
}

// NewClickHouseEncoder returns the clickhouse row encoder.
func NewClickHouseEncoder() *ClickHouseEncoder {
	e := &ClickHouseEncoder{}
	for _, f := range recordFields(0) {
		switch {
		case chStoredCount(&f):
			e.counts = append(e.counts, f)
		case f.kind == kindPCRAvg:
			pre := "pcr_" + f.svc.String() + "_"
			e.pcrs = append(e.pcrs, chPCRKeys{svc: f.svc, count: pre + "count", hi: pre + "sum_hi", lo: pre + "sum_lo",
				minBits: pre + "min_bits", max: pre + "max_bits"})
		case f.kind == kindPorts || f.kind == kindAddrs:
			e.sets = append(e.sets, f)
		}
	}
	return e
}

// Header appends nothing.
func (e *ClickHouseEncoder) Header(dst []byte, _ time.Time) []byte { return dst }

// Footer appends nothing.
func (e *ClickHouseEncoder) Footer(dst []byte, _ time.Time) []byte { return dst }

// Append appends r as one row and a newline.
func (e *ClickHouseEncoder) Append(b []byte, r *aggregate.Interval) []byte {
	b = append(b, `{"address":"`...)
	b = r.Address.AppendTo(b)
	b = append(b, `","start_ns":`...)
	b = strconv.AppendInt(b, r.StartTime.UnixNano(), 10)
	b = append(b, `,"end_ns":`...)
	b = strconv.AppendInt(b, r.EndTime.UnixNano(), 10)
	b = append(b, `,"sensor":`...)
	b = appendJSONString(b, e.sensor.of(r))
	b = append(b, `,"hostname":`...)
	b = appendJSONString(b, r.NodeHostname)
	b = append(b, `,"ipaddr":`...)
	b = appendJSONString(b, r.NodeIPAddress)
	b = append(b, `,"agent_tag":`...)
	b = appendJSONString(b, r.OriginatingAgentTag)
	b = append(b, `,"event":`...)
	b = appendJSONString(b, r.EventType)
	b = append(b, `,"forwarder":`...)
	b = appendJSONString(b, r.ForwarderType)
	for i := range e.counts {
		f := &e.counts[i]
		b = appendKey(b, f.zeek)
		b = strconv.AppendUint(b, f.count(r), 10)
	}
	for i := range e.pcrs {
		k := &e.pcrs[i]
		p := &r.Services[k.svc].PCR
		b = strconv.AppendUint(appendKey(b, k.count), p.Count, 10)
		b = strconv.AppendInt(appendKey(b, k.hi), p.Sum.Hi, 10)
		b = strconv.AppendUint(appendKey(b, k.lo), p.Sum.Lo, 10)
		b = strconv.AppendUint(appendKey(b, k.minBits), math.Float64bits(p.Min), 10)
		b = strconv.AppendUint(appendKey(b, k.max), math.Float64bits(p.Max), 10)
	}
	for i := range e.sets {
		switch f := &e.sets[i]; f.kind {
		case kindPorts:
			b = appendStringArray(appendKey(b, f.zeek), f.ports(r), aggregate.PortKey.AppendText)
		case kindAddrs:
			b = appendStringArray(appendKey(b, f.zeek), f.addrs(r), netip.Addr.AppendTo)
		}
	}
	return append(b, "}\n"...)
}

var _ Encoder = (*ClickHouseEncoder)(nil)

// chColumnData holds one column of a block being built; the slice of the
// column's kind is used.
type chColumnData struct {
	s []string
	i []int64
	u []uint64
	f []float64
	a [][]string
}

func (d *chColumnData) truncate(kind chKind, n int) {
	switch kind {
	case chString:
		d.s = d.s[:n]
	case chInt64:
		d.i = d.i[:n]
	case chUint64:
		d.u = d.u[:n]
	case chFloat64:
		d.f = d.f[:n]
	case chStrings:
		d.a = d.a[:n]
	}
}

func (d *chColumnData) slice(kind chKind) any {
	switch kind {
	case chInt64:
		return d.i
	case chUint64:
		return d.u
	case chFloat64:
		return d.f
	case chStrings:
		return d.a
	}
	return d.s
}

// chBlock is a block of rows of interval_parts, column by column, parsed
// from clickhouse rows.
type chBlock struct {
	cols []chColumn
	data []chColumnData
	rows int
}

func newCHBlock() *chBlock {
	cols := chSchemaColumns()
	return &chBlock{cols: cols, data: make([]chColumnData, len(cols))}
}

func (blk *chBlock) reset() {
	for i, c := range blk.cols {
		blk.data[i].truncate(c.kind, 0)
	}
	blk.rows = 0
}

// appendRow parses one clickhouse row (as ClickHouseEncoder writes it: the
// keys in column order) and adds it to the block; on an error the block
// is left as it was.
func (blk *chBlock) appendRow(body []byte) error {
	p := chParser{b: bytes.TrimSpace(body)}
	err := blk.parseRow(&p)
	if err == nil && p.pos != len(p.b) {
		err = p.errorf("data after the row")
	}
	if err != nil {
		for i, c := range blk.cols {
			blk.data[i].truncate(c.kind, blk.rows)
		}
		return fmt.Errorf("clickhouse row: %w", err)
	}
	blk.rows++
	return nil
}

func (blk *chBlock) parseRow(p *chParser) error {
	if err := p.byte('{'); err != nil {
		return err
	}
	for i, c := range blk.cols {
		if i > 0 {
			if err := p.byte(','); err != nil {
				return err
			}
		}
		key, escaped, err := p.rawString()
		if err != nil {
			return err
		}
		if escaped || string(key[1:len(key)-1]) != c.row {
			return p.errorf("key %s where %q belongs", key, c.row)
		}
		if err := p.byte(':'); err != nil {
			return err
		}
		d := &blk.data[i]
		switch c.kind {
		case chString:
			// The sensor's fields repeat from row to row: reuse the
			// previous row's string when the text is the same.
			tok, escaped, err := p.rawString()
			if err != nil {
				return err
			}
			if n := len(d.s); !escaped && n > 0 && d.s[n-1] == string(tok[1:len(tok)-1]) {
				d.s = append(d.s, d.s[n-1])
				continue
			}
			s, err := p.unquote(tok, escaped)
			if err != nil {
				return err
			}
			d.s = append(d.s, s)
		case chInt64:
			v, err := p.int()
			if err != nil {
				return p.errorf("%s: %v", c.row, err)
			}
			d.i = append(d.i, v)
		case chUint64, chFloat64:
			v, err := p.uint()
			if err != nil {
				return p.errorf("%s: %v", c.row, err)
			}
			if c.kind == chUint64 {
				d.u = append(d.u, v)
			} else {
				d.f = append(d.f, math.Float64frombits(v))
			}
		case chStrings:
			a, err := p.stringArray()
			if err != nil {
				return err
			}
			d.a = append(d.a, a)
		}
	}
	return p.byte('}')
}

// chParser reads the restricted JSON of a clickhouse row: no whitespace
// between tokens, integers, strings, arrays of strings.
type chParser struct {
	b   []byte
	pos int
}

func (p *chParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *chParser) byte(c byte) error {
	if p.pos >= len(p.b) || p.b[p.pos] != c {
		return p.errorf("want %q", c)
	}
	p.pos++
	return nil
}

// rawString returns the string token at pos, quotes included, and whether
// it has escapes.
func (p *chParser) rawString() ([]byte, bool, error) {
	if p.pos >= len(p.b) || p.b[p.pos] != '"' {
		return nil, false, p.errorf("want a string")
	}
	escaped := false
	for i := p.pos + 1; i < len(p.b); i++ {
		switch p.b[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			tok := p.b[p.pos : i+1]
			p.pos = i + 1
			return tok, escaped, nil
		}
	}
	return nil, false, p.errorf("unterminated string")
}

func (p *chParser) string() (string, error) {
	tok, escaped, err := p.rawString()
	if err != nil {
		return "", err
	}
	return p.unquote(tok, escaped)
}

// unquote returns the value of a string token.
func (p *chParser) unquote(tok []byte, escaped bool) (string, error) {
	if !escaped {
		return string(tok[1 : len(tok)-1]), nil
	}
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", p.errorf("%v", err)
	}
	return s, nil
}

// uint reads an unsigned decimal integer.
func (p *chParser) uint() (uint64, error) {
	start := p.pos
	var v uint64
	for p.pos < len(p.b) && p.b[p.pos] >= '0' && p.b[p.pos] <= '9' {
		d := uint64(p.b[p.pos] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, p.errorf("number out of range")
		}
		v = v*10 + d
		p.pos++
	}
	if p.pos == start {
		return 0, p.errorf("want a number")
	}
	return v, nil
}

// int reads a signed decimal integer.
func (p *chParser) int() (int64, error) {
	neg := p.pos < len(p.b) && p.b[p.pos] == '-'
	if neg {
		p.pos++
	}
	u, err := p.uint()
	if err != nil {
		return 0, err
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), nil //nolint:gosec // two's complement of u ≤ 2⁶³
	case !neg && u <= math.MaxInt64:
		return int64(u), nil
	}
	return 0, p.errorf("number out of range")
}

func (p *chParser) stringArray() ([]string, error) {
	if err := p.byte('['); err != nil {
		return nil, err
	}
	out := []string{}
	for p.pos < len(p.b) && p.b[p.pos] != ']' {
		if len(out) > 0 {
			if err := p.byte(','); err != nil {
				return nil, err
			}
		}
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, p.byte(']')
}

// ClickHouseStats count what a ClickHouse client did.
type ClickHouseStats struct {
	// Inserts is the INSERT statements ClickHouse acknowledged; Rows their
	// rows.
	Inserts, Rows uint64
	// FailedInserts is the INSERT statements that failed (each is
	// retried by the output).
	FailedInserts uint64
	// BadRows is the rows that could not be parsed (never inserted).
	BadRows uint64
}

// clickHouseClient inserts blocks of rows into ClickHouse, creating the
// schema on first use.
type clickHouseClient struct {
	cfg         ClickHouseConfig
	conn        driver.Conn
	insertQuery string

	mu      sync.Mutex // guards ensured
	ensured bool

	inserts, rows, failedInserts, badRows atomic.Uint64
}

// Defaults of ClickHouseConfig.
const (
	defaultClickHouseDialTimeout  = 5 * time.Second
	defaultClickHouseQueryTimeout = 60 * time.Second
)

func newClickHouseClient(cfg ClickHouseConfig) (*clickHouseClient, error) {
	if err := cfg.Schema.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Hosts) == 0 {
		return nil, badOutput("clickhouse output: no host")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = defaultClickHouseDialTimeout
	}
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = defaultClickHouseQueryTimeout
	}
	conn, err := clickhouse.Open(cfg.options(cfg.Hosts))
	if err != nil {
		return nil, fmt.Errorf("clickhouse output: %w", err)
	}
	cols := chSchemaColumns()
	names := make([]string, len(cols))
	for i, col := range cols {
		names[i] = col.name
	}
	insertQuery := "INSERT INTO " + cfg.Schema.InsertTable() + " (" + strings.Join(names, ", ") + ")"
	return &clickHouseClient{cfg: cfg, conn: conn, insertQuery: insertQuery}, nil
}

func (cfg *ClickHouseConfig) options(hosts []string) *clickhouse.Options {
	user := cfg.Username
	if user == "" {
		user = "default"
	}
	return &clickhouse.Options{
		Addr:             hosts,
		Auth:             clickhouse.Auth{Username: user, Password: cfg.Password},
		TLS:              cfg.TLS,
		DialTimeout:      cfg.DialTimeout,
		ReadTimeout:      cfg.QueryTimeout,
		MaxOpenConns:     2,
		MaxIdleConns:     1,
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
		Compression:      &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		ClientInfo:       clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "netbased"}}},
	}
}

// ensureSchema runs the DDL once (on every host for a cluster).
func (c *clickHouseClient) ensureSchema(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ensured || !c.cfg.CreateSchema {
		return nil
	}
	stmts := c.cfg.Schema.Statements()
	if c.cfg.Schema.Cluster == "" {
		if err := execAll(ctx, c.conn, stmts); err != nil {
			return err
		}
	} else {
		// Without ZooKeeper there is no ON CLUSTER: each server gets the
		// local tables and the Distributed tables itself.
		for _, h := range c.cfg.Hosts {
			conn, err := clickhouse.Open(c.cfg.options([]string{h}))
			if err != nil {
				return fmt.Errorf("clickhouse %s: %w", h, err)
			}
			err = execAll(ctx, conn, stmts)
			conn.Close()
			if err != nil {
				return fmt.Errorf("clickhouse %s: %w", h, err)
			}
		}
	}
	c.ensured = true
	return nil
}

func execAll(ctx context.Context, conn driver.Conn, stmts []string) error {
	for _, st := range stmts {
		if err := conn.Exec(ctx, st); err != nil {
			first, _, _ := strings.Cut(st, "\n")
			return fmt.Errorf("creating the schema (%s): %w", first, err)
		}
	}
	return nil
}

// insert sends blk as one INSERT.
func (c *clickHouseClient) insert(ctx context.Context, blk *chBlock) error {
	if blk.rows == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.QueryTimeout)
	defer cancel()
	if err := c.ensureSchema(ctx); err != nil {
		c.failedInserts.Add(1)
		return err
	}
	if c.cfg.Schema.Cluster != "" {
		// Acknowledged means stored on the shard, not queued on this
		// server's disk.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	}
	err := c.send(ctx, blk)
	if err != nil {
		c.failedInserts.Add(1)
		return fmt.Errorf("clickhouse insert of %d rows into %s: %w", blk.rows, c.cfg.Schema.InsertTable(), err)
	}
	c.inserts.Add(1)
	c.rows.Add(uint64(blk.rows))
	return nil
}

func (c *clickHouseClient) send(ctx context.Context, blk *chBlock) error {
	// ClickHouse 18.16 sends the block structure only for an explicit
	// column list.
	batch, err := c.conn.PrepareBatch(ctx, c.insertQuery, driver.WithReleaseConnection())
	if err != nil {
		return err
	}
	for i, col := range blk.cols {
		if err := batch.Column(i).Append(blk.data[i].slice(col.kind)); err != nil {
			batch.Abort()
			return fmt.Errorf("column %s: %w", col.name, err)
		}
	}
	return batch.Send()
}

// Stats returns the client's counters.
func (c *clickHouseClient) Stats() ClickHouseStats {
	return ClickHouseStats{Inserts: c.inserts.Load(), Rows: c.rows.Load(), FailedInserts: c.failedInserts.Load(), BadRows: c.badRows.Load()}
}

func (c *clickHouseClient) Close() error { return c.conn.Close() }
