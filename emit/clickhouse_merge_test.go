package emit

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/internal/clickhousetest"
	"github.com/netbased/netbased/internal/testenv"
)

// splitTraffic is the records of a traffic split over sensors by
// connection, and of one sensor that saw it all.
type splitTraffic struct {
	// whole is the json records of the sensor that saw everything.
	whole []byte
	// rows are each sensor's records in the clickhouse format, one body
	// per record, in emission order.
	rows [][][]byte
	// sensors names the sensors (node_hostname).
	sensors []string
}

// recordSink encodes every record it receives with enc, one body each.
type recordSink struct {
	enc    Encoder
	bodies [][]byte
	all    []byte
}

func (s *recordSink) WriteInterval(r *aggregate.Interval) error {
	n := len(s.all)
	s.all = s.enc.Append(s.all, r)
	s.bodies = append(s.bodies, s.all[n:len(s.all):len(s.all)])
	return nil
}

func (s *recordSink) EndWindow(_, _ time.Time) error { return nil }

// genConns makes n random ended connections between local hosts (IPv4 and
// IPv6) and external ones, over every transport, service, state and byte
// pattern the record counts, ending over about span after start, sorted by
// end time.
func genConns(seed uint64, n int, start time.Time, span time.Duration) []flow.Conn {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	local := func() netip.Addr {
		switch r.IntN(4) {
		case 0:
			return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(1 + r.IntN(20))})
		case 1:
			return netip.AddrFrom4([4]byte{192, 168, 1, byte(1 + r.IntN(30))})
		}
		return netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(3)), byte(1 + r.IntN(60))})
	}
	external := func() netip.Addr {
		if r.IntN(5) == 0 {
			return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(r.IntN(3)), byte(1 + r.IntN(200))})
		}
		return netip.AddrFrom4([4]byte{byte(1 + r.IntN(100)), 8, byte(r.IntN(4)), byte(1 + r.IntN(250))})
	}
	services := [][]string{nil, nil, {"dns"}, {"http"}, {"ssl"}, {"smb"}, {"rdp"}, {"ssl", "http"}, {"ftp"}, {"rdp", "ssl"}}
	states := []string{"SF", "SF", "S0", "REJ", "S1", "RSTO", "RSTR", "SH", "OTH", "S3"}
	protos := []uint8{6, 6, 6, 17, 17, 1, 58, 47}
	ports := []uint16{53, 80, 443, 445, 3389, 22, 8080, 5353, 0, 3, 49152, 1024, 1023}
	conns := make([]flow.Conn, n)
	for i := range conns {
		c := &conns[i]
		end := start.Add(time.Duration(r.Int64N(int64(span))))
		c.UID = fmt.Sprintf("C%d", i)
		c.End = end
		c.Start = end.Add(-time.Duration(r.Int64N(int64(time.Minute))))
		c.LastTime = end
		switch r.IntN(5) {
		case 0, 1: // outbound
			c.Orig, c.Resp = local(), external()
		case 2, 3: // internal (sometimes a host to itself)
			c.Orig, c.Resp = local(), local()
		default: // inbound
			c.Orig, c.Resp = external(), local()
		}
		c.IPProto = protos[r.IntN(len(protos))]
		c.OrigPort = uint16(1024 + r.IntN(60000))
		c.RespPort = ports[r.IntN(len(ports))]
		if r.IntN(4) == 0 {
			c.RespPort = uint16(r.IntN(65536))
		}
		c.Services = services[r.IntN(len(services))]
		c.ConnState = states[r.IntN(len(states))]
		switch r.IntN(6) {
		case 0:
			c.OrigBytes, c.RespBytes = 0, 0
		case 1:
			c.OrigBytes, c.RespBytes = uint64(r.IntN(500)), 0
		case 2:
			c.OrigBytes, c.RespBytes = 0, uint64(r.IntN(1<<20))
		case 3:
			c.OrigBytes = c.RespBytes
		default:
			c.OrigBytes, c.RespBytes = uint64(r.Int64N(1<<34)), uint64(r.Int64N(1<<30))
		}
		c.OrigPkts, c.RespPkts = uint64(1+r.IntN(1000)), uint64(r.IntN(1000))
	}
	slices.SortStableFunc(conns, func(a, b flow.Conn) int { return a.End.Compare(b.End) })
	return conns
}

// splitConns feeds conns to one aggregator and, split by connection
// (pick), to len(sensors) aggregators that share its network clock (every
// sensor advances with every connection, as live sensors share the
// clock), with 5-minute windows. Each sensor's records go to its
// clickhouse-row recordSink.
func splitConns(t testing.TB, conns []flow.Conn, sensors []string, pick func(i int) int) *splitTraffic {
	t.Helper()
	outs := make([]aggregate.Output, len(sensors))
	sinks := make([]*recordSink, len(sensors))
	for i := range sensors {
		sinks[i] = &recordSink{enc: NewClickHouseEncoder()}
		outs[i] = sinks[i]
	}
	st := feedSensors(t, conns, sensors, outs, pick, nil)
	for _, o := range sinks {
		st.rows = append(st.rows, o.bodies)
	}
	return st
}

// feedSensors runs the aggregators of splitConns with the sensors'
// records going to outs; hook, if set, runs before connection i.
func feedSensors(t testing.TB, conns []flow.Conn, sensors []string, outs []aggregate.Output, pick func(i int) int, hook func(i int)) *splitTraffic {
	t.Helper()
	cfg := aggregate.Config{Interval: 5 * time.Minute, NodeHostname: "whole", NodeIPAddress: "192.0.2.1", OriginatingAgentTag: "all"}
	whole := &recordSink{enc: NewEncoder(FormatJSON, EncoderOptions{})}
	wa, err := aggregate.New(cfg, whole)
	if err != nil {
		t.Fatal(err)
	}
	aggs := make([]*aggregate.Aggregator, len(sensors))
	for i, name := range sensors {
		c := cfg
		c.NodeHostname, c.NodeIPAddress, c.OriginatingAgentTag = name, fmt.Sprintf("192.0.2.%d", 10+i), "tag-"+name
		if aggs[i], err = aggregate.New(c, outs[i]); err != nil {
			t.Fatal(err)
		}
	}
	for i := range conns {
		if hook != nil {
			hook(i)
		}
		c := &conns[i]
		if err := wa.Add(c); err != nil {
			t.Fatal(err)
		}
		k := pick(i)
		for j, a := range aggs {
			if j == k {
				err = a.Add(c)
			} else {
				err = a.Advance(c.End)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	last := conns[len(conns)-1].End.Add(1500 * time.Millisecond)
	for _, a := range append(aggs, wa) {
		if err := a.Advance(last); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return &splitTraffic{whole: whole.all, sensors: sensors}
}

// chTestTraffic is the traffic of the merge tests: 20 000 connections
// over about 17 minutes (four windows, the last one partial), split
// randomly over two sensors.
func chTestTraffic(t testing.TB) *splitTraffic {
	conns, pick := chTestConns()
	return splitConns(t, conns, []string{"sensor-a", "sensor-b"}, pick)
}

// chTestConns are the connections of chTestTraffic and their split.
func chTestConns() ([]flow.Conn, func(i int) int) {
	start := time.Date(2026, 11, 27, 3, 1, 7, 123456789, time.UTC)
	conns := genConns(7, 20000, start, 17*time.Minute)
	r := rand.New(rand.NewPCG(3, 4))
	picks := make([]int, len(conns))
	for i := range picks {
		picks[i] = r.IntN(2)
	}
	return conns, func(i int) int { return picks[i] }
}

// insertRows inserts bodies in blocks of batch rows.
func insertRows(t testing.TB, c *clickHouseClient, bodies [][]byte, batch int) {
	t.Helper()
	blk := newCHBlock()
	for len(bodies) > 0 {
		n := min(batch, len(bodies))
		blk.reset()
		for _, b := range bodies[:n] {
			if err := blk.appendRow(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.insert(context.Background(), blk); err != nil {
			t.Fatal(err)
		}
		bodies = bodies[n:]
	}
}

// checkMerged compares the merged view with the whole traffic's json
// records, every field, the node fields apart (they must name the
// sensors that wrote each record).
func checkMerged(t testing.TB, addr, view string, st *splitTraffic) clickhousetest.Result {
	t.Helper()
	fromView, err := clickhousetest.QueryView(context.Background(), addr, view)
	if err != nil {
		t.Fatal(err)
	}
	var got []clickhousetest.Row
	for _, g := range fromView {
		if a, _ := g["address"].(string); !strings.HasPrefix(a, kafkaSentinelPrefix) {
			got = append(got, g)
		}
	}
	want, err := clickhousetest.ParseJSON(st.whole)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 {
		t.Fatal("the whole traffic gave no records")
	}
	res := clickhousetest.Compare(got, want, "node_hostname", "node_ip_address", "originating_agent_tag")
	if !res.OK() {
		t.Fatalf("merged view %s against one sensor's records: %s", view, res.Summary())
	}
	all := strings.Join(st.sensors, ",")
	both := 0
	for _, g := range got {
		if g["node_hostname"] == all {
			both++
		}
		h, _ := g["node_hostname"].(string)
		names := strings.Split(h, ",")
		if !slices.IsSorted(names) || len(names) == 0 {
			t.Fatalf("record %s: node_hostname %q does not list its sensors in order", g.Key(), h)
		}
		for _, n := range names {
			if !slices.Contains(st.sensors, n) {
				t.Fatalf("record %s: node_hostname %q names a sensor not in %q", g.Key(), h, all)
			}
		}
	}
	if both == 0 {
		t.Fatal("no record merges several sensors' partial records: the test proves nothing")
	}
	t.Logf("%s: %d of %d records merge partial records of every sensor", view, both, len(got))
	return res
}

func TestClickHouseEncoderRowRoundTrip(t *testing.T) {
	st := chTestTraffic(t)
	blk := newCHBlock()
	for _, rows := range st.rows {
		for _, b := range rows {
			if err := blk.appendRow(b); err != nil {
				t.Fatalf("%v in %s", err, b)
			}
		}
	}
	if blk.rows == 0 {
		t.Fatal("no rows")
	}
	if err := blk.appendRow([]byte(`{"address":"10.0.0.1","start_ns":x}`)); err == nil {
		t.Fatal("a malformed row was accepted")
	}
	for i, c := range blk.cols {
		if n := chColumnLen(&blk.data[i], c.kind); n != blk.rows {
			t.Fatalf("column %s has %d values for %d rows after a bad row", c.name, n, blk.rows)
		}
	}
}

func chColumnLen(d *chColumnData, k chKind) int {
	switch k {
	case chInt64:
		return len(d.i)
	case chUint64:
		return len(d.u)
	case chFloat64:
		return len(d.f)
	case chStrings:
		return len(d.a)
	}
	return len(d.s)
}

// TestClickHouseMergeDirect inserts two sensors' partial records over the
// native protocol and compares the merged view with the records of one
// sensor that saw everything; then redelivers and compares again.
func TestClickHouseMergeDirect(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	st := chTestTraffic(t)
	c, err := newClickHouseClient(ClickHouseConfig{Hosts: []string{srv.Addr()}, Schema: ClickHouseSchema{Database: "netbase"}, CreateSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, rows := range st.rows {
		insertRows(t, c, rows, 700)
	}
	res := checkMerged(t, srv.Addr(), "netbase.intervals", st)
	t.Logf("direct: %d+%d partial records; %s", len(st.rows[0]), len(st.rows[1]), res.Summary())

	// Redelivery: a batch twice, and one sensor's records all over again,
	// with the background merges stopped so that the duplicates stay in
	// the table and the view's dedup step must remove them.
	srv.Query("SYSTEM STOP MERGES netbase.interval_parts")
	insertRows(t, c, st.rows[0][100:800], 700)
	insertRows(t, c, st.rows[1], 5000)
	stored := strings.TrimSpace(srv.Query("SELECT count() FROM netbase.interval_parts"))
	if want := fmt.Sprint(len(st.rows[0]) + len(st.rows[1]) + 700 + len(st.rows[1])); stored != want {
		t.Fatalf("%s rows stored after the redelivery, want %s (duplicates included)", stored, want)
	}
	res = checkMerged(t, srv.Addr(), "netbase.intervals", st)
	t.Logf("after redelivery (%s rows stored, duplicates included): %s", stored, res.Summary())
}

// TestClickHouseMergeCluster inserts into a Distributed table over two
// shards (two servers) and reads the merged view through either server.
func TestClickHouseMergeCluster(t *testing.T) {
	srvs := testenv.StartClickHouseCluster(t, "netbased", 2)
	st := chTestTraffic(t)
	hosts := []string{srvs[0].Addr(), srvs[1].Addr()}
	c, err := newClickHouseClient(ClickHouseConfig{Hosts: hosts, Schema: ClickHouseSchema{Database: "netbase", Cluster: "netbased"}, CreateSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, rows := range st.rows {
		insertRows(t, c, rows, 1000)
	}
	for i, s := range srvs {
		n := strings.TrimSpace(s.Query("SELECT count() FROM netbase.interval_parts"))
		if n == "0" {
			t.Fatalf("shard %d holds no partial record: the table is not sharded", i)
		}
		t.Logf("shard %d: %s partial records", i, n)
		// No address has partial records on both shards.
		other := srvs[1-i]
		mine := s.Query("SELECT DISTINCT address FROM netbase.interval_parts ORDER BY address")
		theirs := other.Query("SELECT DISTINCT address FROM netbase.interval_parts ORDER BY address")
		for _, a := range strings.Fields(mine) {
			if slices.Contains(strings.Fields(theirs), a) {
				t.Fatalf("address %s has partial records on both shards", a)
			}
		}
	}
	for _, s := range srvs {
		res := checkMerged(t, s.Addr(), "netbase.intervals", st)
		t.Logf("cluster, read through %s: %s", s.Addr(), res.Summary())
	}
	insertRows(t, c, st.rows[0], 1000) // redelivered
	res := checkMerged(t, srvs[1].Addr(), "netbase.intervals", st)
	t.Logf("cluster after redelivery: %s", res.Summary())
}

// produceRows produces bodies to topic, keyed by address as the Kafka
// output does, and waits for the acknowledgements.
func produceRows(t testing.TB, cl *kgo.Client, topic string, bodies [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, b := range bodies {
		addr, _, _ := strings.Cut(strings.TrimPrefix(string(b), `{"address":"`), `"`)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(addr), Value: b})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// kafkaSentinelPrefix starts the addresses of the sentinel records (TEST-NET-2,
// never in the generated traffic).
const kafkaSentinelPrefix = "198.51.100."

// waitKafkaRows waits until ClickHouse consumed topic up to now and wrote
// what it consumed: it produces a sentinel record (address
// 198.51.100.<wave*10+partition>) to each of the 3 partitions and waits
// until all are in interval_parts (each partition is consumed in order,
// and its blocks written in order). The committed offsets alone do not
// say it: ClickHouse 18.16 commits before its last block is written.
func waitKafkaRows(t testing.TB, srv *testenv.ClickHouse, table string, brokers []string, topic string, wave int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	enc := NewClickHouseEncoder()
	var recs []*kgo.Record
	var want []string
	for p := int32(0); p < 3; p++ {
		r := aggregate.Interval{Address: netip.MustParseAddr(fmt.Sprintf("%s%d", kafkaSentinelPrefix, wave*10+int(p))),
			StartTime: time.Unix(0, 0), EndTime: time.Unix(300, 0), NodeHostname: "sentinel"}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: enc.Append(nil, &r)})
		want = append(want, r.Address.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("SELECT uniqExact(address) FROM %s WHERE address IN ('%s')", table, strings.Join(want, "','"))
	deadline := time.Now().Add(90 * time.Second)
	for strings.TrimSpace(srv.Query(q)) != "3" {
		if time.Now().After(deadline) {
			t.Fatalf("ClickHouse did not consume topic %s in 90 s", topic)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClickHouseMergeKafka has the sensors produce their rows to Kafka
// (kfake); ClickHouse's Kafka engine consumes them into the same merged
// view. Redelivered messages change nothing.
func TestClickHouseMergeKafka(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	kc := newKafkaCluster(t, kfake.SeedTopics(3, "netbase-rows"))
	cl := newKafkaClient(t, kc)
	schema := ClickHouseSchema{Database: "netbase", Kafka: &ClickHouseKafka{Brokers: kc.ListenAddrs(), Topic: "netbase-rows"}}
	for _, stmt := range schema.Statements() {
		srv.Query(stmt)
	}
	// The sensors write --out kafka://…/netbase-rows --format clickhouse.
	conns, pick := chTestConns()
	sensors := []string{"sensor-a", "sensor-b"}
	outs := make([]aggregate.Output, len(sensors))
	opened := make([]*Output, len(sensors))
	for i := range sensors {
		o, err := DefaultRegistry().Open(context.Background(), "kafka://"+kc.ListenAddrs()[0]+"/netbase-rows",
			OpenParams{Format: FormatClickHouse}, OutputOptions{Policy: Block})
		if err != nil {
			t.Fatal(err)
		}
		opened[i], outs[i] = o, o
	}
	st := feedSensors(t, conns, sensors, outs, pick, nil)
	for _, o := range opened {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := o.Close(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	waitKafkaRows(t, srv, "netbase.interval_parts", kc.ListenAddrs(), "netbase-rows", 1)
	res := checkMerged(t, srv.Addr(), "netbase.intervals", st)
	t.Logf("kafka: %s", res.Summary())

	// At least once: the same messages again.
	rows := chTestTraffic(t).rows
	produceRows(t, cl, "netbase-rows", rows[0][:1000])
	produceRows(t, cl, "netbase-rows", rows[1])
	waitKafkaRows(t, srv, "netbase.interval_parts", kc.ListenAddrs(), "netbase-rows", 2)
	res = checkMerged(t, srv.Addr(), "netbase.intervals", st)
	t.Logf("kafka after redelivery: %s", res.Summary())
}

// TestClickHouseOutputServerRestart runs two sensors' records through the
// real clickhouse:// outputs (queue, retries) while ClickHouse is killed
// mid-stream and started again: the merged view still equals the whole
// traffic's records — nothing lost, nothing doubled.
func TestClickHouseOutputServerRestart(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	conns, pick := chTestConns()
	sensors := []string{"sensor-a", "sensor-b"}
	dest := "clickhouse://default@" + srv.Addr() + "/netbase?dial_timeout=1s"
	outs := make([]aggregate.Output, len(sensors))
	opened := make([]*Output, len(sensors))
	for i := range sensors {
		o, err := DefaultRegistry().Open(context.Background(), dest, OpenParams{Format: FormatJSON},
			OutputOptions{Policy: Block, BackoffMin: 20 * time.Millisecond, BackoffMax: 300 * time.Millisecond, SpoolDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		opened[i], outs[i] = o, o
	}
	stopAt, startAt := len(conns)*2/5, len(conns)*3/4
	var deliveredAtStop uint64
	st := feedSensors(t, conns, sensors, outs, pick, func(i int) {
		switch i {
		case stopAt:
			// Kill the server as soon as the first records are in,
			// without waiting for the outputs: inserts may be in flight.
			deadline := time.Now().Add(30 * time.Second)
			for deliveredAtStop == 0 {
				for _, o := range opened {
					deliveredAtStop += o.Stats().Delivered
				}
				if time.Now().After(deadline) {
					t.Fatal("nothing delivered in 30 s")
				}
				time.Sleep(time.Millisecond)
			}
			srv.Stop()
		case startAt:
			time.Sleep(500 * time.Millisecond) // let the outputs fail and retry
			srv.Start()
		}
	})
	for _, o := range opened {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err := o.Close(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	var delivered, retried, dropped uint64
	for _, o := range opened {
		s := o.Stats()
		delivered, retried, dropped = delivered+s.Delivered, retried+s.Retried, dropped+s.DroppedTotal()
	}
	if deliveredAtStop == 0 || retried == 0 {
		t.Fatalf("the restart did not interrupt delivery (delivered before the stop %d, retried %d)", deliveredAtStop, retried)
	}
	if dropped != 0 {
		t.Fatalf("%d records dropped", dropped)
	}
	res := checkMerged(t, srv.Addr(), "netbase.intervals", st)
	t.Logf("server killed after %d records were delivered and started again: %d delivered, %d re-sends, 0 dropped; stored rows %s (distinct partial records %s); %s",
		deliveredAtStop, delivered, retried, strings.TrimSpace(srv.Query("SELECT count() FROM netbase.interval_parts")),
		strings.TrimSpace(srv.Query("SELECT count() FROM netbase.interval_parts FINAL")), res.Summary())
}

// TestClickHousePCRAverageBits checks the view's average expression
// against aggregate.PCR: many sensors' partial statistics (up to 200 000
// samples, sums of either sign, Lo carrying into Hi) merged in ClickHouse
// give PCR.Average of the merged statistics, bit for bit, and min/max.
func TestClickHousePCRAverageBits(t *testing.T) {
	srv := testenv.StartClickHouse(t)
	c, err := newClickHouseClient(ClickHouseConfig{Hosts: []string{srv.Addr()}, Schema: ClickHouseSchema{Database: "nb"}, CreateSchema: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := rand.New(rand.NewPCG(11, 12))
	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	enc := NewClickHouseEncoder()
	blk := newCHBlock()
	want := map[string]aggregate.PCR{}
	for h := range 3000 {
		addr := netip.AddrFrom4([4]byte{10, 9, byte(h >> 8), byte(h)})
		var merged aggregate.PCR
		for s := range 1 + r.IntN(4) {
			rec := aggregate.Interval{Address: addr, StartTime: start, EndTime: start.Add(5 * time.Minute),
				NodeHostname: fmt.Sprintf("s%d", s), EventType: aggregate.EventType}
			n := r.IntN(20)
			if h%500 == 0 {
				n = 200000
			}
			bias := r.Float64()*2 - 1
			for range n {
				v := bias + (r.Float64()-0.5)*0.2
				v = max(-1, min(1, v))
				if r.IntN(10) == 0 {
					v = float64(r.IntN(3) - 1) // exactly -1, 0 or 1
				}
				rec.Services[aggregate.DNS].PCR.Add(v)
			}
			merged.Merge(&rec.Services[aggregate.DNS].PCR)
			if err := blk.appendRow(enc.Append(nil, &rec)); err != nil {
				t.Fatal(err)
			}
		}
		want[addr.String()] = merged
	}
	if err := c.insert(context.Background(), blk); err != nil {
		t.Fatal(err)
	}
	got, err := clickhousetest.QueryView(context.Background(), srv.Addr(), "nb.intervals")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d merged records, want %d", len(got), len(want))
	}
	compared := 0
	for _, g := range got {
		p := want[g["address"].(string)]
		for _, f := range []struct {
			name string
			v    float64
		}{{"dns_producer_consumer_ratio_average", p.Average()}, {"dns_producer_consumer_ratio_min", p.Min}, {"dns_producer_consumer_ratio_max", p.Max}} {
			gv := g[f.name]
			if p.Count == 0 {
				if gv != nil {
					t.Fatalf("%s: %s = %v without samples", g["address"], f.name, gv)
				}
				continue
			}
			if x, ok := gv.(float64); !ok || math.Float64bits(x) != math.Float64bits(f.v) {
				t.Fatalf("%s: %s = %v, aggregate.PCR says %v (%d samples)", g["address"], f.name, gv, f.v, p.Count)
			}
			compared++
		}
	}
	t.Logf("%d PCR statistics of %d merged records equal aggregate.PCR's bit for bit", compared, len(got))
}

// TestClickHouseMergeKafkaCluster is the Kafka path on a two-shard
// cluster: both servers consume the topic in one consumer group and write
// through the Distributed table; the merged view is the same.
func TestClickHouseMergeKafkaCluster(t *testing.T) {
	srvs := testenv.StartClickHouseCluster(t, "netbased", 2)
	kc := newKafkaCluster(t, kfake.SeedTopics(3, "netbase-rows"))
	cl := newKafkaClient(t, kc)
	schema := ClickHouseSchema{Database: "netbase", Cluster: "netbased", Kafka: &ClickHouseKafka{Brokers: kc.ListenAddrs(), Topic: "netbase-rows"}}
	for _, s := range srvs {
		for _, stmt := range schema.Statements() {
			s.Query(stmt)
		}
	}
	st := chTestTraffic(t)
	for _, rows := range st.rows {
		produceRows(t, cl, "netbase-rows", rows)
	}
	waitKafkaRows(t, srvs[0], "netbase.interval_parts_all", kc.ListenAddrs(), "netbase-rows", 1)
	for i, s := range srvs {
		t.Logf("shard %d: %s partial records stored", i, strings.TrimSpace(s.Query("SELECT count() FROM netbase.interval_parts")))
	}
	res := checkMerged(t, srvs[1].Addr(), "netbase.intervals", st)
	t.Logf("kafka, two shards: %s", res.Summary())
	produceRows(t, cl, "netbase-rows", st.rows[0])
	waitKafkaRows(t, srvs[0], "netbase.interval_parts_all", kc.ListenAddrs(), "netbase-rows", 2)
	res = checkMerged(t, srvs[0].Addr(), "netbase.intervals", st)
	t.Logf("kafka, two shards, after redelivery: %s", res.Summary())
}
