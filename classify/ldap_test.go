package classify

import (
	"strings"
	"testing"
)

func TestLDAPMessage(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		op   byte
		want tri
	}{
		{"simple-bind", "3032020101602d020103041c78787878787878787878784078782e7878782e78787878782e6e6574800a70617373776f72386431", 0x60, yes},
		{"bind-response-long-form", "3084000000100201016184000000070a010004000400", 0x61, yes},
		{"unbind", "30050201044200", 0x42, yes},
		{"truncated", "3032020101602d0201", 0, more},
		{"bad-op-tag", "3005020101ff00", 0, no},
		{"not-ber", "474554202f", 0, no},
	}
	for _, tc := range tests {
		op, _, _, r := ldapMessage(mustHex(t, tc.hex))
		if r != tc.want || (r == yes && op != tc.op) {
			t.Errorf("%s: ldapMessage = %#x,%d want %#x,%d", tc.name, op, r, tc.op, tc.want)
		}
	}
}

func TestGSSAPITokens(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want string
	}{
		{"raw-ntlmssp", "4e544c4d5353500001000000078200a0", "ntlm"},
		{"krb5-ap-req", "60820100" + "06092a864886f712010202" + "0100" + "6e8200f0", "krb,gssapi"},
		{"spnego-ntlm", "603006062b0601050502a0263024a00e300c060a2b06010401823702020aa21204104e544c4d5353500001000000078200a0", "ntlm,gssapi"},
		{"spnego-no-token", "601806062b0601050502a00e300ca00a3008060604010203040506", ""},
		{"garbage", "0102030405", ""},
	}
	for _, tc := range tests {
		c := New(All)
		var st State
		c.gssapiToken(&st, mustHex(t, tc.hex), 0)
		if got := strings.Join(st.Services(nil), ","); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLDAPUDP(t *testing.T) {
	search := "3025020101632004000a01000a0100020100020100010100870b6f626a656374636c6173733000"
	resp := "300c02010165070a010004000400"
	cases := []traceCase{
		{name: "cldap-389", t: UDP, origPort: 40000, respPort: 389, chunks: []chunk{{true, search}}, want: "ldap_udp"},
		{name: "cldap-other-port-signature", t: UDP, origPort: 40000, respPort: 3890, chunks: []chunk{{true, search}, {false, resp}}, want: "ldap_udp"},
		{name: "cldap-other-port-no-reply", t: UDP, origPort: 40000, respPort: 3890, chunks: []chunk{{true, search}}, want: ""},
		{name: "cldap-389-garbage", t: UDP, origPort: 40000, respPort: 389, chunks: []chunk{{true, hexDNSQuery}}, want: ""},
	}
	for _, tc := range cases {
		if got, _ := run(t, tc); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzLDAP(f *testing.F) {
	for _, s := range seedsFor("ldap") {
		f.Add(s)
	}
	ft := fuzzTarget{enabled: "ldap,krb,gssapi,ntlm,ssl", t: TCP, ports: []uint16{389, 32681}}
	udp := fuzzTarget{enabled: "ldap", t: UDP, ports: []uint16{389, 3890}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ldapMessage(data)
		c := New(All)
		var st State
		c.gssapiToken(&st, data, 0)
		c.ldapBind(&st, data)
		fuzzConn(t, ft, data)
		fuzzConn(t, udp, data)
	})
}
