package classify

import (
	"fmt"
	"sort"
	"strings"
)

// Service identifiers (bit positions in Set). Their names, ports and Zeek
// semantics are in analyzerTable (analyzers.go).
const (
	svcDNS uint8 = iota
	svcHTTP
	svcSSL
	svcSMB
	svcRDP
	svcDTLS
	svcQUIC
	svcSSH
	svcFTP
	svcSMTP
	svcPOP3
	svcIMAP
	svcIRC
	svcLDAP
	svcKRB
	svcKRBTCP
	svcGSSAPI
	svcNTLM
	svcMySQL
	svcRedis
	svcNTP
	svcDHCP
	svcPostgres
	svcXMPP
	svcLDAPUDP
	svcModbus
	svcDCERPC
	svcRDPEUDP
	svcSIP
	svcSNMP
	svcRADIUS
	svcDNP3TCP
	svcDNP3UDP
	svcMQTT
	svcSOCKS
	svcSyslog
	svcSyslogTCP
	svcFinger
	svcRFB
	svcWebSocket
	numServices
)

// serviceNames are the conn.log names of the services, from the table.
var serviceNames = func() (names [numServices]string) {
	for i := range analyzerTable {
		if a := &analyzerTable[i]; a.svc != noService {
			names[a.svc] = a.Name
		}
	}
	return names
}()

// removedNames are the names DPD::track_removed_services_in_connection
// writes for a service removed after a violation ("-" + name).
var removedNames = func() (names [numServices]string) {
	for i, n := range serviceNames {
		names[i] = "-" + n
	}
	return names
}()

// Recognizer identifiers (bit positions in State.pending).
const (
	recDNS = iota
	recHTTP
	recSSL
	recSMB
	recRDP
	recSSH
	recFTP
	recSMTP
	recPOP3
	recIMAP
	recIRC
	recLDAP
	recKRB
	recMySQL
	recRedis
	recNTP
	recDHCP
	recQUIC
	recDTLS
	recFTPWatch // FTP reply-line violation watch after confirmation
	recPostgres
	recXMPP
	recLDAPUDP
	recModbus
	recDCERPC
	recRDPEUDP
	recSIP
	recSNMP
	recRADIUS
	recDNP3   // DNP3_TCP and DNP3_UDP
	recMQTT   // streaming
	recSOCKS  // prefix
	recSyslog // Syslog (UDP) and Syslog_TCP
	recFinger // prefix
	recRFB    // streaming
	numRecs
)

// streamRecs are the recognizers that work chunk by chunk without a
// buffered prefix.
const streamRecs = 1<<recSMB | 1<<recSSH | 1<<recFTPWatch | 1<<recDCERPC | 1<<recDNP3 | 1<<recMQTT | 1<<recSyslog | 1<<recRFB

// All enables every recognizer.
const All Set = 1<<numServices - 1

// None enables nothing (ParseSet "none").
const NoServices Set = 0

// Names returns the service names this package can confirm, sorted.
func Names() []string {
	out := make([]string, 0, numServices)
	for _, n := range serviceNames {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// otherAnalyzerNames are Zeek analyzer names that never name a service
// (support analyzers and the PIA); a service list may name them: they enable
// nothing.
var otherAnalyzerNames = map[string]bool{
	"conn": true, "contents": true, "conn_size": true, "connsize": true, "tcpstats": true, "steppingstone": true,
	"pia_tcp": true, "pia_udp": true, "file": true, "zip": true, "ftp_data": true, "ftp_adat": true,
	"irc_data": true, "smtp_bdat": true, "imap_starttls": true, "spicy_quic": true, "ntlmssp": true,
	"ftp-data": true, "irc-dcc-data": true, "tunnels": true, "s7comm": true,
}

// scriptServices returns the services a service-list name enables: the
// analyzers whose Name is name or that the script package name loads.
// known is false when no table row and no other analyzer has that name.
func scriptServices(name string) (s Set, known bool) {
	for i := range analyzerTable {
		a := &analyzerTable[i]
		match := a.Name == name
		for _, sc := range a.Scripts {
			match = match || sc == name
		}
		if !match {
			continue
		}
		known = true
		if a.svc != noService {
			s |= 1 << a.svc
		}
	}
	return s, known || otherAnalyzerNames[name]
}

// ParseSet parses a service list: "all" (also the empty string), "none", or
// comma-separated names, case-insensitive. A name is an analyzer of the
// table (Analyzers) or a script package that loads analyzers (ssl loads ssl
// and dtls, krb loads krb and krb_tcp, ldap loads ldap_tcp and ldap_udp,
// rdp loads rdp and rdpeudp, smb loads smb, gssapi, ntlm and dce_rpc);
// names of analyzers this package does not implement enable nothing. An
// unknown name is an error naming it; so is a list with both all and
// none.
func ParseSet(list string) (Set, error) {
	list = strings.TrimSpace(list)
	switch strings.ToLower(list) {
	case "", "all":
		return All, nil
	case "none", "-":
		return NoServices, nil
	}
	var s Set
	var allSeen, noneSeen bool
	for _, raw := range strings.Split(list, ",") {
		name := strings.ToLower(strings.TrimSpace(raw))
		if name == "" {
			continue
		}
		if name == "all" {
			s |= All
			allSeen = true
			continue
		}
		if name == "none" || name == "-" {
			noneSeen = true
			continue // nothing to add
		}
		if add, known := scriptServices(name); known {
			s |= add
			continue
		}
		return 0, fmt.Errorf("classify: unknown service %q in %q", strings.TrimSpace(raw), list)
	}
	if allSeen && noneSeen {
		return 0, fmt.Errorf("classify: %q asks for all and none of the recognizers", list)
	}
	return s, nil
}

// Has reports whether the set enables service name.
func (s Set) Has(name string) bool {
	for id, n := range serviceNames {
		if n == name {
			return s&(1<<uint(id)) != 0
		}
	}
	return false
}

// String lists the enabled services, comma-separated ("none" when empty).
func (s Set) String() string {
	if s&All == 0 {
		return "none"
	}
	var parts []string
	for id, n := range serviceNames {
		if s&(1<<uint(id)) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, ",")
}

func (c *Classifier) on(svc uint8) bool { return c.enabled&(1<<svc) != 0 }

// candidates returns the recognizers that may run on a new connection: the
// enabled ones for its transport, attached by the responder port or able to
// be enabled by a signature; HTTP, SSL, RDP and SSH never on partial TCP.
func (c *Classifier) candidates(st *State) uint64 {
	var p uint64
	add := func(rec int, svc uint8) {
		if c.on(svc) {
			p |= 1 << rec
		}
	}
	partial := st.flags&flagPartial != 0
	switch st.transport {
	case UDP:
		if st.attached(svcDNS) {
			add(recDNS, svcDNS)
		}
		if st.attached(svcNTP) {
			add(recNTP, svcNTP)
		}
		add(recDHCP, svcDHCP)
		add(recKRB, svcKRB)
		add(recLDAPUDP, svcLDAPUDP)
		add(recQUIC, svcQUIC)
		add(recDTLS, svcDTLS)
		add(recRDPEUDP, svcRDPEUDP)
		add(recSIP, svcSIP)
		if st.attached(svcSNMP) {
			add(recSNMP, svcSNMP)
		}
		if st.attached(svcRADIUS) {
			add(recRADIUS, svcRADIUS)
		}
		if st.attached(svcDNP3UDP) {
			add(recDNP3, svcDNP3UDP)
		}
		if st.attached(svcSyslog) {
			add(recSyslog, svcSyslog)
		}
	case TCP:
		if st.attached(svcDNS) {
			add(recDNS, svcDNS)
		}
		if !partial {
			add(recHTTP, svcHTTP)
			add(recSSL, svcSSL)
			add(recRDP, svcRDP)
			add(recSSH, svcSSH) // SSH.cc parses nothing of a partial connection
		}
		add(recSMB, svcSMB)
		add(recFTP, svcFTP)
		if st.attached(svcFTP) {
			add(recFTPWatch, svcFTP)
		}
		add(recSMTP, svcSMTP)
		add(recPOP3, svcPOP3)
		if st.attached(svcIMAP) {
			add(recIMAP, svcIMAP)
		}
		add(recIRC, svcIRC)
		add(recLDAP, svcLDAP)
		if st.attached(svcKRBTCP) {
			add(recKRB, svcKRBTCP)
		}
		if st.attached(svcMySQL) {
			add(recMySQL, svcMySQL)
		}
		add(recRedis, svcRedis)
		add(recPostgres, svcPostgres)
		add(recXMPP, svcXMPP)
		if st.attached(svcModbus) {
			add(recModbus, svcModbus)
		}
		add(recDCERPC, svcDCERPC)
		if st.attached(svcDNP3TCP) {
			add(recDNP3, svcDNP3TCP)
		}
		add(recMQTT, svcMQTT)
		if !partial {
			add(recSOCKS, svcSOCKS) // SOCKS.cc and RFB.cc skip partial connections
			add(recRFB, svcRFB)
		}
		if st.attached(svcSyslogTCP) {
			add(recSyslog, svcSyslogTCP)
		}
		if st.attached(svcFinger) {
			add(recFinger, svcFinger)
		}
	}
	return p
}

// attached reports whether svc's analyzer was attached by the responder
// port when the connection started (Zeek's BuildSessionAnalyzerTree).
func (st *State) attached(svc uint8) bool {
	if st.transport != TCP && st.transport != UDP {
		return false
	}
	slot := attachSlots[st.transport-1][svc]
	return slot != noSlot && st.attach&(1<<slot) != 0
}

// noSlot marks a service not attached by port on a transport.
const noSlot = 0xff

// attachSlots numbers, per transport (TCP, UDP), the services the table
// attaches by port: State.attach has a bit per slot, so that it stays 32
// bits wide while the services outgrow 32.
var attachSlots = func() (slots [2][numServices]uint8) {
	for t := range slots {
		for i := range slots[t] {
			slots[t][i] = noSlot
		}
	}
	var next [2]uint8
	for i := range analyzerTable {
		a := &analyzerTable[i]
		if a.svc == noService {
			continue
		}
		for t, ports := range [2][]uint16{a.Attach.TCP, a.Attach.UDP} {
			if len(ports) > 0 && slots[t][a.svc] == noSlot {
				slots[t][a.svc] = next[t]
				next[t]++
			}
		}
	}
	return slots
}()

// portAttach maps a responder port to the attach slots of the services
// attached there, per transport: sorted slices built once from the table
// by New, searched without allocating.
type portAttach struct {
	tcp, udp []portServices
}

type portServices struct {
	port uint16
	set  uint32
}

func newPortAttach() portAttach {
	add := func(list []portServices, p uint16, slot uint8) []portServices {
		for i := range list {
			if list[i].port == p {
				list[i].set |= 1 << slot
				return list
			}
		}
		return append(list, portServices{p, 1 << slot})
	}
	var pa portAttach
	for i := range analyzerTable {
		a := &analyzerTable[i]
		if a.svc == noService {
			continue
		}
		for _, p := range a.Attach.TCP {
			pa.tcp = add(pa.tcp, p, attachSlots[0][a.svc])
		}
		for _, p := range a.Attach.UDP {
			pa.udp = add(pa.udp, p, attachSlots[1][a.svc])
		}
	}
	for _, l := range [][]portServices{pa.tcp, pa.udp} {
		sort.Slice(l, func(i, j int) bool { return l[i].port < l[j].port })
	}
	return pa
}

// lookup returns the attach slots of the services attached to responder
// port p.
func (pa *portAttach) lookup(t Transport, p uint16) uint32 {
	list := pa.tcp
	if t == UDP {
		list = pa.udp
	} else if t != TCP {
		return 0
	}
	lo, hi := 0, len(list)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if list[m].port < p {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(list) && list[lo].port == p {
		return list[lo].set
	}
	return 0
}
