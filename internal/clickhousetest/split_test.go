package clickhousetest

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/netbased/netbased/bench/traffic"
)

func TestSplitPcap(t *testing.T) {
	var in bytes.Buffer
	st, err := traffic.WritePcap(&in, traffic.Config{Seed: 3, Sessions: 60})
	if err != nil {
		t.Fatal(err)
	}
	outs := []*bytes.Buffer{{}, {}}
	counts, err := SplitPcap(bytes.NewReader(in.Bytes()), []io.Writer{outs[0], outs[1]})
	if err != nil {
		t.Fatal(err)
	}
	if int64(counts[0]+counts[1]) != st.Packets || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("split %d packets into %v", st.Packets, counts)
	}
	for i, o := range outs {
		r, err := pcapgo.NewReader(o)
		if err != nil {
			t.Fatal(err)
		}
		n, clocks := 0, 0
		var last time.Time
		for {
			data, ci, err := r.ReadPacketData()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(data, clockPacket()) {
				clocks++
			} else {
				n++
			}
			last = ci.Timestamp
		}
		if n != counts[i] || n+clocks != int(st.Packets) || !last.Equal(st.Last) {
			t.Fatalf("output %d: %d packets and %d clock packets ending at %v, want %d, %d in all, ending at %v", i, n, clocks, last, counts[i], st.Packets, st.Last)
		}
	}
}
