package classify

import "testing"

func FuzzSSH(f *testing.F) {
	for _, s := range seedsFor("ssh") {
		f.Add(s)
	}
	f.Add(seedChunks(0, sshSession("curve25519-sha256")...))
	ft := fuzzTarget{enabled: "ssh", t: TCP, ports: []uint16{22, 2222}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sshConn
		s.walk(0, data)
		s.walk(1, data)
		fuzzConn(t, ft, data)
	})
}
