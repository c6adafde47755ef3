package emit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PingElasticsearch asks every node of cfg for its banner (GET /) with
// cfg's credentials and TLS settings, as the sink would connect, and
// returns what failed: a node that cannot be reached, a TLS or
// authentication failure, or an answer that is not Elasticsearch's.
func PingElasticsearch(ctx context.Context, cfg ElasticsearchConfig) error {
	if len(cfg.URLs) == 0 {
		return errors.New("elasticsearch: no URL given")
	}
	transport, err := cfg.transport()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()
	var errs []error
	for _, raw := range cfg.URLs {
		u, ok := parseESNode(raw)
		if !ok {
			errs = append(errs, fmt.Errorf("elasticsearch: URL %q: want http://host:port or https://host:port", raw))
			continue
		}
		user, pass := cfg.Username, cfg.Password
		if u.User != nil && user == "" {
			user = u.User.Username()
			pass, _ = u.User.Password()
		}
		u.User = nil
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(u.String(), "/")+"/", nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("elasticsearch %s: %w", u.Redacted(), err))
			continue
		}
		if auth := esAuthorization(user, pass, cfg.APIKey); auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := client.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("elasticsearch %s: %w", u.Redacted(), err))
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
			errs = append(errs, fmt.Errorf("elasticsearch %s: authentication refused: HTTP %d: %s", u.Redacted(), res.StatusCode, snippet(body)))
		case res.StatusCode != http.StatusOK:
			errs = append(errs, fmt.Errorf("elasticsearch %s: HTTP %d: %s", u.Redacted(), res.StatusCode, snippet(body)))
		case res.Header.Get("X-Elastic-Product") != "Elasticsearch":
			errs = append(errs, fmt.Errorf("elasticsearch %s: %w", u.Redacted(), errNotElasticsearch))
		}
	}
	return errors.Join(errs...)
}
