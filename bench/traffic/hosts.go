package traffic

import (
	"fmt"
	"hash/fnv"
	"net/netip"
)

// host is one address on the simulated network.
type host struct {
	name string
	addr netip.Addr
	// mac is the Ethernet address its frames carry at the capture point:
	// its own for internal hosts, the gateway's for external ones.
	mac [6]byte
	// ttl is the TTL / hop limit its packets have when captured.
	ttl uint8
	// vlan is the 802.1Q VLAN its frames are tagged with (0: untagged).
	vlan uint16
	// leg is the round trip (µs) between the capture point and the host.
	leg int64
	// linux selects Linux-style ephemeral ports and TTL 64.
	linux bool
	// external marks hosts outside the site.
	external bool
	ipID     uint16
	nextPort uint16
}

// network is the simulated site and the Internet around it.
type network struct {
	gateway [6]byte

	// Named hosts used by the catalogue.
	ws                                                    []*host // Windows/Linux workstations, 10.1.1.0/24
	vlanWS                                                []*host // workstations on VLAN 20, 10.20.0.0/24
	dc, files, intranet, ts, tsNLA, jump, dmzWeb, dmzSSH  *host
	ws6, dns6, web6, ext6                                 *host
	example, google, google2, fastly, fastly2, cloudflare *host
	github, dnsGoogle, dnsCloudflare, ntpCloudflare       *host
	inbound                                               []*host // external clients of the DMZ servers
	scanner                                               *host

	// Pools for background sessions; they grow with the trace's scale.
	clients    []*host
	clients6   []*host // IPv6 clients (profiles only)
	extWeb     []*host
	ext6Web    []*host // IPv6 servers (profiles only)
	extDNS     []*host
	intServers []*host
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// vendor OUIs used for internal hosts' MAC addresses.
var ouis = [...][3]byte{
	{0x00, 0x1c, 0x23}, // Dell
	{0x3c, 0x52, 0x82}, // HP
	{0x00, 0x50, 0x56}, // VMware
	{0xf4, 0x8e, 0x38}, // Dell
	{0x00, 0x15, 0x5d}, // Hyper-V
}

func newHost(nw *network, name, addr string, linux bool) *host {
	return makeHost(nw, name, netip.MustParseAddr(addr), linux)
}

func makeHost(nw *network, name string, a netip.Addr, linux bool) *host {
	h := &host{name: name, addr: a, linux: linux}
	sum := hash32(a.String())
	internal := a.IsPrivate() || isDocumentation(a)
	if internal {
		oui := ouis[sum%uint32(len(ouis))]
		h.mac = [6]byte{oui[0], oui[1], oui[2], byte(sum >> 16), byte(sum >> 8), byte(sum)}
		h.ttl = 128
		if linux {
			h.ttl = 64
		}
		h.leg = 150 + int64(sum%500) // 0.15–0.65 ms
	} else {
		h.external = true
		h.mac = nw.gateway
		hops := uint8(8 + sum%14)
		h.ttl = 64 - hops
		if !linux {
			h.ttl = 128 - hops
		}
		h.leg = 6000 + int64(sum%70000) // 6–76 ms
	}
	h.ipID = uint16(sum >> 3)
	return h
}

// isDocumentation reports the IPv6 documentation prefix, which netbased's
// site treats as private like fd00::/8.
func isDocumentation(a netip.Addr) bool {
	return netip.MustParsePrefix("2001:db8::/32").Contains(a)
}

func newNetwork(scale int) *network {
	nw := &network{gateway: [6]byte{0x00, 0x08, 0xe3, 0xff, 0xfd, 0x90}} // Cisco
	for i, name := range []string{"ws-anna", "ws-ben", "ws-carla", "dev-dan", "ws-eve", "ws-farid"} {
		nw.ws = append(nw.ws, newHost(nw, name, fmt.Sprintf("10.1.1.%d", 11+i), name == "dev-dan"))
	}
	for i := range 3 {
		h := newHost(nw, fmt.Sprintf("lab-%d", i+1), fmt.Sprintf("10.20.0.%d", 21+i), i == 2)
		h.vlan = 20
		nw.vlanWS = append(nw.vlanWS, h)
	}
	nw.dc = newHost(nw, "dc01", "192.168.10.5", false)
	nw.files = newHost(nw, "files", "192.168.10.20", false)
	nw.intranet = newHost(nw, "intranet", "192.168.10.30", true)
	nw.ts = newHost(nw, "ts-legacy", "192.168.10.40", false)
	nw.tsNLA = newHost(nw, "ts01", "192.168.10.41", false)
	nw.jump = newHost(nw, "jump", "192.168.10.50", true)
	nw.dmzWeb = newHost(nw, "www-dmz", "10.1.100.80", true)
	nw.dmzSSH = newHost(nw, "sftp-dmz", "10.1.100.22", true)

	nw.ws6 = newHost(nw, "ws-anna-v6", "fd00:10::11", false)
	nw.dns6 = newHost(nw, "dc01-v6", "fd00:10::53", false)
	nw.web6 = newHost(nw, "intranet-v6", "2001:db8:10::80", true)
	nw.ext6 = newHost(nw, "example-v6", "2606:2800:220:1:248:1893:25c8:1946", true)

	nw.example = newHost(nw, "example.com", "93.184.216.34", true)
	nw.google = newHost(nw, "www.google.com", "142.250.74.46", true)
	nw.google2 = newHost(nw, "fonts.gstatic.com", "142.251.36.3", true)
	nw.fastly = newHost(nw, "www.reddit.com", "151.101.1.140", true)
	nw.fastly2 = newHost(nw, "cdn.jsdelivr.net", "151.101.65.229", true)
	nw.cloudflare = newHost(nw, "api.cloudflare.com", "104.16.132.229", true)
	nw.github = newHost(nw, "github.com", "140.82.112.3", true)
	nw.dnsGoogle = newHost(nw, "dns.google", "8.8.8.8", true)
	nw.dnsCloudflare = newHost(nw, "one.one.one.one", "1.1.1.1", true)
	nw.ntpCloudflare = newHost(nw, "time.cloudflare.com", "162.159.200.123", true)
	for i, a := range []string{"81.2.69.142", "77.88.55.60", "185.199.108.153", "5.255.255.70"} {
		nw.inbound = append(nw.inbound, newHost(nw, fmt.Sprintf("visitor-%d", i+1), a, i%2 == 0))
	}
	nw.scanner = newHost(nw, "scanner", "89.248.165.52", true)

	// Background pools.
	nw.clients = append(nw.clients, nw.ws...)
	nClients := 24 + 40*(scale-1)
	if nClients > 60000 {
		nClients = 60000
	}
	for i := range nClients {
		// 10.1.2.2 upwards, 250 hosts per /24: never a named host's address.
		net24 := 2 + i/250
		a := netip.AddrFrom4([4]byte{10, byte(1 + net24/256), byte(net24 % 256), byte(2 + i%250)})
		nw.clients = append(nw.clients, makeHost(nw, fmt.Sprintf("client-%d", i), a, i%5 == 0))
	}
	nw.extWeb = []*host{nw.example, nw.google, nw.google2, nw.fastly, nw.fastly2, nw.cloudflare}
	publicPrefixes := [][2]byte{{142, 250}, {142, 251}, {151, 101}, {104, 16}, {13, 107}, {52, 84}, {185, 15}, {31, 13}}
	nExt := 10 + 10*(scale-1)
	if nExt > 20000 {
		nExt = 20000
	}
	used := map[netip.Addr]bool{}
	for _, h := range nw.extWeb {
		used[h.addr] = true
	}
	for i := 0; len(nw.extWeb) < 6+nExt; i++ {
		p := publicPrefixes[i%len(publicPrefixes)]
		s := hash32(fmt.Sprint("ext", i))
		a := netip.AddrFrom4([4]byte{p[0], p[1], byte(s >> 8), byte(1 + s%250)})
		if used[a] {
			continue
		}
		used[a] = true
		nw.extWeb = append(nw.extWeb, makeHost(nw, fmt.Sprintf("edge-%d.cdn-static.net", i), a, s%3 != 0))
	}
	nw.extDNS = []*host{nw.dnsGoogle, nw.dnsCloudflare}
	nw.intServers = []*host{nw.files, nw.intranet}
	return nw
}
