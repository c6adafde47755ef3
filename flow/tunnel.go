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
	uid        uid
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

// ipTunnelUID returns the UID of the IP tunnel that carried p (Encap
// EncapIPinIP or EncapGRE), creating it on its first packet.
func (t *Tracker) ipTunnelUID(p *capture.Packet) uid {
	s := &t.ipTun
	if s.m == nil {
		s.m = make(map[ipTunnelKey]*ipTunnel)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	k := ipTunnelKey{a: p.EncapSrc, b: p.EncapDst, encap: p.Encap}
	if k.b.Less(k.a) {
		k.a, k.b = k.b, k.a
	}
	if e := s.m[k]; e != nil {
		if !e.expired(t.now) {
			e.last = t.now
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
	*e = ipTunnel{key: k, uid: makeUID(t.cfg.UIDSeed^ipTunnelSeed, &ck, t.now), last: t.now, fire: t.now + ipTunnelTimeout}
	s.m[k] = e
	s.push(e)
	return e.uid
}

// tunnelUID is the UID of the latest UDP tunnel connection at a depth.
type tunnelUID struct {
	uid uid
	set bool
}

// noteEncapsulation records, after p updated its connection c, what Zeek's
// conn.log derives from p's tunnels: c's tunnel parent, the tunnel service
// of an outer UDP tunnel packet, and the history letter 'X' of a UDP tunnel
// that was not decapsulated for its depth.
func (t *Tracker) noteEncapsulation(c *conn, p *capture.Packet, isOrig bool) {
	var parent uid
	hasParent := false
	switch p.Encap {
	case capture.EncapUDPTunnel:
		if d := int(p.TunnelDepth); d > 0 && d <= len(t.tunnelUIDs) && t.tunnelUIDs[d-1].set {
			parent, hasParent = t.tunnelUIDs[d-1].uid, true
		}
	case capture.EncapIPinIP, capture.EncapGRE:
		parent, hasParent = t.ipTunnelUID(p), true
	}
	if p.TunnelService != "" {
		// The packets this one carries follow it, one level deeper.
		d := int(p.TunnelDepth)
		for len(t.tunnelUIDs) <= d {
			t.tunnelUIDs = append(t.tunnelUIDs, tunnelUID{})
		}
		t.tunnelUIDs[d] = tunnelUID{uid: c.uid(t.cfg.UIDSeed), set: true}
	}
	if c.removed {
		return
	}
	if hasParent {
		t.addParent(c, parent)
	}
	if p.TunnelService != "" {
		t.noteTunnel(c, p.TunnelService, isOrig)
	}
}
