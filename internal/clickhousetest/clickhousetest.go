// Package clickhousetest checks what ClickHouse's merged view
// DATABASE.intervals holds against json records: the records one sensor
// that saw all the traffic wrote (netbased --format json). Tests of the
// ClickHouse output (emit) and end-to-end replays (cmd) share it.
package clickhousetest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Row is one record: its fields by json name. Values are uint64, float64,
// string, []string, or nil (absent in json, NULL in ClickHouse).
type Row map[string]any

// Key identifies a record: address and start_time.
func (r Row) Key() string {
	a, _ := r["address"].(string)
	s, _ := r["start_time"].(string)
	return a + " " + s
}

// QueryView reads every row of DATABASE.intervals (or another merged view
// given as DATABASE.NAME) over the native protocol from addr
// (host:port), with the values as ClickHouse typed them (exact floats).
func QueryView(ctx context.Context, addr, view string) ([]Row, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, DialTimeout: 5 * time.Second, ReadTimeout: 5 * time.Minute})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	rows, err := conn.Query(ctx, "SELECT * FROM "+view)
	if err != nil {
		return nil, fmt.Errorf("querying %s: %w", view, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	names := rows.Columns()
	var out []Row
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, ct := range types {
			ptrs[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("reading %s: %w", view, err)
		}
		row := Row{}
		for i, p := range ptrs {
			row[names[i]] = normalize(reflect.ValueOf(p).Elem().Interface())
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

func normalize(v any) any {
	switch x := v.(type) {
	case *float64:
		if x == nil {
			return nil
		}
		return *x
	case *string:
		if x == nil {
			return nil
		}
		return *x
	case *uint64:
		if x == nil {
			return nil
		}
		return *x
	case []string:
		if x == nil {
			return []string{}
		}
		return x
	}
	return v
}

// ParseJSON reads json-format records (one object per line). Numbers are
// kept as json.Number until Compare types them after the view's column.
func ParseJSON(lines []byte) ([]Row, error) {
	var out []Row
	sc := bufio.NewScanner(bytes.NewReader(lines))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("json record %q: %w", line, err)
		}
		row := Row{}
		for k, v := range m {
			if arr, ok := v.([]any); ok {
				ss := make([]string, len(arr))
				for i, e := range arr {
					ss[i], _ = e.(string)
				}
				v = ss
			}
			row[k] = v
		}
		out = append(out, row)
	}
	return out, sc.Err()
}

// Result counts a comparison.
type Result struct {
	// Records is the records compared (present on both sides).
	Records int
	// Fields is the field values compared; Equal those equal (floats:
	// bit for bit).
	Fields, Equal int
	// Diffs describe every difference (the first 50).
	Diffs []string
	// DiffCount is the number of differences.
	DiffCount int
}

// OK reports whether nothing differed.
func (r *Result) OK() bool { return r.DiffCount == 0 }

func (r *Result) diff(format string, args ...any) {
	r.DiffCount++
	if len(r.Diffs) < 50 {
		r.Diffs = append(r.Diffs, fmt.Sprintf(format, args...))
	}
}

// Compare compares the view's rows (got) with the json records (want),
// every field of every record, except the fields named in skip (the node
// fields, which name the sensors in the view). A record on one side only,
// a field on one side only, and a value that differs are differences.
func Compare(got, want []Row, skip ...string) Result {
	var res Result
	byKey := map[string]Row{}
	for _, g := range got {
		if _, dup := byKey[g.Key()]; dup {
			res.diff("view: record %s twice", g.Key())
		}
		byKey[g.Key()] = g
	}
	seen := map[string]bool{}
	for _, w := range want {
		k := w.Key()
		g, ok := byKey[k]
		if !ok {
			res.diff("record %s: missing from the view", k)
			continue
		}
		seen[k] = true
		res.Records++
		names := map[string]bool{}
		for n := range g {
			names[n] = true
		}
		for n := range w {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			if slices.Contains(skip, n) {
				continue
			}
			gv, gok := g[n]
			if !gok {
				res.diff("record %s: field %s is not in the view", k, n)
				continue
			}
			res.Fields++
			wv := w[n] // nil when absent from the json record
			if err := equal(gv, wv); err != nil {
				res.diff("record %s: %s: %v", k, n, err)
				continue
			}
			res.Equal++
		}
	}
	for _, g := range got {
		if !seen[g.Key()] {
			res.diff("record %s: in the view only", g.Key())
		}
	}
	return res
}

// equal compares a view value with a json value, typed after the view.
func equal(got, want any) error {
	if got == nil || want == nil {
		if got == nil && want == nil {
			return nil
		}
		return fmt.Errorf("view %v, json %v", got, want)
	}
	switch g := got.(type) {
	case uint64:
		n, ok := want.(json.Number)
		if !ok {
			return fmt.Errorf("view %d, json %v (%T)", g, want, want)
		}
		w, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil || w != g {
			return fmt.Errorf("view %d, json %s", g, n)
		}
	case float64:
		n, ok := want.(json.Number)
		if !ok {
			return fmt.Errorf("view %v, json %v (%T)", g, want, want)
		}
		w, err := strconv.ParseFloat(string(n), 64)
		if err != nil || math.Float64bits(w) != math.Float64bits(g) {
			return fmt.Errorf("view %v (bits %#x), json %s (bits %#x)", g, math.Float64bits(g), n, math.Float64bits(w))
		}
	case string:
		if w, ok := want.(string); !ok || w != g {
			return fmt.Errorf("view %q, json %v", g, want)
		}
	case []string:
		w, ok := want.([]string)
		if !ok || !slices.Equal(g, w) {
			return fmt.Errorf("view %q, json %v", g, want)
		}
	default:
		return fmt.Errorf("view value of type %T", got)
	}
	return nil
}

// Summary is one line: records, fields equal of compared, differences.
func (r *Result) Summary() string {
	s := fmt.Sprintf("%d records compared, %d of %d fields equal, %d differences", r.Records, r.Equal, r.Fields, r.DiffCount)
	if len(r.Diffs) > 0 {
		s += ":\n  " + strings.Join(r.Diffs, "\n  ")
	}
	return s
}
