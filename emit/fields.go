// Package emit encodes aggregate.Interval records and writes them out.
// One record type has three encodings for people, chosen by --format
// (spec/interval.md §5), and one for a database:
//
//   - json: one Interval object per line, with the DynamiteNSM Interval
//     field names;
//   - dynamite: the Elasticsearch document DynamiteNSM's SDK parses
//     ({"@timestamp","event_type","node","fields","zeek":{netbase names}});
//   - zeek: a Zeek ASCII log with path netbase and the netbase names;
//   - clickhouse: a row of the ClickHouse schema (clickhouse_schema.go)
//     with what an exact merge of several sensors' records needs; the
//     clickhouse:// output and ClickHouse's Kafka engine read it.
//
// Encoders append to a byte slice (no reflection).
//
// Destinations are opened through a Registry of output kinds keyed by URL
// scheme (DefaultRegistry: "-", file paths, es+http(s)://, kafka://,
// clickhouse://). A kind parses its URL, chooses its encoder and returns a
// Sink, which receives Documents: the record's address, window, sensor
// (hence a DocumentID that makes redelivery idempotent) and encoded body.
// Adding an output is one file with a Kind and one Register call.
//
// An Output implements aggregate.Output over a sink. The caller (the
// window merger) only encodes and queues; a delivery goroutine sends
// batches with retries and backoff. The queue is bounded memory, or for
// remote back ends a disk spool (spool.go) that survives restarts and
// crashes; past the bounds the oldest records are dropped and counted by
// reason (or, under the Block policy of replay, the caller waits). Health
// says whether the output loses records now; Stats counts everything.
// Redact removes credentials from a destination before it is shown.
package emit

import (
	"net/netip"

	"github.com/netbased/netbased/aggregate"
)

type fieldKind uint8

const (
	kindCount fieldKind = iota
	kindPCRAvg
	kindPCRMax
	kindPCRMin
	kindPorts
	kindAddrs
)

// field is one column of the record after address and the times.
type field struct {
	json, zeek string
	// jsonKey and zeekKey are the names as JSON object keys after a
	// member: `,"name":`.
	jsonKey, zeekKey string
	kind             fieldKind
	count            func(r *aggregate.Interval) uint64
	svc              aggregate.Service
	ports            func(r *aggregate.Interval) []aggregate.PortKey
	addrs            func(r *aggregate.Interval) []netip.Addr
	// maxSet caps the arrays of a set field (0: no cap).
	maxSet int
}

func countField(json, zeek string, f func(r *aggregate.Interval) uint64) field {
	return field{json: json, zeek: zeek, kind: kindCount, count: f}
}

// recordFields lists the fields in the order of the expected records
// (testdata/zeek/*/netbase.expected.jsonl), with their netbase names; set
// arrays are capped at maxSet members (0: no cap).
func recordFields(maxSet int) []field {
	fs := []field{
		countField("internal_port_count", "int_port_cnt", func(r *aggregate.Interval) uint64 { return r.InternalPortCount }),
		countField("internal_host_count", "int_host_cnt", func(r *aggregate.Interval) uint64 { return r.InternalHostCount }),
		countField("external_port_counts", "ext_port_cnt", func(r *aggregate.Interval) uint64 { return r.ExternalPortCount }),
		countField("external_host_count", "ext_host_cnt", func(r *aggregate.Interval) uint64 { return r.ExternalHostCount }),
		countField("internal_client_count", "int_client_cnt", func(r *aggregate.Interval) uint64 { return r.InternalClientCount }),
		countField("external_client_count", "ext_client_cnt", func(r *aggregate.Interval) uint64 { return r.ExternalClientCount }),
		countField("connections_count", "total_conns", func(r *aggregate.Interval) uint64 { return r.ConnectionsCount }),
		countField("originating_connection_count", "out_orig_conns", func(r *aggregate.Interval) uint64 { return r.OriginatingConnectionCount }),
		countField("successful_originating_connection_count", "out_succ_conns", func(r *aggregate.Interval) uint64 { return r.SuccessfulOriginatingConnectionCount }),
		countField("rejected_originating_connection_count", "out_rej_conns", func(r *aggregate.Interval) uint64 { return r.RejectedOriginatingConnectionCount }),
		countField("originating_to_highport_count", "out_to_highports", func(r *aggregate.Interval) uint64 { return r.OriginatingToHighportCount }),
		countField("originating_to_lowport_count", "out_to_lowports", func(r *aggregate.Interval) uint64 { return r.OriginatingToLowportCount }),
		countField("originating_to_service", "out_to_service", func(r *aggregate.Interval) uint64 { return r.OriginatingToService }),
		countField("internal_originated_connections", "int_orig_conns", func(r *aggregate.Interval) uint64 { return r.InternalOriginatedConnections }),
		countField("internal_originated_rejected_connections", "int_rej_conns", func(r *aggregate.Interval) uint64 { return r.InternalOriginatedRejectedConnections }),
		countField("internal_to_highport_count", "int_to_highports", func(r *aggregate.Interval) uint64 { return r.InternalToHighportCount }),
		countField("internal_to_lowport_count", "int_to_lowports", func(r *aggregate.Interval) uint64 { return r.InternalToLowportCount }),
		countField("internal_to_service_count", "int_to_service", func(r *aggregate.Interval) uint64 { return r.InternalToServiceCount }),
		countField("internal_received_connections", "int_resp_conns", func(r *aggregate.Interval) uint64 { return r.InternalReceivedConnections }),
		countField("internal_originating_bytes_sent", "int_orig_bytes_sent", func(r *aggregate.Interval) uint64 { return r.InternalOriginatingBytesSent }),
		countField("internal_originating_bytes_received", "int_orig_bytes_rcvd", func(r *aggregate.Interval) uint64 { return r.InternalOriginatingBytesReceived }),
		countField("external_originating_bytes_sent", "out_orig_bytes_sent", func(r *aggregate.Interval) uint64 { return r.ExternalOriginatingBytesSent }),
		countField("external_originating_bytes_received", "out_orig_bytes_rcvd", func(r *aggregate.Interval) uint64 { return r.ExternalOriginatingBytesReceived }),
		countField("internal_originating_packets_sent", "int_orig_pkts_sent", func(r *aggregate.Interval) uint64 { return r.InternalOriginatingPacketsSent }),
		countField("internal_originating_packets_received", "int_orig_pkts_recvd", func(r *aggregate.Interval) uint64 { return r.InternalOriginatingPacketsReceived }),
		countField("external_originating_packets_sent", "out_orig_pkts_sent", func(r *aggregate.Interval) uint64 { return r.ExternalOriginatingPacketsSent }),
		countField("external_originating_packets_received", "out_orig_pkts_recvd", func(r *aggregate.Interval) uint64 { return r.ExternalOriginatingPacketsReceived }),
	}
	for _, s := range []aggregate.Service{aggregate.SMB, aggregate.HTTP, aggregate.DNS, aggregate.SSL, aggregate.RDP} {
		name := s.String()
		fs = append(fs,
			countField(name+"_client_connection_count", name+"_client_conns", func(r *aggregate.Interval) uint64 { return r.Services[s].ClientConnections }),
			countField(name+"_server_connection_count", name+"_server_conns", func(r *aggregate.Interval) uint64 { return r.Services[s].ServerConnections }),
			field{json: name + "_producer_consumer_ratio_average", zeek: "pcr_" + name + "_avg", kind: kindPCRAvg, svc: s},
			field{json: name + "_producer_consumer_ratio_max", zeek: "pcr_" + name + "_max", kind: kindPCRMax, svc: s},
			field{json: name + "_producer_consumer_ratio_min", zeek: "pcr_" + name + "_min", kind: kindPCRMin, svc: s},
		)
	}
	fs = append(fs,
		field{json: "internal_ports", zeek: "int_ports", kind: kindPorts, maxSet: maxSet,
			ports: func(r *aggregate.Interval) []aggregate.PortKey { return r.InternalPorts }},
		field{json: "internal_hosts", zeek: "int_hosts", kind: kindAddrs, maxSet: maxSet,
			addrs: func(r *aggregate.Interval) []netip.Addr { return r.InternalHosts }},
		field{json: "external_ports", zeek: "ext_ports", kind: kindPorts, maxSet: maxSet,
			ports: func(r *aggregate.Interval) []aggregate.PortKey { return r.ExternalPorts }},
		field{json: "external_hosts", zeek: "ext_hosts", kind: kindAddrs, maxSet: maxSet,
			addrs: func(r *aggregate.Interval) []netip.Addr { return r.ExternalHosts }},
		field{json: "internal_clients", zeek: "int_clients", kind: kindAddrs, maxSet: maxSet,
			addrs: func(r *aggregate.Interval) []netip.Addr { return r.InternalClients }},
		field{json: "external_clients", zeek: "ext_clients", kind: kindAddrs, maxSet: maxSet,
			addrs: func(r *aggregate.Interval) []netip.Addr { return r.ExternalClients }},
	)
	for i := range fs {
		fs[i].jsonKey, fs[i].zeekKey = `,"`+fs[i].json+`":`, `,"`+fs[i].zeek+`":`
	}
	return fs
}

// setPorts returns the port array to write, capped.
func (f *field) setPorts(r *aggregate.Interval) []aggregate.PortKey {
	return capped(f.ports(r), f.maxSet)
}

// setAddrs returns the address array to write, capped.
func (f *field) setAddrs(r *aggregate.Interval) []netip.Addr {
	return capped(f.addrs(r), f.maxSet)
}

// isCut reports whether the field is a set whose array the cap cuts.
func (f *field) isCut(r *aggregate.Interval) bool {
	if f.maxSet <= 0 {
		return false
	}
	switch f.kind {
	case kindPorts:
		return len(f.ports(r)) > f.maxSet
	case kindAddrs:
		return len(f.addrs(r)) > f.maxSet
	}
	return false
}

// capped returns the first max items (all when max is 0).
func capped[T any](items []T, max int) []T {
	if max > 0 && len(items) > max {
		return items[:max]
	}
	return items
}

// pcr returns the statistic a PCR field holds and whether it is set.
func (f *field) pcr(r *aggregate.Interval) (float64, bool) {
	p := &r.Services[f.svc].PCR
	if p.Count == 0 {
		return 0, false
	}
	switch f.kind {
	case kindPCRAvg:
		return p.Average(), true
	case kindPCRMax:
		return p.Max, true
	}
	return p.Min, true
}
