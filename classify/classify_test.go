package classify

import (
	"encoding/hex"
	"strings"
	"testing"
)

// chunk is one delivery: direction and hex payload.
type chunk struct {
	orig bool
	hex  string
}

// traceCase is one connection fed chunk by chunk.
type traceCase struct {
	name               string
	t                  Transport
	origPort, respPort uint16
	partial            bool
	multicast          bool
	enabled            string // ParseSet list; "" = all
	chunks             []chunk
	want               string // comma-joined services
	flips              int    // expected Flip actions
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// run feeds the case through a classifier the way the flow tracker does and
// returns the services and the number of flips.
func run(t testing.TB, tc traceCase) (string, int) {
	t.Helper()
	set := All
	if tc.enabled != "" {
		s, err := ParseSet(tc.enabled)
		if err != nil {
			t.Fatalf("ParseSet(%q): %v", tc.enabled, err)
		}
		set = s
	}
	c := New(set)
	var st State
	c.Start(&st, tc.t, tc.origPort, tc.respPort, tc.partial)
	st.SetMulticastResponder(tc.multicast)
	flipped := false
	flips := 0
	for _, ch := range tc.chunks {
		fromOrig := ch.orig != flipped
		data := mustHex(t, ch.hex)
		if tc.t == TCP && !st.Wants(fromOrig) {
			continue
		}
		if c.Deliver(&st, fromOrig, data) == Flip {
			st.Flip()
			flipped = !flipped
			flips++
		}
	}
	return strings.Join(st.Services(nil), ","), flips
}

func TestTraceCases(t *testing.T) {
	cases := append(append([]traceCase{}, traceCases...), traceCasesUDP...)
	if len(cases) < 30 {
		t.Fatalf("only %d trace cases", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.chunks) == 0 {
				t.Fatal("case has no payload")
			}
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

// TestSideMemo: a signature side is evaluated again only when its view has
// grown, and its kept answer is the one it gave.
func TestSideMemo(t *testing.T) {
	calls := 0
	fn := func(b []byte) tri {
		calls++
		return pop3ClientSig(b)
	}
	var in input
	view := []byte("CAPA\r\nUSER x\r\n")
	for _, tc := range []struct {
		n         int
		want      tri
		wantCalls int
	}{
		{0, more, 1}, {0, more, 1}, {3, more, 2}, {3, more, 2}, {6, yes, 3}, {6, yes, 3}, {len(view), yes, 4},
	} {
		if got := in.side(sidePOP3Client, view[:tc.n], fn); got != tc.want || calls != tc.wantCalls {
			t.Fatalf("view of %d bytes: got %v after %d calls, want %v after %d", tc.n, got, calls, tc.want, tc.wantCalls)
		}
	}
	if got := in.side(sideNone, view, fn); got != yes || calls != 5 {
		t.Fatalf("sideNone: got %v after %d calls, want yes after 5", got, calls)
	}
}
