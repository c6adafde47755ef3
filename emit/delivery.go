package emit

// DeliveryStats are a remote sink's running totals, in records, for
// metrics: the same shape for every remote output.
type DeliveryStats struct {
	// Output names the kind of sink ("elasticsearch", "kafka").
	Output string
	// Delivered records were acknowledged by the remote end.
	Delivered uint64
	// Retried counts record re-sends.
	Retried uint64
	// Failed records failed definitively (reported by Sync).
	Failed uint64
	// Pending records are accepted but not yet acknowledged or failed.
	Pending int64
}

// DeliveryReporter is implemented by sinks that deliver to a remote
// service.
type DeliveryReporter interface {
	DeliveryStats() DeliveryStats
}

// DeliveryStats reports the Elasticsearch sink's totals.
func (s *ElasticsearchSink) DeliveryStats() DeliveryStats {
	st := s.Stats()
	return DeliveryStats{Output: "elasticsearch", Delivered: st.Documents, Retried: st.Retried, Failed: st.Failed, Pending: int64(st.Pending)}
}

// DeliveryStats reports the Kafka sink's totals (kgo retries internally
// and does not count re-sends).
func (s *KafkaSink) DeliveryStats() DeliveryStats {
	st := s.Stats()
	return DeliveryStats{Output: "kafka", Delivered: st.Produced, Failed: st.Failed, Pending: st.Buffered}
}

// Delivery returns the sink's delivery totals when it is a remote sink.
func (w *Writer) Delivery() (DeliveryStats, bool) {
	r, ok := w.sink.(DeliveryReporter)
	if !ok {
		return DeliveryStats{}, false
	}
	return r.DeliveryStats(), true
}
