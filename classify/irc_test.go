package classify

import "testing"

func TestIRCLines(t *testing.T) {
	for in, want := range map[string]bool{
		":irc.example.net 001 nick :Welcome":        true,
		":ircd1.local NOTICE * :*** Looking up":     true,
		"@time=2025-07-28T20:48:30Z :srv CAP * ACK": true,
		"NOTICE AUTH :hello":                        false,
		":srv":                                      false,
		":srv 12x":                                  false,
	} {
		if got := ircServerLine([]byte(in)); got != want {
			t.Errorf("ircServerLine(%q) = %v, want %v", in, got, want)
		}
	}
	if ircClientSig([]byte("NICK a\r\nUSER a 0 * :A\r\n")) != yes || ircClientSig([]byte("NICK a\r\n")) != more {
		t.Error("ircClientSig")
	}
	if ircServerSig([]byte(":srv 001 a :hi\r\n")) != yes || ircServerSig([]byte("001 a :hi\r\n")) != yes {
		t.Error("ircServerSig")
	}
}

func TestIRCClientLine(t *testing.T) {
	for in, want := range map[string]bool{"CAP LS 302": true, "STARTTLS": true, "  NICK a": true, "ab": false, ":pfx": false, ":pfx ab": false, ":pfx WHO": true} {
		if got := ircClientLine([]byte(in)); got != want {
			t.Errorf("ircClientLine(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzIRC(f *testing.F) {
	for _, s := range seedsFor("irc") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "irc,ssl", t: TCP, ports: []uint16{6667, 7000}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ircServerLine(data)
		fuzzConn(t, ft, data)
	})
}
