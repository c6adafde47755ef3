package flow

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// textConn drives one TCP connection with payload between two endpoints.
type textConn struct {
	h          *harness
	a, b       netip.Addr
	aPort      uint16
	bPort      uint16
	seqA, seqB uint32
}

func (h *harness) open(at0 float64, a netip.Addr, aPort uint16, b netip.Addr, bPort uint16) *textConn {
	c := &textConn{h: h, a: a, b: b, aPort: aPort, bPort: bPort, seqA: 1000, seqB: 5000}
	c.pkt(at0, true, fS, "")
	c.pkt(at0+0.001, false, fS|fA, "")
	c.pkt(at0+0.002, true, fA, "")
	return c
}

func (c *textConn) pkt(t float64, fromA bool, flags uint8, payload string) {
	p := capture.Packet{Timestamp: at(t), Proto: capture.ProtoTCP, TCPFlags: flags, Window: 1000,
		Payload: []byte(payload), PayloadLen: len(payload), IPLen: uint32(40 + len(payload))}
	if fromA {
		p.Src, p.Dst, p.SrcPort, p.DstPort = c.a, c.b, c.aPort, c.bPort
		p.Seq, p.Ack = c.seqA, c.seqB
	} else {
		p.Src, p.Dst, p.SrcPort, p.DstPort = c.b, c.a, c.bPort, c.aPort
		p.Seq, p.Ack = c.seqB, c.seqA
	}
	adv := uint32(len(payload))
	if flags&(fS|fF) != 0 {
		adv++
	}
	if fromA {
		c.seqA += adv
	} else {
		c.seqB += adv
	}
	c.h.tr.Packet(&p)
}

// say sends lines from A (client) or, prefixed "S:", from B (server).
func (c *textConn) say(t float64, lines ...string) {
	for i, l := range lines {
		if strings.HasPrefix(l, "S:") {
			c.pkt(t+float64(i)*0.01, false, fA|fP, l[2:])
		} else {
			c.pkt(t+float64(i)*0.01, true, fA|fP, l)
		}
	}
}

func (c *textConn) close(t float64) {
	c.pkt(t, true, fF|fA, "")
	c.pkt(t+0.001, false, fF|fA, "")
	c.pkt(t+0.002, true, fA, "")
}

// services returns the services of the ended connection to resp:port.
func (h *harness) services(t *testing.T, resp netip.Addr, port uint16) []string {
	t.Helper()
	var out []string
	found := false
	for _, c := range h.ended {
		if c.Resp == resp && c.RespPort == port {
			if found {
				t.Fatalf("two connections to %s:%d", resp, port)
			}
			found = true
			out = c.Services
		}
	}
	if !found {
		t.Fatalf("no connection to %s:%d", resp, port)
	}
	return out
}

func expectHarness(t *testing.T, set string) *harness {
	s, err := classify.ParseSet(set)
	if err != nil {
		t.Fatal(err)
	}
	return newHarness(t, Config{Classifier: classify.New(s)})
}

var hostC = netip.MustParseAddr("10.0.0.3")

func TestExpectedFTPData(t *testing.T) {
	h := expectHarness(t, "all")
	ctl := h.open(0, hostA, 40000, hostB, 21)
	ctl.say(0.1, "S:220 ready\r\n", "USER ftp\r\n", "S:331 pw\r\n", "PASS x\r\n", "S:230 ok\r\n",
		"PASV\r\n", "S:227 Entering Passive Mode (10,0,0,2,4,31)\r\n", // hostB:1055
		"PORT 10,0,0,1,7,208\r\n", "S:200 ok\r\n", // hostA:2000
		"EPSV\r\n", "S:229 Extended Passive mode OK (|||3000|)\r\n") // hostB:3000

	// Passive: the client connects to the announced port.
	d1 := h.open(1, hostA, 40001, hostB, 1055)
	d1.say(1.1, "S:data")
	d1.close(1.2)
	// A third host connecting there is not the expected originator.
	d2 := h.open(2, hostC, 40002, hostB, 1055)
	d2.close(2.1)
	// Active: the server connects to the client.
	d3 := h.open(3, hostB, 20, hostA, 2000)
	d3.close(3.1)
	// EPSV without an address: the control connection's responder.
	d4 := h.open(4, hostA, 40003, hostB, 3000)
	d4.close(4.1)
	// The table entry went with the first data connection once it was
	// removed (after the close delay): a later connection to the same port
	// gets no label.
	d5 := h.open(30, hostA, 40004, hostB, 1055)
	d5.close(30.1)
	ctl.close(31)
	h.tr.Flush()

	for _, tc := range []struct {
		resp netip.Addr
		port uint16
		want string
	}{
		{hostB, 21, "ftp"}, {hostA, 2000, "ftp-data"}, {hostB, 3000, "ftp-data"},
	} {
		if got := strings.Join(h.services(t, tc.resp, tc.port), ","); got != tc.want {
			t.Errorf("%s:%d services %q, want %q", tc.resp, tc.port, got, tc.want)
		}
	}
	var got []string
	for _, c := range h.ended {
		if c.RespPort == 1055 {
			got = append(got, c.Orig.String()+":"+strings.Join(c.Services, ","))
		}
	}
	if strings.Join(got, " ") != "10.0.0.1:ftp-data 10.0.0.3: 10.0.0.1:" {
		t.Errorf("connections to port 1055: %v", got)
	}
	if s := h.tr.ExpectedStats(); s.Announced != 3 || s.Matched != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestExpectedExpiry(t *testing.T) {
	h := expectHarness(t, "all")
	ctl := h.open(0, hostA, 40000, hostB, 21)
	ctl.say(0.1, "USER ftp\r\n", "PORT 10,0,0,1,7,208\r\n", "PORT 10,0,0,1,7,209\r\n")
	late := float64(expectTimeout/int64(time.Second)) + 1
	// Just inside the 5 minutes, and just after.
	d1 := h.open(299, hostB, 20, hostA, 2000)
	d1.close(299.1)
	d2 := h.open(late, hostB, 20, hostA, 2001)
	d2.close(late + 0.1)
	h.tr.Flush()
	if got := h.services(t, hostA, 2000); len(got) != 1 || got[0] != "ftp-data" {
		t.Errorf("within 5 min: %v", got)
	}
	if got := h.services(t, hostA, 2001); len(got) != 0 {
		t.Errorf("after 5 min: %v", got)
	}
	if s := h.tr.ExpectedStats(); s.Pending != 0 {
		t.Errorf("entries left after expiry: %+v", s)
	}
}

func TestExpectedIRCDCC(t *testing.T) {
	h := expectHarness(t, "irc")
	ctl := h.open(0, hostA, 40000, hostB, 6667)
	ctl.say(0.1, "NICK tim\r\nUSER tim 0 * :tim\r\n", "S::srv 001 tim :hi\r\n",
		"PRIVMSG bob :\x01DCC SEND f 167772163 5000 10\x01\r\n") // 10.0.0.3:5000, any originator
	d := h.open(1, hostB, 40001, hostC, 5000)
	d.close(1.1)
	h.tr.Flush()
	if got := strings.Join(h.services(t, hostC, 5000), ","); got != "irc-dcc-data" {
		t.Errorf("DCC data connection services %q", got)
	}
	if got := strings.Join(h.services(t, hostB, 6667), ","); got != "irc" {
		t.Errorf("control connection services %q", got)
	}
}

func TestExpectedTableBounded(t *testing.T) {
	x := NewExpectedTable()
	now := int64(0)
	for i := 0; i < 3*maxExpected; i++ {
		k := expectKey{resp: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}).As16(), port: 20}
		x.add(k, expectOrig{wildcard: true}, expFTPData, now)
		// The same key again: refreshed, not duplicated.
		x.add(k, expectOrig{wildcard: true}, expFTPData, now)
		now += int64(time.Millisecond)
		if len(x.m) > maxExpected || len(x.ring)-x.head > 2*maxExpected+1 {
			t.Fatalf("after %d: %d entries, ring %d", i, len(x.m), len(x.ring)-x.head)
		}
	}
	if x.dropped != 2*maxExpected || int(x.n.Load()) != len(x.m) {
		t.Errorf("dropped %d, want %d; count %d of %d", x.dropped, 2*maxExpected, x.n.Load(), len(x.m))
	}
	// The newest entries survive; the oldest went first.
	n := 3*maxExpected - 1
	last := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}).As16()
	first := netip.AddrFrom4([4]byte{10, 0, 0, 0}).As16()
	if x.m[expectKey{resp: last, port: 20}] == nil || x.m[expectKey{resp: first, port: 20}] != nil {
		t.Error("eviction did not drop the oldest entry")
	}
	// Originators per entry are bounded too.
	k := expectKey{resp: first, port: 21}
	for i := 0; i < 10; i++ {
		x.add(k, expectOrig{addr: netip.AddrFrom4([4]byte{1, 1, 1, byte(i)}).As16()}, expFTPData, now)
	}
	if e := x.m[k]; e == nil || e.nOrigs != maxExpectedOrigs {
		t.Errorf("originators not bounded: %+v", e)
	}
	// Everything expires.
	x.expire(now + expectTimeout + 1)
	if len(x.m) != 0 || x.n.Load() != 0 {
		t.Errorf("%d entries after the timeout", len(x.m))
	}
}

func TestExpectedAddressForms(t *testing.T) {
	// An IPv4 announcement matches the IPv4-mapped IPv6 form (Zeek's IPAddr).
	v4 := netip.MustParseAddr("10.0.0.2")
	mapped := netip.MustParseAddr("::ffff:10.0.0.2")
	if as16(v4) != as16(mapped) {
		t.Fatal("IPv4 and its mapped form differ")
	}
	if as16(netip.MustParseAddr("0.0.0.0")) != zeroV4 {
		t.Fatal("0.0.0.0 is not the wildcard form")
	}
}

func BenchmarkExpectedNoTable(b *testing.B) {
	// The cost every new TCP connection pays when nothing is expected.
	tr := NewTracker(Config{}, nil)
	c := &conn{origPort: 40000, respPort: 80}
	c.key.a, c.key.b, c.key.pa, c.key.pb = hostA.As16(), hostB.As16(), 40000, 80
	c.setAddrs(hostA, hostB)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		tr.matchExpected(c)
	}
}

func TestExpectedReuseKeepsEntry(t *testing.T) {
	// main.zeek: a data connection ended by connection reuse keeps the
	// table entry (ftp_data_reuse), so the reusing connection is labelled
	// too; a plain end deletes it.
	h := expectHarness(t, "all")
	ctl := h.open(0, hostA, 40000, hostB, 21)
	ctl.say(0.1, "USER ftp\r\n", "PORT 10,0,0,1,7,208\r\n") // hostA:2000
	d1 := h.open(1, hostB, 20, hostA, 2000)
	d1.close(1.1)
	d2 := h.open(1.5, hostB, 20, hostA, 2000) // SYN on the closed connection: reuse
	d2.close(1.6)
	h.tr.Flush()
	var got []string
	for _, c := range h.ended {
		if c.RespPort == 2000 {
			got = append(got, strings.Join(c.Services, ","))
		}
	}
	if strings.Join(got, " ") != "ftp-data ftp-data" {
		t.Errorf("services of the reused data connections: %q", got)
	}
	if h.tr.Stats().Reused != 1 {
		t.Errorf("reuse not exercised: %+v", h.tr.Stats())
	}
}

func TestExpectedSharedTable(t *testing.T) {
	// Two trackers (capture workers) share one table: the data connection
	// seen by the second is labelled from the announcement the first saw.
	shared := NewExpectedTable()
	s, err := classify.ParseSet("all")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Classifier: classify.New(s), Expected: shared}
	h1, h2 := newHarness(t, cfg), newHarness(t, cfg)
	ctl := h1.open(0, hostA, 40000, hostB, 21)
	ctl.say(0.1, "USER ftp\r\n", "PASV\r\n", "S:227 Entering Passive Mode (10,0,0,2,4,31)\r\n")
	d := h2.open(1, hostA, 40001, hostB, 1055)
	d.close(1.1)
	h1.tr.Flush()
	h2.tr.Flush()
	if got := strings.Join(h2.services(t, hostB, 1055), ","); got != "ftp-data" {
		t.Errorf("data connection on the other tracker: %q", got)
	}
	if s1, s2 := h1.tr.ExpectedStats(), h2.tr.ExpectedStats(); s1.Announced != 1 || s2.Matched != 1 || s2.Pending != 0 {
		t.Errorf("stats %+v %+v", s1, s2)
	}
}

func TestExpectedNoPortAnalyzers(t *testing.T) {
	// A scheduled analyzer replaces the analyzers registered for the port
	// (BuildSessionAnalyzerTree): a DNS query over TCP to an announced
	// port 53 gets ftp-data and no dns; the same query elsewhere gets dns.
	query := "\x00\x1d" + "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" +
		"\x07example\x03com\x00\x00\x01\x00\x01"
	h := expectHarness(t, "all")
	ctl := h.open(0, hostA, 40000, hostB, 21)
	ctl.say(0.1, "USER ftp\r\n", "PASV\r\n", "S:227 Entering Passive Mode (10,0,0,2,0,53)\r\n")
	d := h.open(1, hostA, 40001, hostB, 53)
	d.say(1.1, query)
	d.close(1.2)
	o := h.open(2, hostA, 40002, hostC, 53)
	o.say(2.1, query)
	o.close(2.2)
	h.tr.Flush()
	if got := strings.Join(h.services(t, hostB, 53), ","); got != "ftp-data" {
		t.Errorf("scheduled connection to port 53: %q", got)
	}
	if got := strings.Join(h.services(t, hostC, 53), ","); got != "dns" {
		t.Errorf("plain connection to port 53: %q (the query should confirm dns)", got)
	}
}
