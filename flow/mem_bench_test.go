package flow

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// liveConnKinds are the typical live connections whose cost the memory
// benchmark and test measure. Each builds the packets of connection i
// (a distinct client address per connection) into the tracker at ts.
var liveConnKinds = []struct {
	name string
	feed func(tr *Tracker, i int, ts time.Time)
}{
	{"syn-only", func(tr *Tracker, i int, ts time.Time) {
		p := memPacket(i, true, capture.ProtoTCP, ts)
		p.TCPFlags, p.Seq, p.DstPort = capture.FlagSYN, 1000, 80
		tr.Packet(&p)
	}},
	{"tcp-established", func(tr *Tracker, i int, ts time.Time) {
		req := []byte("GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\n\r\n")
		resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")
		steps := []struct {
			fromClient bool
			flags      uint8
			seq, ack   uint32
			payload    []byte
		}{
			{true, capture.FlagSYN, 1000, 0, nil},
			{false, capture.FlagSYN | capture.FlagACK, 9000, 1001, nil},
			{true, capture.FlagACK, 1001, 9001, nil},
			{true, capture.FlagACK | capture.FlagPSH, 1001, 9001, req},
			{false, capture.FlagACK | capture.FlagPSH, 9001, 1001 + uint32(len(req)), resp},
			{true, capture.FlagACK, 1001 + uint32(len(req)), 9001 + uint32(len(resp)), nil},
		}
		for _, s := range steps {
			p := memPacket(i, s.fromClient, capture.ProtoTCP, ts)
			p.TCPFlags, p.Seq, p.Ack, p.Window = s.flags, s.seq, s.ack, 1000
			p.Payload, p.PayloadLen, p.IPLen = s.payload, len(s.payload), uint32(40+len(s.payload))
			if s.fromClient {
				p.DstPort = 80
			} else {
				p.SrcPort = 80
			}
			tr.Packet(&p)
		}
	}},
	{"udp-dns", func(tr *Tracker, i int, ts time.Time) {
		q := dnsMessage(uint16(i), false)
		r := dnsMessage(uint16(i), true)
		for k, msg := range [][]byte{q, r} {
			p := memPacket(i, k == 0, capture.ProtoUDP, ts)
			if k == 0 {
				p.DstPort = 53
			} else {
				p.SrcPort = 53
			}
			p.Payload, p.PayloadLen = msg, len(msg)
			p.UDPLength, p.IPLen = uint16(8+len(msg)), uint32(28+len(msg))
			tr.Packet(&p)
		}
	}},
	{"icmp-echo", func(tr *Tracker, i int, ts time.Time) {
		payload := make([]byte, 56)
		for k := range 2 {
			p := memPacket(i, k == 0, capture.ProtoICMP, ts)
			p.SrcPort, p.DstPort = 8, 0 // echo request: type 8, code 0
			if k == 1 {
				p.SrcPort = 0 // echo reply
			}
			p.Payload, p.PayloadLen, p.IPLen = payload, len(payload), uint32(28+len(payload))
			tr.Packet(&p)
		}
	}},
}

// memPacket is a packet of connection i between a client (one address
// per connection) and a server.
func memPacket(i int, fromClient bool, proto uint8, ts time.Time) capture.Packet {
	client := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	server := netip.AddrFrom4([4]byte{192, 0, 2, 1})
	p := capture.Packet{Timestamp: ts, Proto: proto, Src: client, Dst: server, SrcPort: 40000, DstPort: 40000, IPLen: 40, Window: 1024}
	if !fromClient {
		p.Src, p.Dst = server, client
	}
	return p
}

// dnsMessage is a query (or its answer) for example.com A.
func dnsMessage(id uint16, answer bool) []byte {
	b := make([]byte, 12, 64)
	binary.BigEndian.PutUint16(b[0:], id)
	if answer {
		binary.BigEndian.PutUint16(b[2:], 0x8180)
		binary.BigEndian.PutUint16(b[6:], 1)
	} else {
		binary.BigEndian.PutUint16(b[2:], 0x0100)
	}
	binary.BigEndian.PutUint16(b[4:], 1)
	b = append(b, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1)
	if answer {
		b = append(b, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 10)
	}
	return b
}

// liveConnBytes is the heap that n live connections of a kind hold in a
// tracker configured as netbased runs it (every service recognizer, the
// default server ports): heap in use after a GC, divided by n. The
// connection table and the timer queue are part of it.
func liveConnBytes(kind int, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tr := NewTracker(Config{Classifier: classify.New(classify.All), MaxConnections: 2 * n}, func(*Conn) {})
	ts := epoch
	for i := range n {
		liveConnKinds[kind].feed(tr, i, ts)
		if i%64 == 63 {
			ts = ts.Add(time.Microsecond)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if tr.Active() != n {
		panic("connections ended early")
	}
	runtime.KeepAlive(tr)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// BenchmarkLiveConnBytes reports what one live connection of each typical
// kind costs (B/conn): its state, table slot, timers, history, classifier
// state and buffers. Run it with -benchtime=1x; ns/op is meaningless.
func BenchmarkLiveConnBytes(b *testing.B) {
	for k, kind := range liveConnKinds {
		b.Run(kind.name, func(b *testing.B) {
			var sum float64
			for range b.N {
				// Half the default bound: the hash index has the same
				// load factor as with 1,000,000 connections.
				sum += liveConnBytes(k, 500_000)
			}
			b.ReportMetric(sum/float64(b.N), "B/conn")
		})
	}
}

// TestLiveConnBytes holds the per-connection cost where it is: SYN-only
// entries (a flood's), UDP flows and ICMP pairs within the 300 bytes per
// entry the connection table aims at (with its hash index at the load
// factor of the default bound), an established TCP connection within its
// current cost, so a regression shows.
func TestLiveConnBytes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 500,000 connections per kind")
	}
	limits := map[string]float64{"syn-only": 300, "tcp-established": 1200, "udp-dns": 300, "icmp-echo": 300}
	for k, kind := range liveConnKinds {
		got := liveConnBytes(k, 500_000)
		t.Logf("%s: %.0f B per live connection", kind.name, got)
		if got > limits[kind.name] {
			t.Errorf("%s: %.0f B per live connection, limit %.0f", kind.name, got, limits[kind.name])
		}
	}
}
