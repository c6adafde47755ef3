package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// filterExprs are expressions operators typically give a sensor, each
// checked against tcpdump's own compilation.
var filterExprs = []string{
	"tcp", "udp", "icmp", "icmp6", "ip", "ip6", "arp", "not arp", "sctp", "igmp",
	"host 10.0.0.1", "src host 10.0.0.1", "dst host 10.0.0.2", "ip host 10.0.0.1", "arp host 10.0.0.1",
	"src or dst host 10.0.0.5", "src and dst host 10.0.0.1",
	"host 2001:db8::1", "ip6 host 2001:db8::2", "src host 2001:db8::1",
	"net 10.0.0.0/8", "src net 192.168.0.0/16", "src net 10.1.2", "net 192.168.1.0 mask 255.255.255.0",
	"ip6 net 2001:db8::/32", "net 2001:db8:1::/48", "src and dst net 10.0.0.0/8", "net 10.1.2.3",
	"port 53", "tcp port 80", "udp port 53", "src port 1234", "dst port 443", "tcp dst port 443", "sctp port 80",
	"portrange 1000-2000", "tcp portrange 20-21", "udp src portrange 1-1023",
	"port 80 or 443", "host 10.0.0.1 or 10.0.0.2", "tcp dst port 21 or 20", "tcp dst port 21 or 20 or host 10.0.0.5",
	"not port 22", "not (port 22 or port 80)", "tcp and not port 22", "host 10.0.0.1 and (port 80 or port 443)",
	"udp or icmp and host 10.0.0.1", "! tcp && udp port 53 || icmp", "not not tcp", "(tcp)",
	"ip proto 47", "ip6 proto 17", "proto 6", "ip proto \\tcp", "proto gre", "ip6 proto 58", "proto 132",
	"vlan", "vlan 100", "vlan and tcp", "vlan 100 and port 53", "vlan 100 and vlan 200 and tcp",
	"not vlan", "vlan 100 or vlan 200", "tcp or vlan 200", "vlan and vlan", "vlan 100 and vlan 200 and host 10.0.0.1",
	"ether host 00:01:02:03:04:05", "ether src 00:01:02:03:04:05", "ether dst 00:01:02:03:04:05", "ether proto 0x0806",
	"ether proto \\ip6",
	"less 100", "greater 500", "tcp and greater 100", "not less 60",
	"host 10.0.0.1 and not net 10.1.0.0/16 and (tcp port 22 or udp port 53)",
	"ip and not ip6 and not arp",
}

// filterCorpus is a set of Ethernet frames (as a pcap file holds them: VLAN
// tags in the frame) that exercises every primitive of filterExprs.
func filterCorpus(t testing.TB) [][]byte {
	var frames [][]byte
	hosts4 := [][2]string{{"10.0.0.1", "10.0.0.2"}, {"10.0.0.2", "10.0.0.1"}, {"192.168.1.5", "10.0.0.5"},
		{"10.1.2.3", "172.16.0.1"}, {"10.0.0.1", "10.0.0.1"}, {"172.16.9.9", "8.8.8.8"}}
	ports := [][2]uint16{{1234, 80}, {80, 1234}, {40000, 443}, {53, 53}, {1500, 22}, {20, 21}, {2001, 999},
		{1000, 2000}, {1023, 5353}}
	payloads := [][]byte{nil, bytes.Repeat([]byte{0xab}, 60), bytes.Repeat([]byte{1}, 600)}
	for _, h := range hosts4 {
		for i, p := range ports {
			pl := payloads[i%len(payloads)]
			frames = append(frames,
				tcp4(t, h[0], h[1], p[0], p[1], "S", pl),
				udp4(t, h[0], h[1], p[0], p[1], pl),
				rawIP4(t, h[0], h[1], 132, cat(be16(p[0]), be16(p[1]), make([]byte, 8))))
		}
		frames = append(frames, icmp4Echo(t, h[0], h[1], []byte("ping")), rawIP4(t, h[0], h[1], 47, make([]byte, 24)),
			rawIP4(t, h[0], h[1], 2, make([]byte, 8)))
	}
	// IPv4 with options (IHL 6), and a non-first fragment of a datagram to port 53.
	opt := tcp4(t, "10.0.0.1", "10.0.0.2", 5555, 443, "S", nil)
	opt = cat([]byte{0x46}, opt[1:2], be16(uint16(len(opt)+4)), opt[4:20], []byte{1, 1, 1, 0}, opt[20:])
	frag := udp4(t, "10.0.0.1", "10.0.0.2", 53, 53, make([]byte, 20))
	binary.BigEndian.PutUint16(frag[6:8], 0x0003)
	frames = append(frames, opt, frag)
	hosts6 := [][2]string{{"2001:db8::1", "2001:db8::2"}, {"2001:db8:1::5", "fe80::1"}, {"fe80::1", "2001:db8::1"}}
	for _, h := range hosts6 {
		for _, p := range ports[:5] {
			frames = append(frames, udp6(t, h[0], h[1], p[0], p[1], []byte("x")))
			tcp := tcp4(t, "10.0.0.1", "10.0.0.2", p[0], p[1], "S", nil)[20:]
			frames = append(frames, cat(ip6Hdr(h[0], h[1], 6, len(tcp)), tcp))
			// TCP after a fragment header.
			fh := cat([]byte{6, 0}, be16(0), be32(7))
			frames = append(frames, cat(ip6Hdr(h[0], h[1], 44, len(fh)+len(tcp)), fh, tcp))
			frames = append(frames, cat(ip6Hdr(h[0], h[1], 132, 12), be16(p[0]), be16(p[1]), make([]byte, 8)))
		}
		frames = append(frames, icmp6Echo(t, h[0], h[1], []byte("ping")))
	}
	// Wrap: Ethernet, then VLAN tags of every kind.
	var out [][]byte
	arp := func(spa, tpa [4]byte) []byte {
		return cat(be16(1), be16(0x0800), []byte{6, 4}, be16(1), macA, spa[:], make([]byte, 6), tpa[:])
	}
	out = append(out,
		eth(0x0806, arp([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 9})),
		eth(0x0806, arp([4]byte{10, 0, 0, 9}, [4]byte{10, 0, 0, 1})),
		eth(0x8035, arp([4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 9})),
		eth(0x88cc, make([]byte, 40)), // LLDP
		eth(0x0800, nil),              // truncated
		macA[:4],                      // runt
	)
	for i, f := range frames {
		et := uint16(0x0800)
		if f[0]>>4 == 6 {
			et = 0x86dd
		}
		e := eth(et, f)
		if i%3 == 1 { // the other MAC order
			e = cat(macB, macA, e[12:])
		}
		out = append(out, e)
		switch i % 7 {
		case 0:
			out = append(out, eth(0x8100, cat(tag(100, et), f)))
		case 1:
			out = append(out, eth(0x8100, cat(tag(200, et), f)))
		case 2:
			out = append(out, eth(0x88a8, cat(tag(100, 0x8100), tag(200, et), f)))
		case 3:
			out = append(out, eth(0x8100, cat(tag(0x2000|100, 0x9100), tag(200, et), f)))
		case 4:
			out = append(out, eth(0x8100, cat(tag(300, 0x8100), tag(100, et), f)))
		case 5:
			out = append(out, eth(0x8100, cat(tag(0, et), f))) // priority tag
		case 6:
			out = append(out, eth(0x9100, cat(tag(100, 0x8100), tag(200, et), f))) // not taken out by Linux
		}
	}
	return out
}

// ip6Hdr is an IPv6 header.
func ip6Hdr(src, dst string, next uint8, plen int) []byte {
	s, d := ip6(src, dst, 0).SrcIP, ip6(src, dst, 0).DstIP
	return cat([]byte{0x60, 0, 0, 0}, be16(uint16(plen)), []byte{next, 64}, s.To16(), d.To16())
}

// runProgram runs prog on Ethernet frame data as a Linux packet socket's
// filter would see it.
func runProgram(t testing.TB, prog []bpf.RawInstruction, data []byte) bool {
	t.Helper()
	return runProgramView(t, prog, data, true)
}

// runProgramView runs prog on data, with the outermost tag taken out
// (untag, as Linux does on receive) or left in the frame (as on a path
// where the kernel does not take it out).
func runProgramView(t testing.TB, prog []bpf.RawInstruction, data []byte, untag bool) bool {
	t.Helper()
	p, err := newFilterProgram(prog)
	if err != nil {
		t.Fatalf("invalid program: %v", err)
	}
	var pkt filterPacket
	f := Frame{Data: data, CaptureLength: len(data), Length: len(data), LinkType: layers.LinkTypeEthernet}
	kernelView(&pkt, &f)
	if !untag {
		pkt = filterPacket{data: data, length: uint32(len(data))}
	}
	return p.run(&pkt) != 0
}

// requireTcpdump returns the tcpdump binary, skipping the test when it is
// missing, or failing it under CI=true (.ci/run installs tcpdump).
func requireTcpdump(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("tcpdump")
	if err == nil && os.Geteuid() == 0 {
		return path
	}
	msg := "FILTER TEST AGAINST TCPDUMP NOT RUN: needs the tcpdump command (apt-get install tcpdump) and root"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	t.Skip(msg)
	return ""
}

// tcpdumpProgram compiles expr with tcpdump for a live Linux Ethernet
// interface (lo), which is how libpcap compiles a sensor's filter.
func tcpdumpProgram(t *testing.T, tcpdump, expr string) []bpf.RawInstruction {
	t.Helper()
	out, err := exec.Command(tcpdump, "-i", "lo", "-ddd", expr).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("tcpdump -ddd %q: %v %s", expr, err, stderr)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var prog []bpf.RawInstruction
	n := -1
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if n < 0 {
			if n, err = strconv.Atoi(strings.Join(f, "")); err != nil {
				t.Fatalf("tcpdump output %q", out)
			}
			continue
		}
		if len(f) != 4 {
			t.Fatalf("tcpdump line %q", sc.Text())
		}
		var v [4]uint64
		for i := range f {
			if v[i], err = strconv.ParseUint(f[i], 10, 32); err != nil {
				t.Fatalf("tcpdump line %q", sc.Text())
			}
		}
		prog = append(prog, bpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	if len(prog) != n {
		t.Fatalf("tcpdump announced %d instructions, printed %d", n, len(prog))
	}
	return prog
}

// TestFilterAgainstTcpdump compiles typical expressions with our compiler
// and with tcpdump (libpcap) and checks that both programs give the same
// verdict on every frame of the corpus, seen as the kernel sees them.
func TestFilterAgainstTcpdump(t *testing.T) {
	tcpdump := requireTcpdump(t)
	corpus := filterCorpus(t)
	for _, expr := range filterExprs {
		t.Run(expr, func(t *testing.T) {
			f, err := CompileFilter(expr)
			if err != nil {
				t.Fatal(err)
			}
			ours, err := f.Program(layers.LinkTypeEthernet)
			if err != nil {
				t.Fatal(err)
			}
			theirs := tcpdumpProgram(t, tcpdump, expr)
			accepted, differ := 0, 0
			for i, frame := range corpus {
				for _, untag := range []bool{true, false} {
					a, b := runProgramView(t, ours, frame, untag), runProgramView(t, theirs, frame, untag)
					if a && untag {
						accepted++
					}
					if a != b {
						differ++
						if differ <= 3 {
							t.Errorf("frame %d (untag %v, % x…): ours %v, tcpdump %v", i, untag, frame[:min(len(frame), 40)], a, b)
						}
					}
				}
			}
			if differ > 0 {
				t.Errorf("%d of %d verdicts differ; ours:\n%s", differ, 2*len(corpus), disasm(ours))
			}
			// Every expression must select something and leave something.
			if accepted == 0 || accepted == len(corpus) {
				t.Errorf("accepts %d of %d frames: the corpus does not test it", accepted, len(corpus))
			}
		})
	}
}

func disasm(prog []bpf.RawInstruction) string {
	var b strings.Builder
	for i, r := range prog {
		fmt.Fprintf(&b, "(%03d) %v\n", i, r.Disassemble())
	}
	return b.String()
}

func TestFilterErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "empty expression"},
		{"tcp and", "unexpected end"},
		{"(tcp", "missing \")\""},
		{"tcp)", "unexpected \")\""},
		{"host example.com", "not an IP address"},
		{"port http-not-a-service", "not a number or a known service"},
		{"net 10.0.0.1/8", "host bits set"},
		{"net 10.0.0.0 mask 255.0.255.0", "not contiguous"},
		{"vlan 5000", "not between 0 and 4095"},
		{"ip host 2001:db8::1", "an IPv6 address"},
		{"ip6 host 10.0.0.1", "an IPv4 address"},
		{"icmp port 80", "icmp port is not supported"},
		{"tcp[13] & 2 != 0", "comparisons"},
		{"portrange 80", "LOW-HIGH"},
		{"ether host 1.2.3.4", "not a MAC address"},
		{strings.Repeat("(", 300) + "tcp" + strings.Repeat(")", 300), "nested deeper"},
		{"and", "unexpected \"and\""},
		{"src tcp", "not an IP address"},
	} {
		_, err := CompileFilter(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CompileFilter(%q) = %v, want an error with %q", tc.expr, err, tc.want)
		}
	}
}

// TestFilterSemantics checks verdicts that do not need tcpdump: the kernel
// view of VLAN tags, link types other than Ethernet, qualifier repetition.
func TestFilterSemantics(t *testing.T) {
	syn := tcp4(t, "10.0.0.1", "10.0.0.2", 1234, 80, "S", nil)
	dns6 := udp6(t, "2001:db8::1", "2001:db8::2", 5353, 53, []byte("q"))
	tagged := eth(0x8100, cat(tag(100, 0x0800), syn))
	qinq := eth(0x88a8, cat(tag(100, 0x8100), tag(200, 0x0800), syn))
	sll := cat(be16(0), be16(1), be16(6), macA, []byte{0, 0}, be16(0x0800), syn)
	for _, tc := range []struct {
		expr  string
		frame Frame
		want  bool
	}{
		{"tcp", ethFrame(eth(0x0800, syn)), true},
		{"tcp", ethFrame(tagged), true}, // the kernel took the tag out
		{"vlan 100 and tcp port 80", ethFrame(tagged), true},
		{"vlan 200", ethFrame(tagged), false},
		{"vlan", ethFrame(eth(0x0800, syn)), false},
		{"vlan 100 and vlan 200 and host 10.0.0.2", ethFrame(qinq), true},
		{"vlan 100 and tcp", ethFrame(qinq), false}, // the inner tag is in the frame
		{"port 80 or 443", ethFrame(eth(0x0800, syn)), true},
		{"udp port 53 or 5353", ethFrame(eth(0x86dd, dns6)), true},
		{"tcp", frameOf(layers.LinkTypeRaw, syn), true},
		{"ip6", frameOf(layers.LinkTypeRaw, syn), false},
		{"udp port 53", frameOf(layers.LinkTypeRaw, dns6), true},
		{"host 10.0.0.2 and tcp dst port 80", frameOf(layers.LinkTypeLinuxSLL, sll), true},
		{"arp", frameOf(layers.LinkTypeRaw, syn), false},
		// A live frame whose tag came out of band.
		{"vlan 42 and tcp", Frame{Data: eth(0x0800, syn), Length: 54, LinkType: layers.LinkTypeEthernet, VLAN: 42}, true},
	} {
		f, err := CompileFilter(tc.expr)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.compile(tc.frame.LinkType)
		if err != nil {
			t.Fatalf("%s on link type %d: %v", tc.expr, tc.frame.LinkType, err)
		}
		var pkt filterPacket
		kernelView(&pkt, &tc.frame)
		if got := p.run(&pkt) != 0; got != tc.want {
			t.Errorf("%q on % x…: %v, want %v", tc.expr, tc.frame.Data[:16], got, tc.want)
		}
	}
	if _, err := mustFilter(t, "vlan").compile(layers.LinkTypeRaw); err == nil {
		t.Error("vlan on raw IP compiled")
	}
}

func mustFilter(t testing.TB, expr string) *Filter {
	t.Helper()
	f, err := CompileFilter(expr)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFilterLongProgram checks the far-jump detours: a program longer than
// a conditional jump can span still gives the right verdicts.
func TestFilterLongProgram(t *testing.T) {
	var parts []string
	for i := range 120 {
		parts = append(parts, fmt.Sprintf("host 10.9.%d.%d", i/250, i%250+1))
	}
	expr := "(" + strings.Join(parts, " or ") + ") and tcp"
	prog, err := mustFilter(t, expr).Program(layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program of %d instructions: not long enough to test far jumps", len(prog))
	}
	for i, want := range map[int]bool{1: true, 60: true, 119: true, 121: false} {
		pkt := eth(0x0800, tcp4(t, "10.0.0.1", fmt.Sprintf("10.9.%d.%d", (i-1)/250, (i-1)%250+1), 1, 2, "S", nil))
		if got := runProgram(t, prog, pkt); got != want {
			t.Errorf("host %d: %v, want %v", i, got, want)
		}
	}
}

// TestFilterSource checks the replay wrapper: counts, a link type the
// filter cannot handle, and the forwarded file statistics.
func TestFilterSource(t *testing.T) {
	recs := testRecords(t) // TCP, UDP, ARP
	src, err := OpenFiles(writeTemp(t, "f.pcap", pcapFile(binary.LittleEndian, false, 1, recs)))
	if err != nil {
		t.Fatal(err)
	}
	fs := NewFilterSource(src, mustFilter(t, "tcp or udp"))
	defer fs.Close()
	frames, err := readAll(t, fs)
	if err != io.EOF || len(frames) != 2 {
		t.Fatalf("%d frames, end %v; want 2 and EOF", len(frames), err)
	}
	if st := fs.Stats(); st.Accepted != 2 || st.Rejected != 1 {
		t.Errorf("stats %+v, want 2 accepted, 1 rejected", st)
	}
	if fs.TotalBytes() == 0 || fs.BytesRead() != fs.TotalBytes() {
		t.Errorf("progress %d of %d", fs.BytesRead(), fs.TotalBytes())
	}
	// 802.11 is decoded but not filtered: a clear error.
	ieee := pcapFile(binary.LittleEndian, false, 105, recs[:1])
	src, err = OpenFiles(writeTemp(t, "w.pcap", ieee))
	if err != nil {
		t.Fatal(err)
	}
	fs = NewFilterSource(src, mustFilter(t, "tcp"))
	defer fs.Close()
	if _, err := fs.Next(); err == nil || !strings.Contains(err.Error(), "link type 105") {
		t.Errorf("802.11 frame: %v, want an error naming the link type", err)
	}
}

// TestFilterMatchAllocs: filtering a frame allocates nothing.
func TestFilterMatchAllocs(t *testing.T) {
	p, err := mustFilter(t, "vlan 100 and tcp port 80 or udp").compile(layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	f := ethFrame(eth(0x8100, cat(tag(100, 0x0800), tcp4(t, "10.0.0.1", "10.0.0.2", 1, 80, "S", nil))))
	var pkt filterPacket
	if n := testing.AllocsPerRun(100, func() {
		kernelView(&pkt, &f)
		p.run(&pkt)
	}); n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
}

// FuzzFilter: any expression either fails to compile or gives a valid
// program that runs on any frame without panicking.
func FuzzFilter(f *testing.F) {
	for _, e := range filterExprs {
		f.Add(e, []byte{})
	}
	f.Add("vlan 1 and vlan 2 and vlan 3 and ip6 net ::/0", bytes.Repeat([]byte{0x81, 0}, 40))
	f.Fuzz(func(t *testing.T, expr string, frame []byte) {
		flt, err := CompileFilter(expr)
		if err != nil {
			return
		}
		for _, lt := range []layers.LinkType{layers.LinkTypeEthernet, layers.LinkTypeRaw, layers.LinkTypeLinuxSLL} {
			p, err := flt.compile(lt)
			if err != nil {
				continue
			}
			var pkt filterPacket
			fr := Frame{Data: frame, Length: len(frame), LinkType: lt}
			kernelView(&pkt, &fr)
			p.run(&pkt)
		}
	})
}

// FuzzFilterVM: the interpreter rejects invalid programs and never panics
// on valid ones.
func FuzzFilterVM(f *testing.F) {
	f.Add([]byte{0x28, 0, 0, 0, 12, 0, 0, 0, 0x15, 0, 1, 0, 0, 8, 0, 0, 0x06, 0, 0, 0, 0, 0, 4, 0, 0x06, 0, 0, 0, 0, 0, 0, 0},
		[]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 8, 0})
	f.Fuzz(func(t *testing.T, code, frame []byte) {
		var prog []bpf.RawInstruction
		for len(code) >= 8 {
			prog = append(prog, bpf.RawInstruction{Op: binary.LittleEndian.Uint16(code), Jt: code[2], Jf: code[3],
				K: binary.LittleEndian.Uint32(code[4:])})
			code = code[8:]
		}
		p, err := newFilterProgram(prog)
		if err != nil {
			return
		}
		var pkt filterPacket
		fr := Frame{Data: frame, Length: len(frame), LinkType: layers.LinkTypeEthernet}
		kernelView(&pkt, &fr)
		p.run(&pkt)
	})
}
