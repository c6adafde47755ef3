package classify

import (
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ANALYZERS.md from the analyzer table")

// TestAnalyzersDoc keeps ANALYZERS.md equal to the table it documents.
func TestAnalyzersDoc(t *testing.T) {
	want := AnalyzersMarkdown()
	if *update {
		if err := os.WriteFile("ANALYZERS.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("ANALYZERS.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("ANALYZERS.md is stale: run go test ./classify -run TestAnalyzersDoc -update")
	}
}

// TestAnalyzerTable checks the table's own consistency: one row per name,
// every recognizer's service behind exactly one implemented row, every row
// described.
func TestAnalyzerTable(t *testing.T) {
	seen := map[string]bool{}
	svcRows := map[uint8]string{}
	for _, a := range Analyzers() {
		if seen[a.Name] {
			t.Errorf("%s: two rows", a.Name)
		}
		seen[a.Name] = true
		if a.Name != strings.ToLower(a.Name) || a.Name == "" {
			t.Errorf("%q: conn.log names are lowercase", a.Name)
		}
		if len(a.Scripts) == 0 || a.Confirm == "" || a.Kind == 0 || a.Status == 0 {
			t.Errorf("%s: scripts, kind, status and confirmation must be given", a.Name)
		}
		if a.Status == NotImplemented && a.Notes == "" {
			t.Errorf("%s: not implemented without a note saying why", a.Name)
		}
		if a.Implemented() != (a.svc != noService) || (a.svc != noService) != (a.Status == Implemented && a.Kind != ScriptLabel) {
			t.Errorf("%s: status %v does not match its recognizer", a.Name, a.Status)
		}
		if a.svc != noService {
			if prev, dup := svcRows[a.svc]; dup {
				t.Errorf("%s and %s share a recognizer", a.Name, prev)
			}
			svcRows[a.svc] = a.Name
		}
		if a.Kind == PacketAnalyzer && (len(a.Attach.TCP)+len(a.Attach.UDP) > 0 || a.Server != nil) {
			t.Errorf("%s: tunnel ports are flow's fact", a.Name)
		}
	}
	// State.attach has 32 bits per transport.
	for tr, slots := range attachSlots {
		n := 0
		for _, slot := range slots {
			if slot != noSlot {
				n++
			}
		}
		if n > 32 {
			t.Errorf("%d services attached by port on transport %d: State.attach holds 32", n, tr+1)
		}
	}
	if len(svcRows) != int(numServices) {
		t.Errorf("%d recognizer services in the table, want %d", len(svcRows), numServices)
	}
	for _, n := range Names() {
		if !seen[n] {
			t.Errorf("service %s has no row", n)
		}
	}
}

func TestLikelyServerPorts(t *testing.T) {
	all := LikelyServerPorts(nil)
	if !slices.Contains(all.TCP, 22) || !slices.Contains(all.UDP, 53) || !slices.Contains(all.TCP, 502) {
		t.Errorf("default ports miss ssh/dns/modbus: %v", all)
	}
	if slices.Contains(all.TCP, 110) {
		t.Error("110/tcp: base/protocols/pop3 registers no ports")
	}
	if slices.Contains(all.UDP, 4789) {
		t.Error("tunnel ports belong to flow")
	}
	// Script names load every analyzer of the package.
	ssl := LikelyServerPorts([]string{"SSL"})
	if !slices.Contains(ssl.TCP, 443) || !slices.Contains(ssl.UDP, 443) {
		t.Errorf("ssl loads ssl and dtls: %v", ssl)
	}
	rdp := LikelyServerPorts([]string{"rdp"})
	if !slices.Equal(rdp.TCP, []uint16{3389}) || !slices.Equal(rdp.UDP, []uint16{3389}) {
		t.Errorf("rdp loads rdp and rdpeudp: %v", rdp)
	}
	dhcp := LikelyServerPorts([]string{"dhcp"})
	if !slices.Equal(dhcp.UDP, []uint16{67, 4011}) {
		t.Errorf("dhcp server ports: %v", dhcp)
	}
	if p := LikelyServerPorts([]string{"nonsense"}); len(p.TCP)+len(p.UDP) != 0 {
		t.Errorf("unknown name adds ports: %v", p)
	}
}

func TestParseSetFromTable(t *testing.T) {
	for list, want := range map[string][]string{
		"rdp":     {"rdp", "rdpeudp"},
		"dce-rpc": {"dce_rpc"},
		"smb":     {"smb", "gssapi", "ntlm", "dce_rpc"},
		"ldap":    {"ldap_tcp", "ldap_udp"},
		"sip":     {"sip"},
		"snmp":    {"snmp"},
		"syslog":  {"syslog", "syslog_tcp"},
		"socks":   {"socks"},
		"dnp3":    {"dnp3_tcp", "dnp3_udp"},
		"modbus":  {"modbus"},
	} {
		s, err := ParseSet(list)
		if err != nil {
			t.Fatalf("%s: %v", list, err)
		}
		var got []string
		for _, n := range Names() {
			if s.Has(n) {
				got = append(got, n)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("ParseSet(%q) = %v, want %v", list, got, want)
		}
	}
}
