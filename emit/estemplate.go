package emit

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Elasticsearch mapping types of the record's fields.
const (
	esLong    = "long"   // counts (unsigned 64-bit in the record; long holds up to 2^63-1)
	esFloat   = "float"  // producer/consumer ratios, in [-1, 1]: 7 significant digits are more than Zeek logs (6)
	esDouble  = "double" // interval_size: seconds with microseconds need more than a float's 7 digits
	esKeyword = "keyword"
	esIP      = "ip"
	esDate    = "date"
)

// ElasticsearchTemplate returns a composable index template (the body of
// PUT _index_template/<name>) that maps every field the format's documents
// carry, for the indices the index pattern index (an
// ElasticsearchConfig.Index; empty: DefaultElasticsearchIndex) writes to.
// The mapping follows the one field table the encoders use: counts are
// long, the ratios float, interval_size double, times date, the monitored
// address and the address sets ip, port sets and names keyword. Unknown
// fields are kept in _source but not indexed (dynamic: false), so that a
// mapping can never be locked to a wrong type by a first document.
func ElasticsearchTemplate(format Format, index string) ([]byte, error) {
	if index == "" {
		index = DefaultElasticsearchIndex
	}
	ip, err := parseIndexPattern(index)
	if err != nil {
		return nil, err
	}
	var props map[string]any
	switch format {
	case FormatJSON:
		props = jsonMapping()
	case FormatDynamite:
		props = dynamiteMapping()
	default:
		return nil, fmt.Errorf("elasticsearch: format %s is not a document format (want json or dynamite)", format)
	}
	tmpl := map[string]any{
		"index_patterns": []string{ip.wildcard()},
		"priority":       200,
		"template": map[string]any{
			"mappings": map[string]any{
				"dynamic":    false,
				"properties": props,
			},
		},
		"_meta": map[string]any{
			"description": "netbased Interval records, " + format.String() + " format",
			"format":      format.String(),
		},
	}
	return json.MarshalIndent(tmpl, "", "  ")
}

// ElasticsearchTemplateName is the name under which the template is meant
// to be installed (PUT _index_template/netbase).
const ElasticsearchTemplateName = "netbase"

func typed(t string) map[string]any { return map[string]any{"type": t} }

// recordMapping maps the columns of recordFields, named as json or zeek.
func recordMapping(props map[string]any, zeekNames bool) {
	for _, f := range recordFields(0) {
		name := f.json
		if zeekNames {
			name = f.zeek
		}
		switch f.kind {
		case kindCount:
			props[name] = typed(esLong)
		case kindPCRAvg, kindPCRMax, kindPCRMin:
			props[name] = typed(esFloat)
		case kindPorts:
			props[name] = typed(esKeyword)
		case kindAddrs:
			props[name] = typed(esIP)
		}
	}
	props[truncatedKey] = typed(esKeyword)
}

// jsonMapping maps a JSONEncoder document and the index name the sink adds.
func jsonMapping() map[string]any {
	props := map[string]any{
		"address":               typed(esIP),
		"start_time":            typed(esDate),
		"end_time":              typed(esDate),
		"interval_size":         typed(esDouble),
		"node_hostname":         typed(esKeyword),
		"node_ip_address":       typed(esKeyword),
		"originating_agent_tag": typed(esKeyword),
		"event_type":            typed(esKeyword),
		"forwarder_type":        typed(esKeyword),
		"elasticsearch_index":   typed(esKeyword),
	}
	recordMapping(props, false)
	return props
}

// dynamiteMapping maps a DynamiteEncoder document.
func dynamiteMapping() map[string]any {
	zeek := map[string]any{
		"address":   typed(esIP),
		"starttime": typed(esDate),
		"endtime":   typed(esDate),
	}
	recordMapping(zeek, true)
	object := func(props map[string]any) map[string]any {
		return map[string]any{"properties": props}
	}
	return map[string]any{
		"@timestamp": typed(esDate),
		"event_type": typed(esKeyword),
		"node": object(map[string]any{
			"hostname": typed(esKeyword),
			"ipaddr":   typed(esKeyword),
		}),
		"fields": object(map[string]any{"originating_agent_tag": typed(esKeyword)}),
		"zeek":   object(zeek),
	}
}

// wildcard is the index pattern matching every index the pattern expands
// to: the literal text before the first date verb, then "*" (the index
// itself when there is no verb).
func (ip indexPattern) wildcard() string {
	if ip.fixed {
		return ip.literal
	}
	var b strings.Builder
	for _, part := range ip.parts {
		if part.isVerb() {
			break
		}
		b.WriteString(part.text)
	}
	return b.String() + "*"
}
