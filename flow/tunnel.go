package flow

import (
	"net/netip"
	"time"

	"github.com/netbased/netbased/capture"
)

// Tunnel parents (conn.log's tunnel_parents), as Zeek assigns them.
//
// Zeek's connection record keeps the encapsulation stack of its latest
// packet, and conn.log collects the UID of the stack's last (innermost)
// element over the connection's life (base/protocols/conn: set_conn at
// new_connection, tunnel_changed afterwards).
//
//   - UDP tunnels (VXLAN, Geneve, Teredo, AYIYA, GTPv1) are connections of
//     their own: build_inner_packet pushes the outer UDP connection, so the
//     parent is that connection's UID. The decoder appends the outer packet
//     right before the packets it carries, one tunnel level up.
//   - IP-in-IP and GRE (ERSPAN, Aruba and PPTP included, and GRE over UDP)
//     have no connection: IPLayerTunnelAnalyzer::BuildInnerPacket names the
//     tunnel by the carrying IP header's address pair (in either order) and
//     gives it a UID of its own, kept while the pair stays active
//     (Tunnel::ip_tunnel_timeout, 24 h: a timer started when the tunnel is
//     first seen re-arms itself every 24 h and drops the tunnel once it has
//     been idle that long). Each analyzer (IP-in-IP, GRE) has its own table.

// ipTunnelTimeout is Zeek's Tunnel::ip_tunnel_timeout.
const ipTunnelTimeout = int64(24 * time.Hour)

// maxIPTunnels bounds the IP tunnels remembered; beyond it the least
// recently active one is forgotten (its next packet gets a new UID). Zeek
// has no bound.
const maxIPTunnels = 1 << 14

// ipTunnelSeed keeps IP tunnels' UIDs apart from connections'.
const ipTunnelSeed = 0x7475_6e6e_656c // "tunnel"

// ipTunnelKey names an IP tunnel: the address pair in canonical order and
// the analyzer (IP-in-IP or GRE).
type ipTunnelKey struct {
	a, b  netip.Addr
	encap capture.Encapsulation
}

// ipTunnel is one remembered IP tunnel, on a recency list.
type ipTunnel struct {
	key        ipTunnelKey
	uid        UID
	last       int64 // network time of its latest packet
	fire       int64 // when its inactivity timer next fires
	prev, next *ipTunnel
}

// ipTunnels is the table of IP tunnels and their UIDs.
type ipTunnels struct {
	m    map[ipTunnelKey]*ipTunnel
	lru  ipTunnel // sentinel (most recent first)
	free []*ipTunnel
}

func (s *ipTunnels) unlink(e *ipTunnel) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (s *ipTunnels) push(e *ipTunnel) {
	e.prev = &s.lru
	e.next = s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
}

func (s *ipTunnels) drop(e *ipTunnel) {
	s.unlink(e)
	delete(s.m, e.key)
	*e = ipTunnel{}
	s.free = append(s.free, e)
}

// expired reports whether Zeek's inactivity timer of e has removed it by
// network time now, and otherwise advances e.fire past now. The timer
// fires at e.fire, e.fire+T, …; it removes the tunnel at the first firing
// at least T after the tunnel's last packet.
func (e *ipTunnel) expired(now int64) bool {
	const T = ipTunnelTimeout
	if e.fire > now {
		return false
	}
	f := e.fire
	if f < e.last+T {
		f += (e.last + T - f + T - 1) / T * T // first firing at or after last+T
	}
	if f <= now {
		return true
	}
	// Still active: the firings up to now re-armed the timer.
	e.fire += (now - e.fire + T) / T * T
	return false
}

// uid returns the UID of the IP tunnel that carried p (Encap EncapIPinIP
// or EncapGRE) at network time now, creating it on its first packet.
func (s *ipTunnels) uid(p *capture.Packet, seed uint64, now int64) UID {
	if s.m == nil {
		s.m = make(map[ipTunnelKey]*ipTunnel)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	k := ipTunnelKey{a: p.EncapSrc, b: p.EncapDst, encap: p.Encap}
	if k.b.Less(k.a) {
		k.a, k.b = k.b, k.a
	}
	if e := s.m[k]; e != nil {
		if !e.expired(now) {
			e.last = now
			if s.lru.next != e {
				s.unlink(e)
				s.push(e)
			}
			return e.uid
		}
		s.drop(e)
	}
	if len(s.m) >= maxIPTunnels {
		s.drop(s.lru.prev)
	}
	var e *ipTunnel
	if n := len(s.free); n > 0 {
		e = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		e = &ipTunnel{}
	}
	ck := connKey{a: k.a.As16(), b: k.b.As16(), proto: uint8(k.encap)}
	*e = ipTunnel{key: k, uid: makeUID(seed^ipTunnelSeed, &ck, now), last: now, fire: now + ipTunnelTimeout}
	s.m[k] = e
	s.push(e)
	return e.uid
}

// Parent is the tunnel that carried a packet: its UID, when Set.
type Parent struct {
	UID UID
	Set bool
}

// Tunnels names the tunnels the packets of a stream of frames ride in
// (conn.log's tunnel_parents): the connection of a UDP tunnel's outer
// packets, or the IP tunnel an IP-in-IP or GRE header forms. A UDP tunnel
// flow is named as the tracker that sees all its packets names its
// connection: the connection starts with its first packet, ends after
// UDPInactivity without one, and its UID derives from its key and start.
//
// Whoever decodes the frames first calls Of for every packet of every
// frame, in order: a Tracker does so itself in Packet; a reader that
// spreads one frame's outer and inner packets over two trackers does, and
// hands the parents over (Tracker.PacketFrom), so that every tracker names
// a tunnel alike. It is bounded: maxTunnelConns UDP tunnel flows (the
// first added is forgotten first) and maxIPTunnels IP tunnels (the least
// recently active is forgotten first).
type Tunnels struct {
	seed     uint64
	inactive int64
	// ignoreChecksums is Config.IgnoreChecksums: whether a packet with a
	// bad checksum still counts as its flow's latest.
	ignoreChecksums bool
	now             int64
	udp             map[connKey]*tunnelConn
	udpOrder        []connKey // insertion order, for the bound
	ip              ipTunnels
	// depth[d] is the UDP tunnel connection of the latest outer packet at
	// depth d: the decoder appends an outer tunnel packet right before the
	// packets it carries, one level deeper.
	depth []Parent
}

// tunnelConn is a UDP tunnel flow: its latest packet's time and its UID
// (derived once per start from its key and start time).
type tunnelConn struct {
	last int64
	uid  UID
}

// maxTunnelConns bounds the UDP tunnel flows a Tunnels remembers.
const maxTunnelConns = 1 << 16

// NewTunnels returns Tunnels for trackers configured by cfg.
func NewTunnels(cfg Config) *Tunnels {
	cfg.normalize()
	return &Tunnels{seed: cfg.UIDSeed, inactive: int64(cfg.Timeouts.UDPInactivity), ignoreChecksums: cfg.IgnoreChecksums,
		udp: map[connKey]*tunnelConn{}}
}

// Of returns the parent of p, the next packet of the stream, and records
// what p tells of the tunnels (an outer tunnel packet, a packet of a UDP
// tunnel flow).
func (t *Tunnels) Of(p *capture.Packet) Parent {
	ts := p.Timestamp.UnixNano()
	ts -= ts % 1000
	t.now = max(t.now, ts)
	var parent Parent
	switch p.Encap {
	case capture.EncapUDPTunnel:
		if d := int(p.TunnelDepth); d > 0 && d <= len(t.depth) {
			parent = t.depth[d-1]
		}
	case capture.EncapIPinIP, capture.EncapGRE:
		parent = Parent{UID: t.ip.uid(p, t.seed, t.now), Set: true}
	}
	if p.Proto == capture.ProtoUDP && (p.TunnelService != "" || capture.TunnelPort(p.SrcPort) || capture.TunnelPort(p.DstPort)) {
		u := t.udpUID(p)
		if p.TunnelService != "" {
			d := int(p.TunnelDepth)
			for len(t.depth) <= d {
				t.depth = append(t.depth, Parent{})
			}
			t.depth[d] = Parent{UID: u, Set: true}
		}
	}
	return parent
}

// udpUID returns the UID of the connection of UDP packet p on a tunnel
// port, counting p as its latest packet.
func (t *Tunnels) udpUID(p *capture.Packet) UID {
	k, _, _ := keyOf(p)
	c := t.udp[k]
	if c == nil {
		if len(t.udp) >= maxTunnelConns {
			t.forgetOldest()
		}
		c = &tunnelConn{uid: makeUID(t.seed, &k, t.now)}
		t.udp[k] = c
		t.udpOrder = append(t.udpOrder, k)
		c.last = t.now
	} else if t.now-c.last >= t.inactive {
		c.uid = makeUID(t.seed, &k, t.now) // a new connection starts now
		c.last = t.now
	} else if !p.BadChecksum || t.ignoreChecksums {
		// As UDPAnalyzer::DeliverPacket: a bad checksum returns before
		// the connection's last time moves.
		c.last = t.now
	}
	return c.uid
}

// forgetOldest drops the UDP tunnel flow added first.
func (t *Tunnels) forgetOldest() {
	for len(t.udpOrder) > 0 {
		k := t.udpOrder[0]
		t.udpOrder = t.udpOrder[1:]
		if _, ok := t.udp[k]; ok {
			delete(t.udp, k)
			return
		}
	}
}

// noteEncapsulation records, after p updated its connection c, what Zeek's
// conn.log derives from p's tunnels: c's tunnel parent and the tunnel
// service of an outer UDP tunnel packet.
func (t *Tracker) noteEncapsulation(c *conn, p *capture.Packet, isOrig bool, parent Parent) {
	if c.removed {
		return
	}
	if parent.Set {
		t.addParent(c, parent.UID)
	}
	if p.TunnelService != "" {
		t.noteTunnel(c, p.TunnelService, isOrig)
	}
}
