package emit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The bulk client posts NDJSON to each node in turn with the credentials,
// and refuses a server that does not say it is Elasticsearch.
func TestESBulkClient(t *testing.T) {
	hits := map[string]int{}
	var auth, ctype string
	handler := func(name string, product bool) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || r.URL.Path != "/prefix/_bulk" {
				http.Error(w, "want POST /prefix/_bulk, got "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
				return
			}
			hits[name]++
			auth, ctype = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
			if product {
				w.Header().Set("X-Elastic-Product", "Elasticsearch")
			}
			_, _ = io.WriteString(w, `{"errors":false,"items":[]}`)
		})
	}
	a := httptest.NewServer(handler("a", true))
	defer a.Close()
	b := httptest.NewServer(handler("b", true))
	defer b.Close()
	c := newESBulkClient(http.DefaultTransport, []string{a.URL + "/prefix/", b.URL + "/prefix"}, "elastic", "pw", "")
	for range 4 {
		res, err := c.bulk(context.Background(), []byte("{}\n{}\n"))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("HTTP %d", res.StatusCode)
		}
	}
	if hits["a"] != 2 || hits["b"] != 2 {
		t.Errorf("requests per node %v, want 2 and 2", hits)
	}
	if auth != "Basic ZWxhc3RpYzpwdw==" || ctype != "application/x-ndjson" {
		t.Errorf("Authorization %q, Content-Type %q", auth, ctype)
	}
	c = newESBulkClient(http.DefaultTransport, []string{a.URL + "/prefix"}, "elastic", "pw", "a2V5")
	res, err := c.bulk(context.Background(), []byte("{}\n{}\n"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if auth != "ApiKey a2V5" {
		t.Errorf("Authorization %q, want the API key (it wins over basic auth)", auth)
	}
	other := httptest.NewServer(handler("other", false))
	defer other.Close()
	c = newESBulkClient(http.DefaultTransport, []string{other.URL + "/prefix"}, "", "", "")
	if _, err := c.bulk(context.Background(), []byte("{}\n{}\n")); !errors.Is(err, errNotElasticsearch) {
		t.Errorf("a server that is not Elasticsearch: %v", err)
	}
}
