package aggregate_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
	"github.com/netbased/netbased/site"
)

// collector keeps copies of the records and the window ends.
type collector struct {
	recs    []aggregate.Interval
	windows [][2]time.Time
}

func (c *collector) WriteInterval(r *aggregate.Interval) error {
	cp := *r
	cp.ExternalPorts = append([]aggregate.PortKey(nil), r.ExternalPorts...)
	cp.InternalPorts = append([]aggregate.PortKey(nil), r.InternalPorts...)
	for _, p := range []*[]netip.Addr{&cp.ExternalHosts, &cp.ExternalClients, &cp.InternalHosts, &cp.InternalClients} {
		*p = append([]netip.Addr(nil), *p...)
	}
	c.recs = append(c.recs, cp)
	return nil
}

func (c *collector) EndWindow(s, e time.Time) error {
	c.windows = append(c.windows, [2]time.Time{s, e})
	return nil
}

func (c *collector) find(t *testing.T, addr string) *aggregate.Interval {
	t.Helper()
	for i := range c.recs {
		if c.recs[i].Address.String() == addr {
			return &c.recs[i]
		}
	}
	t.Fatalf("no record for %s (have %d records)", addr, len(c.recs))
	return nil
}

func (c *collector) has(addr string) bool {
	for i := range c.recs {
		if c.recs[i].Address.String() == addr {
			return true
		}
	}
	return false
}

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

type connSpec struct {
	orig, resp string
	rport      uint16
	proto      uint8
	state      string
	services   string
	ob, rb     uint64
	op, rp     uint64
	end        time.Duration // after t0
}

func (s connSpec) conn() *flow.Conn {
	c := &flow.Conn{
		Orig: netip.MustParseAddr(s.orig), Resp: netip.MustParseAddr(s.resp),
		OrigPort: 40000, RespPort: s.rport, IPProto: s.proto, ConnState: s.state,
		OrigBytes: s.ob, RespBytes: s.rb, OrigPkts: s.op, RespPkts: s.rp,
	}
	if c.IPProto == 0 {
		c.IPProto = 6
	}
	if s.services != "" {
		c.Services = strings.Split(s.services, ",")
	}
	c.End = t0.Add(s.end)
	c.Start = c.End.Add(-time.Second)
	c.LastTime = c.End
	return c
}

func run(t *testing.T, cfg aggregate.Config, specs []connSpec) *collector {
	t.Helper()
	col := &collector{}
	a, err := aggregate.New(cfg, col)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if err := a.Add(s.conn()); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	return col
}

func addrs(ss ...string) []netip.Addr {
	out := []netip.Addr{}
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func ports(ss ...string) []string { return append([]string{}, ss...) }

func portStrings(ks []aggregate.PortKey) []string {
	out := []string{}
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

func TestUpdateRules(t *testing.T) {
	col := run(t, aggregate.Config{}, []connSpec{
		// outbound, SF, ssl, low port
		{orig: "10.0.0.1", resp: "8.8.8.8", rport: 443, state: "SF", services: "SSL", ob: 100, rb: 300, op: 5, rp: 6},
		// outbound, REJ, high port, no service
		{orig: "10.0.0.1", resp: "8.8.4.4", rport: 8080, state: "REJ", op: 1, rp: 1},
		// outbound, udp dns to the same host: a new port key, same host
		{orig: "10.0.0.1", resp: "8.8.8.8", rport: 53, proto: 17, state: "S0", services: "dns", ob: 40, op: 1},
		// inbound to 10.0.0.1
		{orig: "1.2.3.4", resp: "10.0.0.1", rport: 22, state: "REJ", op: 1, rp: 1},
		// internal 10.0.0.1 -> 10.0.0.2 dns over udp, rejected state counted internally
		{orig: "10.0.0.1", resp: "10.0.0.2", rport: 53, proto: 17, state: "REJ", services: "dns", ob: 30, rb: 90, op: 1, rp: 1},
		// internal to a broadcast-looking address: not monitored, still internal for the originator
		{orig: "10.0.0.1", resp: "10.0.0.255", rport: 137, proto: 17, state: "S0", services: "dns", ob: 50, op: 1},
		// self-connection counts once
		{orig: "10.0.0.3", resp: "10.0.0.3", rport: 5000, state: "SF", services: "http,ssl", ob: 10, rb: 10, op: 2, rp: 2},
		// ICMP echo: 0/icmp, low port
		{orig: "10.0.0.2", resp: "10.0.0.1", rport: 0, proto: 1, state: "OTH", ob: 64, rb: 64, op: 1, rp: 1},
		// other IP protocol
		{orig: "10.0.0.2", resp: "224.0.0.5", rport: 0, proto: 89, state: "OTH", op: 1},
		// quic,ssl counts as ssl; dtls alone does not; any service counts for *_to_service
		{orig: "10.0.0.2", resp: "9.9.9.9", rport: 443, proto: 17, state: "SF", services: "quic,ssl", ob: 10, rb: 30},
		{orig: "10.0.0.2", resp: "9.9.9.9", rport: 4433, proto: 17, state: "SF", services: "dtls", ob: 10, rb: 30},
		// neither end monitored
		{orig: "1.1.1.1", resp: "8.8.8.8", rport: 53, proto: 17, state: "SF", services: "dns"},
		// 255.255.255.255 is local (private list) but never monitored
		{orig: "0.0.0.0", resp: "255.255.255.255", rport: 67, proto: 17, state: "S0", ob: 300, op: 1},
	})
	r1 := col.find(t, "10.0.0.1")
	want1 := aggregate.Counts{Totals: aggregate.Totals{
		ConnectionsCount:                     7,
		OriginatingConnectionCount:           3,
		SuccessfulOriginatingConnectionCount: 1,
		RejectedOriginatingConnectionCount:   1,
		OriginatingToHighportCount:           1,
		OriginatingToLowportCount:            2,
		OriginatingToService:                 2,
		ExternalOriginatingBytesSent:         140,
		ExternalOriginatingBytesReceived:     300,
		ExternalOriginatingPacketsSent:       7,
		ExternalOriginatingPacketsReceived:   7,

		InternalOriginatedConnections:         2,
		InternalOriginatedRejectedConnections: 1,
		InternalToLowportCount:                2,
		InternalToServiceCount:                2,
		InternalReceivedConnections:           1,
		InternalOriginatingBytesSent:          80,
		InternalOriginatingBytesReceived:      90,
		InternalOriginatingPacketsSent:        2,
		InternalOriginatingPacketsReceived:    1,
	}}
	want1.Services[aggregate.SSL] = aggregate.ServiceCounts{ClientConnections: 1,
		PCR: pcrOf(-0.5)}
	// dns: +1 (40/0), -0.5 (30/90), +1 (50/0)
	want1.Services[aggregate.DNS] = aggregate.ServiceCounts{ClientConnections: 3,
		PCR: pcrOf(1, -0.5, 1)}
	if !reflect.DeepEqual(r1.Counts, want1) {
		t.Errorf("10.0.0.1 counts:\n got %+v\nwant %+v", r1.Counts, want1)
	}
	if got := r1.Services[aggregate.DNS].PCR.Average(); got != 0.5 {
		t.Errorf("dns pcr average = %v, want 0.5", got)
	}
	checkList := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	checkList("ext ports", portStrings(r1.ExternalPorts), ports("443/tcp", "53/udp", "8080/tcp"))
	checkList("ext hosts", r1.ExternalHosts, addrs("8.8.4.4", "8.8.8.8"))
	checkList("ext clients", r1.ExternalClients, addrs("1.2.3.4"))
	checkList("int ports", portStrings(r1.InternalPorts), ports("137/udp", "53/udp"))
	checkList("int hosts", r1.InternalHosts, addrs("10.0.0.2", "10.0.0.255"))
	checkList("int clients", r1.InternalClients, addrs("10.0.0.2"))
	if r1.ExternalPortCount != 3 || r1.ExternalHostCount != 2 || r1.ExternalClientCount != 1 ||
		r1.InternalPortCount != 2 || r1.InternalHostCount != 2 || r1.InternalClientCount != 1 {
		t.Errorf("10.0.0.1 set counts wrong: %+v", r1)
	}

	self := col.find(t, "10.0.0.3")
	if self.ConnectionsCount != 1 || self.InternalOriginatedConnections != 1 || self.InternalReceivedConnections != 1 ||
		self.Services[aggregate.HTTP].ClientConnections != 1 || self.Services[aggregate.HTTP].ServerConnections != 1 ||
		self.Services[aggregate.SSL].ClientConnections != 1 || self.Services[aggregate.SSL].ServerConnections != 1 ||
		self.InternalOriginatingBytesSent != 10 || self.Services[aggregate.HTTP].PCR.Count != 1 {
		t.Errorf("self-connection not counted once: %+v", self.Counts)
	}
	checkList("self int hosts", self.InternalHosts, addrs("10.0.0.3"))
	checkList("self int clients", self.InternalClients, addrs("10.0.0.3"))

	r2 := col.find(t, "10.0.0.2")
	if r2.ConnectionsCount != 5 || r2.Services[aggregate.DNS].ServerConnections != 1 || r2.InternalReceivedConnections != 1 ||
		r2.OriginatingConnectionCount != 2 || r2.OriginatingToService != 2 || r2.Services[aggregate.SSL].ClientConnections != 1 ||
		r2.OriginatingToHighportCount != 1 || r2.InternalToLowportCount != 2 {
		t.Errorf("10.0.0.2 wrong: %+v", r2.Counts)
	}
	checkList("10.0.0.2 int ports", portStrings(r2.InternalPorts), ports("0/icmp", "0/unknown"))
	checkList("10.0.0.2 ext ports", portStrings(r2.ExternalPorts), ports("443/udp", "4433/udp"))

	if !col.has("0.0.0.0") {
		t.Error("0.0.0.0 (DHCP) must be monitored")
	}
	for _, a := range []string{"8.8.8.8", "1.2.3.4", "10.0.0.255", "255.255.255.255", "1.1.1.1", "9.9.9.9"} {
		if col.has(a) {
			t.Errorf("%s must not get a record", a)
		}
	}
	// 224.0.0.5 is in Zeek 8's private space: local and monitored.
	if m := col.find(t, "224.0.0.5"); m.ConnectionsCount != 1 || m.InternalReceivedConnections != 1 {
		t.Errorf("224.0.0.5: %+v", m.Counts)
	}
	for i := range col.recs {
		r := &col.recs[i]
		if r.EventType != "netbase" || r.ForwarderType != "zeek" {
			t.Errorf("%s: event_type %q forwarder_type %q", r.Address, r.EventType, r.ForwarderType)
		}
	}
	if len(col.windows) != 1 {
		t.Errorf("%d windows, want 1", len(col.windows))
	}
}

func mustNets(t *testing.T, s string) *site.Nets {
	t.Helper()
	n, err := site.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestModes(t *testing.T) {
	specs := []connSpec{
		{orig: "192.168.1.1", resp: "8.8.8.8", rport: 53, proto: 17, state: "SF", ob: 10, rb: 20},
		{orig: "10.0.0.1", resp: "172.20.0.1", rport: 80, state: "SF", services: "http", ob: 10, rb: 20},
		{orig: "8.8.8.8", resp: "10.0.0.1", rport: 25, state: "SF"},
		{orig: "10.0.0.1", resp: "10.255.0.255", rport: 25, state: "SF"},
	}
	local := "10.0.0.0/8"
	tests := []struct {
		name  string
		cfg   aggregate.Config
		want  []string
		check func(t *testing.T, c *collector)
	}{
		{name: "local", cfg: aggregate.Config{LocalNets: mustNets(t, local)}, want: []string{"10.0.0.1"}},
		{name: "private", cfg: aggregate.Config{Mode: aggregate.ModePrivate, LocalNets: mustNets(t, local)},
			want: []string{"10.0.0.1", "172.20.0.1", "192.168.1.1"},
			check: func(t *testing.T, c *collector) {
				// 192.168.1.1 is not local: its connection has no direction.
				r := c.find(t, "192.168.1.1")
				if r.ConnectionsCount != 1 || r.OriginatingConnectionCount != 0 || r.InternalOriginatedConnections != 0 {
					t.Errorf("192.168.1.1: %+v", r.Counts)
				}
				// 172.20.0.1 answered an outbound connection: only total and server counts.
				s := c.find(t, "172.20.0.1")
				if s.ConnectionsCount != 1 || s.Services[aggregate.HTTP].ServerConnections != 1 || len(s.ExternalClients) != 0 {
					t.Errorf("172.20.0.1: %+v", s)
				}
			}},
		{name: "neighbors", cfg: aggregate.Config{Mode: aggregate.ModeLocalNeighbors, LocalNets: mustNets(t, local),
			NeighborNets: mustNets(t, "172.16.0.0/12")}, want: []string{"10.0.0.1", "172.20.0.1"}},
		{name: "critical", cfg: aggregate.Config{LocalNets: mustNets(t, local), CriticalAssets: mustNets(t, "8.8.8.8,10.255.0.255")},
			want: []string{"8.8.8.8", "10.0.0.1"},
			check: func(t *testing.T, c *collector) {
				r := c.find(t, "8.8.8.8")
				// Critical assets never change directions: 8.8.8.8 stays external.
				if r.ConnectionsCount != 2 || r.OriginatingConnectionCount != 0 || len(r.InternalClients) != 0 {
					t.Errorf("8.8.8.8: %+v", r.Counts)
				}
			}},
		{name: "nothing local", cfg: aggregate.Config{LocalNets: mustNets(t, "")}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := run(t, tt.cfg, specs)
			var got []string
			for _, r := range c.recs {
				got = append(got, r.Address.String())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("records for %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]aggregate.Mode{"": aggregate.ModeLocal, "local": aggregate.ModeLocal,
		"private": aggregate.ModePrivate, "Local+Neighbors": aggregate.ModeLocalNeighbors} {
		got, err := aggregate.ParseMode(s)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := aggregate.ParseMode("remote"); err == nil || !strings.Contains(err.Error(), "remote") {
		t.Errorf("ParseMode(remote) error = %v", err)
	}
}

func TestWindows(t *testing.T) {
	col := &collector{}
	a, err := aggregate.New(aggregate.Config{Interval: 5 * time.Minute}, col)
	if err != nil {
		t.Fatal(err)
	}
	add := func(end time.Duration, orig string) {
		t.Helper()
		s := connSpec{orig: orig, resp: "8.8.8.8", rport: 443, state: "SF", end: end}
		if err := a.Add(s.conn()); err != nil {
			t.Fatal(err)
		}
	}
	advance := func(d time.Duration) {
		t.Helper()
		if err := a.Advance(t0.Add(d)); err != nil {
			t.Fatal(err)
		}
	}
	advance(2 * time.Minute)
	add(5*time.Minute-time.Nanosecond, "10.0.0.1") // just before the boundary
	if len(col.recs) != 0 {
		t.Fatal("window flushed early")
	}
	add(5*time.Minute, "10.0.0.2") // exactly at the boundary: next window; flushes the first
	if len(col.recs) != 1 || col.recs[0].Address.String() != "10.0.0.1" {
		t.Fatalf("after the boundary: %d records", len(col.recs))
	}
	advance(9*time.Minute + 59*time.Second) // not yet past the second window
	if len(col.recs) != 1 {
		t.Fatal("second window flushed early")
	}
	advance(10 * time.Minute) // past it
	if len(col.recs) != 2 || col.recs[1].Address.String() != "10.0.0.2" {
		t.Fatalf("second window: %d records", len(col.recs))
	}
	add(9*time.Minute, "10.0.0.3") // late: counts in the open window
	advance(22 * time.Minute)      // the window [10,15) has the late conn
	advance(24 * time.Minute)      // nothing in [20,25): no records
	add(24*time.Minute+30*time.Second, "10.0.0.4")
	advance(24*time.Minute + 40*time.Second)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	want := [][2]time.Duration{{0, 5 * time.Minute}, {5 * time.Minute, 10 * time.Minute},
		{10 * time.Minute, 15 * time.Minute}, {20 * time.Minute, 24*time.Minute + 40*time.Second}}
	if len(col.windows) != len(want) {
		t.Fatalf("windows %v, want %d", col.windows, len(want))
	}
	for i, w := range want {
		if !col.windows[i][0].Equal(t0.Add(w[0])) || !col.windows[i][1].Equal(t0.Add(w[1])) {
			t.Errorf("window %d = %v, want %v", i, col.windows[i], w)
		}
		r := col.recs[i]
		if !r.StartTime.Equal(col.windows[i][0]) || !r.EndTime.Equal(col.windows[i][1]) {
			t.Errorf("record %d bounds %v–%v", i, r.StartTime, r.EndTime)
		}
	}
	if col.recs[2].Address.String() != "10.0.0.3" || col.recs[3].Address.String() != "10.0.0.4" {
		t.Errorf("records %v", col.recs)
	}
	if s := a.Stats(); s.Late != 1 || s.Windows != 4 || s.Records != 4 || s.Conns != 4 {
		t.Errorf("stats %+v", s)
	}
	if a.Add(connSpec{orig: "10.0.0.1", resp: "8.8.8.8"}.conn()) == nil {
		t.Error("Add after Close must fail")
	}
}

func TestWholeInputWindow(t *testing.T) {
	col := &collector{}
	a, err := aggregate.New(aggregate.Config{}, col)
	if err != nil {
		t.Fatal(err)
	}
	c := connSpec{orig: "10.0.0.1", resp: "8.8.8.8", rport: 443, end: time.Hour}.conn()
	c.Start = t0.Add(-time.Minute) // began before any network time was reported
	a.Advance(t0)
	if err := a.Add(c); err != nil {
		t.Fatal(err)
	}
	a.Advance(t0.Add(2 * time.Hour))
	if len(col.recs) != 0 {
		t.Fatal("interval 0 must not flush before Close")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if len(col.recs) != 1 || !col.recs[0].StartTime.Equal(t0.Add(-time.Minute)) || !col.recs[0].EndTime.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("records %+v", col.recs)
	}
	if col.recs[0].IntervalSize() != 2*time.Hour+time.Minute {
		t.Errorf("interval size %v", col.recs[0].IntervalSize())
	}
	// An aggregator that saw nothing emits nothing.
	empty := &collector{}
	b, _ := aggregate.New(aggregate.Config{Interval: time.Minute}, empty)
	b.Advance(t0)
	b.Close()
	if len(empty.recs) != 0 || len(empty.windows) != 0 {
		t.Fatal("records without connections")
	}
}

// pcrOf returns the PCR statistics of the samples.
func pcrOf(samples ...float64) aggregate.PCR {
	var p aggregate.PCR
	for _, v := range samples {
		p.Add(v)
	}
	return p
}

// TestPCRSumIsOrderIndependent adds the same samples in many orders, and
// merged from parts: the statistics, average included, are bit for bit the
// same.
func TestPCRSumIsOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	samples := make([]float64, 1000)
	for i := range samples {
		ob, rb := float64(rng.IntN(1<<20)), float64(rng.IntN(1<<20)+1)
		samples[i] = (ob - rb) / (ob + rb)
	}
	want := pcrOf(samples...)
	var floatSum float64
	for _, v := range samples {
		floatSum += v
	}
	if d := math.Abs(want.Average() - floatSum/1000); d > 1e-12 {
		t.Fatalf("fixed-point average %v is not the float average %v", want.Average(), floatSum/1000)
	}
	for trial := range 20 {
		rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
		cut := rng.IntN(len(samples))
		a, b := pcrOf(samples[:cut]...), pcrOf(samples[cut:]...)
		b.Merge(&a)
		if b != want || math.Float64bits(b.Average()) != math.Float64bits(want.Average()) {
			t.Fatalf("trial %d: %+v (average %v), want %+v (average %v)", trial, b, b.Average(), want, want.Average())
		}
	}
	var empty aggregate.PCR
	empty.Merge(&want)
	if empty != want {
		t.Fatalf("merge into empty: %+v", empty)
	}
}

// randomConns makes a mix of IPv4 and IPv6 connections over several
// windows, ending in time order.
func randomConns(n int, seed uint64) []*flow.Conn {
	rng := rand.New(rand.NewPCG(seed, 7))
	pick := func() netip.Addr {
		switch rng.IntN(5) {
		case 0:
			return netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), byte(rng.IntN(40))})
		case 1:
			return netip.AddrFrom4([4]byte{93, 184, byte(rng.IntN(3)), byte(rng.IntN(50))})
		case 2:
			b := netip.MustParseAddr("fd00::").As16()
			b[15] = byte(rng.IntN(30))
			return netip.AddrFrom16(b)
		case 3:
			b := netip.MustParseAddr("2001:4860::").As16()
			b[14], b[15] = byte(rng.IntN(3)), byte(rng.IntN(40))
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{192, 168, 1, byte(rng.IntN(256))})
	}
	protos := []uint8{6, 17, 1, 58, 47}
	states := []string{"SF", "REJ", "S0", "OTH"}
	svcs := []string{"", "dns", "http", "ssl", "smb", "rdp", "quic,ssl", "ftp"}
	out := make([]*flow.Conn, n)
	end := t0
	for i := range out {
		end = end.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
		c := &flow.Conn{Orig: pick(), Resp: pick(), RespPort: uint16(rng.IntN(3000)), IPProto: protos[rng.IntN(len(protos))],
			ConnState: states[rng.IntN(len(states))], OrigBytes: uint64(rng.IntN(3)) * uint64(rng.IntN(5000)),
			RespBytes: uint64(rng.IntN(3)) * uint64(rng.IntN(5000)), OrigPkts: uint64(rng.IntN(20)), RespPkts: uint64(rng.IntN(20)),
			Start: end.Add(-time.Second), End: end, LastTime: end}
		if rng.IntN(20) == 0 {
			c.Resp = c.Orig
		}
		if s := svcs[rng.IntN(len(svcs))]; s != "" {
			c.Services = strings.Split(s, ",")
		}
		out[i] = c
	}
	return out
}

// encodeAll writes the records of conns as json lines, the connections
// spread over accs accumulators by index (each keeps the end order).
func encodeAll(t *testing.T, cfg aggregate.Config, conns []*flow.Conn, accs int) []string {
	t.Helper()
	col := &jsonCollector{enc: emit.NewEncoder(emit.FormatJSON, emit.EncoderOptions{})}
	w, err := aggregate.NewWindows(cfg, col)
	if err != nil {
		t.Fatal(err)
	}
	as := make([]*aggregate.Accumulator, accs)
	for i := range as {
		as[i] = w.NewAccumulator()
	}
	for i, c := range conns {
		if err := as[i%accs].Add(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range as {
		a.Close()
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(col.lines))
	for i, l := range col.lines {
		out[i] = string(l)
	}
	return out
}

// TestShardsAndAccumulatorsIdentical checks that the records do not depend
// on how the connections were spread over accumulators (capture workers)
// nor on the number of shards.
func TestShardsAndAccumulatorsIdentical(t *testing.T) {
	conns := randomConns(20000, 1)
	for _, iv := range []time.Duration{0, time.Minute} {
		base := aggregate.Config{Interval: iv, Mode: aggregate.ModeLocalNeighbors,
			NeighborNets: mustNets(t, "2001:4860::/32")}
		want := encodeAll(t, base, conns, 1)
		if len(want) < 100 {
			t.Fatalf("only %d records", len(want))
		}
		for _, accs := range []int{1, 2, 3} {
			for _, shards := range []int{1, 2, 4, 7} {
				cfg := base
				cfg.Shards = shards
				got := encodeAll(t, cfg, conns, accs)
				if len(got) != len(want) {
					t.Fatalf("interval %v accumulators %d shards %d: %d records, want %d", iv, accs, shards, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("interval %v accumulators %d shards %d record %d:\n got %s\nwant %s", iv, accs, shards, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestMaxHosts: a window holds at most MaxHosts addresses; the first seen
// keep exact records, later ones are refused and counted, alike for one
// accumulator or several and any shard count.
func TestMaxHosts(t *testing.T) {
	var specs []connSpec
	for i := range 50 {
		// Each connection: a new local originator to one external server.
		specs = append(specs, connSpec{orig: fmt.Sprintf("10.0.%d.%d", i/200, 1+i%200), resp: "8.8.8.8", rport: 53, proto: 17, state: "SF", ob: 10, rb: 20})
	}
	for _, shards := range []int{1, 4} {
		col := &collector{}
		a, err := aggregate.New(aggregate.Config{MaxHosts: 20, Shards: shards}, col)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range specs {
			if err := a.Add(s.conn()); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if len(col.recs) > 20 || len(col.recs) < 15 {
			t.Errorf("shards %d: %d records, want at most 20 (and not far fewer)", shards, len(col.recs))
		}
		if st := a.Stats(); st.HostsRefused != uint64(50-len(col.recs)) {
			t.Errorf("shards %d: %d updates refused, want %d", shards, st.HostsRefused, 50-len(col.recs))
		}
		for _, r := range col.recs {
			if r.ConnectionsCount != 1 || r.ExternalOriginatingBytesSent != 10 {
				t.Errorf("kept record %v is not exact: %+v", r.Address, r.Totals)
			}
		}
	}
	if _, err := aggregate.New(aggregate.Config{MaxHosts: -1}, &collector{}); err == nil {
		t.Error("negative MaxHosts accepted")
	}
}
