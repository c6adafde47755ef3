package classify

import "testing"

func TestIMAPTagged(t *testing.T) {
	tests := []struct {
		line, tag, cmd string
		ok             bool
	}{
		{". CAPABILITY", ".", "CAPABILITY", true},
		{"a001 STARTTLS", "a001", "STARTTLS", true},
		{"* OK ready", "*", "OK", true},
		{"a001", "", "", false},
		{"a1 123", "a1", "123", true},
		{" x", "", "", false},
	}
	for _, tc := range tests {
		tag, cmd, ok := imapTagged([]byte(tc.line))
		if ok != tc.ok || string(tag) != tc.tag || string(cmd) != tc.cmd {
			t.Errorf("imapTagged(%q) = %q,%q,%v", tc.line, tag, cmd, ok)
		}
	}
}

func TestIMAPConfirms(t *testing.T) {
	tests := []struct {
		line string
		orig bool
		want bool
	}{
		{"* OK [CAPABILITY IMAP4rev1] ready", false, true},
		{"* ok hi", false, true},
		{"* OK ready", true, false},
		{". CAPABILITY", true, false}, // Zeek compares "capability" case-sensitively
		{". capability", true, true},
		{"a1 StartTLS", true, true},
		{"a2 login user pass", true, true},
		{"a2 LOGIN user pass", true, false},
		{"* BYE", false, false},
	}
	for _, tc := range tests {
		if got := imapConfirms([]byte(tc.line), tc.orig); got != tc.want {
			t.Errorf("imapConfirms(%q, %v) = %v, want %v", tc.line, tc.orig, got, tc.want)
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
