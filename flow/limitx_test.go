package flow

import (
	"strings"
	"testing"

	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
)

// An FTP client command longer than FTP::max_command_length after the
// analyzer confirmed is Analyzer::LimitReachedWeird: the history gets 'X'
// while that packet's payload is delivered; before the confirmation the
// command is only ignored.
func TestHistoryXAnalyzerLimit(t *testing.T) {
	long := strings.Repeat("A", 101) + " x\r\n"
	for _, tc := range []struct {
		name    string
		lines   []string // alternating server, client, server, …
		history string
	}{
		{"long-command-after-confirmation", []string{"220 ready\r\n", "USER anna\r\n", "331 pw\r\n", long, "500 no\r\n"}, "ShAdDX"},
		{"long-command-first", []string{"220 ready\r\n", long, "500 no\r\n", "USER anna\r\n", "331 pw\r\n"}, "ShAdD"},
		{"command-of-100", []string{"220 ready\r\n", "USER anna\r\n", "331 pw\r\n", strings.Repeat("A", 100) + "\r\n", "500 no\r\n"}, "ShAdD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Config{Classifier: classify.New(classify.All)})
			seqA, seqB := uint32(1001), uint32(5001)
			send := func(at0 float64, fromA bool, payload string) {
				p := capture.Packet{Timestamp: at(at0), Proto: capture.ProtoTCP, TCPFlags: fA | fP, Window: 1000,
					PayloadLen: len(payload), Payload: []byte(payload), IPLen: uint32(40 + len(payload))}
				if fromA {
					p.Src, p.Dst, p.SrcPort, p.DstPort, p.Seq, p.Ack = hostA, hostB, 40000, 21, seqA, seqB
					seqA += uint32(len(payload))
				} else {
					p.Src, p.Dst, p.SrcPort, p.DstPort, p.Seq, p.Ack = hostB, hostA, 21, 40000, seqB, seqA
					seqB += uint32(len(payload))
				}
				h.tr.Packet(&p)
			}
			h.tcp(40000, 21, handshake()...)
			for i, l := range tc.lines {
				send(1+float64(i)/10, i%2 == 1, l)
			}
			c := h.only()
			if c.History != tc.history {
				t.Errorf("history %q, want %q (services %v)", c.History, tc.history, c.Services)
			}
		})
	}
}
