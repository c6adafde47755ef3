package classify

import "testing"

func TestClientHello(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want tri
	}{
		{"tls12", hexClientHello, yes},
		{"tls-split-header", hexClientHello[:8], more},
		{"serverhello", hexServerHello, no},
		{"appdata", hexAppDataGET, no},
		{"bad-version", "16030100310100002d0305", no},
		{"tls13-draft-version", "16030100310100002d7f1c", yes},
		{"sslv2", "80310100020018000000100000390000380000350000160000130000", yes},
		{"sslv2-server-hello", "803104000100020018000000100000390000380000350000160000130000", no},
		{"http", hexHTTPGet, no},
		{"empty", "", more},
	}
	for _, tc := range tests {
		if got := clientHello(mustHex(t, tc.hex)); got != tc.want {
			t.Errorf("%s: clientHello = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSSLSignatures(t *testing.T) {
	if sslClientSig(mustHex(t, hexClientHello)) != yes {
		t.Error("client signature misses a ClientHello")
	}
	if sslServerSig(mustHex(t, hexServerHello)) != yes {
		t.Error("server signature misses a ServerHello")
	}
	if sslServerSig(mustHex(t, "15030300020228"+hexServerHello)) != yes {
		t.Error("server signature misses an alert then ServerHello")
	}
	if sslClientSig(mustHex(t, hexHTTPGet)) != no || sslServerSig(mustHex(t, hexHTTPOK)) != no {
		t.Error("TLS signatures match HTTP")
	}
	if !dtlsClientHello(mustHex(t, hexDTLSClientHello)) {
		t.Error("DTLS ClientHello not recognized")
	}
	if dtlsClientHello(mustHex(t, hexClientHello)) {
		t.Error("TLS ClientHello taken for DTLS")
	}
}

func FuzzSSL(f *testing.F) {
	for _, s := range seedsFor("tls") {
		f.Add(s)
	}
	f.Add(seedChunks(0, chunk{true, hexClientHello}, chunk{false, hexServerHello}))
	f.Add(seedChunks(1, chunk{true, hexClientHello}, chunk{false, hexServerHello}))
	f.Add(seedChunks(0, chunk{true, hexDTLSClientHello}))
	tcp := fuzzTarget{enabled: "ssl", t: TCP, ports: []uint16{443, 8443}}
	udp := fuzzTarget{enabled: "ssl", t: UDP, ports: []uint16{443, 4433}}
	f.Fuzz(func(t *testing.T, data []byte) {
		clientHello(data)
		sslClientSig(data)
		sslServerSig(data)
		dtlsClientHello(data)
		fuzzConn(t, tcp, data)
		fuzzConn(t, udp, data)
	})
}
