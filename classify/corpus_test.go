package classify

// The corpus check replays every trace of testdata/zeek through a minimal
// in-order TCP reassembler (gopacket decodes the packets and the
// encapsulations it knows; this is a test-only dependency) and compares the
// services with Zeek's conn.log. Services that are not payload recognition
// (tunnels, ftp-data, gridftp, irc-dcc-data, a test's own signature) are
// left out of the comparison. Mismatches are allowed only where the corpus
// says a plain replay cannot match (parity-skip.txt), where gopacket cannot
// decode the encapsulation (Teredo), and in dpd-logging-configuration,
// whose DPD::track_removed_services_in_connection keeps a removed service.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netbased/netbased/internal/testenv"
)

type connRow struct {
	oh, rh   string
	op, rp   string
	proto    string
	services string
}

func readConnLog(t *testing.T, path string) []connRow {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var idx map[string]int
	var rows []connRow
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#fields") {
			idx = map[string]int{}
			for i, n := range strings.Split(line, "\t")[1:] {
				idx[n] = i
			}
			continue
		}
		if strings.HasPrefix(line, "#") || idx == nil {
			continue
		}
		c := strings.Split(line, "\t")
		get := func(n string) string {
			i, ok := idx[n]
			if !ok || i >= len(c) {
				return ""
			}
			return c[i]
		}
		rows = append(rows, connRow{get("id.orig_h"), get("id.resp_h"), get("id.orig_p"), get("id.resp_p"), get("proto"), get("service")})
	}
	return rows
}

// notPayload are conn.log services classify does not produce by design.
var notPayload = map[string]bool{
	"teredo": true, "vxlan": true, "geneve": true, "gtpv1": true, "ayiya": true,
	"ftp-data": true, "gridftp": true, "gridftp-data": true, "irc-dcc-data": true, "blah": true, "-ftp": true,
}

func expectedServices(s string) string {
	if s == "-" || s == "" {
		return ""
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if !notPayload[p] {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

type dirState struct {
	next    uint32
	started bool
	pending map[uint32][]byte
}

type corpusConn struct {
	st      State
	origKey string // "ip:port" of the originator
	tcp     bool
	dirs    [2]dirState
	partial bool
	row     *connRow
}

func TestCorpusServices(t *testing.T) {
	root := filepath.Join(testenv.SharedDir(t), "testdata", "zeek")
	dirs, _ := filepath.Glob(filepath.Join(root, "*", "conn.log"))
	if len(dirs) == 0 {
		t.Fatalf("no conn.log under %s", root)
	}
	total, match := 0, 0
	var report []string
	allowed := map[string]bool{
		"core.tunnels.teredo": true, // Teredo is not decoded by gopacket
		"scripts.base.frameworks.analyzer.dpd-logging-configuration": true,
	}
	failures := 0
	for _, cl := range dirs {
		dir := filepath.Dir(cl)
		name := filepath.Base(dir)
		args, _ := os.ReadFile(filepath.Join(dir, "netbased-args.txt"))
		set := All
		fs := strings.Fields(string(args))
		for i, a := range fs {
			if a == "--services" && i+1 < len(fs) {
				s, err := ParseSet(fs[i+1])
				if err != nil {
					t.Fatal(err)
				}
				set = s
			}
		}
		_, skip := os.Stat(filepath.Join(dir, "parity-skip.txt"))
		rows := readConnLog(t, cl)
		got := replay(t, dir, set, rows)
		for i := range rows {
			r := &rows[i]
			if r.proto != "tcp" && r.proto != "udp" {
				continue
			}
			want := expectedServices(r.services)
			g, seen := got[r]
			if !seen && want == "" {
				continue
			}
			total++
			if g == want {
				match++
				continue
			}
			tag := ""
			if skip == nil {
				tag = " (parity-skip)"
			} else if !allowed[name] {
				tag = " (FAIL)"
				failures++
			}
			report = append(report, fmt.Sprintf("%s%s: %s %s:%s -> %s:%s got %q want %q (seen %v)", name, tag, r.proto, r.oh, r.op, r.rh, r.rp, g, want, seen))
		}
	}
	sort.Strings(report)
	for _, l := range report {
		t.Log(l)
	}
	t.Logf("corpus: %d/%d connections with payload services match", match, total)
	if failures > 0 || total < 300 {
		t.Errorf("%d unexpected mismatches (of %d connections)", failures, total)
	}
}

func replay(t *testing.T, dir string, set Set, rows []connRow) map[*connRow]string {
	paths, _ := filepath.Glob(filepath.Join(dir, "trace.pcap*"))
	if len(paths) == 0 {
		t.Fatalf("%s: no trace", dir)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var src interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var lt layers.LinkType
	if strings.HasSuffix(paths[0], "pcapng") {
		r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		src, lt = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		src, lt = r, r.LinkType()
	}
	byKey := map[string]*connRow{}
	for i := range rows {
		r := &rows[i]
		k := r.proto + "|" + r.oh + ":" + r.op + "|" + r.rh + ":" + r.rp
		if _, dup := byKey[k]; !dup {
			byKey[k] = r
		}
	}
	c := New(set)
	conns := map[string]*corpusConn{}
	for {
		data, _, err := src.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, lt, gopacket.Default)
		var sh, dh string
		for _, l := range p.Layers() {
			switch v := l.(type) {
			case *layers.IPv4:
				sh, dh = v.SrcIP.String(), v.DstIP.String()
			case *layers.IPv6:
				sh, dh = v.SrcIP.String(), v.DstIP.String()
			}
		}
		var proto, sp, dp string
		var payload []byte
		var tcp *layers.TCP
		for _, l := range p.Layers() {
			switch v := l.(type) {
			case *layers.TCP:
				proto, sp, dp, payload, tcp = "tcp", fmt.Sprint(uint16(v.SrcPort)), fmt.Sprint(uint16(v.DstPort)), v.Payload, v
			case *layers.UDP:
				proto, sp, dp, payload, tcp = "udp", fmt.Sprint(uint16(v.SrcPort)), fmt.Sprint(uint16(v.DstPort)), v.Payload, nil
			}
		}
		if proto == "" || sh == "" {
			continue
		}
		a, b := sh+":"+sp, dh+":"+dp
		k1, k2 := proto+"|"+a+"|"+b, proto+"|"+b+"|"+a
		cc := conns[k1]
		if cc == nil {
			cc = conns[k2]
		}
		if cc == nil {
			row := byKey[k1]
			origKey := a
			if row == nil {
				row = byKey[k2]
				origKey = b
			}
			if row == nil {
				continue
			}
			cc = &corpusConn{origKey: origKey, tcp: proto == "tcp", row: row}
			var op, rp uint16
			fmt.Sscan(row.op, &op)
			fmt.Sscan(row.rp, &rp)
			cc.partial = proto == "tcp" && !(tcp.SYN)
			tr := UDP
			if proto == "tcp" {
				tr = TCP
			}
			c.Start(&cc.st, tr, op, rp, cc.partial)
			if strings.HasPrefix(row.rh, "224.") || strings.HasPrefix(row.rh, "ff0") || strings.HasPrefix(row.rh, "239.") {
				cc.st.SetMulticastResponder(true)
			}
			conns[k1] = cc
		}
		fromOrig := a == cc.origKey
		d := 1
		if fromOrig {
			d = 0
		}
		if !cc.tcp {
			if len(payload) > 0 && c.Deliver(&cc.st, fromOrig, payload) == Flip {
				cc.st.Flip()
				if fromOrig {
					cc.origKey = b
				} else {
					cc.origKey = a
				}
			}
			continue
		}
		ds := &cc.dirs[d]
		seq := tcp.Seq
		if tcp.SYN {
			ds.next, ds.started = seq+1, true
			continue
		}
		if len(payload) == 0 {
			continue
		}
		if !ds.started {
			ds.next, ds.started = seq, true
		}
		if ds.pending == nil {
			ds.pending = map[uint32][]byte{}
		}
		ds.pending[seq] = append([]byte(nil), payload...)
		for {
			progressed := false
			for s, pl := range ds.pending {
				off := int32(ds.next - s)
				if off < 0 {
					continue
				}
				delete(ds.pending, s)
				if int(off) < len(pl) {
					chunk := pl[off:]
					ds.next += uint32(len(chunk))
					if cc.st.Wants(fromOrig) {
						c.Deliver(&cc.st, fromOrig, chunk)
					}
				}
				progressed = true
			}
			if !progressed {
				break
			}
		}
	}
	out := map[*connRow]string{}
	for _, cc := range conns {
		out[cc.row] = strings.Join(cc.st.Services(nil), ",")
	}
	return out
}
