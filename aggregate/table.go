package aggregate

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// hostState is the running state of one monitored address in a window.
// The per-service counters live apart (most addresses of a flood have
// none), in the table's svcs.
type hostState struct {
	addr netip.Addr
	Totals
	svc                                        int32 // index+1 in the table's svcs; 0: none yet
	extPorts, intPorts                         u32set
	extHosts, extClients, intHosts, intClients addrSet
}

// touch loads a word from each end of the state (its counters and its
// sets), bringing the cache lines an update uses.
func (h *hostState) touch() uint64 {
	return h.ConnectionsCount + uint64(h.svc)
}

// serviceCounts are one address's per-service counters.
type serviceCounts = [NumServices]ServiceCounts

// hostTable holds the states of the addresses of one shard in one window,
// as one accumulator saw them, or merged from several. It is used by one
// goroutine at a time.
type hostTable struct {
	idx4   u32index
	idx6   map[[16]byte]int32
	states chunked[hostState]
	order  []int32 // states by address, built by sortStates
	// svcs are the per-service counters of the states that have some.
	svcs chunked[serviceCounts]
	// IPv6 peers get dense 32-bit ids for the bitmaps (exact, no hash).
	v6ids   map[[16]byte]uint32
	v6addrs []netip.Addr
	// maxHosts bounds the states (0: no bound); refused counts the updates of
	// addresses that found no room.
	maxHosts int32
	refused  uint64
}

func newHostTable(maxHosts int) *hostTable {
	return &hostTable{
		idx6:     make(map[[16]byte]int32),
		v6ids:    make(map[[16]byte]uint32),
		maxHosts: int32(min(maxHosts, 1<<30)),
	}
}

// addrU32 is IPv4 address a as a number; u32Addr is its inverse.
func addrU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u32Addr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

const (
	chunkBits = 8
	chunkSize = 1 << chunkBits
)

// chunked is an append-only list in fixed-size chunks: an element never
// moves (stable addresses, no copying on growth, little slack), and reset
// keeps the chunks for the next window.
type chunked[T any] struct {
	chunks [][]T
	n      int32 // elements in use
}

func (l *chunked[T]) at(i int32) *T { return &l.chunks[i>>chunkBits][i&(chunkSize-1)] }

// add appends a zero element and returns its index.
func (l *chunked[T]) add() int32 {
	i := l.n
	if int(i>>chunkBits) == len(l.chunks) {
		l.chunks = append(l.chunks, make([]T, chunkSize))
	}
	l.n++
	return i
}

// reset zeroes the elements in use (dropping what they point to, such as
// bitmaps) and empties the list.
func (l *chunked[T]) reset() {
	for c := int32(0); c*chunkSize < l.n; c++ {
		clear(l.chunks[c][:min(chunkSize, l.n-c*chunkSize)])
	}
	l.n = 0
}

// at returns state i.
func (t *hostTable) at(i int32) *hostState { return t.states.at(i) }

// newState appends a zero state for a and returns its index.
func (t *hostTable) newState(a netip.Addr) int32 {
	i := t.states.add()
	t.at(i).addr = a
	return i
}

// full reports whether no new address fits.
func (t *hostTable) full() bool { return t.maxHosts > 0 && t.states.n >= t.maxHosts }

// state returns the state of a, creating it; nil when a is new and the
// table is full.
func (t *hostTable) state(a netip.Addr) *hostState {
	var i int32
	var ok bool
	if a.Is4() {
		k := addrU32(a)
		if i, ok = t.idx4.get(k); !ok {
			if t.full() {
				return nil
			}
			i = t.newState(a)
			t.idx4.put(k, i)
		}
	} else {
		k := a.As16()
		if i, ok = t.idx6[k]; !ok {
			if t.full() {
				return nil
			}
			i = t.newState(a)
			t.idx6[k] = i
		}
	}
	return t.at(i)
}

// v6id returns the interned id of a.
func (t *hostTable) v6id(a netip.Addr) uint32 {
	k := a.As16()
	id, ok := t.v6ids[k]
	if !ok {
		id = uint32(len(t.v6addrs))
		t.v6ids[k] = id
		t.v6addrs = append(t.v6addrs, a)
	}
	return id
}

func (t *hostTable) addAddr(set *addrSet, a netip.Addr) {
	if a.Is4() {
		set.v4.add(addrU32(a))
		return
	}
	if set.v6 == nil {
		set.v6 = &u32set{}
	}
	set.v6.add(t.v6id(a))
}

// services returns h's per-service counters, creating them.
func (t *hostTable) services(h *hostState) *serviceCounts {
	if h.svc == 0 {
		h.svc = t.svcs.add() + 1
	}
	return t.svcAt(h.svc)
}

// svcAt returns the per-service counters of index svc (hostState.svc).
func (t *hostTable) svcAt(svc int32) *serviceCounts { return t.svcs.at(svc - 1) }

// stateOrRefuse is state, counting a refused update when a finds no room.
func (t *hostTable) stateOrRefuse(a netip.Addr) *hostState {
	h := t.state(a)
	if h == nil {
		t.refused++
	}
	return h
}

// applyOrig and applyResp run the update rules of spec/interval.md §2 for
// an event's originator and responder (Accumulator.applyPending).
func (t *hostTable) applyOrig(h *hostState, ev *event) {
	h.ConnectionsCount++
	switch {
	case ev.flags&evOutbound != 0:
		h.extPorts.add(uint32(ev.port))
		t.addAddr(&h.extHosts, ev.resp)
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
		t.addAddr(&h.intHosts, ev.resp)
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
	if ev.services == 0 {
		return
	}
	svcs := t.services(h)
	for sv := Service(0); sv < NumServices; sv++ {
		if ev.services&(1<<sv) != 0 {
			svcs[sv].ClientConnections++
			if ev.flags&evPCR != 0 {
				svcs[sv].PCR.Add(ev.pcr)
			}
		}
	}
}

func (t *hostTable) applyResp(h *hostState, ev *event) {
	// A self-connection counts once, when the originator's update ran.
	if ev.flags&evSelf == 0 || ev.flags&evApplyOrig == 0 {
		h.ConnectionsCount++
	}
	switch {
	case ev.flags&evInternal != 0:
		t.addAddr(&h.intClients, ev.orig)
		h.InternalReceivedConnections++
	case ev.flags&evInbound != 0:
		t.addAddr(&h.extClients, ev.orig)
	}
	if ev.services == 0 {
		return
	}
	svcs := t.services(h)
	for sv := Service(0); sv < NumServices; sv++ {
		if ev.services&(1<<sv) != 0 {
			svcs[sv].ServerConnections++
		}
	}
}

// merge adds the states of o (another accumulator's table of the same
// shard and window) into t. o is left unchanged.
func (t *hostTable) merge(o *hostTable) {
	t.refused += o.refused
	for i := int32(0); i < o.states.n; i++ {
		src := o.at(i)
		h := t.state(src.addr)
		if h == nil {
			t.refused++
			continue
		}
		h.Totals.add(&src.Totals)
		if src.svc != 0 {
			mergeServices(t.services(h), o.svcAt(src.svc))
		}
		h.extPorts.merge(&src.extPorts)
		h.intPorts.merge(&src.intPorts)
		t.mergeAddrs(&h.extHosts, &src.extHosts, o)
		t.mergeAddrs(&h.extClients, &src.extClients, o)
		t.mergeAddrs(&h.intHosts, &src.intHosts, o)
		t.mergeAddrs(&h.intClients, &src.intClients, o)
	}
}

// mergeAddrs adds the members of src, whose IPv6 ids are o's, to dst.
func (t *hostTable) mergeAddrs(dst, src *addrSet, o *hostTable) {
	dst.v4.merge(&src.v4)
	if src.v6 == nil {
		return
	}
	src.v6.iterate(func(id uint32) bool {
		t.addAddr(dst, o.v6addrs[id])
		return true
	})
}

// mergeServices adds the per-service counters of o to c.
func mergeServices(c, o *serviceCounts) {
	for s := range c {
		c[s].ClientConnections += o[s].ClientConnections
		c[s].ServerConnections += o[s].ServerConnections
		c[s].PCR.Merge(&o[s].PCR)
	}
}

// add adds every counter of o to c.
func (c *Totals) add(o *Totals) {
	c.ConnectionsCount += o.ConnectionsCount
	c.OriginatingConnectionCount += o.OriginatingConnectionCount
	c.SuccessfulOriginatingConnectionCount += o.SuccessfulOriginatingConnectionCount
	c.RejectedOriginatingConnectionCount += o.RejectedOriginatingConnectionCount
	c.OriginatingToHighportCount += o.OriginatingToHighportCount
	c.OriginatingToLowportCount += o.OriginatingToLowportCount
	c.OriginatingToService += o.OriginatingToService
	c.ExternalOriginatingBytesSent += o.ExternalOriginatingBytesSent
	c.ExternalOriginatingBytesReceived += o.ExternalOriginatingBytesReceived
	c.ExternalOriginatingPacketsSent += o.ExternalOriginatingPacketsSent
	c.ExternalOriginatingPacketsReceived += o.ExternalOriginatingPacketsReceived
	c.InternalOriginatedConnections += o.InternalOriginatedConnections
	c.InternalOriginatedRejectedConnections += o.InternalOriginatedRejectedConnections
	c.InternalToHighportCount += o.InternalToHighportCount
	c.InternalToLowportCount += o.InternalToLowportCount
	c.InternalToServiceCount += o.InternalToServiceCount
	c.InternalReceivedConnections += o.InternalReceivedConnections
	c.InternalOriginatingBytesSent += o.InternalOriginatingBytesSent
	c.InternalOriginatingBytesReceived += o.InternalOriginatingBytesReceived
	c.InternalOriginatingPacketsSent += o.InternalOriginatingPacketsSent
	c.InternalOriginatingPacketsReceived += o.InternalOriginatingPacketsReceived
}

// sortStates orders the table's states by address (t.order).
func (t *hostTable) sortStates() {
	t.order = t.order[:0]
	for i := int32(0); i < t.states.n; i++ {
		t.order = append(t.order, i)
	}
	slices.SortFunc(t.order, func(x, y int32) int { return t.at(x).addr.Compare(t.at(y).addr) })
}

// meta is the per-record metadata.
type meta struct {
	hostname, ip, tag, forwarder string
}

// fill builds the record of state i into r, reusing r's arrays: r is only
// valid until the next fill.
func (t *hostTable) fill(r *Interval, i int32, start, end time.Time, md *meta) {
	h := t.at(i)
	r.Address = h.addr
	r.StartTime, r.EndTime = start, end
	r.Totals = h.Totals
	if h.svc != 0 {
		r.Services = *t.svcAt(h.svc)
	} else {
		r.Services = serviceCounts{}
	}
	r.NodeHostname, r.NodeIPAddress = md.hostname, md.ip
	r.OriginatingAgentTag, r.EventType, r.ForwarderType = md.tag, EventType, md.forwarder
	r.ExternalPorts, r.ExternalPortCount = portList(r.ExternalPorts[:0], &h.extPorts)
	r.InternalPorts, r.InternalPortCount = portList(r.InternalPorts[:0], &h.intPorts)
	r.ExternalHosts, r.ExternalHostCount = t.addrList(r.ExternalHosts[:0], &h.extHosts)
	r.ExternalClients, r.ExternalClientCount = t.addrList(r.ExternalClients[:0], &h.extClients)
	r.InternalHosts, r.InternalHostCount = t.addrList(r.InternalHosts[:0], &h.intHosts)
	r.InternalClients, r.InternalClientCount = t.addrList(r.InternalClients[:0], &h.intClients)
}

// reset empties the table for another window, keeping its memory.
func (t *hostTable) reset() {
	t.idx4.reset()
	clear(t.idx6)
	clear(t.v6ids)
	t.states.reset()
	t.svcs.reset()
	t.refused = 0
	t.order = t.order[:0]
	clear(t.v6addrs)
	t.v6addrs = t.v6addrs[:0]
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
	sortPortsText(dst)
	return dst, uint64(len(dst))
}

// addrList fills dst with the members of set sorted by their text form and
// returns it with the set's size.
func (t *hostTable) addrList(dst []netip.Addr, set *addrSet) ([]netip.Addr, uint64) {
	if dst == nil {
		dst = []netip.Addr{}
	}
	set.v4.iterate(func(v uint32) bool {
		dst = append(dst, u32Addr(v))
		return true
	})
	if set.v6 != nil {
		set.v6.iterate(func(id uint32) bool {
			dst = append(dst, t.v6addrs[id])
			return true
		})
	}
	sortAddrsText(dst)
	return dst, uint64(len(dst))
}
