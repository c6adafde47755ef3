package classify

import "testing"

func TestNTPMode(t *testing.T) {
	client := "230b06ef00000000000002d67f7f0101c290f0ecd9a78f25c290f0c76aeb2000c290f0b6fe03b3e9c290f0f5d98dac25"
	tests := []struct {
		name string
		hex  string
		mode int
		ok   bool
	}{
		{"client-v4", client, 3, true},
		{"server-v4", "24" + client[2:], 4, true},
		{"short-std", "230b06ef", 0, false},
		{"version-0", "03" + client[2:], 0, false},
		{"control", "160100010000000000000000", 6, true},
		{"mode-0", "20" + client[2:], 0, false},
	}
	for _, tc := range tests {
		m, ok := ntpMode(mustHex(t, tc.hex))
		if ok != tc.ok || (ok && m != tc.mode) {
			t.Errorf("%s: ntpMode = %d,%v want %d,%v", tc.name, m, ok, tc.mode, tc.ok)
		}
	}
	// A server reply from the responder does not flip; from the originator it does, once.
	c := New(All)
	var st State
	c.Start(&st, UDP, 40000, 123, false)
	if c.Deliver(&st, false, mustHex(t, "24"+client[2:])) != None || !st.Has("ntp") {
		t.Error("server reply from the responder")
	}
	st = State{}
	c.Start(&st, UDP, 40000, 123, false)
	if c.Deliver(&st, true, mustHex(t, "24"+client[2:])) != Flip {
		t.Error("server mode from the originator must flip")
	}
	st.Flip()
	if c.Deliver(&st, true, mustHex(t, "24"+client[2:])) == Flip {
		t.Error("flipped twice")
	}
}

func FuzzNTP(f *testing.F) {
	for _, s := range seedsFor("ntp") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "ntp", t: UDP, ports: []uint16{123, 124}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ntpMode(data)
		fuzzConn(t, ft, data)
	})
}
