package flow

import (
	"net/netip"
	"strings"
	"time"

	"github.com/netbased/netbased/classify"
)

// PortSet is a set of port numbers (one bit per port).
type PortSet [1024]uint64

// Add puts the ports into the set.
func (s *PortSet) Add(ports ...uint16) {
	for _, p := range ports {
		s[p>>6] |= 1 << (p & 63)
	}
}

// Has reports whether p is in the set.
func (s *PortSet) Has(p uint16) bool { return s[p>>6]&(1<<(p&63)) != 0 }

// Ports returns the members in increasing order.
func (s *PortSet) Ports() []uint16 {
	var out []uint16
	for i := 0; i < 1<<16; i++ {
		if s.Has(uint16(i)) {
			out = append(out, uint16(i))
		}
	}
	return out
}

// ServerPorts describe what the loaded analyzers register: Zeek's
// likely_server_ports, split by transport, and whether the DNS analyzer is
// loaded. The originator of a new TCP connection that does not start with a
// pure SYN, or of a new UDP flow, is flipped when its source port is a
// likely server port and its destination port is not. With the DNS
// analyzer, UDP flows to DNS ports (53, 137, 5353, 5355) also end after
// dns_session_timeout of silence.
type ServerPorts struct {
	TCP, UDP    PortSet
	DNSAnalyzer bool
}

// packetProtocolUDPPorts are the ports the packet analyzers register
// (GTPv1, Teredo, GRE-in-UDP, VXLAN, AYIYA, Geneve); they are present even
// under `zeek -b`.
var packetProtocolUDPPorts = []uint16{2123, 2152, 3544, 4754, 4789, 5072, 6081}

// DefaultServerPorts returns Zeek HEAD's likely_server_ports with all base
// scripts loaded (plain `zeek -r`): every application analyzer's server
// ports from classify's analyzer table, plus the packet protocols' UDP
// ports.
func DefaultServerPorts() *ServerPorts {
	return serverPorts(classify.LikelyServerPorts(nil), true)
}

// BareServerPorts returns likely_server_ports as `zeek -b` builds it when
// only the named application analyzers' scripts are loaded: the packet
// protocols' UDP ports plus the server ports classify's analyzer table
// gives each named analyzer or script (DNSAnalyzer is set when "dns" is
// named). Unknown names (and "none") add nothing.
func BareServerPorts(analyzers []string) *ServerPorts {
	dns := false
	names := make([]string, 0, len(analyzers))
	for _, name := range analyzers {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "dns" {
			dns = true
		}
		if name == "" || name == "all" || name == "none" {
			continue // "all" means every script only as the whole list
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return serverPorts(classify.Ports{}, dns)
	}
	return serverPorts(classify.LikelyServerPorts(names), dns)
}

// serverPorts builds a ServerPorts from application ports plus the packet
// protocols' UDP ports.
func serverPorts(app classify.Ports, dnsAnalyzer bool) *ServerPorts {
	sp := &ServerPorts{DNSAnalyzer: dnsAnalyzer}
	sp.TCP.Add(app.TCP...)
	sp.UDP.Add(app.UDP...)
	sp.UDP.Add(packetProtocolUDPPorts...)
	return sp
}

// Timeouts are Zeek's connection timers (init-bare.zeek defaults).
type Timeouts struct {
	TCPAttemptDelay       time.Duration // tcp_attempt_delay, 5 s
	TCPSYNTimeout         time.Duration // tcp_SYN_timeout, 5 s (first expire check)
	TCPSessionTimer       time.Duration // tcp_session_timer, 6 s (expire re-arm)
	TCPConnectionLinger   time.Duration // tcp_connection_linger, 5 s
	TCPCloseDelay         time.Duration // tcp_close_delay, 5 s
	TCPInactivity         time.Duration // tcp_inactivity_timeout, 5 min
	UDPInactivity         time.Duration // udp_inactivity_timeout, 1 min (also new TCP)
	ICMPInactivity        time.Duration // icmp_inactivity_timeout, 1 min
	UnknownInactivity     time.Duration // unknown_ip_inactivity_timeout, 1 min
	PortInactivity        time.Duration // Conn::port_inactivity_timeouts for 21/22/23/513 tcp, 1 h
	AnalyzerInactivity    time.Duration // Conn::analyzer_inactivity_timeouts for SSH and FTP, 1 h
	DNSSession            time.Duration // dns_session_timeout, 10 s (UDP flows with the DNS analyzer)
	MaxTimerExpiresPerPkt int           // max_timer_expires, 300
}

// DefaultTimeouts returns Zeek's defaults.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TCPAttemptDelay:       5 * time.Second,
		TCPSYNTimeout:         5 * time.Second,
		TCPSessionTimer:       6 * time.Second,
		TCPConnectionLinger:   5 * time.Second,
		TCPCloseDelay:         5 * time.Second,
		TCPInactivity:         5 * time.Minute,
		UDPInactivity:         time.Minute,
		ICMPInactivity:        time.Minute,
		UnknownInactivity:     time.Minute,
		PortInactivity:        time.Hour,
		AnalyzerInactivity:    time.Hour,
		DNSSession:            10 * time.Second,
		MaxTimerExpiresPerPkt: 300,
	}
}

// Config configures a Tracker. The zero value is usable: Zeek's full-mode
// server ports, default timers, no services, no local networks, checksums
// verified as the decoder reports them.
type Config struct {
	// IgnoreChecksums behaves like `zeek -C`: Packet.BadChecksum is ignored.
	IgnoreChecksums bool
	// MaxConnections bounds the table (0 = unlimited). When full, the
	// connection idle the longest is ended early (counted in
	// Stats.Evictions) to make room.
	MaxConnections int
	// Local decides local_orig/local_resp; nil means no local networks
	// (both false).
	Local func(netip.Addr) bool
	// Classifier recognizes services; nil means none.
	Classifier *classify.Classifier
	// ServerPorts are likely_server_ports; nil means DefaultServerPorts().
	// Use BareServerPorts for runs comparable to `zeek -b`.
	ServerPorts *ServerPorts
	// Timeouts; zero fields take Zeek's defaults.
	Timeouts Timeouts
	// UIDSeed seeds the deterministic UID generator.
	UIDSeed uint64
	// NoUIDs leaves Conn.UID empty: no consumer of the ended connections
	// reads it (no conn log), so its text is not built.
	NoUIDs bool
	// Expected is the table of announced data connections (FTP, IRC DCC)
	// to share with other trackers of the same traffic; nil: the tracker
	// keeps its own.
	Expected *ExpectedTable
}

func (c *Config) normalize() {
	if c.ServerPorts == nil {
		c.ServerPorts = DefaultServerPorts()
	}
	d := DefaultTimeouts()
	t := &c.Timeouts
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&t.TCPAttemptDelay, d.TCPAttemptDelay)
	fill(&t.TCPSYNTimeout, d.TCPSYNTimeout)
	fill(&t.TCPSessionTimer, d.TCPSessionTimer)
	fill(&t.TCPConnectionLinger, d.TCPConnectionLinger)
	fill(&t.TCPCloseDelay, d.TCPCloseDelay)
	fill(&t.TCPInactivity, d.TCPInactivity)
	fill(&t.UDPInactivity, d.UDPInactivity)
	fill(&t.ICMPInactivity, d.ICMPInactivity)
	fill(&t.UnknownInactivity, d.UnknownInactivity)
	fill(&t.PortInactivity, d.PortInactivity)
	fill(&t.AnalyzerInactivity, d.AnalyzerInactivity)
	fill(&t.DNSSession, d.DNSSession)
	if t.MaxTimerExpiresPerPkt <= 0 {
		t.MaxTimerExpiresPerPkt = d.MaxTimerExpiresPerPkt
	}
}
