package aggregate

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/netbased/netbased/flow"
)

// evFlags describe a classified connection.
type evFlags uint16

const (
	evApplyOrig evFlags = 1 << iota // update the originator's record (in this shard)
	evApplyResp                     // update the responder's record (in this shard)
	evOutbound
	evInternal
	evInbound
	evSF
	evREJ
	evService // any service at all
	evSelf    // originator == responder
	evPCR     // the PCR is defined
)

// event is a connection reduced to what the update rules read, classified
// once by the feeding goroutine.
type event struct {
	orig, resp netip.Addr
	origBytes  uint64
	respBytes  uint64
	origPkts   uint64
	respPkts   uint64
	pcr        float64
	port       PortKey
	flags      evFlags
	services   uint8 // bit s set: service s (DNS..RDP) is in the service set
}

// serviceMask returns the bits of the counted services in names, matched
// case-insensitively, and whether any service name is present at all.
func serviceMask(names []string) (mask uint8, any bool) {
	for _, n := range names {
		if n == "" {
			continue
		}
		any = true
		for s := Service(0); s < NumServices; s++ {
			if strings.EqualFold(n, serviceNames[s]) {
				mask |= 1 << s
			}
		}
	}
	return mask, any
}

// classify turns a connection into an event; ok is false when neither
// endpoint is monitored (nothing to update).
func (m *monitor) classify(c *flow.Conn) (ev event, ok bool) {
	o, r := c.Orig.Unmap().WithZone(""), c.Resp.Unmap().WithZone("")
	lo, lr := m.isLocal(o), m.isLocal(r)
	monO, monR := m.isMonitored(o, lo), m.isMonitored(r, lr)
	if !monO && !monR {
		return ev, false
	}
	ev = event{
		orig: o, resp: r,
		origBytes: c.OrigBytes, respBytes: c.RespBytes,
		origPkts: c.OrigPkts, respPkts: c.RespPkts,
		port: MakePortKey(c.IPProto, c.RespPort),
	}
	if monO {
		ev.flags |= evApplyOrig
	}
	if monR {
		ev.flags |= evApplyResp
	}
	switch {
	case lo && !lr:
		ev.flags |= evOutbound
	case lo && lr:
		ev.flags |= evInternal
	case !lo && lr:
		ev.flags |= evInbound
	}
	switch c.ConnState {
	case "SF":
		ev.flags |= evSF
	case "REJ":
		ev.flags |= evREJ
	}
	mask, anyService := serviceMask(c.Services)
	ev.services = mask
	if anyService {
		ev.flags |= evService
	}
	if o == r {
		ev.flags |= evSelf
	}
	if c.OrigBytes != 0 || c.RespBytes != 0 {
		ob, rb := float64(c.OrigBytes), float64(c.RespBytes)
		ev.pcr = (ob - rb) / (ob + rb)
		ev.flags |= evPCR
	}
	return ev, true
}

// u32set is an exact set of uint32: one member inline, a roaring bitmap
// from the second distinct member on (most sets of a window are tiny).
type u32set struct {
	bm  *roaring.Bitmap
	one uint32
	has bool
}

func (s *u32set) add(x uint32) {
	switch {
	case s.bm != nil:
		s.bm.Add(x)
	case !s.has:
		s.one, s.has = x, true
	case s.one != x:
		s.bm = roaring.New()
		s.bm.Add(s.one)
		s.bm.Add(x)
	}
}

func (s *u32set) len() uint64 {
	if s.bm != nil {
		return s.bm.GetCardinality()
	}
	if s.has {
		return 1
	}
	return 0
}

// iterate calls fn for every member, in increasing order.
func (s *u32set) iterate(fn func(x uint32) bool) {
	if s.bm != nil {
		s.bm.Iterate(fn)
	} else if s.has {
		fn(s.one)
	}
}

// addrSet is an exact set of addresses: IPv4 by value, IPv6 by the id of
// the shard's interning table.
type addrSet struct{ v4, v6 u32set }

func (s *addrSet) len() uint64 { return s.v4.len() + s.v6.len() }

// hostState is the running state of one monitored address in a window.
type hostState struct {
	addr netip.Addr
	Counts
	extPorts, intPorts                         u32set
	extHosts, extClients, intHosts, intClients addrSet
}

// shard owns the states of the addresses hashed to it. It is used by one
// goroutine at a time.
type shard struct {
	idx4 map[uint32]int32
	idx6 map[netip.Addr]int32
	// The states live in fixed-size chunks (stable addresses, no copying
	// on growth, little slack); chunks are kept for the next window.
	chunks [][]hostState
	n      int32   // states in use
	order  []int32 // states by address, built at flush
	// monitored mirrors n for readers on other goroutines (metrics).
	monitored atomic.Int64
	// IPv6 peers get dense 32-bit ids for the bitmaps (exact, no hash).
	v6ids   map[netip.Addr]uint32
	v6addrs []netip.Addr
}

func newShard() *shard {
	return &shard{
		idx4:  make(map[uint32]int32),
		idx6:  make(map[netip.Addr]int32),
		v6ids: make(map[netip.Addr]uint32),
	}
}

func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
)

// at returns state i.
func (s *shard) at(i int32) *hostState { return &s.chunks[i>>chunkBits][i&(chunkSize-1)] }

// newState appends a zero state for a and returns its index.
func (s *shard) newState(a netip.Addr) int32 {
	i := s.n
	if int(i>>chunkBits) == len(s.chunks) {
		s.chunks = append(s.chunks, make([]hostState, chunkSize))
	}
	s.n++
	s.monitored.Store(int64(s.n))
	s.at(i).addr = a
	return i
}

// state returns the state of a, creating it.
func (s *shard) state(a netip.Addr) *hostState {
	var i int32
	var ok bool
	if a.Is4() {
		k := addrU32(a)
		if i, ok = s.idx4[k]; !ok {
			i = s.newState(a)
			s.idx4[k] = i
		}
	} else {
		if i, ok = s.idx6[a]; !ok {
			i = s.newState(a)
			s.idx6[a] = i
		}
	}
	return s.at(i)
}

func (s *shard) addAddr(set *addrSet, a netip.Addr) {
	if a.Is4() {
		set.v4.add(addrU32(a))
		return
	}
	id, ok := s.v6ids[a]
	if !ok {
		id = uint32(len(s.v6addrs))
		s.v6ids[a] = id
		s.v6addrs = append(s.v6addrs, a)
	}
	set.v6.add(id)
}

// apply runs the update rules of spec/interval.md §2 for the endpoints the
// event marks for this shard.
func (s *shard) apply(ev *event) {
	if ev.flags&evApplyOrig != 0 {
		h := s.state(ev.orig)
		h.ConnectionsCount++
		switch {
		case ev.flags&evOutbound != 0:
			h.extPorts.add(uint32(ev.port))
			s.addAddr(&h.extHosts, ev.resp)
			h.OriginatingConnectionCount++
			h.ExternalOriginatingBytesSent += ev.origBytes
			h.ExternalOriginatingBytesReceived += ev.respBytes
			h.ExternalOriginatingPacketsSent += ev.origPkts
			h.ExternalOriginatingPacketsReceived += ev.respPkts
			if ev.flags&evSF != 0 {
				h.SuccessfulOriginatingConnectionCount++
			}
			if ev.flags&evREJ != 0 {
				h.RejectedOriginatingConnectionCount++
			}
			if ev.flags&evService != 0 {
				h.OriginatingToService++
			}
			if ev.port.Port() >= 1024 {
				h.OriginatingToHighportCount++
			} else {
				h.OriginatingToLowportCount++
			}
		case ev.flags&evInternal != 0:
			h.intPorts.add(uint32(ev.port))
			s.addAddr(&h.intHosts, ev.resp)
			h.InternalOriginatedConnections++
			if ev.flags&evService != 0 {
				h.InternalToServiceCount++
			}
			h.InternalOriginatingBytesSent += ev.origBytes
			h.InternalOriginatingBytesReceived += ev.respBytes
			h.InternalOriginatingPacketsSent += ev.origPkts
			h.InternalOriginatingPacketsReceived += ev.respPkts
			if ev.flags&evREJ != 0 {
				h.InternalOriginatedRejectedConnections++
			}
			if ev.port.Port() >= 1024 {
				h.InternalToHighportCount++
			} else {
				h.InternalToLowportCount++
			}
		}
		for sv := Service(0); sv < NumServices; sv++ {
			if ev.services&(1<<sv) != 0 {
				h.Services[sv].ClientConnections++
				if ev.flags&evPCR != 0 {
					h.Services[sv].PCR.Add(ev.pcr)
				}
			}
		}
	}
	if ev.flags&evApplyResp != 0 {
		h := s.state(ev.resp)
		if ev.flags&(evSelf|evApplyOrig) != evSelf|evApplyOrig {
			h.ConnectionsCount++ // a self-connection counts once
		}
		switch {
		case ev.flags&evInternal != 0:
			s.addAddr(&h.intClients, ev.orig)
			h.InternalReceivedConnections++
		case ev.flags&evInbound != 0:
			s.addAddr(&h.extClients, ev.orig)
		}
		for sv := Service(0); sv < NumServices; sv++ {
			if ev.services&(1<<sv) != 0 {
				h.Services[sv].ServerConnections++
			}
		}
	}
}

// meta is the per-record metadata.
type meta struct {
	hostname, ip, tag, forwarder string
}

// sortStates orders the shard's states by address (s.order).
func (s *shard) sortStates() {
	s.order = s.order[:0]
	for i := int32(0); i < s.n; i++ {
		s.order = append(s.order, i)
	}
	slices.SortFunc(s.order, func(x, y int32) int { return s.at(x).addr.Compare(s.at(y).addr) })
}

// fill builds the record of state i into r, reusing r's arrays: r is only
// valid until the next fill.
func (s *shard) fill(r *Interval, i int32, start, end time.Time, md *meta) {
	h := s.at(i)
	r.Address = h.addr
	r.StartTime, r.EndTime = start, end
	r.Counts = h.Counts
	r.NodeHostname, r.NodeIPAddress = md.hostname, md.ip
	r.OriginatingAgentTag, r.EventType, r.ForwarderType = md.tag, EventType, md.forwarder
	r.ExternalPorts, r.ExternalPortCount = portList(r.ExternalPorts[:0], &h.extPorts)
	r.InternalPorts, r.InternalPortCount = portList(r.InternalPorts[:0], &h.intPorts)
	r.ExternalHosts, r.ExternalHostCount = s.addrList(r.ExternalHosts[:0], &h.extHosts)
	r.ExternalClients, r.ExternalClientCount = s.addrList(r.ExternalClients[:0], &h.extClients)
	r.InternalHosts, r.InternalHostCount = s.addrList(r.InternalHosts[:0], &h.intHosts)
	r.InternalClients, r.InternalClientCount = s.addrList(r.InternalClients[:0], &h.intClients)
}

func (s *shard) reset() {
	clear(s.idx4)
	clear(s.idx6)
	clear(s.v6ids)
	for c := int32(0); c*chunkSize < s.n; c++ { // zero the used states, dropping their bitmaps
		clear(s.chunks[c][:min(chunkSize, s.n-c*chunkSize)])
	}
	s.n = 0
	s.monitored.Store(0)
	s.order = s.order[:0]
	clear(s.v6addrs)
	s.v6addrs = s.v6addrs[:0]
}

// portList fills dst with the members of set sorted by their text form and
// returns it with the set's size. dst is never nil, so an empty set encodes
// as [].
func portList(dst []PortKey, set *u32set) ([]PortKey, uint64) {
	if dst == nil {
		dst = []PortKey{}
	}
	set.iterate(func(x uint32) bool {
		dst = append(dst, PortKey(x))
		return true
	})
	slices.SortFunc(dst, comparePortText)
	return dst, uint64(len(dst))
}

// addrList fills dst with the members of set sorted by their text form and
// returns it with the set's size.
func (s *shard) addrList(dst []netip.Addr, set *addrSet) ([]netip.Addr, uint64) {
	if dst == nil {
		dst = []netip.Addr{}
	}
	set.v4.iterate(func(v uint32) bool {
		dst = append(dst, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		return true
	})
	set.v6.iterate(func(id uint32) bool {
		dst = append(dst, s.v6addrs[id])
		return true
	})
	slices.SortFunc(dst, compareAddrText)
	return dst, uint64(len(dst))
}

// comparePortText orders port keys as their text ("1000/tcp" < "53/udp").
func comparePortText(a, b PortKey) int {
	var ba, bb [24]byte
	return bytes.Compare(a.AppendText(ba[:0]), b.AppendText(bb[:0]))
}

// compareAddrText orders addresses as their text ("10.0.0.10" <
// "10.0.0.9", "ff02::1:2" < "ff02::2").
func compareAddrText(a, b netip.Addr) int {
	var ba, bb [64]byte
	return bytes.Compare(a.AppendTo(ba[:0]), b.AppendTo(bb[:0]))
}
