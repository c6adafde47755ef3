package classify

import "testing"

func TestDHCP(t *testing.T) {
	c := New(All)
	msg := make([]byte, 300)
	msg[0], msg[1], msg[2] = 1, 1, 6
	copy(msg[236:], []byte{0x63, 0x82, 0x53, 0x63})
	if !c.dhcp(msg) {
		t.Error("DHCP DISCOVER not recognized")
	}
	bad := append([]byte(nil), msg...)
	bad[239] = 0
	if c.dhcp(bad) || c.dhcp(msg[:200]) {
		t.Error("DHCP without cookie or too short accepted")
	}
}

func FuzzDHCP(f *testing.F) {
	for _, s := range seedsFor("dhcp") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "dhcp", t: UDP, ports: []uint16{67, 68, 6767}}
	f.Fuzz(func(t *testing.T, data []byte) {
		New(All).dhcp(data)
		fuzzConn(t, ft, data)
	})
}
