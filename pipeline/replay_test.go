package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"
	"time"

	"github.com/netbased/netbased/aggregate"
	"github.com/netbased/netbased/bench/traffic"
	"github.com/netbased/netbased/capture"
	"github.com/netbased/netbased/classify"
	"github.com/netbased/netbased/emit"
	"github.com/netbased/netbased/flow"
)

// sliceSource yields the given frames, then err (io.EOF when nil).
type sliceSource struct {
	frames []capture.Frame
	err    error
}

func (s *sliceSource) Next() (capture.Frame, error) {
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

func (s *sliceSource) Close() error { return nil }

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

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

// connCollector keeps copies of the ended connections.
type connCollector struct{ conns []flow.Conn }

func (c *connCollector) Conn(x *flow.Conn) { c.conns = append(c.conns, x.Clone()) }
func (c *connCollector) Flush()            {}

// lines is an aggregate.Output that keeps the json records.
type lines struct {
	enc emit.Encoder
	out []string
}

func (l *lines) WriteInterval(r *aggregate.Interval) error {
	l.out = append(l.out, string(l.enc.Append(nil, r)))
	return nil
}
func (l *lines) EndWindow(_, _ time.Time) error { return nil }

func TestReplayOneWorker(t *testing.T) {
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
		{name: "eof"},
		{name: "source fault", srcErr: errors.New("disk on fire"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &lines{enc: emit.NewEncoder(emit.FormatJSON, emit.EncoderOptions{})}
			win, err := aggregate.NewWindows(aggregate.Config{}, out)
			if err != nil {
				t.Fatal(err)
			}
			col := &connCollector{}
			w := NewWorker(0, Config{Decoder: capture.DecoderOptions{IgnoreChecksums: true}}, win.NewAccumulator(), col)
			src := &sliceSource{frames: append([]capture.Frame(nil), frames...), err: tc.srcErr}
			err = Replay(context.Background(), src, []*Worker{w})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Replay error %v, want error %v", err, tc.wantErr)
			}
			if err := win.Close(); err != nil {
				t.Fatal(err)
			}
			if len(col.conns) != 2 {
				t.Fatalf("%d connections ended, want 2 (flushed at the end or at the fault)", len(col.conns))
			}
			if c := col.conns[0]; c.ConnState != "SF" || c.OrigBytes != 10 || c.RespBytes != 20 || !c.End.Equal(at(2)) {
				t.Errorf("first connection %+v", c)
			}
			snap, _ := w.Snapshot()
			if snap.Frames != 4 || snap.Tracker.Packets != 3 || snap.Decoder.ErrorsByReason[capture.ReasonTruncatedIP] != 1 {
				t.Errorf("snapshot %+v, want 4 frames, 3 packets, 1 truncated_IP", snap)
			}
			if len(out.out) != 2 { // 10.0.0.1 and 10.0.0.2
				t.Errorf("%d records, want 2", len(out.out))
			}
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	win, _ := aggregate.NewWindows(aggregate.Config{}, &lines{enc: emit.NewEncoder(emit.FormatJSON, emit.EncoderOptions{})})
	w := NewWorker(0, Config{}, win.NewAccumulator(), nil)
	if err := Replay(ctx, &sliceSource{frames: frames}, []*Worker{w}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled replay returned %v", err)
	}
	if err := win.Close(); err != nil {
		t.Fatal(err)
	}
}

// replayRecords replays frames with n workers and returns the sorted json
// records and the total connections ended.
func replayRecords(t testing.TB, frames []capture.Frame, n int, iv time.Duration, shards int) ([]string, uint64) {
	t.Helper()
	out := &lines{enc: emit.NewEncoder(emit.FormatJSON, emit.EncoderOptions{})}
	win, err := aggregate.NewWindows(aggregate.Config{Interval: iv, Shards: shards, NodeHostname: "h", NodeIPAddress: "::1"}, out)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Tracker: flow.Config{
		Classifier: classify.New(classify.All),
		Expected:   flow.NewExpectedTable(),
	}}
	workers := make([]*Worker, n)
	for i := range workers {
		workers[i] = NewWorker(i, cfg, win.NewAccumulator(), nil)
	}
	if err := Replay(context.Background(), &sliceSource{frames: append([]capture.Frame(nil), frames...)}, workers); err != nil {
		t.Fatal(err)
	}
	if err := win.Close(); err != nil {
		t.Fatal(err)
	}
	var ended uint64
	for _, w := range workers {
		snap, _ := w.Snapshot()
		ended += snap.Tracker.Ended
	}
	sort.Strings(out.out)
	return out.out, ended
}

// generatedFrames is a generated trace (every scenario of the generator,
// VLANs and IPv6 included) as frames.
func generatedFrames(t testing.TB, seed uint64, sessions int) []capture.Frame {
	t.Helper()
	tr, err := traffic.Generate(traffic.Config{Seed: seed, Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	frames := make([]capture.Frame, len(tr.Packets))
	for i, p := range tr.Packets {
		frames[i] = capture.Frame{Data: p.Data, Timestamp: p.Timestamp, CaptureLength: len(p.Data), Length: len(p.Data), LinkType: 1}
	}
	return frames
}

// TestReplayWorkersGiveIdenticalRecords: the records of a replay do not
// depend on the number of workers (nor shards): byte for byte once sorted.
func TestReplayWorkersGiveIdenticalRecords(t *testing.T) {
	frames := generatedFrames(t, 7, 400)
	for _, iv := range []time.Duration{0, time.Minute, 5 * time.Minute} {
		want, wantEnded := replayRecords(t, frames, 1, iv, 1)
		if len(want) < 20 {
			t.Fatalf("only %d records", len(want))
		}
		for _, n := range []int{2, 3, 4} {
			for _, shards := range []int{1, 3} {
				got, ended := replayRecords(t, frames, n, iv, shards)
				if ended != wantEnded {
					t.Errorf("interval %v, %d workers: %d connections ended, want %d", iv, n, ended, wantEnded)
				}
				if len(got) != len(want) {
					t.Fatalf("interval %v, %d workers, %d shards: %d records, want %d", iv, n, shards, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("interval %v, %d workers, %d shards, record %d:\n got %s\nwant %s", iv, n, shards, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkReplay measures frames per second through 1 and 2 workers over
// a generated trace held in memory.
func BenchmarkReplay(b *testing.B) {
	frames := generatedFrames(b, 3, 3000)
	for _, n := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				replayRecords(b, frames, n, 5*time.Minute, 1)
			}
			b.ReportMetric(float64(len(frames)*b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
