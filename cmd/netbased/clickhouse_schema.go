package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/netbased/netbased/emit"
)

// clickhouseSchemaCommand prints the DDL of the ClickHouse output (tables,
// the merged view DATABASE.intervals, the Kafka path, the Distributed
// tables of a cluster), for operators who create schemas themselves
// (--out clickhouse://…/DB?create_schema=false). Every statement is
// idempotent; on a cluster without distributed DDL run it on every server.
func clickhouseSchemaCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clickhouse-schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	schema := emit.ClickHouseSchema{Database: "netbase"}
	fs.StringVar(&schema.Database, "database", schema.Database, "the `DATABASE` of the tables and of the merged view DATABASE.intervals")
	fs.StringVar(&schema.Cluster, "cluster", "", "a remote_servers `CLUSTER`: Distributed tables sharded by address over it")
	kafka := fs.String("kafka", "", "add the Kafka path: ClickHouse consumes kafka://`BROKER[,BROKER]/TOPIC`, where sensors write --format clickhouse")
	group := fs.String("kafka-group", "", "the Kafka consumer `GROUP` of ClickHouse (default netbased-clickhouse)")
	consumers := fs.Int("kafka-consumers", 1, "Kafka consumers per server")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: netbased clickhouse-schema [flags]\n\nPrints the ClickHouse DDL of --out clickhouse://HOST/DATABASE.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if *kafka != "" {
		kc, err := emit.ParseKafkaURL(*kafka)
		if err != nil {
			return fmt.Errorf("%w: --kafka: %v", errUsage, err)
		}
		schema.Kafka = &emit.ClickHouseKafka{Brokers: kc.Brokers, Topic: kc.Topic, Group: *group, Consumers: *consumers}
	}
	if err := schema.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	_, err := io.WriteString(stdout, schema.Script())
	return err
}
