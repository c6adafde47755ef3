package capture

import (
	"errors"
	"fmt"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Code generation: a parsed expression becomes a tree of tests (loads
// compared with constants), which is laid out as classic BPF with
// true/false jump targets, as libpcap's gencode does (without its
// optimizer: the programs are longer, the verdicts the same).

// Classic BPF opcodes (linux/filter.h).
const (
	bpfLD   = 0x00
	bpfLDX  = 0x01
	bpfST   = 0x02
	bpfSTX  = 0x03
	bpfALU  = 0x04
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfMISC = 0x07

	bpfW = 0x00
	bpfH = 0x08
	bpfB = 0x10

	bpfIMM = 0x00
	bpfABS = 0x20
	bpfIND = 0x40
	bpfMEM = 0x60
	bpfLEN = 0x80
	bpfMSH = 0xa0

	bpfADD = 0x00
	bpfSUB = 0x10
	bpfMUL = 0x20
	bpfDIV = 0x30
	bpfOR  = 0x40
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfNEG = 0x80
	bpfMOD = 0x90
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfK = 0x00
	bpfX = 0x08
	bpfA = 0x10

	bpfTAX = 0x00
	bpfTXA = 0x80

	// Linux ancillary data offsets (SKF_AD_OFF + SKF_AD_*).
	skfAdOff            = 0xfffff000
	skfAdVLANTag        = 44
	skfAdVLANTagPresent = 48

	// filterAccept is what a matching program returns (libpcap's snap
	// length): the kernel keeps the whole frame.
	filterAccept = 262144
	// maxFilterInsns is the kernel's BPF_MAXINSNS.
	maxFilterInsns = 4096
)

// A test is one node of the generated code's tree.
type test interface{ isTest() }

type (
	testAnd   struct{ l, r test }
	testOr    struct{ l, r test }
	testNot   struct{ x test }
	testConst bool
	// testCmp loads size bytes (1, 2, 4) at off, optionally relative to
	// the IPv4 header length (ipRel: X = 4*(byte at xOff & 0xf)), or an
	// ancillary word (anc), or the packet length (length), masks it
	// (mask != 0), and compares it with val by jop (bpfJEQ, bpfJGT,
	// bpfJGE, bpfJSET).
	testCmp struct {
		size   uint8
		off    uint32
		ipRel  bool
		xOff   uint32
		anc    uint32
		length bool
		mask   uint32
		jop    uint8
		val    uint32
		// varOff: off (and xOff) are relative to the variable link-layer
		// offset in scratch memory M[0] (after a first vlan primitive).
		varOff bool
	}
	// testVLAN is the first vlan primitive of an Ethernet filter, as
	// libpcap generates it for Linux (BPF_SPECIAL_VLAN_HANDLING): the tag
	// is in the ancillary data (the kernel took it out of the frame, and
	// the link-layer offset stays 0) or else in the frame (the offset
	// becomes 4); M[0] keeps the offset for the primitives after it.
	testVLAN struct {
		id    uint32
		hasID bool
	}
)

func (testAnd) isTest()   {}
func (testOr) isTest()    {}
func (testNot) isTest()   {}
func (testConst) isTest() {}
func (testCmp) isTest()   {}
func (testVLAN) isTest()  {}

func and(ts ...test) test {
	var r test
	for _, t := range ts {
		if r == nil {
			r = t
		} else {
			r = testAnd{r, t}
		}
	}
	return r
}

func or(ts ...test) test {
	var r test
	for _, t := range ts {
		if r == nil {
			r = t
		} else {
			r = testOr{r, t}
		}
	}
	return r
}

// linkLayout gives the offsets of a link type: the EtherType-like field
// (lt, -1 when there is none: raw IP) and the network header (nh).
type linkLayout struct {
	lt, nh   int
	ethernet bool
	// rawVersion restricts a raw link type to one IP version (4 or 6).
	rawVersion int
}

func layoutOf(lt layers.LinkType) (linkLayout, error) {
	switch lt {
	case linkEthernet:
		return linkLayout{lt: 12, nh: 14, ethernet: true}, nil
	case linkLinuxSLL:
		return linkLayout{lt: 14, nh: 16}, nil
	case linkLinuxSLL2:
		return linkLayout{lt: 0, nh: 20}, nil
	case linkRaw, linkRawA, linkRawB:
		return linkLayout{lt: -1, nh: 0}, nil
	case linkIPv4:
		return linkLayout{lt: -1, nh: 0, rawVersion: 4}, nil
	case linkIPv6:
		return linkLayout{lt: -1, nh: 0, rawVersion: 6}, nil
	}
	return linkLayout{}, fmt.Errorf("filters on link type %d are not supported", lt)
}

// filterGen expands primitives into tests for one link type. The offsets
// move by 4 after each in-band vlan primitive, for every primitive written
// after it (libpcap's rule).
type filterGen struct {
	lay linkLayout
	// vlans counts the vlan primitives seen; the first one is the tag
	// that Linux moves out of the frame (ancillary data), the others are
	// in-band.
	vlans int
	// varOff: the loads after a first vlan primitive are relative to the
	// link-layer offset it left in M[0].
	varOff bool
}

func (g *filterGen) expand(e filterExpr) (test, error) {
	switch e := e.(type) {
	case exprAnd:
		l, r, err := g.expandPair(e.l, e.r)
		if err != nil {
			return nil, err
		}
		return testAnd{l, r}, nil
	case exprOr:
		l, r, err := g.expandPair(e.l, e.r)
		if err != nil {
			return nil, err
		}
		return testOr{l, r}, nil
	case exprNot:
		x, err := g.expand(e.x)
		if err != nil {
			return nil, err
		}
		return testNot{x}, nil
	case *exprPrim:
		return g.primitive(e)
	}
	return nil, errors.New("unknown expression")
}

// expandPair expands the operands of a binary operator, l first: a vlan
// primitive in l moves the offsets of the primitives in r.
func (g *filterGen) expandPair(l, r filterExpr) (test, test, error) {
	lt, err := g.expand(l)
	if err != nil {
		return nil, nil, err
	}
	rt, err := g.expand(r)
	if err != nil {
		return nil, nil, err
	}
	return lt, rt, nil
}

func ld(size uint8, off int) testCmp { return testCmp{size: size, off: uint32(off), jop: bpfJEQ} }

// rel makes a frame load relative to the variable link-layer offset once
// a first vlan primitive set one.
func (g *filterGen) rel(c testCmp) testCmp {
	c.varOff = g.varOff
	return c
}

// at is a load of size bytes at off of the frame, relative to the variable
// offset when there is one.
func (g *filterGen) at(size uint8, off int) testCmp { return g.rel(ld(size, off)) }

func eq(c testCmp, v uint32) testCmp { c.val = v; return c }

// linkType tests the EtherType (or, for raw IP, the version).
func (g *filterGen) linkType(et uint16) test {
	if g.lay.lt < 0 {
		v := 0
		switch et {
		case 0x0800:
			v = 4
		case 0x86dd:
			v = 6
		default:
			return testConst(false)
		}
		if g.lay.rawVersion != 0 {
			return testConst(g.lay.rawVersion == v)
		}
		c := g.at(1, g.lay.nh)
		c.mask = 0xf0
		return eq(c, uint32(v)<<4)
	}
	return eq(g.at(2, g.lay.lt), uint32(et))
}

func (g *filterGen) ip4() test { return g.linkType(0x0800) }
func (g *filterGen) ip6() test { return g.linkType(0x86dd) }

// ip4Proto is "ip proto p".
func (g *filterGen) ip4Proto(p uint8) test {
	return and(g.ip4(), eq(g.at(1, g.lay.nh+9), uint32(p)))
}

// ip6Proto is "ip6 proto p": the next header, or the one after a fragment
// header.
func (g *filterGen) ip6Proto(p uint8) test {
	nh := g.lay.nh
	return and(g.ip6(), or(eq(g.at(1, nh+6), uint32(p)),
		and(eq(g.at(1, nh+6), 44), eq(g.at(1, nh+40), uint32(p)))))
}

// dirTest combines the source and destination tests of a direction.
func dirTest(dir string, src, dst test) test {
	switch dir {
	case "src":
		return src
	case "dst":
		return dst
	case "src and dst":
		return and(src, dst)
	}
	return or(src, dst)
}

// addrTest compares the address a (4 or 16 bytes) at off, under the prefix
// length bits.
func (g *filterGen) addrTest(off int, a []byte, bits int) test {
	var ts []test
	for i := 0; i < len(a); i += 4 {
		m := uint32(0xffffffff)
		switch {
		case bits <= 8*i:
			m = 0
		case bits < 8*(i+4):
			m = ^uint32(0) << (32 - (bits - 8*i))
		}
		if m == 0 {
			continue
		}
		w := uint32(a[i])<<24 | uint32(a[i+1])<<16 | uint32(a[i+2])<<8 | uint32(a[i+3])
		c := g.at(4, off+i)
		if m != 0xffffffff {
			c.mask = m
		}
		ts = append(ts, eq(c, w&m))
	}
	if len(ts) == 0 {
		return testConst(true)
	}
	return and(ts...)
}

func (g *filterGen) primitive(p *exprPrim) (test, error) {
	nh := g.lay.nh
	switch p.kind {
	case "":
		return g.protoAlone(p.proto)
	case "proto":
		switch p.proto {
		case "ether":
			if g.lay.lt < 0 {
				return nil, errors.New("ether proto on a link type without one")
			}
			return g.linkType(uint16(p.num)), nil
		case "ip":
			return g.ip4Proto(uint8(p.num)), nil
		case "ip6":
			return g.ip6Proto(uint8(p.num)), nil
		}
		return or(g.ip4Proto(uint8(p.num)), g.ip6Proto(uint8(p.num))), nil
	case "vlan":
		return g.vlan(p)
	case "less", "greater":
		c := testCmp{length: true, jop: bpfJGT, val: p.num}
		if p.kind == "greater" {
			c.jop = bpfJGE
			return c, nil
		}
		return testNot{c}, nil
	case "host", "net":
		if p.proto == "ether" {
			return g.etherHost(p)
		}
		a, bits := p.addr, p.addr.BitLen()
		if p.kind == "net" {
			a, bits = p.prefix.Addr(), p.prefix.Bits()
		}
		if a.Is6() {
			b := a.As16()
			return and(g.ip6(), dirTest(p.dir, g.addrTest(nh+8, b[:], bits), g.addrTest(nh+24, b[:], bits))), nil
		}
		b := a.As4()
		ipPart := and(g.ip4(), dirTest(p.dir, g.addrTest(nh+12, b[:], bits), g.addrTest(nh+16, b[:], bits)))
		arpPart := func(et uint16) test {
			return and(g.linkType(et), dirTest(p.dir, g.addrTest(nh+14, b[:], bits), g.addrTest(nh+24, b[:], bits)))
		}
		switch p.proto {
		case "ip":
			return ipPart, nil
		case "arp":
			return arpPart(0x0806), nil
		case "rarp":
			return arpPart(0x8035), nil
		}
		if g.lay.lt < 0 {
			return ipPart, nil
		}
		return or(ipPart, or(arpPart(0x0806), arpPart(0x8035))), nil
	case "port", "portrange":
		v4 := and(g.ip4(), or(g.protoEq(nh+9, p.protoNum)...),
			testNot{g.rel(testCmp{size: 2, off: uint32(nh + 6), jop: bpfJSET, val: 0x1fff})},
			g.portCmp(p.dir, p.port, true))
		v6 := and(g.ip6(), or(g.protoEq(nh+6, p.protoNum)...), g.portCmp(p.dir, p.port, false))
		return or(v6, v4), nil
	}
	return nil, fmt.Errorf("unsupported primitive %q", p.kind)
}

func (g *filterGen) protoEq(off int, protos []uint8) []test {
	ts := make([]test, len(protos))
	for i, pr := range protos {
		ts[i] = eq(g.at(1, off), uint32(pr))
	}
	return ts
}

// portCmp tests the source and/or destination port against a port or a
// range; v4 ports follow the IPv4 header (variable length), v6 ports the
// fixed IPv6 header.
func (g *filterGen) portCmp(dir string, pr [2]uint16, v4 bool) test {
	one := func(at int) test {
		var c testCmp
		if v4 {
			c = g.rel(testCmp{size: 2, off: uint32(g.lay.nh + at), ipRel: true, xOff: uint32(g.lay.nh)})
		} else {
			c = g.at(2, g.lay.nh+40+at)
		}
		if pr[0] == pr[1] {
			c.jop, c.val = bpfJEQ, uint32(pr[0])
			return c
		}
		lo, hi := c, c
		lo.jop, lo.val = bpfJGE, uint32(pr[0])
		hi.jop, hi.val = bpfJGT, uint32(pr[1])
		return and(lo, testNot{hi})
	}
	return dirTest(dir, one(0), one(2))
}

// protoAlone is a protocol keyword on its own ("tcp", "ip6", "arp").
func (g *filterGen) protoAlone(proto string) (test, error) {
	switch proto {
	case "ip":
		return g.ip4(), nil
	case "ip6":
		return g.ip6(), nil
	case "arp":
		return g.linkType(0x0806), nil
	case "rarp":
		return g.linkType(0x8035), nil
	case "icmp":
		return g.ip4Proto(1), nil
	case "igmp":
		return g.ip4Proto(2), nil
	case "icmp6":
		return g.ip6Proto(58), nil
	case "tcp", "udp", "sctp":
		n := protoNumbers[proto]
		return or(g.ip4Proto(n), g.ip6Proto(n)), nil
	}
	return nil, fmt.Errorf("%q needs a qualifier or a value", proto)
}

func (g *filterGen) etherHost(p *exprPrim) (test, error) {
	if !g.lay.ethernet {
		return nil, errors.New("ether host needs an Ethernet link type")
	}
	m := p.mac[:]
	mac := func(off int) test {
		return and(eq(ld(2, off), uint32(m[0])<<8|uint32(m[1])),
			eq(ld(4, off+2), uint32(m[2])<<24|uint32(m[3])<<16|uint32(m[4])<<8|uint32(m[5])))
	}
	return dirTest(p.dir, mac(6), mac(0)), nil
}

// vlan is the vlan primitive. On Linux the kernel moves the outermost
// 802.1Q/802.1ad tag of a received frame into ancillary data before any
// packet socket sees it; libpcap's Linux code generation (which tcpdump -i
// and Zeek use) tests that data first and the frame second, and keeps the
// link-layer offset in scratch memory (testVLAN). Later vlan primitives
// test the next tag in the frame and move the offsets of what follows by
// 4.
func (g *filterGen) vlan(p *exprPrim) (test, error) {
	if !g.lay.ethernet {
		return nil, errors.New("vlan needs an Ethernet link type")
	}
	g.vlans++
	if g.vlans == 1 {
		g.varOff = true
		return testVLAN{id: p.num, hasID: p.hasNum}, nil
	}
	lt := g.lay.lt
	t := or(eq(g.at(2, lt), 0x8100), eq(g.at(2, lt), 0x88a8), eq(g.at(2, lt), 0x9100))
	if p.hasNum {
		c := g.at(2, lt+2)
		c.mask = 0xfff
		t = and(t, eq(c, p.num))
	}
	g.lay.lt += 4
	g.lay.nh += 4
	return t, nil
}

// Layout: the tree of tests becomes instructions with symbolic jump
// targets, resolved once the code is placed.

type label int

type genInsn struct {
	op     uint16
	k      uint32
	jt, jf label // conditional jumps; ja uses jt
	jump   bool  // a jump whose targets are labels
}

type assembler struct {
	ins    []genInsn
	labels []int // label → instruction index
	// usesM0: the program keeps a link-layer offset in M[0], which is
	// set to 0 first (the kernel requires every path to store scratch
	// memory before loading it).
	usesM0 bool
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *assembler) place(l label) { a.labels[l] = len(a.ins) }

func (a *assembler) emit(op uint16, k uint32) { a.ins = append(a.ins, genInsn{op: op, k: k}) }

// gen lays out t so that control reaches yes when it holds, no otherwise.
func (a *assembler) gen(t test, yes, no label) {
	switch t := t.(type) {
	case testAnd:
		mid := a.newLabel()
		a.gen(t.l, mid, no)
		a.place(mid)
		a.gen(t.r, yes, no)
	case testOr:
		mid := a.newLabel()
		a.gen(t.l, yes, mid)
		a.place(mid)
		a.gen(t.r, yes, no)
	case testNot:
		a.gen(t.x, no, yes)
	case testConst:
		target := no
		if t {
			target = yes
		}
		a.ins = append(a.ins, genInsn{op: bpfJMP | bpfJA, jt: target, jump: true})
	case testVLAN:
		a.usesM0 = true
		meta, inband, tpid := a.newLabel(), a.newLabel(), a.newLabel()
		a.emit(bpfLD|bpfB|bpfABS, skfAdOff+skfAdVLANTagPresent)
		a.jump(bpfJEQ, 1, meta, inband)
		a.place(meta)
		if t.hasID {
			a.emit(bpfLD|bpfW|bpfABS, skfAdOff+skfAdVLANTag)
			a.emit(bpfALU|bpfAND|bpfK, 0xfff)
			a.jump(bpfJEQ, t.id, yes, no)
		} else {
			a.ins = append(a.ins, genInsn{op: bpfJMP | bpfJA, jt: yes, jump: true})
		}
		a.place(inband)
		a.emit(bpfLD|bpfIMM, 4)
		a.emit(bpfST, 0)
		a.emit(bpfLD|bpfH|bpfABS, 12)
		l2, l3 := a.newLabel(), a.newLabel()
		a.jump(bpfJEQ, 0x8100, tpid, l2)
		a.place(l2)
		a.jump(bpfJEQ, 0x88a8, tpid, l3)
		a.place(l3)
		a.jump(bpfJEQ, 0x9100, tpid, no)
		a.place(tpid)
		if t.hasID {
			a.emit(bpfLD|bpfH|bpfABS, 14)
			a.emit(bpfALU|bpfAND|bpfK, 0xfff)
			a.jump(bpfJEQ, t.id, yes, no)
		} else {
			a.ins = append(a.ins, genInsn{op: bpfJMP | bpfJA, jt: yes, jump: true})
		}
	case testCmp:
		sz := map[uint8]uint16{1: bpfB, 2: bpfH, 4: bpfW}[t.size]
		switch {
		case t.length:
			a.emit(bpfLD|bpfW|bpfLEN, 0)
		case t.anc != 0:
			a.emit(bpfLD|bpfW|bpfABS, skfAdOff+t.anc)
		case t.ipRel && t.varOff:
			// X = M[0] + 4*(IHL at M[0]+xOff)
			a.emit(bpfLDX|bpfMEM, 0)
			a.emit(bpfLD|bpfB|bpfIND, t.xOff)
			a.emit(bpfALU|bpfAND|bpfK, 0xf)
			a.emit(bpfALU|bpfLSH|bpfK, 2)
			a.emit(bpfALU|bpfADD|bpfX, 0)
			a.emit(bpfMISC|bpfTAX, 0)
			a.emit(bpfLD|sz|bpfIND, t.off)
		case t.ipRel:
			a.emit(bpfLDX|bpfB|bpfMSH, t.xOff)
			a.emit(bpfLD|sz|bpfIND, t.off)
		case t.varOff:
			a.emit(bpfLDX|bpfMEM, 0)
			a.emit(bpfLD|sz|bpfIND, t.off)
		default:
			a.emit(bpfLD|sz|bpfABS, t.off)
		}
		if t.mask != 0 {
			a.emit(bpfALU|bpfAND|bpfK, t.mask)
		}
		a.jump(t.jop, t.val, yes, no)
	}
}

// jump emits a conditional jump on A compared with k.
func (a *assembler) jump(jop uint8, k uint32, yes, no label) {
	a.ins = append(a.ins, genInsn{op: bpfJMP | uint16(jop) | bpfK, k: k, jt: yes, jf: no, jump: true})
}

// assemble lays out t and resolves the jumps; a conditional jump too far
// for its 8-bit offset goes through an unconditional one.
func assemble(t test) ([]bpf.RawInstruction, error) {
	a := &assembler{}
	yes, no := a.newLabel(), a.newLabel()
	a.gen(t, yes, no)
	a.place(yes)
	a.emit(bpfRET|bpfK, filterAccept)
	a.place(no)
	a.emit(bpfRET|bpfK, 0)
	if a.usesM0 {
		a.ins = append([]genInsn{{op: bpfLD | bpfIMM}, {op: bpfST}}, a.ins...)
		for l := range a.labels {
			a.labels[l] += 2
		}
	}
	for len(a.ins) <= maxFilterInsns {
		out, far := a.resolve()
		if far < 0 {
			if len(out) > maxFilterInsns {
				return nil, fmt.Errorf("the program has %d instructions, more than the kernel's %d", len(out), maxFilterInsns)
			}
			return out, nil
		}
		a.detour(far)
	}
	return nil, fmt.Errorf("the program is longer than the kernel's %d instructions", maxFilterInsns)
}

// resolve turns labels into offsets; it returns the index of the first
// conditional jump whose target is out of reach, or -1.
func (a *assembler) resolve() ([]bpf.RawInstruction, int) {
	out := make([]bpf.RawInstruction, len(a.ins))
	for i, in := range a.ins {
		r := bpf.RawInstruction{Op: in.op, K: in.k}
		if in.jump {
			t := a.labels[in.jt] - i - 1
			if in.op == bpfJMP|bpfJA {
				r.K = uint32(t)
			} else {
				f := a.labels[in.jf] - i - 1
				if t > 255 || f > 255 {
					return nil, i
				}
				r.Jt, r.Jf = uint8(t), uint8(f)
			}
		}
		out[i] = r
	}
	return out, -1
}

// detour makes the conditional jump at i reach its far target(s) through
// unconditional jumps placed right after it.
func (a *assembler) detour(i int) {
	var ja []genInsn
	var near []label
	for _, target := range []*label{&a.ins[i].jt, &a.ins[i].jf} {
		// 2 instructions may be inserted: keep the other target in reach.
		if a.labels[*target]-i-1 > 255-2 {
			ja = append(ja, genInsn{op: bpfJMP | bpfJA, jt: *target, jump: true})
			l := a.newLabel() // unplaced (-1) until the shift below
			near = append(near, l)
			*target = l
		}
	}
	for l, at := range a.labels {
		if at > i {
			a.labels[l] = at + len(ja)
		}
	}
	for k, l := range near {
		a.labels[l] = i + 1 + k
	}
	a.ins = append(a.ins[:i+1], append(ja, a.ins[i+1:]...)...)
}
