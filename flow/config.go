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

// analyzerServerPorts are the server ports each application analyzer's
// base script adds to likely_server_ports in Zeek HEAD, keyed by the
// lowercase analyzer (script) name as used by --services.
var analyzerServerPorts = map[string]struct{ tcp, udp []uint16 }{
	"dce_rpc":    {tcp: []uint16{135}},
	"dhcp":       {udp: []uint16{67, 4011}},
	"dnp3":       {tcp: []uint16{20000}, udp: []uint16{20000}},
	"dns":        {tcp: []uint16{53}, udp: []uint16{53, 137, 5353, 5355}},
	"finger":     {tcp: []uint16{79}},
	"ftp":        {tcp: []uint16{21, 2811}},
	"http":       {tcp: []uint16{80, 81, 631, 1080, 3128, 8000, 8080, 8888}},
	"imap":       {tcp: []uint16{143}},
	"irc":        {tcp: []uint16{6666, 6667, 6668, 6669}},
	"krb":        {tcp: []uint16{88}, udp: []uint16{88}},
	"ldap":       {tcp: []uint16{389, 3268}, udp: []uint16{389}},
	"modbus":     {tcp: []uint16{502}},
	"mqtt":       {tcp: []uint16{1883}},
	"mysql":      {tcp: []uint16{3306}},
	"ntp":        {udp: []uint16{123}},
	"postgresql": {tcp: []uint16{5432}},
	"radius":     {udp: []uint16{1812}},
	"rdp":        {tcp: []uint16{3389}, udp: []uint16{3389}},
	"redis":      {tcp: []uint16{6379}},
	"sip":        {udp: []uint16{5060}},
	"smb":        {tcp: []uint16{139, 445}},
	"smtp":       {tcp: []uint16{25, 587}},
	"snmp":       {udp: []uint16{161, 162}},
	"socks":      {tcp: []uint16{1080}},
	"ssh":        {tcp: []uint16{22}},
	"ssl":        {tcp: []uint16{443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223}, udp: []uint16{443}},
	"syslog":     {tcp: []uint16{514}, udp: []uint16{514}},
	"tds":        {tcp: []uint16{1434}},
	"xmpp":       {tcp: []uint16{5222, 5269}},
}

// DefaultServerPorts returns Zeek HEAD's likely_server_ports with all base
// scripts loaded (plain `zeek -r`).
func DefaultServerPorts() *ServerPorts {
	sp := &ServerPorts{DNSAnalyzer: true}
	sp.TCP.Add(21, 22, 25, 53, 79, 80, 81, 88, 135, 139, 143, 389, 443, 445, 465, 502, 514, 563, 585, 587, 614, 631,
		636, 989, 990, 992, 993, 995, 1080, 1434, 1883, 2811, 3128, 3268, 3306, 3389, 5222, 5223, 5269, 5432, 6379,
		6666, 6667, 6668, 6669, 8000, 8080, 8888, 20000)
	sp.UDP.Add(53, 67, 88, 123, 137, 161, 162, 389, 443, 514, 1812, 2123, 2152, 3389, 3544, 4011, 4754, 4789, 5060,
		5072, 5353, 5355, 6081, 20000)
	return sp
}

// BareServerPorts returns likely_server_ports as `zeek -b` builds it when
// only the named application analyzers' scripts are loaded: the packet
// protocols' UDP ports plus each analyzer's server ports (DNSAnalyzer is
// set when "dns" is named). Unknown names (and "none") add nothing.
func BareServerPorts(analyzers []string) *ServerPorts {
	sp := &ServerPorts{}
	sp.UDP.Add(packetProtocolUDPPorts...)
	for _, name := range analyzers {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "dns" {
			sp.DNSAnalyzer = true
		}
		p, ok := analyzerServerPorts[name]
		if !ok {
			continue
		}
		sp.TCP.Add(p.tcp...)
		sp.UDP.Add(p.udp...)
	}
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
