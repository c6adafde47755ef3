package flow

import (
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// End-to-end tests of tunnelled traffic: frames are built with gopacket
// (IP, UDP, TCP with lengths and checksums) and hand-written tunnel headers,
// decoded by capture and tracked.

func wire(t *testing.T, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func v4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func v6(src, dst string, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

// udpIP is an IPv4 (or, with addresses containing ':', IPv6) UDP packet.
func udpIP(t *testing.T, src, dst string, sport, dport uint16, payload []byte) []byte {
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if strings.Contains(src, ":") {
		ip := v6(src, dst, layers.IPProtocolUDP)
		if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		return wire(t, ip, udp, gopacket.Payload(payload))
	}
	ip := v4(src, dst, layers.IPProtocolUDP)
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return wire(t, ip, udp, gopacket.Payload(payload))
}

// synIP is an IPv4 TCP SYN (or SYN-ACK).
func synIP(t *testing.T, src, dst string, sport, dport uint16, ack bool) []byte {
	ip := v4(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: 100, SYN: true, ACK: ack, Window: 1000}
	if ack {
		tcp.Ack = 101
	}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	return wire(t, ip, tcp)
}

// rawIP is an IPv4 packet of any protocol around payload.
func rawIP(t *testing.T, src, dst string, proto layers.IPProtocol, payload []byte) []byte {
	return wire(t, v4(src, dst, proto), gopacket.Payload(payload))
}

func join(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func ether(ethertype uint16, payload []byte) []byte {
	return join([]byte{0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10}, u16(ethertype), payload)
}

var (
	vxlanHeader = []byte{0x08, 0, 0, 0, 0, 0, 42, 0}
	// dnsQuery is a DNS query for example.com A.
	dnsQuery = join(u16(0x1234), u16(0x0100), u16(1), u16(0), u16(0), u16(0), []byte("\x07example\x03com\x00"), u16(1), u16(1))
)

func geneveHeader(proto uint16) []byte { return join([]byte{0, 0}, u16(proto), []byte{0, 0, 7, 0}) }

func greHeader(flags, proto uint16) []byte { return join(u16(flags), u16(proto)) }

// tunnelRun decodes frames (given as Ethernet frames with their time in
// seconds after epoch) and returns the connections, ended by a flush, by
// their responder port.
type tunnelRun struct {
	t     *testing.T
	h     *harness
	dec   *capture.Decoder
	pkts  []capture.Packet
	errs  int
	conns map[string]Conn
}

func newTunnelRun(t *testing.T, cfg Config, opts capture.DecoderOptions) *tunnelRun {
	return &tunnelRun{t: t, h: newHarness(t, cfg), dec: capture.NewDecoder(opts)}
}

// frame feeds one frame; caplen > 0 cuts its capture short (snap length).
func (r *tunnelRun) frame(sec float64, data []byte, caplen int) {
	f := capture.Frame{Data: data, CaptureLength: len(data), Length: len(data), LinkType: layers.LinkTypeEthernet, Timestamp: at(sec)}
	if caplen > 0 {
		f.Data, f.CaptureLength = data[:caplen], caplen
	}
	var err error
	r.pkts, err = r.dec.Decode(f, r.pkts[:0])
	if err != nil {
		r.errs++
	}
	for i := range r.pkts {
		r.h.tr.Packet(&r.pkts[i])
	}
}

// done flushes and indexes the connections by "proto orig:port > resp:port".
func (r *tunnelRun) done() map[string]Conn {
	r.h.tr.Flush()
	r.conns = map[string]Conn{}
	for _, c := range r.h.ended {
		k := c.Transport() + " " + c.Orig.String() + ":" + itoa(int(c.OrigPort)) + " > " + c.Resp.String() + ":" + itoa(int(c.RespPort))
		if _, dup := r.conns[k]; dup {
			r.t.Fatalf("two connections %s", k)
		}
		r.conns[k] = c
	}
	return r.conns
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func (r *tunnelRun) conn(key string) Conn {
	r.t.Helper()
	c, ok := r.conns[key]
	if !ok {
		keys := make([]string, 0, len(r.conns))
		for k := range r.conns {
			keys = append(keys, k)
		}
		r.t.Fatalf("no connection %q; have %q", key, keys)
	}
	return c
}

func sameParents(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestTruncatedNestedTunnel is zeek/zeek#2914 (btest
// core.tunnels.geneve-vxlan-truncated): DNS in VXLAN in Geneve, cut a few
// bytes short by the snap length. Zeek counts every level's packets, names
// geneve, vxlan and dns, and chains the tunnel parents.
func TestTruncatedNestedTunnel(t *testing.T) {
	r := newTunnelRun(t, Config{Classifier: classify.New(classify.All)}, capture.DecoderOptions{})
	build := func(inner []byte) []byte {
		vx := udpIP(t, "127.0.0.1", "127.0.0.1", 26383, 4789, join(vxlanHeader, ether(0x0800, inner)))
		return ether(0x0800, udpIP(t, "127.0.0.1", "127.0.0.1", 11803, 6081, join(geneveHeader(0x6558), ether(0x0800, vx))))
	}
	// The answer: the query plus one A record, cut in its last bytes.
	answer := append(append([]byte(nil), dnsQuery...), join([]byte{0xc0, 12}, u16(1), u16(1), []byte{0, 0, 0, 60}, u16(4), []byte{93, 184, 216, 34})...)
	answer[2], answer[7] = 0x81, 1
	q := build(udpIP(t, "172.16.11.201", "1.1.1.1", 36872, 53, dnsQuery))
	a := build(udpIP(t, "1.1.1.1", "172.16.11.201", 53, 36872, answer))
	r.frame(0, q, len(q))   // the query whole
	r.frame(2, a, len(a)-3) // the answer truncated
	r.done()
	if r.errs != 0 {
		t.Fatalf("%d decode errors", r.errs)
	}
	gen := r.conn("udp 127.0.0.1:11803 > 127.0.0.1:6081")
	vx := r.conn("udp 127.0.0.1:26383 > 127.0.0.1:4789")
	dns := r.conn("udp 172.16.11.201:36872 > 1.1.1.1:53")
	if gen.OrigPkts != 2 || vx.OrigPkts != 2 || dns.OrigPkts != 1 || dns.RespPkts != 1 {
		t.Errorf("packets: geneve %d, vxlan %d, dns %d/%d; want 2, 2, 1/1", gen.OrigPkts, vx.OrigPkts, dns.OrigPkts, dns.RespPkts)
	}
	if dns.OrigIPBytes != uint64(28+len(dnsQuery)) || dns.RespIPBytes != uint64(28+len(answer)) {
		t.Errorf("dns IP bytes %d/%d", dns.OrigIPBytes, dns.RespIPBytes)
	}
	if dns.History != "Dd" || dns.ConnState != "SF" {
		t.Errorf("dns history %q state %s", dns.History, dns.ConnState)
	}
	for _, c := range []struct {
		conn Conn
		svc  string
	}{{gen, "geneve"}, {vx, "vxlan"}, {dns, "dns"}} {
		if len(c.conn.Services) != 1 || c.conn.Services[0] != c.svc {
			t.Errorf("%s:%d services %v, want %s", c.conn.Resp, c.conn.RespPort, c.conn.Services, c.svc)
		}
	}
	if len(gen.TunnelParents) != 0 || !sameParents(vx.TunnelParents, gen.UID) || !sameParents(dns.TunnelParents, vx.UID) {
		t.Errorf("parents: geneve %v, vxlan %v (want %s), dns %v (want %s)", gen.TunnelParents, vx.TunnelParents, gen.UID,
			dns.TunnelParents, vx.UID)
	}
}

// TestTruncatedUDPCounted: a datagram the snap length cut short is counted
// (packets, IP bytes, sizes) like a whole one, as current Zeek does.
func TestTruncatedUDPCounted(t *testing.T) {
	r := newTunnelRun(t, Config{}, capture.DecoderOptions{})
	f := ether(0x0800, udpIP(t, "10.0.0.1", "10.0.0.2", 5000, 6000, make([]byte, 200)))
	r.frame(0, f, 60)
	r.frame(1, f, 0)
	r.done()
	c := r.conn("udp 10.0.0.1:5000 > 10.0.0.2:6000")
	if c.OrigPkts != 2 || c.OrigIPBytes != 2*228 || c.OrigBytes != 400 {
		t.Errorf("pkts %d IP bytes %d bytes %d, want 2, 456, 400", c.OrigPkts, c.OrigIPBytes, c.OrigBytes)
	}
}

// TestGeneveIPv6 is btest core.tunnels.geneve-ipv6: an IPv6 UDP exchange
// directly in Geneve (protocol type 0x86DD) over IPv4.
func TestGeneveIPv6(t *testing.T) {
	r := newTunnelRun(t, Config{}, capture.DecoderOptions{})
	in1 := udpIP(t, "fd00::1", "fd00::2", 40000, 40001, []byte("hello"))
	in2 := udpIP(t, "fd00::2", "fd00::1", 40001, 40000, []byte("world"))
	r.frame(0, ether(0x0800, udpIP(t, "10.0.0.1", "10.0.0.2", 12345, 6081, join(geneveHeader(0x86dd), in1))), 0)
	r.frame(0.0004, ether(0x0800, udpIP(t, "10.0.0.1", "10.0.0.2", 12345, 6081, join(geneveHeader(0x86dd), in2))), 0)
	r.done()
	outer := r.conn("udp 10.0.0.1:12345 > 10.0.0.2:6081")
	inner := r.conn("udp fd00::1:40000 > fd00::2:40001")
	if outer.OrigPkts != 2 || len(outer.Services) != 1 || outer.Services[0] != "geneve" {
		t.Errorf("outer: %d packets, services %v", outer.OrigPkts, outer.Services)
	}
	if inner.History != "Dd" || inner.OrigBytes != 5 || inner.RespBytes != 5 || inner.OrigIPBytes != 53 {
		t.Errorf("inner: history %q bytes %d/%d IP bytes %d", inner.History, inner.OrigBytes, inner.RespBytes, inner.OrigIPBytes)
	}
	if !sameParents(inner.TunnelParents, outer.UID) {
		t.Errorf("inner parents %v, want [%s]", inner.TunnelParents, outer.UID)
	}
}

// TestVNTagInsideVLAN is zeek/zeek#4286: Ethernet → 802.1Q → VN-Tag →
// 802.1Q → IP.
func TestVNTagInsideVLAN(t *testing.T) {
	r := newTunnelRun(t, Config{}, capture.DecoderOptions{})
	syn := synIP(t, "10.1.0.1", "10.1.0.2", 1025, 80, false)
	r.frame(0, ether(0x8100, join(u16(7), u16(0x8926), []byte{0x80, 1, 0, 2}, u16(0x8100), u16(3), u16(0x0800), syn)), 0)
	r.done()
	if c := r.conn("tcp 10.1.0.1:1025 > 10.1.0.2:80"); c.History != "S" || c.ConnState != "S0" {
		t.Errorf("history %q state %s", c.History, c.ConnState)
	}
}

// TestIPTunnelParents: IP-in-IP and GRE (plain, ERSPAN, Aruba) inner
// connections name the tunnel of their carrying address pair, one UID per
// pair and analyzer while the pair stays active (Tunnel::ip_tunnel_timeout).
func TestIPTunnelParents(t *testing.T) {
	r := newTunnelRun(t, Config{}, capture.DecoderOptions{})
	gre := func(src, dst string, inner []byte) []byte {
		return ether(0x0800, rawIP(t, src, dst, layers.IPProtocolGRE, join(greHeader(0, 0x0800), inner)))
	}
	erspan2 := func(src, dst string, inner []byte) []byte {
		hdr := join(greHeader(0x1000, 0x88be), []byte{0, 0, 0, 1}, u16(0x1000), make([]byte, 6))
		return ether(0x0800, rawIP(t, src, dst, layers.IPProtocolGRE, join(hdr, ether(0x0800, inner))))
	}
	aruba := func(src, dst string, inner []byte) []byte {
		dot11 := join([]byte{0x08, 0x01}, make([]byte, 22), []byte{0xaa, 0xaa, 0x03, 0, 0, 0}, u16(0x0800), inner)
		return ether(0x0800, rawIP(t, src, dst, layers.IPProtocolGRE, join(greHeader(0, 0x8200), dot11)))
	}
	ipip := func(src, dst string, inner []byte) []byte {
		return ether(0x0800, rawIP(t, src, dst, layers.IPProtocolIPv4, inner))
	}
	day := (24 * time.Hour).Seconds()
	r.frame(0, gre("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1001, 80, false)), 0)
	// The reverse direction of the same pair: the same tunnel.
	r.frame(1, gre("192.0.2.2", "192.0.2.1", synIP(t, "10.1.0.2", "10.1.0.1", 80, 1001, true)), 0)
	r.frame(2, erspan2("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1002, 80, false)), 0)
	r.frame(3, aruba("192.0.2.2", "192.0.2.1", synIP(t, "10.1.0.1", "10.1.0.2", 1003, 80, false)), 0)
	// Another pair; IP-in-IP on the first pair is another analyzer's tunnel.
	r.frame(4, gre("192.0.2.1", "192.0.2.3", synIP(t, "10.1.0.1", "10.1.0.2", 1004, 80, false)), 0)
	r.frame(5, ipip("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1005, 80, false)), 0)
	// Still active 30 h after it was first seen (a packet at 20 h kept it):
	// the same UID; then idle for more than 24 h: a new one.
	r.frame(20*3600, gre("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1006, 80, false)), 0)
	r.frame(30*3600, gre("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1007, 80, false)), 0)
	r.frame(30*3600+2*day, gre("192.0.2.1", "192.0.2.2", synIP(t, "10.1.0.1", "10.1.0.2", 1008, 80, false)), 0)
	r.done()
	parent := func(port int) string {
		t.Helper()
		for _, c := range r.conns {
			if int(c.OrigPort) == port {
				if len(c.TunnelParents) != 1 {
					t.Fatalf("port %d: parents %v", port, c.TunnelParents)
				}
				return c.TunnelParents[0]
			}
		}
		t.Fatalf("no connection from port %d", port)
		return ""
	}
	p1 := parent(1001)
	if c := r.conn("tcp 10.1.0.1:1001 > 10.1.0.2:80"); c.History != "Sh" {
		t.Errorf("first connection history %q", c.History)
	}
	for _, port := range []int{1002, 1003, 1006, 1007} {
		if p := parent(port); p != p1 {
			t.Errorf("port %d: parent %s, want the pair's tunnel %s", port, p, p1)
		}
	}
	for _, port := range []int{1004, 1005, 1008} {
		if p := parent(port); p == p1 {
			t.Errorf("port %d: parent %s is the first pair's GRE tunnel", port, p)
		}
	}
	if parent(1004) == parent(1005) || parent(1005) == parent(1008) {
		t.Errorf("distinct tunnels share a UID")
	}
	// A tunnel UID is not a connection UID.
	for _, c := range r.conns {
		if c.UID == p1 {
			t.Errorf("tunnel UID %s is also connection %s:%d's", p1, c.Orig, c.OrigPort)
		}
	}
}

// TestIPTunnelTableBounded: a flood of tunnel pairs keeps the table at its
// bound; the most recent pairs keep their UIDs.
func TestIPTunnelTableBounded(t *testing.T) {
	tun := NewTunnels(Config{})
	p := capture.Packet{Timestamp: epoch, Proto: 99, Src: hostA, Dst: hostB, TunnelDepth: 1, Encap: capture.EncapGRE}
	uids := map[int]UID{}
	for i := 0; i < maxIPTunnels+100; i++ {
		p.EncapSrc = floodAddr(i)
		p.EncapDst = hostB
		uids[i] = tun.Of(&p).UID
	}
	if n := len(tun.ip.m); n != maxIPTunnels {
		t.Fatalf("%d tunnels remembered, want %d", n, maxIPTunnels)
	}
	// A tunnel's UID derives from its pair and the time it was first
	// seen: a forgotten tunnel seen again later gets a new one.
	p.Timestamp = epoch.Add(time.Second)
	p.EncapSrc = floodAddr(maxIPTunnels + 99)
	if tun.Of(&p).UID != uids[maxIPTunnels+99] {
		t.Errorf("the latest tunnel lost its UID")
	}
	p.EncapSrc = floodAddr(0)
	if tun.Of(&p).UID == uids[0] {
		t.Errorf("the oldest tunnel was kept beyond the bound")
	}
}

// TestUDPTunnelNames: a UDP tunnel flow is named as its connection, a new
// name after UDP inactivity, alike for Tunnels and the tracker that sees
// the flow's packets.
func TestUDPTunnelNames(t *testing.T) {
	tun := NewTunnels(Config{})
	var conns []Conn
	tr := NewTracker(Config{}, func(c *Conn) { conns = append(conns, c.Clone()) })
	outer := capture.Packet{Timestamp: epoch, Proto: capture.ProtoUDP, Src: hostA, Dst: hostB, SrcPort: 40000, DstPort: 4789,
		UDPLength: 60, IPLen: 80, PayloadLen: 52, TunnelService: "vxlan"}
	inner := capture.Packet{Proto: 99, Src: hostB, Dst: hostA, TunnelDepth: 1, Encap: capture.EncapUDPTunnel}
	// name is the parent Tunnels gives the packet the outer one carries.
	name := func() Parent {
		tun.Of(&outer)
		inner.Timestamp = outer.Timestamp
		return tun.Of(&inner)
	}
	first := name()
	if !first.Set {
		t.Fatal("the inner packet has no parent")
	}
	tr.Packet(&outer)
	outer.Timestamp = epoch.Add(30 * time.Second)
	if name() != first {
		t.Error("the tunnel changed its name while active")
	}
	tr.Packet(&outer)
	tr.Tick(epoch.Add(2 * time.Minute)) // the tracker ends the connection
	outer.Timestamp = epoch.Add(2 * time.Minute)
	second := name()
	if second == first {
		t.Error("no new name after the flow's inactivity timeout")
	}
	tr.Packet(&outer)
	tr.Flush()
	if len(conns) != 2 || conns[0].UID != first.UID.String() || conns[1].UID != second.UID.String() {
		t.Errorf("connections %v, want UIDs %s and %s", conns, first.UID, second.UID)
	}
}

// TestUDPTunnelBadChecksumNotActivity: a tunnel packet with a bad UDP
// checksum does not keep its flow alive (UDPAnalyzer::DeliverPacket
// returns before SetLastTime), so the flow's name follows the tracker's
// connection across the inactivity timeout.
func TestUDPTunnelBadChecksumNotActivity(t *testing.T) {
	tun := NewTunnels(Config{})
	var conns []Conn
	tr := NewTracker(Config{}, func(c *Conn) { conns = append(conns, c.Clone()) })
	outer := capture.Packet{Timestamp: epoch, Proto: capture.ProtoUDP, Src: hostA, Dst: hostB, SrcPort: 40000, DstPort: 4789,
		UDPLength: 60, IPLen: 80, PayloadLen: 52, TunnelService: "vxlan"}
	send := func(sec int, bad bool) UID {
		outer.Timestamp, outer.BadChecksum = epoch.Add(time.Duration(sec)*time.Second), bad
		tun.Of(&outer)
		uid := tun.depth[0].UID
		tr.Packet(&outer)
		return uid
	}
	first := send(0, false)
	if send(50, true) != first {
		t.Error("the flow changed its name within the inactivity timeout")
	}
	second := send(100, false) // 100 s after the last good packet
	if second == first {
		t.Error("a bad-checksum packet kept the tunnel flow alive")
	}
	tr.Flush()
	if len(conns) != 2 || conns[0].UID != first.String() || conns[1].UID != second.String() {
		t.Errorf("connections %v, want UIDs %s and %s", conns, first, second)
	}
}

// TestTunnelDepthHistoryX: a UDP tunnel that Zeek does not decapsulate for
// Tunnel::max_depth gets 'X' once, after its data letter.
func TestTunnelDepthHistoryX(t *testing.T) {
	r := newTunnelRun(t, Config{}, capture.DecoderOptions{MaxTunnelDepth: 1})
	vxIn := udpIP(t, "10.9.0.1", "10.9.0.2", 40001, 4789, join(vxlanHeader, ether(0x0800, synIP(t, "10.1.0.1", "10.1.0.2", 1, 2, false))))
	f := ether(0x0800, udpIP(t, "172.16.0.1", "172.16.0.2", 40000, 4789, join(vxlanHeader, ether(0x0800, vxIn))))
	back := ether(0x0800, udpIP(t, "172.16.0.2", "172.16.0.1", 4789, 40000, join(vxlanHeader, ether(0x0800,
		udpIP(t, "10.9.0.2", "10.9.0.1", 4789, 40001, join(vxlanHeader, ether(0x0800, synIP(t, "10.1.0.2", "10.1.0.1", 2, 1, true))))))))
	r.frame(0, f, 0)
	r.frame(1, f, 0)
	r.frame(2, back, 0)
	r.done()
	if r.errs != 3 {
		t.Errorf("%d decode errors, want 3 (exceeded_tunnel_max_depth)", r.errs)
	}
	outer := r.conn("udp 172.16.0.1:40000 > 172.16.0.2:4789")
	carried := r.conn("udp 10.9.0.1:40001 > 10.9.0.2:4789")
	if outer.History != "Dd" {
		t.Errorf("outer history %q, want Dd", outer.History)
	}
	if carried.History != "DXd" || len(carried.Services) != 0 || !sameParents(carried.TunnelParents, outer.UID) {
		t.Errorf("carried: history %q services %v parents %v; want DXd, none, [%s]", carried.History, carried.Services,
			carried.TunnelParents, outer.UID)
	}
	if len(r.conns) != 2 {
		t.Errorf("%d connections, want 2 (nothing decapsulated beyond the depth)", len(r.conns))
	}
}
