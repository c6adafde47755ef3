package traffic

import (
	"fmt"
	"strings"
)

var loremWords = strings.Fields(`lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor
incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi
aliquip ex ea commodo consequat duis aute irure in reprehenderit voluptate velit esse cillum fugiat nulla pariatur`)

// text returns n bytes of deterministic, HTML-ish filler.
func (g *generator) text(n int) []byte {
	var sb strings.Builder
	sb.Grow(n + 16)
	sb.WriteString("<!doctype html>\n<html><head><title>Status</title></head><body>\n<p>")
	for sb.Len() < n {
		sb.WriteString(loremWords[g.rng.IntN(len(loremWords))])
		if g.rng.IntN(12) == 0 {
			sb.WriteString(".</p>\n<p>")
		} else {
			sb.WriteByte(' ')
		}
	}
	return []byte(sb.String()[:n])
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
	"curl/8.5.0",
	"Microsoft-CryptoAPI/10.0",
}

// httpRequest builds a GET (body nil) or POST request.
func (g *generator) httpRequest(method, host, path string, body []byte) []byte {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n",
		method, path, host, userAgents[g.rng.IntN(len(userAgents))])
	if body != nil {
		fmt.Fprintf(&sb, "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n", len(body))
	}
	sb.WriteString("Connection: keep-alive\r\n\r\n")
	return append([]byte(sb.String()), body...)
}

// httpResponse builds a response with an HTML body of n bytes.
func (g *generator) httpResponse(status int, reason string, n int) []byte {
	body := g.text(n)
	date := g.cfg.Start.Format("Mon, 02 Jan 2006 15:04:05 GMT")
	head := fmt.Sprintf("HTTP/1.1 %d %s\r\nDate: %s\r\nServer: nginx/1.24.0\r\nContent-Type: text/html; charset=utf-8\r\n"+
		"Content-Length: %d\r\nCache-Control: max-age=600\r\nConnection: keep-alive\r\n\r\n", status, reason, date, len(body))
	return append([]byte(head), body...)
}
