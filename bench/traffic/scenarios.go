package traffic

import (
	"fmt"
	"net/netip"
	"time"
)

// Time helpers: every offset inside the generator is in microseconds.
const (
	ms  = int64(1000)
	sec = int64(1000_000)
)

// closing says how a TCP scenario ends.
type closing int

const (
	closeByClient closing = iota // FIN handshake from the client: SF
	closeByServer                // FIN handshake from the server: SF
	resetByClient                // client RST after data: RSTO
	resetByServer                // server RST after data: RSTR
	leaveOpen                    // never closed: S1
)

func (c closing) state() string {
	switch c {
	case resetByClient:
		return "RSTO"
	case resetByServer:
		return "RSTR"
	case leaveOpen:
		return "S1"
	}
	return "SF"
}

func (c *tcpConv) end(how closing) {
	switch how {
	case closeByClient:
		c.close(orig, c.g.between(1*ms, 400*ms))
	case closeByServer:
		c.close(resp, c.g.between(5*ms, 2*sec))
	case resetByClient:
		c.reset(orig, c.g.between(1*ms, 300*ms))
	case resetByServer:
		c.reset(resp, c.g.between(1*ms, 300*ms))
	case leaveOpen:
		c.idle()
	}
}

// ---------------------------------------------------------------- DNS

type dnsKind int

const (
	dnsAnswered dnsKind = iota
	dnsNXDomain
	dnsUnanswered
)

// answersFor resolves name to addr, via a CNAME for CDN-looking names.
func answersFor(name string, addr netip.Addr) []dnsAnswer {
	typ := uint16(dnsTypeA)
	if addr.Is6() {
		typ = dnsTypeAAAA
	}
	if len(name) > 4 && name[:4] == "www." {
		target := "edge." + name[4:] + ".cdn.cloudflare.net"
		return []dnsAnswer{{typ: dnsTypeCNAME, ttl: 300, name: target}, {owner: target, typ: typ, ttl: 60, addr: addr}}
	}
	return []dnsAnswer{{typ: typ, ttl: 300, addr: addr}}
}

// dnsLookup is one UDP query and (unless unanswered) its response.
func (g *generator) dnsLookup(client, server *host, at int64, name string, target netip.Addr, kind dnsKind, bg bool) *session {
	f := g.newFlow(client, server, protoUDP, 53)
	c := g.udp(f, at)
	id := uint16(g.rng.Uint32())
	qtype := uint16(dnsTypeA)
	if target.Is6() {
		qtype = dnsTypeAAAA
	}
	c.send(orig, dnsMessage(id, false, 0, name, qtype, nil), 0)
	exp := expect{service: "dns", state: "SF"}
	switch kind {
	case dnsAnswered:
		c.send(resp, dnsMessage(id, true, 0, name, qtype, answersFor(name, target)), c.leg(resp)+g.between(50, 3*ms))
	case dnsNXDomain:
		c.send(resp, dnsMessage(id, true, dnsRcodeNXDomain, name, qtype, nil), c.leg(resp)+g.between(1*ms, 30*ms))
		exp.note = "NXDOMAIN"
	case dnsUnanswered:
		exp.state = "S0"
		exp.note = "query never answered"
	}
	return g.finish(f, "dns", c.segs, exp, bg)
}

// dnsOverTCP is a TXT lookup whose large answer needs TCP.
func (g *generator) dnsOverTCP(client, server *host, at int64, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, 53)
	c := g.tcp(f, at)
	c.open()
	id := uint16(g.rng.Uint32())
	name := "corp.example"
	c.send(orig, dnsOverTCP(dnsMessage(id, false, 0, name, dnsTypeTXT, nil)), g.between(20, 200))
	var answers []dnsAnswer
	for i := range 5 {
		key := fmt.Sprintf("v=DKIM1; k=rsa; s=selector%d; p=%x", i, g.bytes(150))
		answers = append(answers, dnsAnswer{typ: dnsTypeTXT, ttl: 3600, txt: []string{key}})
	}
	answers = append(answers, dnsAnswer{typ: dnsTypeTXT, ttl: 3600, txt: []string{"v=spf1 ip4:192.168.10.0/24 include:_spf.google.com ~all"}})
	c.reply(resp, dnsOverTCP(dnsMessage(id, true, 0, name, dnsTypeTXT, answers)), g.between(200, 2*ms))
	c.end(closeByClient)
	return g.finish(f, "dns-tcp", c.segs, expect{service: "dns", state: "SF", note: "TXT answer > 512 bytes over TCP"}, bg)
}

// ---------------------------------------------------------------- HTTP

type httpExchange struct {
	method, path string
	body         int // request body bytes (POST)
	status       int
	reason       string
	size         int // response body bytes
}

func (g *generator) httpSession(client, server *host, at int64, port uint16, vhost string, exchanges []httpExchange, how closing, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, port)
	c := g.tcp(f, at)
	c.open()
	for i, x := range exchanges {
		var body []byte
		if x.body > 0 {
			body = []byte(fmt.Sprintf("user=anna&token=%x&comment=", g.bytes(8)))
			for len(body) < x.body {
				body = append(body, 'x')
			}
		}
		gap := g.between(20, 300)
		if i > 0 {
			gap = g.between(50*ms, 2*sec)
		}
		c.send(orig, g.httpRequest(x.method, vhost, x.path, body), gap)
		c.reply(resp, g.httpResponse(x.status, x.reason, x.size), g.between(1*ms, 40*ms))
	}
	c.end(how)
	return g.finish(f, "http", c.segs, expect{service: "http", state: how.state()}, bg)
}

// ---------------------------------------------------------------- TLS

func (g *generator) tlsSession(client, server *host, at int64, port uint16, sni string, tls13 bool, up, down int, how closing, kind string, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, port)
	c := g.tcp(f, at)
	c.open()
	g.tlsHandshake(c, sni, tls13)
	g.tlsData(c, up, down)
	c.end(how)
	if kind == "" {
		kind = "https-tls12"
		if tls13 {
			kind = "https-tls13"
		}
	}
	return g.finish(f, kind, c.segs, expect{service: "ssl", state: how.state()}, bg)
}

func (g *generator) tlsHandshake(c *tcpConv, sni string, tls13 bool) {
	ch := g.clientHello(sni, tls13, "h2", "http/1.1")
	c.send(orig, ch, g.between(50, 500))
	if tls13 {
		c.reply(resp, g.serverHello13(ch), g.between(300, 3*ms))
		c.reply(orig, g.clientFinished13(), g.between(200, 2*ms))
		return
	}
	c.reply(resp, g.serverHello12(sni), g.between(300, 3*ms))
	c.reply(orig, g.clientKeyExchange12(), g.between(500, 3*ms))
	c.reply(resp, g.serverFinished12(), g.between(100, 1*ms))
}

// tlsData exchanges application data: requests of ~up bytes answered by
// ~down bytes, in one to three rounds.
func (g *generator) tlsData(c *tcpConv, up, down int) {
	rounds := 1 + g.rng.IntN(3)
	for i := range rounds {
		gap := g.between(100, 2*ms)
		if i > 0 {
			gap = g.between(100*ms, 3*sec)
		}
		c.send(orig, g.appData(max(60, up/rounds)), gap)
		c.reply(resp, g.appData(max(60, down/rounds)), g.between(2*ms, 60*ms))
	}
}

// ---------------------------------------------------------------- SMB

func (g *generator) smbSession(client, server *host, at int64, share string, negotiateOnly bool, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, 445)
	c := g.tcp(f, at)
	c.open()
	for i, x := range g.smb2Session(server.addr.String(), server.name, share, "anna", client.name, negotiateOnly) {
		gap := g.between(100, 800)
		if i == 0 {
			gap = g.between(20, 200)
		}
		c.send(orig, x.req, gap)
		c.reply(resp, x.resp, g.between(100, 2*ms))
	}
	// SMB forwards the negotiate response's SPNEGO hints to GSSAPI
	// (chunk 2) and the first session setup's NTLMSSP NEGOTIATE to NTLM
	// (chunk 3, before SMB confirms on it).
	exp := expect{service: "gssapi,ntlm,smb", state: "SF",
		note: "negotiate, 2× session setup (SPNEGO/NTLMSSP), tree connect/disconnect, logoff"}
	kind := "smb2"
	if negotiateOnly {
		exp = expect{service: "gssapi", state: "SF",
			note: "only 1 SMB chunk each way: below the 3 chunks Zeek needs; the negotiate response's SPNEGO hints confirm gssapi"}
		kind = "smb2-negotiate-only"
		c.end(closeByServer)
	} else {
		c.end(closeByClient)
	}
	return g.finish(f, kind, c.segs, exp, bg)
}

// ---------------------------------------------------------------- RDP

// rdpSession is a legacy "standard RDP security" session: cleartext X.224
// and MCS/GCC, then RDP-encrypted PDUs.
func (g *generator) rdpSession(client, server *host, at int64, user string, how closing, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, 3389)
	c := g.tcp(f, at)
	c.open()
	c.send(orig, rdpConnectionRequest(user, rdpProtocolRDP), g.between(50, 300))
	c.reply(resp, rdpConnectionConfirm(rdpProtocolRDP), g.between(200, 2*ms))
	c.reply(orig, mcsConnectInitial(client.name, 19041, rdpProtocolRDP), g.between(200, 2*ms))
	c.reply(resp, g.mcsConnectResponse(), g.between(500, 5*ms))
	c.reply(orig, append(mcsErectDomain, mcsAttachUser...), g.between(200, 2*ms))
	c.reply(resp, mcsAttachUserOK, g.between(100, 1*ms))
	for i, ch := range []uint16{1007, 1003, 1004} {
		c.reply(orig, mcsChannelJoin(7, ch, false), g.between(100, 500))
		c.reply(resp, mcsChannelJoin(7, ch, true), g.between(100, 500))
		_ = i
	}
	c.reply(orig, g.rdpSecurityExchange(), g.between(200, 1*ms))
	for range 2 + g.rng.IntN(3) {
		c.reply(orig, g.rdpEncrypted(true, int(g.between(40, 300))), g.between(1*ms, 500*ms))
		c.reply(resp, g.rdpEncrypted(false, int(g.between(200, 3000))), g.between(1*ms, 20*ms))
	}
	c.end(how)
	return g.finish(f, "rdp", c.segs, expect{service: "rdp", state: how.state(),
		note: "X.224 CR (mstshash) + CC, MCS Connect-Initial/Response with GCC data"}, bg)
}

// rdpTLSSession negotiates TLS/CredSSP: Zeek sees only the TLS handshake.
func (g *generator) rdpTLSSession(client, server *host, at int64, user string, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, 3389)
	c := g.tcp(f, at)
	c.open()
	c.send(orig, rdpConnectionRequest(user, rdpProtocolSSL|rdpProtocolHybrid|8), g.between(50, 300))
	c.reply(resp, rdpConnectionConfirm(rdpProtocolHybrid), g.between(200, 2*ms))
	ch := g.clientHello(server.name, false)
	c.reply(orig, ch, g.between(200, 2*ms))
	c.reply(resp, g.serverHello12(server.name), g.between(300, 3*ms))
	c.reply(orig, g.clientKeyExchange12(), g.between(500, 3*ms))
	c.reply(resp, g.serverFinished12(), g.between(100, 1*ms))
	g.tlsData(c, 2000, 4000)
	c.end(closeByClient)
	return g.finish(f, "rdp-tls", c.segs, expect{service: "ssl", state: "SF",
		note: "RDP negotiated to CredSSP/TLS: only ssl confirms"}, bg)
}

// ---------------------------------------------------------------- SSH

// sshSession exchanges banners and key exchange, then encrypted traffic;
// with keepUntil > at it keeps typing until then and never closes.
func (g *generator) sshSession(client, server *host, at int64, keepUntil int64, bg bool) *session {
	f := g.newFlow(client, server, protoTCP, 22)
	c := g.tcp(f, at)
	g.sshLogin(c)
	exp := expect{service: "ssh", state: "SF"}
	if keepUntil > at {
		for c.t+60*sec < keepUntil {
			c.send(orig, g.sshEncrypted(36), g.between(15*sec, 55*sec)) // a keystroke
			c.reply(resp, g.sshEncrypted(36), g.between(100, 2*ms))     // its echo
		}
		c.idle()
		exp = expect{service: "ssh", state: "S1", note: "interactive session still open at the end of the trace"}
	} else {
		c.end(closeByClient)
	}
	return g.finish(f, "ssh", c.segs, exp, bg)
}

// sshLogin opens c and runs an SSH version exchange, key exchange and
// encrypted login.
func (g *generator) sshLogin(c *tcpConv) {
	c.open()
	c.reply(resp, []byte("SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\r\n"), g.between(1*ms, 5*ms))
	c.reply(orig, []byte("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"), g.between(100, 1*ms))
	c.reply(orig, g.sshKexInit(false), g.between(50, 300))
	c.reply(resp, g.sshKexInit(true), g.between(100, 1*ms))
	c.reply(orig, g.sshECDHInit(), g.between(200, 1*ms))
	c.reply(resp, g.sshECDHReply(), g.between(1*ms, 5*ms))
	c.reply(orig, g.sshNewKeys(), g.between(500, 2*ms))
	// Service request, auth, channel open: a few encrypted round trips.
	for range 4 {
		c.reply(orig, g.sshEncrypted(int(g.between(40, 600))), g.between(200, 20*ms))
		c.reply(resp, g.sshEncrypted(int(g.between(40, 900))), g.between(200, 30*ms))
	}
}

// ---------------------------------------------------------------- NTP, ICMP

func (g *generator) ntpExchange(client, server *host, at int64, bg bool) *session {
	f := g.newFlow(client, server, protoUDP, 123)
	if !client.linux && !bg {
		// Windows w32time uses 123 on both sides. Background sessions keep
		// ephemeral ports so busy traces never merge two exchanges into one
		// Zeek connection.
		f.sport = 123
	}
	c := g.udp(f, at)
	t0 := g.cfg.Start.Add(time.Duration(at) * time.Microsecond)
	req := ntpClient(t0)
	c.send(orig, req, 0)
	leg := c.leg(resp)
	recv := t0.Add(time.Duration(leg/2) * time.Microsecond)
	c.send(resp, ntpServer(req, recv, recv.Add(40*time.Microsecond)), leg+40)
	return g.finish(f, "ntp", c.segs, expect{service: "ntp", state: "SF"}, bg)
}

func (g *generator) ping(client, server *host, at int64, count int, bg bool) *session {
	proto := uint8(protoICMP)
	if client.addr.Is6() {
		proto = protoICMPv6
	}
	f := &flow{orig: client, resp: server, proto: proto, sport: 8, dport: 0, vlan: client.vlan}
	if proto == protoICMPv6 {
		f.sport, f.dport = 128, 129
	}
	c := g.udp(f, at)
	id := uint16(g.rng.Uint32())
	for i := range count {
		gap := int64(0)
		if i > 0 {
			gap = 1*sec - c.leg(resp)
		}
		payload := pingPayload(g.cfg.Start.Add(time.Duration(c.t+gap) * time.Microsecond))
		c.echo(orig, id, uint16(i+1), payload, gap)
		c.echo(resp, id, uint16(i+1), payload, c.leg(resp))
	}
	return g.finish(f, "icmp-echo", c.segs, expect{state: "OTH", note: fmt.Sprintf("%d echo requests and replies", count)}, bg)
}

// ---------------------------------------------------------------- scans

// portProbe is one SYN probe of a scan.
func (g *generator) portProbe(scanner, target *host, at int64, sport, port uint16, answer string, bg bool) *session {
	f := &flow{orig: scanner, resp: target, proto: protoTCP, sport: sport, dport: port, vlan: target.vlan}
	c := g.tcp(f, at)
	var exp expect
	switch answer {
	case "open":
		c.syn()
		c.emit(c.t+c.leg(resp), resp, flagSYN|flagACK, c.next[orig], nil)
		c.markSYN()
		c.emit(c.t+c.leg(orig), orig, flagRST, 0, nil)
		exp = expect{state: "RSTO", note: "open port: half-open probe reset by the scanner"}
	case "closed":
		c.refuse()
		exp = expect{state: "REJ", note: "closed port: RST/ACK"}
	default:
		c.syn()
		exp = expect{state: "S0", note: "filtered port: no answer"}
	}
	return g.finish(f, "scan-"+answer, c.segs, exp, bg)
}

func (g *generator) portScan(scanner, target *host, at int64, bg bool) []*session {
	sport := uint16(40000 + g.rng.IntN(20000))
	answers := map[uint16]string{22: "open", 80: "open", 443: "open", 53: "filtered", 993: "filtered", 8080: "filtered", 8443: "filtered"}
	var out []*session
	for _, port := range []uint16{21, 22, 23, 25, 53, 80, 110, 135, 139, 143, 443, 445, 993, 3306, 3389, 5900, 8080, 8443} {
		answer, ok := answers[port]
		if !ok {
			answer = "closed"
		}
		out = append(out, g.portProbe(scanner, target, at, sport, port, answer, bg))
		at += g.between(300, 4*ms)
	}
	return out
}

// ---------------------------------------------------------------- catalogue

// catalogue builds the fixed sessions every trace contains, sorted by start.
func (g *generator) catalogue() []*session {
	nw := g.net
	anna, ben, carla, dan, eve, farid := nw.ws[0], nw.ws[1], nw.ws[2], nw.ws[3], nw.ws[4], nw.ws[5]
	lab1, lab3 := nw.vlanWS[0], nw.vlanWS[2]
	var out []*session
	add := func(s ...*session) { out = append(out, s...) }
	get := []httpExchange{{method: "GET", path: "/", status: 200, reason: "OK", size: 1256}}

	// Outbound browsing with DNS first.
	add(g.dnsLookup(anna, nw.dc, 1*sec, "example.com", nw.example.addr, dnsAnswered, false))
	add(g.httpSession(anna, nw.example, 1*sec+80*ms, 80, "example.com", append(get,
		httpExchange{method: "GET", path: "/favicon.ico", status: 404, reason: "Not Found", size: 180}), closeByClient, false))
	add(g.dnsLookup(anna, nw.dc, 3*sec, "www.google.com", nw.google.addr, dnsAnswered, false))
	add(g.tlsSession(anna, nw.google, 3*sec+60*ms, 443, "www.google.com", true, 1200, 5000, closeByClient, "", false))
	add(g.dnsLookup(ben, nw.dnsGoogle, 11*sec, "intranet-old.corp.example", netip.Addr{}, dnsNXDomain, false))
	add(g.dnsLookup(ben, nw.dc, 14*sec, "wpad.corp.example", netip.Addr{}, dnsUnanswered, false))
	add(g.dnsOverTCP(carla, nw.dc, 21*sec, false))
	add(g.dnsLookup(ben, nw.dc, 30*sec, "www.reddit.com", nw.fastly.addr, dnsAnswered, false))
	add(g.tlsSession(ben, nw.fastly, 30*sec+40*ms, 443, "www.reddit.com", false, 900, 6000, resetByClient, "", false))
	add(g.tlsSession(dan, nw.cloudflare, 46*sec, 8443, "api.cloudflare.com", true, 900, 2500, closeByClient, "tls-port-8443", false))

	// Internal Windows services.
	add(g.smbSession(anna, nw.files, 61*sec, "projects", false, false))
	add(g.smbSession(carla, nw.dc, 76*sec, "IPC$", true, false))
	add(g.rdpSession(ben, nw.ts, 92*sec, "ben", closeByClient, false))
	add(g.rdpTLSSession(carla, nw.tsNLA, 121*sec, "carla", false))

	// SSH: an interactive session open until the end, and a git fetch.
	add(g.sshSession(dan, nw.jump, 150*sec, int64(DemoSpan/time.Microsecond)-20*sec, false))
	add(g.sshSession(dan, nw.github, 162*sec, 0, false))
	add(g.ntpExchange(eve, nw.ntpCloudflare, 181*sec, false))

	// Inbound: a scan of the DMZ web server, then visitors.
	add(g.portScan(nw.scanner, nw.dmzWeb, 200*sec, false)...)
	add(g.ping(farid, nw.dnsCloudflare, 222*sec, 4, false))

	// IPv6.
	add(g.dnsLookup(nw.ws6, nw.dns6, 241*sec, "intranet.corp.example", nw.web6.addr, dnsAnswered, false))
	add(g.httpSession(nw.ws6, nw.web6, 241*sec+30*ms, 80, "intranet.corp.example", []httpExchange{
		{method: "GET", path: "/wiki/Onboarding", status: 200, reason: "OK", size: 3100}}, closeByClient, false))
	add(g.tlsSession(nw.ws6, nw.ext6, 251*sec, 443, "example.com", true, 700, 2600, closeByClient, "https-ipv6", false))
	add(g.ping(nw.ws6, nw.dns6, 256*sec, 2, false))

	// VLAN 20 lab hosts.
	add(g.dnsLookup(lab1, nw.dc, 262*sec, "fonts.gstatic.com", nw.google2.addr, dnsAnswered, false))
	add(g.tlsSession(lab1, nw.google2, 262*sec+25*ms, 443, "fonts.gstatic.com", true, 600, 5200, closeByClient, "", false))
	add(g.httpSession(lab3, nw.intranet, 266*sec, 8080, "intranet:8080", []httpExchange{
		{method: "GET", path: "/api/builds?limit=20", status: 200, reason: "OK", size: 2200}}, closeByServer, false))

	// Inbound visitors of the DMZ.
	add(g.tlsSession(nw.inbound[0], nw.dmzWeb, 281*sec, 443, "www.corp.example", false, 900, 7000, closeByClient, "", false))
	add(g.httpSession(nw.inbound[1], nw.dmzWeb, 290*sec, 80, "www.corp.example", []httpExchange{
		{method: "POST", path: "/contact", body: 420, status: 200, reason: "OK", size: 900}}, resetByServer, false))
	add(g.sshSession(nw.inbound[2], nw.dmzSSH, 305*sec, 0, false))

	// Internal web app and a reset outbound HTTP download.
	add(g.httpSession(anna, nw.intranet, 320*sec, 8080, "intranet:8080", []httpExchange{
		{method: "POST", path: "/api/timesheet", body: 800, status: 201, reason: "Created", size: 120}}, closeByClient, false))
	add(g.httpSession(carla, nw.example, 335*sec, 80, "example.com", []httpExchange{
		{method: "GET", path: "/downloads/tool.zip", status: 200, reason: "OK", size: 5200}}, resetByServer, false))

	// Later windows: more of the same so every window has traffic.
	add(g.dnsLookup(eve, nw.dc, 420*sec, "www.reddit.com", nw.fastly.addr, dnsAnswered, false))
	add(g.tlsSession(eve, nw.fastly, 420*sec+30*ms, 443, "www.reddit.com", true, 1100, 6200, closeByServer, "", false))
	add(g.smbSession(farid, nw.files, 480*sec, "scans", false, false))
	add(g.rdpSession(eve, nw.ts, 540*sec, "eve", resetByServer, false))
	add(g.dnsLookup(anna, nw.dnsCloudflare, 600*sec, "cdn.jsdelivr.net", nw.fastly2.addr, dnsAnswered, false))
	add(g.tlsSession(anna, nw.fastly2, 600*sec+45*ms, 443, "cdn.jsdelivr.net", false, 500, 4000, closeByClient, "", false))
	add(g.ntpExchange(dan, nw.ntpCloudflare, 630*sec, false))
	add(g.ping(nw.vlanWS[1], nw.dc, 645*sec, 3, false))

	sortSessions(out)
	return out
}

func sortSessions(s []*session) {
	// insertion sort: the catalogue is short and nearly sorted
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// ---------------------------------------------------------------- background

var backgroundKinds = []weightedKind{
	{"browse-https", 28}, {"dns", 12}, {"http-out", 7}, {"http-internal", 5}, {"smb", 7}, {"ntp", 4},
	{"ssh", 3}, {"rdp", 2}, {"rdp-tls", 2}, {"ping", 4}, {"rejected", 3}, {"unanswered", 3},
	{"ipv6", 4}, {"vlan", 5}, {"inbound-https", 5}, {"dns-tcp", 1},
}

// background creates the random session(s) of a draw of the demo mix
// starting at `at`.
func (g *generator) background(at int64) []*session {
	return g.backgroundOf(at, g.pickKind(backgroundKinds))
}

// pickKind draws a session kind by weight.
func (g *generator) pickKind(kinds []weightedKind) string {
	total := 0
	for _, k := range kinds {
		total += k.weight
	}
	pick := g.rng.IntN(total)
	for _, k := range kinds {
		if pick < k.weight {
			return k.name
		}
		pick -= k.weight
	}
	return kinds[0].name
}

// backgroundOf creates the random session(s) of one kind of the demo mix
// starting at `at`.
func (g *generator) backgroundOf(at int64, kind string) []*session {
	nw := g.net
	client := nw.clients[g.rng.IntN(len(nw.clients))]
	web := nw.extWeb[g.rng.IntN(len(nw.extWeb))]
	one := func(s *session) []*session { return []*session{s} }
	switch kind {
	case "browse-https":
		d := g.dnsLookup(client, nw.dc, at, web.name, web.addr, dnsAnswered, true)
		t := g.tlsSession(client, web, at+g.between(5*ms, 80*ms), 443, web.name, g.rng.IntN(10) < 7,
			int(g.between(300, 2000)), int(g.between(600, 4000)), closing(g.rng.IntN(3)), "", true)
		return []*session{d, t}
	case "dns":
		k := dnsAnswered
		if r := g.rng.IntN(20); r == 0 {
			k = dnsUnanswered
		} else if r < 3 {
			k = dnsNXDomain
		}
		server := nw.dc
		if g.rng.IntN(4) == 0 {
			server = nw.extDNS[g.rng.IntN(len(nw.extDNS))]
		}
		return one(g.dnsLookup(client, server, at, web.name, web.addr, k, true))
	case "http-out":
		return one(g.httpSession(client, web, at, 80, web.name, []httpExchange{
			{method: "GET", path: fmt.Sprintf("/pkg/%d.bin", g.rng.IntN(9999)), status: 200, reason: "OK", size: int(g.between(300, 4000))}},
			closing(g.rng.IntN(2)), true))
	case "http-internal":
		return one(g.httpSession(client, nw.intranet, at, 8080, "intranet:8080", []httpExchange{
			{method: "POST", path: "/api/events", body: int(g.between(100, 1500)), status: 204, reason: "No Content", size: 0}},
			closeByClient, true))
	case "smb":
		server := nw.intServers[g.rng.IntN(len(nw.intServers))]
		if server == nw.intranet {
			server = nw.dc
		}
		return one(g.smbSession(client, server, at, "share", g.rng.IntN(8) == 0, true))
	case "ntp":
		return one(g.ntpExchange(client, nw.ntpCloudflare, at, true))
	case "ssh":
		return one(g.sshSession(client, nw.jump, at, 0, true))
	case "rdp":
		return one(g.rdpSession(client, nw.ts, at, client.name, closeByClient, true))
	case "rdp-tls":
		return one(g.rdpTLSSession(client, nw.tsNLA, at, client.name, true))
	case "ping":
		return one(g.ping(client, web, at, 1+g.rng.IntN(4), true))
	case "rejected":
		return one(g.portProbe(client, nw.intranet, at, uint16(49152+g.rng.IntN(16000)), 8443, "closed", true))
	case "unanswered":
		return one(g.portProbe(client, web, at, uint16(49152+g.rng.IntN(16000)), 443, "filtered", true))
	case "ipv6":
		d := g.dnsLookup(nw.ws6, nw.dns6, at, "intranet.corp.example", nw.web6.addr, dnsAnswered, true)
		h := g.httpSession(nw.ws6, nw.web6, at+g.between(2*ms, 30*ms), 80, "intranet.corp.example", []httpExchange{
			{method: "GET", path: "/status", status: 200, reason: "OK", size: int(g.between(200, 2000))}}, closeByClient, true)
		return []*session{d, h}
	case "vlan":
		lab := nw.vlanWS[g.rng.IntN(len(nw.vlanWS))]
		d := g.dnsLookup(lab, nw.dc, at, web.name, web.addr, dnsAnswered, true)
		t := g.tlsSession(lab, web, at+g.between(5*ms, 80*ms), 443, web.name, true,
			int(g.between(300, 1500)), int(g.between(800, 5000)), closeByClient, "", true)
		return []*session{d, t}
	case "inbound-https":
		visitor := nw.inbound[g.rng.IntN(len(nw.inbound))]
		return one(g.tlsSession(visitor, nw.dmzWeb, at, 443, "www.corp.example", g.rng.IntN(2) == 0,
			int(g.between(300, 1200)), int(g.between(800, 4000)), closeByClient, "", true))
	default: // dns-tcp
		return one(g.dnsOverTCP(client, nw.dc, at, true))
	}
}
