package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/netbased/netbased/capture"

	"github.com/netbased/netbased/internal/testenv"
)

// fakeSource serves a pcap's frames as a live source would: after the last
// frame it returns capture.ErrIdle every 20 ms until Stop, then io.EOF; at
// pauseAt it blocks until resumed. Its clock is the timestamp of the last frame served.
type fakeSource struct {
	frames  []capture.Frame
	next    int
	pauseAt int           // index whose Next waits for resume; -1: none
	paused  chan struct{} // closed when Next reaches pauseAt
	resume  chan struct{}
	drained chan struct{} // closed when every frame was served
	stop    chan struct{}
	once    sync.Once
	clock   *atomic.Int64 // shared by the sources of one daemon: the latest frame time
	// wallClock makes now() the real clock (live timing).
	wallClock bool
	// quietAfterDrain makes Next block after the last frame instead of
	// reporting idle pauses (no idle clock: deterministic timers).
	quietAfterDrain bool
	// idleWhilePaused makes Next report idle pauses at pauseAt (as a live
	// socket on a quiet link) instead of blocking.
	idleWhilePaused bool
}

func newFakeSource(t testing.TB, pcap string) *fakeSource {
	t.Helper()
	src, err := capture.OpenFiles(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	fs := &fakeSource{pauseAt: -1, paused: make(chan struct{}), resume: make(chan struct{}),
		drained: make(chan struct{}), stop: make(chan struct{}), clock: new(atomic.Int64)}
	for {
		f, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Data = bytes.Clone(f.Data)
		fs.frames = append(fs.frames, f)
	}
	if len(fs.frames) == 0 {
		t.Fatalf("%s has no frames", pcap)
	}
	fs.clock.Store(fs.frames[0].Timestamp.UnixNano())
	return fs
}

// splitByFlow deals src's frames to n sources the way the kernel's fanout
// hash does: both directions of a conversation (the outer address pair) go
// to the same one.
func splitByFlow(t *testing.T, src *fakeSource, n int) []*fakeSource {
	t.Helper()
	out := make([]*fakeSource, n)
	for i := range out {
		out[i] = &fakeSource{pauseAt: -1, paused: make(chan struct{}), resume: make(chan struct{}),
			drained: make(chan struct{}), stop: make(chan struct{}), clock: src.clock}
	}
	dec := capture.NewDecoder(capture.DecoderOptions{})
	var pkts []capture.Packet
	for _, f := range src.frames {
		pkts, _ = dec.Decode(f, pkts[:0])
		w := 0
		if len(pkts) > 0 {
			a, b := pkts[0].Src.As16(), pkts[0].Dst.As16()
			var h byte
			for i := range a {
				h += a[i] ^ b[i] // symmetric in a and b
				h += a[i] & b[i]
			}
			w = int(h) % n
		}
		out[w].frames = append(out[w].frames, f)
	}
	for i, s := range out {
		if len(s.frames) == 0 {
			t.Fatalf("worker %d got no frames", i)
		}
	}
	return out
}

func (s *fakeSource) Next() (capture.Frame, error) {
	if s.next == s.pauseAt {
		if s.idleWhilePaused {
			select {
			case <-s.paused:
			default:
				close(s.paused)
			}
			select {
			case <-s.resume:
				s.pauseAt = -1
			case <-s.stop:
				return capture.Frame{}, io.EOF
			case <-time.After(20 * time.Millisecond):
				return capture.Frame{}, capture.ErrIdle
			}
		} else {
			s.pauseAt = -1
			close(s.paused)
			select {
			case <-s.resume:
			case <-s.stop:
				return capture.Frame{}, io.EOF
			}
		}
	}
	if s.next < len(s.frames) {
		f := s.frames[s.next]
		s.next++
		for ns := f.Timestamp.UnixNano(); ; {
			old := s.clock.Load()
			if ns <= old || s.clock.CompareAndSwap(old, ns) {
				break
			}
		}
		return f, nil
	}
	if s.next == len(s.frames) {
		s.next++
		close(s.drained)
	}
	if s.quietAfterDrain {
		<-s.stop
		return capture.Frame{}, io.EOF
	}
	// Like a live socket on an idle link: report the pause now and then.
	select {
	case <-s.stop:
		return capture.Frame{}, io.EOF
	case <-time.After(20 * time.Millisecond):
		return capture.Frame{}, capture.ErrIdle
	}
}

func (s *fakeSource) Stop()        { s.once.Do(func() { close(s.stop) }) }
func (s *fakeSource) Close() error { s.Stop(); return nil }
func (s *fakeSource) now() time.Time {
	if s.wallClock {
		return time.Now()
	}
	return time.Unix(0, s.clock.Load()).UTC()
}

// indexAt is the index of the first frame at or after t.
func (s *fakeSource) indexAt(t time.Time) int {
	for i, f := range s.frames {
		if !f.Timestamp.Before(t) {
			return i
		}
	}
	return len(s.frames)
}

// testDaemon runs runDaemon in the background on fake sources.
type testDaemon struct {
	stdout  testenv.LockedBuffer
	logs    testenv.LockedBuffer
	cancel  context.CancelFunc
	done    chan error
	state   chan *daemonState
	reload  chan struct{}
	notices []string
	mu      sync.Mutex
}

func startTestDaemon(t *testing.T, args []string, srcs ...*fakeSource) *testDaemon {
	t.Helper()
	opts, _, err := parseArgs("run", args, true)
	if err != nil {
		t.Fatal(err)
	}
	td := &testDaemon{done: make(chan error, 1), state: make(chan *daemonState, 1), reload: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	td.cancel = cancel
	level := zap.NewAtomicLevelAt(zapcore.DebugLevel)
	var sources []daemonSource
	for _, s := range srcs {
		s.clock = srcs[0].clock
		sources = append(sources, s)
	}
	p := daemonParams{
		args: args, opts: opts, sources: sources, stdout: &td.stdout,
		log: newLogger(level, &td.logs), level: level, reload: td.reload,
		notify: func(s string) {
			td.mu.Lock()
			td.notices = append(td.notices, s)
			td.mu.Unlock()
		},
		now:     srcs[0].now,
		started: func(d *daemonState) { td.state <- d },
	}
	go func() { td.done <- runDaemon(ctx, p) }()
	t.Cleanup(func() {
		cancel()
		for _, s := range srcs {
			s.Stop()
		}
	})
	return td
}

// stop cancels the daemon (SIGTERM) and waits for it.
func (td *testDaemon) stop(t *testing.T) {
	t.Helper()
	td.cancel()
	select {
	case err := <-td.done:
		if err != nil {
			t.Fatalf("daemon: %v\nlog:\n%s", err, td.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop within 30 s")
	}
}

// replayRecords runs `netbased replay` in process.
func replayRecords(t *testing.T, args ...string) []byte {
	t.Helper()
	var out, errs bytes.Buffer
	if err := replayCommand(context.Background(), args, &out, &errs); err != nil {
		t.Fatalf("replay %v: %v\n%s", args, err, errs.String())
	}
	return out.Bytes()
}

// writePcapPrefix writes the first n frames of src to a new pcap file.
func writePcapPrefix(t *testing.T, src *fakeSource, n int) string {
	t.Helper()
	var b bytes.Buffer
	b.Write([]byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0})
	le := func(v uint32) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
	for _, f := range src.frames[:n] {
		le(uint32(f.Timestamp.Unix()))
		le(uint32(f.Timestamp.Nanosecond() / 1000))
		le(uint32(len(f.Data)))
		le(uint32(f.Length))
		b.Write(f.Data)
	}
	path := filepath.Join(t.TempDir(), "prefix.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonLines splits output into its non-empty lines, in order.
func jsonLines(t *testing.T, data []byte) []string {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestRunMetrics scrapes /metrics of a running daemon and checks the names,
// the values against the input, and `promtool check metrics`.
func TestRunMetrics(t *testing.T) {
	pcap := demoPcap(t)
	src := newFakeSource(t, pcap)
	args := []string{"--interface", "fake0", "--interval", "0", "--metrics-listen", "127.0.0.1:0"}
	td := startTestDaemon(t, args, src)
	d := <-td.state
	<-src.drained
	scrape := func(path string) (int, string) {
		resp, err := http.Get("http://" + d.server.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var body string
	var m map[string]float64
	waitFor(t, "the worker to publish its counters", 10*time.Second, func() bool {
		_, body = scrape("/metrics")
		m = parseMetrics(body)
		return m[`netbased_capture_packets_total{worker="0"}`] == float64(len(src.frames))
	})
	var bytesIn float64
	for _, f := range src.frames {
		bytesIn += float64(f.Length)
	}
	want := map[string]float64{
		`netbased_capture_packets_total{worker="0"}`:                                 float64(len(src.frames)),
		`netbased_capture_bytes_total{worker="0"}`:                                   bytesIn,
		`netbased_capture_kernel_drops_total{worker="0"}`:                            0,
		`netbased_capture_queue_freezes_total{worker="0"}`:                           0,
		`netbased_capture_workers`:                                                   1,
		`netbased_connection_table_evictions_total`:                                  0,
		`netbased_emit_errors_total`:                                                 0,
		`netbased_windows_pending`:                                                   0,
		`netbased_reloads_total{result="ok"}`:                                        0,
		`netbased_window_flush_duration_seconds_count`:                               0, // interval 0: one window, written at stop
		`netbased_output_records_dropped_total{output="stdout",reason="queue_full"}`: 0,
		`netbased_output_records_dropped_total{output="stdout",reason="rejected"}`:   0,
		`netbased_output_healthy{output="stdout"}`:                                   1,
		`netbased_output_spooled_bytes{output="stdout"}`:                             0,
	}
	for name, v := range want {
		got, ok := m[name]
		if !ok {
			t.Errorf("metric %s missing", name)
		} else if got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	active, ended := m["netbased_connections_active"], m["netbased_connections_ended_total"]
	if active+ended == 0 {
		t.Errorf("no connections seen (active %v, ended %v)", active, ended)
	}
	if ended > 0 && m["netbased_monitored_ips"] == 0 {
		t.Errorf("connections ended but no monitored IPs in the open window")
	}
	if ended != m["netbased_aggregate_connections_total"] {
		t.Errorf("connections ended %v but aggregated %v", ended, m["netbased_aggregate_connections_total"])
	}
	for _, name := range []string{"netbased_network_time_seconds", "process_resident_memory_bytes", "process_cpu_seconds_total", "go_goroutines"} {
		if _, ok := m[name]; !ok {
			t.Errorf("metric %s missing", name)
		}
	}
	for name := range m {
		if strings.Contains(name, "address=") || strings.Contains(name, "host=") {
			t.Errorf("per-host label in %s", name)
		}
	}
	promtoolCheck(t, body)
	if code, health := scrape("/healthz"); code != http.StatusOK || strings.TrimSpace(health) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, health)
	}
	td.stop(t)
	if !strings.Contains(td.stdout.String(), `"address"`) {
		t.Errorf("no records written:\n%s", td.stdout.String())
	}
	td.mu.Lock()
	notices := strings.Join(td.notices, "|")
	td.mu.Unlock()
	if !strings.HasPrefix(notices, "READY=1|") || !strings.HasSuffix(notices, "|STOPPING=1") {
		t.Errorf("systemd notifications %q: want READY=1 first and STOPPING=1 last", notices)
	}
}

// TestRunSIGTERMMidWindowEmitsPartialWindow stops the daemon in the middle
// of a window: the records it wrote equal a replay of exactly the frames it
// captured, including the partial last window ending at the last network
// time.
func TestRunSIGTERMMidWindowEmitsPartialWindow(t *testing.T) {
	pcap := demoPcap(t)
	src := newFakeSource(t, pcap)
	first := src.frames[0].Timestamp
	const iv = 5 * time.Minute
	// Stop 3 minutes into the second window.
	cut := src.indexAt(first.Truncate(iv).Add(iv + 3*time.Minute))
	if cut == 0 || cut == len(src.frames) {
		t.Fatalf("%s does not span two windows of %v", pcap, iv)
	}
	src.pauseAt = cut
	args := []string{"--interface", "fake0", "--interval", "5m", "--metrics-listen", ""}
	td := startTestDaemon(t, args, src)
	<-td.state
	<-src.paused
	td.stop(t)

	want := replayRecords(t, "--interval", "5m", writePcapPrefix(t, src, cut))
	got := td.stdout.Bytes()
	if len(want) == 0 {
		t.Fatal("replay of the prefix wrote nothing: the comparison would be vacuous")
	}
	if !bytes.Equal(got, want) {
		g, w := jsonLines(t, got), jsonLines(t, want)
		for i := range min(len(g), len(w)) {
			if g[i] != w[i] {
				t.Fatalf("daemon records differ from a replay of the captured frames (%d vs %d records); first difference:\ndaemon: %s\nreplay: %s", len(g), len(w), g[i], w[i])
			}
		}
		t.Fatalf("daemon wrote %d records, a replay of the captured frames %d", len(g), len(w))
	}
	last := src.frames[cut-1].Timestamp.UTC().Format(time.RFC3339Nano)
	lastWindow := first.Truncate(iv).Add(iv).UTC().Format("2006-01-02T15:04:05")
	if !strings.Contains(string(got), `"start_time":"`+lastWindow) {
		t.Errorf("no record of the partial window starting %s:\n%s", lastWindow, got)
	}
	t.Logf("partial window %s – %s written at stop", lastWindow, last)
}

// TestRunSIGHUPLosesAndDuplicatesNothing reloads a changed configuration
// in the middle of a window: the records equal a replay of the whole pcap
// (each window once, none missing), the windows before the reload carry
// the old agent tag and the later ones the new.
func TestRunSIGHUPLosesAndDuplicatesNothing(t *testing.T) {
	pcap := demoPcap(t)
	src := newFakeSource(t, pcap)
	const iv = 5 * time.Minute
	first := src.frames[0].Timestamp
	boundary := first.Truncate(iv).Add(iv)
	cut := src.indexAt(first.Truncate(iv).Add(3 * time.Minute))
	if cut == 0 || src.frames[len(src.frames)-1].Timestamp.Before(boundary) {
		t.Fatalf("%s does not span two windows of %v", pcap, iv)
	}
	src.pauseAt = cut
	config := filepath.Join(t.TempDir(), "netbased.yaml")
	writeConfig := func(tag string) {
		if err := os.WriteFile(config, []byte("interval: 5m\nagent_tag: "+tag+"\nmetrics_listen: \"\"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("before-reload")
	td := startTestDaemon(t, []string{"--interface", "fake0", "--config", config}, src)
	d := <-td.state
	<-src.paused
	writeConfig("after-reload")
	td.reload <- struct{}{}
	waitFor(t, "the reload to be scheduled", 10*time.Second, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return !d.reloadFrom.IsZero()
	})
	d.mu.Lock()
	at := d.reloadFrom
	d.mu.Unlock()
	if !at.Equal(boundary) {
		t.Errorf("reload applies from %v, want the next window %v", at, boundary)
	}
	close(src.resume)
	<-src.drained
	td.stop(t)

	want := replayRecords(t, "--interval", "5m", "--agent-tag", "X", pcap)
	var got, exp []map[string]any
	for _, l := range jsonLines(t, td.stdout.Bytes()) {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		start, _ := time.Parse(time.RFC3339Nano, r["start_time"].(string))
		wantTag := "before-reload"
		if !start.Before(boundary) {
			wantTag = "after-reload"
		}
		if r["originating_agent_tag"] != wantTag {
			t.Errorf("record of %v at %v has tag %v, want %s", r["address"], start, r["originating_agent_tag"], wantTag)
		}
		r["originating_agent_tag"] = "X"
		got = append(got, r)
	}
	for _, l := range jsonLines(t, want) {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		exp = append(exp, r)
	}
	if len(exp) == 0 {
		t.Fatal("replay wrote nothing: the comparison would be vacuous")
	}
	seen := map[string]bool{}
	for _, r := range got {
		key := r["address"].(string) + "@" + r["start_time"].(string)
		if seen[key] {
			t.Errorf("duplicate record %s", key)
		}
		seen[key] = true
	}
	if len(got) != len(exp) {
		t.Fatalf("daemon wrote %d records, replay %d\nlog:\n%s", len(got), len(exp), td.logs.String())
	}
	for i := range exp {
		if !sameRecord(got[i], exp[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(exp[i])
			t.Errorf("record %d differs\ndaemon: %s\nreplay: %s", i, g, w)
		}
	}
	if !strings.Contains(td.logs.String(), "reloaded configuration in effect") {
		t.Errorf("the reload was not logged:\n%s", td.logs.String())
	}
}

// synFrame is an Ethernet/IPv4 TCP SYN (checksums not filled in: run with
// --ignore-checksums).
func synFrame(ts time.Time) capture.Frame {
	data := []byte{
		0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00,
		0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 9, 0, 1, 10, 9, 0, 2,
		0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	}
	return capture.Frame{Data: data, Timestamp: ts, CaptureLength: len(data), Length: len(data), LinkType: 1}
}

// TestRunIdleClockClosesWindowsOnTime sends one unanswered SYN on an
// otherwise idle link, on the real clock: the connection ends by Zeek's
// timer a few seconds later and its window's record must be written within
// 2 s of the window's end, with no packet to move time forward.
func TestRunIdleClockClosesWindowsOnTime(t *testing.T) {
	src := &fakeSource{pauseAt: -1, paused: make(chan struct{}), resume: make(chan struct{}),
		drained: make(chan struct{}), stop: make(chan struct{}), wallClock: true, clock: new(atomic.Int64)}
	src.frames = []capture.Frame{synFrame(time.Now())}
	td := startTestDaemon(t, []string{"--interface", "fake0", "--interval", "1s", "--ignore-checksums",
		"--metrics-listen", ""}, src)
	<-td.state
	var end time.Time
	waitFor(t, "the SYN's record", 20*time.Second, func() bool {
		for _, l := range jsonLines(t, td.stdout.Bytes()) {
			var r struct {
				Address string    `json:"address"`
				End     time.Time `json:"end_time"`
			}
			if err := json.Unmarshal([]byte(l), &r); err == nil && r.Address == "10.9.0.1" {
				end = r.End
				return true
			}
		}
		return false
	})
	late := time.Since(end)
	if late > 2*time.Second+100*time.Millisecond { // waitFor polls every 50 ms
		t.Errorf("window ending %v was written %v after its end, want within 2 s", end, late)
	}
	t.Logf("window ending %s written %v after its end", end.Format("15:04:05.000"), late.Round(time.Millisecond))
	td.stop(t)
}

// TestRunWorkersAheadDoNotCloseWindowsEarly runs two workers of which one
// stalls mid-window while the other runs to the end of the trace: the
// windows the fast worker handed over wait for the slow one (none is
// written early, no connection is "late"), and every connection is counted
// once.
func TestRunWorkersAheadDoNotCloseWindowsEarly(t *testing.T) {
	pcap := demoPcap(t)
	all := newFakeSource(t, pcap)
	const iv = 5 * time.Minute
	srcs := splitByFlow(t, all, 2)
	slow := srcs[0]
	slow.pauseAt = slow.indexAt(all.frames[0].Timestamp.Truncate(iv).Add(3 * time.Minute))
	if slow.pauseAt == len(slow.frames) {
		t.Fatal("the slow worker has nothing after its pause")
	}
	for _, s := range srcs {
		s.quietAfterDrain = true
	}
	td := startTestDaemon(t, []string{"--interface", "fake0", "--interval", "5m", "--metrics-listen", ""}, srcs...)
	d := <-td.state
	<-slow.paused
	<-srcs[1].drained
	time.Sleep(3 * 500 * time.Millisecond) // let the clock run with one worker far ahead
	held := d.eng.windows.Pending()
	close(slow.resume)
	<-slow.drained
	td.stop(t)
	if held == 0 {
		t.Error("no window waited while a worker stalled: the test did not exercise the watermark")
	}
	if late := d.engineCounters().LateConns; late != 0 {
		t.Errorf("%d connections reached the aggregation after their window was written", late)
	}
	sum := func(data []byte) (n float64, windows map[string]bool) {
		windows = map[string]bool{}
		for _, l := range jsonLines(t, data) {
			var r map[string]any
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			n += r["connections_count"].(float64)
			windows[r["start_time"].(string)] = true
		}
		return n, windows
	}
	got, gotWindows := sum(td.stdout.Bytes())
	want, wantWindows := sum(replayRecords(t, "--interval", "5m", pcap))
	if want == 0 || got != want {
		t.Errorf("connections counted: daemon %v, replay %v", got, want)
	}
	if len(gotWindows) != len(wantWindows) {
		t.Errorf("windows: daemon %v, replay %v", gotWindows, wantWindows)
	}
	t.Logf("%d windows waited while a worker stalled; %v connection counts in %d windows", held, got, len(gotWindows))
}

// TestRunSIGHUPReopensMovedFile is logrotate's "move, then reload": the
// records written before the move stay in the moved file, the later ones go
// to a new file at the configured path, and together they are exactly the
// replay's records.
func TestRunSIGHUPReopensMovedFile(t *testing.T) {
	pcap := demoPcap(t)
	src := newFakeSource(t, pcap)
	const iv = 5 * time.Minute
	first := src.frames[0].Timestamp
	src.pauseAt = src.indexAt(first.Truncate(iv).Add(iv + 2*time.Minute))
	src.idleWhilePaused = true
	out := filepath.Join(t.TempDir(), "intervals.json")
	td := startTestDaemon(t, []string{"--interface", "fake0", "--interval", "5m", "--out", out, "--metrics-listen", ""}, src)
	<-td.state
	<-src.paused
	waitFor(t, "the first window in the file", 10*time.Second, func() bool {
		data, _ := os.ReadFile(out)
		return len(data) > 0
	})
	if err := os.Rename(out, out+".1"); err != nil {
		t.Fatal(err)
	}
	td.reload <- struct{}{}
	waitFor(t, "the reopened file", 10*time.Second, func() bool {
		_, err := os.Stat(out)
		return err == nil
	})
	close(src.resume)
	<-src.drained
	td.stop(t)

	moved, err := os.ReadFile(out + ".1")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	firstWindow := first.Truncate(iv).UTC().Format("2006-01-02T15:04:05")
	for _, l := range jsonLines(t, moved) {
		if !strings.Contains(l, `"start_time":"`+firstWindow) {
			t.Errorf("moved file has a record of a later window: %.120s", l)
		}
	}
	if len(fresh) == 0 || strings.Contains(string(fresh), `"start_time":"`+firstWindow) {
		t.Errorf("the new file should hold the later windows only:\n%.300s", fresh)
	}
	want := replayRecords(t, "--interval", "5m", pcap)
	if got := append(moved, fresh...); !bytes.Equal(got, want) {
		t.Errorf("moved + new file (%d + %d bytes) differ from the replay (%d bytes)", len(moved), len(fresh), len(want))
	}
}

func TestRunBadInvocations(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no interface", nil, "--interface is required"},
		{"positional", []string{"--interface", "eth0", "x.pcap"}, "unexpected arguments"},
		{"bad fanout group", []string{"--interface", "eth0", "--fanout-group", "70000"}, "fanout-group"},
		{"bad mode", []string{"--interface", "eth0", "--mode", "everything"}, "mode"},
		{"bad log level", []string{"--interface", "eth0", "--log-level", "loud"}, "log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runCommand(context.Background(), tc.args, io.Discard, io.Discard)
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("runCommand(%q) = %v, want a usage error mentioning %q", tc.args, err, tc.want)
			}
		})
	}
	err := runCommand(context.Background(), []string{"--interface", "nb-no-such-if0", "--metrics-listen", ""}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "nb-no-such-if0") {
		t.Errorf("missing interface: got %v, want an error naming it", err)
	}
}

// TestLoggerJSONAndSampling checks the non-terminal (journal) format and
// that a repeated error cannot flood the log.
func TestLoggerJSONAndSampling(t *testing.T) {
	var buf bytes.Buffer
	log := newLogger(zap.NewAtomicLevelAt(zapcore.InfoLevel), &buf).Named(logEmit)
	for range 1000 {
		log.Error("writing records failed", zap.String("err", "disk full"))
	}
	log.Debug("not at info level")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) < 1 || len(lines) > logSampleFirst+1000/logSampleThereafter {
		t.Fatalf("%d lines for 1000 identical errors, want sampling (≤ %d)", len(lines), logSampleFirst+1000/logSampleThereafter)
	}
	var entry map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &entry); err != nil {
		t.Fatalf("not JSON: %q", lines[0])
	}
	if entry["logger"] != logEmit || entry["level"] != "error" || entry["ts"] == nil {
		t.Errorf("entry %v: want logger %q, level error, ts", entry, logEmit)
	}
	if strings.Contains(buf.String(), "not at info level") {
		t.Error("debug entry written at info level")
	}
}

// TestDeployConfigLoads parses deploy/netbased.yaml with the daemon's own
// loader (unknown keys are errors) and validates it.
func TestDeployConfigLoads(t *testing.T) {
	o := defaultOptions()
	if err := loadConfig("../../deploy/netbased.yaml", &o); err != nil {
		t.Fatal(err)
	}
	if _, err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if o.Interface == "" || o.Out == "-" || o.MetricsListen == "" {
		t.Errorf("example config should set interface, a file output and metrics: %+v", o)
	}
}

// TestSystemdUnitVerifies runs `systemd-analyze verify` on the unit (with
// ExecStart pointing at a freshly built binary); any output is a failure.
// It also requires a hardening exposure of at most 3.0.
func TestSystemdUnitVerifies(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		msg := "SYSTEMD-ANALYZE NOT INSTALLED: the unit file is not verified (apt-get install systemd)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	unit, err := os.ReadFile("../../deploy/netbased.service")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("/usr/local/bin/netbased ")) {
		t.Fatal("deploy/netbased.service no longer starts /usr/local/bin/netbased; update this test")
	}
	bin := netbasedBinary(t)
	path := filepath.Join(t.TempDir(), "netbased.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/netbased "), []byte(bin+" ")), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-analyze", "security", "--offline=yes", "--threshold=30", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 3.0 or failure: %v\n%s", err, out)
	}
	if i := bytes.Index(out, []byte("Overall exposure level")); i >= 0 {
		t.Logf("%s", bytes.TrimSpace(out[i:]))
	}
}

// netbasedBinary builds cmd/netbased (static, like `make build`) into the
// test's temporary directory.
func netbasedBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "netbased")
	cmd := exec.Command("go", "build", "-o", path, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// parseMetrics reads the sample lines of a Prometheus text exposition.
func parseMetrics(body string) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m
}

// sumMetric adds every sample of metric name (all label values).
func sumMetric(m map[string]float64, name string) float64 {
	var sum float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

// recordsWithoutWindow decodes JSON records and drops the window times.
func recordsWithoutWindow(t *testing.T, data []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var r map[string]any
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decoding records: %v\n%s", err, data)
		}
		delete(r, "start_time")
		delete(r, "end_time")
		delete(r, "interval_size")
		out = append(out, r)
	}
}

// demoPcap is the bundled pcaps/demo.pcap (tests that need no Zeek ground
// truth replay it).
func demoPcap(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "pcaps", "demo.pcap"))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		t.Fatalf("the bundled demo pcap: %v (make pcaps regenerates it)", err)
	}
	return p
}

// sameRecord compares two decoded records; numbers may differ in the last
// bits (a PCR average sums in the order connections end, which differs
// between one replay worker and several live workers).
func sameRecord(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		fa, aNum := va.(float64)
		fb, bNum := vb.(float64)
		if aNum && bNum {
			if math.Abs(fa-fb) > 1e-9*math.Max(1, math.Abs(fb)) {
				return false
			}
			continue
		}
		ja, _ := json.Marshal(va)
		jb, _ := json.Marshal(vb)
		if !bytes.Equal(ja, jb) {
			return false
		}
	}
	return true
}

// countFrames counts the records of a classic pcap file.
func countFrames(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 {
		t.Fatalf("%s: not a pcap", path)
	}
	var order interface{ Uint32([]byte) uint32 }
	switch {
	case bytes.Equal(data[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}), bytes.Equal(data[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1}):
		order = leOrder{}
	case bytes.Equal(data[:4], []byte{0xa1, 0xb2, 0xc3, 0xd4}), bytes.Equal(data[:4], []byte{0xa1, 0xb2, 0x3c, 0x4d}):
		order = beOrder{}
	default:
		t.Fatalf("%s: not a classic pcap", path)
	}
	n := 0
	for off := 24; off+16 <= len(data); n++ {
		off += 16 + int(order.Uint32(data[off+8:]))
	}
	return n
}

type leOrder struct{}

func (leOrder) Uint32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

type beOrder struct{}

func (beOrder) Uint32(b []byte) uint32 {
	return uint32(b[3]) | uint32(b[2])<<8 | uint32(b[1])<<16 | uint32(b[0])<<24
}

// promtoolCheck lints an exposition with `promtool check metrics` when
// promtool is installed (apt package prometheus).
func promtoolCheck(t *testing.T, body string) {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool not found (apt-get install prometheus); CI=true needs it")
		}
		t.Log("PROMTOOL NOT INSTALLED: skipping `promtool check metrics` (apt-get install prometheus)")
		return
	}
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// BenchmarkLiveWorkerFrame measures the per-frame path of a capture worker
// (decode, track, count ended connections into its accumulator) over the
// demo trace, replayed again and again with shifted timestamps.
func BenchmarkLiveWorkerFrame(b *testing.B) {
	src := newFakeSource(b, demoPcapForBench(b))
	opts, _, err := parseArgs("run", []string{"--interface", "fake0", "--interval", "5m", "--out", os.DevNull}, true)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := newEngine(opts, io.Discard, 1, nil)
	if err != nil {
		b.Fatal(err)
	}
	w := eng.workers[0]
	span := src.frames[len(src.frames)-1].Timestamp.Sub(src.frames[0].Timestamp) + time.Hour
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		n := i % len(src.frames)
		f := src.frames[n]
		f.Timestamp = f.Timestamp.Add(time.Duration(i/len(src.frames)) * span)
		w.Frame(f)
	}
	b.StopTimer()
	_ = w.Finish()
	_ = eng.close()
}

// demoPcapForBench is demoPcap for benchmarks.
func demoPcapForBench(b *testing.B) string {
	p, err := filepath.Abs("../../pcaps/demo.pcap")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		b.Skip("pcaps/demo.pcap missing")
	}
	return p
}
