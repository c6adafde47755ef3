package classify

import "testing"

func TestSSHWalk(t *testing.T) {
	newkeys := "0000000c0a1500000000000000000000"
	kexinit := "0000001c0a14" + "00112233445566778899aabbccddeeff" + "00000000000000000000"
	tests := []struct {
		name  string
		parts []string
		want  bool
	}{
		{"banner-kexinit-newkeys", []string{"5353482d322e302d782d310d0a", kexinit, newkeys}, true},
		{"pre-banner-lines", []string{"68656c6c6f0a", "5353482d322e302d780d0a", newkeys}, true},
		{"split-everywhere", []string{"5353", "482d322e302d780d", "0a00", "00000c", "0a15"}, true},
		{"no-newkeys", []string{"5353482d322e302d780d0a", kexinit}, false},
		{"not-ssh", []string{"474554202f0d0a", newkeys}, false},
		{"huge-length", []string{"5353482d322e302d780d0a", "7fffffff0a15"}, false},
	}
	for _, tc := range tests {
		var s sshDir
		got := false
		for _, p := range tc.parts {
			if s.walk(mustHex(t, p)) {
				got = true
			}
		}
		if got != tc.want {
			t.Errorf("%s: NEWKEYS = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func FuzzSSH(f *testing.F) {
	for _, s := range seedsFor("ssh") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "ssh", t: TCP, ports: []uint16{22, 2222}}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s sshDir
		s.walk(data)
		fuzzConn(t, ft, data)
	})
}
