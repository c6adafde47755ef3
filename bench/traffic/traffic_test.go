package traffic

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// demoOnce generates the default trace once for the read-only tests.
var demoOnce = sync.OnceValues(func() (*Trace, error) { return Generate(DefaultConfig()) })

func demoTrace(t testing.TB) *Trace {
	t.Helper()
	tr, err := demoOnce()
	if err != nil {
		t.Fatalf("generate demo: %v", err)
	}
	return tr
}

func pcapBytes(t testing.TB, cfg Config) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := WritePcap(&buf, cfg); err != nil {
		t.Fatalf("WritePcap(%+v): %v", cfg, err)
	}
	return buf.Bytes()
}

func TestDeterministic(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
	}{
		{"demo", DefaultConfig()},
		{"seed 7", Config{Seed: 7, Sessions: 10}},
		{"scale 2", Config{Seed: 3, Sessions: 5, Scale: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := pcapBytes(t, tc.cfg), pcapBytes(t, tc.cfg)
			if !bytes.Equal(a, b) {
				t.Fatalf("two runs with the same config differ (%d vs %d bytes)", len(a), len(b))
			}
			if len(a) < 10_000 {
				t.Fatalf("trace suspiciously small: %d bytes", len(a))
			}
			other := tc.cfg
			other.Seed++
			if bytes.Equal(a, pcapBytes(t, other)) {
				t.Fatalf("seed %d and %d give identical traces: the seed is not used", tc.cfg.Seed, other.Seed)
			}
		})
	}
}

// repoRoot walks up from the package directory to go.mod.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func TestDemoPcapUpToDate(t *testing.T) {
	path := filepath.Join(repoRoot(t), "pcaps", "demo.pcap")
	committed, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read committed demo pcap: %v (regenerate with `make pcaps`)", err)
	}
	if fresh := pcapBytes(t, DefaultConfig()); !bytes.Equal(committed, fresh) {
		t.Fatalf("%s is stale: %d bytes committed, generator gives %d; run `make pcaps` and commit it", path, len(committed), len(fresh))
	}
	if len(committed) > 300*1024 {
		t.Fatalf("demo pcap is %d bytes, over the 300 KB budget", len(committed))
	}
}

func TestDemoReadmeUpToDate(t *testing.T) {
	path := filepath.Join(repoRoot(t), "pcaps", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	want, err := ManifestMarkdown(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), want) {
		t.Fatalf("%s does not contain the current manifest; regenerate it with `go run ./bench/gen -manifest`", path)
	}
}

// The pcap must read back with a standard reader, in timestamp order.
func TestPcapReadsBack(t *testing.T) {
	raw := pcapBytes(t, DefaultConfig())
	r, err := pcapgo.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("pcap header: %v", err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v, want Ethernet", r.LinkType())
	}
	var n int
	var last time.Time
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		if ci.Timestamp.Before(last) {
			t.Fatalf("record %d goes back in time: %v < %v", n, ci.Timestamp, last)
		}
		if len(data) < minFrame {
			t.Fatalf("record %d is %d bytes, shorter than an Ethernet frame", n, len(data))
		}
		last = ci.Timestamp
		n++
	}
	if want := len(demoTrace(t).Packets); n != want {
		t.Fatalf("read %d records, generated %d", n, want)
	}
	if span := last.Sub(demoTrace(t).Stats.First); span < 10*time.Minute {
		t.Fatalf("demo spans %v; it must cover more than two 5-minute windows", span)
	}
}

// ipPacket is a frame's IP packet located by hand (independently of gopacket).
type ipPacket struct {
	v6         bool
	vlan       uint16
	src, dst   netip.Addr
	proto      uint8
	header, l4 []byte // l4 is exactly the IP payload (frame padding cut)
}

func parseFrame(t testing.TB, i int, data []byte) ipPacket {
	t.Helper()
	var p ipPacket
	etherType := binary.BigEndian.Uint16(data[12:])
	off := 14
	if etherType == 0x8100 {
		p.vlan = binary.BigEndian.Uint16(data[14:]) & 0x0fff
		etherType = binary.BigEndian.Uint16(data[16:])
		off = 18
	}
	switch etherType {
	case 0x0800:
		ihl := int(data[off]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(data[off+2:]))
		p.header = data[off : off+ihl]
		p.l4 = data[off+ihl : off+total]
		p.proto = data[off+9]
		p.src = netip.AddrFrom4([4]byte(data[off+12 : off+16]))
		p.dst = netip.AddrFrom4([4]byte(data[off+16 : off+20]))
	case 0x86dd:
		p.v6 = true
		plen := int(binary.BigEndian.Uint16(data[off+4:]))
		p.header = data[off : off+40]
		p.l4 = data[off+40 : off+40+plen]
		p.proto = data[off+6]
		p.src = netip.AddrFrom16([16]byte(data[off+8 : off+24]))
		p.dst = netip.AddrFrom16([16]byte(data[off+24 : off+40]))
	default:
		t.Fatalf("packet %d: unexpected ethertype %#04x", i, etherType)
	}
	return p
}

func onesSum(sum uint32, b []byte) uint32 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func folded(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// checksumOK verifies the IP header and transport checksums of p.
func (p ipPacket) transportChecksumOK() bool {
	var pseudo []byte
	pseudo = append(pseudo, p.src.AsSlice()...)
	pseudo = append(pseudo, p.dst.AsSlice()...)
	if p.v6 {
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(p.l4)))
		pseudo = append(pseudo, 0, 0, 0, p.proto)
	} else {
		pseudo = append(pseudo, 0, p.proto)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(p.l4)))
	}
	switch p.proto {
	case protoICMP:
		return folded(onesSum(0, p.l4)) == 0xffff
	case protoUDP:
		if binary.BigEndian.Uint16(p.l4[6:]) == 0 {
			return false // we always compute UDP checksums
		}
	}
	return folded(onesSum(onesSum(0, pseudo), p.l4)) == 0xffff
}

func TestPacketsDecodeWithValidChecksums(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {Seed: 99, Sessions: 40}} {
		tr := demoTrace(t)
		if cfg != DefaultConfig() {
			var err error
			if tr, err = Generate(cfg); err != nil {
				t.Fatal(err)
			}
		}
		counts := map[string]int{}
		for i, pkt := range tr.Packets {
			gp := gopacket.NewPacket(pkt.Data, layers.LayerTypeEthernet, gopacket.Default)
			if el := gp.ErrorLayer(); el != nil {
				t.Fatalf("seed %d packet %d: gopacket decode error: %v", cfg.Seed, i, el.Error())
			}
			if gp.NetworkLayer() == nil {
				t.Fatalf("seed %d packet %d: no network layer", cfg.Seed, i)
			}
			if gp.Layer(layers.LayerTypeTCP) == nil && gp.Layer(layers.LayerTypeUDP) == nil &&
				gp.Layer(layers.LayerTypeICMPv4) == nil && gp.Layer(layers.LayerTypeICMPv6) == nil {
				t.Fatalf("seed %d packet %d: no transport layer: %v", cfg.Seed, i, gp)
			}
			p := parseFrame(t, i, pkt.Data)
			if !p.v6 {
				if folded(onesSum(0, p.header)) != 0xffff {
					t.Fatalf("seed %d packet %d: bad IPv4 header checksum", cfg.Seed, i)
				}
				counts["ipv4"]++
			} else {
				counts["ipv6"]++
			}
			if !p.transportChecksumOK() {
				t.Fatalf("seed %d packet %d: bad transport checksum (proto %d)", cfg.Seed, i, p.proto)
			}
			counts[fmt.Sprint("proto", p.proto)]++
			if p.vlan != 0 {
				counts["vlan"]++
			}
		}
		for _, k := range []string{"ipv4", "ipv6", "proto6", "proto17", "proto1", "vlan"} {
			if counts[k] == 0 {
				t.Errorf("seed %d: no %s packets were checked (%v)", cfg.Seed, k, counts)
			}
		}
		if cfg == DefaultConfig() && counts["proto58"] == 0 {
			t.Errorf("demo has no ICMPv6 packets (%v)", counts)
		}
	}
}

// connKey identifies one direction of a TCP/UDP connection.
type connKey struct {
	proto    uint8
	src, dst netip.AddrPort
}

func (k connKey) reverse() connKey { return connKey{k.proto, k.dst, k.src} }

type tcpSide struct {
	hasISN  bool
	isn     uint32
	next    uint32
	lastAck uint32
	sawAck  bool
	// ends holds every sequence number this side's segments ended at: a
	// correct ACK lands on one of them.
	ends map[uint32]bool
}

type tcpCheck struct {
	origKey connKey
	sides   [2]tcpSide
	packets int
}

func TestTCPSequenceArithmetic(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {Seed: 5, Sessions: 60}, {Seed: 11, Sessions: 10, Scale: 3}} {
		tr := demoTrace(t)
		if cfg != DefaultConfig() {
			var err error
			if tr, err = Generate(cfg); err != nil {
				t.Fatal(err)
			}
		}
		conns := map[connKey]*tcpCheck{}
		var checked, withData int
		for i, pkt := range tr.Packets {
			gp := gopacket.NewPacket(pkt.Data, layers.LayerTypeEthernet, gopacket.Default)
			tcpLayer, ok := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !ok {
				continue
			}
			p := parseFrame(t, i, pkt.Data)
			key := connKey{6, netip.AddrPortFrom(p.src, uint16(tcpLayer.SrcPort)), netip.AddrPortFrom(p.dst, uint16(tcpLayer.DstPort))}
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("seed %d packet %d %v→%v flags %s: %s", cfg.Seed, i, key.src, key.dst, flagString(tcpLayer), fmt.Sprintf(format, args...))
			}
			c := conns[key]
			from := 0
			if c == nil {
				if c = conns[key.reverse()]; c != nil {
					from = 1
				}
			}
			if c == nil || (from == 0 && tcpLayer.SYN && !tcpLayer.ACK && c.sides[0].isn != tcpLayer.Seq) {
				if !tcpLayer.SYN || tcpLayer.ACK {
					fail("connection does not start with a SYN")
				}
				c = &tcpCheck{origKey: key}
				conns[key] = c
				delete(conns, key.reverse())
				from = 0
			}
			c.packets++
			me, peer := &c.sides[from], &c.sides[1-from]
			payload := len(tcpLayer.Payload)
			switch {
			case tcpLayer.SYN:
				if payload != 0 {
					fail("SYN with payload")
				}
				if from == 1 {
					if !tcpLayer.ACK {
						fail("responder SYN without ACK")
					}
					if tcpLayer.Ack != peer.isn+1 {
						fail("SYN-ACK acks %d, want ISN+1 = %d", tcpLayer.Ack, peer.isn+1)
					}
				}
				me.hasISN, me.isn, me.next = true, tcpLayer.Seq, tcpLayer.Seq+1
				me.ends = map[uint32]bool{me.next: true}
			case !me.hasISN:
				// Only a RST/ACK answering a SYN may come from a side without ISN.
				if !tcpLayer.RST || !tcpLayer.ACK || tcpLayer.Ack != peer.isn+1 {
					fail("packet from a side that sent no SYN")
				}
			default:
				if tcpLayer.Seq != me.next {
					fail("seq %d, want %d (relative %d)", tcpLayer.Seq, me.next, tcpLayer.Seq-me.isn)
				}
				me.next += uint32(payload)
				if tcpLayer.FIN {
					me.next++
				}
				me.ends[me.next] = true
				if payload > 0 {
					withData++
				}
			}
			if tcpLayer.ACK && me.hasISN {
				if !peer.hasISN {
					fail("ACK before the peer's SYN")
				}
				if rel := tcpLayer.Ack - peer.isn; rel == 0 || rel > peer.next-peer.isn {
					fail("acks relative %d, peer has sent only up to %d", rel, peer.next-peer.isn)
				}
				if !peer.ends[tcpLayer.Ack] {
					fail("ack %d (relative %d) is not the end of any segment the peer sent", tcpLayer.Ack, tcpLayer.Ack-peer.isn)
				}
				if me.sawAck && tcpLayer.Ack-me.lastAck > 1<<31 {
					fail("ack went backwards: %d after %d", tcpLayer.Ack, me.lastAck)
				}
				me.sawAck, me.lastAck = true, tcpLayer.Ack
			}
			checked++
		}
		if checked < 200 || withData < 50 || len(conns) < 30 {
			t.Fatalf("seed %d: only %d TCP packets (%d with data) in %d connections checked", cfg.Seed, checked, withData, len(conns))
		}
	}
}

func flagString(l *layers.TCP) string {
	var s []string
	for _, f := range []struct {
		on   bool
		name string
	}{{l.SYN, "S"}, {l.ACK, "A"}, {l.PSH, "P"}, {l.FIN, "F"}, {l.RST, "R"}} {
		if f.on {
			s = append(s, f.name)
		}
	}
	return strings.Join(s, "")
}

// The manifest's predicted conn_state must agree with its history, and the
// demo must cover every service, state and encapsulation netbased handles.
func TestManifestCoverage(t *testing.T) {
	tr := demoTrace(t)
	services, states, kinds, dirs := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var v6, vlan, total int
	for _, s := range tr.Sessions {
		total += s.Packets
		h := s.History
		ok := true
		switch {
		case s.Proto == "icmp":
			ok = s.ConnState == "OTH" && h == ""
		case s.Proto == "udp":
			ok = (s.ConnState == "SF" && h == "Dd") || (s.ConnState == "S0" && h == "D")
		case s.ConnState == "SF":
			ok = strings.HasPrefix(h, "Sh") && strings.Contains(h, "F") && strings.Contains(h, "f") && !strings.ContainsAny(h, "Rr")
		case s.ConnState == "S0":
			ok = h == "S"
		case s.ConnState == "REJ":
			ok = h == "Sr"
		case s.ConnState == "RSTO":
			ok = strings.HasPrefix(h, "Sh") && strings.HasSuffix(h, "R") && !strings.ContainsAny(h, "rFf")
		case s.ConnState == "RSTR":
			ok = strings.HasPrefix(h, "Sh") && strings.HasSuffix(h, "r") && !strings.ContainsAny(h, "RFf")
		case s.ConnState == "S1":
			ok = strings.HasPrefix(h, "Sh") && !strings.ContainsAny(h, "RrFf")
		default:
			ok = false
		}
		if !ok {
			t.Errorf("session %d (%s %s): state %s disagrees with history %q", s.ID, s.Kind, s.Proto, s.ConnState, h)
		}
		if s.Background {
			continue
		}
		services[s.Service]++
		for _, svc := range strings.Split(s.Service, ",") {
			if svc != s.Service {
				services[svc]++
			}
		}
		states[s.ConnState]++
		kinds[s.Kind]++
		dirs[s.Direction]++
		if s.Orig.Is6() {
			v6++
		}
		if s.VLAN != 0 {
			vlan++
		}
	}
	if total != len(tr.Packets) {
		t.Errorf("manifest counts %d packets, trace has %d", total, len(tr.Packets))
	}
	for _, want := range []string{"dns", "http", "ssl", "smb", "rdp", "ssh", "ntp", ""} {
		if services[want] == 0 {
			t.Errorf("catalogue has no session with service %q", want)
		}
	}
	for _, want := range []string{"SF", "S0", "S1", "REJ", "RSTO", "RSTR", "OTH"} {
		if states[want] == 0 {
			t.Errorf("catalogue has no %s session", want)
		}
	}
	for _, want := range []string{"dns-tcp", "tls-port-8443", "https-tls12", "https-tls13", "rdp-tls", "smb2-negotiate-only", "scan-open", "scan-closed", "scan-filtered", "icmp-echo"} {
		if kinds[want] == 0 {
			t.Errorf("catalogue has no %s session", want)
		}
	}
	for _, want := range []string{"internal", "outbound", "inbound"} {
		if dirs[want] == 0 {
			t.Errorf("catalogue has no %s session", want)
		}
	}
	if v6 < 3 || vlan < 3 {
		t.Errorf("catalogue has %d IPv6 and %d VLAN sessions, want ≥ 3 each", v6, vlan)
	}
}

// Two sessions must never fall into one Zeek connection: a UDP/ICMP key is
// reused only after Zeek's 60 s inactivity timeout, a TCP key only after its
// 5 s close delay.
func TestNoConnectionCollisions(t *testing.T) {
	for _, cfg := range []Config{DefaultConfig(), {Seed: 2, Sessions: 200, Scale: 4}} {
		sessions, err := Manifest(cfg)
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]Session{}
		for _, s := range sessions {
			a := netip.AddrPortFrom(s.Orig, s.OrigPort).String()
			b := netip.AddrPortFrom(s.Resp, s.RespPort).String()
			if a > b {
				a, b = b, a
			}
			key := s.Proto + " " + a + " " + b
			if prev, ok := last[key]; ok {
				gap := s.Start.Sub(prev.End)
				limit := 60 * time.Second
				if s.Proto == "tcp" {
					limit = 5 * time.Second
				}
				if prev.ConnState == "S1" || gap <= limit {
					t.Errorf("seed %d: sessions %d and %d share %s only %v apart", cfg.Seed, prev.ID, s.ID, key, gap)
				}
			}
			last[key] = s
		}
		if len(last) < 50 {
			t.Fatalf("seed %d: only %d distinct connections", cfg.Seed, len(last))
		}
	}
}

// payloads collects the payload chunks sent in each direction.
func payloads(t *testing.T, tr *Trace) map[connKey][][]byte {
	t.Helper()
	out := map[connKey][][]byte{}
	for i, pkt := range tr.Packets {
		p := parseFrame(t, i, pkt.Data)
		var payload []byte
		switch p.proto {
		case protoTCP:
			payload = p.l4[int(p.l4[12]>>4)*4:]
		case protoUDP:
			payload = p.l4[8:]
		default:
			continue
		}
		if len(payload) == 0 {
			continue
		}
		sport, dport := binary.BigEndian.Uint16(p.l4), binary.BigEndian.Uint16(p.l4[2:])
		key := connKey{p.proto, netip.AddrPortFrom(p.src, sport), netip.AddrPortFrom(p.dst, dport)}
		out[key] = append(out[key], payload)
	}
	return out
}

// Each session's payload must carry what a Zeek-like recognizer confirms
// its expected service on (spec zeek-behaviour.md §5.2).
func TestPayloadsConfirmServices(t *testing.T) {
	tr := demoTrace(t)
	all := payloads(t, tr)
	checked := map[string]int{}
	for _, s := range tr.Sessions {
		proto := uint8(protoTCP)
		if s.Proto == "udp" {
			proto = protoUDP
		} else if s.Proto != "tcp" {
			continue
		}
		key := connKey{proto, netip.AddrPortFrom(s.Orig, s.OrigPort), netip.AddrPortFrom(s.Resp, s.RespPort)}
		p := [2][][]byte{all[key], all[key.reverse()]}
		origStream, respStream := bytes.Join(p[0], nil), bytes.Join(p[1], nil)
		fail := func(why string) { t.Errorf("session %d (%s, %s): %s", s.ID, s.Kind, s.Service, why) }
		for _, svc := range strings.Split(s.Service, ",") {
			switch svc {
			case "dns":
				if s.RespPort != 53 || len(p[0]) == 0 {
					fail("no query to port 53")
				}
			case "http":
				if !bytes.HasPrefix(origStream, []byte("GET ")) && !bytes.HasPrefix(origStream, []byte("POST ")) {
					fail("client stream does not start with a request line")
				}
				if !bytes.HasPrefix(respStream, []byte("HTTP/1.1 ")) {
					fail("server stream does not start with HTTP/1.1")
				}
			case "ssl":
				stream := origStream
				if s.Kind == "rdp-tls" {
					// The ClientHello follows the X.224 Connection Request.
					stream = stream[int(binary.BigEndian.Uint16(stream[2:])):]
				}
				if len(stream) < 11 || stream[0] != 0x16 || stream[1] != 3 || stream[5] != 1 || stream[9] != 3 || stream[10] != 3 {
					fail("client stream does not start with a TLS ClientHello")
				}
			case "smb":
				if len(p[0]) < 3 || len(p[1]) < 3 {
					fail("fewer than 3 SMB chunks in a direction")
				}
				for _, chunk := range append(append([][]byte{}, p[0]...), p[1]...) {
					if len(chunk) < 8 || chunk[0] != 0 || string(chunk[4:8]) != "\xfeSMB" {
						fail("chunk without NetBIOS + SMB2 header")
						break
					}
				}
			case "rdp":
				if !bytes.Contains(origStream, []byte("Cookie: mstshash=")) || !bytes.Contains(origStream, []byte("Duca")) {
					fail("no cookie or GCC Conference Create Request")
				}
				if len(respStream) < 6 || respStream[5] != 0xd0 || !bytes.Contains(respStream, []byte("McDn")) {
					fail("no X.224 CC or GCC Conference Create Response")
				}
			case "ssh":
				if !bytes.HasPrefix(origStream, []byte("SSH-2.0-")) || !bytes.HasPrefix(respStream, []byte("SSH-2.0-")) {
					fail("no SSH banners")
				}
			}
			checked[svc]++
		}
	}
	for _, svc := range []string{"dns", "http", "ssl", "smb", "rdp", "ssh"} {
		if checked[svc] == 0 {
			t.Errorf("no %s session checked", svc)
		}
	}
}

func TestScaleGrowsAndStreams(t *testing.T) {
	small, err := Each(Config{Seed: 4, Sessions: 20}, func(time.Time, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	var last time.Time
	big, err := Each(Config{Seed: 4, Sessions: 20, Scale: 5}, func(ts time.Time, data []byte) error {
		if ts.Before(last) {
			return fmt.Errorf("timestamps go backwards: %v after %v", ts, last)
		}
		last = ts
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if big.Packets < 2*small.Packets || big.Sessions < 2*small.Sessions {
		t.Fatalf("scale 5 gives %d packets / %d sessions, scale 1 gives %d / %d", big.Packets, big.Sessions, small.Packets, small.Sessions)
	}
}

func TestEachStopsOnError(t *testing.T) {
	stop := fmt.Errorf("stop")
	n := 0
	_, err := Each(DefaultConfig(), func(time.Time, []byte) error {
		n++
		if n == 10 {
			return stop
		}
		return nil
	})
	if err != stop || n != 10 {
		t.Fatalf("Each returned %v after %d packets, want the callback's error after 10", err, n)
	}
}

// FuzzGenerate checks the generator's invariants for arbitrary seeds.
func FuzzGenerate(f *testing.F) {
	f.Add(uint64(1), uint8(5))
	f.Add(uint64(12345), uint8(30))
	f.Fuzz(func(t *testing.T, seed uint64, sessions uint8) {
		tr, err := Generate(Config{Seed: seed, Sessions: int(sessions%40) + 1})
		if err != nil {
			t.Fatal(err)
		}
		var packets int
		for i, pkt := range tr.Packets {
			p := parseFrame(t, i, pkt.Data)
			if !p.v6 && folded(onesSum(0, p.header)) != 0xffff {
				t.Fatalf("packet %d: bad IPv4 checksum", i)
			}
			if !p.transportChecksumOK() {
				t.Fatalf("packet %d: bad transport checksum", i)
			}
			packets++
		}
		sum := 0
		for _, s := range tr.Sessions {
			sum += s.Packets
		}
		if sum != packets {
			t.Fatalf("manifest counts %d packets, trace has %d", sum, packets)
		}
	})
}

func BenchmarkGenerate(b *testing.B) {
	cfg := DefaultConfig()
	var stats Stats
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if stats, err = WritePcap(io.Discard, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(stats.Bytes)
	b.ReportMetric(float64(stats.Packets)*float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
