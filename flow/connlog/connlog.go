// Package connlog reads and writes Zeek conn.log files: the JSON log style
// (keys as Zeek's JSON writer names them) and Zeek's tab-separated ASCII log
// with its #fields/#types header. The writer turns flow.Conn records into a
// conn log; the reader parses Zeek's own logs, the parity tests' ground truth.
package connlog

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/netbased/netbased/flow"
)

// Columns are the conn.log columns netbased writes, in Zeek's order.
var columns = []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
	"duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
	"orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents", "ip_proto"}

var columnTypes = []string{"time", "string", "addr", "port", "addr", "port", "enum", "string",
	"interval", "count", "count", "string", "bool", "bool", "count", "string",
	"count", "count", "count", "count", "set[string]", "count"}

// Row is one parsed conn.log line: the connection (with whatever the log
// holds; masked or absent times are zero) and the raw column values.
type Row struct {
	flow.Conn
	// Proto is the raw proto column (tcp, udp, icmp, unknown_transport).
	Proto string
	// DurationSet reports whether duration (and with it orig_bytes and
	// resp_bytes) was logged; Zeek leaves them unset when the duration is 0.
	DurationSet bool
	// Raw maps each column name to its logged text ("-" when unset).
	Raw map[string]string
}

// ReadZeek parses a Zeek ASCII conn.log (any column order given by its
// #fields line, or a zeek-cut header line). Timestamps masked with X (btest
// baselines) read as the Unix epoch, so durations still hold.
func ReadZeek(r io.Reader) ([]Row, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	var fields []string
	sep := "\t"
	var rows []Row
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.HasPrefix(text, "#") {
			switch {
			case strings.HasPrefix(text, "#separator "):
				s := strings.TrimPrefix(text, "#separator ")
				if s == `\x09` {
					sep = "\t"
				} else {
					sep = s
				}
			case strings.HasPrefix(text, "#fields"):
				fields = strings.Split(text, sep)[1:]
			}
			continue
		}
		if text == "" {
			continue
		}
		if fields == nil {
			// zeek-cut style output: a plain header line of column names.
			if strings.Contains(text, "id.orig_h") {
				fields = strings.Split(text, sep)
				continue
			}
			return rows, fmt.Errorf("conn.log line %d: data before #fields header", line)
		}
		vals := strings.Split(text, sep)
		if len(vals) != len(fields) {
			return rows, fmt.Errorf("conn.log line %d: %d values for %d fields", line, len(vals), len(fields))
		}
		row, err := parseRow(fields, vals)
		if err != nil {
			return rows, fmt.Errorf("conn.log line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		return rows, fmt.Errorf("conn.log line %d: %w", line, err)
	}
	return rows, nil
}

// columnAliases maps renamed columns (Log::default_field_name_map and
// scope separators used in Zeek's tests) to the standard names.
var columnAliases = map[string]string{
	"src": "id.orig_h", "src_ip": "id.orig_h", "id_orig_h": "id.orig_h",
	"src_port": "id.orig_p", "id_orig_p": "id.orig_p",
	"dst": "id.resp_h", "dst_ip": "id.resp_h", "id_resp_h": "id.resp_h",
	"dst_port": "id.resp_p", "id_resp_p": "id.resp_p",
}

func parseRow(fields, vals []string) (Row, error) {
	row := Row{Raw: make(map[string]string, len(fields))}
	c := &row.Conn
	for i, name := range fields {
		if std, ok := columnAliases[name]; ok {
			name = std
		}
		row.Raw[name] = vals[i]
	}
	var err error
	get := func(name string) string { return row.Raw[name] }
	parseCount := func(name string) uint64 {
		v := get(name)
		if v == "" || v == "-" || err != nil {
			return 0
		}
		n, e := strconv.ParseUint(v, 10, 64)
		if e != nil {
			err = fmt.Errorf("column %s: %w", name, e)
		}
		return n
	}
	parseAddr := func(name string) netip.Addr {
		v := get(name)
		a, e := netip.ParseAddr(v)
		if e != nil && err == nil {
			err = fmt.Errorf("column %s: %w", name, e)
		}
		return a
	}
	c.UID = get("uid")
	c.Start = time.Unix(0, 0).UTC() // masked or absent: the epoch
	if ts := get("ts"); ts != "" && ts != "-" && !strings.Contains(ts, "X") {
		f, e := strconv.ParseFloat(ts, 64)
		if e != nil {
			return row, fmt.Errorf("column ts: %w", e)
		}
		c.Start = floatTime(f)
	}
	c.Orig = parseAddr("id.orig_h")
	c.Resp = parseAddr("id.resp_h")
	c.OrigPort = uint16(parseCount("id.orig_p"))
	c.RespPort = uint16(parseCount("id.resp_p"))
	row.Proto = get("proto")
	switch row.Proto {
	case "tcp":
		c.IPProto = 6
	case "udp":
		c.IPProto = 17
	case "icmp":
		c.IPProto = 1
		if c.Orig.Is6() && !c.Orig.Is4In6() {
			c.IPProto = 58
		}
	}
	if p := get("ip_proto"); p != "" && p != "-" {
		c.IPProto = uint8(parseCount("ip_proto"))
	}
	if s := get("service"); s != "" && s != "-" && s != "(empty)" {
		c.Services = strings.Split(s, ",")
	}
	if d := get("duration"); d != "" && d != "-" {
		f, e := strconv.ParseFloat(d, 64)
		if e != nil {
			return row, fmt.Errorf("column duration: %w", e)
		}
		row.DurationSet = true
		c.LastTime = c.Start.Add(time.Duration(math.Round(f * 1e9)))
	} else {
		c.LastTime = c.Start
	}
	c.End = c.LastTime
	c.OrigBytes = parseCount("orig_bytes")
	c.RespBytes = parseCount("resp_bytes")
	c.ConnState = get("conn_state")
	c.LocalOrig = get("local_orig") == "T"
	c.LocalResp = get("local_resp") == "T"
	c.MissedBytes = parseCount("missed_bytes")
	if h := get("history"); h != "-" {
		c.History = h
	}
	c.OrigPkts = parseCount("orig_pkts")
	c.OrigIPBytes = parseCount("orig_ip_bytes")
	c.RespPkts = parseCount("resp_pkts")
	c.RespIPBytes = parseCount("resp_ip_bytes")
	if tp := get("tunnel_parents"); tp != "" && tp != "-" && tp != "(empty)" {
		c.TunnelParents = strings.Split(tp, ",")
	}
	return row, err
}

func floatTime(f float64) time.Time {
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1000).UTC()
}

// Format names a conn log encoding.
type Format string

// Formats accepted by NewWriter.
const (
	JSON Format = "json"
	Zeek Format = "zeek"
)

// ParseFormat validates a --conn-log-format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case JSON, Zeek:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown conn log format %q (want json or zeek)", s)
}

// Writer writes flow.Conn records as a conn log. It is not safe for
// concurrent use.
type Writer struct {
	w       *bufio.Writer
	format  Format
	header  bool
	buf     []byte
	now     func() time.Time
	written int
}

// NewWriter returns a writer of the given format on w. Call Close to write
// Zeek's #close footer (zeek format) and flush.
func NewWriter(w io.Writer, format Format) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64*1024), format: format, now: time.Now}
}

// Written is the number of records written so far.
func (cw *Writer) Written() int { return cw.written }

// Write encodes one connection.
func (cw *Writer) Write(c *flow.Conn) error {
	cw.buf = AppendRecord(cw.buf[:0], c, cw.format)
	return cw.WriteEncoded(cw.buf, 1)
}

// AppendRecord appends c encoded in format f, as one line, to b.
func AppendRecord(b []byte, c *flow.Conn, f Format) []byte {
	if f == Zeek {
		b = appendZeek(b, c)
	} else {
		b = appendJSON(b, c)
	}
	return append(b, '\n')
}

// WriteEncoded writes n records encoded by AppendRecord in the writer's
// format (several workers encode apart and write whole batches).
func (cw *Writer) WriteEncoded(b []byte, n int) error {
	if cw.format == Zeek && !cw.header {
		cw.header = true
		if err := cw.writeHeader(); err != nil {
			return err
		}
	}
	if _, err := cw.w.Write(b); err != nil {
		return fmt.Errorf("writing conn log: %w", err)
	}
	cw.written += n
	return nil
}

// Format is the writer's encoding.
func (cw *Writer) Format() Format { return cw.format }

// Flush writes buffered records to the underlying writer.
func (cw *Writer) Flush() error {
	if err := cw.w.Flush(); err != nil {
		return fmt.Errorf("flushing conn log: %w", err)
	}
	return nil
}

// Close writes the footer (zeek format) and flushes. It does not close the
// underlying writer.
func (cw *Writer) Close() error {
	if cw.format == Zeek {
		if !cw.header {
			cw.header = true
			if err := cw.writeHeader(); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(cw.w, "#close\t%s\n", cw.now().UTC().Format("2006-01-02-15-04-05")); err != nil {
			return fmt.Errorf("writing conn log: %w", err)
		}
	}
	return cw.Flush()
}

func (cw *Writer) writeHeader() error {
	var b strings.Builder
	b.WriteString("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n")
	fmt.Fprintf(&b, "#open\t%s\n", cw.now().UTC().Format("2006-01-02-15-04-05"))
	b.WriteString("#fields\t" + strings.Join(columns, "\t") + "\n")
	b.WriteString("#types\t" + strings.Join(columnTypes, "\t") + "\n")
	if _, err := cw.w.WriteString(b.String()); err != nil {
		return fmt.Errorf("writing conn log header: %w", err)
	}
	return nil
}

func appendTime(b []byte, t time.Time) []byte {
	return strconv.AppendFloat(b, float64(t.UnixNano())/1e9, 'f', 6, 64)
}

func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', 6, 64)
}

func appendZeek(b []byte, c *flow.Conn) []byte {
	tab := func() { b = append(b, '\t') }
	b = appendTime(b, c.Start)
	tab()
	b = append(b, c.UID...)
	tab()
	b = c.Orig.AppendTo(b)
	tab()
	b = strconv.AppendUint(b, uint64(c.OrigPort), 10)
	tab()
	b = c.Resp.AppendTo(b)
	tab()
	b = strconv.AppendUint(b, uint64(c.RespPort), 10)
	tab()
	b = append(b, c.Transport()...)
	tab()
	if len(c.Services) == 0 {
		b = append(b, '-')
	} else {
		b = append(b, strings.Join(c.Services, ",")...)
	}
	tab()
	if d := c.Duration(); d > 0 {
		b = appendSeconds(b, d)
		tab()
		b = strconv.AppendUint(b, c.OrigBytes, 10)
		tab()
		b = strconv.AppendUint(b, c.RespBytes, 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	tab()
	b = append(b, c.ConnState...)
	tab()
	b = appendBool(b, c.LocalOrig)
	tab()
	b = appendBool(b, c.LocalResp)
	tab()
	b = strconv.AppendUint(b, c.MissedBytes, 10)
	tab()
	if c.History == "" {
		b = append(b, '-')
	} else {
		b = append(b, c.History...)
	}
	for _, n := range []uint64{c.OrigPkts, c.OrigIPBytes, c.RespPkts, c.RespIPBytes} {
		tab()
		b = strconv.AppendUint(b, n, 10)
	}
	tab()
	if len(c.TunnelParents) == 0 {
		b = append(b, '-') // &optional and unset, as Zeek writes it
	} else {
		b = append(b, strings.Join(c.TunnelParents, ",")...)
	}
	tab()
	b = strconv.AppendUint(b, uint64(c.IPProto), 10)
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 'T')
	}
	return append(b, 'F')
}

func appendJSON(b []byte, c *flow.Conn) []byte {
	b = append(b, `{"ts":`...)
	b = appendTime(b, c.Start)
	b = append(b, `,"uid":`...)
	b = strconv.AppendQuote(b, c.UID)
	b = append(b, `,"id.orig_h":"`...)
	b = c.Orig.AppendTo(b)
	b = append(b, `","id.orig_p":`...)
	b = strconv.AppendUint(b, uint64(c.OrigPort), 10)
	b = append(b, `,"id.resp_h":"`...)
	b = c.Resp.AppendTo(b)
	b = append(b, `","id.resp_p":`...)
	b = strconv.AppendUint(b, uint64(c.RespPort), 10)
	b = append(b, `,"proto":"`...)
	b = append(b, c.Transport()...)
	b = append(b, '"')
	if len(c.Services) > 0 {
		b = append(b, `,"service":`...)
		b = strconv.AppendQuote(b, strings.Join(c.Services, ","))
	}
	if d := c.Duration(); d > 0 {
		b = append(b, `,"duration":`...)
		b = appendSeconds(b, d)
		b = append(b, `,"orig_bytes":`...)
		b = strconv.AppendUint(b, c.OrigBytes, 10)
		b = append(b, `,"resp_bytes":`...)
		b = strconv.AppendUint(b, c.RespBytes, 10)
	}
	b = append(b, `,"conn_state":`...)
	b = strconv.AppendQuote(b, c.ConnState)
	b = append(b, `,"local_orig":`...)
	b = strconv.AppendBool(b, c.LocalOrig)
	b = append(b, `,"local_resp":`...)
	b = strconv.AppendBool(b, c.LocalResp)
	b = append(b, `,"missed_bytes":`...)
	b = strconv.AppendUint(b, c.MissedBytes, 10)
	if c.History != "" {
		b = append(b, `,"history":`...)
		b = strconv.AppendQuote(b, c.History)
	}
	b = append(b, `,"orig_pkts":`...)
	b = strconv.AppendUint(b, c.OrigPkts, 10)
	b = append(b, `,"orig_ip_bytes":`...)
	b = strconv.AppendUint(b, c.OrigIPBytes, 10)
	b = append(b, `,"resp_pkts":`...)
	b = strconv.AppendUint(b, c.RespPkts, 10)
	b = append(b, `,"resp_ip_bytes":`...)
	b = strconv.AppendUint(b, c.RespIPBytes, 10)
	if len(c.TunnelParents) > 0 {
		b = append(b, `,"tunnel_parents":[`...)
		for i, p := range c.TunnelParents {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, p)
		}
		b = append(b, ']')
	}
	b = append(b, `,"ip_proto":`...)
	b = strconv.AppendUint(b, uint64(c.IPProto), 10)
	return append(b, '}')
}
