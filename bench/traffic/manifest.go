package traffic

import (
	"fmt"
	"net/netip"
	"strings"
)

// ManifestMarkdown describes the trace cfg produces: a summary line and the
// session table (background sessions summarised), as pcaps/README.md shows.
func ManifestMarkdown(cfg Config) (string, error) {
	tr, err := Generate(cfg)
	if err != nil {
		return "", err
	}
	background := 0
	for _, s := range tr.Sessions {
		if s.Background {
			background++
		}
	}
	pcapSize := 24 + 16*tr.Stats.Packets + tr.Stats.Bytes
	summary := fmt.Sprintf("%d packets, %d connections (%d catalogue, %d background), %d bytes of pcap, %s – %s UTC.\n\n",
		tr.Stats.Packets, len(tr.Sessions), len(tr.Sessions)-background, background, pcapSize,
		tr.Stats.First.UTC().Format("2006-01-02 15:04:05"), tr.Stats.Last.UTC().Format("15:04:05"))
	return summary + MarkdownTable(tr.Sessions, false), nil
}

// MarkdownTable renders sessions as a markdown table. With background
// false, random background sessions are summarised in one line per kind
// instead of being listed.
func MarkdownTable(sessions []Session, background bool) string {
	var sb strings.Builder
	sb.WriteString("| # | start | kind | proto | orig | resp | dir | vlan | pkts | service | conn_state | history | note |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	type summary struct {
		n, pkts int
		states  map[string]int
		service string
	}
	bg := map[string]*summary{}
	var bgOrder []string
	for _, s := range sessions {
		if s.Background && !background {
			key := s.Kind
			if bg[key] == nil {
				bg[key] = &summary{states: map[string]int{}, service: s.Service}
				bgOrder = append(bgOrder, key)
			}
			bg[key].n++
			bg[key].pkts += s.Packets
			bg[key].states[s.ConnState]++
			continue
		}
		vlan := ""
		if s.VLAN != 0 {
			vlan = fmt.Sprint(s.VLAN)
		}
		fmt.Fprintf(&sb, "| %d | %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s | %s |\n",
			s.ID, s.Start.Format("15:04:05.000"), s.Kind, s.Proto,
			endpoint(s.Orig, s.OrigPort, s.Proto), endpoint(s.Resp, s.RespPort, s.Proto), s.Direction, vlan, s.Packets,
			dash(s.Service), s.ConnState, dash(s.History), s.Note)
	}
	if len(bgOrder) > 0 {
		sb.WriteString("\nBackground sessions (random hosts and times, drawn from the seed):\n\n")
		sb.WriteString("| kind | sessions | pkts | service | conn_states |\n|---|---|---|---|---|\n")
		for _, k := range bgOrder {
			s := bg[k]
			var states []string
			for _, st := range []string{"SF", "S0", "S1", "REJ", "RSTO", "RSTR", "OTH"} {
				if n := s.states[st]; n > 0 {
					states = append(states, fmt.Sprintf("%s×%d", st, n))
				}
			}
			fmt.Fprintf(&sb, "| %s | %d | %d | %s | %s |\n", k, s.n, s.pkts, dash(s.service), strings.Join(states, " "))
		}
	}
	return sb.String()
}

func endpoint(a netip.Addr, port uint16, proto string) string {
	if proto == "icmp" {
		return a.String()
	}
	return netip.AddrPortFrom(a, port).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
