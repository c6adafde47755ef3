package emit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/internal/testenv"
)

// benchRecords makes n records of distinct addresses (one window), with
// small sets and PCR statistics on some services, as a busy sensor's
// window holds.
func benchRecords(n int) []aggregate.Interval {
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	addrs := func(k int, base [4]byte) []netip.Addr {
		out := make([]netip.Addr, k)
		for i := range out {
			b := base
			b[2], b[3] = byte(r.IntN(256)), byte(r.IntN(256))
			out[i] = netip.AddrFrom4(b)
		}
		return out
	}
	recs := make([]aggregate.Interval, n)
	for i := range recs {
		rec := &recs[i]
		rec.Address = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		rec.StartTime, rec.EndTime = start, start.Add(5*time.Minute)
		rec.ExternalHosts = addrs(r.IntN(6), [4]byte{93, 184})
		rec.InternalHosts = addrs(r.IntN(3), [4]byte{10, 1})
		rec.ExternalClients = addrs(r.IntN(2), [4]byte{203, 0})
		rec.InternalClients = addrs(r.IntN(3), [4]byte{10, 2})
		rec.ExternalPorts = []aggregate.PortKey{aggregate.MakePortKey(6, 443), aggregate.MakePortKey(17, 53)}[:r.IntN(3)]
		rec.InternalPorts = []aggregate.PortKey{aggregate.MakePortKey(6, 445)}[:r.IntN(2)]
		rec.ExternalHostCount, rec.InternalHostCount = uint64(len(rec.ExternalHosts)), uint64(len(rec.InternalHosts))
		rec.ConnectionsCount = uint64(r.IntN(500))
		rec.ExternalOriginatingBytesSent = uint64(r.Int64N(1 << 30))
		for s := range rec.Services {
			if r.IntN(3) == 0 {
				rec.Services[s].ClientConnections = uint64(1 + r.IntN(20))
				for range rec.Services[s].ClientConnections {
					rec.Services[s].PCR.Add(r.Float64()*2 - 1)
				}
			}
		}
		rec.NodeHostname, rec.NodeIPAddress, rec.EventType, rec.ForwarderType = "sensor-a", "192.0.2.10", aggregate.EventType, "zeek"
	}
	return recs
}

// BenchmarkClickHouseEncodeParse is the sensor-side cost of a record on
// the ClickHouse path: the clickhouse row encoding and its parse into the
// insert block.
func BenchmarkClickHouseEncodeParse(b *testing.B) {
	recs := benchRecords(1000)
	enc := NewClickHouseEncoder()
	blk := newCHBlock()
	var buf []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			blk.reset()
		}
		buf = enc.Append(buf[:0], &recs[i%len(recs)])
		if err := blk.appendRow(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClickHouseInsert is records/s from one sensor into a local
// ClickHouse through the whole output (encode, queue, batch, parse,
// native INSERT of up to 20 000 rows), each window of 50 000 hosts
// flushed at its end.
func BenchmarkClickHouseInsert(b *testing.B) {
	srv := testenv.StartClickHouse(b)
	recs := benchRecords(50000)
	o, err := DefaultRegistry().Open(context.Background(), "clickhouse://"+srv.Addr()+"/netbase", OpenParams{},
		OutputOptions{Policy: Block, QueueBytes: 256 << 20})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	began := time.Now()
	for i := 0; i < b.N; i++ {
		rec := &recs[i%len(recs)]
		if i%len(recs) == 0 && i > 0 { // the next window
			if err := o.EndWindow(rec.StartTime, rec.EndTime); err != nil {
				b.Fatal(err)
			}
			for j := range recs {
				recs[j].StartTime, recs[j].EndTime = recs[j].EndTime, recs[j].EndTime.Add(5*time.Minute)
			}
		}
		if err := o.WriteInterval(rec); err != nil {
			b.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := o.Close(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(began)
	b.StopTimer()
	if st := o.Stats(); st.Delivered != uint64(b.N) {
		b.Fatalf("%d of %d records delivered", st.Delivered, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
}

// benchDayHosts is the hosts of BenchmarkClickHouseMergedView,
// $NETBASED_CH_BENCH_HOSTS (bench/clickhouse.sh sets 50 000). Unset, the
// benchmark does not run: filling a day takes minutes (make bench).
func benchDayHosts(b *testing.B) int {
	v := os.Getenv("NETBASED_CH_BENCH_HOSTS")
	if v == "" {
		b.Skip("set NETBASED_CH_BENCH_HOSTS (e.g. 50000, as bench/clickhouse.sh does) to fill a day of records and time the merged view")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("NETBASED_CH_BENCH_HOSTS=%q", v)
	}
	return n
}

// benchFillDay fills DB.interval_parts with a day of 5-minute windows
// (288) for hosts addresses, each window's record split over two sensors,
// generated inside ClickHouse (INSERT … SELECT): small sets, some PCR
// statistics, distinct per (host, window, sensor).
func benchFillDay(b *testing.B, srv *testenv.ClickHouse, db string, hosts int) {
	b.Helper()
	s := ClickHouseSchema{Database: db}
	for _, st := range s.Statements() {
		srv.Query(st)
	}
	var cols, exprs []string
	day := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC).UnixNano()
	for _, c := range chSchemaColumns() {
		// h: host, w: window, s: sensor (0, 1); x(k) a hash of them.
		var e string
		switch {
		case c.name == "address":
			e = "IPv4NumToString(toUInt32(167772160 + h))"
		case c.name == "start_ns":
			e = fmt.Sprintf("toInt64(%d + w * 300000000000)", day)
		case c.name == "end_ns":
			e = fmt.Sprintf("toInt64(%d + (w + 1) * 300000000000)", day)
		case c.name == "sensor":
			e = "concat('sensor-', toString(s), '/192.0.2.1', toString(s), '/')"
		case c.name == "hostname":
			e = "concat('sensor-', toString(s))"
		case c.name == "ipaddr":
			e = "concat('192.0.2.1', toString(s))"
		case c.name == "event":
			e = "'netbase'"
		case c.name == "forwarder":
			e = "'zeek'"
		case c.kind == chString:
			e = "''"
		case strings.HasSuffix(c.name, "_count") && strings.HasPrefix(c.name, "pcr_"):
			e = "x(1) % 4"
		case strings.HasSuffix(c.name, "_sum_hi"):
			e = "toInt64(x(1) % 4) * toInt64(x(2) % 1000000000) - 500000000"
		case strings.HasSuffix(c.name, "_sum_lo"):
			e = "x(3) % 4294967296"
		case c.kind == chFloat64:
			e = "(toFloat64(x(4) % 2000) - 1000) / 1000"
		case c.kind == chUint64:
			e = "x(5) % 1000"
		case c.kind == chStrings && strings.HasSuffix(c.name, "_ports"):
			e = "arrayMap(i -> concat(toString(x(i) % 2000), '/tcp'), range(toUInt32(x(6) % 3)))"
		case c.kind == chStrings:
			e = "arrayMap(i -> IPv4NumToString(toUInt32(1572395042 + x(i) % 100000)), range(toUInt32(x(7) % 6)))"
		}
		// x(k): a hash of host, window, sensor, column and k.
		e = strings.NewReplacer("x(", fmt.Sprintf("cityHash64(h, w, s, %d, ", len(cols))).Replace(e)
		cols = append(cols, c.name)
		exprs = append(exprs, e+" AS "+c.name)
	}
	began := time.Now()
	for w := 0; w < 288; w += 48 {
		q := fmt.Sprintf("INSERT INTO %s.interval_parts (%s) SELECT %s FROM (SELECT intDiv(number, 2) %% %d AS h, %d + intDiv(number, %d) AS w, number %% 2 AS s FROM system.numbers LIMIT %d)",
			db, strings.Join(cols, ", "), strings.Join(exprs, ", "), hosts, w, 2*hosts, 2*hosts*48)
		srv.Query(q)
	}
	b.Logf("filled %s: %d hosts × 288 windows × 2 sensors = %d partial records in %s", db, hosts, hosts*288*2, time.Since(began).Round(time.Second))
}

// BenchmarkClickHouseMergedView is the merged view's query time over a
// day of 5-minute windows for 50 000 hosts (two sensors' partial records
// each): the whole day (every field of 14.4 M records, FORMAT Null), one
// window of every host, one host's day. The -dedup variants compare the
// dedup step: FINAL (the view), an argMax-style GROUP BY per partial
// record, and none (wrong under redelivery: the floor).
func BenchmarkClickHouseMergedView(b *testing.B) {
	hosts := benchDayHosts(b)
	srv := testenv.StartClickHouse(b)
	benchFillDay(b, srv, "nb", hosts)
	// Alternative dedup steps, for the comparison.
	final := chMergeSelect("nb.interval_parts", chDedupFinal)
	tuples := chMergeSelect("nb.interval_parts", chDedupTuples) // the view's
	var anyCols []string
	for _, c := range chSchemaColumns() {
		switch c.name {
		case "address", "start_ns", "sensor", "end_ns":
			anyCols = append(anyCols, c.name)
		default:
			anyCols = append(anyCols, "any("+c.name+") AS "+c.name)
		}
	}
	none := chMergeSelect("nb.interval_parts", chDedupNone)
	groupDedup := strings.Replace(none, "FROM nb.interval_parts\n",
		"FROM (SELECT "+strings.Join(anyCols, ", ")+" FROM nb.interval_parts GROUP BY address, start_ns, sensor, end_ns)\n", 1)
	srv.Query("CREATE VIEW nb.intervals_final AS " + final)
	srv.Query("CREATE VIEW nb.intervals_nodedup AS " + none)
	srv.Query("CREATE VIEW nb.intervals_groupdedup AS " + groupDedup)
	oneWindow := chTimeTextGo(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	only := os.Getenv("NETBASED_CH_BENCH_QUERIES") // a space-separated subset
	for _, q := range []struct{ name, sql string }{
		// Every field of every merged record of the day.
		{"day", "SELECT * FROM nb.intervals FORMAT Null"},
		{"day-dedup=final", "SELECT * FROM nb.intervals_final FORMAT Null"},
		{"day-dedup=group", "SELECT * FROM nb.intervals_groupdedup FORMAT Null"},
		{"day-dedup=none", "SELECT * FROM nb.intervals_nodedup FORMAT Null"},
		// 18.16 does not push a WHERE into a view: as slow as the day.
		{"window-view", "SELECT * FROM nb.intervals WHERE start_time = '" + oneWindow + "' FORMAT Null"},
		{"host-view", "SELECT * FROM nb.intervals WHERE address = '10.0.1.44' FORMAT Null"},
		// The view's SELECT as a subquery: the WHERE is pushed into it.
		{"window-subquery", "SELECT * FROM (" + tuples + ") WHERE start_time = '" + oneWindow + "' FORMAT Null"},
		{"host-subquery", "SELECT * FROM (" + tuples + ") WHERE address = '10.0.1.44' FORMAT Null"},
		{"host-subquery-dedup=final", "SELECT * FROM (" + final + ") WHERE address = '10.0.1.44' FORMAT Null"},
		{"day-count", "SELECT count(), sum(connections_count), sum(external_host_count) FROM nb.intervals FORMAT Null"},
	} {
		if only != "" && !slices.Contains(strings.Fields(only), q.name) {
			continue
		}
		b.Run(q.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := srv.TryQueryWith(q.sql, "enable_optimize_predicate_expression=1&max_memory_usage=16000000000&max_bytes_before_external_group_by=6000000000"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// chTimeTextGo is the json encoder's time text.
func chTimeTextGo(t time.Time) string { return string(appendRFC3339(nil, t)) }
