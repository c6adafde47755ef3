package emit

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// esBulkClient sends _bulk requests to Elasticsearch over plain HTTP: the
// one API the sink uses, without the weight of the official client (whose
// typed API is most of a cold build). Requests go to the nodes in turn, so
// a failed request's retry goes to the next node.
type esBulkClient struct {
	http  *http.Client
	nodes []string // base URLs without credentials or a trailing slash
	next  atomic.Uint32
	auth  string // the Authorization header; "" for none
}

// newESBulkClient returns a client for the nodes (URLs without
// credentials). An API key wins over a user name and password.
func newESBulkClient(transport http.RoundTripper, nodes []string, user, pass, apiKey string) *esBulkClient {
	c := &esBulkClient{http: &http.Client{Transport: transport}}
	for _, n := range nodes {
		c.nodes = append(c.nodes, strings.TrimSuffix(n, "/"))
	}
	c.auth = esAuthorization(user, pass, apiKey)
	return c
}

// esAuthorization is the Authorization header for the credentials ("" for
// none): an API key wins over a user name and password.
func esAuthorization(user, pass, apiKey string) string {
	switch {
	case apiKey != "":
		return "ApiKey " + apiKey
	case user != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	return ""
}

// parseESNode parses a node URL; ok is false unless it is http:// or
// https:// with a host.
func parseESNode(raw string) (u *url.URL, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, false
	}
	return u, true
}

// errNotElasticsearch refuses a server that does not say it is
// Elasticsearch (as the official client does since 7.14).
var errNotElasticsearch = errors.New("the server did not say it is Elasticsearch (no X-Elastic-Product header)")

// bulk posts body (NDJSON actions and documents) to the next node's _bulk
// endpoint. The caller reads and closes the response body.
func (c *esBulkClient) bulk(ctx context.Context, body []byte) (*http.Response, error) {
	node := c.nodes[int((c.next.Add(1)-1)%uint32(len(c.nodes)))]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, node+"/_bulk", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "netbased")
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 && res.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		res.Body.Close()
		return nil, errNotElasticsearch
	}
	return res, nil
}
