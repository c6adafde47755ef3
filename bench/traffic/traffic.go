// Package traffic generates realistic, deterministic packet traces for
// netbased's demo pcap, tests and throughput benchmarks.
//
// A trace is a fixed catalogue of hand-written sessions that covers every
// protocol and connection state netbased must recognise (DNS over UDP and TCP,
// HTTP, TLS 1.2/1.3 on standard and non-standard ports, SMB2, RDP with standard
// security and over TLS, SSH, NTP, ICMP, a port scan, IPv6, 802.1Q VLANs) plus
// a configurable number of randomly drawn background sessions of the same
// kinds. Every packet is a complete Ethernet frame with correct IP/TCP/UDP/ICMP
// checksums; every TCP session has a consistent handshake, sequence and
// acknowledgement numbers and a FIN or RST close (or stays open on purpose).
//
// Output is a pure function of Config: the same seed gives the same bytes.
// Large traces (Config.Scale) are streamed, so memory stays bounded by the
// number of concurrently open sessions, not by the trace size.
package traffic

import (
	"bufio"
	"container/heap"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Defaults used when the corresponding Config field is zero.
const (
	// DefaultSeed is the seed of the committed demo pcap.
	DefaultSeed = 1
	// DefaultSessions is the number of background sessions in the demo pcap.
	DefaultSessions = 24
	// DemoSpan is how long the demo trace runs: long enough that netbase's
	// 5-minute windows split it into three.
	DemoSpan = 11 * time.Minute
	// scaleSessionRate is the background session arrival rate (per second)
	// once a scaled trace no longer fits into DemoSpan.
	scaleSessionRate = 400
)

// DefaultStart is the timestamp of the first packet window of every trace
// (not time.Now, so output is reproducible).
var defaultStart = time.Date(2024, time.May, 14, 9, 0, 0, 0, time.UTC)

// Config selects what Generate produces.
type Config struct {
	// Seed drives every random choice (ports, ISNs, timing, background mix).
	Seed uint64
	// Sessions is the number of background sessions per unit of Scale;
	// 0 means DefaultSessions, a negative value means none.
	Sessions int
	// Scale multiplies the background sessions and grows the host
	// population; 0 or 1 gives the demo-sized trace.
	Scale int
	// Start is the trace's start time; the zero value means 2024-05-14 09:00 UTC.
	Start time.Time
	// Profile selects the background mix, duration and host population
	// (ProfileDemo: Sessions per unit of Scale over DemoSpan).
	Profile Profile
}

// DefaultConfig is the configuration of the committed demo pcap.
func DefaultConfig() Config {
	return Config{Seed: DefaultSeed}
}

func (c Config) normalized() Config {
	if c.Sessions == 0 {
		c.Sessions = DefaultSessions
	}
	if c.Sessions < 0 {
		c.Sessions = 0
	}
	if c.Scale < 1 {
		c.Scale = 1
	}
	if c.Start.IsZero() {
		c.Start = defaultStart
	}
	return c
}

// backgroundSessions is the number of background draws.
func (c Config) backgroundSessions() int {
	if ps, ok := c.Profile.spec(); ok {
		return ps.draws * c.Scale
	}
	return c.Sessions * c.Scale
}

// span is the time over which sessions start.
func (c Config) span() time.Duration {
	if ps, ok := c.Profile.spec(); ok {
		return ps.span
	}
	span := DemoSpan
	if need := time.Duration(c.backgroundSessions()) * time.Second / scaleSessionRate; c.Scale > 1 && need > span {
		span = need
	}
	return span
}

// Packet is one generated frame (Ethernet link type).
type Packet struct {
	Timestamp time.Time
	Data      []byte
}

// Stats summarises a generated trace.
type Stats struct {
	Packets  int64
	Bytes    int64 // frame bytes, without pcap record headers
	Sessions int
	First    time.Time
	Last     time.Time
}

// Trace is an in-memory trace with the manifest of its sessions.
type Trace struct {
	Packets  []Packet
	Sessions []Session
	Stats    Stats
}

// Generate builds the whole trace in memory. Use WritePcap for large traces.
func Generate(cfg Config) (*Trace, error) {
	tr := &Trace{}
	stats, sessions, err := each(cfg, true, func(ts time.Time, data []byte) error {
		tr.Packets = append(tr.Packets, Packet{Timestamp: ts, Data: append([]byte(nil), data...)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	tr.Stats = stats
	tr.Sessions = sessions
	return tr, nil
}

// Each streams the trace's frames in timestamp order to fn. data is only
// valid during the call.
func Each(cfg Config, fn func(ts time.Time, data []byte) error) (Stats, error) {
	stats, _, err := each(cfg, false, fn)
	return stats, err
}

// Snaplen is the snapshot length written in the pcap header.
const Snaplen = 65535

// WritePcap writes the trace as a classic microsecond pcap with Ethernet link
// type.
func WritePcap(w io.Writer, cfg Config) (Stats, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriter(bw)
	if err := pw.WriteFileHeader(Snaplen, layers.LinkTypeEthernet); err != nil {
		return Stats{}, fmt.Errorf("write pcap header: %w", err)
	}
	stats, err := Each(cfg, func(ts time.Time, data []byte) error {
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(data), Length: len(data)}
		if err := pw.WritePacket(ci, data); err != nil {
			return fmt.Errorf("write pcap record: %w", err)
		}
		return nil
	})
	if err != nil {
		return stats, err
	}
	if err := bw.Flush(); err != nil {
		return stats, fmt.Errorf("flush pcap: %w", err)
	}
	return stats, nil
}

// Manifest returns the sessions of the trace that cfg describes, in the order
// they were created (catalogue first, then background by start time).
func Manifest(cfg Config) ([]Session, error) {
	_, sessions, err := each(cfg, true, func(time.Time, []byte) error { return nil })
	return sessions, err
}

// each runs the generator: it builds the catalogue, then merges the packets
// of all sessions in time order, creating background sessions lazily so
// memory stays proportional to the sessions open at once.
//
// With manifest set it also returns the sessions' descriptions; streaming
// callers leave it unset so a large trace's memory stays bounded.
func each(cfg Config, manifest bool, fn func(ts time.Time, data []byte) error) (Stats, []Session, error) {
	cfg = cfg.normalized()
	g := newGenerator(cfg)
	g.keepManifest = manifest
	var stats Stats

	pending := g.catalogue() // sorted by start
	bgLeft := cfg.backgroundSessions()
	bgStep := int64(0)
	if bgLeft > 0 {
		bgStep = int64(cfg.span()/time.Microsecond) / int64(bgLeft)
	}
	bgNext := int64(0)
	if bgLeft > 0 {
		bgNext = g.rng.Int64N(bgStep + 1)
	}

	var active sessionHeap
	var order uint64
	push := func(s *session) {
		if len(s.segs) == 0 {
			return
		}
		s.order = order
		order++
		heap.Push(&active, s)
	}
	enc := newEncoder()
	for {
		// Admit every session that starts before the earliest queued packet.
		for {
			var horizon int64 = 1<<63 - 1
			if len(active) > 0 {
				horizon = active[0].segs[active[0].next].at
			}
			switch {
			case len(pending) > 0 && pending[0].start <= horizon && (bgLeft == 0 || pending[0].start <= bgNext):
				push(pending[0])
				pending = pending[1:]
				continue
			case bgLeft > 0 && bgNext <= horizon:
				for _, s := range g.draw(bgNext) {
					push(s)
				}
				bgLeft--
				// Evenly spread with jitter: starts never run backwards.
				bgNext += bgStep/2 + g.rng.Int64N(bgStep+1)
				continue
			}
			break
		}
		if len(active) == 0 {
			break
		}
		s := active[0]
		seg := &s.segs[s.next]
		data, err := enc.encode(seg)
		if err != nil {
			return stats, g.sessions, fmt.Errorf("encode packet %d of session %d (%s): %w", s.next, s.id, s.kind, err)
		}
		ts := cfg.Start.Add(time.Duration(seg.at) * time.Microsecond)
		if err := fn(ts, data); err != nil {
			return stats, g.sessions, err
		}
		if stats.Packets == 0 {
			stats.First = ts
		}
		stats.Last = ts
		stats.Packets++
		stats.Bytes += int64(len(data))
		s.next++
		if s.next == len(s.segs) {
			heap.Pop(&active)
			s.segs = nil
		} else {
			heap.Fix(&active, 0)
		}
	}
	stats.Sessions = g.nSessions
	slices.SortStableFunc(g.sessions, func(a, b Session) int { return a.Start.Compare(b.Start) })
	for i := range g.sessions {
		g.sessions[i].ID = i + 1
	}
	return stats, g.sessions, nil
}

// sessionHeap orders open sessions by their next packet's time, then by
// admission order, so merging is deterministic.
type sessionHeap []*session

func (h sessionHeap) Len() int { return len(h) }
func (h sessionHeap) Less(i, j int) bool {
	a, b := h[i].segs[h[i].next].at, h[j].segs[h[j].next].at
	if a != b {
		return a < b
	}
	return h[i].order < h[j].order
}
func (h sessionHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sessionHeap) Push(x any)   { *h = append(*h, x.(*session)) }
func (h *sessionHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

// generator holds the state of one trace: the random source, the host
// population and the manifest.
type generator struct {
	cfg   Config
	rng   *rand.Rand
	net   *network
	certs map[string][]byte
	// nSessions counts the sessions created; sessions describes them when
	// keepManifest is set.
	nSessions    int
	keepManifest bool
	sessions     []Session
	// kinds is the profile's background mix (nil: the demo mix).
	kinds []weightedKind
}

func newGenerator(cfg Config) *generator {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e657462617365)) // "netbase"
	g := &generator{
		cfg:   cfg,
		rng:   rng,
		certs: map[string][]byte{},
	}
	if ps, ok := cfg.Profile.spec(); ok {
		g.net = newNetwork(1)
		g.net.addPools(ps, cfg.Scale)
		g.kinds = ps.kinds
	} else {
		g.net = newNetwork(cfg.Scale)
	}
	return g
}

// draw makes the session(s) of one background draw.
func (g *generator) draw(at int64) []*session {
	if g.kinds != nil {
		return g.profileBackground(at, g.kinds)
	}
	return g.background(at)
}
