package emit

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Kind is one kind of output, registered by the URL schemes it handles:
// how to open a destination of that kind.
type Kind struct {
	// Name names the kind in metrics labels and messages
	// ("elasticsearch"): a constant, never a URL.
	Name string
	// Schemes are the URL schemes of its destinations ("es+http",
	// "es+https"), lowercase.
	Schemes []string
	// Paths is set for the one kind that takes the destinations without
	// a scheme (file paths).
	Paths bool
	// Open parses dest (a URL of one of Schemes) and opens the sink. It
	// chooses the encoder: the one p.Format names, after checking that the
	// destination takes it, or one of its own (a database row). Errors
	// about the settings wrap ErrBadOutput; errors and messages never
	// carry dest unredacted (see Redact).
	Open func(ctx context.Context, dest string, p OpenParams) (Opened, error)
}

// OpenParams are the settings an output kind may use.
type OpenParams struct {
	// Format is the --format encoding.
	Format Format
	// Encoder configures the encoders (--max-set-size).
	Encoder EncoderOptions
	// Getenv reads secrets from the environment ($NETBASED_ES_API_KEY,
	// $NETBASED_KAFKA_PASSWORD); default os.Getenv.
	Getenv func(string) string
	// Stdout is the destination "-" (default os.Stdout).
	Stdout io.Writer
	// File configures file destinations (rotation).
	File FileOptions
	// ConfigureElasticsearch and ConfigureKafka, when set, adjust a
	// parsed destination's settings before its sink is made (settings
	// that are options rather than part of the URL: TLS files, an API key
	// read from a file). An error wrapping ErrBadOutput is a usage error.
	ConfigureElasticsearch func(*ElasticsearchConfig) error
	ConfigureKafka         func(*KafkaConfig) error
}

// getenv reads an environment variable through p.Getenv.
func (p *OpenParams) getenv(key string) string {
	if p.Getenv == nil {
		return os.Getenv(key)
	}
	return p.Getenv(key)
}

// Opened is an opened destination.
type Opened struct {
	// Sink delivers the documents.
	Sink Sink
	// Encoder encodes the records into document bodies.
	Encoder Encoder
	// Destination describes where the records go, credentials removed
	// (for logs; see Redact).
	Destination string
	// MaxBatchDocs and MaxBatchBytes bound the documents and body bytes
	// of one Deliver call (0: the Output's defaults, 5000 and 5 MiB).
	MaxBatchDocs, MaxBatchBytes int
	// Remote is set for a back end reached over the network: its records
	// go through the disk spool when there is one (a file or standard
	// output is written locally and has no use for one).
	Remote bool

	// spoolKey names the destination's spool: the destination without
	// credentials and query, so that a new password or a tuning
	// parameter does not leave the spooled records behind.
	spoolKey string
}

// Registry maps destination schemes to output kinds. The zero value is
// empty; DefaultRegistry has every kind netbased ships.
type Registry struct {
	kinds []Kind
}

// DefaultRegistry returns a registry of the built-in outputs: standard
// output ("-"), files (a path, or file://PATH), Elasticsearch (es+http://,
// es+https://), Kafka (kafka://) and ClickHouse (clickhouse://).
func DefaultRegistry() *Registry {
	r := &Registry{}
	r.Register(stdoutKind())
	r.Register(fileKind())
	r.Register(elasticsearchKind())
	r.Register(kafkaKind())
	r.Register(clickHouseKind())
	return r
}

// Register adds k. It panics if one of k's schemes is taken (a programming
// error, like registering an HTTP handler twice).
func (r *Registry) Register(k Kind) {
	for _, s := range k.Schemes {
		if _, ok := r.lookupScheme(s); ok {
			panic(fmt.Sprintf("emit: output scheme %q registered twice", s))
		}
	}
	if k.Paths {
		if _, ok := r.lookupPaths(); ok {
			panic("emit: two output kinds take file paths")
		}
	}
	r.kinds = append(r.kinds, k)
}

// Kinds lists the registered kinds in registration order.
func (r *Registry) Kinds() []Kind { return slices.Clone(r.kinds) }

// Schemes lists the registered schemes, for messages ("es+http, kafka").
func (r *Registry) Schemes() []string {
	var out []string
	for _, k := range r.kinds {
		out = append(out, k.Schemes...)
	}
	return out
}

func (r *Registry) lookupPaths() (Kind, bool) {
	for _, k := range r.kinds {
		if k.Paths {
			return k, true
		}
	}
	return Kind{}, false
}

func (r *Registry) lookupScheme(s string) (Kind, bool) {
	for _, k := range r.kinds {
		for _, ks := range k.Schemes {
			if ks == s {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// Lookup returns the kind that handles dest: the one registered for its
// scheme, the kind of "-" for "-" or "", and the kind without a scheme
// (files) for anything that is not SCHEME://….
func (r *Registry) Lookup(dest string) (Kind, error) {
	if dest == "" || dest == "-" {
		if k, ok := r.lookupScheme(stdoutScheme); ok {
			return k, nil
		}
	}
	s, ok := schemeOf(dest)
	if !ok {
		if k, found := r.lookupPaths(); found {
			return k, nil
		}
		return Kind{}, badOutput("output %s: no output kind takes file paths", Redact(dest))
	}
	if k, found := r.lookupScheme(s); found {
		return k, nil
	}
	var schemes []string
	for _, s := range r.Schemes() {
		if s != stdoutScheme {
			schemes = append(schemes, s+"://")
		}
	}
	return Kind{}, badOutput("output %s: unknown scheme %q (want -, a file path, or one of %s)",
		Redact(dest), s, strings.Join(schemes, ", "))
}

// Open opens dest as an Output: the kind registered for its scheme opens
// the sink and chooses the encoder, and the Output queues, spools and
// delivers with opt's settings.
func (r *Registry) Open(ctx context.Context, dest string, p OpenParams, opt OutputOptions) (*Output, error) {
	k, err := r.Lookup(dest)
	if err != nil {
		return nil, err
	}
	if p.Stdout == nil {
		p.Stdout = os.Stdout
	}
	if p.Getenv == nil {
		p.Getenv = os.Getenv
	}
	o, err := k.Open(ctx, dest, p)
	if err != nil {
		return nil, err
	}
	if o.Encoder == nil {
		o.Encoder = NewEncoder(p.Format, p.Encoder)
	}
	if o.Destination == "" {
		o.Destination = Redact(dest)
	}
	o.spoolKey = spoolKey(dest)
	out, err := newOutput(k.Name, o, opt)
	if err != nil {
		_ = o.Sink.Close() // after a failed start its error is of no interest
		return nil, err
	}
	return out, nil
}

// spoolKey is dest without its userinfo, query and fragment.
func spoolKey(dest string) string {
	scheme, ok := schemeOf(dest)
	if !ok {
		return dest
	}
	rest := dest[len(scheme)+len("://"):]
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}
