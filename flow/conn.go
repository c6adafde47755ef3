// Package flow rebuilds connections from IP packets with Zeek's semantics:
// the 5-tuple key (with ICMP type/code mapping), originator choice and flips,
// the TCP endpoint state machine, conn_state, history, sequence-based sizes,
// and Zeek's timers in network time. Every connection it removes is handed
// on as a Conn, the record Zeek's conn.log writes.
package flow

import (
	"net/netip"
	"strings"
	"time"
)

// Conn is one ended connection: the fields of Zeek's conn.log plus the
// removal time that decides the interval window it counts in.
//
// A Tracker hands out a Conn whose strings (UID, History) and slices
// (Services, TunnelParents) point into its own buffers, valid only during
// the callback: Clone makes a copy that stays valid.
type Conn struct {
	UID string
	// Start is the first packet's time (conn.log ts); LastTime the last packet
	// counted in the duration; End the network time at which Zeek would remove
	// the connection (connection_state_remove).
	Start, LastTime, End time.Time

	Orig, Resp         netip.Addr
	OrigPort, RespPort uint16
	// IPProto is the IP protocol number (6, 17, 1, 58, or any other).
	IPProto uint8

	// Services are the recognized services, lowercase, in confirmation order.
	Services []string

	// OrigBytes/RespBytes are the endpoint sizes as Zeek's engine keeps them
	// (c$orig$size, c$resp$size); they exist even when Duration is 0.
	OrigBytes, RespBytes  uint64
	ConnState             string
	LocalOrig, LocalResp  bool
	MissedBytes           uint64
	History               string
	OrigPkts, OrigIPBytes uint64
	RespPkts, RespIPBytes uint64
	TunnelParents         []string
}

// Clone returns a deep copy of c that owns its strings and slices.
func (c *Conn) Clone() Conn {
	cp := *c
	cp.UID = strings.Clone(c.UID)
	cp.ConnState = strings.Clone(c.ConnState)
	cp.History = strings.Clone(c.History)
	cp.Services = nil
	for _, s := range c.Services {
		cp.Services = append(cp.Services, strings.Clone(s))
	}
	cp.TunnelParents = nil
	for _, p := range c.TunnelParents {
		cp.TunnelParents = append(cp.TunnelParents, strings.Clone(p))
	}
	return cp
}

// Duration is LastTime − Start.
func (c *Conn) Duration() time.Duration { return c.LastTime.Sub(c.Start) }

// Transport is conn.log's proto column: tcp, udp, icmp (also for ICMPv6) or
// unknown_transport.
func (c *Conn) Transport() string { return TransportName(c.IPProto) }

// TransportName maps an IP protocol number to conn.log's proto value.
func TransportName(ipProto uint8) string {
	switch ipProto {
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 1, 58:
		return "icmp"
	default:
		return "unknown_transport"
	}
}
