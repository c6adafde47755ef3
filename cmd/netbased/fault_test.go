//go:build linux

package main

// The fault suite (issue "Nothing stalls capture, nothing is lost"): real
// daemon processes on a veth in a private network namespace, fed by
// tcpreplay, with outputs that are down, stalled or full, and killed.

import (
	"bufio"
	"bytes"
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

// listenInNetns listens on addr inside the namespace (a thread that joined
// it creates the socket; the socket stays there).
func listenInNetns(t *testing.T, ns, addr string) net.Listener {
	t.Helper()
	type result struct {
		ln  net.Listener
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
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, ns, r.err)
	}
	t.Cleanup(func() { r.ln.Close() })
	return r.ln
}

// bulkServer is a fake Elasticsearch _bulk endpoint that keeps the
// documents by _id, as an index would (a document sent again overwrites
// itself).
type bulkServer struct {
	mu       sync.Mutex
	docs     map[string]map[string]any
	received int // documents received, repeats included
}

func (b *bulkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		http.NotFound(w, r)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var ids []string
	var srcs []map[string]any
	for sc.Scan() {
		var action struct {
			Index struct {
				ID string `json:"_id"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || !sc.Scan() {
			http.Error(w, "bad bulk body", http.StatusBadRequest)
			return
		}
		var src map[string]any
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			http.Error(w, "bad document", http.StatusBadRequest)
			return
		}
		ids, srcs = append(ids, action.Index.ID), append(srcs, src)
	}
	b.mu.Lock()
	for i, id := range ids {
		b.docs[id] = srcs[i]
	}
	b.received += len(ids)
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Elastic-Product", "Elasticsearch") // the client checks it, as the official one does
	fmt.Fprint(w, `{"took":1,"errors":false,"items":[]}`)
}

// count returns the documents stored (distinct _ids) and received.
func (b *bulkServer) count() (stored, received int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.docs), b.received
}

// serveBulk serves a fake _bulk endpoint on ln.
func serveBulk(t *testing.T, ln net.Listener) *bulkServer {
	b := &bulkServer{docs: map[string]map[string]any{}}
	srv := &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}

// faultDaemon is one netbased run process inside a namespace.
type faultDaemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	stderr  testenv.LockedBuffer
	exited  chan error
	client  *http.Client
	metrics string // host:port inside the namespace
}

// startFaultDaemon starts `netbased run` in ns with args (its interface
// and metrics address added).
func startFaultDaemon(t *testing.T, bin string, ns *testenv.Netns, args ...string) *faultDaemon {
	t.Helper()
	d := &faultDaemon{t: t, exited: make(chan error, 1), client: httpClientInNetns(ns.Name), metrics: "127.0.0.1:19753"}
	full := append([]string{"netns", "exec", ns.Name, bin, "run", "--interface", ns.Capture,
		"--metrics-listen", d.metrics, "--fanout-group", strconv.Itoa(os.Getpid() & 0xffff),
		"--node-hostname", "fault-test", "--node-ip", "192.0.2.7"}, args...)
	d.cmd = exec.Command("ip", full...)
	d.cmd.Stderr = &d.stderr
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	})
	waitFor(t, "the daemon's /metrics", 20*time.Second, func() bool { _, err := d.scrape(); return err == nil })
	return d
}

// scrape reads /metrics.
func (d *faultDaemon) scrape() (map[string]float64, error) {
	resp, err := d.client.Get("http://" + d.metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return parseMetrics(string(b)), nil
}

// health returns /healthz's status code.
func (d *faultDaemon) health() int {
	resp, err := d.client.Get("http://" + d.metrics + "/healthz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stop sends SIGTERM and returns how long the daemon took to exit; it
// fails the test unless it exits 0 within limit.
func (d *faultDaemon) stop(limit time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			d.t.Fatalf("daemon exit: %v\n%s", err, d.stderr.String())
		}
	case <-time.After(limit):
		d.t.Fatalf("daemon did not exit within %v of SIGTERM\n%s", limit, d.stderr.String())
	}
	return time.Since(start)
}

var stoppedRecords = regexp.MustCompile(`"msg":"stopped".*"records":([0-9]+)`)

// recordsWritten is the record count the daemon's "stopped" line reports.
func (d *faultDaemon) recordsWritten() int {
	d.t.Helper()
	m := stoppedRecords.FindStringSubmatch(d.stderr.String())
	if m == nil {
		d.t.Fatalf("no stopped line in the log:\n%s", d.stderr.String())
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// tcpreplay sends pcap into the namespace's veth, looped, at rate mbps.
func tcpreplay(t *testing.T, ns *testenv.Netns, pcap string, loops int, mbps string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns.Name, "tcpreplay", "--mbps", mbps, "--loop", strconv.Itoa(loops),
		"-i", ns.Send, pcap).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpreplay: %v\n%s", err, out)
	}
}

// TestFaultOutputDownDoesNotStallCapture runs the daemon with an
// Elasticsearch output that is down (a dead port) or stalled (a listener
// that accepts and never answers) while tcpreplay sends 30 Mbit/s: every
// frame is captured, /metrics and /healthz answer, SIGTERM ends the daemon
// within the unit's 60 s, and once a _bulk server is up on the same port a
// restarted daemon delivers every record from its spool, each once.
func TestFaultOutputDownDoesNotStallCapture(t *testing.T) {
	testenv.RequireLive(t, "FAULT TEST", "ip", "tcpreplay", "sysctl")
	bin := netbasedBinary(t)
	pcap := demoPcap(t)
	const loops = 120
	frames := loops * countFrames(t, pcap)
	for _, mode := range []string{"dead port", "never answers"} {
		t.Run(strings.ReplaceAll(mode, " ", "-"), func(t *testing.T) {
			ns := testenv.NewNetns(t, "nbflt")
			spool := filepath.Join(t.TempDir(), "spool")
			const esAddr = "127.0.0.1:19200"
			var stalled net.Listener
			if mode == "never answers" {
				stalled = listenInNetns(t, ns.Name, esAddr)
				go func() {
					for {
						c, err := stalled.Accept()
						if err != nil {
							return
						}
						defer c.Close() // held open, never answered
					}
				}()
			}
			args := []string{"--workers", "2", "--interval", "2s", "--out", "es+http://" + esAddr + "/netbase",
				"--spool-dir", spool, "--output-stop-timeout", "5s"}
			d := startFaultDaemon(t, bin, ns, args...)
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				tcpreplay(t, ns, pcap, loops, "30")
			}()
			// While the output is down, the daemon answers.
			for done := false; !done; {
				select {
				case <-sent:
					done = true
				case <-time.After(2 * time.Second):
					if _, err := d.scrape(); err != nil {
						t.Errorf("/metrics did not answer during the outage: %v", err)
					}
					if code := d.health(); code == 0 {
						t.Error("/healthz did not answer during the outage")
					}
				}
			}
			var m map[string]float64
			waitFor(t, fmt.Sprintf("%d frames counted", frames), 20*time.Second, func() bool {
				var err error
				m, err = d.scrape()
				return err == nil && sumMetric(m, "netbased_capture_packets_total") >= float64(frames)
			})
			if got := sumMetric(m, "netbased_capture_packets_total"); got != float64(frames) {
				t.Errorf("captured %v frames, sent %d", got, frames)
			}
			if drops := sumMetric(m, "netbased_capture_kernel_drops_total"); drops != 0 {
				t.Errorf("%v kernel drops", drops)
			}
			took := d.stop(60 * time.Second)
			written := d.recordsWritten()
			if written == 0 {
				t.Fatal("no records were written: the test exercised nothing")
			}
			t.Logf("%s: %d of %d frames captured, %d records spooled, SIGTERM exit 0 after %v", mode, frames, frames, written, took.Round(time.Millisecond))

			// The back end comes up; a restart delivers the spool.
			if stalled != nil {
				stalled.Close()
			}
			bulk := serveBulk(t, listenInNetns(t, ns.Name, esAddr))
			d2 := startFaultDaemon(t, bin, ns, args...)
			waitFor(t, fmt.Sprintf("%d records delivered", written), 60*time.Second, func() bool {
				stored, _ := bulk.count()
				return stored >= written
			})
			d2.stop(60 * time.Second)
			stored, received := bulk.count()
			if stored != written {
				t.Errorf("%d records stored, %d written", stored, written)
			}
			t.Logf("after the back end came up: %d records delivered (%d sends, repeats overwrite by _id)", stored, received)
		})
	}
}

// TestFaultKilledDaemonReplaysSpool kills a daemon (SIGKILL) mid-window
// while its Elasticsearch output is down: a restarted daemon delivers what
// was spooled, each record once.
func TestFaultKilledDaemonReplaysSpool(t *testing.T) {
	testenv.RequireLive(t, "FAULT TEST", "ip", "tcpreplay", "sysctl")
	bin := netbasedBinary(t)
	pcap := demoPcap(t)
	ns := testenv.NewNetns(t, "nbkil")
	spool := filepath.Join(t.TempDir(), "spool")
	const esAddr = "127.0.0.1:19200"
	args := []string{"--interval", "1s", "--out", "es+http://" + esAddr + "/netbase", "--spool-dir", spool}
	d := startFaultDaemon(t, bin, ns, args...)
	tcpreplay(t, ns, pcap, 40, "5")
	var spooled float64
	waitFor(t, "records in the spool", 20*time.Second, func() bool {
		m, err := d.scrape()
		if err != nil {
			return false
		}
		spooled = sumMetric(m, "netbased_records_emitted_total")
		return spooled > 0 && sumMetric(m, "netbased_output_spooled_bytes") > 0
	})
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited

	bulk := serveBulk(t, listenInNetns(t, ns.Name, esAddr))
	d2 := startFaultDaemon(t, bin, ns, args...)
	waitFor(t, fmt.Sprintf("at least the %v records spooled before the kill delivered", spooled), 60*time.Second, func() bool {
		stored, _ := bulk.count()
		return float64(stored) >= spooled
	})
	// Whatever is delivered is delivered once per record: no two
	// documents for one address and window.
	time.Sleep(2 * time.Second)
	d2.stop(60 * time.Second)
	bulk.mu.Lock()
	defer bulk.mu.Unlock()
	seen := map[string]bool{}
	for _, doc := range bulk.docs {
		key := fmt.Sprint(doc["address"], "@", doc["start_time"])
		if seen[key] {
			t.Errorf("record %s delivered twice", key)
		}
		seen[key] = true
	}
	t.Logf("%v records spooled before SIGKILL; %d delivered after the restart (%d sends)", spooled, len(bulk.docs), bulk.received)
}

// TestFaultDiskFullRecovers fills the file system of the records file: the
// lost records are counted, /healthz says so, no partial line is left, and
// once there is room again writing resumes and health comes back.
func TestFaultDiskFullRecovers(t *testing.T) {
	testenv.RequireLive(t, "FAULT TEST", "ip", "tcpreplay", "sysctl", "mount")
	bin := netbasedBinary(t)
	pcap := demoPcap(t)
	ns := testenv.NewNetns(t, "nbdsk")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "netbased-fault", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	out := filepath.Join(dir, "intervals.json")
	d := startFaultDaemon(t, bin, ns, "--interval", "1s", "--out", out, "--output-queue-bytes", "65536")
	stopTraffic := make(chan struct{})
	trafficDone := make(chan struct{})
	go func() {
		defer close(trafficDone)
		for {
			select {
			case <-stopTraffic:
				return
			default:
			}
			_ = exec.Command("ip", "netns", "exec", ns.Name, "tcpreplay", "--mbps", "2", "-i", ns.Send, pcap).Run()
		}
	}()
	defer func() { close(stopTraffic); <-trafficDone }()
	waitFor(t, "records in the file", 20*time.Second, func() bool {
		st, err := os.Stat(out)
		return err == nil && st.Size() > 0
	})
	// Fill the disk.
	filler := filepath.Join(dir, "filler")
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k").Run()
	waitFor(t, "records lost and counted, /healthz unhealthy", 60*time.Second, func() bool {
		m, err := d.scrape()
		return err == nil && sumMetric(m, "netbased_output_records_dropped_total") > 0 && d.health() == http.StatusServiceUnavailable
	})
	m, _ := d.scrape()
	lost := sumMetric(m, "netbased_output_records_dropped_total")
	// Room again.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	sizeThen := fileSize(out)
	// Records keep coming (about 30 kB/s); the dropping state lasts a
	// minute after the last drop.
	waitFor(t, "writing to resume and /healthz to recover", 150*time.Second, func() bool {
		return fileSize(out) > sizeThen && d.health() == http.StatusOK
	})
	d.stop(60 * time.Second)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	for i, l := range lines {
		var r map[string]any
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatalf("line %d of %d is not a whole record: %q", i+1, len(lines), l)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Error("the file ends with a partial line")
	}
	t.Logf("disk full: %v records lost and counted; %d whole records in the file, no partial line; health recovered", lost, len(lines))
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// TestFaultSpoofedSYNFloodMemory replays a 5-million-source spoofed SYN
// flood (gen -profile synflood, streamed through a pipe) with the default
// settings: the process's peak resident memory stays under 2 GiB.
func TestFaultSpoofedSYNFloodMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 5 M-packet flood takes a minute")
	}
	dir := t.TempDir()
	gen := filepath.Join(dir, "gen")
	if out, err := exec.Command("go", "build", "-o", gen, "../../bench/gen").CombinedOutput(); err != nil {
		t.Fatalf("go build gen: %v\n%s", err, out)
	}
	bin := netbasedBinary(t)
	g := exec.Command(gen, "-profile", "synflood", "-o", "-")
	nb := exec.Command(bin, "replay", "--out", os.DevNull, "-")
	pipe, err := g.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nb.Stdin = pipe
	var stderr bytes.Buffer
	nb.Stderr = &stderr
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	if err := nb.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("gen: %v", err)
	}
	ru := nb.ProcessState.SysUsage().(*syscall.Rusage)
	peak := ru.Maxrss * 1024 // kilobytes on Linux
	t.Logf("5 M-source SYN flood: peak RSS %d MiB; %s", peak>>20, strings.TrimSpace(stderr.String()))
	if peak >= 2<<30 {
		t.Errorf("peak RSS %d MiB, want under 2048 MiB", peak>>20)
	}
	if !strings.Contains(stderr.String(), "5000487 frames") {
		t.Errorf("the flood was not replayed whole: %s", stderr.String())
	}
}
