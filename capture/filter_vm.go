package capture

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// A classic BPF interpreter with the Linux semantics a packet socket's
// filter has: loads outside the packet reject it, division by zero
// rejects it, and the ancillary loads of the VLAN tag that the kernel took
// out of the frame work (golang.org/x/net/bpf's VM has no ancillary data
// but the length). It runs the same program the kernel runs, on the frame
// as the kernel sees it (filterPacket), and allocates nothing.

// filterProgram is a validated program.
type filterProgram struct {
	ins []bpf.RawInstruction
}

// newFilterProgram checks a program as the kernel's sk_chk_filter does:
// not empty, at most 4096 instructions, known opcodes, jumps inside the
// program, scratch memory indices below 16, and a return at the end.
func newFilterProgram(ins []bpf.RawInstruction) (*filterProgram, error) {
	if len(ins) == 0 || len(ins) > maxFilterInsns {
		return nil, fmt.Errorf("program of %d instructions", len(ins))
	}
	for i, in := range ins {
		cls := in.Op & 0x07
		rest := len(ins) - i - 1
		switch cls {
		case bpfLD, bpfLDX:
			mode := in.Op & 0xe0
			if mode == bpfMEM && in.K >= 16 {
				return nil, fmt.Errorf("instruction %d: scratch index %d", i, in.K)
			}
			if cls == bpfLD && mode == bpfMSH || cls == bpfLDX && (mode == bpfABS || mode == bpfIND) {
				return nil, fmt.Errorf("instruction %d: bad load %#x", i, in.Op)
			}
		case bpfST, bpfSTX:
			if in.K >= 16 {
				return nil, fmt.Errorf("instruction %d: scratch index %d", i, in.K)
			}
		case bpfALU:
			if op := in.Op & 0xf0; op > bpfXOR {
				return nil, fmt.Errorf("instruction %d: unknown ALU operation %#x", i, in.Op)
			}
		case bpfJMP:
			if in.Op&0xf0 == bpfJA {
				if uint64(in.K) >= uint64(rest) {
					return nil, fmt.Errorf("instruction %d: jump out of the program", i)
				}
			} else if int(in.Jt) >= rest || int(in.Jf) >= rest || in.Op&0xf0 > bpfJSET {
				return nil, fmt.Errorf("instruction %d: bad conditional jump", i)
			}
		case bpfRET, bpfMISC:
		}
	}
	if last := ins[len(ins)-1]; last.Op&0x07 != bpfRET {
		return nil, fmt.Errorf("the program does not end with a return")
	}
	return &filterProgram{ins: ins}, nil
}

// filterPacket is a frame as a Linux packet socket's filter sees it: the
// data, minus the 4-byte tag at offset 12 when stripped is set, with the
// tag in the ancillary data.
type filterPacket struct {
	data        []byte
	stripped    bool
	vlanPresent bool
	vlanTCI     uint16
	length      uint32 // the frame's length as the kernel counts it
}

func (p *filterPacket) size() int {
	if p.stripped {
		return len(p.data) - 4
	}
	return len(p.data)
}

// load returns n bytes (1, 2, 4) at off, big-endian, or false when they
// are outside the packet.
func (p *filterPacket) load(off uint32, n uint32) (uint32, bool) {
	end := uint64(off) + uint64(n)
	if end > uint64(p.size()) {
		return 0, false
	}
	d := p.data
	if p.stripped {
		switch {
		case off >= 12:
			off += 4
		case end > 12:
			// Straddles the removed tag: gather byte by byte.
			var v uint32
			for i := uint32(0); i < n; i++ {
				o := off + i
				if o >= 12 {
					o += 4
				}
				v = v<<8 | uint32(d[o])
			}
			return v, true
		}
	}
	switch n {
	case 1:
		return uint32(d[off]), true
	case 2:
		return uint32(binary.BigEndian.Uint16(d[off:])), true
	}
	return binary.BigEndian.Uint32(d[off:]), true
}

// run returns the program's verdict: the number of bytes to keep, 0 to
// drop the frame.
func (prog *filterProgram) run(p *filterPacket) uint32 {
	var a, x uint32
	var mem [16]uint32
	ins := prog.ins
	for pc := 0; pc < len(ins); pc++ {
		in := &ins[pc]
		op := in.Op
		switch op & 0x07 {
		case bpfLD, bpfLDX:
			var v uint32
			size := uint32(4)
			switch op & 0x18 {
			case bpfH:
				size = 2
			case bpfB:
				size = 1
			}
			switch op & 0xe0 {
			case bpfIMM:
				v = in.K
			case bpfABS, bpfIND:
				off := in.K
				if op&0xe0 == bpfIND {
					off += x
					if off < x {
						return 0
					}
				} else if off >= skfAdOff {
					switch off - skfAdOff {
					case skfAdVLANTag:
						v = uint32(p.vlanTCI)
					case skfAdVLANTagPresent:
						if p.vlanPresent {
							v = 1
						}
					default:
						return 0 // not an ancillary field this program may use
					}
					break
				}
				var ok bool
				if v, ok = p.load(off, size); !ok {
					return 0
				}
			case bpfMEM:
				v = mem[in.K&15]
			case bpfLEN:
				v = p.length
			case bpfMSH:
				b, ok := p.load(in.K, 1)
				if !ok {
					return 0
				}
				v = (b & 0xf) << 2
			}
			if op&0x07 == bpfLD {
				a = v
			} else {
				x = v
			}
		case bpfST:
			mem[in.K&15] = a
		case bpfSTX:
			mem[in.K&15] = x
		case bpfALU:
			operand := in.K
			if op&bpfX != 0 {
				operand = x
			}
			switch op & 0xf0 {
			case bpfADD:
				a += operand
			case bpfSUB:
				a -= operand
			case bpfMUL:
				a *= operand
			case bpfDIV:
				if operand == 0 {
					return 0
				}
				a /= operand
			case bpfMOD:
				if operand == 0 {
					return 0
				}
				a %= operand
			case bpfOR:
				a |= operand
			case bpfAND:
				a &= operand
			case bpfXOR:
				a ^= operand
			case bpfLSH:
				a <<= operand & 31
			case bpfRSH:
				a >>= operand & 31
			case bpfNEG:
				a = -a
			}
		case bpfJMP:
			if op&0xf0 == bpfJA {
				pc += int(in.K)
				continue
			}
			operand := in.K
			if op&bpfX != 0 {
				operand = x
			}
			var cond bool
			switch op & 0xf0 {
			case bpfJEQ:
				cond = a == operand
			case bpfJGT:
				cond = a > operand
			case bpfJGE:
				cond = a >= operand
			case bpfJSET:
				cond = a&operand != 0
			}
			if cond {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case bpfRET:
			switch op & 0x18 {
			case bpfK:
				return in.K
			case bpfA:
				return a
			}
			return 0
		case bpfMISC:
			if op&0xf8 == bpfTXA {
				a = x
			} else {
				x = a
			}
		}
	}
	return 0
}
