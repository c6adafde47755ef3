// Package aggregate turns ended connections (flow.Conn) into Interval
// records: per monitored IP address and tumbling, epoch-aligned window of
// network time, the counters, unique sets and PCR statistics of netbase's
// flow module, with the update rules of spec/interval.md section 2.
//
// Each capture worker counts its connections into its own Accumulator,
// without locks; the Windows engine merges the accumulators' states of a
// window once every accumulator has passed its end, splits the merge over
// Config.Shards goroutines by address hash, and writes the records in
// address order. Records do not depend on the number of accumulators or
// shards. An Aggregator is one accumulator and its Windows driven
// synchronously from one goroutine.
package aggregate

import (
	"math"
	"net/netip"
	"strconv"
	"time"
)

// Service is one of the five application protocols netbase counts.
type Service uint8

// The services with per-service counters, in the order of the record.
const (
	DNS Service = iota
	HTTP
	SSL
	SMB
	RDP
	NumServices
)

var serviceNames = [NumServices]string{"dns", "http", "ssl", "smb", "rdp"}

// String is the lowercase service name (dns, http, ssl, smb, rdp).
func (s Service) String() string {
	if s < NumServices {
		return serviceNames[s]
	}
	return "service(" + strconv.Itoa(int(s)) + ")"
}

// PortKey is a responder port together with its transport: the port in the
// low 16 bits, the transport code above.
type PortKey uint32

// Transport codes of a PortKey.
const (
	transportUnknown = 0
	transportTCP     = 1
	transportUDP     = 2
	transportICMP    = 3
)

var transportNames = [4]string{"unknown", "tcp", "udp", "icmp"}

// MakePortKey builds the key of responder port port over IP protocol
// ipProto (6 tcp, 17 udp, 1 and 58 icmp, anything else unknown).
func MakePortKey(ipProto uint8, port uint16) PortKey {
	var t uint32
	switch ipProto {
	case 6:
		t = transportTCP
	case 17:
		t = transportUDP
	case 1, 58:
		t = transportICMP
	default:
		t = transportUnknown
	}
	return PortKey(t<<16 | uint32(port))
}

// Port is the port number (for ICMP the Zeek-mapped type or code).
func (k PortKey) Port() uint16 { return uint16(k) }

// Transport is tcp, udp, icmp or unknown.
func (k PortKey) Transport() string { return transportNames[k.transport()] }

// transport is the transport code.
func (k PortKey) transport() uint32 { return uint32(k>>16) & 3 }

// AppendText appends the Zeek spelling, e.g. "53/udp".
func (k PortKey) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(k.Port()), 10)
	b = append(b, '/')
	return append(b, k.Transport()...)
}

// String is the Zeek spelling, e.g. "443/tcp".
func (k PortKey) String() string { return string(k.AppendText(nil)) }

// PCR holds the producer/consumer ratio statistics of one service's client
// connections. Count 0 means no sample: the statistics are unset.
//
// Every field combines exactly and in any order (counts and sums add,
// min/max combine), so partial statistics merged from several workers,
// shards or sensors equal those of one accumulator that saw every sample.
type PCR struct {
	Count    uint64
	Sum      FixedSum
	Min, Max float64
}

// Average is Sum/Count (0 when there is no sample).
func (p *PCR) Average() float64 {
	if p.Count == 0 {
		return 0
	}
	return p.Sum.Float64() / float64(p.Count)
}

// Add adds one sample v (a PCR, in [−1, 1]).
func (p *PCR) Add(v float64) {
	if p.Count == 0 || v < p.Min {
		p.Min = v
	}
	if p.Count == 0 || v > p.Max {
		p.Max = v
	}
	p.Count++
	p.Sum.Add(v)
}

// Merge adds the samples of q.
func (p *PCR) Merge(q *PCR) {
	if q.Count == 0 {
		return
	}
	if p.Count == 0 || q.Min < p.Min {
		p.Min = q.Min
	}
	if p.Count == 0 || q.Max > p.Max {
		p.Max = q.Max
	}
	p.Count += q.Count
	p.Sum.Merge(q.Sum)
}

// FixedSum is an exact sum of values in [−1, 1] in fixed point, so that
// it does not depend on the order of the additions (a float64 sum does,
// in its last bits). Each value v is rounded once to an integer
// x = round(v·2⁶²) and split into x = Hi·2³² + Lo with 0 ≤ Lo < 2³²; the
// sum keeps the two parts' sums apart: Hi as a signed and Lo as an
// unsigned 64-bit integer, exact for up to 2³² values. Two FixedSums
// combine by adding Hi to Hi and Lo to Lo (a database's sum() does the
// same). The value is (Hi·2³² + Lo)·2⁻⁶²; Float64 gives it.
type FixedSum struct {
	Hi int64
	Lo uint64
}

// fixedScale is 2⁶², the fixed-point unit of FixedSum.
const fixedScale = 1 << 62

// Add adds v, which must be in [−1, 1].
func (s *FixedSum) Add(v float64) {
	x := int64(math.Round(v * fixedScale))
	s.Hi += x >> 32
	s.Lo += uint64(x) & 0xffffffff
}

// Merge adds the values summed in o.
func (s *FixedSum) Merge(o FixedSum) {
	s.Hi += o.Hi
	s.Lo += o.Lo
}

// Float64 is the sum's value: with the carry of Lo moved into Hi,
// (float64(Hi)·2³² + float64(Lo mod 2³²))·2⁻⁶², in this order of float64
// operations (a merge in SQL computes the same expression).
func (s *FixedSum) Float64() float64 {
	hi := s.Hi + int64(s.Lo>>32)
	lo := s.Lo & 0xffffffff
	return (float64(hi)*(1<<32) + float64(lo)) / fixedScale
}

// ServiceCounts are the per-service counters of one address.
type ServiceCounts struct {
	ClientConnections uint64 // {s}_client_connection_count
	ServerConnections uint64 // {s}_server_connection_count
	PCR               PCR    // {s}_producer_consumer_ratio_*
}

// Counts are the numeric counters of an Interval (spec/interval.md §3).
type Counts struct {
	Totals
	Services [NumServices]ServiceCounts
}

// Totals are the counters of an Interval other than the per-service ones.
type Totals struct {
	ConnectionsCount uint64 // total_conns

	OriginatingConnectionCount           uint64 // out_orig_conns
	SuccessfulOriginatingConnectionCount uint64 // out_succ_conns
	RejectedOriginatingConnectionCount   uint64 // out_rej_conns
	OriginatingToHighportCount           uint64 // out_to_highports
	OriginatingToLowportCount            uint64 // out_to_lowports
	OriginatingToService                 uint64 // out_to_service
	ExternalOriginatingBytesSent         uint64 // out_orig_bytes_sent
	ExternalOriginatingBytesReceived     uint64 // out_orig_bytes_rcvd
	ExternalOriginatingPacketsSent       uint64 // out_orig_pkts_sent
	ExternalOriginatingPacketsReceived   uint64 // out_orig_pkts_recvd

	InternalOriginatedConnections         uint64 // int_orig_conns
	InternalOriginatedRejectedConnections uint64 // int_rej_conns
	InternalToHighportCount               uint64 // int_to_highports
	InternalToLowportCount                uint64 // int_to_lowports
	InternalToServiceCount                uint64 // int_to_service
	InternalReceivedConnections           uint64 // int_resp_conns
	InternalOriginatingBytesSent          uint64 // int_orig_bytes_sent
	InternalOriginatingBytesReceived      uint64 // int_orig_bytes_rcvd
	InternalOriginatingPacketsSent        uint64 // int_orig_pkts_sent
	InternalOriginatingPacketsReceived    uint64 // int_orig_pkts_recvd
}

// Interval is the record of one monitored address over one window: every
// field of spec/interval.md §3. Unique sets are whole (an encoder may cap
// the arrays it writes; the counts are the sets' sizes) and sorted by their
// text form, as the expected records are.
type Interval struct {
	Address            netip.Addr
	StartTime, EndTime time.Time

	Counts

	ExternalPorts       []PortKey // ext_ports
	ExternalPortCount   uint64    // external_port_counts / ext_port_cnt
	ExternalHosts       []netip.Addr
	ExternalHostCount   uint64
	ExternalClients     []netip.Addr
	ExternalClientCount uint64

	InternalPorts       []PortKey
	InternalPortCount   uint64
	InternalHosts       []netip.Addr
	InternalHostCount   uint64
	InternalClients     []netip.Addr
	InternalClientCount uint64

	NodeHostname        string
	NodeIPAddress       string
	OriginatingAgentTag string
	EventType           string // always "netbase"
	ForwarderType       string // "zeek" unless configured
}

// IntervalSize is EndTime − StartTime.
func (r *Interval) IntervalSize() time.Duration { return r.EndTime.Sub(r.StartTime) }
