package classify

import "testing"

func TestRDPStructures(t *testing.T) {
	cr, n, r := tpkt(mustHex(t, hexRDPConnReq))
	if r != yes || n != 43 || cr[1] != 0xe0 {
		t.Fatalf("Connection Request: tpkt = %d,%d", n, r)
	}
	cc, _, _ := tpkt(mustHex(t, hexRDPConnConfirmTLS))
	if p, ok := rdpSelectedProtocol(cc); !ok || p != 1 {
		t.Errorf("TLS Connection Confirm: protocol %d,%v", p, ok)
	}
	cc, _, _ = tpkt(mustHex(t, hexRDPConnConfirmStd))
	if p, ok := rdpSelectedProtocol(cc); !ok || p != 0 {
		t.Errorf("standard Connection Confirm: protocol %d,%v", p, ok)
	}
	ci, _, r := tpkt(mustHex(t, hexRDPConnectInitial))
	if r != yes || !rdpClientCore(ci) {
		t.Error("MCS Connect-Initial with client core data not recognized")
	}
	if _, _, r := tpkt(mustHex(t, "0300")); r != more {
		t.Error("short TPKT must ask for more")
	}
	if _, _, r := tpkt(mustHex(t, "16030100")); r != no {
		t.Error("TLS taken for TPKT")
	}
	if !rdpDuca([]byte("..Duca....cliprdr..")) || rdpDuca([]byte("Duca only")) {
		t.Error("Duca signature")
	}
}

func FuzzRDP(f *testing.F) {
	f.Add(seedChunks(0, chunk{true, hexRDPConnReq}, chunk{false, hexRDPConnConfirmTLS}, chunk{true, hexClientHello}))
	f.Add(seedChunks(0, chunk{true, hexRDPConnReq}, chunk{false, hexRDPConnConfirmStd}, chunk{true, hexRDPConnectInitial}))
	f.Add(seedChunks(1, chunk{true, hexRDPConnReq}, chunk{false, hexRDPConnConfirmStd}, chunk{true, hexRDPConnectInitial}))
	ft := fuzzTarget{enabled: "rdp,ssl", t: TCP, ports: []uint16{3389, 33890}}
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, _, r := tpkt(data); r == yes {
			rdpSelectedProtocol(p)
			rdpClientCore(p)
			rdpServerCore(p)
		}
		fuzzConn(t, ft, data)
	})
}
