package classify

import (
	"encoding/hex"
	"testing"
)

func TestFTPReplyViolations(t *testing.T) {
	tests := []struct {
		name      string
		replies   string
		violation bool
	}{
		{"good", "220 ready\r\n230 OK\r\n", false},
		{"multi-line", "220-hello\r\nsome text\r\n220 ready\r\n", false},
		{"non-numeric", "220 ready\r\nSYST not supported\r\n", true},
		{"below-100", "220 ready\r\n099 odd\r\n", true},
		{"no-space", "220 ready\r\n215UNIX\r\n", true},
		{"three-digits-only", "220 ready\r\n200\r\n", false},
		{"empty-line", "220 ready\r\n\r\n", false},
		{"split-code", "2", false},
	}
	for _, tc := range tests {
		c := New(All)
		var st State
		c.Start(&st, TCP, 40000, 21, false)
		c.Deliver(&st, true, []byte("USER ftp\r\n"))
		if !st.Has("ftp") {
			t.Fatalf("%s: USER did not confirm ftp", tc.name)
		}
		for i := 0; i < len(tc.replies); i += 3 {
			c.Deliver(&st, false, []byte(tc.replies[i:min(i+3, len(tc.replies))]))
		}
		if got := !st.Has("ftp"); got != tc.violation {
			t.Errorf("%s: ftp removed = %v, want %v", tc.name, got, tc.violation)
		}
	}
}

func TestFTPCommand(t *testing.T) {
	for w, want := range map[string]bool{"USER": true, "PWD": true, "CD": false, "US\x01R": false, "": false} {
		if isFTPCommand([]byte(w)) != want {
			t.Errorf("isFTPCommand(%q) != %v", w, want)
		}
	}
}

func TestADAT(t *testing.T) {
	// The first ADAT token of the gridftp corpus trace: base64 of a TLS
	// record holding a ClientHello (0x6b-byte record).
	tok := "FgMBAGsBAABnAwFQW20QgljInC83uQvyugxecsF3kUpSQF6m6R/GggW8mwAAOgA5ADgAiACHADUAhAAWABMACgAzADIAmgCZAEUARAAvAJYAQQAFAAQAFQASAAkAFAARAAgABgADAP8BAAAEACMAAA=="
	if !adatClientHello([]byte(tok)) {
		t.Error("GridFTP ADAT ClientHello not recognized")
	}
	if adatClientHello([]byte(tok[:len(tok)-4])) || adatClientHello([]byte("Zm9vYmFyYmF6cXV4")) {
		t.Error("ADAT with a wrong length or no TLS accepted")
	}
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 2811, false)
	c.Deliver(&st, false, []byte("220 GridFTP ready.\r\n"))
	c.Deliver(&st, true, []byte("AUTH GSSAPI\r\n"))
	c.Deliver(&st, false, []byte("334 ADAT must follow.\r\n"))
	c.Deliver(&st, true, []byte("ADAT "+tok+"\r\n"))
	if got := st.Services(nil); len(got) != 2 || got[0] != "ftp" || got[1] != "ssl" {
		t.Errorf("services = %v, want [ftp ssl]", got)
	}
}

func FuzzFTP(f *testing.F) {
	for _, s := range seedsFor("ftp") {
		f.Add(s)
	}
	f.Add(seedChunks(1, chunk{false, hex.EncodeToString([]byte("220 hi\r\n"))}, chunk{true, hex.EncodeToString([]byte("USER a\r\n"))},
		chunk{false, hex.EncodeToString([]byte("331 pw\r\n"))}, chunk{true, hex.EncodeToString([]byte("AUTH TLS\r\n"))},
		chunk{false, hex.EncodeToString([]byte("234 ok\r\n"))}, chunk{true, hexClientHello}))
	ft := fuzzTarget{enabled: "ftp,ssl", t: TCP, ports: []uint16{21, 2121}}
	f.Fuzz(func(t *testing.T, data []byte) {
		adatClientHello(data)
		fuzzConn(t, ft, data)
	})
}
