package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/netbased/netbased/emit"
)

// esAPIKeyCredential is the name of the API key's file in systemd's
// credentials directory (LoadCredential=es-api-key:/etc/netbased/es-api-key).
const esAPIKeyCredential = "es-api-key"

// applyElasticsearchOptions sets the TLS settings and the API key of an
// Elasticsearch output from the options. The API key comes from the first
// of: es_api_key (--es-api-key), the file es_api_key_file
// (--es-api-key-file), the systemd credential es-api-key
// ($CREDENTIALS_DIRECTORY/es-api-key), $NETBASED_ES_API_KEY. Without one,
// the user:password of the URL (if any) authenticates.
func (o *Options) applyElasticsearchOptions(cfg *emit.ElasticsearchConfig) error {
	cfg.CAFile = o.ESCAFile
	cfg.InsecureSkipVerify = o.ESInsecureSkipVerify
	key, err := o.elasticsearchAPIKey()
	if err != nil {
		return err
	}
	if key != "" {
		cfg.APIKey = key
	}
	return nil
}

// elasticsearchAPIKey resolves the API key (see applyElasticsearchOptions);
// "" when none is configured.
func (o *Options) elasticsearchAPIKey() (string, error) {
	if o.ESAPIKey != "" {
		return strings.TrimSpace(o.ESAPIKey), nil
	}
	path := o.ESAPIKeyFile
	if path == "" {
		if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
			candidate := filepath.Join(dir, esAPIKeyCredential)
			if _, err := os.Stat(candidate); err == nil {
				path = candidate
			}
		}
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("es_api_key_file: %w", err)
		}
		key := strings.TrimSpace(string(data))
		if key == "" || strings.ContainsAny(key, " \t\r\n") {
			return "", fmt.Errorf("es_api_key_file: %s does not hold one API key (want the base64 key alone)", path)
		}
		return key, nil
	}
	return strings.TrimSpace(os.Getenv("NETBASED_ES_API_KEY")), nil
}

// esTemplateCommand prints the Elasticsearch index template matching the
// configured output: the format's fields, for the index pattern of --out
// (netbase-* by default). Installing it needs a user with the
// manage_index_templates privilege, which the sensors' own key does not
// need, so an administrator installs it once (deploy/README.md):
//
//	netbased es-template --config /etc/netbased/netbased.yaml |
//	  curl -X PUT -H 'Content-Type: application/json' --data-binary @- https://es:9200/_index_template/netbase
func esTemplateCommand(_ context.Context, args []string, stdout, _ io.Writer) error {
	opts, positional, err := parseCommandArgs("es-template", args, true)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", positional, errUsage)
	}
	format, err := emit.ParseFormat(opts.Format)
	if err != nil {
		return fmt.Errorf("format: %w: %w", err, errUsage)
	}
	index := ""
	if opts.Out != "" && opts.Out != "-" {
		cfg, isES, err := emit.ParseElasticsearchOut(opts.Out)
		switch {
		case !isES:
			return fmt.Errorf("out %q is not an Elasticsearch output (es+http://… or es+https://…): %w", opts.Out, errUsage)
		case err != nil:
			return fmt.Errorf("out: %w: %w", err, errUsage)
		}
		index = cfg.Index
	}
	tmpl, err := emit.ElasticsearchTemplate(format, index)
	if err != nil {
		return fmt.Errorf("%w: %w", err, errUsage) // a zeek format or a bad index pattern
	}
	_, err = fmt.Fprintf(stdout, "%s\n", tmpl)
	return err
}
