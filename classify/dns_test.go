package classify

import "testing"

func TestDNSMessage(t *testing.T) {
	tests := []struct {
		name         string
		hex          string
		netbios      bool
		ok, response bool
	}{
		{"query", hexDNSQuery, false, true, false},
		{"response", hexDNSResponse, false, true, true},
		{"nbns-registration", "86640110000100000000000020454a464146474447434f4548455045504548454d4546434f45444550454e41410000200001", true, true, false},
		{"opcode-status-not-netbios", "abcd10000001000000000000076578616d706c6503636f6d0000010001", false, false, false},
		{"opcode-status-netbios", "abcd10000001000000000000076578616d706c6503636f6d0000010001", true, true, false},
		{"too-many-questions", "abcd0100001a000000000000", false, false, false},
		{"truncated-question", "abcd01000001000000000000076578616d706c65", false, false, false},
		{"answer-runs-past-end", "abcd81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c00ff5db8d822", false, false, true},
		{"pointer-loop", "abcd81800000000100000000c00c000100010000012c00045db8d822", false, false, false},
		{"extended-label", "abcd01000001000000000000416578616d706c650000010001", false, false, false},
		{"short", "abcd0100", false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, resp := dnsMessage(mustHex(t, tc.hex), tc.netbios)
			if ok != tc.ok || (ok && resp != tc.response) {
				t.Errorf("dnsMessage = %v,%v want %v,%v", ok, resp, tc.ok, tc.response)
			}
		})
	}
}

func FuzzDNS(f *testing.F) {
	for _, s := range seedsFor("dns") {
		f.Add(s)
	}
	for _, s := range seedsFor("nbns") {
		f.Add(s)
	}
	f.Add(seedChunks(0, chunk{true, hexDNSQuery}, chunk{false, hexDNSResponse}))
	f.Add(seedChunks(0, chunk{true, "abcd81800000000100000000c00c000100010000012c00045db8d822"}))
	udp := fuzzTarget{enabled: "dns", t: UDP, ports: []uint16{53, 137, 5353, 5355, 9999}}
	tcp := fuzzTarget{enabled: "dns", t: TCP, ports: []uint16{53, 9999}}
	f.Fuzz(func(t *testing.T, data []byte) {
		dnsMessage(data, false)
		dnsMessage(data, true)
		fuzzConn(t, udp, data)
		fuzzConn(t, tcp, data)
	})
}

func TestDNSViolation(t *testing.T) {
	tooMany := "abcd0100001a000000000000" + "00000100010000010001"
	cases := []traceCase{
		{name: "too-many-questions-first", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, tooMany}, {true, hexDNSQuery}}, want: ""},
		{name: "too-many-questions-after-confirmation", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, hexDNSQuery}, {false, hexDNSResponse}, {true, tooMany}}, want: ""},
		{name: "zero-rdlength-answer-then-good", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{false, "abcd81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c0000ff"}, {true, hexDNSQuery}}, want: "dns"},
	}
	for _, tc := range cases {
		if got, _ := run(t, tc); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
	if ok, _ := dnsMessage(mustHex(t, "abcd81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c0000ff"), false); ok {
		t.Error("zero rdlength with trailing bytes accepted")
	}
}
