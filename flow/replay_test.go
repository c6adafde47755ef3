package flow

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/netbased/netbased/capture"
)

// fakeSource yields the given frames, then err (io.EOF when nil).
type fakeSource struct {
	frames []capture.Frame
	err    error
}

func (s *fakeSource) Next() (capture.Frame, error) {
	if len(s.frames) == 0 {
		if s.err != nil {
			return capture.Frame{}, s.err
		}
		return capture.Frame{}, io.EOF
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f, nil
}

func (s *fakeSource) Close() error { return nil }

// rawUDP builds a raw-IP (LINKTYPE_RAW) IPv4/UDP frame.
func rawUDP(ts time.Time, src, dst [4]byte, sport, dport uint16, n int) capture.Frame {
	b := make([]byte, 28+n)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8] = 64
	b[9] = 17
	copy(b[12:], src[:])
	copy(b[16:], dst[:])
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	binary.BigEndian.PutUint16(b[24:], uint16(8+n))
	return capture.Frame{Data: b, Timestamp: ts, CaptureLength: len(b), Length: len(b), LinkType: 101}
}

func TestReplay(t *testing.T) {
	a, b := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	frames := []capture.Frame{
		rawUDP(at(0), a, b, 40000, 7000, 10),
		{Data: []byte{0x45, 0}, Timestamp: at(0.5), CaptureLength: 2, Length: 2, LinkType: 101}, // truncated
		rawUDP(at(1), b, a, 7000, 40000, 20),
		rawUDP(at(2), a, b, 40001, 7000, 5),
	}
	for _, tc := range []struct {
		name    string
		srcErr  error
		wantErr bool
	}{
		{name: "eof", srcErr: nil},
		{name: "source fault", srcErr: errors.New("disk on fire"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ended []Conn
			tr := NewTracker(Config{}, func(c *Conn) { ended = append(ended, c.Clone()) })
			src := &fakeSource{frames: append([]capture.Frame(nil), frames...), err: tc.srcErr}
			err := Replay(context.Background(), src, capture.NewDecoder(capture.DecoderOptions{IgnoreChecksums: true}), tr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Replay error %v, want error %v", err, tc.wantErr)
			}
			if len(ended) != 2 {
				t.Fatalf("%d connections emitted, want 2 (flushed at the end or at the fault)", len(ended))
			}
			if ended[0].ConnState != "SF" || ended[0].OrigBytes != 10 || ended[0].RespBytes != 20 || !ended[0].End.Equal(at(2)) {
				t.Errorf("first connection %+v", ended[0])
			}
			if st := tr.Stats(); st.DecodeErrs != 1 || st.Packets != 3 {
				t.Errorf("stats %+v, want 1 decode error and 3 packets", st)
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tr := NewTracker(Config{}, nil)
	if err := Replay(ctx, &fakeSource{frames: frames}, capture.NewDecoder(capture.DecoderOptions{}), tr); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled replay returned %v", err)
	}
}
