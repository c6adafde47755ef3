package flow

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
)

// Adversarial traffic: floods, time going backwards, sequence numbers at
// the edge of the 32-bit space, bad checksums. Each case asserts the
// behaviour (bounds, counters, exactly-once delivery), not only "no panic".

// floodAddr is the i-th distinct source of a flood.
func floodAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestSYNFloodBoundedTable(t *testing.T) {
	victim := netip.MustParseAddr("192.0.2.1")
	cases := []struct {
		name    string
		max     int
		packets int
		step    time.Duration // between SYNs
		// pauseEvery > 0 inserts 6 s of silence every that many SYNs.
		pauseEvery int
		// Whether the table bound or the attempt timers end the connections.
		evicted, timedOut bool
	}{
		{"one slot", 1, 5000, time.Microsecond, 0, true, false},
		{"16 slots, burst", 16, 30000, time.Microsecond, 0, true, false},
		{"256 slots, slow flood", 256, 30000, 30 * time.Millisecond, 0, false, true},
		{"256 slots, bursts and pauses", 256, 30000, time.Microsecond, 1000, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[string]int{}
			tr := NewTracker(Config{MaxConnections: tc.max}, func(c *Conn) {
				seen[strings.Clone(c.UID)]++
				if c.ConnState != "S0" || c.History != "S" || c.OrigPkts != 1 {
					t.Fatalf("flood connection %+v", c)
				}
			})
			maxHeap := 0
			ts := epoch
			for i := 0; i < tc.packets; i++ {
				ts = ts.Add(tc.step)
				if tc.pauseEvery > 0 && i%tc.pauseEvery == 0 {
					ts = ts.Add(6 * time.Second)
				}
				p := capture.Packet{Timestamp: ts, Proto: capture.ProtoTCP, Src: floodAddr(i), Dst: victim,
					SrcPort: uint16(1024 + i%60000), DstPort: 80, TCPFlags: capture.FlagSYN, Seq: uint32(i * 7919),
					Window: 1024, IPLen: 40}
				tr.Packet(&p)
				if tr.Active() > tc.max {
					t.Fatalf("%d connections active, bound %d", tr.Active(), tc.max)
				}
				maxHeap = max(maxHeap, tr.timers.len())
			}
			st := tr.Stats()
			timedOut := st.Ended - st.Evictions
			if st.Connections != uint64(tc.packets) || st.Ended+uint64(tr.Active()) != st.Connections {
				t.Fatalf("stats %+v with %d active", st, tr.Active())
			}
			if (st.Evictions > 0) != tc.evicted || (timedOut > 0) != tc.timedOut {
				t.Errorf("evictions %d, timed out %d", st.Evictions, timedOut)
			}
			// Cancelled timers of evicted connections are compacted away.
			if bound := compactSlack + timersPerConn*tc.max + 1; maxHeap > bound {
				t.Errorf("timer queue reached %d entries, bound %d", maxHeap, bound)
			}
			if tc.evicted && tc.packets > compactSlack && st.TimerCompactions == 0 {
				t.Errorf("no timer compaction")
			}
			tr.Flush()
			if len(seen) != tc.packets {
				t.Fatalf("%d connections delivered, want %d", len(seen), tc.packets)
			}
			for uid, n := range seen {
				if n != 1 {
					t.Fatalf("connection %s delivered %d times", uid, n)
				}
			}
		})
	}
}

// TestTimerCompactionKeepsOrder: compaction must not change which timers
// fire or when.
func TestTimerCompactionKeepsOrder(t *testing.T) {
	run := func(compact bool) []string {
		var out []string
		tr := NewTracker(Config{MaxConnections: 50}, func(c *Conn) {
			out = append(out, c.UID+" "+c.End.Format(time.RFC3339Nano)+" "+c.ConnState)
		})
		if !compact {
			tr.compactAt = 1 << 62
		}
		server := netip.MustParseAddr("192.0.2.1")
		for i := 0; i < 20000; i++ {
			ts := epoch.Add(time.Duration(i) * 7 * time.Millisecond)
			p := capture.Packet{Timestamp: ts, Src: floodAddr(i % 400), Dst: server, SrcPort: uint16(2000 + i%400), DstPort: 53,
				Proto: capture.ProtoUDP, UDPLength: 20, PayloadLen: 12, Payload: make([]byte, 12), IPLen: 40}
			if i%3 == 0 {
				p.Proto, p.DstPort, p.TCPFlags, p.Seq, p.IPLen = capture.ProtoTCP, 80, capture.FlagSYN, uint32(i), 40
			}
			tr.Packet(&p)
		}
		tr.Flush()
		if compact && tr.Stats().TimerCompactions == 0 {
			t.Fatal("no compaction happened")
		}
		return out
	}
	a, b := run(true), run(false)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("compaction changed the outcome: %d vs %d records", len(a), len(b))
	}
}

func TestTimeGoingBackwards(t *testing.T) {
	type step struct {
		at      float64 // packet time, seconds after epoch (< 0: Advance to -at)
		port    uint16
		wantNT  float64 // network time after the step
		wantEnd []uint16
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"connection created in the past expires relative to its own last packet", []step{
			{at: 100, port: 1, wantNT: 100},
			{at: 50, port: 2, wantNT: 100}, // a minute of inactivity ends it at 110
			{at: -109, wantNT: 109},
			{at: -111, wantNT: 111, wantEnd: []uint16{2}},
			{at: -161, wantNT: 161, wantEnd: []uint16{1}},
		}},
		{"time jumps forward then back", []step{
			{at: 10, port: 1, wantNT: 10},
			{at: 1000, port: 2, wantNT: 1000, wantEnd: []uint16{1}}, // 10+60 passed: ended before 2 starts
			// A connection whose last packet is older than its timeout is
			// due at once: the next packet ends it (and starts a new one).
			{at: 20, port: 3, wantNT: 1000},
			{at: 20.5, port: 3, wantNT: 1000, wantEnd: []uint16{3}},
			{at: -1079, wantNT: 1079, wantEnd: []uint16{3, 2}},
			{at: -1061, wantNT: 1079}, // Advance never goes back
			{at: -1061, wantNT: 1079},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ended []Conn
			tr := NewTracker(Config{}, func(c *Conn) { ended = append(ended, c.Clone()) })
			for i, s := range tc.steps {
				n := len(ended)
				if s.at < 0 {
					tr.Advance(at(-s.at))
				} else {
					p := capture.Packet{Timestamp: at(s.at), Proto: capture.ProtoUDP, Src: hostA, Dst: hostB, SrcPort: s.port,
						DstPort: 7000, UDPLength: 9, PayloadLen: 1, Payload: []byte{1}, IPLen: 29}
					tr.Packet(&p)
				}
				if !tr.NetworkTime().Equal(at(s.wantNT)) {
					t.Fatalf("step %d: network time %v, want %v", i, tr.NetworkTime(), at(s.wantNT))
				}
				var ports []uint16
				for _, c := range ended[n:] {
					ports = append(ports, c.OrigPort)
					if c.End.Before(c.Start) || c.End.Before(c.LastTime) {
						t.Errorf("step %d: connection %d ends at %v before its packets (%v, %v)", i, c.OrigPort, c.End, c.Start, c.LastTime)
					}
				}
				if fmt.Sprint(ports) != fmt.Sprint(s.wantEnd) && len(ports)+len(s.wantEnd) > 0 {
					t.Fatalf("step %d: ended %v, want %v", i, ports, s.wantEnd)
				}
			}
		})
	}
}

func TestSequenceSpaceEdges(t *testing.T) {
	// A transfer of more than 2^32 bytes: the sequence numbers wrap (twice
	// for the ISN just below 2^32) and the size keeps counting.
	t.Run("more than 4 GiB", func(t *testing.T) {
		var ended []Conn
		tr := NewTracker(Config{}, func(c *Conn) { ended = append(ended, c.Clone()) })
		payload := make([]byte, 65000)
		const segs = 70000 // 4.55 GB
		isn := uint32(0xFFFFF000)
		ts := epoch
		pkt := func(fromA bool, flags uint8, seq, ack uint32, n int) {
			ts = ts.Add(time.Millisecond)
			p := capture.Packet{Timestamp: ts, Proto: capture.ProtoTCP, TCPFlags: flags, Seq: seq, Ack: ack, Window: 1000,
				PayloadLen: n, Payload: payload[:n], IPLen: uint32(40 + n), Src: hostA, Dst: hostB, SrcPort: 40000, DstPort: 80}
			if !fromA {
				p.Src, p.Dst, p.SrcPort, p.DstPort = hostB, hostA, 80, 40000
			}
			tr.Packet(&p)
		}
		pkt(true, fS, isn, 0, 0)
		pkt(false, fS|fA, 5000, isn+1, 0)
		seq := isn + 1
		pkt(true, fA, seq, 5001, 0)
		for i := 0; i < segs; i++ {
			pkt(true, fA, seq, 5001, len(payload))
			seq += uint32(len(payload))
			if i%16 == 15 {
				pkt(false, fA, 5001, seq, 0)
			}
		}
		pkt(false, fA, 5001, seq, 0)
		pkt(true, fF|fA, seq, 5001, 0)
		pkt(false, fF|fA, 5001, seq+1, 0)
		pkt(true, fA, seq+1, 5002, 0)
		tr.Flush()
		if len(ended) != 1 {
			t.Fatalf("%d connections", len(ended))
		}
		c := ended[0]
		if want := uint64(segs) * 65000; c.OrigBytes != want || c.RespBytes != 0 || c.MissedBytes != 0 || c.ConnState != "SF" {
			t.Errorf("bytes %d/%d missed %d state %s, want %d/0 0 SF", c.OrigBytes, c.RespBytes, c.MissedBytes, c.ConnState, want)
		}
	})

	// SYN and RST segments that jump further than TOO_LARGE_SEQ_DELTA are
	// not trusted: the size stays what the data said.
	for _, tc := range []struct {
		name  string
		jump  seg
		bytes uint64
	}{
		{"rst 2^31 ahead", seg{at: 0.5, fromA: true, flags: fR, seq: 1101 + 1<<31}, 100},
		{"rst 256 behind", seg{at: 0.5, fromA: true, flags: fR | fA, seq: 1101 - 0x100, ack: 5001}, 100},
		{"rst within the window", seg{at: 0.5, fromA: true, flags: fR, seq: 1101 + 1000}, 1100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.tcp(40000, 80, cat(handshake(), []seg{
				{at: 0.3, fromA: true, flags: fA, seq: 1001, ack: 5001, n: 100},
				{at: 0.4, flags: fA, seq: 5001, ack: 1101},
				tc.jump,
			})...)
			if c := h.only(); c.OrigBytes != tc.bytes || c.RespBytes != 0 {
				t.Errorf("bytes %d/%d, want %d/0 (history %s)", c.OrigBytes, c.RespBytes, tc.bytes, c.History)
			}
		})
	}
}

func TestBadChecksumsBothSettings(t *testing.T) {
	cases := []struct {
		name string
		run  func(h *harness)
		// without -C and with -C
		want, wantC struct {
			history    string
			origPkts   uint64
			origBytes  uint64
			connStates string
		}
	}{
		{name: "tcp data segment", run: func(h *harness) {
			h.tcp(40000, 80, cat(handshake(), []seg{
				{at: 0.3, fromA: true, flags: fA | fP, seq: 1001, ack: 5001, n: 50, bad: true},
				{at: 0.4, fromA: true, flags: fA | fP, seq: 1051, ack: 5001, n: 50},
			})...)
		}},
		{name: "udp datagram", run: func(h *harness) {
			h.udp(0, hostA, hostB, 5000, 7000, 10, true)
			h.udp(1, hostA, hostB, 5000, 7000, 10, false)
		}},
		{name: "icmp echo", run: func(h *harness) {
			for i, bad := range []bool{true, false} {
				p := capture.Packet{Timestamp: at(float64(i)), Proto: capture.ProtoICMP, Src: hostA, Dst: hostB, SrcPort: 8,
					PayloadLen: 20, Payload: make([]byte, 20), IPLen: 48, BadChecksum: bad}
				h.tr.Packet(&p)
			}
		}},
	}
	cases[0].want.history, cases[0].want.origPkts, cases[0].want.origBytes, cases[0].want.connStates = "ShACD", 3, 100, "S1"
	cases[0].wantC.history, cases[0].wantC.origPkts, cases[0].wantC.origBytes, cases[0].wantC.connStates = "ShAD", 4, 100, "S1"
	cases[1].want.history, cases[1].want.origPkts, cases[1].want.origBytes, cases[1].want.connStates = "CD", 1, 10, "S0"
	cases[1].wantC.history, cases[1].wantC.origPkts, cases[1].wantC.origBytes, cases[1].wantC.connStates = "D", 2, 20, "S0"
	cases[2].want.history, cases[2].want.origPkts, cases[2].want.origBytes, cases[2].want.connStates = "", 1, 20, "OTH"
	cases[2].wantC.history, cases[2].wantC.origPkts, cases[2].wantC.origBytes, cases[2].wantC.connStates = "", 2, 40, "OTH"
	for _, tc := range cases {
		for _, ignore := range []bool{false, true} {
			name := tc.name
			want := tc.want
			if ignore {
				name += " -C"
				want = tc.wantC
			}
			t.Run(name, func(t *testing.T) {
				h := newHarness(t, Config{IgnoreChecksums: ignore})
				tc.run(h)
				c := h.only()
				if c.History != want.history || c.OrigPkts != want.origPkts || c.OrigBytes != want.origBytes || c.ConnState != want.connStates {
					t.Errorf("history %q pkts %d bytes %d state %s, want %q %d %d %s", c.History, c.OrigPkts, c.OrigBytes, c.ConnState,
						want.history, want.origPkts, want.origBytes, want.connStates)
				}
			})
		}
	}
}

// TestPerConnectionStateBounded: a connection that repeats FIN and RST at
// ever new sequence numbers, or is carried by ever new tunnel flows, keeps
// bounded state.
func TestPerConnectionStateBounded(t *testing.T) {
	h := newHarness(t, Config{})
	segs := handshake()
	for i := 0; i < 5000; i++ {
		segs = append(segs,
			seg{at: 1 + float64(i)*0.001, fromA: i%2 == 0, flags: fF | fA, seq: uint32(2000 + i*10), ack: 5001},
			seg{at: 1 + float64(i)*0.001, fromA: i%2 == 0, flags: fR, seq: uint32(3000 + i*10)})
	}
	h.tcp(1, 2, segs...)
	c := h.only()
	if len(c.History) != maxHistory || !strings.HasPrefix(c.History, "ShAFRfrFRfr") {
		t.Errorf("history of %d letters: %.40s…", len(c.History), c.History)
	}

	// One inner flow carried by thousands of distinct VXLAN flows.
	h = newHarness(t, Config{})
	outerA, outerB := netip.MustParseAddr("172.16.0.1"), netip.MustParseAddr("172.16.0.2")
	for i := 0; i < 3000; i++ {
		ts := at(float64(i) * 0.01)
		outer := capture.Packet{Timestamp: ts, Proto: capture.ProtoUDP, Src: outerA, Dst: outerB, SrcPort: uint16(10000 + i),
			DstPort: 4789, UDPLength: 60, PayloadLen: 52, Payload: make([]byte, 52), IPLen: 80, TunnelService: "vxlan"}
		inner := capture.Packet{Timestamp: ts, Proto: capture.ProtoUDP, Src: hostA, Dst: hostB, SrcPort: 5000, DstPort: 7000,
			UDPLength: 10, PayloadLen: 2, Payload: make([]byte, 2), IPLen: 30, TunnelDepth: 1, Encap: capture.EncapUDPTunnel}
		h.tr.Packet(&outer)
		h.tr.Packet(&inner)
	}
	h.tr.Flush()
	if len(h.ended) != 3001 {
		t.Fatalf("%d connections, want 3001", len(h.ended))
	}
	for _, c := range h.ended {
		if c.OrigPort == 5000 && (len(c.TunnelParents) != maxTunnelParents || c.OrigPkts != 3000) {
			t.Errorf("inner flow: %d parents, %d packets", len(c.TunnelParents), c.OrigPkts)
		}
	}
}

// TestTimerQueueOrder checks the lane queue against a plain sort by
// (when, seq): in-order pushes at the lane delays, out-of-order ones,
// equal times, and pops interleaved with pushes.
func TestTimerQueueOrder(t *testing.T) {
	var q timerQueue
	q.init(5*time.Second, 6*time.Second, time.Minute)
	q.conns = newConnTable()
	var ref []timer
	cref, _ := q.conns.alloc()
	rng := uint64(12345)
	next := func(n uint64) int64 {
		rng = rng*6364136223846793005 + 1442695040888963407
		return int64((rng >> 33) % n)
	}
	now := int64(0)
	popped := 0
	for i := 0; i < 50000; i++ {
		if next(4) == 0 {
			now += next(3) * int64(time.Second) / 2
		}
		var when int64
		switch next(5) {
		case 0, 1:
			when = now + int64(5*time.Second) // lane
		case 2:
			when = now + int64(time.Minute) // lane
		case 3:
			when = now + next(10)*int64(time.Second) // often equal to a lane's delay, sometimes not
		default:
			when = now - next(3)*int64(time.Second) + int64(6*time.Second) // lane delay only when in order
		}
		q.push(timer{when: when, ref: cref}, timerTCPExpire, now)
		ref = append(ref, timer{when: when, seqKind: q.seq<<8 | uint64(timerTCPExpire)})
		if next(3) == 0 {
			slices.SortFunc(ref, func(a, b timer) int {
				if a.before(&b) {
					return -1
				}
				return 1
			})
			for len(ref) > 0 && ref[0].when <= now {
				got, ok := q.popDue(now)
				if !ok || got.when != ref[0].when || got.seqKind != ref[0].seqKind {
					t.Fatalf("pop %d: got %+v (%v), want %+v", popped, got, ok, ref[0])
				}
				ref = ref[1:]
				popped++
			}
			if _, ok := q.popDue(now); ok {
				t.Fatalf("a timer due at %d popped early", now)
			}
		}
		if q.len() != len(ref) {
			t.Fatalf("len %d, want %d", q.len(), len(ref))
		}
	}
	if popped < 10000 || len(q.heap.items) == 0 || q.lanes[0].len() == 0 {
		t.Fatalf("test did not exercise the queue: %d popped, heap %d, lane %d", popped, len(q.heap.items), q.lanes[0].len())
	}
}
