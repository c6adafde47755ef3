package classify

import "testing"

func TestPOP3Signatures(t *testing.T) {
	for in, want := range map[string]tri{"+OK ready\r\n": yes, "+O": more, "-ERR": no} {
		if got := pop3ServerSig([]byte(in)); got != want {
			t.Errorf("pop3ServerSig(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]tri{"USER bob\r\n": yes, "CAPA\r\n": yes, "x\r\nSTLS\r\n": yes, "USERS\r\n": more, "*2\r\n$4\r\n": more} {
		if got := pop3ClientSig([]byte(in)); got != want {
			t.Errorf("pop3ClientSig(%q) = %d, want %d", in, got, want)
		}
	}
	if !isPOP3Command([]byte("stls")) || isPOP3Command([]byte("*2")) {
		t.Error("isPOP3Command")
	}
}

func TestPOP3Pairing(t *testing.T) {
	tests := []struct {
		name       string
		orig, resp string
		greeting   bool
		confirmed  bool
		tls        bool
	}{
		{"user", "USER bob\r\n", "+OK ready\r\n+OK send PASS\r\n", true, true, false},
		{"auth-err-then-capa", "AUTH\r\nCAPA\r\nQUIT\r\n", "+OK ready\r\n-ERR 1 argument required\r\n+OK list\r\nTOP\r\n.\r\n+OK bye\r\n", true, true, false},
		{"stls", "STLS\r\n", "+OK ready\r\n+OK Begin TLS\r\n", true, true, true},
		{"stat-only", "STAT\r\n", "+OK ready\r\n+OK 1 2\r\n", true, false, false},
		{"no-greeting-resp", "*2\r\n$4\r\nAUTH\r\n$4\r\nzeek\r\n", "+OK\r\n+OK\r\n+OK\r\n+OK\r\n", false, false, false},
		{"greeting-only", "", "+OK ready\r\n", true, false, false},
		{"violation-before-capa", "CAPA\r\n", "+OK ready\r\nhello there\r\n+OK caps\r\n.\r\n", true, false, false},
	}
	for _, tc := range tests {
		confirmed, off, _ := pop3Pair([]byte(tc.orig), []byte(tc.resp), tc.greeting)
		if confirmed != tc.confirmed || (off >= 0) != tc.tls || (tc.name == "violation-before-capa") != (off == -2) {
			t.Errorf("%s: confirmed=%v tls=%v, want %v %v", tc.name, confirmed, off >= 0, tc.confirmed, tc.tls)
		}
	}
}

func FuzzPOP3(f *testing.F) {
	for _, s := range seedsFor("pop3") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "pop3,ssl", t: TCP, ports: []uint16{110, 1110}}
	f.Fuzz(func(t *testing.T, data []byte) {
		pop3Pair(data, data, true)
		fuzzConn(t, ft, data)
	})
}
