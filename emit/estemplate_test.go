package emit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"
)

// Every field of every document the json and dynamite encoders write is
// mapped by the template, with a type that fits its JSON value; floating
// point fields are JSON floats even when integral (interval_size 300.0,
// a ratio 1.0) and counts are JSON integers.
func TestElasticsearchTemplateMapsEveryField(t *testing.T) {
	for _, f := range []Format{FormatJSON, FormatDynamite} {
		t.Run(f.String(), func(t *testing.T) {
			raw, err := ElasticsearchTemplate(f, "")
			if err != nil {
				t.Fatal(err)
			}
			var tmpl struct {
				IndexPatterns []string `json:"index_patterns"`
				Template      struct {
					Mappings struct {
						Dynamic    bool                       `json:"dynamic"`
						Properties map[string]json.RawMessage `json:"properties"`
					} `json:"mappings"`
				} `json:"template"`
			}
			if err := json.Unmarshal(raw, &tmpl); err != nil {
				t.Fatalf("template is not JSON: %v\n%s", err, raw)
			}
			if len(tmpl.IndexPatterns) != 1 || tmpl.IndexPatterns[0] != "netbase-*" {
				t.Errorf("index_patterns %q, want [netbase-*]", tmpl.IndexPatterns)
			}
			types := map[string]string{}
			flattenMapping(t, "", tmpl.Template.Mappings.Properties, types)

			seen := map[string]bool{}
			sc := bufio.NewScanner(bytes.NewReader(encodeSample(t, f)))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				dec := json.NewDecoder(strings.NewReader(sc.Text()))
				dec.UseNumber()
				var doc map[string]any
				if err := dec.Decode(&doc); err != nil {
					t.Fatal(err)
				}
				checkDocument(t, "", doc, types, seen)
			}
			for _, want := range []string{"interval_size", "zeek.pcr_dns_max", "http_producer_consumer_ratio_max", "zeek.ext_hosts", "external_ports"} {
				if _, mapped := types[want]; mapped && !seen[want] {
					t.Errorf("the sample never wrote %s: the test checks less than it claims", want)
				}
			}
			var unseen []string
			for name := range types {
				if !seen[name] && name != "elasticsearch_index" {
					unseen = append(unseen, name)
				}
			}
			sort.Strings(unseen)
			if len(unseen) > 0 {
				t.Errorf("mapped but never written (stale mapping?): %v", unseen)
			}
		})
	}
}

// flattenMapping collects leaf field paths and their types.
func flattenMapping(t *testing.T, prefix string, props map[string]json.RawMessage, out map[string]string) {
	t.Helper()
	for name, raw := range props {
		var p struct {
			Type       string                     `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			t.Fatal(err)
		}
		if p.Properties != nil {
			flattenMapping(t, prefix+name+".", p.Properties, out)
			continue
		}
		if p.Type == "" {
			t.Errorf("%s%s has no type", prefix, name)
		}
		out[prefix+name] = p.Type
	}
}

func checkDocument(t *testing.T, prefix string, doc map[string]any, types map[string]string, seen map[string]bool) {
	t.Helper()
	for k, v := range doc {
		name := prefix + k
		if obj, ok := v.(map[string]any); ok {
			checkDocument(t, name+".", obj, types, seen)
			continue
		}
		typ, ok := types[name]
		if !ok {
			t.Errorf("%s is written but not mapped", name)
			continue
		}
		seen[name] = true
		values := []any{v}
		if arr, ok := v.([]any); ok {
			values = arr
		}
		for _, item := range values {
			if msg := valueFits(typ, item); msg != "" {
				t.Errorf("%s (mapped %s): %v %s", name, typ, item, msg)
			}
		}
	}
}

// valueFits says what is wrong with a JSON value for a mapping type ("" if
// nothing).
func valueFits(typ string, v any) string {
	switch typ {
	case esLong:
		n, ok := v.(json.Number)
		if !ok || strings.ContainsAny(n.String(), ".eE") {
			return "is not a JSON integer"
		}
	case esFloat, esDouble:
		n, ok := v.(json.Number)
		if !ok || !strings.ContainsAny(n.String(), ".eE") {
			return "is not a JSON float (an integral value must be written 1.0, not 1)"
		}
	case esIP:
		s, ok := v.(string)
		if _, err := netip.ParseAddr(s); !ok || err != nil {
			return "is not an IP address"
		}
	case esDate:
		s, ok := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
			return "is not an RFC 3339 time"
		}
	case esKeyword:
		if _, ok := v.(string); !ok {
			return "is not a string"
		}
	default:
		return "has an unexpected mapping type"
	}
	return ""
}

func TestElasticsearchTemplateIndexPatterns(t *testing.T) {
	for _, tc := range []struct{ index, want string }{
		{"", "netbase-*"},
		{"netbase-%Y.%m.%d", "netbase-*"},
		{"sensors-east-%Y.%m", "sensors-east-*"},
		{"intervals", "intervals"},
		{"nb-%%d", "nb-%d"}, // %% is a literal %, never a verb
	} {
		raw, err := ElasticsearchTemplate(FormatJSON, tc.index)
		if err != nil {
			t.Fatalf("%q: %v", tc.index, err)
		}
		var tmpl struct {
			IndexPatterns []string `json:"index_patterns"`
		}
		if err := json.Unmarshal(raw, &tmpl); err != nil {
			t.Fatal(err)
		}
		if len(tmpl.IndexPatterns) != 1 || tmpl.IndexPatterns[0] != tc.want {
			t.Errorf("index %q: index_patterns %q, want %q", tc.index, tmpl.IndexPatterns, tc.want)
		}
	}
	// A literal "%d" (written %%d) right after a verb stays literal text.
	ip, err := parseIndexPattern("nb-%Y%%d")
	if err != nil {
		t.Fatal(err)
	}
	if got := ip.expand([]byte("2026-01-02T03")); got != "nb-2026%d" {
		t.Errorf("nb-%%Y%%%%d expands to %q, want nb-2026%%d", got)
	}
	if _, err := ElasticsearchTemplate(FormatZeek, ""); err == nil {
		t.Error("a template for the zeek format (not documents) was accepted")
	}
	if _, err := ElasticsearchTemplate(FormatJSON, "Bad-%Q"); err == nil {
		t.Error("a bad index pattern was accepted")
	}
}

// Integral floating-point values keep a fraction in every format; counts
// never get one.
func TestFloatsStayFloats(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{300, "300.0"}, {1, "1.0"}, {0, "0.0"}, {-1, "-1.0"}, {0.08, "0.08"},
		{47.000421, "47.000421"}, {1e-7, "1e-07"}, {1e21, "1e+21"},
	} {
		if got := string(appendJSONFloat(nil, tc.v)); got != tc.want {
			t.Errorf("appendJSONFloat(%v) = %s, want %s", tc.v, got, tc.want)
		}
	}
}
