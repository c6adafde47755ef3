package capture

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// FragmentOptions bounds IP fragment reassembly. Zero values pick defaults.
type FragmentOptions struct {
	// MaxDatagrams is the number of datagrams reassembled concurrently
	// (default 4096); the oldest is dropped to make room.
	MaxDatagrams int
	// MaxBytes bounds the bytes buffered over all datagrams (default 64 MiB).
	MaxBytes int
	// Timeout drops a datagram that saw no fragment for this long, in packet
	// time (default 60 s). Zeek's frag_timeout defaults to never; a bound is
	// needed here to keep memory finite.
	Timeout time.Duration
}

const maxDatagram = 65535

type fragKey struct {
	src, dst netip.Addr
	id       uint32
	v6       bool
}

type fragSpan struct{ start, end int }

type fragDatagram struct {
	key      fragKey
	last     time.Time
	hdr      []byte // IPv4 header or IPv6 unfragmentable part of the first fragment
	next     uint8  // IPv6: next header after the fragment header
	payload  []byte // reassembled payload, len = highest end seen
	spans    []fragSpan
	totalLen int // payload length once the last fragment was seen, else -1
	// older and newer link the datagrams in the order they last received a
	// fragment (least recent first), so that eviction takes O(1).
	older, newer *fragDatagram
}

// fragTable reassembles fragments of both IP versions.
type fragTable struct {
	opts     FragmentOptions
	m        map[fragKey]*fragDatagram
	bytes    int
	lastScan time.Time
	lru      fragDatagram // sentinel of the recency list
	free     []*fragDatagram
	// outs hold the datagrams completed during the current Decode call (a
	// frame can complete more than one, e.g. in an A-MSDU); used counts them.
	outs [][]byte
	used int
	// dropped counts datagrams given up (evicted, timed out, inconsistent).
	dropped uint64
}

func (t *fragTable) init(o FragmentOptions) {
	if o.MaxDatagrams <= 0 {
		o.MaxDatagrams = 4096
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	t.opts = o
	t.lru.older, t.lru.newer = &t.lru, &t.lru
}

func (t *fragTable) unlink(dg *fragDatagram) {
	if dg.older != nil {
		dg.older.newer = dg.newer
		dg.newer.older = dg.older
		dg.older, dg.newer = nil, nil
	}
}

// touch moves dg to the most recent end of the recency list.
func (t *fragTable) touch(dg *fragDatagram) {
	t.unlink(dg)
	dg.older = t.lru.older
	dg.newer = &t.lru
	t.lru.older.newer = dg
	t.lru.older = dg
}

// addIPv4 adds an IPv4 fragment (pkt = the whole fragment, hl its header
// length). When the datagram is complete it returns it as one IPv4 packet.
func (t *fragTable) addIPv4(ts time.Time, pkt []byte, hl, off int, more bool) ([]byte, bool, error) {
	key := fragKey{
		src: netip.AddrFrom4([4]byte(pkt[12:16])),
		dst: netip.AddrFrom4([4]byte(pkt[16:20])),
		id:  uint32(binary.BigEndian.Uint16(pkt[4:6])),
	}
	dg, err := t.add(ts, key, pkt[hl:], off, more)
	if err != nil || dg == nil {
		return nil, false, err
	}
	if off == 0 {
		dg.hdr = append(dg.hdr[:0], pkt[:hl]...)
	}
	if !t.complete(dg) {
		return nil, false, nil
	}
	hdr := dg.hdr
	total := len(hdr) + dg.totalLen
	if total > maxDatagram {
		t.drop(dg)
		return nil, false, errFragTooLarge
	}
	out := append(append(t.outBuf(), hdr...), dg.payload[:dg.totalLen]...)
	binary.BigEndian.PutUint16(out[2:4], uint16(total))
	binary.BigEndian.PutUint16(out[6:8], 0)
	t.keep(out)
	t.finish(dg)
	return out, true, nil
}

// addIPv6 adds an IPv6 fragment (pkt = the whole packet, fragHdr the offset of
// its fragment header). When complete it returns the unfragmentable part
// followed by the payload, the length of that part, and the next header.
func (t *fragTable) addIPv6(ts time.Time, pkt []byte, fragHdr, off int, more bool) ([]byte, int, uint8, bool, error) {
	key := fragKey{
		src: netip.AddrFrom16([16]byte(pkt[8:24])),
		dst: netip.AddrFrom16([16]byte(pkt[24:40])),
		id:  binary.BigEndian.Uint32(pkt[fragHdr+4 : fragHdr+8]),
		v6:  true,
	}
	dg, err := t.add(ts, key, pkt[fragHdr+8:], off, more)
	if err != nil || dg == nil {
		return nil, 0, 0, false, err
	}
	if off == 0 {
		dg.hdr = append(dg.hdr[:0], pkt[:fragHdr]...)
		dg.next = pkt[fragHdr]
	}
	if !t.complete(dg) {
		return nil, 0, 0, false, nil
	}
	unfrag := len(dg.hdr)
	total := unfrag + dg.totalLen
	if total-40 > maxDatagram {
		t.drop(dg)
		return nil, 0, 0, false, errFragTooLarge
	}
	next := dg.next
	out := append(append(t.outBuf(), dg.hdr...), dg.payload[:dg.totalLen]...)
	binary.BigEndian.PutUint16(out[4:6], uint16(total-40))
	t.keep(out)
	t.finish(dg)
	return out, unfrag, next, true, nil
}

// outBuf returns an empty buffer for a completed datagram that stays valid
// until the next Decode call.
func (t *fragTable) outBuf() []byte {
	if t.used < len(t.outs) {
		return t.outs[t.used][:0]
	}
	return nil
}

// keep stores the completed datagram's buffer for reuse.
func (t *fragTable) keep(b []byte) {
	if t.used < len(t.outs) {
		t.outs[t.used] = b
	} else {
		t.outs = append(t.outs, b)
	}
	t.used++
}

// newFrame is called at the start of each Decode call.
func (t *fragTable) newFrame() { t.used = 0 }

func (t *fragTable) add(ts time.Time, key fragKey, data []byte, off int, more bool) (*fragDatagram, error) {
	t.expire(ts)
	end := off + len(data)
	if end > maxDatagram {
		return nil, errFragTooLarge
	}
	if t.m == nil {
		t.m = make(map[fragKey]*fragDatagram)
	}
	dg := t.m[key]
	if dg == nil {
		for len(t.m) >= t.opts.MaxDatagrams || (t.bytes+len(data) > t.opts.MaxBytes && len(t.m) > 0) {
			t.evictOldest()
		}
		if n := len(t.free); n > 0 {
			dg = t.free[n-1]
			t.free = t.free[:n-1]
		} else {
			dg = &fragDatagram{}
		}
		dg.key = key
		dg.payload = dg.payload[:0]
		dg.spans = dg.spans[:0]
		dg.hdr = dg.hdr[:0]
		dg.totalLen = -1
		t.m[key] = dg
	}
	dg.last = ts
	t.touch(dg)
	// Like Zeek's FragReassembler: the last fragment fixes the size; a
	// conflicting last fragment, or data beyond it, extends it.
	if !more && (dg.totalLen < 0 || end > dg.totalLen) {
		dg.totalLen = end
	} else if dg.totalLen >= 0 && end > dg.totalLen {
		dg.totalLen = end
	}
	if end > len(dg.payload) {
		grow := end - len(dg.payload)
		if t.bytes+grow > t.opts.MaxBytes {
			t.drop(dg)
			return nil, errFragTooLarge
		}
		t.bytes += grow
		dg.payload = append(dg.payload, make([]byte, grow)...)
	}
	// Overlaps keep the data that arrived first, as Zeek's reassembler does.
	pos := off
	for _, sp := range dg.spans {
		if sp.end <= pos {
			continue
		}
		if sp.start >= end {
			break
		}
		if sp.start > pos {
			copy(dg.payload[pos:sp.start], data[pos-off:sp.start-off])
		}
		pos = max(pos, sp.end)
		if pos >= end {
			break
		}
	}
	if pos < end {
		copy(dg.payload[pos:end], data[pos-off:])
	}
	dg.spans = addSpan(dg.spans, fragSpan{off, end})
	return dg, nil
}

// addSpan inserts s into the sorted, non-overlapping list, merging the
// spans it touches, in place.
func addSpan(spans []fragSpan, s fragSpan) []fragSpan {
	i := 0
	for i < len(spans) && spans[i].end < s.start {
		i++
	}
	j := i
	for j < len(spans) && spans[j].start <= s.end {
		s.start = min(s.start, spans[j].start)
		s.end = max(s.end, spans[j].end)
		j++
	}
	if i == j {
		spans = append(spans, fragSpan{})
		copy(spans[i+1:], spans[i:])
		spans[i] = s
		return spans
	}
	spans[i] = s
	return append(spans[:i+1], spans[j:]...)
}

func (t *fragTable) complete(dg *fragDatagram) bool {
	return dg.totalLen >= 0 && len(dg.hdr) > 0 && len(dg.spans) == 1 &&
		dg.spans[0].start == 0 && dg.spans[0].end >= dg.totalLen
}

func (t *fragTable) finish(dg *fragDatagram) {
	t.remove(dg)
}

func (t *fragTable) remove(dg *fragDatagram) {
	if t.m[dg.key] == dg {
		delete(t.m, dg.key)
		t.bytes -= len(dg.payload)
	}
	t.unlink(dg)
	if len(t.free) < 64 && cap(dg.payload) <= maxDatagram+64 {
		t.free = append(t.free, dg)
	}
}

func (t *fragTable) drop(dg *fragDatagram) {
	t.dropped++
	t.remove(dg)
}

// evictOldest drops the datagram that went longest without a fragment.
func (t *fragTable) evictOldest() {
	if oldest := t.lru.newer; oldest != &t.lru {
		t.drop(oldest)
	}
}

// expire drops datagrams idle longer than the timeout. It scans at most
// once per half timeout of packet time.
func (t *fragTable) expire(now time.Time) {
	if len(t.m) == 0 {
		t.lastScan = now
		return
	}
	if now.Sub(t.lastScan) < t.opts.Timeout/2 {
		return
	}
	t.lastScan = now
	for _, dg := range t.m {
		if now.Sub(dg.last) > t.opts.Timeout {
			t.drop(dg)
		}
	}
}
