package aggregate

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/netbased/netbased/site"
)

// Mode selects which addresses get records (spec/interval.md §1).
type Mode uint8

// The monitoring modes.
const (
	// ModeLocal monitors the local networks (the default).
	ModeLocal Mode = iota
	// ModePrivate monitors Zeek's private address space.
	ModePrivate
	// ModeLocalNeighbors monitors the local and the neighbor networks.
	ModeLocalNeighbors
)

// ParseMode reads "local", "private" or "local+neighbors".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "local":
		return ModeLocal, nil
	case "private":
		return ModePrivate, nil
	case "local+neighbors", "local+neighbours":
		return ModeLocalNeighbors, nil
	}
	return 0, fmt.Errorf("monitoring mode %q: want local, private or local+neighbors", s)
}

// String is the mode's command-line spelling.
func (m Mode) String() string {
	switch m {
	case ModePrivate:
		return "private"
	case ModeLocalNeighbors:
		return "local+neighbors"
	}
	return "local"
}

// Config configures Windows (and an Aggregator). The zero value works:
// one window over the whole input, mode local, local networks = Zeek's
// private address space, one shard.
type Config struct {
	// Interval is the window length; 0 means one window over the whole
	// input (start = first network time seen, end = last).
	Interval time.Duration
	Mode     Mode
	// LocalNets decide local(a) and so the direction; nil means
	// site.Private(). An empty, non-nil set means nothing is local.
	LocalNets *site.Nets
	// NeighborNets are monitored too in ModeLocalNeighbors.
	NeighborNets *site.Nets
	// CriticalAssets are monitored in every mode (they never change
	// directions).
	CriticalAssets *site.Nets
	// Shards splits each window's address states by address hash into
	// that many tables, merged and sorted in parallel when the window is
	// written (default 1, at most 256). Records do not depend on it.
	Shards int
	// MaxHosts bounds the monitored addresses of a window (0: no bound):
	// an address that finds the window full is not counted (Stats
	// HostsRefused counts each refused update): the addresses first seen
	// keep their records. Each accumulator's states and the merged window
	// are bounded alike (each shard to its share), so memory grows with
	// the number of accumulators (capture workers).
	MaxHosts int

	// Written, if not nil, is called on the Windows' goroutine after each
	// window it writes (metrics, logs).
	Written func(WindowReport)

	// Record metadata copied into every Interval.
	NodeHostname        string
	NodeIPAddress       string
	OriginatingAgentTag string
	// ForwarderType defaults to "zeek".
	ForwarderType string
}

// DefaultNode returns this machine's hostname and its first global unicast
// (else any non-loopback) IP address, for Config.NodeHostname and
// NodeIPAddress. Missing values come back as "localhost" / "127.0.0.1".
func DefaultNode() (hostname, ip string) {
	hostname, err := os.Hostname()
	if err != nil || hostname == "" {
		hostname = "localhost"
	}
	return hostname, localIP()
}

// EventType is the event_type of every record.
const EventType = "netbase"

// monitor decides local(a) and monitored(a) for a configuration.
type monitor struct {
	local, neighbors, critical, private *site.Nets
	mode                                Mode
}

func newMonitor(cfg *Config) *monitor {
	m := &monitor{local: cfg.LocalNets, neighbors: cfg.NeighborNets, critical: cfg.CriticalAssets, mode: cfg.Mode}
	if m.local == nil {
		m.local = site.Private()
	}
	if m.mode == ModePrivate {
		m.private = site.Private()
	}
	return m
}

// isLocal is local(a).
func (m *monitor) isLocal(a netip.Addr) bool { return m.local.Contains(a) }

// isMonitored is monitored(a), given local(a).
func (m *monitor) isMonitored(a netip.Addr, local bool) bool {
	if broadcastLooking(a) {
		return false
	}
	switch m.mode {
	case ModeLocal:
		if local {
			return true
		}
	case ModePrivate:
		if m.private.Contains(a) {
			return true
		}
	case ModeLocalNeighbors:
		if local || m.neighbors.Contains(a) {
			return true
		}
	}
	return m.critical.Contains(a)
}

// broadcastLooking reports an IPv4 address whose dotted form starts with
// "255." or ends with ".255" (netbase's is_monitored exclusion).
func broadcastLooking(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	return b[0] == 255 || b[3] == 255
}

func localIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	var fallback string
	for _, a := range addrs {
		pn, ok := a.(*net.IPNet)
		if !ok || pn.IP.IsLoopback() {
			continue
		}
		if pn.IP.IsGlobalUnicast() {
			return pn.IP.String()
		}
		if fallback == "" {
			fallback = pn.IP.String()
		}
	}
	if fallback == "" {
		return "127.0.0.1"
	}
	return fallback
}
