package flow

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

var (
	hostA = netip.MustParseAddr("10.0.0.1")
	hostB = netip.MustParseAddr("10.0.0.2")
	epoch = time.Unix(1_700_000_000, 0).UTC()
)

const (
	fF = capture.FlagFIN
	fS = capture.FlagSYN
	fR = capture.FlagRST
	fA = capture.FlagACK
	fP = capture.FlagPSH
)

// seg is one hand-built packet between hostA:aPort and hostB:bPort.
type seg struct {
	at    float64 // seconds after epoch
	fromA bool
	flags uint8
	seq   uint32
	ack   uint32
	n     int // payload length
	win   uint16
	bad   bool
	trunc bool // payload not captured
}

type harness struct {
	t     *testing.T
	tr    *Tracker
	ended []Conn
}

func newHarness(t *testing.T, cfg Config) *harness {
	h := &harness{t: t}
	h.tr = NewTracker(cfg, func(c *Conn) {
		h.ended = append(h.ended, c.Clone())
	})
	return h
}

func at(s float64) time.Time { return epoch.Add(time.Duration(s * float64(time.Second))) }

func (h *harness) tcp(aPort, bPort uint16, segs ...seg) {
	for _, s := range segs {
		p := capture.Packet{Timestamp: at(s.at), Proto: capture.ProtoTCP, TCPFlags: s.flags, Seq: s.seq, Ack: s.ack,
			Window: s.win, PayloadLen: s.n, IPLen: uint32(40 + s.n), BadChecksum: s.bad}
		if p.Window == 0 && s.win == 0 {
			p.Window = 1000
		}
		if s.win == 0xffff {
			p.Window = 0
		}
		if !s.trunc {
			p.Payload = make([]byte, s.n)
		}
		if s.fromA {
			p.Src, p.Dst, p.SrcPort, p.DstPort = hostA, hostB, aPort, bPort
		} else {
			p.Src, p.Dst, p.SrcPort, p.DstPort = hostB, hostA, bPort, aPort
		}
		h.tr.Packet(&p)
	}
}

func (h *harness) udp(at0 float64, src, dst netip.Addr, sport, dport uint16, n int, bad bool) {
	p := capture.Packet{Timestamp: at(at0), Proto: capture.ProtoUDP, Src: src, Dst: dst, SrcPort: sport, DstPort: dport,
		UDPLength: uint16(8 + n), PayloadLen: n, Payload: make([]byte, n), IPLen: uint32(28 + n), BadChecksum: bad}
	h.tr.Packet(&p)
}

func (h *harness) only() Conn {
	h.t.Helper()
	h.tr.Flush()
	if len(h.ended) != 1 {
		h.t.Fatalf("got %d connections, want 1: %+v", len(h.ended), h.ended)
	}
	return h.ended[0]
}

// handshake is S, SA, A between A (ISN 1000) and B (ISN 5000).
func handshake() []seg {
	return []seg{
		{at: 0, fromA: true, flags: fS, seq: 1000},
		{at: 0.1, flags: fS | fA, seq: 5000, ack: 1001},
		{at: 0.2, fromA: true, flags: fA, seq: 1001, ack: 5001},
	}
}

func cat(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestTCPConnStates(t *testing.T) {
	dataAndClose := []seg{
		{at: 0.3, fromA: true, flags: fA | fP, seq: 1001, ack: 5001, n: 100},
		{at: 0.4, flags: fA, seq: 5001, ack: 1101},
		{at: 0.5, flags: fA | fP, seq: 5001, ack: 1101, n: 50},
		{at: 0.6, fromA: true, flags: fA, seq: 1101, ack: 5051},
		{at: 0.7, fromA: true, flags: fF | fA, seq: 1101, ack: 5051},
		{at: 0.8, flags: fF | fA, seq: 5051, ack: 1102},
		{at: 0.9, fromA: true, flags: fA, seq: 1102, ack: 5052},
	}
	tests := []struct {
		name       string
		aPort      uint16
		bPort      uint16
		segs       []seg
		state      string
		history    string
		origBytes  uint64
		respBytes  uint64
		origIsA    bool
		origPkts   uint64
		respPkts   uint64
		lastTimeAt float64
	}{
		{name: "SF", aPort: 40000, bPort: 80, segs: cat(handshake(), dataAndClose), state: "SF",
			history: "ShADadFf", origBytes: 100, respBytes: 50, origIsA: true, origPkts: 6, respPkts: 4, lastTimeAt: 0.8},
		{name: "S0", aPort: 40000, bPort: 80, segs: handshake()[:1], state: "S0", history: "S", origIsA: true, origPkts: 1},
		{name: "S1", aPort: 40000, bPort: 80, segs: handshake(), state: "S1", history: "ShA", origIsA: true,
			origPkts: 2, respPkts: 1, lastTimeAt: 0.2},
		{name: "REJ", aPort: 40000, bPort: 80, segs: []seg{{at: 0, fromA: true, flags: fS, seq: 1000},
			{at: 0.1, flags: fR | fA, seq: 0, ack: 1001}}, state: "REJ", history: "Sr", origIsA: true, origPkts: 1, respPkts: 1,
			lastTimeAt: 0.1},
		{name: "RSTO", aPort: 40000, bPort: 80, segs: cat(handshake(), []seg{{at: 0.3, fromA: true, flags: fR | fA, seq: 1001, ack: 5001}}),
			state: "RSTO", history: "ShAR", origIsA: true, origPkts: 3, respPkts: 1, lastTimeAt: 0.3},
		{name: "RSTR", aPort: 40000, bPort: 80, segs: cat(handshake(), []seg{{at: 0.3, flags: fR, seq: 5001}}),
			state: "RSTR", history: "ShAr", origIsA: true, origPkts: 2, respPkts: 2, lastTimeAt: 0.3},
		{name: "RSTOS0", aPort: 40000, bPort: 80, segs: []seg{{at: 0, fromA: true, flags: fS, seq: 1000},
			{at: 0.1, fromA: true, flags: fR, seq: 1001}}, state: "RSTOS0", history: "SR", origIsA: true, origPkts: 2, lastTimeAt: 0.1},
		{name: "RSTRH after SYN-ACK flip", aPort: 40000, bPort: 80, segs: []seg{{at: 0, flags: fS | fA, seq: 5000, ack: 1001},
			{at: 0.1, flags: fR, seq: 5001}}, state: "RSTRH", history: "^hr", origIsA: true, respPkts: 2, lastTimeAt: 0.1},
		{name: "SH", aPort: 40000, bPort: 80, segs: []seg{{at: 0, fromA: true, flags: fS, seq: 1000},
			{at: 0.1, fromA: true, flags: fF, seq: 1001}}, state: "SH", history: "SF", origIsA: true, origPkts: 2, lastTimeAt: 0.1},
		{name: "SHR midstream", aPort: 40000, bPort: 80, segs: []seg{{at: 0, flags: fF | fA, seq: 5000, ack: 1000}},
			state: "SHR", history: "^f", origIsA: true, respPkts: 1},
		{name: "OTH midstream data", aPort: 40000, bPort: 5555, segs: []seg{{at: 0, fromA: true, flags: fA | fP, seq: 1, ack: 1, n: 10}},
			state: "OTH", history: "D", origIsA: true, origBytes: 10, origPkts: 1},
		{name: "S2", aPort: 40000, bPort: 80, segs: cat(handshake(), []seg{{at: 0.3, fromA: true, flags: fF | fA, seq: 1001, ack: 5001}}),
			state: "S2", history: "ShAF", origIsA: true, origPkts: 3, respPkts: 1, lastTimeAt: 0.3},
		{name: "S3", aPort: 40000, bPort: 80, segs: cat(handshake(), []seg{{at: 0.3, flags: fF | fA, seq: 5001, ack: 1001}}),
			state: "S3", history: "ShAf", origIsA: true, origPkts: 2, respPkts: 2, lastTimeAt: 0.3},
		{name: "SYN-ACK first then ACK flips to ^hA", aPort: 40000, bPort: 5000, segs: []seg{
			{at: 0, fromA: true, flags: fS | fA, seq: 1000, ack: 7001},
			{at: 0.1, flags: fA, seq: 7001, ack: 1001}}, state: "OTH", history: "^hA", origIsA: false, origPkts: 1, respPkts: 1,
			lastTimeAt: 0.1},
		{name: "reordered SYN and SYN-ACK", aPort: 40000, bPort: 5000, segs: []seg{
			{at: 0, flags: fS | fA, seq: 5000, ack: 1001},
			{at: 0.01, fromA: true, flags: fS, seq: 1000},
			{at: 0.02, fromA: true, flags: fA, seq: 1001, ack: 5001}}, state: "S1", history: "Hs^A", origIsA: true, origPkts: 2,
			respPkts: 1, lastTimeAt: 0.02},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.tcp(tc.aPort, tc.bPort, tc.segs...)
			c := h.only()
			if c.ConnState != tc.state || c.History != tc.history {
				t.Errorf("state %s history %q, want %s %q", c.ConnState, c.History, tc.state, tc.history)
			}
			if c.OrigBytes != tc.origBytes || c.RespBytes != tc.respBytes {
				t.Errorf("bytes %d/%d, want %d/%d", c.OrigBytes, c.RespBytes, tc.origBytes, tc.respBytes)
			}
			if (c.Orig == hostA) != tc.origIsA {
				t.Errorf("originator %s, want A=%v", c.Orig, tc.origIsA)
			}
			if c.OrigPkts != tc.origPkts || c.RespPkts != tc.respPkts {
				t.Errorf("packets %d/%d, want %d/%d", c.OrigPkts, c.RespPkts, tc.origPkts, tc.respPkts)
			}
			if got := c.LastTime.Sub(epoch).Seconds(); got < tc.lastTimeAt-1e-9 || got > tc.lastTimeAt+1e-9 {
				t.Errorf("last time %.3f, want %.3f", got, tc.lastTimeAt)
			}
		})
	}
}

func TestHistoryRepeatRules(t *testing.T) {
	// Ten retransmissions of the same segment: T at the 1st and the 10th.
	segs := handshake()
	for i := 0; i < 11; i++ {
		segs = append(segs, seg{at: 0.3 + float64(i)/100, fromA: true, flags: fA | fP, seq: 1001, ack: 5001, n: 10})
	}
	h := newHarness(t, Config{})
	h.tcp(40000, 80, segs...)
	if c := h.only(); c.History != "ShADTT" || c.OrigBytes != 10 {
		t.Errorf("retransmissions: history %q bytes %d, want ShADTT 10", c.History, c.OrigBytes)
	}

	// A repeated SYN with the same seq adds nothing; FINs at different
	// ends add F again; zero windows are W (log-scaled).
	h = newHarness(t, Config{})
	h.tcp(40000, 80,
		seg{at: 0, fromA: true, flags: fS, seq: 1000},
		seg{at: 1, fromA: true, flags: fS, seq: 1000},
		seg{at: 1.1, flags: fS | fA, seq: 5000, ack: 1001},
		seg{at: 1.2, fromA: true, flags: fA, seq: 1001, ack: 5001, win: 0xffff},
		seg{at: 1.3, fromA: true, flags: fF | fA, seq: 1001, ack: 5001},
		seg{at: 1.4, fromA: true, flags: fF | fA | fP, seq: 1001, ack: 5001, n: 5},
	)
	if c := h.only(); c.History != "ShAWFF" {
		t.Errorf("repeat rules: history %q, want ShAWFF", c.History)
	}
}

func TestSequenceArithmetic(t *testing.T) {
	// The ISN sits just below 2^32: 600 bytes wrap the sequence space.
	var isn uint32 = 0xFFFFFF00
	h := newHarness(t, Config{})
	h.tcp(40000, 80,
		seg{at: 0, fromA: true, flags: fS, seq: isn},
		seg{at: 0.1, flags: fS | fA, seq: 5000, ack: isn + 1},
		seg{at: 0.2, fromA: true, flags: fA, seq: isn + 1, ack: 5001},
		seg{at: 0.3, fromA: true, flags: fA, seq: isn + 1, ack: 5001, n: 300},
		seg{at: 0.4, fromA: true, flags: fA, seq: isn + 301, ack: 5001, n: 300},
		seg{at: 0.5, flags: fA, seq: 5001, ack: isn + 601},
		seg{at: 0.6, fromA: true, flags: fF | fA, seq: isn + 601, ack: 5001},
		seg{at: 0.7, flags: fF | fA, seq: 5001, ack: isn + 602},
		seg{at: 0.8, fromA: true, flags: fA, seq: isn + 602, ack: 5002},
	)
	c := h.only()
	if c.OrigBytes != 600 || c.RespBytes != 0 || c.ConnState != "SF" || c.MissedBytes != 0 {
		t.Errorf("wrap: bytes %d/%d state %s missed %d, want 600/0 SF 0", c.OrigBytes, c.RespBytes, c.ConnState, c.MissedBytes)
	}

	// Bytes lost but acknowledged: counted in the size and in missed_bytes
	// (both sides established), with history G.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, cat(handshake(), []seg{
		{at: 0.3, fromA: true, flags: fA, seq: 1001, ack: 5001, n: 100},
		{at: 0.4, fromA: true, flags: fA, seq: 1201, ack: 5001, n: 100},
		{at: 0.5, flags: fA, seq: 5001, ack: 1301},
	})...)
	c = h.only()
	if c.OrigBytes != 300 || c.MissedBytes != 100 || c.History != "ShADaG" {
		t.Errorf("gap: bytes %d missed %d history %q, want 300 100 ShADaG", c.OrigBytes, c.MissedBytes, c.History)
	}

	// Out-of-order data filled later is no gap.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, cat(handshake(), []seg{
		{at: 0.3, fromA: true, flags: fA, seq: 1101, ack: 5001, n: 100},
		{at: 0.4, fromA: true, flags: fA, seq: 1001, ack: 5001, n: 100},
		{at: 0.5, flags: fA, seq: 5001, ack: 1201},
	})...)
	if c = h.only(); c.OrigBytes != 200 || c.MissedBytes != 0 {
		t.Errorf("reordered: bytes %d missed %d, want 200 0", c.OrigBytes, c.MissedBytes)
	}

	// A partial connection reports no gaps.
	h = newHarness(t, Config{})
	h.tcp(40000, 5555,
		seg{at: 0, fromA: true, flags: fA, seq: 1, ack: 1, n: 10},
		seg{at: 0.1, flags: fA, seq: 1, ack: 111},
	)
	if c = h.only(); c.MissedBytes != 0 || c.OrigBytes != 110 {
		t.Errorf("partial: bytes %d missed %d, want 110 0", c.OrigBytes, c.MissedBytes)
	}
}

func TestDeferredClose(t *testing.T) {
	// A's FIN crosses B's unacknowledged data: A's close is deferred
	// (DataPending: the peer still holds unacked data) and B's EOF then
	// consumes the deferral, so A never completes the close. As in Zeek,
	// the duration keeps A's final ACK and the connection lingers until
	// the inactivity timeout.
	h := newHarness(t, Config{})
	h.tcp(40000, 80, cat(handshake(), []seg{
		{at: 0.3, flags: fA | fP, seq: 5001, ack: 1001, n: 50},
		{at: 0.4, fromA: true, flags: fF | fA, seq: 1001, ack: 5001},
		{at: 0.5, flags: fF | fA, seq: 5051, ack: 1002},
		{at: 0.6, fromA: true, flags: fA, seq: 1002, ack: 5052},
	})...)
	h.tr.Advance(at(300.59))
	if len(h.ended) != 0 {
		t.Fatalf("removed before the inactivity timeout")
	}
	h.tr.Advance(at(300.6))
	if len(h.ended) != 1 {
		t.Fatalf("not removed at the inactivity timeout: %d", len(h.ended))
	}
	c := h.ended[0]
	if c.ConnState != "SF" || !c.LastTime.Equal(at(0.6)) || c.RespBytes != 50 || c.History != "ShAdFf" {
		t.Errorf("deferred close: state %s last %v resp %d history %q", c.ConnState, c.LastTime.Sub(epoch), c.RespBytes, c.History)
	}
}

func TestFlipRules(t *testing.T) {
	// TCP without SYN from a likely server port: flipped at creation.
	h := newHarness(t, Config{})
	h.tcp(40000, 80, seg{at: 0, flags: fA, seq: 1, ack: 1, n: 5})
	if c := h.only(); c.Orig != hostA || c.History != "^d" {
		t.Errorf("tcp server-port flip: orig %s history %q", c.Orig, c.History)
	}
	// Both likely server ports: flip only if src < dst.
	h = newHarness(t, Config{})
	h.tcp(443, 80, seg{at: 0, flags: fA, seq: 1, ack: 1, n: 5}) // src 80 < dst 443: flip
	if c := h.only(); c.Orig != hostA {
		t.Errorf("both server ports, src < dst: orig %s, want A", c.Orig)
	}
	h = newHarness(t, Config{})
	h.tcp(80, 443, seg{at: 0, flags: fA, seq: 1, ack: 1, n: 5}) // src 443 > dst 80: no flip
	if c := h.only(); c.Orig != hostB {
		t.Errorf("both server ports, src > dst: orig %s, want B", c.Orig)
	}
	// A pure SYN is never flipped.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, seg{at: 0, flags: fS, seq: 1})
	if c := h.only(); c.Orig != hostB || c.History != "S" {
		t.Errorf("pure SYN: orig %s history %q", c.Orig, c.History)
	}
	// UDP from 53 to an ephemeral port: flipped; with zeek -b ports not.
	h = newHarness(t, Config{})
	h.udp(0, hostB, hostA, 53, 33333, 40, false)
	if c := h.only(); c.Orig != hostA || c.History != "^d" || c.ConnState != "SHR" || c.RespBytes != 40 {
		t.Errorf("udp flip: %+v", c)
	}
	h = newHarness(t, Config{ServerPorts: BareServerPorts(nil)})
	h.udp(0, hostB, hostA, 53, 33333, 40, false)
	if c := h.only(); c.Orig != hostB || c.History != "D" || c.ConnState != "S0" {
		t.Errorf("bare udp: %+v", c)
	}
	// Never flip towards 255.255.255.255.
	h = newHarness(t, Config{})
	h.udp(0, hostB, netip.MustParseAddr("255.255.255.255"), 67, 68, 300, false)
	if c := h.only(); c.Orig != hostB || c.History != "D" {
		t.Errorf("broadcast: %+v", c)
	}
}

func TestReuseAndTimers(t *testing.T) {
	// A SYN with a new ISN on a closed connection starts a new one.
	h := newHarness(t, Config{})
	segs := cat(handshake(), []seg{
		{at: 0.3, fromA: true, flags: fF | fA, seq: 1001, ack: 5001},
		{at: 0.4, flags: fF | fA, seq: 5001, ack: 1002},
		{at: 1, fromA: true, flags: fS, seq: 90000},
	})
	h.tcp(40000, 80, segs...)
	h.tr.Flush()
	if len(h.ended) != 2 || h.ended[0].ConnState != "SF" || h.ended[1].History != "S" {
		t.Fatalf("reuse: %+v", h.ended)
	}
	if got := h.ended[0].End.Sub(epoch); got != time.Second {
		t.Errorf("reused connection ended at %v, want 1s (removed at once)", got)
	}

	// Close: removal 5 s after the last packet.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, segs[:5]...)
	h.tr.Advance(at(5.39))
	if len(h.ended) != 0 {
		t.Fatalf("closed connection removed too early")
	}
	h.tr.Advance(at(5.4))
	if len(h.ended) != 1 || !h.ended[0].End.Equal(at(5.4)) {
		t.Fatalf("close delay: %+v", h.ended)
	}

	// Attempt: S0 removed 5 s after the SYN.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, seg{at: 0, fromA: true, flags: fS, seq: 1000})
	h.tr.Advance(at(4.9))
	h.tr.Advance(at(5))
	if len(h.ended) != 1 || !h.ended[0].End.Equal(at(5)) || h.ended[0].ConnState != "S0" {
		t.Fatalf("attempt timer: %+v", h.ended)
	}

	// Established and idle: tcp_inactivity_timeout after the last packet.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, handshake()...)
	h.tr.Advance(at(300.1))
	if len(h.ended) != 0 {
		t.Fatalf("idle TCP removed too early")
	}
	h.tr.Advance(at(300.2))
	if len(h.ended) != 1 || !h.ended[0].End.Equal(at(300.2)) {
		t.Fatalf("tcp inactivity: %+v", h.ended)
	}

	// SSH port: 1 h after establishment.
	h = newHarness(t, Config{})
	h.tcp(40000, 22, handshake()...)
	h.tr.Advance(at(3000))
	if len(h.ended) != 0 {
		t.Fatalf("ssh connection removed before 1 h")
	}
	h.tr.Advance(at(3600.2))
	if len(h.ended) != 1 {
		t.Fatalf("ssh port inactivity: %+v", h.ended)
	}

	// UDP: 1 min; a packet in between keeps it alive.
	h = newHarness(t, Config{})
	h.udp(0, hostA, hostB, 40000, 5000, 10, false)
	h.udp(30, hostB, hostA, 5000, 40000, 10, false)
	h.tr.Advance(at(89.9))
	if len(h.ended) != 0 {
		t.Fatalf("udp removed too early")
	}
	h.tr.Advance(at(90))
	if len(h.ended) != 1 || h.ended[0].ConnState != "SF" || !h.ended[0].End.Equal(at(90)) {
		t.Fatalf("udp inactivity: %+v", h.ended)
	}

	// DNS over UDP: dns_session_timeout splits flows idle for 10 s.
	h = newHarness(t, Config{})
	h.udp(0, hostA, hostB, 40000, 53, 30, false)
	h.udp(0.1, hostB, hostA, 53, 40000, 90, false)
	h.udp(15, hostA, hostB, 40000, 53, 30, false)
	h.tr.Flush()
	if len(h.ended) != 2 || h.ended[0].ConnState != "SF" || !h.ended[0].End.Equal(at(15)) {
		t.Fatalf("dns session timeout: %+v", h.ended)
	}
	h = newHarness(t, Config{ServerPorts: BareServerPorts([]string{"http"})})
	h.udp(0, hostA, hostB, 40000, 53, 30, false)
	h.udp(15, hostA, hostB, 40000, 53, 30, false)
	if h.tr.Flush(); len(h.ended) != 1 {
		t.Fatalf("without DNS analyzer: %+v", h.ended)
	}
}

func TestMaxTimerExpires(t *testing.T) {
	h := newHarness(t, Config{})
	for i := 0; i < 301; i++ {
		h.udp(0, hostA, hostB, uint16(10000+i), 7000, 1, false)
	}
	h.udp(61, hostA, hostB, 9999, 7000, 1, false)
	if len(h.ended) != 300 {
		t.Fatalf("%d connections ended by one packet, want 300 (max_timer_expires)", len(h.ended))
	}
	h.udp(61.5, hostA, hostB, 9999, 7000, 1, false)
	if len(h.ended) != 301 {
		t.Fatalf("the slipped timer did not fire on the next packet: %d", len(h.ended))
	}
}

func TestUDPICMPOther(t *testing.T) {
	// Bad checksum: not counted, history C; with ignore-checksums counted.
	h := newHarness(t, Config{})
	h.udp(0, hostA, hostB, 40000, 5000, 10, true)
	if c := h.only(); c.History != "C" || c.OrigPkts != 0 || c.ConnState != "OTH" {
		t.Errorf("bad checksum: %+v", c)
	}
	h = newHarness(t, Config{IgnoreChecksums: true})
	h.udp(0, hostA, hostB, 40000, 5000, 10, true)
	if c := h.only(); c.History != "D" || c.OrigPkts != 1 || c.OrigBytes != 10 || c.OrigIPBytes != 38 {
		t.Errorf("ignored checksum: %+v", c)
	}

	icmp := func(h *harness, at0 float64, src, dst netip.Addr, proto uint8, typ, code uint16, n int) {
		p := capture.Packet{Timestamp: at(at0), Proto: proto, Src: src, Dst: dst, SrcPort: typ, DstPort: code,
			PayloadLen: n, Payload: make([]byte, n), IPLen: uint32(28 + n)}
		h.tr.Packet(&p)
	}
	// Echo request and reply share a connection: 8 → 0.
	h = newHarness(t, Config{})
	icmp(h, 0, hostA, hostB, capture.ProtoICMP, 8, 0, 56)
	icmp(h, 0.1, hostB, hostA, capture.ProtoICMP, 0, 0, 56)
	if c := h.only(); c.Orig != hostA || c.OrigPort != 8 || c.RespPort != 0 || c.OrigBytes != 56 || c.RespBytes != 56 ||
		c.ConnState != "OTH" || c.History != "" || c.RespPkts != 1 {
		t.Errorf("echo: %+v", c)
	}
	// Unreachables in both directions are two connections; ICMPv6 echo 128 → 129.
	h = newHarness(t, Config{})
	icmp(h, 0, hostA, hostB, capture.ProtoICMP, 3, 1, 28)
	icmp(h, 0.1, hostB, hostA, capture.ProtoICMP, 3, 1, 28)
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	icmp(h, 0.2, v6a, v6b, capture.ProtoICMPv6, 128, 0, 8)
	icmp(h, 0.3, v6b, v6a, capture.ProtoICMPv6, 129, 0, 8)
	h.tr.Flush()
	if len(h.ended) != 3 {
		t.Fatalf("icmp keys: %d connections, want 3", len(h.ended))
	}
	if c := h.ended[2]; c.OrigPort != 128 || c.RespPort != 129 || c.RespPkts != 1 {
		t.Errorf("icmpv6 echo: %+v", c)
	}
	// Unknown IP protocol: ports 0, OTH, no sizes.
	h = newHarness(t, Config{})
	p := capture.Packet{Timestamp: at(0), Proto: 132, Src: hostA, Dst: hostB, SrcPort: 5, DstPort: 6, PayloadLen: 20, IPLen: 40}
	h.tr.Packet(&p)
	if c := h.only(); c.OrigPort != 0 || c.RespPort != 0 || c.ConnState != "OTH" || c.OrigPkts != 1 || c.OrigIPBytes != 40 ||
		c.Transport() != "unknown_transport" {
		t.Errorf("unknown transport: %+v", c)
	}
}

func TestTableLimitAndFlush(t *testing.T) {
	h := newHarness(t, Config{MaxConnections: 2})
	h.udp(0, hostA, hostB, 1, 7000, 1, false)
	h.udp(1, hostA, hostB, 2, 7000, 1, false)
	h.udp(2, hostA, hostB, 1, 7000, 1, false) // refreshes port 1
	h.udp(3, hostA, hostB, 3, 7000, 1, false) // evicts port 2
	if st := h.tr.Stats(); st.Evictions != 1 || len(h.ended) != 1 || h.ended[0].OrigPort != 2 {
		t.Fatalf("eviction: stats %+v ended %+v", st, h.ended)
	}
	h.tr.Flush()
	if len(h.ended) != 3 || h.tr.Active() != 0 {
		t.Fatalf("flush: %d ended, %d active", len(h.ended), h.tr.Active())
	}
	for _, c := range h.ended[1:] {
		if !c.End.Equal(at(3)) {
			t.Errorf("flushed connection ends at %v, want the last network time", c.End)
		}
	}
	if h.ended[0].UID == h.ended[1].UID || h.ended[0].UID[0] != 'C' {
		t.Errorf("uids %q %q", h.ended[0].UID, h.ended[1].UID)
	}
}

func TestAnalyzerFlip(t *testing.T) {
	// A DNS response from A:5353 to B:5353 (both likely server ports, so no
	// flip at creation): the DNS analyzer flips after the packet was
	// counted, so history is D^ and everything sits on the new originator.
	resp := []byte{0x12, 0x34, 0x84, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'f', 'o', 'o', 0, 0, 1, 0, 1}
	for _, tc := range []struct {
		name    string
		dst     netip.Addr
		history string
		origIsA bool
	}{
		{name: "unicast", dst: hostB, history: "D^", origIsA: false},
		{name: "multicast responder", dst: netip.MustParseAddr("224.0.0.251"), history: "D", origIsA: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Classifier: classify.New(classify.All)})
			p := capture.Packet{Timestamp: at(0), Proto: capture.ProtoUDP, Src: hostA, Dst: tc.dst, SrcPort: 5353, DstPort: 5353,
				UDPLength: uint16(8 + len(resp)), PayloadLen: len(resp), Payload: resp, IPLen: uint32(28 + len(resp))}
			h.tr.Packet(&p)
			c := h.only()
			if c.History != tc.history || (c.Orig == hostA) != tc.origIsA || c.ConnState != "S0" ||
				c.OrigPkts != 1 || c.OrigBytes != uint64(len(resp)) {
				t.Errorf("got %+v", c)
			}
			if len(c.Services) != 1 || c.Services[0] != "dns" {
				t.Errorf("services %v, want [dns]", c.Services)
			}
		})
	}
}

func TestTunnelServiceAndParents(t *testing.T) {
	h := newHarness(t, Config{})
	vtepA, vtepB := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	outer := func(at0 float64, fromA bool, svc string, dport uint16) {
		p := capture.Packet{Timestamp: at(at0), Proto: capture.ProtoUDP, Src: vtepA, Dst: vtepB, SrcPort: 40000, DstPort: dport,
			UDPLength: 100, PayloadLen: 92, Payload: make([]byte, 92), IPLen: 120, TunnelService: svc}
		if !fromA {
			p.Src, p.Dst, p.SrcPort, p.DstPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		h.tr.Packet(&p)
	}
	inner := func(at0 float64) {
		p := capture.Packet{Timestamp: at(at0), Proto: capture.ProtoICMP, Src: hostA, Dst: hostB, SrcPort: 8, PayloadLen: 56,
			Payload: make([]byte, 56), IPLen: 84, TunnelDepth: 1, Encap: capture.EncapUDPTunnel}
		h.tr.Packet(&p)
	}
	outer(0, true, "vxlan", 4789)
	inner(0)
	outer(1, true, "teredo", 3544) // one direction only: not confirmed
	h.tr.Flush()
	if len(h.ended) != 3 {
		t.Fatalf("%d connections", len(h.ended))
	}
	vx, icmp, teredo := h.ended[0], h.ended[1], h.ended[2]
	if len(vx.Services) != 1 || vx.Services[0] != "vxlan" {
		t.Errorf("vxlan services %v", vx.Services)
	}
	if len(icmp.TunnelParents) != 1 || icmp.TunnelParents[0] != vx.UID {
		t.Errorf("inner parents %v, want [%s]", icmp.TunnelParents, vx.UID)
	}
	if len(teredo.Services) != 0 {
		t.Errorf("one-sided teredo services %v, want none", teredo.Services)
	}

	h = newHarness(t, Config{})
	outer(0, true, "teredo", 3544)
	outer(0.1, false, "teredo", 3544)
	if c := h.only(); len(c.Services) != 1 || c.Services[0] != "teredo" {
		t.Errorf("two-sided teredo services %v", c.Services)
	}
}

func TestSizeSpecialCases(t *testing.T) {
	tests := []struct {
		name      string
		segs      []seg
		origBytes uint64
		respBytes uint64
		history   string
	}{
		// SYN_SENT → RESET whose peer stayed INACTIVE (it only sent a bare
		// ACK) but acknowledged data: a half-open probe counts 0 bytes,
		// whatever the sequence numbers say.
		{name: "half-open probe", segs: []seg{
			{at: 0, fromA: true, flags: fS, seq: 1000},
			{at: 0.1, flags: fA, seq: 5000, ack: 901001},
			{at: 0.2, fromA: true, flags: fR, seq: 901001},
		}, origBytes: 0, history: "SaR"},
		// A RST whose seq jumps more than 1 MiB is not trusted.
		{name: "untrusted RST jump", segs: cat(handshake(), []seg{
			{at: 0.3, fromA: true, flags: fR, seq: 1001 + 5<<20},
		}), origBytes: 0, history: "ShAR"},
		// ack == 0 with a huge delta is a broken ACK, not 4 GB of data.
		{name: "broken zero ack", segs: cat(handshake(), []seg{
			{at: 0.3, flags: fA, seq: 5001, ack: 0},
		}), origBytes: 0, history: "ShAa"},
		// SYN+FIN is Q, FIN+RST is I (once per side).
		{name: "multi-flag letters", segs: []seg{
			{at: 0, fromA: true, flags: fS | fF, seq: 1000},
			{at: 0.1, flags: fF | fR, seq: 1},
			{at: 0.2, flags: fF | fR, seq: 1},
		}, history: "Qi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			h.tcp(40000, 80, tc.segs...)
			c := h.only()
			if c.OrigBytes != tc.origBytes || c.RespBytes != tc.respBytes || c.History != tc.history {
				t.Errorf("bytes %d/%d history %q, want %d/%d %q", c.OrigBytes, c.RespBytes, c.History,
					tc.origBytes, tc.respBytes, tc.history)
			}
		})
	}
}

func TestScaledLetters(t *testing.T) {
	// Zero windows: W at the 1st, 10th and 100th.
	segs := handshake()
	for i := 0; i < 100; i++ {
		segs = append(segs, seg{at: 0.3 + float64(i)/1000, fromA: true, flags: fA, seq: 1001, ack: 5001, win: 0xffff})
	}
	h := newHarness(t, Config{})
	h.tcp(40000, 80, segs...)
	if c := h.only(); c.History != "ShAWWW" {
		t.Errorf("zero windows: %q, want ShAWWW", c.History)
	}
	// Bad TCP checksums: c at the 1st and 10th, never counted.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, handshake()...)
	for i := 0; i < 10; i++ {
		h.tcp(40000, 80, seg{at: 1 + float64(i), flags: fA, seq: 5001, ack: 1001, n: 10, bad: true})
	}
	if c := h.only(); c.History != "ShAcc" || c.RespPkts != 1 || c.RespBytes != 0 {
		t.Errorf("bad checksums: history %q resp pkts %d bytes %d", c.History, c.RespPkts, c.RespBytes)
	}
	// Truncated payload is not reassembled: once acknowledged it is a gap.
	h = newHarness(t, Config{})
	h.tcp(40000, 80, cat(handshake(), []seg{
		{at: 0.3, fromA: true, flags: fA, seq: 1001, ack: 5001, n: 100, trunc: true},
		{at: 0.4, flags: fA, seq: 5001, ack: 1101},
	})...)
	if c := h.only(); c.MissedBytes != 100 || c.OrigBytes != 100 {
		t.Errorf("truncated payload: missed %d bytes %d, want 100 100", c.MissedBytes, c.OrigBytes)
	}
}

func TestOtherInactivity(t *testing.T) {
	h := newHarness(t, Config{})
	p := capture.Packet{Timestamp: at(0), Proto: capture.ProtoICMP, Src: hostA, Dst: hostB, SrcPort: 8, PayloadLen: 8,
		Payload: make([]byte, 8), IPLen: 36}
	h.tr.Packet(&p)
	q := capture.Packet{Timestamp: at(10), Proto: 47, Src: hostA, Dst: hostB, PayloadLen: 8, IPLen: 28}
	h.tr.Packet(&q)
	h.tr.Advance(at(60))
	if len(h.ended) != 1 || h.ended[0].IPProto != capture.ProtoICMP {
		t.Fatalf("icmp inactivity: %+v", h.ended)
	}
	h.tr.Advance(at(70))
	if len(h.ended) != 2 || h.ended[1].IPProto != 47 || !h.ended[1].End.Equal(at(70)) {
		t.Fatalf("unknown transport inactivity: %+v", h.ended)
	}
}

// TestCompactSYNTransparent runs connections that begin with a plain SYN
// (so the tracker keeps only its sequence number until the next packet or
// timer) through a tracker with and one without that compaction: the
// records must be identical, whatever follows the SYN.
func TestCompactSYNTransparent(t *testing.T) {
	syn := seg{at: 0, fromA: true, flags: fS, seq: 1000}
	cases := map[string][]seg{
		"alone (S0 by the attempt timer)": {syn},
		"answered":                        handshake(),
		"rejected":                        {syn, {at: 0.1, flags: fR | fA, seq: 0, ack: 1001}},
		"retransmitted":                   {syn, {at: 3, fromA: true, flags: fS, seq: 1000}},
		"new ISN":                         {syn, {at: 3, fromA: true, flags: fS, seq: 7000}},
		"SYN-ACK first from the other side": {syn, {at: 0.1, flags: fS, seq: 5000},
			{at: 0.2, fromA: true, flags: fS | fA, seq: 1000, ack: 5001}},
		"after the timers":  {syn, {at: 200, fromA: true, flags: fA, seq: 1001, ack: 1}},
		"data without ack":  {syn, {at: 0.5, fromA: true, flags: fA | fP, seq: 1001, ack: 0, n: 100}},
		"FIN":               {syn, {at: 0.5, fromA: true, flags: fF, seq: 1001}},
		"zero window first": {{at: 0, fromA: true, flags: fS, seq: 1000, win: 0xffff}, {at: 1, flags: fS | fA, seq: 9, ack: 1001}},
		"SYN with data":     {{at: 0, fromA: true, flags: fS, seq: 1000, n: 20}, {at: 1, flags: fS | fA, seq: 9, ack: 1021}},
	}
	for name, segs := range cases {
		compact, plain := newHarness(t, Config{}), newHarness(t, Config{})
		plain.tr.keepSYNState = true
		for _, h := range []*harness{compact, plain} {
			h.tcp(40000, 80, segs...)
			h.tr.Advance(at(1000))
			h.tr.Flush()
		}
		if len(compact.ended) == 0 || !reflect.DeepEqual(compact.ended, plain.ended) {
			t.Errorf("%s: records differ:\n%+v\nwant\n%+v", name, compact.ended, plain.ended)
		}
	}
	// And the compaction happens: a SYN-only connection holds no tcpConn.
	h := newHarness(t, Config{})
	h.tcp(40000, 80, syn)
	var c *conn
	h.tr.conns.each(func(_ connRef, x *conn) { c = x })
	if c == nil || !c.synOnly || c.tcp != nil {
		t.Fatalf("SYN-only connection not compacted: %+v", c)
	}
}

// TestTicksIsTickPerTime: a run of frame times through Ticks fires the
// same timers at the same network times as Tick per time, the
// max_timer_expires limit (a timer slipping to the next frame) included.
func TestTicksIsTickPerTime(t *testing.T) {
	offsets := []int64{1500, 61e9, 61e9, 61e9 + 999, 61e9 + 1000, 62e9, 62e9, 200e9, 200e9 + 1}
	run := func(one bool) []string {
		cfg := Config{}
		cfg.Timeouts.MaxTimerExpiresPerPkt = 2
		h := newHarness(t, cfg)
		h.tr.Tick(at(0))
		for i := 0; i < 7; i++ {
			h.udp(0, hostA, hostB, uint16(10000+i), 7000, 1, false)
		}
		times := make([]int64, len(offsets))
		for i, o := range offsets {
			times[i] = epoch.UnixNano() + o
		}
		if one {
			for _, ns := range times {
				h.tr.Tick(time.Unix(0, ns))
			}
		} else {
			h.tr.Ticks(times)
		}
		var log []string
		for _, c := range h.ended {
			log = append(log, fmt.Sprintf("%d ended at %v", c.OrigPort, c.End.Sub(epoch)))
		}
		return append(log, fmt.Sprintf("now %v", h.tr.NetworkTime().Sub(epoch)))
	}
	want := run(true)
	if got := run(false); !slices.Equal(got, want) {
		t.Fatalf("Ticks:\n%v\nTick per time:\n%v", got, want)
	}
	// 2 per frame from 61 s: 2 at 61 s, 2 at the second 61 s frame, 2 at
	// 61.000001 s (61 s + 999 ns reads as 61 s), 1 at 61.000001 s.
	if len(want) != 8 || want[6] != "10006 ended at 1m1.000001s" {
		t.Fatalf("the timers did not slip as max_timer_expires=2 makes them: %v", want)
	}
}
