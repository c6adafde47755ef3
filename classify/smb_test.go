package classify

import "testing"

func TestSMBHeader(t *testing.T) {
	tests := []struct {
		hex  string
		want bool
	}{
		{hexSMB2Negotiate, true},
		{"0000002fff534d4272000000", true},
		{"0000002ffe534d", false},
		{"0000002ffe534d43", false},
		{hexNBSessionReq, false},
	}
	for _, tc := range tests {
		if got := hasSMBHeader(mustHex(t, tc.hex)); got != tc.want {
			t.Errorf("hasSMBHeader(%s) = %v, want %v", tc.hex[:16], got, tc.want)
		}
	}
}

func FuzzSMB(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hexSMB2Negotiate}, chunk{false, hexSMB2NegResp}, chunk{true, hexSMB2Negotiate}))
	f.Add(seedChunks(1, chunk{true, hexNBSessionReq}, chunk{false, "82000000"}, chunk{true, hexSMB2Negotiate}))
	f.Add(seedChunks(2, chunk{true, hexSMB2Negotiate}, chunk{false, hexSMB2NegResp}))
	ft := fuzzTarget{enabled: "smb", t: TCP, ports: []uint16{445, 139, 4455}}
	f.Fuzz(func(t *testing.T, data []byte) {
		hasSMBHeader(data)
		fuzzConn(t, ft, data)
	})
}
