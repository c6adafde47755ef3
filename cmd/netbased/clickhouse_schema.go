package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/netbased/netbased/emit"
)

// clickhouseSchemaOptions are the flags of `netbased clickhouse-schema`.
type clickhouseSchemaOptions struct {
	schema       emit.ClickHouseSchema
	kafka, group string
	consumers    int
}

// register binds the options to fs.
func (o *clickhouseSchemaOptions) register(fs *flag.FlagSet) {
	o.schema.Database, o.consumers = "netbase", 1
	fs.StringVar(&o.schema.Database, "database", o.schema.Database, "the `DATABASE` of the tables and of the merged view DATABASE.intervals")
	fs.StringVar(&o.schema.Cluster, "cluster", "", "a remote_servers `CLUSTER`: Distributed tables sharded by address over it")
	fs.StringVar(&o.kafka, "kafka", "", "add the Kafka path: ClickHouse consumes kafka://`BROKER[,BROKER]/TOPIC`, where sensors write --format clickhouse")
	fs.StringVar(&o.group, "kafka-group", "", "the Kafka consumer `GROUP` of ClickHouse (default netbased-clickhouse)")
	fs.IntVar(&o.consumers, "kafka-consumers", o.consumers, "Kafka consumers per server")
}

// clickhouseSchemaFlags registers the command's flags (help, man page).
func clickhouseSchemaFlags(fs *flag.FlagSet) { new(clickhouseSchemaOptions).register(fs) }

// clickhouseSchemaCommand prints the DDL of the ClickHouse output (tables,
// the merged view DATABASE.intervals, the Kafka path, the Distributed
// tables of a cluster), for operators who create schemas themselves
// (--out clickhouse://…/DB?create_schema=false). Every statement is
// idempotent; on a cluster without distributed DDL run it on every server.
func clickhouseSchemaCommand(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("clickhouse-schema", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // runMain prints the help and the errors
	var o clickhouseSchemaOptions
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", fs.Args(), errUsage)
	}
	if o.kafka != "" {
		kc, err := emit.ParseKafkaURL(o.kafka)
		if err != nil {
			return fmt.Errorf("--kafka: %w: %w", err, errUsage)
		}
		o.schema.Kafka = &emit.ClickHouseKafka{Brokers: kc.Brokers, Topic: kc.Topic, Group: o.group, Consumers: o.consumers}
	}
	if err := o.schema.Validate(); err != nil {
		return fmt.Errorf("%w: %w", err, errUsage)
	}
	_, err := io.WriteString(stdout, o.schema.Script())
	return err
}
