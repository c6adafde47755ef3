package flow

import (
	"encoding/binary"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
)

// benchFlows is the number of concurrent connections the benchmarks cycle
// through.
const benchFlows = 4096

func benchAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// BenchmarkTrackerTCP pushes data segments of established connections
// through the table (steady state: no allocation per packet).
func BenchmarkTrackerTCP(b *testing.B) {
	tr := NewTracker(Config{}, func(*Conn) {})
	server := netip.MustParseAddr("192.0.2.1")
	payload := make([]byte, 512)
	ts := epoch
	seqs := make([]uint32, benchFlows)
	mk := func(i int, fromClient bool, flags uint8, seq, ack uint32, n int) capture.Packet {
		p := capture.Packet{Timestamp: ts, Proto: capture.ProtoTCP, TCPFlags: flags, Seq: seq, Ack: ack, Window: 1000,
			PayloadLen: n, Payload: payload[:n], IPLen: uint32(40 + n)}
		if fromClient {
			p.Src, p.Dst, p.SrcPort, p.DstPort = benchAddr(i), server, uint16(30000+i%20000), 443
		} else {
			p.Src, p.Dst, p.SrcPort, p.DstPort = server, benchAddr(i), 443, uint16(30000+i%20000)
		}
		return p
	}
	for i := 0; i < benchFlows; i++ {
		p := mk(i, true, capture.FlagSYN, 1000, 0, 0)
		tr.Packet(&p)
		p = mk(i, false, capture.FlagSYN|capture.FlagACK, 9000, 1001, 0)
		tr.Packet(&p)
		p = mk(i, true, capture.FlagACK, 1001, 9001, 0)
		tr.Packet(&p)
		seqs[i] = 1001
	}
	var pkts [2]capture.Packet
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := n % benchFlows
		ts = ts.Add(time.Microsecond)
		pkts[0] = mk(i, true, capture.FlagACK|capture.FlagPSH, seqs[i], 9001, len(payload))
		seqs[i] += uint32(len(payload))
		tr.Packet(&pkts[0])
		pkts[1] = mk(i, false, capture.FlagACK, 9001, seqs[i], 0)
		tr.Packet(&pkts[1])
	}
	b.StopTimer()
	if tr.Active() != benchFlows {
		b.Fatalf("%d active connections, want %d", tr.Active(), benchFlows)
	}
}

// BenchmarkTrackerUDP pushes datagrams of existing UDP flows through the
// table.
func BenchmarkTrackerUDP(b *testing.B) {
	tr := NewTracker(Config{}, func(*Conn) {})
	server := netip.MustParseAddr("192.0.2.1")
	payload := make([]byte, 100)
	ts := epoch
	var p capture.Packet
	b.ReportAllocs()
	for n := -2 * benchFlows; n < b.N; n++ {
		if n == 0 {
			b.ResetTimer() // the flows exist: steady state from here
		}
		i := (n + 2*benchFlows) % benchFlows
		ts = ts.Add(time.Microsecond)
		p = capture.Packet{Timestamp: ts, Proto: capture.ProtoUDP, Src: benchAddr(i), Dst: server,
			SrcPort: uint16(30000 + i%20000), DstPort: 7000, UDPLength: 108, PayloadLen: 100, Payload: payload, IPLen: 128}
		if n&1 == 1 {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		tr.Packet(&p)
	}
}

// FuzzTracker feeds arbitrary packet sequences (12 bytes each) and checks
// that the tracker never panics, ends every connection exactly once, keeps
// its table and timer queue bounded, never moves network time backwards and
// never ends a connection before its last packet.
func FuzzTracker(f *testing.F) {
	f.Add([]byte{6, 0x02, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0x12, 1, 1, 0, 0, 0, 9, 0, 0, 0, 1})
	f.Add([]byte{17, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 1, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		created, ended := 0, 0
		var tr *Tracker
		var records []Conn
		tr = NewTracker(Config{MaxConnections: 4}, func(c *Conn) {
			ended++
			if c.End.Before(c.LastTime) || c.End.Before(c.Start) || !c.End.Equal(tr.NetworkTime()) {
				t.Fatalf("connection ends at %v, start %v, last %v, network time %v", c.End, c.Start, c.LastTime, tr.NetworkTime())
			}
			records = append(records, c.Clone())
		})
		// The same packets through a tracker that keeps every SYN-only
		// connection's full TCP state must give the same records.
		var plain []Conn
		ref := NewTracker(Config{MaxConnections: 4}, func(c *Conn) { plain = append(plain, c.Clone()) })
		ref.keepSYNState = true
		a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
		ts := epoch
		payload := make([]byte, 256)
		for len(data) >= 12 {
			d := data[:12]
			data = data[12:]
			if d[5] == 0xff {
				ts = ts.Add(-time.Minute) // time going backwards
			} else {
				ts = ts.Add(time.Duration(d[5]) * 100 * time.Millisecond)
			}
			n := int(d[11])
			p := capture.Packet{Timestamp: ts, Proto: d[0], TCPFlags: d[1], Src: a, Dst: b,
				SrcPort: uint16(d[2] & 3), DstPort: uint16(d[2]>>2&3) + 79,
				Seq: binary.BigEndian.Uint32(d[6:10]) & 0xffff, Ack: uint32(d[4]) << 8, Window: uint16(d[10]),
				PayloadLen: n, Payload: payload[:n/2+n%2*n/2], IPLen: uint32(40 + n), UDPLength: uint16(8 + n),
				BadChecksum: d[3]&0x80 != 0}
			if d[3]&1 != 0 {
				p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
			}
			before, nt := tr.Stats().Connections, tr.NetworkTime()
			tr.Packet(&p)
			ref.Packet(&p)
			created += int(tr.Stats().Connections - before)
			if tr.NetworkTime().Before(nt) || tr.Active() > 4 || tr.timers.len() > compactSlack+timersPerConn*4+1 {
				t.Fatalf("network time %v after %v, %d active, %d timers", tr.NetworkTime(), nt, tr.Active(), tr.timers.len())
			}
		}
		tr.Flush()
		ref.Flush()
		if created != ended || tr.Active() != 0 {
			t.Fatalf("created %d, ended %d, active %d", created, ended, tr.Active())
		}
		if !reflect.DeepEqual(records, plain) {
			t.Fatalf("compacted SYN state changed the records:\n%+v\nwant\n%+v", records, plain)
		}
	})
}

// BenchmarkTrackerSYNFlood is a spoofed SYN flood against a full table:
// every packet is a new connection from a new source, and each evicts
// the oldest (steady state: no allocation per connection).
func BenchmarkTrackerSYNFlood(b *testing.B) {
	const table = 1 << 16
	tr := NewTracker(Config{MaxConnections: table}, func(*Conn) {})
	server := netip.MustParseAddr("192.0.2.1")
	ts := epoch
	b.ReportAllocs()
	for n := -4 * table; n < b.N; n++ {
		if n == 0 {
			b.ResetTimer()
		}
		i := n + 4*table
		ts = ts.Add(time.Microsecond)
		p := capture.Packet{Timestamp: ts, Proto: capture.ProtoTCP, TCPFlags: capture.FlagSYN, Seq: uint32(i) * 2654435761,
			Window: 64240, IPLen: 40, Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: server,
			SrcPort: uint16(1024 + i%60000), DstPort: 80}
		tr.Tick(ts)
		tr.Packet(&p)
	}
	b.StopTimer()
	if tr.Active() != table {
		b.Fatalf("%d active, want %d", tr.Active(), table)
	}
}
