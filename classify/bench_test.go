package classify

import (
	"encoding/hex"
	"strings"
	"testing"
)

// flowChunks decodes a case's chunks once.
type flowChunk struct {
	orig bool
	data []byte
}

func decodeFlow(b *testing.B, chunks []chunk) []flowChunk {
	out := make([]flowChunk, len(chunks))
	for i, c := range chunks {
		d, err := hex.DecodeString(c.hex)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = flowChunk{c.orig, d}
	}
	return out
}

func findCase(b *testing.B, name string) traceCase {
	for _, tc := range append(append([]traceCase{}, traceCases...), traceCasesUDP...) {
		if tc.name == name {
			return tc
		}
	}
	b.Fatalf("no trace case %q", name)
	return traceCase{}
}

// shortGET and short204 are a browser's request and an empty answer: one
// segment each, the most common HTTP exchange.
const (
	shortGET = "GET /ok HTTP/1.1\r\nHost: updates.example.net\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) " +
		"Gecko/20100101 Firefox/125.0\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
	short204 = "HTTP/1.1 204 No Content\r\nDate: Mon, 07 Dec 2026 09:00:00 GMT\r\nServer: nginx/1.24.0\r\n" +
		"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"
)

// BenchmarkClassify classifies one whole connection per iteration, the way
// the flow tracker drives it (Start, Deliver while Wants, Services).
func BenchmarkClassify(b *testing.B) {
	flows := []struct {
		name string
		tc   traceCase
		want string
	}{
		{"http", traceCase{name: "http", t: TCP, origPort: 40000, respPort: 80, chunks: []chunk{
			{true, hexHTTPGet}, {false, hexHTTPOK + strings.Repeat("3c68746d6c3e", 100)}, {false, strings.Repeat("3c68746d6c3e", 200)},
		}}, "http"},
		{"http-short", traceCase{name: "http-short", t: TCP, origPort: 40000, respPort: 80, chunks: []chunk{
			{true, hex.EncodeToString([]byte(shortGET))}, {false, hex.EncodeToString([]byte(short204))},
		}}, "http"},
		{"http-post-trace", findCase(b, "http-no-crlf"), "http"},
		{"tls", findCase(b, "tls-443"), "ssl"},
		{"dns", findCase(b, "dns-teredo"), "dns"},
		{"imap-starttls", findCase(b, "imap-starttls"), "imap,ssl"},
		{"ssh", findCase(b, "ssh-pre-banner"), "ssh"},
		{"smb2-pipe", traceCase{name: "smb2", t: TCP, origPort: 50000, respPort: 445, chunks: smb2Session()},
			"gssapi,ntlm,smb,dce_rpc"},
	}
	c := New(All)
	for _, f := range flows {
		chunks := decodeFlow(b, f.tc.chunks)
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			var st State
			var svc []string
			for i := 0; i < b.N; i++ {
				c.Start(&st, f.tc.t, f.tc.origPort, f.tc.respPort, false)
				for _, ch := range chunks {
					if f.tc.t == TCP && !st.Wants(ch.orig) {
						continue
					}
					c.Deliver(&st, ch.orig, ch.data)
				}
				svc = st.Services(svc[:0])
			}
			if len(svc) == 0 {
				b.Fatalf("%s: nothing confirmed", f.name)
			}
		})
	}
}

// TestNoAllocPerChunk: once a recognizer's buffer exists, further chunks do
// not allocate (until the buffer doubles).
func TestNoAllocPerChunk(t *testing.T) {
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 25, false)
	c.Deliver(&st, false, []byte("220 mail.example.com ESMTP ready\r\n"))
	c.Deliver(&st, true, []byte("EHLO a\r\n"))
	if st.x == nil {
		t.Fatal("SMTP waiting for STARTTLS keeps no buffer")
	}
	line := []byte("NOOP\r\n")
	allocs := testing.AllocsPerRun(20, func() { c.Deliver(&st, true, line) })
	if allocs != 0 {
		t.Errorf("%.1f allocations per chunk, want 0", allocs)
	}
}
