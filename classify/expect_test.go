package classify

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestParseFTPPort(t *testing.T) {
	tests := []struct {
		in   string
		addr string
		port uint16
		ok   bool
	}{
		// ftp-ipv4 corpus trace.
		{"141,142,220,235,131,46", "141.142.220.235", 131<<8 | 46, true},
		{"141,142,220,235,147,203", "141.142.220.235", 147<<8 | 203, true},
		{" 10, 0, 0, 1, 4, 31", "10.0.0.1", 1055, true}, // %d skips blanks
		{"+10,0,0,1,4,31", "10.0.0.1", 1055, true},
		{"10,0,0,1,4,31 trailing", "10.0.0.1", 1055, true},
		{"10 ,0,0,1,4,31", "", 0, false}, // the comma must follow the number
		{"10,0,0,1,4,256", "", 0, false},
		{"10,0,0,-1,4,31", "", 0, false},
		{"1,2,3,4,5", "", 0, false},
		{"1,2,3,4,5,6", "", 0, false}, // 11 bytes: accepted length…
		{"1,2,3,4,5,", "", 0, false},
		{"9999999999999999999999,0,0,1,4,31", "", 0, false},
		{"", "", 0, false},
	}
	tests[9] = struct {
		in   string
		addr string
		port uint16
		ok   bool
	}{"1,2,3,4,5,6", "1.2.3.4", 5<<8 | 6, true}
	for _, tc := range tests {
		a, p, ok := parseFTPPort([]byte(tc.in))
		if ok != tc.ok || ok && (a.String() != tc.addr || p != tc.port) {
			t.Errorf("parseFTPPort(%q) = %v %d %v, want %s %d %v", tc.in, a, p, ok, tc.addr, tc.port, tc.ok)
		}
	}
}

func TestParseFTPPasvEpsvEprt(t *testing.T) {
	tests := []struct {
		fn   string
		in   string
		addr string // "" with ok: unspecified IPv6
		port uint16
		ok   bool
	}{
		// ftp-ipv4 and bigtransfer corpus traces.
		{"pasv", "Entering Passive Mode (199,233,217,249,221,90)", "199.233.217.249", 221<<8 | 90, true},
		{"pasv", "Entering Passive Mode (199,233,217,249,221,91).", "199.233.217.249", 221<<8 | 91, true},
		{"epsv", "Extended Passive mode OK (|||63988|)", "::", 63988, true},
		{"pasv", "Entering Passive Mode 10,0,0,1,4,31", "10.0.0.1", 1055, true},
		{"pasv", "PORT 10,0,0,1,4,31", "10.0.0.1", 1055, true},
		{"pasv", "Entering Passive Mode (10,0,0,1,4)", "", 0, false},
		{"pasv", "no numbers at all", "", 0, false},
		{"pasv", "", "", 0, false},
		{"pasv", "PORT", "", 0, false},
		{"pasv", "(10,0,0,1,4,31\x00)", "", 0, false},
		{"epsv", "Entering Extended Passive Mode (!!!1234!)", "::", 1234, true},
		{"epsv", "no parenthesis |||1234|", "", 0, false},
		{"epsv", "(|||70000|)", "", 0, false},
		{"epsv", "(|||12a|)", "", 0, false},
		{"eprt", "|1|192.168.0.2|257|", "192.168.0.2", 257, true},
		{"eprt", "|2|fe80::12|1234|", "fe80::12", 1234, true},
		{"eprt", "|2|2001:db8::1|21000|", "2001:db8::1", 21000, true},
		{"eprt", "|2|fe80::1%eth0|1234|", "", 0, false},
		{"eprt", "|1|300.1.1.1|1234|", "", 0, false},
		{"eprt", "|1|10.0.0.1", "10.0.0.1", 0, true}, // no port field: port 0, valid (as Zeek)
		{"eprt", "|1||1234|", "::", 1234, true},
		{"eprt", "", "", 0, false},
		{"eprt", "   ", "", 0, false},
		{"eprt", "|x|10.0.0.1|1234|", "", 0, false},           // strtol stops at x: Zeek reads "10" as the port
		{"eprt", "|9|10.0.0.1|1234|", "10.0.0.1", 1234, true}, // the protocol number is not checked
	}
	for _, tc := range tests {
		var a netip.Addr
		var p uint16
		var ok bool
		switch tc.fn {
		case "pasv":
			a, p, ok = parseFTPPasv([]byte(tc.in))
		case "epsv":
			a, p, ok = parseFTPEpsv([]byte(tc.in))
		default:
			a, p, ok = parseFTPEPort([]byte(tc.in))
		}
		if ok != tc.ok || ok && (a.String() != tc.addr || p != tc.port) {
			t.Errorf("%s(%q) = %v %d %v, want %s %d %v", tc.fn, tc.in, a, p, ok, tc.addr, tc.port, tc.ok)
		}
	}
}

func TestIRCLine(t *testing.T) {
	tests := []struct {
		in       string
		addr     string
		port     uint16
		dcc      bool
		starttls bool
	}{
		// irc-dcc-send corpus trace.
		{"PRIVMSG tim1 :\x01DCC SEND ssh.trace 167772167 59130 1320211\x01", "10.0.0.7", 59130, true, false},
		{"PRIVMSG tim1 :\x01DCC CHAT CHAT 167772167 59214\x01", "", 0, false, false},
		{":a!b@c PRIVMSG me :\x01DCC SEND f 3232235777 1024\x01", "192.168.1.1", 1024, true, false},
		{"privmsg me :\x01DCC SEND f 3232235777 1024 0 T\x01", "192.168.1.1", 1024, true, false},
		{"PRIVMSG me :\x01DCC SEND f 3232235777 1024 0 X\x01", "", 0, false, false},
		{"PRIVMSG me :\x01DCC SEND f 1x 1024\x01", "0.0.0.10", 1024, true, false},                // atoi per byte
		{"PRIVMSG me :\x01DCC SEND f 99999999999 1024\x01", "72.118.231.255", 1024, true, false}, // 32-bit wrap
		{"PRIVMSG me :\x01DCC SEND f 167772167 70000\x01", "10.0.0.7", 0, true, false},           // bad port: 0
		{"PRIVMSG me :\x01dcc SEND f 167772167 1\x01", "", 0, false, false},
		{"PRIVMSG me", "", 0, false, false},
		{"NOTICE me :\x01DCC SEND f 167772167 1\x01", "", 0, false, false},
		{":server 670 me :STARTTLS successful", "", 0, false, true},
		{"PRIVMSG me :\x01DCC SEND f 167772167 1\x01" + strings.Repeat(" ", 600), "", 0, false, false},
		{"", "", 0, false, false},
	}
	for _, tc := range tests {
		a, p, dcc, tls := ircLine([]byte(tc.in))
		if dcc != tc.dcc || tls != tc.starttls || dcc && (a.String() != tc.addr || p != tc.port) {
			t.Errorf("ircLine(%q) = %v %d %v %v, want %s %d %v %v", tc.in, a, p, dcc, tls, tc.addr, tc.port, tc.dcc, tc.starttls)
		}
	}
}

// watchConn drives a connection with alternating lines and returns the
// expectations taken after each delivery.
func watchConn(t *testing.T, set string, port uint16, lines ...string) (*State, []Expectation) {
	t.Helper()
	s, err := ParseSet(set)
	if err != nil {
		t.Fatal(err)
	}
	c := New(s)
	var st State
	c.Start(&st, TCP, 40000, port, false)
	var out []Expectation
	for _, l := range lines {
		fromOrig := true
		if strings.HasPrefix(l, "S:") {
			fromOrig, l = false, l[2:]
		}
		// Deliver in small pieces: lines span chunks.
		for i := 0; i < len(l); i += 7 {
			c.Deliver(&st, fromOrig, []byte(l[i:min(i+7, len(l))]))
			out = st.TakeExpectations(out)
		}
	}
	return &st, out
}

func TestWatchFTP(t *testing.T) {
	st, got := watchConn(t, "all", 21,
		"S:220 ready\r\n", "USER ftp\r\n", "S:331 pw\r\n", "PASS x\r\n", "S:230 ok\r\n",
		"PASV\r\n", "S:227 Entering Passive Mode (199,233,217,249,221,90)\r\n",
		"RETR a\r\n", "S:150 ok\r\n", "S:226 done\r\n",
		"PORT 141,142,220,235,131,46\r\n", "S:200 PORT command successful.\r\n",
		"EPSV\r\n", "S:229 Extended Passive mode OK (|||63988|)\r\n",
		"EPRT |2|2001:db8::1|21000|\r\n", "S:200 ok\r\n",
		"S:227 Entering Passive Mode (1,2,3,4,5,6)\r\n", // unsolicited after a reply: ignored
		"NOOP\r\n", "S:200 ok\r\n",
		"PORT 1,2,3,4,5,300\r\n", // invalid: nothing
	)
	want := []Expectation{
		{Service: ServiceFTPData, Originator: OriginatorControlOrig, Resp: netip.MustParseAddr("199.233.217.249"), Port: 56666},
		{Service: ServiceFTPData, Originator: OriginatorControlResp, Resp: netip.MustParseAddr("141.142.220.235"), Port: 33582},
		{Service: ServiceFTPData, Originator: OriginatorControlOrig, RespIsControlResp: true, Port: 63988},
		{Service: ServiceFTPData, Originator: OriginatorControlResp, Resp: netip.MustParseAddr("2001:db8::1"), Port: 21000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("expectations\n got %+v\nwant %+v", got, want)
	}
	if !st.Wants(true) || !st.Wants(false) {
		t.Error("the watch should keep wanting the control connection's bytes")
	}
}

func TestWatchFTPStops(t *testing.T) {
	// AUTH TLS accepted: the rest is TLS, nothing is parsed any more.
	st, got := watchConn(t, "all", 21, "S:220 ready\r\n", "AUTH TLS\r\n", "S:234 go\r\n", "PORT 1,2,3,4,5,6\r\n")
	if len(got) != 0 || st.watch() != nil {
		t.Errorf("after AUTH TLS: %v, watch %v", got, st.watch() != nil)
	}
	// A reply violation removes ftp: the watch stops with it.
	st, got = watchConn(t, "all", 21, "USER a\r\n", "S:XYZ bogus\r\n", "PORT 1,2,3,4,5,6\r\n")
	if len(got) != 0 || st.watch() != nil || st.Has("ftp") {
		t.Errorf("after a violation: %v, watch %v", got, st.watch() != nil)
	}
	// FTP not enabled: no watch at all.
	st, got = watchConn(t, "irc", 21, "USER a\r\n", "PORT 1,2,3,4,5,6\r\n")
	if len(got) != 0 || st.watch() != nil {
		t.Errorf("ftp disabled: %v", got)
	}
}

func TestWatchIRC(t *testing.T) {
	st, got := watchConn(t, "irc", 6667,
		"NICK tim\r\nUSER tim 0 * :tim\r\n", "S::srv 001 tim :hi\r\n",
		"PRIVMSG tim1 :\x01DCC SEND ssh.trace 167772167 59130 1320211\x01\r\n",
		"PRIVMSG tim1 :\x01DCC CHAT CHAT 167772167 59214\x01\r\n",
		"S::tim1!a@b PRIVMSG tim :\x01DCC SEND x 167772168 4000 10\x01\r", // CR only ends a line too
		"S::srv 670 tim :STARTTLS ok\r\n",
		"PRIVMSG tim1 :\x01DCC SEND later 167772167 1\x01\r\n",
	)
	want := []Expectation{
		{Service: ServiceIRCDCCData, Originator: OriginatorAny, Resp: netip.MustParseAddr("10.0.0.7"), Port: 59130},
		{Service: ServiceIRCDCCData, Originator: OriginatorAny, Resp: netip.MustParseAddr("10.0.0.8"), Port: 4000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("expectations\n got %+v\nwant %+v", got, want)
	}
	if st.watch() != nil {
		t.Error("watch still running after STARTTLS")
	}
}

func TestWatchBounds(t *testing.T) {
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 21, false)
	c.Deliver(&st, true, []byte("USER a\r\n"))
	// A flood of PORT commands in one chunk: at most expectMaxQueue wait.
	c.Deliver(&st, true, []byte(strings.Repeat("PORT 10,0,0,1,4,31\r\n", 100)))
	if got := st.TakeExpectations(nil); len(got) != expectMaxQueue || st.DroppedExpectations() != 100-expectMaxQueue {
		t.Errorf("took %d, dropped %d", len(got), st.DroppedExpectations())
	}
	// An endless line stays bounded and is not analyzed whole.
	for i := 0; i < 100; i++ {
		c.Deliver(&st, true, []byte(strings.Repeat("A", 1000)))
		if n := len(st.watch().part[0]); n > expectMaxLine {
			t.Fatalf("line buffer %d bytes", n)
		}
	}
	c.Deliver(&st, true, []byte("\r\nPORT 10,0,0,2,4,31\r\n"))
	if got := st.TakeExpectations(nil); len(got) != 1 || got[0].Resp.String() != "10.0.0.2" {
		t.Errorf("after a long line: %v", got)
	}
	// A gap drops the partial line.
	c.Deliver(&st, true, []byte("PORT 10,0,0,3,"))
	c.Gap(&st, true)
	c.Deliver(&st, true, []byte("4,31\r\n"))
	if got := st.TakeExpectations(nil); len(got) != 0 {
		t.Errorf("a line across a gap was parsed: %v", got)
	}
}

// tlsRecord builds one TLS record.
func tlsRecord(typ byte, body []byte) []byte {
	return append([]byte{typ, 3, 1, byte(len(body) >> 8), byte(len(body))}, body...)
}

func TestWatchGridFTP(t *testing.T) {
	hello := tlsRecord(0x16, append([]byte{1, 0, 0, 0x26, 3, 1}, make([]byte, 0x26-2)...))
	b64 := base64.StdEncoding.EncodeToString
	fin := tlsRecord(0x16, make([]byte, 48))
	ccs := tlsRecord(0x14, []byte{1})
	run := func(auth string, serverCCS bool) *State {
		server2 := "S:335 ADAT=" + b64(tlsRecord(0x16, make([]byte, 40))) + "\r\n"
		if serverCCS {
			server2 = "S:335 ADAT=" + b64(append(append([]byte{}, ccs...), fin...)) + "\r\n"
		}
		st, _ := watchConn(t, "all", 2811,
			"S:220 GridFTP ready\r\n", "AUTH "+auth+"\r\n", "S:334 ADAT must follow\r\n",
			"ADAT "+b64(hello)+"\r\n",
			"S:335 ADAT="+b64(tlsRecord(0x16, make([]byte, 60)))+"\r\n",
			"ADAT "+b64(append(append(tlsRecord(0x16, make([]byte, 70)), ccs...), fin...))+"\r\n",
			server2,
			"S:235 GSSAPI Authentication successful.\r\n")
		return st
	}
	if got := strings.Join(run("GSSAPI", true).ScriptServices(nil), ","); got != "gridftp" {
		t.Errorf("complete ADAT handshake: script services %q, want gridftp", got)
	}
	if got := run("GSSAPI", false).ScriptServices(nil); len(got) != 0 {
		t.Errorf("handshake without the server's ChangeCipherSpec: %v", got)
	}
	if got := run("TLS", true).ScriptServices(nil); len(got) != 0 {
		t.Errorf("AUTH TLS: %v", got)
	}
}

// FuzzExpectParsers checks the announcement parsers never panic and that
// what they accept is well-formed.
func FuzzExpectParsers(f *testing.F) {
	for _, s := range []string{
		"141,142,220,235,131,46", "Entering Passive Mode (199,233,217,249,221,90)",
		"Extended Passive mode OK (|||63988|)", "|2|fe80::12|1234|", "|1|192.168.0.2|257|",
		"PRIVMSG tim1 :\x01DCC SEND ssh.trace 167772167 59130 1320211\x01", ":s 670 a :b",
		"FgMBAGsBAABnAwFQW20Q", "-1,-1,+1,1,1,1",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, fn := range []func([]byte) (netip.Addr, uint16, bool){parseFTPPort, parseFTPPasv, parseFTPEpsv, parseFTPEPort} {
			if a, _, ok := fn(b); ok && !a.IsValid() {
				t.Fatalf("accepted without an address: %q", b)
			}
		}
		if a, _, dcc, _ := ircLine(b); dcc && !a.Is4() {
			t.Fatalf("DCC without an IPv4 address: %q", b)
		}
		if out := decodeBase64Lenient(nil, b); len(out) > len(b) {
			t.Fatalf("base64 grew: %d > %d", len(out), len(b))
		}
	})
}

// FuzzExpectWatch runs hostile FTP and IRC control streams through the
// watch (fuzzConn checks its bounds and what it announces).
func FuzzExpectWatch(f *testing.F) {
	f.Add(textSeed(0, "USER a\r\n", "PORT 1,2,3,4,5,6\r\n", "PASV\r\n"))
	f.Add(textSeed(0, "USER a\r\n", "S:227 Entering Passive Mode (1,2,3,4,5,6)\r\n"))
	f.Add(textSeed(1, "NICK a\r\nUSER a 0 * :a\r\n", "PRIVMSG b :\x01DCC SEND f 167772167 59130 1\x01\r\n"))
	f.Add(textSeed(0, "AUTH GSSAPI\r\n", "S:334 ok\r\n", "ADAT FgMBAAUBAAABAw==\r\n", "S:335 ADAT=FAMBAAEB\r\n"))
	ft := fuzzTarget{enabled: "all", t: TCP, ports: []uint16{21, 6667, 2811, 7000}}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzConn(t, ft, data)
	})
}

// textSeed encodes lines ("S:" prefix: from the responder) in fuzzConn's
// chunk format.
func textSeed(sel byte, lines ...string) []byte {
	out := []byte{sel}
	for _, l := range lines {
		var resp byte
		if strings.HasPrefix(l, "S:") {
			resp, l = 0x80, l[2:]
		}
		for len(l) > 0 {
			n := min(len(l), 253)
			h := byte((n-1)/4) | resp
			take := min(int(h&0x3f)*4+1, n)
			out = append(out, h)
			out = append(out, l[:take]...)
			l = l[take:]
		}
	}
	return out
}

// BenchmarkWatchFTPControl measures the line watch on a long FTP control
// session: a chunk of commands and replies per iteration, with one
// announcement taken.
func BenchmarkWatchFTPControl(b *testing.B) {
	c := New(All)
	var st State
	c.Start(&st, TCP, 40000, 21, false)
	c.Deliver(&st, false, []byte("220 ready\r\n"))
	c.Deliver(&st, true, []byte("USER ftp\r\n"))
	cmds := []byte("CWD /pub\r\nTYPE I\r\nPASV\r\nRETR file.bin\r\n")
	replies := []byte("250 ok\r\n200 Type set to I\r\n227 Entering Passive Mode (10,0,0,2,4,31)\r\n150 Opening\r\n226 Done\r\n")
	var exps []Expectation
	b.ReportAllocs()
	b.SetBytes(int64(len(cmds) + len(replies)))
	for i := 0; i < b.N; i++ {
		c.Deliver(&st, true, cmds)
		c.Deliver(&st, false, replies)
		exps = st.TakeExpectations(exps[:0])
		if len(exps) != 1 {
			b.Fatalf("%d expectations", len(exps))
		}
	}
}
