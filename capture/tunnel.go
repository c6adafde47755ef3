package capture

// Well-known UDP tunnel ports.
const (
	portVXLAN    = 4789
	portGeneve   = 6081
	portTeredo   = 3544
	portAYIYA    = 5072
	portGTPU     = 2152
	portGTPC     = 2123
	portGREinUDP = 4754
)

// decodeIPTunnel handles IP-in-IP (protocols 4 and 41).
func (d *Decoder) decodeIPTunnel(ip *ipHeader, proto uint8, rem []byte, plen, depth int) error {
	return nil
}

// decodeGRE handles GRE (protocol 47).
func (d *Decoder) decodeGRE(ip *ipHeader, rem []byte, plen, depth int) error {
	return nil
}

// udpTunnel decapsulates UDP tunnels; p is the outer packet at index idx.
func (d *Decoder) udpTunnel(p *Packet, idx int, ip *ipHeader, payload []byte, depth int) error {
	return nil
}
