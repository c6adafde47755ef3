package capture

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Parsing of capture filter expressions (pcap-filter(7) syntax, the
// subset described in filter.go).
//
// Grammar, as libpcap's: "not" binds tightest; "and" and "or" have equal
// precedence and associate left to right; a primitive is a list of
// qualifiers (protocol, direction, kind) and an id. After "and"/"or", a
// bare id repeats the qualifiers of the primitive before it ("port 80 or
// 443", "tcp dst port 21 or 20").

// filterExpr is a node of the parsed expression.
type filterExpr interface{ isFilterExpr() }

type (
	exprAnd struct{ l, r filterExpr }
	exprOr  struct{ l, r filterExpr }
	exprNot struct{ x filterExpr }
	// exprPrim is one primitive.
	exprPrim struct {
		proto string // "", ip, ip6, arp, rarp, tcp, udp, sctp, ether, icmp, …
		dir   string // "", src, dst, "src or dst", "src and dst"
		kind  string // "", host, net, port, portrange, proto, vlan, less, greater, broadcast-free keywords
		// Parsed id, by kind.
		addr     netip.Addr   // host (IP)
		mac      [6]byte      // ether host
		prefix   netip.Prefix // net
		port     [2]uint16    // port (lo = hi), portrange
		num      uint32       // proto number, vlan id, ether proto, length
		hasNum   bool         // vlan with an id
		protoNum []uint8      // transport protocols for port/portrange
	}
)

func (exprAnd) isFilterExpr()   {}
func (exprOr) isFilterExpr()    {}
func (exprNot) isFilterExpr()   {}
func (*exprPrim) isFilterExpr() {}

// maxFilterLength bounds an expression's text, and maxFilterDepth its
// nesting, so that hostile input cannot exhaust the stack.
const (
	maxFilterLength = 64 << 10
	maxFilterDepth  = 256
)

type filterParser struct {
	toks []string
	pos  int
	last *exprPrim // the previous primitive, for qualifier repetition
	// depth counts the open parentheses and negations.
	depth int
}

// tokenize splits an expression into words, parentheses and the symbolic
// operators (!, &&, ||).
func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				return nil, errors.New("comparisons (\"!=\") are not supported")
			}
			toks = append(toks, "not")
			i++
		case strings.HasPrefix(s[i:], "&&"):
			toks = append(toks, "and")
			i += 2
		case strings.HasPrefix(s[i:], "||"):
			toks = append(toks, "or")
			i += 2
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r()!", rune(s[j])) && !strings.HasPrefix(s[j:], "&&") &&
				!strings.HasPrefix(s[j:], "||") {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseFilter(s string) (filterExpr, error) {
	if len(s) > maxFilterLength {
		return nil, fmt.Errorf("expression longer than %d bytes", maxFilterLength)
	}
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, errors.New("empty expression")
	}
	p := &filterParser{toks: toks}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return e, nil
}

func (p *filterParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *filterParser) next() string {
	t := p.peek()
	if t != "" {
		p.pos++
	}
	return t
}

// expr := term { (and|or) term }
func (p *filterParser) expr() (filterExpr, error) {
	l, err := p.term(false)
	if err != nil {
		return nil, err
	}
	for {
		op := p.peek()
		if op != "and" && op != "or" {
			return l, nil
		}
		p.pos++
		r, err := p.term(true)
		if err != nil {
			return nil, err
		}
		if op == "and" {
			l = exprAnd{l, r}
		} else {
			l = exprOr{l, r}
		}
	}
}

// term := not term | ( expr ) | primitive
func (p *filterParser) term(afterOp bool) (filterExpr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, fmt.Errorf("expression nested deeper than %d", maxFilterDepth)
	}
	switch t := p.peek(); t {
	case "":
		return nil, errors.New("unexpected end of expression")
	case "not":
		p.pos++
		x, err := p.term(afterOp)
		if err != nil {
			return nil, err
		}
		return exprNot{x}, nil
	case "(":
		p.pos++
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.next() != ")" {
			return nil, errors.New("missing \")\"")
		}
		return e, nil
	case ")", "and", "or":
		return nil, fmt.Errorf("unexpected %q", t)
	}
	return p.primitive(afterOp)
}

var (
	filterProtos = map[string]bool{"ip": true, "ip6": true, "arp": true, "rarp": true, "tcp": true, "udp": true,
		"sctp": true, "ether": true, "icmp": true, "icmp6": true, "igmp": true}
	filterDirs  = map[string]bool{"src": true, "dst": true}
	filterKinds = map[string]bool{"host": true, "net": true, "port": true, "portrange": true}
	// protoNumbers names IP protocols for "proto NAME" ("\NAME" too).
	protoNumbers = map[string]uint8{"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
		"icmp6": 58, "pim": 103, "vrrp": 112, "sctp": 132}
)

// primitive parses qualifiers and an id, or a keyword primitive.
func (p *filterParser) primitive(afterOp bool) (filterExpr, error) {
	prim := &exprPrim{}
	start := p.pos
	if w := p.peek(); filterProtos[w] {
		prim.proto = w
		p.pos++
	}
	if w := p.peek(); filterDirs[w] {
		p.pos++
		prim.dir = w
		if op := p.peek(); (op == "or" || op == "and") && p.pos+1 < len(p.toks) && filterDirs[p.toks[p.pos+1]] &&
			p.toks[p.pos+1] != w {
			prim.dir = "src " + op + " dst"
			p.pos += 2
		}
	}
	switch w := p.peek(); {
	case filterKinds[w]:
		prim.kind = w
		p.pos++
	case w == "proto" || w == "vlan" || w == "less" || w == "greater":
		if prim.dir != "" {
			return nil, fmt.Errorf("%q takes no direction", w)
		}
		prim.kind = w
		p.pos++
		return prim, p.keywordArg(prim)
	}
	if prim.kind == "" && prim.dir == "" && prim.proto != "" {
		// A protocol alone ("tcp", "ip6"), unless an id follows.
		if !p.idFollows() {
			p.last = prim
			return prim, nil
		}
	}
	if prim.kind == "" && prim.dir == "" && prim.proto == "" {
		if afterOp && p.last != nil && p.last.kind != "" && p.last.kind != "proto" && p.last.kind != "vlan" &&
			p.last.kind != "less" && p.last.kind != "greater" {
			// A bare id repeats the previous qualifiers.
			prim.proto, prim.dir, prim.kind = p.last.proto, p.last.dir, p.last.kind
		}
	}
	if prim.kind == "" {
		prim.kind = "host"
	}
	id := p.next()
	if id == "" || id == "(" || id == ")" || id == "and" || id == "or" || id == "not" {
		if p.pos == start+1 && id != "" {
			return nil, fmt.Errorf("unexpected %q", id)
		}
		return nil, fmt.Errorf("%s needs a value", strings.TrimSpace(prim.proto+" "+prim.dir+" "+prim.kind))
	}
	if err := p.parseID(prim, id); err != nil {
		return nil, err
	}
	p.last = prim
	return prim, nil
}

// idFollows reports whether the next token is an id rather than an
// operator or the end.
func (p *filterParser) idFollows() bool {
	switch p.peek() {
	case "", "and", "or", "not", "(", ")":
		return false
	}
	return true
}

// keywordArg parses the argument of proto, vlan, less and greater.
func (p *filterParser) keywordArg(prim *exprPrim) error {
	switch prim.kind {
	case "proto":
		w := p.next()
		if w == "" {
			return errors.New("proto needs a protocol")
		}
		switch prim.proto {
		case "", "ip", "ip6":
		case "ether":
		default:
			return fmt.Errorf("%s proto is not supported", prim.proto)
		}
		if prim.proto == "ether" {
			n, err := etherProto(w)
			prim.num = uint32(n)
			return err
		}
		name := strings.TrimPrefix(w, "\\")
		if n, ok := protoNumbers[name]; ok {
			prim.num = uint32(n)
			return nil
		}
		n, err := strconv.ParseUint(name, 0, 8)
		if err != nil {
			return fmt.Errorf("unknown IP protocol %q", w)
		}
		prim.num = uint32(n)
	case "vlan":
		if prim.proto != "" {
			return fmt.Errorf("%s vlan is not supported", prim.proto)
		}
		if !p.idFollows() {
			return nil
		}
		n, err := strconv.ParseUint(p.next(), 0, 16)
		if err != nil || n > 4095 {
			return fmt.Errorf("vlan id %q is not between 0 and 4095", p.toks[p.pos-1])
		}
		prim.num, prim.hasNum = uint32(n), true
	case "less", "greater":
		if prim.proto != "" {
			return fmt.Errorf("%s %s is not supported", prim.proto, prim.kind)
		}
		w := p.next()
		n, err := strconv.ParseUint(w, 0, 32)
		if err != nil {
			return fmt.Errorf("%s needs a length, not %q", prim.kind, w)
		}
		prim.num = uint32(n)
	}
	return nil
}

func etherProto(w string) (uint16, error) {
	switch strings.TrimPrefix(w, "\\") {
	case "ip":
		return 0x0800, nil
	case "ip6":
		return 0x86dd, nil
	case "arp":
		return 0x0806, nil
	case "rarp":
		return 0x8035, nil
	}
	n, err := strconv.ParseUint(w, 0, 16)
	if err != nil {
		return 0, fmt.Errorf("unknown ether protocol %q", w)
	}
	return uint16(n), nil
}

// parseID interprets the id of a host, net, port or portrange primitive.
func (p *filterParser) parseID(prim *exprPrim, id string) error {
	switch prim.kind {
	case "host":
		if prim.proto == "ether" {
			mac, err := net.ParseMAC(id)
			if err != nil || len(mac) != 6 {
				return fmt.Errorf("ether host %q is not a MAC address", id)
			}
			copy(prim.mac[:], mac)
			return nil
		}
		a, err := netip.ParseAddr(id)
		if err != nil || a.Zone() != "" {
			return fmt.Errorf("host %q is not an IP address (names are not resolved)", id)
		}
		prim.addr = a.Unmap()
		return p.checkAddrProto(prim, prim.addr)
	case "net":
		if prim.proto == "ether" {
			return errors.New("ether net is not supported")
		}
		pfx, err := parseNet(id)
		if err != nil {
			return err
		}
		if p.peek() == "mask" {
			p.pos++
			m, err := netip.ParseAddr(p.next())
			if err != nil || !m.Is4() || !pfx.Addr().Is4() || strings.Contains(id, "/") {
				return errors.New("\"mask\" needs an IPv4 network and an IPv4 mask")
			}
			ones, ok := maskLen(m.As4())
			if !ok {
				return fmt.Errorf("mask %s is not contiguous", m)
			}
			pfx = netip.PrefixFrom(pfx.Addr(), ones)
		}
		if pfx.Masked() != pfx {
			return fmt.Errorf("net %s has host bits set (use %s)", id, pfx.Masked())
		}
		prim.prefix = pfx
		return p.checkAddrProto(prim, pfx.Addr())
	case "port", "portrange":
		protos, err := portProtos(prim.proto)
		if err != nil {
			return err
		}
		prim.protoNum = protos
		if prim.kind == "port" {
			n, err := portNumber(id, prim.proto)
			prim.port = [2]uint16{n, n}
			return err
		}
		lo, hi, ok := strings.Cut(id, "-")
		if !ok {
			return fmt.Errorf("portrange %q is not LOW-HIGH", id)
		}
		a, err := portNumber(lo, prim.proto)
		if err != nil {
			return err
		}
		b, err := portNumber(hi, prim.proto)
		if err != nil {
			return err
		}
		if a > b {
			a, b = b, a
		}
		prim.port = [2]uint16{a, b}
	}
	return nil
}

func (p *filterParser) checkAddrProto(prim *exprPrim, a netip.Addr) error {
	switch prim.proto {
	case "", "ip", "ip6", "arp", "rarp":
	default:
		return fmt.Errorf("%s %s is not supported", prim.proto, prim.kind)
	}
	if a.Is6() && (prim.proto == "ip" || prim.proto == "arp" || prim.proto == "rarp") {
		return fmt.Errorf("%s %s %s: an IPv6 address", prim.proto, prim.kind, a)
	}
	if a.Is4() && prim.proto == "ip6" {
		return fmt.Errorf("ip6 %s %s: an IPv4 address", prim.kind, a)
	}
	return nil
}

// parseNet parses "a.b.c.d/len", "a.b.c" (classful: /24, /16, /8 by the
// number of parts, as libpcap), "a.b.c.d" (/32) and "ipv6/len".
func parseNet(id string) (netip.Prefix, error) {
	if strings.Contains(id, "/") {
		addr, bits, _ := strings.Cut(id, "/")
		if a, err := netip.ParseAddr(addr); err == nil && a.Is4() && !strings.Contains(addr, ":") {
			n, err := strconv.Atoi(bits)
			if err != nil || n < 0 || n > 32 {
				return netip.Prefix{}, fmt.Errorf("net %q: bad prefix length", id)
			}
			return netip.PrefixFrom(a, n), nil
		}
		if a, err := partialIPv4(addr); err == nil {
			n, err := strconv.Atoi(bits)
			if err != nil || n < 0 || n > 32 {
				return netip.Prefix{}, fmt.Errorf("net %q: bad prefix length", id)
			}
			return netip.PrefixFrom(a, n), nil
		}
		pfx, err := netip.ParsePrefix(id)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("net %q is not a network", id)
		}
		return pfx, nil
	}
	if a, err := netip.ParseAddr(id); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	a, err := partialIPv4(id)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("net %q is not a network", id)
	}
	return netip.PrefixFrom(a, 8*(strings.Count(id, ".")+1)), nil
}

// partialIPv4 parses 1 to 3 dotted decimal parts ("10", "10.1", "10.1.2")
// as the leading bytes of an IPv4 address.
func partialIPv4(s string) (netip.Addr, error) {
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return netip.Addr{}, errors.New("not a partial address")
	}
	var b [4]byte
	for i, part := range parts {
		n, err := strconv.ParseUint(part, 10, 8)
		if err != nil {
			return netip.Addr{}, err
		}
		b[i] = byte(n)
	}
	return netip.AddrFrom4(b), nil
}

func maskLen(m [4]byte) (int, bool) {
	v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// portProtos returns the transport protocols a port primitive applies to.
func portProtos(proto string) ([]uint8, error) {
	switch proto {
	case "":
		return []uint8{132, 6, 17}, nil // libpcap's order: sctp, tcp, udp
	case "tcp":
		return []uint8{6}, nil
	case "udp":
		return []uint8{17}, nil
	case "sctp":
		return []uint8{132}, nil
	}
	return nil, fmt.Errorf("%s port is not supported (tcp, udp or sctp)", proto)
}

// portNumber parses a port number or a service name (from the system's
// services database, as tcpdump).
func portNumber(s, proto string) (uint16, error) {
	if n, err := strconv.ParseUint(s, 10, 16); err == nil {
		return uint16(n), nil
	}
	netw := "tcp"
	if proto == "udp" {
		netw = "udp"
	}
	n, err := net.LookupPort(netw, s)
	if err != nil {
		return 0, fmt.Errorf("port %q is not a number or a known service", s)
	}
	return uint16(n), nil
}
