//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netbased/netbased/internal/testenv"
)

// httpClientInNetns dials from inside the namespace (a thread that joined
// it creates the socket; the socket stays there).
func httpClientInNetns(ns string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, err}
				return
			}
			c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// notifySocket is a fake systemd notification socket.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func newNotifySocket(t *testing.T) (*notifySocket, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{conn: conn}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, strings.Split(strings.TrimSpace(string(buf[:n])), "\n")...)
			s.mu.Unlock()
		}
	}()
	return s, path
}

func (s *notifySocket) has(msg string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

func (s *notifySocket) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

var tcpreplayRate = regexp.MustCompile(`Rated: [0-9.]+ Bps, [0-9.]+ Mbps, ([0-9.]+) pps`)

// TestLiveDaemonMatchesReplay runs the daemon binary on a veth inside a
// private network namespace, replays a pcap into the other end with
// tcpreplay, stops it with SIGTERM and checks that (1) systemd heard READY,
// WATCHDOG and STOPPING, (2) /metrics counted every frame with no kernel
// drop and passes promtool, (3) the records equal `netbased replay` of the
// same pcap, window times aside.
func TestLiveDaemonMatchesReplay(t *testing.T) {
	testenv.RequireLive(t, "LIVE DAEMON TEST", "ip", "tcpreplay", "sysctl")
	bin := netbasedBinary(t)
	pcap := demoPcap(t)
	frames := countFrames(t, pcap)
	ns := testenv.NewNetns(t, "nbrun")
	notify, notifyPath := newNotifySocket(t)
	const metricsAddr = "127.0.0.1:19753" // inside the fresh namespace: always free
	node := []string{"--node-hostname", "sensor-test", "--node-ip", "192.0.2.99", "--agent-tag", "live-test"}

	args := append([]string{"netns", "exec", ns.Name, bin, "run", "--interface", ns.Capture,
		"--workers", "2", "--interval", "0", "--out", "-", "--metrics-listen", metricsAddr,
		"--fanout-group", strconv.Itoa(os.Getpid() & 0xffff)}, node...)
	daemon := exec.Command("ip", args...)
	var stdout, stderr testenv.LockedBuffer
	daemon.Stdout, daemon.Stderr = &stdout, &stderr
	daemon.Env = append(os.Environ(), "NOTIFY_SOCKET="+notifyPath, "WATCHDOG_USEC=600000")
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	defer func() {
		if daemon.ProcessState == nil {
			_ = daemon.Process.Kill()
			<-exited
		}
	}()
	waitFor(t, "READY=1 from the daemon", 15*time.Second, func() bool { return notify.has("READY=1") })

	replay := exec.Command("ip", "netns", "exec", ns.Name, "tcpreplay", "--topspeed", "-i", ns.Send, pcap)
	out, err := replay.CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
	if m := tcpreplayRate.FindSubmatch(out); m != nil {
		t.Logf("tcpreplay sent %d frames at %s packets/s", frames, m[1])
	}

	client := httpClientInNetns(ns.Name)
	var metrics map[string]float64
	var body string
	waitFor(t, fmt.Sprintf("/metrics to count %d frames", frames), 15*time.Second, func() bool {
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		metrics = parseMetrics(body)
		return sumMetric(metrics, "netbased_capture_packets_total") >= float64(frames)
	})
	if got := sumMetric(metrics, "netbased_capture_packets_total"); got != float64(frames) {
		t.Errorf("netbased_capture_packets_total = %v, want %d (the pcap's frames)", got, frames)
	}
	if got := sumMetric(metrics, "netbased_capture_kernel_drops_total"); got != 0 {
		t.Errorf("netbased_capture_kernel_drops_total = %v, want 0", got)
	}
	if got := sumMetric(metrics, "netbased_capture_bytes_total"); got <= 0 {
		t.Errorf("netbased_capture_bytes_total = %v, want > 0", got)
	}
	promtoolCheck(t, body)
	resp, err := client.Get("http://" + metricsAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	health, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s %s", resp.Status, health)
	}
	waitFor(t, "a WATCHDOG=1 ping", 5*time.Second, func() bool { return notify.has("WATCHDOG=1") })

	// SIGHUP reaches the daemon and reloads (the records go to stdout here,
	// which a reload only flushes).
	if err := daemon.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "netbased_reloads_total{result=\"ok\"} 1", 10*time.Second, func() bool {
		resp, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return parseMetrics(string(b))[`netbased_reloads_total{result="ok"}`] == 1
	})

	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("daemon exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not stop within 30 s of SIGTERM\n%s", stderr.String())
	}
	if !notify.has("STOPPING=1") {
		t.Errorf("no STOPPING=1 notification; got %q", notify.messages())
	}

	liveOut := stdout.Bytes()
	want, err := exec.Command(bin, append([]string{"replay", "--interval", "0", pcap}, node...)...).Output()
	if err != nil {
		t.Fatalf("netbased replay: %v", err)
	}
	got, exp := recordsWithoutWindow(t, liveOut), recordsWithoutWindow(t, want)
	if len(exp) == 0 {
		t.Fatal("netbased replay wrote no records: the comparison would be vacuous")
	}
	if len(got) != len(exp) {
		t.Fatalf("live wrote %d records, replay %d\nlive:\n%s\nreplay:\n%s\ndaemon log:\n%s", len(got), len(exp), liveOut, want, stderr.String())
	}
	for i := range exp {
		if !sameRecord(got[i], exp[i]) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(exp[i])
			t.Errorf("record %d differs\nlive:   %s\nreplay: %s", i, g, w)
		}
	}
	t.Logf("%d records equal to replay; daemon log:\n%s", len(got), stderr.String())
}
