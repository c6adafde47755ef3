package classify

import (
	"fmt"
	"sort"
	"strings"
)

// The analyzer table: every component of a default Zeek build (HEAD) that can
// put a name in conn.log's service column, with what netbased does about it.
// It is the one place that knows analyzer names and ports: the recognizers'
// port attachment, the service-list parser (ParseSet) and the flow
// tracker's likely_server_ports (LikelyServerPorts) are derived from it, and
// ANALYZERS.md is generated from it (TestAnalyzersDoc keeps them equal).

// Kind says which part of Zeek names the service.
type Kind uint8

// Kinds of service-naming components.
const (
	// ProtocolAnalyzer is an analyzer under src/analyzer/protocol (binpac,
	// Spicy or hand-written): analyzer_confirmation_info adds its name.
	ProtocolAnalyzer Kind = iota + 1
	// PacketAnalyzer is a tunnel packet analyzer under src/packet_analysis:
	// its confirmation names the outer connection.
	PacketAnalyzer
	// ScriptLabel is a name a base script adds to c$service itself.
	ScriptLabel
)

func (k Kind) String() string {
	switch k {
	case ProtocolAnalyzer:
		return "protocol analyzer"
	case PacketAnalyzer:
		return "packet analyzer"
	case ScriptLabel:
		return "script label"
	}
	return "?"
}

// Status is netbased's coverage of an analyzer.
type Status uint8

// Coverage states.
const (
	// Implemented: a recognizer in this package follows the analyzer's
	// confirmation and violation logic.
	Implemented Status = iota + 1
	// Elsewhere: implemented outside this package (tunnels in capture and
	// flow; expected data connections in flow from this package's
	// announcements).
	Elsewhere
	// NotImplemented: netbased never names it (the Notes say why).
	NotImplemented
)

func (s Status) String() string {
	switch s {
	case Implemented:
		return "implemented"
	case Elsewhere:
		return "implemented in flow/capture"
	case NotImplemented:
		return "not implemented"
	}
	return "?"
}

// Ports are port numbers per transport.
type Ports struct {
	TCP, UDP []uint16
}

// Analyzer describes one service-naming Zeek component.
type Analyzer struct {
	// Name is the service name as conn.log writes it (Analyzer::name,
	// lowercased, or the script's label).
	Name string
	// Scripts are the names that load it: the base/protocols package
	// (`@load base/protocols/NAME`, also the --services name) first.
	Scripts []string
	Kind    Kind
	// Attach are the ports the base script registers the analyzer for
	// (Analyzer::register_for_ports): the analyzer is attached to every
	// connection whose responder port is one of them.
	Attach Ports
	// Server are the ports the base script adds to likely_server_ports,
	// when they differ from Attach (nil: the same).
	Server *Ports
	// Signature summarizes the DPD signature that enables the analyzer
	// elsewhere ("" when it has none).
	Signature string
	// Confirm is the condition that calls AnalyzerConfirmation.
	Confirm string
	// Violation is what raises AnalyzerViolation (DPD then disables the
	// analyzer; if it was confirmed the service is removed, see
	// TrackRemovedServices).
	Violation string
	Status    Status
	// Notes: where netbased differs, or why it does not model it.
	Notes string

	svc uint8 // the recognizer's service id; noService when none
}

// noService marks a table row without a recognizer in this package.
const noService = 0xff

func tcp(p ...uint16) Ports        { return Ports{TCP: p} }
func udp(p ...uint16) Ports        { return Ports{UDP: p} }
func both(t, u []uint16) Ports     { return Ports{TCP: t, UDP: u} }
func ports(p ...uint16) []uint16   { return p }
func scripts(s ...string) []string { return s }
func serverPorts(p Ports) *Ports   { return &p }

// analyzerTable lists the components in the order of ANALYZERS.md.
var analyzerTable = []Analyzer{
	{Name: "dce_rpc", Scripts: scripts("dce-rpc", "dce_rpc", "smb"), Kind: ProtocolAnalyzer, Attach: tcp(135),
		Signature: `dpd_dce_rpc: ^\x05[\x00\x01][\x00-\x13]\x03, either direction`,
		Confirm: "each whole connection-oriented PDU that parses (proc_dce_rpc_pdu; a single-fragment PDU's body too); " +
			"also the child SMB attaches per named-pipe file id (pipe reads, writes, transactions, FSCTL_PIPE_TRANSCEIVE)",
		Violation: "none acted on: base/protocols/dce-rpc puts DCE_RPC in DPD::ignore_violations (a bad PDU drops the rest of its delivery)",
		Status:    Implemented, svc: svcDCERPC,
		Notes: "TCP only. The auth trailer feeds the GSSAPI (type 9) and NTLM (type 10) children; Kerberos (type 16) " +
			"reaches the KRB packet analyzer as a stream, which it ignores."},
	{Name: "dhcp", Scripts: scripts("dhcp"), Kind: ProtocolAnalyzer, Attach: udp(67, 68), Server: serverPorts(udp(67, 4011)),
		Signature: `dhcp_cookie: ^.*\x63\x82\x53\x63 (udp)`,
		Confirm:   "a BOOTP message (op 1/2, hlen ≤ 16, ≥ 240 bytes) with the DHCP magic cookie parses",
		Violation: "binpac exception", Status: Implemented, svc: svcDHCP},
	{Name: "dnp3_tcp", Scripts: scripts("dnp3"), Kind: ProtocolAnalyzer, Attach: tcp(20000),
		Confirm:   "a link-layer header (05 64, length, control, addresses) whose CRC matches (DNP3.cc ProcessData)",
		Violation: "a header CRC that does not match; start bytes other than 05 64, bad data-block CRCs and a missing first segment only stop the analyzer",
		Status:    Implemented, svc: svcDNP3TCP,
		Notes: "port only: base/protocols/dnp3 does not load its dpd.sig (which enables a \"dnp3\" analyzer that does not exist); " +
			"a link-only frame (length 5) drops the rest of its delivery, as DNP3.cc does"},
	{Name: "dnp3_udp", Scripts: scripts("dnp3"), Kind: ProtocolAnalyzer, Attach: udp(20000),
		Confirm: "as dnp3_tcp, the frame state carrying over between datagrams", Violation: "as dnp3_tcp",
		Status: Implemented, svc: svcDNP3UDP},
	{Name: "dns", Scripts: scripts("dns"), Kind: ProtocolAnalyzer, Attach: both(ports(53), ports(53, 137, 5353, 5355)),
		Confirm:   "one message's header, question and answer sections parse; opcode QUERY/NOTIFY/UPDATE (or NetBIOS); qdcount ≤ dns_max_queries",
		Violation: "a message that does not parse; the analyzer flips when the first message is a reply",
		Status:    Implemented, svc: svcDNS},
	{Name: "dtls", Scripts: scripts("ssl", "dtls"), Kind: ProtocolAnalyzer, Attach: udp(443),
		Signature: `dpd_dtls_client: 16 FE FF/FD, 7×00, …, 01, …, FE FF/FD (udp)`,
		Confirm:   "a ClientHello with a DTLS version", Violation: "binpac exception",
		Status: Implemented, svc: svcDTLS},
	{Name: "finger", Scripts: scripts("finger"), Kind: ProtocolAnalyzer, Attach: tcp(79),
		Confirm:   "a request naming a user (or /W), or a reply line longer than 10 bytes (Spicy accept_input)",
		Violation: "a request or reply line that is not UTF-8; a CR not followed by LF in the reply",
		Status:    Implemented, svc: svcFinger},
	{Name: "ftp", Scripts: scripts("ftp"), Kind: ProtocolAnalyzer, Attach: tcp(21, 2811),
		Signature: "dpd_ftp_client/server: a command from the client and a 220 greeting from the server",
		Confirm:   "every client line whose first word is a command (3–100 printable, non-blank bytes: is_ftp_cmd, FTP::max_command_length)",
		Violation: "a server line starting a reply without a numeric code ≥ 100 or with a fourth byte other than space or '-' (FTP.cc)",
		Status:    Implemented, svc: svcFTP,
		Notes: "a longer command after the confirmation is LimitReachedWeird: history X (State.AnalysisLimitReached)"},
	{Name: "ftp-data", Scripts: scripts("ftp"), Kind: ScriptLabel,
		Confirm: "ftp.zeek labels the data connection a PORT/PASV/EPRT/EPSV announced (expected connection)",
		Status:  Elsewhere, svc: noService, Notes: "flow's expected-connection table, from this package's announcements"},
	{Name: "gridftp", Scripts: scripts("ftp"), Kind: ScriptLabel,
		Confirm: "gridftp.zeek: ssl_established on an FTP control connection whose last AUTH argument contains GSSAPI",
		Status:  Implemented, svc: noService},
	{Name: "gridftp-data", Scripts: scripts("ftp"), Kind: ScriptLabel,
		Confirm: "gridftp.zeek: at ssl_established, a TLS session with client and server certificates and a NULL bulk cipher " +
			"(data_channel_initial_criteria) polls ConnThreshold; the label is added when one direction's IP bytes cross " +
			"GridFTP::size_threshold (1 GiB) while the connection is younger than GridFTP::max_time (2 min), and " +
			"skip_further_processing then freezes every counter of the connection",
		Status: NotImplemented, svc: noService,
		Notes: "under plain `zeek -r` it names only NULL-cipher, mutually authenticated transfers of 1 GiB within two minutes; " +
			"modelling it needs the certificates and cipher past the 4 KiB prefix and flow to stop counting at the crossing; " +
			"the corpus test that shows it redefines the threshold to 2 bytes"},
	{Name: "gssapi", Scripts: scripts("gssapi", "smb"), Kind: ProtocolAnalyzer,
		Confirm: "a child of SMB (security blobs), DCE_RPC (auth type 9) and LDAP SASL binds: each token that parses " +
			"(GSSAPI_SELECT: MIC/Wrap token, or SPNEGO NegTokenInit/NegTokenResp with [0]–[3] arguments)",
		Violation: "a token that does not parse; the child is not in the analyzer tree, so only a confirmed service is removed",
		Status:    Implemented, svc: svcGSSAPI, Notes: "mechTokens go to NTLM (\"NTLMSSP\") and KRB (0x60 GSS token)"},
	{Name: "http", Scripts: scripts("http"), Kind: ProtocolAnalyzer, Attach: tcp(80, 81, 631, 1080, 3128, 8000, 8080, 8888),
		Signature: "dpd_http_client: a method and whitespace; dpd_http_server: ^HTTP/[0-9] (requires-reverse)",
		Confirm:   "a request line parses, or a reply line while a request is pending",
		Violation: "a request or reply line that does not parse; never on partial connections",
		Status:    Implemented, svc: svcHTTP},
	{Name: "imap", Scripts: scripts("imap"), Kind: ProtocolAnalyzer, Attach: tcp(143),
		Confirm: "a tagged client command and its server response (Spicy-less binpac analyzer)", Violation: "binpac exception",
		Status: Implemented, svc: svcIMAP},
	{Name: "irc", Scripts: scripts("irc"), Kind: ProtocolAnalyzer, Attach: tcp(6666, 6667, 6668, 6669),
		Signature: "dpd_irc_client/server: NICK/USER/PASS lines and a numeric reply",
		Confirm:   "a server line that parses after the client registration", Violation: "none in IRC.cc",
		Status: Implemented, svc: svcIRC},
	{Name: "irc-dcc-data", Scripts: scripts("irc"), Kind: ScriptLabel,
		Confirm: "dcc-send.zeek labels the connection a DCC SEND announced", Status: Elsewhere, svc: noService},
	{Name: "krb", Scripts: scripts("krb"), Kind: ProtocolAnalyzer, Attach: udp(88),
		Signature: "dpd_krb_udp_requests/replies: ASN.1 application tags 10–14, 30",
		Confirm:   "a KDC request or reply parses; as GSSAPI's child, the AP-REQ/AP-REP a Kerberos GSS token carries",
		Violation: "binpac exception", Status: Implemented, svc: svcKRB},
	{Name: "krb_tcp", Scripts: scripts("krb"), Kind: ProtocolAnalyzer, Attach: tcp(88),
		Confirm: "a length-prefixed KDC message parses", Violation: "binpac exception",
		Status: Implemented, svc: svcKRBTCP},
	{Name: "ldap_tcp", Scripts: scripts("ldap"), Kind: ProtocolAnalyzer, Attach: tcp(389, 3268),
		Signature: "dpd_ldap_client/server_tcp: a BER LDAPMessage with a valid protocolOp",
		Confirm:   "an LDAPMessage parses (Spicy)", Violation: "Spicy parse error",
		Status: Implemented, svc: svcLDAP},
	{Name: "ldap_udp", Scripts: scripts("ldap"), Kind: ProtocolAnalyzer, Attach: udp(389),
		Signature: "dpd_ldap_client/server_udp", Confirm: "an LDAPMessage parses (Spicy)", Violation: "Spicy parse error",
		Status: Implemented, svc: svcLDAPUDP},
	{Name: "modbus", Scripts: scripts("modbus"), Kind: ProtocolAnalyzer, Attach: tcp(502),
		Confirm:   "the first whole Modbus/TCP PDU (MBAP header, len ≥ 2, len bytes) from either side parses (deliver_ModbusTCP_PDU)",
		Violation: "binpac exception (an MBAP length below 2)",
		Status:    Implemented, svc: svcModbus, Notes: "no DPD signature: port 502 only"},
	{Name: "mqtt", Scripts: scripts("mqtt"), Kind: ProtocolAnalyzer, Attach: tcp(1883),
		Signature: "dpd_mqtt: ^.{4,7}MQ (the protocol name of a CONNECT), either direction",
		Confirm:   "a CONNECT that parses (proc_mqtt_connect), from either side",
		Violation: "binpac exception: a command that does not fit its remaining length; a remaining length of four or more bytes",
		Status:    Implemented, svc: svcMQTT,
		Notes: "commands longer than 1 KiB are checked on their first KiB"},
	{Name: "mysql", Scripts: scripts("mysql"), Kind: ProtocolAnalyzer, Attach: tcp(3306),
		Confirm: "the server handshake (protocol 10) and the client's response parse", Violation: "binpac exception",
		Status: Implemented, svc: svcMySQL},
	{Name: "ntlm", Scripts: scripts("ntlm", "smb"), Kind: ProtocolAnalyzer,
		Confirm: "a child of SMB (raw NTLMSSP blobs), GSSAPI and DCE_RPC (auth type 10): each NTLMSSP message that parses " +
			"(NEGOTIATE/CHALLENGE/AUTHENTICATE fixed fields and the strings the flags announce)",
		Violation: "none acted on: base/protocols/ntlm puts NTLM in DPD::ignore_violations",
		Status:    Implemented, svc: svcNTLM},
	{Name: "ntp", Scripts: scripts("ntp"), Kind: ProtocolAnalyzer, Attach: udp(123),
		Confirm:   "an NTP message parses (mode 1–7); flips when the first message is a server mode",
		Violation: "binpac exception", Status: Implemented, svc: svcNTP},
	{Name: "pop3", Scripts: scripts("pop3"), Kind: ProtocolAnalyzer,
		Signature: "dpd_pop3_server: ^\\+OK; dpd_pop3_client: a POP3 command (requires-reverse)",
		Confirm:   "a +OK/-ERR reply to a command", Violation: "an unknown command or reply",
		Status: Implemented, svc: svcPOP3,
		Notes: "base/protocols/pop3 only loads dpd.sig: no port registration, 110 is not a likely server port"},
	{Name: "postgresql", Scripts: scripts("postgresql"), Kind: ProtocolAnalyzer, Attach: tcp(5432),
		Signature: "dpd.sig: a StartupMessage / SSLRequest and the server's reply",
		Confirm:   "the startup exchange parses (Spicy)", Violation: "Spicy parse error",
		Status: Implemented, svc: svcPostgres},
	{Name: "quic", Scripts: scripts("quic"), Kind: ProtocolAnalyzer, Attach: udp(443),
		Signature: "dpd.sig: a long-header Initial of QUIC v1/v2 (udp)",
		Confirm:   "a client Initial decrypts and carries a ClientHello (Spicy)", Violation: "Spicy parse error",
		Status: Implemented, svc: svcQUIC},
	{Name: "radius", Scripts: scripts("radius"), Kind: ProtocolAnalyzer, Attach: udp(1812),
		Confirm:   "any datagram that parses: code, id, length 20..size, authenticator, attributes filling it (proc_radius_message)",
		Violation: "binpac exception", Status: Implemented, svc: svcRADIUS,
		Notes: "dpd_radius has no payload condition (a TODO in Zeek); netbased attaches by port only"},
	{Name: "rdp", Scripts: scripts("rdp"), Kind: ProtocolAnalyzer, Attach: tcp(3389),
		Signature: "dpd_rdp_client: Cookie: mstshash= or Duca…rdpdr; dpd_rdp_server: X.224 CC or McDn (requires-reverse)",
		Confirm:   "cleartext GCC client core data, server core data or server security data",
		Violation: "binpac exception; never after a gap or on partial connections",
		Status:    Implemented, svc: svcRDP, Notes: "TLS/CredSSP sessions confirm only the SSL child"},
	{Name: "rdpeudp", Scripts: scripts("rdp"), Kind: ProtocolAnalyzer, Attach: udp(3389),
		Signature: `dpd_rdpeudp_syn: payload-size 1232, ^\xff{4}..\x?? \x01 (udp)`,
		Confirm:   "after the originator's SYN (RDPUDP_FLAG_SYN, snSourceAck 0xffffffff), the responder's next datagram with SYN or ACK set (proc_rdpeudp_synack)",
		Violation: "binpac exception: a datagram shorter than its RDPUDP headers",
		Status:    Implemented, svc: svcRDPEUDP},
	{Name: "redis", Scripts: scripts("redis"), Kind: ProtocolAnalyzer, Attach: tcp(6379),
		Signature: "dpd.sig: a RESP array command from the client and a RESP reply",
		Confirm:   "a command and its reply parse (Spicy)", Violation: "Spicy parse error",
		Status: Implemented, svc: svcRedis},
	{Name: "rfb", Scripts: scripts("rfb"), Kind: ProtocolAnalyzer,
		Signature: "dpd_rfb_client/server: ^RFB at both streams' starts (requires-reverse)",
		Confirm:   "the client's ProtocolVersion message parses",
		Violation: "an invalid security type, selection or result; data sent while waiting; an unknown client message type; a binpac exception",
		Status:    Implemented, svc: svcRFB,
		Notes: "no ports; each side parsed in arrival order, chunk by chunk, from the connection's start (PIA replay); " +
			"server messages in ServerInit's delivery are not parsed; nothing on partial connections or after a gap"},
	{Name: "sip", Scripts: scripts("sip"), Kind: ProtocolAnalyzer, Attach: udp(5060),
		Signature: `dpd_sip: ^( SIP/[0-9]\.[0-9]\r\n|SIP/[0-9]\.[0-9] [0-9]{3} ) (udp, either direction)`,
		Confirm:   "a datagram (either side) starting with a reply line: SIP/d+.d+, blanks, a three-digit status (proc_sip_reply)",
		Violation: "binpac exception: a reply datagram (longer than 6 bytes, starting SIP/) whose line is not a reply line, any other datagram whose line is not a request line; 2-byte \\r keepalives are ignored (SIP.cc)",
		Status:    Implemented, svc: svcSIP,
		Notes: "UDP only (Zeek's SIP_TCP analyzer is not activated); header and body parse errors are not modelled"},
	{Name: "smb", Scripts: scripts("smb"), Kind: ProtocolAnalyzer, Attach: tcp(139, 445),
		Signature: `dpd_smb: ^....[\xfe\xff]SMB (either direction)`,
		Confirm:   "three stream chunks after syncing on an SMB header at offset 4 (SMB.cc)",
		Violation: "binpac exception", Status: Implemented, svc: svcSMB,
		Notes: "its GSSAPI, NTLM, KRB and DCE_RPC children are modelled (smb.go); binpac's own parse exceptions " +
			"(violation, resync) are not"},
	{Name: "smtp", Scripts: scripts("smtp"), Kind: ProtocolAnalyzer, Attach: tcp(25, 587),
		Signature: "dpd_smtp_client/server: EHLO/HELO and a 220 greeting",
		Confirm:   "a reply to EHLO/HELO", Violation: "an unknown command in command mode",
		Status: Implemented, svc: svcSMTP},
	{Name: "snmp", Scripts: scripts("snmp"), Kind: ProtocolAnalyzer, Attach: udp(161, 162),
		Confirm:   "a responder datagram's Header parses (proc_header): the outer SEQUENCE's header, a version INTEGER of at most 9 bytes, then the v1/v2c community or the whole v3Header",
		Violation: "check_tag / check_int_width / binpac exception on either side; a v3 msgFlags that is not one byte (proc_v3_header_data)", Status: Implemented, svc: svcSNMP,
		Notes: "PDU bodies are not parsed: a malformed PDU after a good header is not a violation here"},
	{Name: "socks", Scripts: scripts("socks"), Kind: ProtocolAnalyzer, Attach: tcp(1080),
		Signature: "dpd_socks4_client/server (also reversed), dpd_socks5_client/server (requires-reverse)",
		Confirm:   "a SOCKSv4 reply (after a version byte of 4) or a SOCKSv5 reply with a valid address type",
		Violation: "an unknown version (a standard SOCKSv4 reply's 0 included), a SOCKSv5 request with reserved ≠ 0, command ∉ 1–3 or an unknown address type",
		Status:    Implemented, svc: svcSOCKS,
		Notes: "after the handshake the tunnelled stream goes to a fresh PIA: the signature-enabled recognizers name the inner protocol; " +
			"nothing on partial connections; 1080 also attaches HTTP"},
	{Name: "ssh", Scripts: scripts("ssh"), Kind: ProtocolAnalyzer, Attach: tcp(22),
		Signature: `dpd_ssh_client/server: ^[sS][sS][hH]-[12]\. at both streams' starts (requires-reverse)`,
		Confirm: "SSH2: a whole SSH_MSG_NEWKEYS packet; SSH1: SSH_CMSG_SESSION_KEY; both versions must be known " +
			"before the first binary packet",
		Violation: "binpac exception: a binary packet before both version lines, a message the key-exchange state " +
			"cannot parse; nothing on partial connections or after a gap in either direction",
		Status: Implemented, svc: svcSSH},
	{Name: "ssl", Scripts: scripts("ssl"), Kind: ProtocolAnalyzer,
		Attach:    tcp(443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223),
		Signature: "dpd_ssl_client: 16 03 00-03 LL LL 01 …; dpd_ssl_server: (alert) 16 03 00-03 LL LL 02",
		Confirm:   "a ClientHello with a valid version", Violation: "binpac exception; never on partial connections",
		Status: Implemented, svc: svcSSL, Notes: "also the child of STARTTLS, RDP, QUIC and HTTP CONNECT"},
	{Name: "syslog", Scripts: scripts("syslog"), Kind: ProtocolAnalyzer, Attach: udp(514), Server: serverPorts(Ports{}),
		Confirm:   "every datagram: an optional <priority> and any bytes (Spicy Syslog::Message accepts its input)",
		Violation: "a datagram starting with '<' without digits and '>'",
		Status:    Implemented, svc: svcSyslog,
		Notes: "current base/protocols/syslog no longer adds 514 to likely_server_ports"},
	{Name: "syslog_tcp", Scripts: scripts("syslog"), Kind: ProtocolAnalyzer, Attach: tcp(514), Server: serverPorts(Ports{}),
		Confirm:   "a complete RFC 6587 frame: octet counting (length, space, message) or non-transparent (<priority>, message, NUL/CR/LF)",
		Violation: "Spicy parse error: a frame that starts or continues otherwise",
		Status:    Implemented, svc: svcSyslogTCP},
	{Name: "tds", Scripts: scripts("tds"), Kind: ProtocolAnalyzer, Attach: tcp(1434),
		Confirm: "not verified", Status: NotImplemented, svc: noService,
		Notes: "port kept as it was in likely_server_ports; analyzer not verified in Zeek HEAD"},
	{Name: "websocket", Scripts: scripts("websocket"), Kind: ProtocolAnalyzer,
		Confirm:   "a child of HTTP after a 101 reply with Connection: upgrade and Upgrade: websocket: a whole message (the frame with FIN) from either side",
		Violation: "binpac exception",
		Status:    Implemented, svc: svcWebSocket,
		Notes: "the DPD WebSocket::use_dpd_default runs on the frames' payload is not modelled; other Upgrade tokens start a PIA on the raw stream, which is"},
	{Name: "xmpp", Scripts: scripts("xmpp"), Kind: ProtocolAnalyzer, Attach: tcp(5222, 5269),
		Signature: "dpd_xmpp: <?xml / <stream:stream", Confirm: "the stream header parses",
		Violation: "binpac exception", Status: Implemented, svc: svcXMPP},
	{Name: "bittorrent", Scripts: scripts("bittorrent", "bittorrenttracker"), Kind: ProtocolAnalyzer,
		Confirm: "the handshake (\\x13BitTorrent protocol)", Status: NotImplemented, svc: noService,
		Notes: "no base script loads it in a default build: it never names a service under plain `zeek -r`"},
	{Name: "gnutella", Scripts: scripts("gnutella"), Kind: ProtocolAnalyzer,
		Confirm: "GNUTELLA CONNECT handshake", Status: NotImplemented, svc: noService,
		Notes: "no base script or signature enables it under plain `zeek -r`"},
	{Name: "ident", Scripts: scripts("ident"), Kind: ProtocolAnalyzer,
		Confirm: "a request/response pair", Status: NotImplemented, svc: noService,
		Notes: "no base script registers ports for it under plain `zeek -r`"},
	{Name: "ncp", Scripts: scripts("ncp"), Kind: ProtocolAnalyzer,
		Confirm: "an NCP frame", Status: NotImplemented, svc: noService, Notes: "not attached under plain `zeek -r`"},
	{Name: "netbios_ssn", Scripts: scripts("netbios", "netbios_ssn"), Kind: ProtocolAnalyzer,
		Confirm: "a NetBIOS session message", Status: NotImplemented, svc: noService,
		Notes: "under plain `zeek -r` port 139 attaches SMB, which parses the NetBIOS framing itself"},
	{Name: "telnet", Scripts: scripts("login", "telnet", "rlogin", "rsh", "nvt"), Kind: ProtocolAnalyzer,
		Confirm: "login analyzers (telnet, rlogin, rsh)", Status: NotImplemented, svc: noService,
		Notes: "no base script registers their ports under plain `zeek -r`"},
	{Name: "portmapper", Scripts: scripts("rpc", "portmap", "portmapper", "nfs", "mount"), Kind: ProtocolAnalyzer,
		Confirm: "an ONC-RPC call/reply", Status: NotImplemented, svc: noService,
		Notes: "no base script registers ports for the RPC analyzers (portmapper, nfs, mount) under plain `zeek -r`"},
	// The tunnel packet analyzers: their UDP ports are flow's and capture's
	// fact (present even under `zeek -b`), not repeated here.
	{Name: "ayiya", Scripts: scripts("tunnels", "ayiya"), Kind: PacketAnalyzer,
		Confirm: "an AYIYA header whose payload is an IP packet", Status: Elsewhere, svc: noService},
	{Name: "geneve", Scripts: scripts("tunnels", "geneve"), Kind: PacketAnalyzer,
		Confirm: "a Geneve header whose inner packet decodes", Status: Elsewhere, svc: noService},
	{Name: "gtpv1", Scripts: scripts("tunnels", "gtpv1"), Kind: PacketAnalyzer,
		Confirm: "a GTPv1-U G-PDU whose inner packet decodes", Status: Elsewhere, svc: noService},
	{Name: "teredo", Scripts: scripts("tunnels", "teredo"), Kind: PacketAnalyzer,
		Confirm: "Teredo packets in both directions (Tunnel::delay_teredo_confirmation)", Status: Elsewhere, svc: noService},
	{Name: "vxlan", Scripts: scripts("tunnels", "vxlan"), Kind: PacketAnalyzer,
		Confirm: "a VXLAN header with the I flag whose inner frame decodes", Status: Elsewhere, svc: noService},
}

// Analyzers returns a copy of the analyzer table.
func Analyzers() []Analyzer {
	out := make([]Analyzer, len(analyzerTable))
	copy(out, analyzerTable)
	return out
}

// Implemented reports whether this package's recognizers confirm the
// analyzer (Status Implemented and a recognizer behind it).
func (a *Analyzer) Implemented() bool { return a.svc != noService }

// ServerPorts returns the ports the analyzer's base script adds to
// likely_server_ports.
func (a *Analyzer) ServerPorts() Ports {
	if a.Server != nil {
		return *a.Server
	}
	return a.Attach
}

// loadedBy reports whether the service-list name loads the analyzer.
func (a *Analyzer) loadedBy(name string) bool {
	if a.Name == name {
		return true
	}
	for _, s := range a.Scripts {
		if s == name {
			return true
		}
	}
	return false
}

// LikelyServerPorts returns the likely_server_ports that the base scripts
// of the named analyzers add (names as ParseSet takes them, any case;
// unknown names add nothing). With names nil, or the single name "all", it
// is every base script a plain `zeek -r` loads. The tunnel packet analyzers'
// UDP ports are not included: they are the flow tracker's fact.
func LikelyServerPorts(names []string) Ports {
	all := len(names) == 0 || len(names) == 1 && strings.EqualFold(strings.TrimSpace(names[0]), "all")
	var tcpSet, udpSet [1 << 16]bool
	for i := range analyzerTable {
		a := &analyzerTable[i]
		use := all
		for _, n := range names {
			use = use || a.loadedBy(strings.ToLower(strings.TrimSpace(n)))
		}
		if !use {
			continue
		}
		sp := a.ServerPorts()
		for _, p := range sp.TCP {
			tcpSet[p] = true
		}
		for _, p := range sp.UDP {
			udpSet[p] = true
		}
	}
	var out Ports
	for p := range tcpSet {
		if tcpSet[p] {
			out.TCP = append(out.TCP, uint16(p))
		}
		if udpSet[p] {
			out.UDP = append(out.UDP, uint16(p))
		}
	}
	return out
}

// AnalyzersMarkdown renders the analyzer table as the ANALYZERS.md
// document.
func AnalyzersMarkdown() string {
	var b strings.Builder
	implemented, named := 0, 0
	for i := range analyzerTable {
		a := &analyzerTable[i]
		named++
		if a.Status != NotImplemented {
			implemented++
		}
	}
	b.WriteString("# Zeek analyzers that name a service\n\n")
	b.WriteString("Generated from `analyzerTable` in analyzers.go (`go test ./classify -run TestAnalyzersDoc -update` rewrites it).\n")
	b.WriteString("Every component of a default Zeek build (HEAD) that can put a name in conn.log's `service`: the protocol\n")
	b.WriteString("analyzers, the tunnel packet analyzers and the names base scripts add. *Attach* is `Analyzer::register_for_ports`\n")
	b.WriteString("in the base script (the responder ports the analyzer is attached on); *Server* the ports added to\n")
	b.WriteString("`likely_server_ports` when they differ. A violation makes DPD disable the analyzer (it never confirms\n")
	b.WriteString("afterwards); if it had confirmed, the service is removed (or, with `--track-removed-services`,\n")
	b.WriteString("`-name` is added), unless the connection already carried `DPD::ignore_violations_after` (10 KiB).\n")
	b.WriteString("Settings follow plain `zeek -r`.\n\n")
	fmt.Fprintf(&b, "Coverage: %d of %d service-naming components are implemented (%d by this package's recognizers, %d in flow/capture).\n\n",
		implemented, named, countStatus(Implemented), countStatus(Elsewhere))
	b.WriteString("| service | loaded by | kind | attach | server | DPD signature | confirmation | violation | netbased | notes |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	rows := Analyzers()
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	for i := range rows {
		a := &rows[i]
		server := "="
		if a.Server != nil {
			server = a.Server.String()
		}
		if a.Attach.String() == "" && a.Server == nil {
			server = ""
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			a.Name, strings.Join(a.Scripts, ", "), a.Kind, a.Attach, server, mdCell(a.Signature), mdCell(a.Confirm),
			mdCell(a.Violation), a.Status, mdCell(a.Notes))
	}
	return b.String()
}

func countStatus(s Status) int {
	n := 0
	for i := range analyzerTable {
		if analyzerTable[i].Status == s {
			n++
		}
	}
	return n
}

// String writes the ports as "80/tcp 443/tcp 53/udp".
func (p Ports) String() string {
	var parts []string
	for _, v := range p.TCP {
		parts = append(parts, fmt.Sprintf("%d/tcp", v))
	}
	for _, v := range p.UDP {
		parts = append(parts, fmt.Sprintf("%d/udp", v))
	}
	return strings.Join(parts, " ")
}

// mdCell escapes a table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
