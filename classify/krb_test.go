package classify

import "testing"

func TestKRBMessage(t *testing.T) {
	asReq := "6a683066a103020105a20302010aa45a3058a00703050040000010a21a1b186b65726265726f735f7265616c6d5f74696d652e6e61736c"
	asRepErr := "7e543052a003020105a10302011ea411180f32303132303331363137323934365a"
	tests := []struct {
		name string
		hex  string
		want bool
	}{
		{"as-req", asReq, true},
		{"krb-error", asRepErr, true},
		{"wrong-msg-type", "6a683066a103020105a20302010ca45a", false},
		{"pvno-4", "6a683066a103020104a20302010a", false},
		{"dns", hexDNSQuery, false},
	}
	for _, tc := range tests {
		if got := krbMessage(mustHex(t, tc.hex)); got != tc.want {
			t.Errorf("%s: krbMessage = %v, want %v", tc.name, got, tc.want)
		}
	}
	if krbUDPSig(mustHex(t, asReq)) {
		t.Error("AS-REQ matched the TGS-REQ signature")
	}
	// dpd_krb_udp reads \xa1\x03\x02\x05 where DER has a1 03 02 01 05, so
	// a real TGS-REQ does not match it: off port 88, Zeek's KRB stays off.
	if krbUDPSig(mustHex(t, "6c8201003082010ca103020105a20302010c")) {
		t.Error("real TGS-REQ matched the (literal) signature")
	}
	if !krbUDPSig(mustHex(t, "6c8201003082010ca1030205a203020105")) {
		t.Error("literal signature bytes not matched")
	}
}

func FuzzKRB(f *testing.F) {
	for _, s := range seedsFor("krb") {
		f.Add(s)
	}
	udp := fuzzTarget{enabled: "krb", t: UDP, ports: []uint16{88, 8888}}
	tcp := fuzzTarget{enabled: "krb", t: TCP, ports: []uint16{88}}
	f.Fuzz(func(t *testing.T, data []byte) {
		krbMessage(data)
		krbUDPSig(data)
		fuzzConn(t, udp, data)
		fuzzConn(t, tcp, data)
	})
}
