package emit

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/netbased/netbased/aggregate"
)

// Format selects an encoding.
type Format uint8

// The output formats.
const (
	FormatJSON Format = iota
	FormatDynamite
	FormatZeek
	// FormatClickHouse is the row of ClickHouse's interval_queue (see
	// ClickHouseEncoder): what sensors write to Kafka for ClickHouse.
	FormatClickHouse
)

// ParseFormat reads json, dynamite, zeek or clickhouse.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "json", "":
		return FormatJSON, nil
	case "dynamite":
		return FormatDynamite, nil
	case "zeek":
		return FormatZeek, nil
	case ClickHouseFormat:
		return FormatClickHouse, nil
	}
	return 0, fmt.Errorf("output format %q: want json, dynamite, zeek or clickhouse", s)
}

// String is the format's --format spelling.
func (f Format) String() string {
	switch f {
	case FormatDynamite:
		return "dynamite"
	case FormatZeek:
		return "zeek"
	case FormatClickHouse:
		return ClickHouseFormat
	}
	return "json"
}

// Encoder appends encoded records to a byte slice.
type Encoder interface {
	// Header is what starts every output file (may append nothing); now is
	// the wall-clock time of opening.
	Header(dst []byte, now time.Time) []byte
	// Append appends one record (a whole line).
	Append(dst []byte, r *aggregate.Interval) []byte
	// Footer is what ends every output file (may append nothing).
	Footer(dst []byte, now time.Time) []byte
}

// EncoderOptions configure an encoder. The zero value writes every set
// whole.
type EncoderOptions struct {
	// MaxSetSize caps each unique-set array written (0: no cap): the
	// first MaxSetSize members in text order are written, the count
	// fields stay the sets' sizes and truncated_sets names the cut sets.
	MaxSetSize int
}

// NewEncoder returns the encoder of format f.
func NewEncoder(f Format, opt EncoderOptions) Encoder {
	fs := recordFields(opt.MaxSetSize)
	switch f {
	case FormatDynamite:
		return &DynamiteEncoder{fields: fs}
	case FormatZeek:
		return &ZeekEncoder{fields: fs}
	case FormatClickHouse:
		return NewClickHouseEncoder() // whole sets whatever the cap: the merge needs them
	}
	return &JSONEncoder{fields: fs}
}

// truncatedKey names the list of unique sets whose arrays were cut.
const truncatedKey = "truncated_sets"

// JSONEncoder writes one Interval object per line with the DynamiteNSM
// Interval field names. PCR fields are omitted when there is no sample;
// truncated_sets appears only when an array was cut.
type JSONEncoder struct{ fields []field }

// Header appends nothing.
func (e *JSONEncoder) Header(dst []byte, _ time.Time) []byte { return dst }

// Footer appends nothing.
func (e *JSONEncoder) Footer(dst []byte, _ time.Time) []byte { return dst }

// Append appends r as a JSON object and a newline.
func (e *JSONEncoder) Append(b []byte, r *aggregate.Interval) []byte {
	b = append(b, `{"address":"`...)
	b = r.Address.AppendTo(b)
	b = append(b, `","start_time":"`...)
	b = appendRFC3339(b, r.StartTime)
	b = append(b, `","end_time":"`...)
	b = appendRFC3339(b, r.EndTime)
	b = append(b, `","interval_size":`...)
	b = appendJSONFloat(b, r.IntervalSize().Seconds())
	b = appendFieldsJSON(b, r, e.fields, false)
	b = append(b, `,"node_hostname":`...)
	b = appendJSONString(b, r.NodeHostname)
	b = append(b, `,"node_ip_address":`...)
	b = appendJSONString(b, r.NodeIPAddress)
	b = append(b, `,"originating_agent_tag":`...)
	b = appendJSONString(b, r.OriginatingAgentTag)
	b = append(b, `,"event_type":`...)
	b = appendJSONString(b, r.EventType)
	b = append(b, `,"forwarder_type":`...)
	b = appendJSONString(b, r.ForwarderType)
	b = appendTruncatedJSON(b, r, e.fields, false)
	return append(b, "}\n"...)
}

// DynamiteEncoder writes the Elasticsearch document of a netbase record as
// DynamiteNSM's SDK reads it (_source of dynamite_sdk Interval): the netbase
// names under "zeek", the sensor under "node" and the agent tag under
// "fields". @timestamp is the window's end (when the record was logged).
type DynamiteEncoder struct{ fields []field }

// Header appends nothing.
func (e *DynamiteEncoder) Header(dst []byte, _ time.Time) []byte { return dst }

// Footer appends nothing.
func (e *DynamiteEncoder) Footer(dst []byte, _ time.Time) []byte { return dst }

// Append appends r as one document and a newline.
func (e *DynamiteEncoder) Append(b []byte, r *aggregate.Interval) []byte {
	b = append(b, `{"@timestamp":"`...)
	b = appendRFC3339(b, r.EndTime)
	b = append(b, `","event_type":`...)
	b = appendJSONString(b, r.EventType)
	b = append(b, `,"node":{"hostname":`...)
	b = appendJSONString(b, r.NodeHostname)
	b = append(b, `,"ipaddr":`...)
	b = appendJSONString(b, r.NodeIPAddress)
	b = append(b, `},"fields":{"originating_agent_tag":`...)
	b = appendJSONString(b, r.OriginatingAgentTag)
	b = append(b, `},"zeek":{"address":"`...)
	b = r.Address.AppendTo(b)
	b = append(b, `","starttime":"`...)
	b = appendRFC3339(b, r.StartTime)
	b = append(b, `","endtime":"`...)
	b = appendRFC3339(b, r.EndTime)
	b = append(b, '"')
	b = appendFieldsJSON(b, r, e.fields, true)
	b = appendTruncatedJSON(b, r, e.fields, true)
	return append(b, "}}\n"...)
}

func appendFieldsJSON(b []byte, r *aggregate.Interval, fields []field, zeekNames bool) []byte {
	for i := range fields {
		f := &fields[i]
		key := f.jsonKey
		if zeekNames {
			key = f.zeekKey
		}
		switch f.kind {
		case kindCount:
			b = append(b, key...)
			b = strconv.AppendUint(b, f.count(r), 10)
		case kindPCRAvg, kindPCRMax, kindPCRMin:
			v, ok := f.pcr(r)
			if !ok {
				continue
			}
			b = append(b, key...)
			b = appendJSONFloat(b, v)
		case kindPorts:
			b = appendStringArray(append(b, key...), f.setPorts(r), aggregate.PortKey.AppendText)
		case kindAddrs:
			b = appendStringArray(append(b, key...), f.setAddrs(r), netip.Addr.AppendTo)
		}
	}
	return b
}

// appendTruncatedJSON appends truncated_sets, the names of the sets whose
// arrays were cut, when there is one.
func appendTruncatedJSON(b []byte, r *aggregate.Interval, fields []field, zeekNames bool) []byte {
	first := true
	for i := range fields {
		f := &fields[i]
		if !f.isCut(r) {
			continue
		}
		if first {
			b = appendKey(b, truncatedKey)
			b = append(b, '[')
		} else {
			b = append(b, ',')
		}
		first = false
		name := f.json
		if zeekNames {
			name = f.zeek
		}
		b = appendJSONString(b, name)
	}
	if first {
		return b
	}
	return append(b, ']')
}

func appendKey(b []byte, name string) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

// appendRFC3339 appends t in UTC with microseconds (Zeek's precision).
func appendRFC3339(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	hour, minute, sec := t.Clock()
	// Written by hand: time.Format's layout interpreter was a tenth of
	// the json encoder's time.
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends v (0 <= v < 10^width) as width decimal digits.
func appendDigits(b []byte, v, width int) []byte {
	var d [6]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}

// appendJSONFloat formats v as encoding/json does (shortest repr that
// round-trips; exponent form only for very small or large magnitudes),
// except that an integral value keeps a fraction (300.0, not 300): a
// floating-point field is always a JSON float, so that Elasticsearch's
// dynamic mapping cannot lock it to long on a first integral value.
func appendJSONFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(v)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		return strconv.AppendFloat(b, v, 'e', -1, 64)
	}
	return appendPointFloat(b, v)
}

// appendPointFloat appends v in decimal notation (shortest repr that
// round-trips) with ".0" added to an integral value, as Zeek's logs write
// a double.
func appendPointFloat(b []byte, v float64) []byte {
	start := len(b)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	for _, c := range b[start:] {
		if c == '.' {
			return b
		}
	}
	return append(b, '.', '0')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ZeekEncoder writes a Zeek ASCII log (path netbase) with the netbase
// names: header lines, one tab-separated line per record, "-" for unset
// values, "(empty)" for empty sets, times as epoch seconds.
type ZeekEncoder struct{ fields []field }

// Header appends Zeek's log header.
func (e *ZeekEncoder) Header(b []byte, now time.Time) []byte {
	b = append(b, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tnetbase\n#open\t"...)
	b = now.UTC().AppendFormat(b, "2006-01-02-15-04-05")
	b = append(b, "\n#fields\taddress\tstarttime\tendtime"...)
	for i := range e.fields {
		b = append(b, '\t')
		b = append(b, e.fields[i].zeek...)
	}
	b = append(b, "\t"+truncatedKey+"\n#types\taddr\ttime\ttime"...)
	for i := range e.fields {
		switch e.fields[i].kind {
		case kindCount:
			b = append(b, "\tcount"...)
		case kindPCRAvg, kindPCRMax, kindPCRMin:
			b = append(b, "\tdouble"...)
		case kindPorts:
			b = append(b, "\tset[port]"...)
		case kindAddrs:
			b = append(b, "\tset[addr]"...)
		}
	}
	return append(b, "\tset[string]\n"...)
}

// Footer appends the #close line.
func (e *ZeekEncoder) Footer(b []byte, now time.Time) []byte {
	b = append(b, "#close\t"...)
	b = now.UTC().AppendFormat(b, "2006-01-02-15-04-05")
	return append(b, '\n')
}

// Append appends r as one log line.
func (e *ZeekEncoder) Append(b []byte, r *aggregate.Interval) []byte {
	b = r.Address.AppendTo(b)
	b = append(b, '\t')
	b = appendEpoch(b, r.StartTime)
	b = append(b, '\t')
	b = appendEpoch(b, r.EndTime)
	for i := range e.fields {
		f := &e.fields[i]
		b = append(b, '\t')
		switch f.kind {
		case kindCount:
			b = strconv.AppendUint(b, f.count(r), 10)
		case kindPCRAvg, kindPCRMax, kindPCRMin:
			if v, ok := f.pcr(r); ok {
				b = appendPointFloat(b, v)
			} else {
				b = append(b, '-')
			}
		case kindPorts:
			ps := f.setPorts(r)
			if len(ps) == 0 {
				b = append(b, "(empty)"...)
			}
			for j, p := range ps {
				if j > 0 {
					b = append(b, ',')
				}
				// Zeek logs a port as its number only (445, not 445/tcp).
				b = strconv.AppendUint(b, uint64(p.Port()), 10)
			}
		case kindAddrs:
			as := f.setAddrs(r)
			if len(as) == 0 {
				b = append(b, "(empty)"...)
			}
			for j, a := range as {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendZeekAddr(b, a)
			}
		}
	}
	b = append(b, '\t')
	first := true
	for i := range e.fields {
		f := &e.fields[i]
		if !f.isCut(r) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.zeek...)
	}
	if first {
		b = append(b, "(empty)"...)
	}
	return append(b, '\n')
}

func appendZeekAddr(b []byte, a netip.Addr) []byte { return a.AppendTo(b) }

// appendEpoch appends t as Zeek's time: seconds since the epoch, 6 digits.
func appendEpoch(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	sec, frac := us/1e6, us%1e6
	if frac < 0 {
		sec, frac = sec-1, frac+1e6
	}
	b = strconv.AppendInt(b, sec, 10)
	b = append(b, '.')
	var d [6]byte
	for i := 5; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	return append(b, d[:]...)
}

// appendStringArray appends items as a JSON array of strings, each written
// by appendText (port keys and addresses need no escaping).
func appendStringArray[T any](b []byte, items []T, appendText func(T, []byte) []byte) []byte {
	b = append(b, '[')
	for j, item := range items {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = appendText(item, b)
		b = append(b, '"')
	}
	return append(b, ']')
}
