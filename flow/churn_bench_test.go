package flow

import (
	"net/netip"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
)

// BenchmarkTrackerChurn is short-lived traffic whose timers fire all the
// time: TCP connections of seven packets (half of them never closed),
// interleaved with UDP request/response pairs, 1 ms of network time per
// packet, so that the attempt, expire, close-delay and inactivity timers
// of earlier connections come due while new ones start. The first 400 000
// packets (400 s, longer than any timeout involved) are a warm-up: the
// table and the timer queue then stay the same size.
func BenchmarkTrackerChurn(b *testing.B) {
	tr := NewTracker(Config{}, func(*Conn) {})
	server := netip.MustParseAddr("192.0.2.1")
	payload := make([]byte, 200)
	type step struct {
		fromClient bool
		flags      uint8
		seq, ack   uint32
		n          int
	}
	tcpSteps := []step{
		{true, capture.FlagSYN, 1000, 0, 0},
		{false, capture.FlagSYN | capture.FlagACK, 9000, 1001, 0},
		{true, capture.FlagACK, 1001, 9001, 0},
		{true, capture.FlagACK | capture.FlagPSH, 1001, 9001, 200},
		{false, capture.FlagACK | capture.FlagPSH, 9001, 1201, 200},
		{true, capture.FlagFIN | capture.FlagACK, 1201, 9201, 0},
		{false, capture.FlagFIN | capture.FlagACK, 9201, 1202, 0},
	}
	const warmup = 400000
	ts := epoch
	var p capture.Packet
	b.ReportAllocs()
	for n := -warmup; n < b.N; n++ {
		if n == 0 {
			b.ResetTimer()
		}
		ts = ts.Add(time.Millisecond)
		i := (n + warmup) / 9
		client := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		sport := uint16(1024 + i%60000)
		k := (n + warmup) % 9
		if k >= 7 { // a UDP request and its response
			p = capture.Packet{Timestamp: ts, Proto: capture.ProtoUDP, Src: client, Dst: server, SrcPort: sport, DstPort: 7000,
				UDPLength: 108, PayloadLen: 100, Payload: payload[:100], IPLen: 128}
			if k == 8 {
				p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
			}
			tr.Packet(&p)
			continue
		}
		if k >= 5 && i%2 == 1 {
			continue // left open: ends by inactivity
		}
		s := tcpSteps[k]
		p = capture.Packet{Timestamp: ts, Proto: capture.ProtoTCP, TCPFlags: s.flags, Seq: s.seq, Ack: s.ack, Window: 1000,
			PayloadLen: s.n, Payload: payload[:s.n], IPLen: uint32(40 + s.n),
			Src: client, Dst: server, SrcPort: sport, DstPort: 8080}
		if !s.fromClient {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		tr.Packet(&p)
	}
	b.StopTimer()
	tr.Flush()
	if st := tr.Stats(); st.Ended != st.Connections || st.Connections == 0 {
		b.Fatalf("stats %+v", st)
	}
}
