package emit

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// The ClickHouse schema. Sensors write partial Interval records; ClickHouse
// keeps each sensor's partial record once and merges them into the record
// one sensor seeing all the traffic would have written.
//
//   - DB.interval_parts (ReplacingMergeTree) holds the partial records, one
//     row per (address, window start, sensor, window end): a record
//     delivered twice (a retry, a spool replayed, Kafka's at-least-once
//     redelivery) replaces itself. The window end is part of the key so
//     that a sensor restarted inside a window keeps both of its partial
//     records for it. Columns have the netbase (zeek format) names; unique
//     sets are whole arrays of their text form; PCR statistics are a count,
//     the two parts of the fixed-point sum (aggregate.FixedSum) and min/max.
//   - DB.intervals (a view) groups interval_parts by (address, window
//     start) with idempotent steps only, so that duplicates the background
//     merges have not removed yet change nothing: counters are summed over
//     the distinct (sensor, window end, counters…) tuples, sets union
//     (counts are the union's size), min/max combine, averages are the
//     merged fixed-point sum over the merged count, computed with
//     FixedSum.Float64's float64 operations, the end time is the latest.
//     Its columns have the json format's names and values. (Reading FINAL
//     instead would keep ClickHouse from pushing a WHERE into the view.)
//   - Kafka path: DB.interval_queue (Kafka engine, JSONEachRow rows of the
//     clickhouse format) and DB.interval_queue_mv, which moves them into
//     interval_parts.
//   - Cluster: interval_parts and intervals_local on every server,
//     interval_parts_all and intervals as Distributed tables over them,
//     sharded by cityHash64(address): every partial record of an address
//     lands on one shard, whose local view merges it completely.

// ClickHouseFormat is the --format name of the clickhouse row encoding.
const ClickHouseFormat = "clickhouse"

// chKind is the type of a row column.
type chKind uint8

const (
	chString  chKind = iota // String
	chInt64                 // Int64
	chUint64                // UInt64
	chFloat64               // Float64; in the row as its IEEE bits (UInt64)
	chStrings               // Array(String)
)

// chColumn is one column of interval_parts and of the clickhouse row.
type chColumn struct {
	name string // the column of interval_parts
	row  string // the key of the row (differs for Float64: NAME_bits)
	kind chKind
}

func (c chColumn) tableType() string {
	switch c.kind {
	case chInt64:
		return "Int64"
	case chUint64:
		return "UInt64"
	case chFloat64:
		return "Float64"
	case chStrings:
		return "Array(String)"
	}
	return "String"
}

// rowType is the type of the column in the row (the Kafka table).
func (c chColumn) rowType() string {
	if c.kind == chFloat64 {
		return "UInt64"
	}
	return c.tableType()
}

// setCounts maps the json name of each set's count to the json name of
// its set: the merged count is the size of the merged set.
var setCounts = map[string]string{
	"internal_port_count":   "internal_ports",
	"internal_host_count":   "internal_hosts",
	"external_port_counts":  "external_ports",
	"external_host_count":   "external_hosts",
	"internal_client_count": "internal_clients",
	"external_client_count": "external_clients",
}

// chStoredCount reports whether f is a counter interval_parts stores: one
// that is not a set's count.
func chStoredCount(f *field) bool { return f.kind == kindCount && setCounts[f.json] == "" }

// chPCRParts are the columns of one service's PCR statistics, after the
// prefix pcr_<service>_.
var chPCRParts = []struct {
	suffix string
	kind   chKind
}{{"count", chUint64}, {"sum_hi", chInt64}, {"sum_lo", chUint64}, {"min", chFloat64}, {"max", chFloat64}}

// chSchemaColumns lists the columns of interval_parts and of the row, in
// row order: identity and window, sensor fields, counters (netbase names;
// the set counts are not stored: they are the merged sets' sizes), PCR
// statistics per service, sets.
func chSchemaColumns() []chColumn {
	cols := []chColumn{
		{name: "address", kind: chString},
		{name: "start_ns", kind: chInt64},
		{name: "end_ns", kind: chInt64},
		{name: "sensor", kind: chString},
		// The sensor's fields under names of their own: the view's
		// columns (node_hostname, …) must not share an input column's
		// name.
		{name: "hostname", kind: chString},
		{name: "ipaddr", kind: chString},
		{name: "agent_tag", kind: chString},
		{name: "event", kind: chString},
		{name: "forwarder", kind: chString},
	}
	fs := recordFields(0)
	for i := range fs {
		if f := &fs[i]; chStoredCount(f) {
			cols = append(cols, chColumn{name: f.zeek, kind: chUint64})
		}
	}
	for _, f := range fs {
		if f.kind == kindPCRAvg {
			for _, p := range chPCRParts {
				cols = append(cols, chColumn{name: "pcr_" + f.svc.String() + "_" + p.suffix, kind: p.kind})
			}
		}
	}
	for _, f := range fs {
		if f.kind == kindPorts || f.kind == kindAddrs {
			cols = append(cols, chColumn{name: f.zeek, kind: chStrings})
		}
	}
	for i := range cols {
		cols[i].row = cols[i].name
		if cols[i].kind == chFloat64 {
			cols[i].row += "_bits"
		}
	}
	return cols
}

// ClickHouseSchema describes the tables and views netbased uses in one
// ClickHouse database (or cluster) and writes their DDL. Every statement
// is idempotent (IF NOT EXISTS).
type ClickHouseSchema struct {
	// Database holds every table and view.
	Database string
	// Cluster, when set, names a cluster of the servers' remote_servers:
	// the local tables exist on every server, and interval_parts_all and
	// intervals are Distributed tables over them, sharded by address.
	Cluster string
	// Kafka, when set, adds the Kafka path: a Kafka engine table reading
	// the clickhouse rows sensors produce and a materialized view moving
	// them into interval_parts.
	Kafka *ClickHouseKafka
}

// ClickHouseKafka configures the Kafka path of a ClickHouseSchema.
type ClickHouseKafka struct {
	// Brokers are host:port seed brokers.
	Brokers []string
	// Topic is the topic sensors write to with --format clickhouse.
	Topic string
	// Group is the consumer group (default "netbased-clickhouse"): every
	// server of a cluster joins it, so each message is consumed once
	// (at least once: redelivery is harmless).
	Group string
	// Consumers is the number of consumers per table (default 1).
	Consumers int
}

// Table names.
const (
	chPartsTable      = "interval_parts"
	chPartsAllTable   = "interval_parts_all"
	chViewName        = "intervals"
	chLocalViewName   = "intervals_local"
	chQueueTable      = "interval_queue"
	chQueueViewName   = "interval_queue_mv"
	chDefaultKafkaGrp = "netbased-clickhouse"
)

var chIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate checks the names (plain identifiers only: they are written into
// SQL unquoted).
func (s *ClickHouseSchema) Validate() error {
	if !chIdentifier.MatchString(s.Database) {
		return badOutput("clickhouse database %q: want a plain name ([A-Za-z_][A-Za-z0-9_]*)", s.Database)
	}
	if s.Cluster != "" && !chIdentifier.MatchString(s.Cluster) {
		return badOutput("clickhouse cluster %q: want a plain name ([A-Za-z_][A-Za-z0-9_]*)", s.Cluster)
	}
	if k := s.Kafka; k != nil {
		if len(k.Brokers) == 0 || k.Topic == "" {
			return badOutput("clickhouse kafka path: want brokers and a topic")
		}
		for _, v := range append([]string{k.Topic, k.Group}, k.Brokers...) {
			if strings.ContainsAny(v, `'\`) {
				return badOutput("clickhouse kafka path: %q: quotes and backslashes are not allowed", v)
			}
		}
	}
	return nil
}

// InsertTable is the table sensors insert into: interval_parts, or on a
// cluster the Distributed interval_parts_all.
func (s *ClickHouseSchema) InsertTable() string {
	if s.Cluster != "" {
		return s.Database + "." + chPartsAllTable
	}
	return s.Database + "." + chPartsTable
}

// ViewName is the merged view, DATABASE.intervals.
func (s *ClickHouseSchema) ViewName() string { return s.Database + "." + chViewName }

// Statements returns the DDL in order; on a cluster, every statement runs
// on every server.
func (s *ClickHouseSchema) Statements() []string {
	db := s.Database
	cols := chSchemaColumns()
	var b strings.Builder
	stmts := []string{"CREATE DATABASE IF NOT EXISTS " + db}

	b.WriteString("CREATE TABLE IF NOT EXISTS " + db + "." + chPartsTable + " (\n")
	for i, c := range cols {
		sep := ","
		if i == len(cols)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "    %s %s%s\n", c.name, c.tableType(), sep)
	}
	b.WriteString(") ENGINE = ReplacingMergeTree\n" +
		"PARTITION BY intDiv(start_ns, 86400000000000)\n" +
		"ORDER BY (address, start_ns, sensor, end_ns)")
	stmts = append(stmts, b.String())

	local := chViewName
	if s.Cluster != "" {
		local = chLocalViewName
	}
	stmts = append(stmts, "CREATE VIEW IF NOT EXISTS "+db+"."+local+" AS\n"+chMergeSelect(db+"."+chPartsTable, chDedupTuples))

	target := db + "." + chPartsTable
	if s.Cluster != "" {
		stmts = append(stmts,
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s\nENGINE = Distributed(%s, %s, %s, cityHash64(address))",
				db, chPartsAllTable, db, chPartsTable, s.Cluster, db, chPartsTable),
			fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s\nENGINE = Distributed(%s, %s, %s)",
				db, chViewName, db, chLocalViewName, s.Cluster, db, chLocalViewName))
		target = db + "." + chPartsAllTable
	}

	if k := s.Kafka; k != nil {
		group, consumers := k.Group, k.Consumers
		if group == "" {
			group = chDefaultKafkaGrp
		}
		if consumers <= 0 {
			consumers = 1
		}
		b.Reset()
		b.WriteString("CREATE TABLE IF NOT EXISTS " + db + "." + chQueueTable + " (\n")
		for i, c := range cols {
			sep := ","
			if i == len(cols)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "    %s %s%s\n", c.row, c.rowType(), sep)
		}
		fmt.Fprintf(&b, ") ENGINE = Kafka('%s', '%s', '%s', 'JSONEachRow', '\\n', '', %d)",
			strings.Join(k.Brokers, ","), k.Topic, group, consumers)
		stmts = append(stmts, b.String())

		b.Reset()
		b.WriteString("CREATE MATERIALIZED VIEW IF NOT EXISTS " + db + "." + chQueueViewName + " TO " + target + " AS\nSELECT\n")
		for i, c := range cols {
			sep := ","
			if i == len(cols)-1 {
				sep = ""
			}
			if c.kind == chFloat64 {
				// The row carries the float's IEEE bits: a text float
				// would not always be parsed back to the same bits.
				fmt.Fprintf(&b, "    reinterpretAsFloat64(reinterpretAsString(%s)) AS %s%s\n", c.row, c.name, sep)
			} else {
				fmt.Fprintf(&b, "    %s%s\n", c.name, sep)
			}
		}
		b.WriteString("FROM " + db + "." + chQueueTable)
		stmts = append(stmts, b.String())
	}
	return stmts
}

// Script is Statements as one SQL script (statements end with ";").
func (s *ClickHouseSchema) Script() string {
	var b strings.Builder
	for _, st := range s.Statements() {
		b.WriteString(st)
		b.WriteString(";\n\n")
	}
	return b.String()
}

// chTimeText formats a nanosecond epoch column expression as the json
// encoder writes times: RFC 3339 in UTC with microseconds (truncated).
func chTimeText(ns string) string {
	return fmt.Sprintf("concat(formatDateTime(toDateTime(intDiv(%[1]s, 1000000000)), '%%Y-%%m-%%dT%%H:%%M:%%S', 'UTC'), '.', "+
		"substring(toString(1000000 + intDiv(%[1]s %% 1000000000, 1000)), 2), 'Z')", ns)
}

// chMergeSelect is the SELECT of the merged view over parts.
//
// Duplicates (the same partial record delivered twice) are removed by the
// dedup step: chDedupTuples (the view's) sums each counter over the
// distinct (sensor, window end, counters…) tuples of the group, an
// idempotent union like the sets'; chDedupFinal reads the table FINAL
// instead (which keeps ClickHouse from pushing a WHERE on address into
// the query); chDedupNone does not dedup (benchmarks only: wrong under
// redelivery until the background merges ran).
func chMergeSelect(parts string, dedup chDedup) string {
	var summed []string // the columns that add, in tuple order
	for _, c := range chSchemaColumns() {
		if c.kind == chUint64 || c.kind == chInt64 {
			if c.name != "start_ns" && c.name != "end_ns" {
				summed = append(summed, c.name)
			}
		}
	}
	sum := func(col string) string { return "sum(" + col + ")" }
	if dedup == chDedupTuples {
		partsExpr := "arrayReduce('groupUniqArray', groupArray((sensor, end_ns, " + strings.Join(summed, ", ") + ")))"
		sum = func(col string) string {
			k := slices.Index(summed, col)
			if k < 0 {
				panic("clickhouse schema: no summed column " + col)
			}
			return fmt.Sprintf("arraySum(arrayMap(t -> tupleElement(t, %d), %s))", k+3, partsExpr)
		}
	}
	var cols []string
	add := func(expr, name string) {
		if expr == name {
			cols = append(cols, "    "+name)
			return
		}
		cols = append(cols, "    "+expr+" AS "+name)
	}
	add("address", "address")
	add(chTimeText("start_ns"), "start_time")
	add(chTimeText("max(end_ns)"), "end_time")
	// time.Duration.Seconds: whole seconds plus the rest in ns / 1e9.
	add("toFloat64(intDiv(max(end_ns) - start_ns, 1000000000)) + toFloat64((max(end_ns) - start_ns) % 1000000000) / 1e9", "interval_size")
	fs := recordFields(0)
	sets := map[string]string{} // json name → zeek name
	for _, f := range fs {
		if f.kind == kindPorts || f.kind == kindAddrs {
			sets[f.json] = f.zeek
		}
	}
	// The union of a set's arrays: groupArrayArray then groupUniqArray
	// over the result is 1.5 to 3 times faster in ClickHouse 18.16 than
	// groupUniqArrayArray (a vector per group instead of a hash set).
	setExpr := func(json string) string {
		return "arraySort(arrayReduce('groupUniqArray', groupArrayArray(" + sets[json] + ")))"
	}
	for _, f := range fs {
		switch f.kind {
		case kindCount:
			if set := setCounts[f.json]; set != "" {
				add("length("+setExpr(set)+")", f.json)
			} else {
				add(sum(f.zeek), f.json)
			}
		case kindPCRAvg, kindPCRMax, kindPCRMin:
			p := "pcr_" + f.svc.String() + "_"
			n := sum(p + "count")
			var v string
			switch f.kind {
			case kindPCRAvg:
				// FixedSum.Float64 / float64(Count), operation for
				// operation: carry Lo's high half into Hi, then
				// (float64(hi)·2³² + float64(lo mod 2³²)) / 2⁶².
				hi := sum(p+"sum_hi") + " + toInt64(bitShiftRight(" + sum(p+"sum_lo") + ", 32))"
				lo := "bitAnd(" + sum(p+"sum_lo") + ", 4294967295)"
				v = "(toFloat64(" + hi + ") * 4294967296. + toFloat64(" + lo + ")) / 4611686018427387904. / toFloat64(" + n + ")"
			case kindPCRMax:
				v = "maxIf(" + p + "max, " + p + "count > 0)"
			default:
				v = "minIf(" + p + "min, " + p + "count > 0)"
			}
			add("if("+n+" = 0, NULL, "+v+")", f.json)
		case kindPorts, kindAddrs:
			add(setExpr(f.json), f.json)
		}
	}
	// The sensors' values, sorted and joined by ",".
	add("arrayStringConcat(arraySort(arrayReduce('groupUniqArray', groupArray(hostname))), ',')", "node_hostname")
	add("arrayStringConcat(arraySort(arrayReduce('groupUniqArray', groupArray(ipaddr))), ',')", "node_ip_address")
	add("arrayStringConcat(arraySort(arrayReduce('groupUniqArray', groupArray(agent_tag))), ',')", "originating_agent_tag")
	add("any(event)", "event_type")
	add("any(forwarder)", "forwarder_type")
	from := parts
	if dedup == chDedupFinal {
		from += " FINAL"
	}
	return "SELECT\n" + strings.Join(cols, ",\n") + "\nFROM " + from + "\nGROUP BY address, start_ns"
}

// chDedup is how a merge removes duplicate partial records.
type chDedup uint8

const (
	chDedupTuples chDedup = iota
	chDedupFinal
	chDedupNone
)
