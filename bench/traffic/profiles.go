package traffic

import (
	"fmt"
	"net/netip"
	"time"
)

// Profile selects the background traffic of a trace: its mix of session
// kinds, how long it runs and how many hosts take part. The fixed catalogue
// is in every trace.
type Profile string

// The profiles.
const (
	// ProfileDemo is the demo mix (DefaultSessions over DemoSpan), grown
	// by Config.Scale.
	ProfileDemo Profile = ""
	// ProfileHour is a realistic hour of a site's border and internal
	// traffic: browsing with DNS, bulk downloads, SMB, RDP, SSH, NTP, ICMP,
	// scans, IPv6, VLANs, inbound visitors; about 7 M packets, 330 k
	// connections and 90 k addresses at Scale 1.
	ProfileHour Profile = "hour"
	// ProfileChurn is connection churn: short connections only (DNS
	// query/answer pairs, SYN→RST port probes, short HTTP exchanges, at
	// most 8 packets each) over five minutes; about 600 k connections and
	// 2 M packets at Scale 1.
	ProfileChurn Profile = "churn"
	// ProfileSYNFlood is a spoofed SYN flood: 5 M SYNs over one minute,
	// each from another random address of 10.0.0.0/8 to one internal
	// web server, on top of the demo catalogue (every source is a
	// monitored address).
	ProfileSYNFlood Profile = "synflood"
)

// profiles are the named profiles besides the demo mix, in the order
// ParseProfile's error lists them.
var profiles = []Profile{ProfileHour, ProfileChurn, ProfileSYNFlood}

// ParseProfile reads a profile name ("", "demo", "hour", "churn" or "synflood").
func ParseProfile(s string) (Profile, error) {
	if s == "" || s == "demo" {
		return ProfileDemo, nil
	}
	names := "demo"
	for i, p := range profiles {
		if s == string(p) {
			return p, nil
		}
		sep := ", "
		if i == len(profiles)-1 {
			sep = " or "
		}
		names += sep + string(p)
	}
	return "", fmt.Errorf("unknown traffic profile %q (want %s)", s, names)
}

// profileSpec is what a profile sets.
type profileSpec struct {
	// draws is the number of background draws per unit of Scale (a draw
	// makes one or two connections); span is the time they start over.
	draws int
	span  time.Duration
	// Host pools per unit of Scale.
	clients4, clients6, ext4, ext6, visitors int
	kinds                                    []weightedKind
}

type weightedKind struct {
	name   string
	weight int
}

// spec returns the profile's settings; ok is false for the demo profile,
// whose settings come from Config.Sessions and Config.Scale.
func (p Profile) spec() (profileSpec, bool) {
	switch p {
	case ProfileHour:
		return profileSpec{
			draws: 238_000, span: time.Hour,
			clients4: 44_000, clients6: 4_000, ext4: 34_000, ext6: 3_000, visitors: 2_000,
			kinds: []weightedKind{
				{"browse-https", 30}, {"browse-https6", 6}, {"dns", 12}, {"http-out", 7}, {"http-internal", 5},
				{"bulk-https", 6}, {"smb", 6}, {"ntp", 4}, {"ssh", 2}, {"rdp", 1}, {"rdp-tls", 1}, {"ping", 4},
				{"rejected", 3}, {"unanswered", 3}, {"ipv6", 2}, {"vlan", 4}, {"inbound-https", 5},
				{"inbound-probe", 3}, {"ssh-typing", 5}, {"dns-tcp", 1},
			},
		}, true
	case ProfileSYNFlood:
		return profileSpec{draws: 5_000_000, span: time.Minute, kinds: []weightedKind{{"spoofed-syn", 1}}}, true
	case ProfileChurn:
		return profileSpec{
			draws: 600_000, span: 5 * time.Minute,
			clients4: 40_000, clients6: 0, ext4: 20_000, visitors: 5_000,
			kinds: []weightedKind{{"churn-dns", 42}, {"churn-scan", 36}, {"churn-http", 22}},
		}, true
	}
	return profileSpec{}, false
}

// addPools grows the background pools of nw to the profile's sizes.
func (nw *network) addPools(ps profileSpec, scale int) {
	for i := range ps.clients4 * scale {
		// 10.64.0.0/10 upwards, 250 hosts per /24: apart from the demo pools.
		net24 := i / 250
		a := netip.AddrFrom4([4]byte{10, byte(64 + net24/256), byte(net24 % 256), byte(2 + i%250)})
		nw.clients = append(nw.clients, makeHost(nw, fmt.Sprintf("pc-%d", i), a, i%5 == 0))
	}
	for i := range ps.clients6 * scale {
		a := netip.AddrFrom16([16]byte{0xfd, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
		nw.clients6 = append(nw.clients6, makeHost(nw, fmt.Sprintf("pc6-%d", i), a, i%3 == 0))
	}
	for i := range ps.ext4 * scale {
		// 100 /16s of public space, spread by a multiplicative hash.
		x := uint32(i) * 2654435761
		a := netip.AddrFrom4([4]byte{byte(20 + x%100), byte(x >> 8), byte(x >> 16), byte(1 + (x>>24)%250)})
		nw.extWeb = append(nw.extWeb, makeHost(nw, fmt.Sprintf("site-%d.example.net", i), a, x%3 != 0))
	}
	for i := range ps.ext6 * scale {
		x := uint32(i) * 2654435761
		a := netip.AddrFrom16([16]byte{0x26, 0x06, 0x47, 0x00, byte(x >> 24), byte(x >> 16), 0, 0, 0, 0, 0, 0, 0, 0, byte(x >> 8), byte(x)})
		nw.ext6Web = append(nw.ext6Web, makeHost(nw, fmt.Sprintf("site6-%d.example.net", i), a, x%2 == 0))
	}
	for i := range ps.visitors * scale {
		x := uint32(i)*2246822519 + 12345
		a := netip.AddrFrom4([4]byte{byte(130 + x%60), byte(x >> 8), byte(x >> 16), byte(1 + (x>>24)%250)})
		nw.inbound = append(nw.inbound, makeHost(nw, fmt.Sprintf("visitor-x%d", i), a, x%2 == 0))
	}
}

// profileBackground makes the session(s) of one draw of the hour or churn
// profile at `at`; the demo kinds are delegated to background.
func (g *generator) profileBackground(at int64, kinds []weightedKind) []*session {
	kind := g.pickKind(kinds)
	nw := g.net
	client := nw.clients[g.rng.IntN(len(nw.clients))]
	web := nw.extWeb[g.rng.IntN(len(nw.extWeb))]
	one := func(s *session) []*session { return []*session{s} }
	switch kind {
	case "browse-https6":
		c6 := nw.clients6[g.rng.IntN(len(nw.clients6))]
		w6 := nw.ext6Web[g.rng.IntN(len(nw.ext6Web))]
		d := g.dnsLookup(c6, nw.dns6, at, "v6.cdn-static.net", w6.addr, dnsAnswered, true)
		t := g.tlsSession(c6, w6, at+g.between(5*ms, 80*ms), 443, "v6.cdn-static.net", true,
			int(g.between(300, 3000)), int(g.between(1000, 20000)), closing(g.rng.IntN(3)), "", true)
		return []*session{d, t}
	case "bulk-https":
		return one(g.tlsSession(client, web, at, 443, "downloads.example.net", g.rng.IntN(2) == 0,
			int(g.between(500, 4000)), int(g.between(10_000, 60_000)), closeByClient, "", true))
	case "ssh-typing":
		f := g.newFlow(client, nw.jump, protoTCP, 22)
		c := g.tcp(f, at)
		g.sshLogin(c)
		for range g.between(60, 300) {
			c.send(orig, g.sshEncrypted(36), g.between(80*ms, 3*sec))                    // a keystroke
			c.reply(resp, g.sshEncrypted(int(g.between(36, 200))), g.between(100, 2*ms)) // its echo
		}
		c.end(closeByClient)
		return one(g.finish(f, "ssh", c.segs, expect{service: "ssh", state: "SF"}, true))
	case "inbound-probe":
		visitor := nw.inbound[g.rng.IntN(len(nw.inbound))]
		return one(g.portProbe(visitor, client, at, uint16(40000+g.rng.IntN(20000)), uint16(1+g.rng.IntN(1024)), "closed", true))
	case "spoofed-syn":
		// A new, never reused source address: not kept in any pool.
		x := g.rng.Uint32()
		src := makeHost(nw, "spoofed", netip.AddrFrom4([4]byte{10, byte(x >> 16), byte(x >> 8), byte(1 + x%254)}), true)
		return one(g.portProbe(src, nw.intranet, at, uint16(1024+x%60000), 80, "filtered", true))
	case "churn-dns":
		k := dnsAnswered
		if g.rng.IntN(10) == 0 {
			k = dnsNXDomain
		}
		return one(g.dnsLookup(client, nw.dc, at, "host.corp.example", web.addr, k, true))
	case "churn-scan":
		scanner := nw.inbound[g.rng.IntN(len(nw.inbound))]
		return one(g.portProbe(scanner, client, at, uint16(40000+g.rng.IntN(20000)), uint16(1+g.rng.IntN(10000)), "closed", true))
	case "churn-http":
		return one(g.httpSession(client, web, at, 80, "updates.example.net", []httpExchange{
			{method: "GET", path: "/ok", status: 204, reason: "No Content", size: 0}}, closeByClient, true))
	}
	return g.backgroundOf(at, kind)
}
