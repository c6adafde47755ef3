package classify

import "testing"

func TestIMAPTagged(t *testing.T) {
	tests := []struct {
		line, tag, cmd string
		ok             bool
	}{
		{". CAPABILITY", ".", "CAPABILITY", true},
		{"a001 STARTTLS", "a001", "STARTTLS", true},
		{"* OK ready", "", "", false},
		{"a001", "", "", false},
		{"a1 123", "", "", false},
	}
	for _, tc := range tests {
		tag, cmd, ok := imapTagged([]byte(tc.line))
		if ok != tc.ok || string(tag) != tc.tag || string(cmd) != tc.cmd {
			t.Errorf("imapTagged(%q) = %q,%q,%v", tc.line, tag, cmd, ok)
		}
	}
}

func FuzzIMAP(f *testing.F) {
	for _, s := range seedsFor("imap") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "imap,ssl", t: TCP, ports: []uint16{143, 1143}}
	f.Fuzz(func(t *testing.T, data []byte) {
		imapTagged(data)
		fuzzConn(t, ft, data)
	})
}
