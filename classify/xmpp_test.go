package classify

import (
	"encoding/hex"
	"testing"
)

func TestXMPP(t *testing.T) {
	open := "<?xml version='1.0'?><stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
	if xmppSig([]byte(open)) != yes || xmppSig([]byte("<stream:stream to='x'>")) != no || xmppSig([]byte("<str")) != more {
		t.Error("xmppSig")
	}
	if end, r := xmppTag([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>rest"), "starttls"); r != yes || end != 51 {
		t.Errorf("xmppTag = %d,%d", end, r)
	}
	h := func(s string) string { return hex.EncodeToString([]byte(s)) }
	cases := []traceCase{
		{name: "xmpp-starttls", t: TCP, origPort: 40000, respPort: 5222,
			chunks: []chunk{
				{true, h(open)},
				{false, h("<?xml version='1.0'?><stream:stream from='example.com' id='1' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>")},
				{true, h("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")},
				{false, h("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")},
				{true, hexClientHello},
			}, want: "xmpp,ssl"},
		{name: "xmpp-other-port-signature", t: TCP, origPort: 40000, respPort: 15222,
			chunks: []chunk{{true, h(open)}}, want: "xmpp"},
		{name: "xmpp-not-jabber-other-port", t: TCP, origPort: 40000, respPort: 15222,
			chunks: []chunk{{true, h("<stream:stream to='x'>")}}, want: ""},
	}
	for _, tc := range cases {
		if got, _ := run(t, tc); got != tc.want {
			t.Errorf("%s: services %q, want %q", tc.name, got, tc.want)
		}
	}
}

func FuzzXMPP(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hex.EncodeToString([]byte("<stream:stream xmlns='jabber:client'><starttls/>"))}, chunk{false, hex.EncodeToString([]byte("<proceed/>"))}, chunk{true, hexClientHello}))
	ft := fuzzTarget{enabled: "xmpp,ssl", t: TCP, ports: []uint16{5222, 15222}}
	f.Fuzz(func(t *testing.T, data []byte) {
		xmppSig(data)
		xmppTag(data, "starttls")
		fuzzConn(t, ft, data)
	})
}
