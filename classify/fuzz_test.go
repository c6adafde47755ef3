package classify

import (
	"strings"
	"testing"
)

// fuzzTarget describes how a recognizer's fuzz target drives connections.
type fuzzTarget struct {
	enabled string // ParseSet list
	t       Transport
	ports   []uint16 // responder ports to try (attached and not)
}

// fuzzConn interprets data as a connection: byte 0 picks the port and the
// partial flag; then chunks, each a header byte (bit 7: from the
// responder; bit 6: a gap before it; bits 0–5: length/4 + 1... up to 256)
// followed by its bytes. It checks the invariants every recognizer must
// keep on hostile input.
func fuzzConn(t *testing.T, ft fuzzTarget, data []byte) {
	if len(data) == 0 {
		return
	}
	set, err := ParseSet(ft.enabled)
	if err != nil {
		t.Fatal(err)
	}
	c := New(set)
	var st State
	sel := data[0]
	data = data[1:]
	port := ft.ports[int(sel&0x7f)%len(ft.ports)]
	c.Start(&st, ft.t, 40000, port, sel&0x80 != 0 && ft.t == TCP)
	deliveries := 0
	for len(data) > 0 {
		h := data[0]
		data = data[1:]
		n := int(h&0x3f)*4 + 1
		if n > len(data) {
			n = len(data)
		}
		chunk := data[:n]
		data = data[n:]
		fromOrig := h&0x80 == 0
		if h&0x40 != 0 {
			c.Gap(&st, fromOrig)
		}
		if c.Deliver(&st, fromOrig, chunk) == Flip {
			st.Flip()
		}
		deliveries++
		checkInvariants(t, &st)
	}
	// After the chunk bound nothing more is wanted.
	for i := 0; i < 2*maxChunks+2; i++ {
		c.Deliver(&st, i%2 == 0, []byte("x"))
	}
	// The expected-connection watch (expect.go) and SMB's message walk
	// (smb.go) alone keep wanting payload, with bounded buffers.
	watching := st.watch() != nil || st.flags&flagSMBWalk != 0
	if (st.Wants(true) || st.Wants(false)) && !watching {
		t.Fatalf("still wants payload after %d chunks", 2*maxChunks+2+deliveries)
	}
	checkExpectations(t, &st) // takes the queued expectations
	if st.x != nil || st.sx != nil && !watching {
		t.Fatal("buffers kept after classification ended")
	}
	checkInvariants(t, &st)
}

// checkExpectations checks the watch's bounds and what it announces.
func checkExpectations(t *testing.T, st *State) {
	t.Helper()
	if ew := st.watch(); ew != nil {
		for d := 0; d < 2; d++ {
			if len(ew.part[d]) > expectMaxLine {
				t.Fatalf("watch line buffer %d bytes exceeds %d", len(ew.part[d]), expectMaxLine)
			}
		}
		if ew.adat != nil && cap(ew.adat.scratch) > 2*adatMaxToken {
			t.Fatalf("ADAT scratch %d bytes", cap(ew.adat.scratch))
		}
	}
	exps := st.TakeExpectations(nil)
	if len(exps) > expectMaxQueue {
		t.Fatalf("%d expectations queued, bound %d", len(exps), expectMaxQueue)
	}
	for _, e := range exps {
		if e.Service != ServiceFTPData && e.Service != ServiceIRCDCCData {
			t.Fatalf("expectation with service %q", e.Service)
		}
		if !e.RespIsControlResp && !e.Resp.IsValid() {
			t.Fatalf("expectation without an address: %+v", e)
		}
	}
	if len(st.TakeExpectations(nil)) != 0 {
		t.Fatal("TakeExpectations did not forget")
	}
}

func checkInvariants(t *testing.T, st *State) {
	t.Helper()
	if st.x != nil {
		for d := 0; d < 2; d++ {
			if len(st.x.buf[d]) > prefixCap || cap(st.x.buf[d]) > prefixCap {
				t.Fatalf("direction %d buffer %d/%d bytes exceeds %d", d, len(st.x.buf[d]), cap(st.x.buf[d]), prefixCap)
			}
		}
	}
	if st.chunks[0] > maxChunks || st.chunks[1] > maxChunks {
		t.Fatalf("chunk counters %v beyond %d", st.chunks, maxChunks)
	}
	if st.sx != nil {
		if w := st.sx.smb; w != nil {
			for d := range w.dir {
				if cap(w.dir[d].buf) > smbMaxMessage {
					t.Fatalf("SMB direction %d keeps %d bytes", d, cap(w.dir[d].buf))
				}
			}
			if w.walked > smbMaxChunks || w.messages > smbMaxMessages+2 {
				t.Fatalf("SMB walk past its bounds: %d chunks, %d messages", w.walked, w.messages)
			}
			checkDCEBounds(t, w.dce[:]...)
		}
		if a := st.sx.dce; a != nil {
			checkDCEBounds(t, *a)
		}
	}
	seen := map[string]bool{}
	for _, s := range st.Services(nil) {
		if seen[s] {
			t.Fatalf("service %q twice in %v", s, st.Services(nil))
		}
		seen[s] = true
		if !strings.Contains(","+strings.Join(Names(), ",")+",", ","+s+",") {
			t.Fatalf("unknown service %q", s)
		}
	}
}

func checkDCEBounds(t *testing.T, as ...dceAnalyzer) {
	t.Helper()
	for _, a := range as {
		for d := range a.dir {
			if cap(a.dir[d].buf) > dceMaxPDU {
				t.Fatalf("DCE_RPC direction %d keeps %d bytes", d, cap(a.dir[d].buf))
			}
		}
	}
}

// seedChunks builds a fuzz input from whole chunks (orig first).
func seedChunks(sel byte, chunks ...chunk) []byte {
	out := []byte{sel}
	for _, ch := range chunks {
		b := mustHexNoT(ch.hex)
		for len(b) > 0 {
			n := len(b)
			if n > 253 {
				n = 253
			}
			h := byte((n - 1) / 4)
			if !ch.orig {
				h |= 0x80
			}
			take := int(h&0x3f)*4 + 1
			if take > n {
				take = n
			}
			out = append(out, h)
			out = append(out, b[:take]...)
			b = b[take:]
		}
	}
	return out
}

func mustHexNoT(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		b[i] = unhexByte(s[2*i])<<4 | unhexByte(s[2*i+1])
	}
	return b
}

func unhexByte(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}

// seedsFor returns fuzz seeds from the trace cases whose name has prefix.
func seedsFor(prefix string) [][]byte {
	var out [][]byte
	for _, tc := range append(append([]traceCase{}, traceCases...), traceCasesUDP...) {
		if strings.HasPrefix(tc.name, prefix) {
			out = append(out, seedChunks(0, tc.chunks...))
		}
	}
	return out
}
