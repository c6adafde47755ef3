package classify

import (
	"encoding/hex"
	"testing"
)

func TestSMTPSignatures(t *testing.T) {
	for in, want := range map[string]tri{"220 mx ESMTP\r\n": yes, " 220-mx\r\n": yes, "22": more, "250 ok": no, "2200": no} {
		if got := smtpServerSig([]byte(in)); got != want {
			t.Errorf("smtpServerSig(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]tri{"EHLO x\r\n": yes, "NOOP\r\nhelo x\r\n": yes, "EHLO": more, "MAIL FROM:<a>\r\n": more} {
		if got := smtpClientSig([]byte(in)); got != want {
			t.Errorf("smtpClientSig(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestSMTPCommandLine(t *testing.T) {
	for in, want := range map[string]bool{"EHLO x": true, "noop": true, "MAIL FROM:<a>": true, "GET / HTTP/1.1": false, " HELO x": false, "": false} {
		if got := smtpCommandLine([]byte(in)); got != want {
			t.Errorf("smtpCommandLine(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzSMTP(f *testing.F) {
	f.Add(seedChunks(0, chunk{false, hex.EncodeToString([]byte("220 mx\r\n"))}, chunk{true, hex.EncodeToString([]byte("EHLO a\r\n"))},
		chunk{false, hex.EncodeToString([]byte("250 ok\r\n"))}, chunk{true, hex.EncodeToString([]byte("STARTTLS\r\n"))},
		chunk{false, hex.EncodeToString([]byte("220 go\r\n"))}, chunk{true, hexClientHello}))
	for _, s := range seedsFor("http-connect") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "smtp,ssl", t: TCP, ports: []uint16{25, 2525}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, ft, data)
	})
}
