package classify

import "testing"

func TestHTTPRequestLine(t *testing.T) {
	tests := []struct {
		line   string
		method string
		ok     bool
	}{
		{"GET / HTTP/1.1", "GET", true},
		{"POST /x?y=1 HTTP/1.0", "POST", true},
		{"GET /", "GET", true}, // HTTP/0.9
		{"FOO /bar HTTP/1.1", "FOO", true},
		{"GET HTTP/1.1", "GET", true}, // missing_HTTP_uri, still a request in HEAD
		{"GE /", "", false},           // HTTP/0.9 needs a 3-byte method
		{"GET <", "", false},
		{"GET <x", "GET", true},
		{"GET  ", "", false},
		{"GET", "", false},
		{"/index.html HTTP/1.1", "", false},
		{"\x16\x03\x01 GET", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		m, ok := httpRequestLine([]byte(tc.line))
		if ok != tc.ok || string(m) != tc.method {
			t.Errorf("httpRequestLine(%q) = %q,%v want %q,%v", tc.line, m, ok, tc.method, tc.ok)
		}
	}
}

func TestHTTPSignatures(t *testing.T) {
	client := []struct {
		in   string
		want tri
	}{
		{"GET / HTTP/1.1\r\n", yes},
		{"  \r\nPOST /", yes},
		{"RPC_IN_DATA /rpc", yes},
		{"GE", more},
		{"", more},
		{"get / HTTP/1.1", no}, // methods are case-sensitive
		{"FOO / HTTP/1.1", no},
		{"GETX /", no},
	}
	for _, tc := range client {
		if got := httpClientSig([]byte(tc.in)); got != tc.want {
			t.Errorf("httpClientSig(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	server := []struct {
		in   string
		want tri
	}{
		{"HTTP/1.1 200 OK", yes},
		{"http/1.0 404", yes},
		{"HTTP/", more},
		{"HTTP/x", no},
		{"SSH-2.0", no},
	}
	for _, tc := range server {
		if got := httpServerSig([]byte(tc.in)); got != tc.want {
			t.Errorf("httpServerSig(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func FuzzHTTP(f *testing.F) {
	for _, s := range seedsFor("http") {
		f.Add(s)
	}
	f.Add(seedChunks(0, chunk{true, hexHTTPGet}, chunk{false, hexHTTPOK}))
	f.Add(seedChunks(1, chunk{true, hexHTTPGet}, chunk{false, hexHTTPOK}))
	ft := fuzzTarget{enabled: "http,smtp,ssl,pop3,imap,ftp,irc", t: TCP, ports: []uint16{80, 8240, 22}}
	f.Fuzz(func(t *testing.T, data []byte) {
		httpRequest(data)
		httpHeaderEnd(data)
		fuzzConn(t, ft, data)
	})
}
