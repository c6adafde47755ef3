package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/netbased/netbased/emit"
)

// openOutput opens the --out destination as an emit.Writer in the --format
// encoding:
//   - "-" (or empty): standard output;
//   - es+http://[user:pass@]host:9200[,host2:9200][/index-pattern] (or
//     es+https://): Elasticsearch's _bulk API, index pattern default
//     netbase-%Y.%m.%d; the TLS settings and the API key come from the
//     es_* options (applyElasticsearchOptions);
//   - kafka://broker[,broker]/topic[?compression=…&tls=true&sasl=…&user=…]:
//     one Kafka record per interval, keyed by address; a SASL password comes
//     from $NETBASED_KAFKA_PASSWORD;
//   - anything else: a file, rotated by --rotate-size/--rotate-every.
//
// Elasticsearch and Kafka take the json or dynamite format.
func openOutput(o *Options, stdout io.Writer) (*emit.Writer, error) {
	format, err := emit.ParseFormat(o.Format)
	if err != nil {
		return nil, fmt.Errorf("format: %w", err)
	}
	enc := emit.NewEncoder(format)
	switch {
	case o.Out == "" || o.Out == "-":
		return emit.NewWriter(emit.NewStreamSink(bufio.NewWriterSize(stdout, 64<<10)), enc), nil
	case strings.HasPrefix(o.Out, "es+"):
		cfg, _, err := emit.ParseElasticsearchOut(o.Out)
		if err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		cfg.Format = format
		if err := o.applyElasticsearchOptions(&cfg); err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		sink, err := emit.NewElasticsearchSink(cfg)
		if err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		return emit.NewWriter(sink, enc), nil
	case strings.HasPrefix(o.Out, emit.KafkaURLScheme):
		cfg, err := emit.ParseKafkaURL(o.Out)
		if err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		cfg.Format = format
		if pass := os.Getenv("NETBASED_KAFKA_PASSWORD"); pass != "" {
			cfg.SASLPassword = pass
		}
		sink, err := emit.NewKafkaSink(cfg)
		if err != nil {
			return nil, fmt.Errorf("out: %w", err)
		}
		return emit.NewWriter(sink, enc), nil
	}
	sink, err := emit.OpenFile(o.Out, emit.FileOptions{RotateSize: o.RotateSize, RotateEvery: time.Duration(o.RotateEvery), Truncate: o.overwrite})
	if err != nil {
		return nil, fmt.Errorf("out: %w", err)
	}
	return emit.NewWriter(sink, enc), nil
}
