package classify

import (
	"strings"
	"testing"
)

// rfc9001ClientInitial is the protected client Initial of RFC 9001,
// Appendix A.2 (QUIC v1, DCID 8394c8f03e515708, a ClientHello in a CRYPTO
// frame at offset 0, padded to 1200 bytes).
const rfc9001ClientInitial = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399" +
	"1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212" +
	"30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208" +
	"4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3" +
	"485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c" +
	"7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556" +
	"be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a" +
	"c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632" +
	"291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd" +
	"14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198" +
	"e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73" +
	"203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e" +
	"fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047" +
	"90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4" +
	"40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e" +
	"8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400" +
	"54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9" +
	"f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064" +
	"7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934"

func TestQUICInitialRFC9001(t *testing.T) {
	pkt := mustHex(t, rfc9001ClientInitial)
	if len(pkt) != 1200 {
		t.Fatalf("vector is %d bytes, want 1200", len(pkt))
	}
	plain, ok := quicInitial(pkt, false)
	if !ok {
		t.Fatal("RFC 9001 A.2 client Initial did not decrypt")
	}
	ch := quicCryptoStart(plain)
	if len(ch) < 6 || ch[0] != 0x01 || be16(ch[4:6]) != 0x0303 {
		t.Fatalf("no ClientHello at CRYPTO offset 0: % x", ch[:min(len(ch), 8)])
	}
	tests := []struct {
		name     string
		respPort uint16
		data     []byte
		want     string
	}{
		{"quic-443", 443, pkt, "quic,ssl"},
		{"quic-other-port-signature", 4433, pkt, "quic,ssl"},
		{"quic-one-bit-flipped", 443, flipBit(pkt, 600), ""},
		{"quic-wrong-version", 4433, withVersion(pkt, 0xff00001d), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := New(All)
			var st State
			c.Start(&st, UDP, 51000, tc.respPort, false)
			c.Deliver(&st, true, tc.data)
			if got := strings.Join(st.Services(nil), ","); got != tc.want {
				t.Errorf("services = %q, want %q", got, tc.want)
			}
		})
	}
}

func flipBit(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x10
	return c
}

func withVersion(b []byte, v uint32) []byte {
	c := append([]byte(nil), b...)
	c[1], c[2], c[3], c[4] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return c
}

func FuzzQUIC(f *testing.F) {
	f.Add(append([]byte{0, 0x3f}, mustHexNoT(rfc9001ClientInitial)[:253]...))
	f.Add(mustHexNoT(rfc9001ClientInitial))
	ft := fuzzTarget{enabled: "quic,ssl", t: UDP, ports: []uint16{443, 4433}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if plain, ok := quicInitial(data, true); ok {
			quicCryptoStart(plain)
		}
		quicCryptoStart(data)
		quicSig(data)
		fuzzConn(t, ft, data)
	})
}
