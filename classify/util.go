package classify

import "bytes"

// tri is a three-way answer of a structure check on a prefix.
type tri uint8

const (
	no   tri = iota // does not match
	yes             // matches
	more            // the prefix is too short to tell
)

// nextLine returns the first line of b (without CR LF or LF) and the offset
// just past its end; ok is false when b holds no complete line.
func nextLine(b []byte) (line []byte, next int, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, 0, false
	}
	l := b[:i]
	if len(l) > 0 && l[len(l)-1] == '\r' {
		l = l[:len(l)-1]
	}
	return l, i + 1, true
}

// lineIter walks the complete lines of b.
type lineIter struct {
	b   []byte
	off int // offset of the next line
}

// next returns the next complete line and the offset just past it.
func (it *lineIter) next() (line []byte, end int, ok bool) {
	l, n, ok := nextLine(it.b[it.off:])
	if !ok {
		return nil, 0, false
	}
	it.off += n
	return l, it.off, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

// firstWord returns the leading run of non-space bytes of b (after spaces)
// and the rest.
func firstWord(b []byte) (word, rest []byte) {
	b = skipSpace(b)
	i := 0
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	return b[:i], b[i:]
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold reports whether b begins with the ASCII prefix p, ignoring
// case.
func hasPrefixFold(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lower(b[i]) != lower(p[i]) {
			return false
		}
	}
	return true
}

// equalFold reports whether b equals s, ignoring ASCII case.
func equalFold(b []byte, s string) bool { return len(b) == len(s) && hasPrefixFold(b, s) }

// prefixOfFold reports whether b is a (possibly empty) prefix of s ignoring
// case: more bytes could still complete the match.
func prefixOfFold(b []byte, s string) bool {
	if len(b) > len(s) {
		return false
	}
	return hasPrefixFold([]byte(s[:len(b)]), string(b))
}

// indexOf returns the index of p in b, or -1.
func indexOf(b []byte, p string) int { return bytes.Index(b, []byte(p)) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }
func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

// berTLV parses one BER element at the start of b: its tag byte, the
// content, and the total length of the element. ok is false if the header
// is malformed (multi-byte tags, indefinite or over-long lengths); complete
// is false if the content runs past b (then content holds what is there).
func berTLV(b []byte) (tag byte, content []byte, total int, ok, complete bool) {
	if len(b) < 2 {
		return 0, nil, 0, len(b) == 0 || b[0]&0x1f != 0x1f, false
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, 0, false, false
	}
	l := int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 || n > 4 {
			return 0, nil, 0, false, false
		}
		if len(b) < 2+n {
			return tag, nil, 0, true, false
		}
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(b[2+i])
		}
		if l < 0 || l > 1<<24 {
			return 0, nil, 0, false, false
		}
		hdr += n
	}
	if len(b) < hdr+l {
		return tag, b[hdr:], hdr + l, true, false
	}
	return tag, b[hdr : hdr+l], hdr + l, true, true
}
