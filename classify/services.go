package classify

import (
	"fmt"
	"sort"
	"strings"
)

// Service identifiers (indexes into serviceNames; bit positions in Set).
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
	numServices
)

// serviceNames are the conn.log names (Zeek's analyzer names, lowercase).
var serviceNames = [numServices]string{
	svcDNS:      "dns",
	svcHTTP:     "http",
	svcSSL:      "ssl",
	svcSMB:      "smb",
	svcRDP:      "rdp",
	svcDTLS:     "dtls",
	svcQUIC:     "quic",
	svcSSH:      "ssh",
	svcFTP:      "ftp",
	svcSMTP:     "smtp",
	svcPOP3:     "pop3",
	svcIMAP:     "imap",
	svcIRC:      "irc",
	svcLDAP:     "ldap_tcp",
	svcKRB:      "krb",
	svcKRBTCP:   "krb_tcp",
	svcGSSAPI:   "gssapi",
	svcNTLM:     "ntlm",
	svcMySQL:    "mysql",
	svcRedis:    "redis",
	svcNTP:      "ntp",
	svcDHCP:     "dhcp",
	svcPostgres: "postgresql",
	svcXMPP:     "xmpp",
	svcLDAPUDP:  "ldap_udp",
}

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
)

// streamRecs are the recognizers that work chunk by chunk without a
// buffered prefix.
const streamRecs = 1<<recSMB | 1<<recSSH | 1<<recFTPWatch

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

// aliases maps Zeek analyzer (or script package) names to the services
// they enable: loading base/protocols/ssl loads SSL and DTLS, krb loads KRB
// and KRB_TCP, ldap loads LDAP_TCP (and LDAP_UDP, not implemented).
var aliases = map[string][]uint8{
	"ssl":  {svcSSL, svcDTLS},
	"krb":  {svcKRB, svcKRBTCP},
	"ldap": {svcLDAP, svcLDAPUDP},
	"smb":  {svcSMB, svcGSSAPI, svcNTLM},
}

// knownNames are Zeek analyzer names that netbased accepts in a service list
// but does not implement: they enable nothing.
var knownNames = map[string]bool{
	"ayiya": true, "bittorrent": true, "bittorrenttracker": true, "conn": true, "dce_rpc": true,
	"dnp3": true, "dnp3_tcp": true, "dnp3_udp": true, "finger": true, "geneve": true, "gnutella": true,
	"gridftp": true, "gtpv1": true, "ident": true, "login": true, "modbus": true,
	"mount": true, "mqtt": true, "ncp": true, "netbios": true, "netbios_ssn": true, "nfs": true,
	"portmap": true, "radius": true, "rdpeudp": true, "rfb": true, "rlogin": true,
	"rsh": true, "s7comm": true, "sip": true, "snmp": true, "socks": true, "syslog": true,
	"teredo": true, "telnet": true, "vxlan": true, "websocket": true, "zip": true,
	"file": true, "ftp_data": true, "ftp-data": true, "irc-dcc-data": true, "ntlmssp": true,
	"smtp_bdat": true, "pia_tcp": true, "pia_udp": true, "contents": true, "conn_size": true,
	"tcpstats": true, "steppingstone": true, "imap_starttls": true, "spicy_quic": true,
}

// ParseSet parses a service list: "all" (also the empty string), "none", or
// comma-separated names, case-insensitive. Names are the services of Names,
// Zeek analyzer aliases (ssl also enables dtls, krb also krb_tcp, ldap is
// ldap_tcp), or Zeek analyzer names this package does not implement (they
// enable nothing). An unknown name is an error naming it; so is a list
// with both all and none.
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
		if ids, ok := aliases[name]; ok {
			for _, id := range ids {
				s |= 1 << id
			}
			continue
		}
		found := false
		for id, n := range serviceNames {
			if n == name {
				s |= 1 << uint(id)
				found = true
				break
			}
		}
		if found || knownNames[name] {
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
// be enabled by a signature; HTTP, SSL and RDP never on partial TCP.
func (c *Classifier) candidates(st *State) uint32 {
	var p uint32
	add := func(rec int, svc uint8) {
		if c.on(svc) {
			p |= 1 << rec
		}
	}
	partial := st.flags&flagPartial != 0
	if st.transport == UDP {
		if dnsPort(UDP, st.respPort) {
			add(recDNS, svcDNS)
		}
		if st.respPort == 123 {
			add(recNTP, svcNTP)
		}
		add(recDHCP, svcDHCP)
		add(recKRB, svcKRB)
		add(recLDAPUDP, svcLDAPUDP)
		add(recQUIC, svcQUIC)
		add(recDTLS, svcDTLS)
		return p
	}
	if st.transport != TCP {
		return 0
	}
	if dnsPort(TCP, st.respPort) {
		add(recDNS, svcDNS)
	}
	if !partial {
		add(recHTTP, svcHTTP)
		add(recSSL, svcSSL)
		add(recRDP, svcRDP)
	}
	add(recSMB, svcSMB)
	add(recSSH, svcSSH)
	add(recFTP, svcFTP)
	if ftpPort(st.respPort) {
		add(recFTPWatch, svcFTP)
	}
	add(recSMTP, svcSMTP)
	add(recPOP3, svcPOP3)
	if imapPort(st.respPort) {
		add(recIMAP, svcIMAP)
	}
	add(recIRC, svcIRC)
	add(recLDAP, svcLDAP)
	if st.respPort == 88 {
		add(recKRB, svcKRBTCP)
	}
	if st.respPort == 3306 {
		add(recMySQL, svcMySQL)
	}
	add(recRedis, svcRedis)
	add(recPostgres, svcPostgres)
	add(recXMPP, svcXMPP)
	return p
}

// Port attachment (Zeek HEAD's Analyzer::register_for_ports in base scripts).

func dnsPort(t Transport, p uint16) bool {
	if t == TCP {
		return p == 53
	}
	return p == 53 || p == 137 || p == 5353 || p == 5355
}

func httpPort(p uint16) bool {
	switch p {
	case 80, 81, 631, 1080, 3128, 8000, 8080, 8888:
		return true
	}
	return false
}

func sslPort(p uint16) bool {
	switch p {
	case 443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223:
		return true
	}
	return false
}

func smbPort(p uint16) bool { return p == 139 || p == 445 }
func rdpPort(p uint16) bool { return p == 3389 }
func sshPort(p uint16) bool { return p == 22 }
func ftpPort(p uint16) bool { return p == 21 || p == 2811 }
func smtpPort(p uint16) bool {
	return p == 25 || p == 587
}
func pop3Port(p uint16) bool { return p == 110 }
func imapPort(p uint16) bool { return p == 143 }
func ircPort(p uint16) bool  { return p >= 6666 && p <= 6669 }
func ldapPort(p uint16) bool { return p == 389 || p == 3268 }
