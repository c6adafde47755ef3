package aggregate

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
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

// addrSet is an exact set of addresses: IPv4 by value, IPv6 by the id of
// the shard's interning table.
type addrSet struct{ v4, v6 *roaring.Bitmap }

func (s *addrSet) len() uint64 {
	var n uint64
	if s.v4 != nil {
		n += s.v4.GetCardinality()
	}
	if s.v6 != nil {
		n += s.v6.GetCardinality()
	}
	return n
}

// hostState is the running state of one monitored address in a window.
type hostState struct {
	addr netip.Addr
	Counts
	extPorts, intPorts                         *roaring.Bitmap
	extHosts, extClients, intHosts, intClients addrSet
}

// shard owns the states of the addresses hashed to it. It is used by one
// goroutine at a time.
type shard struct {
	idx4   map[uint32]int32
	idx6   map[netip.Addr]int32
	states []hostState
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

func (s *shard) state(a netip.Addr) *hostState {
	var i int32
	var ok bool
	if a.Is4() {
		k := addrU32(a)
		if i, ok = s.idx4[k]; !ok {
			i = int32(len(s.states))
			s.idx4[k] = i
			s.states = append(s.states, hostState{addr: a})
		}
	} else {
		if i, ok = s.idx6[a]; !ok {
			i = int32(len(s.states))
			s.idx6[a] = i
			s.states = append(s.states, hostState{addr: a})
		}
	}
	return &s.states[i]
}

func (s *shard) addAddr(set *addrSet, a netip.Addr) {
	if a.Is4() {
		if set.v4 == nil {
			set.v4 = roaring.New()
		}
		set.v4.Add(addrU32(a))
		return
	}
	id, ok := s.v6ids[a]
	if !ok {
		id = uint32(len(s.v6addrs))
		s.v6ids[a] = id
		s.v6addrs = append(s.v6addrs, a)
	}
	if set.v6 == nil {
		set.v6 = roaring.New()
	}
	set.v6.Add(id)
}

func addPort(bm **roaring.Bitmap, k PortKey) {
	if *bm == nil {
		*bm = roaring.New()
	}
	(*bm).Add(uint32(k))
}

// apply runs the update rules of spec/interval.md §2 for the endpoints the
// event marks for this shard.
func (s *shard) apply(ev *event) {
	if ev.flags&evApplyOrig != 0 {
		h := s.state(ev.orig)
		h.ConnectionsCount++
		switch {
		case ev.flags&evOutbound != 0:
			addPort(&h.extPorts, ev.port)
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
			addPort(&h.intPorts, ev.port)
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
					h.Services[sv].PCR.add(ev.pcr)
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
	maxSet                       int
}

// records turns the shard's states into Intervals for [start, end] and
// resets the shard for the next window.
func (s *shard) records(start, end time.Time, md *meta) []Interval {
	if len(s.states) == 0 {
		return nil
	}
	out := make([]Interval, len(s.states))
	var ports []PortKey
	var addrs []netip.Addr
	for i := range s.states {
		h := &s.states[i]
		r := &out[i]
		r.Address = h.addr
		r.StartTime, r.EndTime = start, end
		r.Counts = h.Counts
		r.NodeHostname, r.NodeIPAddress = md.hostname, md.ip
		r.OriginatingAgentTag, r.EventType, r.ForwarderType = md.tag, EventType, md.forwarder

		var cut bool
		r.ExternalPorts, r.ExternalPortCount, cut, ports = portList(ports, h.extPorts, md.maxSet)
		r.Cut |= flagIf(cut, ExternalPortsCut)
		r.InternalPorts, r.InternalPortCount, cut, ports = portList(ports, h.intPorts, md.maxSet)
		r.Cut |= flagIf(cut, InternalPortsCut)
		r.ExternalHosts, r.ExternalHostCount, cut, addrs = s.addrList(addrs, &h.extHosts, md.maxSet)
		r.Cut |= flagIf(cut, ExternalHostsCut)
		r.ExternalClients, r.ExternalClientCount, cut, addrs = s.addrList(addrs, &h.extClients, md.maxSet)
		r.Cut |= flagIf(cut, ExternalClientsCut)
		r.InternalHosts, r.InternalHostCount, cut, addrs = s.addrList(addrs, &h.intHosts, md.maxSet)
		r.Cut |= flagIf(cut, InternalHostsCut)
		r.InternalClients, r.InternalClientCount, cut, addrs = s.addrList(addrs, &h.intClients, md.maxSet)
		r.Cut |= flagIf(cut, InternalClientsCut)
	}
	s.reset()
	return out
}

func (s *shard) reset() {
	clear(s.idx4)
	clear(s.idx6)
	clear(s.v6ids)
	clear(s.states) // drop the bitmaps
	s.states = s.states[:0]
	clear(s.v6addrs)
	s.v6addrs = s.v6addrs[:0]
}

func flagIf(b bool, f SetFlags) SetFlags {
	if b {
		return f
	}
	return 0
}

// portList appends the members of bm to slab, sorted by their text form and
// cut to max (0: no cap); it returns the sub-slice, the exact count,
// whether it was cut, and the slab.
func portList(slab []PortKey, bm *roaring.Bitmap, max int) (list []PortKey, n uint64, cut bool, _ []PortKey) {
	if bm == nil || bm.IsEmpty() {
		return []PortKey{}, 0, false, slab
	}
	n = bm.GetCardinality()
	start := len(slab)
	it := bm.Iterator()
	for it.HasNext() {
		slab = append(slab, PortKey(it.Next()))
	}
	list = slab[start:len(slab):len(slab)]
	slices.SortFunc(list, comparePortText)
	if max > 0 && len(list) > max {
		list, cut = list[:max:max], true
	}
	return list, n, cut, slab
}

func (s *shard) addrList(slab []netip.Addr, set *addrSet, max int) (list []netip.Addr, n uint64, cut bool, _ []netip.Addr) {
	n = set.len()
	if n == 0 {
		return []netip.Addr{}, 0, false, slab
	}
	start := len(slab)
	if set.v4 != nil {
		it := set.v4.Iterator()
		for it.HasNext() {
			v := it.Next()
			slab = append(slab, netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}))
		}
	}
	if set.v6 != nil {
		it := set.v6.Iterator()
		for it.HasNext() {
			slab = append(slab, s.v6addrs[it.Next()])
		}
	}
	list = slab[start:len(slab):len(slab)]
	slices.SortFunc(list, compareAddrText)
	if max > 0 && len(list) > max {
		list, cut = list[:max:max], true
	}
	return list, n, cut, slab
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
