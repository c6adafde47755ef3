package classify

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netbased/netbased/internal/testenv"
)

// Payloads for the synthetic cases, byte-exact protocol messages.
const (
	// A TLS 1.2 ClientHello record start (from the irc.starttls trace).
	hexClientHello = "160301013801000134030306ae009637e63beccc5396efbb0b57f50dbe504fed810eeec8669e3951fa33bd0000b6c030c02cc028c024c014c00a"
	// A ServerHello record start (same trace).
	hexServerHello = "160303003a02000036030341e2687e4946c0aa5fa3400690dbb1f527192ed1da0dcb5f3dba6641f756ee6d00009d00000eff01000100"
	// "GET / HTTP/1.1" inside a TLS application-data record.
	hexAppDataGET = "1703030020474554202f20485454502f312e310d0a486f73743a20780d0a0d0a000000000000"
	// SMB2 NEGOTIATE request: NetBIOS session message, \xfeSMB, 64-byte header.
	hexSMB2Negotiate = "000000b4fe534d424000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002400050001000000"
	// SMB2 NEGOTIATE response head.
	hexSMB2NegResp = "000000f8fe534d424000000000000000000001000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000410001001103"
	// NetBIOS session request (port 139) before any SMB.
	hexNBSessionReq = "81000044204345454646464545434343434343434343434343434343434343434341410020454b454446454645424545464545434143414341434143414341434143414141"
	// RDP: X.224 Connection Request with cookie and RDP_NEG_REQ (TLS|CredSSP).
	hexRDPConnReq = "0300002b26e00000000000436f6f6b69653a206d737473686173683d75736572310d0a0100080003000000"
	// RDP: X.224 Connection Confirm selecting TLS.
	hexRDPConnConfirmTLS = "030000130ed000001234000200080001000000"
	// RDP: X.224 Connection Confirm without negotiation (standard RDP security).
	hexRDPConnConfirmStd = "0300000b06d00000123400"
	// RDP: MCS Connect-Initial carrying GCC client core data (CS_CORE 0xC001, RDP 5).
	hexRDPConnectInitial = "0300003202f0807f65820018040101040101010130190201220201020201000201010201" +
		"01c0d800040008000005200301ca"
	// DNS: a standard query for example.com A, and its response.
	hexDNSQuery    = "abcd01000001000000000000076578616d706c6503636f6d0000010001"
	hexDNSResponse = "abcd81800001000100000000076578616d706c6503636f6d0000010001c00c000100010000012c00045db8d822"
	// DTLS 1.2 ClientHello record head.
	hexDTLSClientHello = "16fefd000000000000000000c8010000bc00000000000000bcfefd5f3e9a0b112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00"
	// HTTP request line.
	hexHTTPGet = "474554202f696e6465782e68746d6c20485454502f312e310d0a486f73743a206578616d706c652e636f6d0d0a0d0a"
	hexHTTPOK  = "485454502f312e3120323030204f4b0d0a436f6e74656e742d4c656e6774683a20300d0a0d0a"
)

func TestNearMisses(t *testing.T) {
	cases := []traceCase{
		{name: "http-method-inside-tls-record-port-80", t: TCP, origPort: 40000, respPort: 80,
			chunks: []chunk{{true, hexAppDataGET}, {false, hexAppDataGET}}, want: ""},
		{name: "tls-clienthello-on-port-80-signature", t: TCP, origPort: 40000, respPort: 80,
			chunks: []chunk{{true, hexClientHello}, {false, hexServerHello}}, want: "ssl"},
		{name: "tls-on-nonstandard-port-signature", t: TCP, origPort: 40000, respPort: 8443,
			chunks: []chunk{{true, hexClientHello}, {false, hexServerHello}}, want: "ssl"},
		{name: "tls-serverhello-alone", t: TCP, origPort: 40000, respPort: 443,
			chunks: []chunk{{false, hexServerHello}}, want: ""},
		{name: "tls-partial-connection", t: TCP, origPort: 40000, respPort: 443, partial: true,
			chunks: []chunk{{true, hexClientHello}, {false, hexServerHello}}, want: ""},
		{name: "http-partial-connection", t: TCP, origPort: 40000, respPort: 80, partial: true,
			chunks: []chunk{{true, hexHTTPGet}, {false, hexHTTPOK}}, want: ""},
		{name: "http-port-80", t: TCP, origPort: 40000, respPort: 80,
			chunks: []chunk{{true, hexHTTPGet}, {false, hexHTTPOK}}, want: "http"},
		{name: "http-any-port-signature", t: TCP, origPort: 40000, respPort: 5000,
			chunks: []chunk{{true, hexHTTPGet}}, want: "http"},
		{name: "http-disabled", t: TCP, origPort: 40000, respPort: 80, enabled: "dns,ssl",
			chunks: []chunk{{true, hexHTTPGet}}, want: ""},
		{name: "http-on-dns-tcp-port", t: TCP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, hexHTTPGet}}, want: "http"},
		{name: "dns-udp-port-carrying-ntp-server-reply", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, "240206ee000003bc000002e4cdbcb921c290f098e430a000c290f0f5d98dac25c290f1093be6f000c290f1093bf88000"}}, want: ""},
		// This NTP client request happens to be a DNS header with no
		// questions and no answers: Zeek's DNS analyzer confirms it too.
		{name: "dns-udp-port-ntp-bytes-that-parse-as-dns", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, "230b06ef00000000000002d67f7f0101c290f0ecd9a78f25c290f0c76aeb2000c290f0b6fe03b3e9c290f0f5d98dac25"}}, want: "dns"},
		{name: "dns-udp-port-carrying-text", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, hex.EncodeToString([]byte("hello, this is not a DNS message at all"))}}, want: ""},
		{name: "dns-on-non-dns-port", t: UDP, origPort: 40000, respPort: 5000,
			chunks: []chunk{{true, hexDNSQuery}, {false, hexDNSResponse}}, want: ""},
		{name: "dns-query-and-response", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, hexDNSQuery}, {false, hexDNSResponse}}, want: "dns"},
		{name: "dns-response-first-flips", t: UDP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, hexDNSResponse}}, want: "dns", flips: 1},
		{name: "dns-response-first-multicast-no-flip", t: UDP, origPort: 5353, respPort: 5353, multicast: true,
			chunks: []chunk{{true, hexDNSResponse}}, want: "dns"},
		{name: "dns-tcp", t: TCP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, "001d" + hexDNSQuery}}, want: "dns"},
		{name: "dns-tcp-split-length", t: TCP, origPort: 40000, respPort: 53,
			chunks: []chunk{{true, "00"}, {true, "1d" + hexDNSQuery[:10]}, {true, hexDNSQuery[10:]}}, want: "dns"},
		{name: "smb-445-two-chunks", t: TCP, origPort: 40000, respPort: 445,
			chunks: []chunk{{true, hexSMB2Negotiate}, {false, hexSMB2NegResp}}, want: ""},
		{name: "smb-445-three-chunks", t: TCP, origPort: 40000, respPort: 445,
			chunks: []chunk{{true, hexSMB2Negotiate}, {false, hexSMB2NegResp}, {true, hexSMB2Negotiate}}, want: "smb"},
		{name: "smb-139-session-request-first", t: TCP, origPort: 40000, respPort: 139,
			chunks: []chunk{{true, hexNBSessionReq}, {false, "82000000"}, {true, hexSMB2Negotiate}, {false, hexSMB2NegResp}}, want: ""},
		{name: "smb-139-session-request-then-three", t: TCP, origPort: 40000, respPort: 139,
			chunks: []chunk{{true, hexNBSessionReq}, {false, "82000000"}, {true, hexSMB2Negotiate}, {false, hexSMB2NegResp}, {true, hexSMB2Negotiate}}, want: "smb"},
		{name: "smb-other-port-signature", t: TCP, origPort: 40000, respPort: 4455,
			chunks: []chunk{{true, hexSMB2Negotiate}, {false, hexSMB2NegResp}, {true, hexSMB2Negotiate}}, want: "smb"},
		{name: "smb-other-port-no-signature", t: TCP, origPort: 40000, respPort: 4455,
			chunks: []chunk{{true, "00000004deadbeef"}, {false, "0000000400000000"}, {true, hexSMB2Negotiate}, {false, hexSMB2NegResp}, {true, hexSMB2Negotiate}}, want: ""},
		{name: "rdp-tls-gives-ssl-only", t: TCP, origPort: 40000, respPort: 3389,
			chunks: []chunk{{true, hexRDPConnReq}, {false, hexRDPConnConfirmTLS}, {true, hexClientHello}}, want: "ssl"},
		{name: "rdp-standard-security", t: TCP, origPort: 40000, respPort: 3389,
			chunks: []chunk{{true, hexRDPConnReq}, {false, hexRDPConnConfirmStd}, {true, hexRDPConnectInitial}}, want: "rdp"},
		{name: "rdp-other-port-signature", t: TCP, origPort: 40000, respPort: 33890,
			chunks: []chunk{{true, hexRDPConnReq}, {false, hexRDPConnConfirmStd}, {true, hexRDPConnectInitial}}, want: "rdp"},
		{name: "rdp-partial", t: TCP, origPort: 40000, respPort: 3389, partial: true,
			chunks: []chunk{{true, hexRDPConnReq}, {false, hexRDPConnConfirmStd}, {true, hexRDPConnectInitial}}, want: ""},
		{name: "rdp-connection-request-only", t: TCP, origPort: 40000, respPort: 3389,
			chunks: []chunk{{true, hexRDPConnReq}}, want: ""},
		{name: "dtls-clienthello", t: UDP, origPort: 40000, respPort: 443,
			chunks: []chunk{{true, hexDTLSClientHello}}, want: "dtls"},
		{name: "dtls-disabled-by-ssl-alias-off", t: UDP, origPort: 40000, respPort: 443, enabled: "dns",
			chunks: []chunk{{true, hexDTLSClientHello}}, want: ""},
		{name: "smtp-starttls", t: TCP, origPort: 40000, respPort: 25,
			chunks: []chunk{
				{false, hex.EncodeToString([]byte("220 mail.example.com ESMTP\r\n"))},
				{true, hex.EncodeToString([]byte("EHLO client\r\n"))},
				{false, hex.EncodeToString([]byte("250-mail.example.com\r\n250 STARTTLS\r\n"))},
				{true, hex.EncodeToString([]byte("STARTTLS\r\n"))},
				{false, hex.EncodeToString([]byte("220 go ahead\r\n"))},
				{true, hexClientHello},
			}, want: "smtp,ssl"},
		{name: "smtp-port-http-request", t: TCP, origPort: 40000, respPort: 25,
			chunks: []chunk{{true, hexHTTPGet}}, want: "http"},
		{name: "smtp-noop-confirms", t: TCP, origPort: 40000, respPort: 25,
			chunks: []chunk{{true, hex.EncodeToString([]byte("NOOP\r\n"))}}, want: "smtp"},
		{name: "pop3-partial", t: TCP, origPort: 40000, respPort: 110, partial: true,
			chunks: []chunk{{false, hex.EncodeToString([]byte("+OK ready\r\n"))}, {true, hex.EncodeToString([]byte("CAPA\r\n"))}, {false, hex.EncodeToString([]byte("+OK\r\n"))}}, want: ""},
		{name: "imap-greeting-confirms", t: TCP, origPort: 40000, respPort: 143,
			chunks: []chunk{{false, hex.EncodeToString([]byte("* OK IMAP4rev1 ready\r\n"))}}, want: "imap"},
		{name: "imap-not-on-other-port", t: TCP, origPort: 40000, respPort: 1143,
			chunks: []chunk{{false, hex.EncodeToString([]byte("* OK IMAP4rev1 ready\r\n"))}, {true, hex.EncodeToString([]byte("a1 capability\r\n"))}}, want: ""},
		// Violations (dpd.zeek disables the analyzer, deleting a confirmed
		// service, within the first 10 KiB).
		{name: "http-request-non-http-reply", t: TCP, origPort: 40000, respPort: 80,
			chunks: []chunk{{true, hexHTTPGet}, {false, hex.EncodeToString([]byte("SSH-2.0-OpenSSH_9.6\r\n"))}}, want: ""},
		{name: "http-0.9-request-html-reply", t: TCP, origPort: 40000, respPort: 80,
			chunks: []chunk{{true, hex.EncodeToString([]byte("GET /\r\n"))}, {false, hex.EncodeToString([]byte("<html>hi</html>\r\n"))}}, want: "http"},
		{name: "tls-443-http-reply", t: TCP, origPort: 40000, respPort: 443,
			chunks: []chunk{{true, hexClientHello}, {false, hexHTTPOK}}, want: ""},
		{name: "tls-443-alert-reply", t: TCP, origPort: 40000, respPort: 443,
			chunks: []chunk{{true, hexClientHello}, {false, "15030300020228"}}, want: "ssl"},
		{name: "smtp-bad-reply", t: TCP, origPort: 40000, respPort: 25,
			chunks: []chunk{{false, hex.EncodeToString([]byte("220 hi\r\n"))}, {true, hex.EncodeToString([]byte("EHLO a\r\n"))}, {false, hex.EncodeToString([]byte("what?\r\n"))}}, want: ""},
		{name: "ftp-banner-violation-before-user", t: TCP, origPort: 40000, respPort: 21,
			chunks: []chunk{{false, hex.EncodeToString([]byte("SSH-2.0-OpenSSH\r\n"))}, {true, hex.EncodeToString([]byte("USER a\r\n"))}}, want: ""},
		{name: "ftp-auth-tls", t: TCP, origPort: 40000, respPort: 21,
			chunks: []chunk{
				{false, hex.EncodeToString([]byte("220 FTP ready\r\n"))},
				{true, hex.EncodeToString([]byte("AUTH TLS\r\n"))},
				{false, hex.EncodeToString([]byte("234 AUTH TLS OK.\r\n"))},
				{true, hexClientHello},
			}, want: "ftp,ssl"},
		{name: "ldap-starttls", t: TCP, origPort: 40000, respPort: 389,
			chunks: []chunk{
				{true, "301d02010177188016312e332e362e312e342e312e313436362e3230303337"},
				{false, "300c02010178070a010004000400"},
				{true, hexClientHello},
			}, want: "ldap_tcp,ssl"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, flips := run(t, tc)
			if got != tc.want {
				t.Errorf("services = %q, want %q", got, tc.want)
			}
			if flips != tc.flips {
				t.Errorf("flips = %d, want %d", flips, tc.flips)
			}
		})
	}
}

// TestGapStopsPrefixRecognizers: after a gap the stream no longer starts at
// its beginning; RDP is skipped and SMB needs a new sync.
func TestGap(t *testing.T) {
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 80, false)
	c.Gap(&st, true)
	c.Deliver(&st, true, mustHex(t, hexHTTPGet))
	if got := st.Services(nil); len(got) != 0 {
		t.Errorf("HTTP after a gap: services = %v, want none", got)
	}

	// SSL.cc parses nothing once either direction had a gap.
	st = State{}
	c.Start(&st, TCP, 40000, 443, false)
	c.Gap(&st, false)
	c.Deliver(&st, true, mustHex(t, hexClientHello))
	if got := st.Services(nil); len(got) != 0 {
		t.Errorf("SSL after a responder gap: services = %v, want none", got)
	}

	st = State{}
	c.Start(&st, TCP, 40000, 445, false)
	c.Deliver(&st, true, mustHex(t, hexSMB2Negotiate))
	c.Deliver(&st, false, mustHex(t, hexSMB2NegResp))
	c.Gap(&st, true)
	c.Deliver(&st, true, []byte("continuation bytes of some SMB write"))
	c.Deliver(&st, false, []byte("more bytes"))
	if st.Has("smb") {
		t.Error("SMB confirmed across a gap without a new sync")
	}
	c.Deliver(&st, true, mustHex(t, hexSMB2Negotiate))
	c.Deliver(&st, false, mustHex(t, hexSMB2NegResp))
	c.Deliver(&st, true, mustHex(t, hexSMB2Negotiate))
	if !st.Has("smb") {
		t.Error("SMB not confirmed after resync and three chunks")
	}
}

// TestWantsAndRelease: once everything is decided Wants is false and the
// buffers are gone.
func TestWantsAndRelease(t *testing.T) {
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 443, false)
	if !st.Wants(true) || !st.Wants(false) {
		t.Fatal("a new TCP state must want payload")
	}
	// Half a ClientHello: must wait (and buffer).
	ch := mustHex(t, hexClientHello)
	c.Deliver(&st, true, ch[:4])
	if st.x == nil {
		t.Fatal("no buffer while a recognizer waits for more bytes")
	}
	c.Deliver(&st, true, ch[4:])
	if !st.Has("ssl") {
		t.Fatal("split ClientHello not confirmed")
	}
	c.Deliver(&st, false, mustHex(t, hexServerHello))
	for i := 0; i < 200 && (st.Wants(true) || st.Wants(false)); i++ {
		c.Deliver(&st, i%2 == 0, []byte{0x17, 0x03, 0x03, 0x00, 0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	}
	if st.Wants(true) || st.Wants(false) {
		t.Error("still wants payload after 200 chunks")
	}
	if st.x != nil || st.sx != nil {
		t.Error("buffers kept after classification ended")
	}

	// Zero value: not started, wants nothing, delivers nothing.
	var zero State
	if zero.Wants(true) || c.Deliver(&zero, true, []byte("GET / HTTP/1.0\r\n")) != None || len(zero.Services(nil)) != 0 {
		t.Error("zero State must be inert")
	}
}

func TestParseSet(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		notWant []string
		err     bool
	}{
		{in: "", want: []string{"dns", "http", "ssl", "smb", "rdp", "quic"}},
		{in: "all", want: []string{"dns", "ssl"}},
		{in: "ALL", want: []string{"http"}},
		{in: "none", notWant: []string{"dns", "http", "ssl"}},
		{in: "DNS,Http", want: []string{"dns", "http"}, notWant: []string{"ssl"}},
		{in: "ssl", want: []string{"ssl", "dtls"}, notWant: []string{"quic", "http"}},
		{in: "krb", want: []string{"krb", "krb_tcp"}},
		{in: "ldap", want: []string{"ldap_tcp"}},
		{in: "dns, ntp ,ssh", want: []string{"dns", "ntp", "ssh"}},
		{in: "teredo,vxlan,gtpv1", notWant: []string{"dns", "http"}},
		{in: "none,dns", want: []string{"dns"}, notWant: []string{"http"}},
		{in: "dns,nosuch", err: true},
		{in: "htp", err: true},
		{in: "all,none", err: true},
		{in: "none, ALL", err: true},
	}
	for _, tc := range tests {
		s, err := ParseSet(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseSet(%q): no error", tc.in)
			} else if !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseSet(%q): error %q does not name the service", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseSet(%q): %v", tc.in, err)
			continue
		}
		for _, n := range tc.want {
			if !s.Has(n) {
				t.Errorf("ParseSet(%q) lacks %s (%s)", tc.in, n, s)
			}
		}
		for _, n := range tc.notWant {
			if s.Has(n) {
				t.Errorf("ParseSet(%q) has %s (%s)", tc.in, n, s)
			}
		}
	}
	if len(Names()) != int(numServices) {
		t.Errorf("Names() = %v", Names())
	}
}

// TestParseSetCorpusArgs: every --services list in the corpus parses.
func TestParseSetCorpusArgs(t *testing.T) {
	root := filepath.Join(testenv.SharedDir(t), "testdata", "zeek")
	files, err := filepath.Glob(filepath.Join(root, "*", "netbased-args.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no netbased-args.txt under %s (set NETBASED_SHARED): %v", root, err)
	}
	lists := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(b))
		for i, fl := range fields {
			if fl == "--services" && i+1 < len(fields) {
				lists++
				if _, err := ParseSet(fields[i+1]); err != nil {
					t.Errorf("%s: %v", f, err)
				}
			}
		}
	}
	if lists < 10 {
		t.Errorf("only %d --services lists found", lists)
	}
}
