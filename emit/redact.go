package emit

import (
	"net/url"
	"strings"
)

// redacted replaces a secret in every message.
const redacted = "xxxxx"

// Redact returns the destination dest as it may be printed: in a log line,
// an error or a metric label. A URL's password (user:PASSWORD@host, the
// userinfo ending at the last '@' before the query, as the parsers read
// it) and the values of query parameters that name a secret (password,
// token, key, secret, auth, credential…) become "xxxxx", a malformed query
// becomes "xxxxx" whole, and a fragment is dropped. Anything that is not SCHEME://… (a file path) is returned
// as is. Redact never fails: a malformed URL is redacted all the same.
func Redact(dest string) string {
	scheme, ok := schemeOf(dest)
	if !ok {
		return dest
	}
	rest := dest[len(scheme)+len("://"):]
	rest, _, _ = strings.Cut(rest, "#")
	main, query, hasQuery := strings.Cut(rest, "?")
	var b strings.Builder
	b.Grow(len(dest))
	b.WriteString(dest[:len(scheme)+len("://")])
	if at := strings.LastIndexByte(main, '@'); at >= 0 {
		user, _, hasPass := strings.Cut(main[:at], ":")
		b.WriteString(user)
		if hasPass {
			b.WriteString(":" + redacted)
		}
		main = main[at:]
	}
	b.WriteString(main)
	if hasQuery {
		b.WriteByte('?')
		if _, err := url.ParseQuery(query); err != nil {
			// A malformed query may hold a secret anywhere.
			b.WriteString(redacted)
			return b.String()
		}
		for i, param := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			key, _, hasValue := strings.Cut(param, "=")
			b.WriteString(key)
			if !hasValue {
				continue
			}
			b.WriteByte('=')
			if secretParam(key) {
				b.WriteString(redacted)
			} else {
				b.WriteString(param[len(key)+1:])
			}
		}
	}
	return b.String()
}

// secretParam reports whether a query parameter's name says its value is
// a secret. Unknown names that look like one count: better a redacted
// setting than a printed password.
func secretParam(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"pass", "pwd", "secret", "token", "key", "auth", "cred"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}
