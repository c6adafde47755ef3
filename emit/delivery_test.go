package emit

import (
	"bytes"
	"testing"
	"time"
)

// Writer.Delivery reports a remote sink's totals after a window, and
// nothing for local sinks.
func TestWriterDelivery(t *testing.T) {
	if _, ok := NewWriter(NewStreamSink(&bytes.Buffer{}), NewEncoder(FormatJSON, EncoderOptions{})).Delivery(); ok {
		t.Error("a stream sink reports delivery totals")
	}
	recs := testRecords(20, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	es := newFakeES(t)
	esSink, err := NewElasticsearchSink(es.config(FormatJSON))
	if err != nil {
		t.Fatal(err)
	}
	cluster := newKafkaCluster(t)
	sinks := map[string]Sink{"elasticsearch": esSink, "kafka": newTestKafkaSink(t, cluster, KafkaConfig{Format: FormatJSON})}
	for name, sink := range sinks {
		w := NewWriter(sink, NewEncoder(FormatJSON, EncoderOptions{}))
		for i := range recs {
			if err := w.WriteInterval(&recs[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.EndWindow(recs[0].StartTime, recs[0].EndTime); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ds, ok := w.Delivery()
		if !ok || ds.Output != name || ds.Delivered != uint64(len(recs)) || ds.Failed != 0 || ds.Pending != 0 {
			t.Errorf("%s: Delivery() = %+v, %v; want %d delivered, nothing failed or pending", name, ds, ok, len(recs))
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
