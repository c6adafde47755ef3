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

func FuzzPOP3(f *testing.F) {
	for _, s := range seedsFor("pop3") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "pop3,ssl", t: TCP, ports: []uint16{110, 1110}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, ft, data)
	})
}
