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
