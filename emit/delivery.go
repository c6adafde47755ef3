package emit

// DeliveryStats are a remote output's running totals, in records, in the
// shape the daemon's first metrics used. Stats has them all, with the
// drops by reason and the spool.
type DeliveryStats struct {
	// Output names the kind of output ("elasticsearch", "kafka").
	Output string
	// Delivered records were acknowledged by the remote end.
	Delivered uint64
	// Retried counts record re-sends.
	Retried uint64
	// Failed records were lost (every drop reason).
	Failed uint64
	// Pending records are accepted but not yet delivered or dropped.
	Pending int64
}

// Delivery returns the output's delivery totals when it is a remote output
// (false for standard output and files).
func (o *Output) Delivery() (DeliveryStats, bool) {
	if !o.remote {
		return DeliveryStats{}, false
	}
	st := o.Stats()
	return DeliveryStats{Output: st.Kind, Delivered: st.Delivered, Retried: st.Retried, Failed: st.DroppedTotal(),
		Pending: st.Pending}, true
}
