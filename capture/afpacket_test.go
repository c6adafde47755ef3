//go:build linux

package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/netbased/netbased/internal/testenv"
)

func TestRingGeometry(t *testing.T) {
	tests := []struct {
		snaplen, ringMB              int
		wantBlock, wantBlocks, frame int
	}{
		{65535, 64, 256 << 10, 256, 4096},
		{1500, 64, 256 << 10, 256, 4096},
		{65535, 1, 256 << 10, 8, 4096}, // at least 8 blocks
		{262144, 64, 512 << 10, 128, 4096},
	}
	for _, tc := range tests {
		frame, block, blocks := ringGeometry(tc.snaplen, tc.ringMB)
		if frame != tc.frame || block != tc.wantBlock || blocks != tc.wantBlocks {
			t.Errorf("ringGeometry(%d, %d) = frame %d block %d ×%d, want frame %d block %d ×%d",
				tc.snaplen, tc.ringMB, frame, block, blocks, tc.frame, tc.wantBlock, tc.wantBlocks)
		}
		if block%frame != 0 || block < tc.snaplen {
			t.Errorf("ringGeometry(%d, %d): block %d cannot hold a frame", tc.snaplen, tc.ringMB, block)
		}
	}
}

func TestOpenLiveErrors(t *testing.T) {
	if _, err := OpenLive(LiveConfig{}); err == nil {
		t.Error("OpenLive without an interface: want an error")
	}
	if _, err := OpenLive(LiveConfig{Interface: "nb-no-such-if0"}); err == nil || !strings.Contains(err.Error(), "nb-no-such-if0") {
		t.Errorf("OpenLive on a missing interface: got %v, want an error naming it", err)
	}
}

// inNetns runs fn on an OS thread that joined the namespace; the thread is
// discarded afterwards. Sockets fn creates stay in the namespace.
func inNetns(t *testing.T, name string, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		fd, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("opening netns %s: %w", name, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// testFrame builds an Ethernet/IPv4/UDP frame of flow i; reply swaps the
// endpoints; vlan > 0 inserts an 802.1Q tag.
func testFrame(i int, reply bool, vlan uint16) []byte {
	src := [4]byte{10, 1, byte(i >> 8), byte(i)}
	dst := [4]byte{10, 2, 0, 1}
	sport, dport := uint16(20000+i), uint16(53)
	if reply {
		src, dst, sport, dport = dst, src, dport, sport
	}
	payload := []byte("netbased-live-capture-test")
	frame := []byte{0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1}
	if vlan > 0 {
		frame = binary.BigEndian.AppendUint16(frame, 0x8100)
		frame = binary.BigEndian.AppendUint16(frame, vlan)
	}
	frame = binary.BigEndian.AppendUint16(frame, 0x0800)
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+8+len(payload)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	var sum uint32
	for j := 0; j < 20; j += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[j:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	udp := make([]byte, 8)
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	frame = append(frame, ip...)
	frame = append(frame, udp...)
	return append(frame, payload...)
}

// flowOf returns the flow index and direction of a test frame (without tag).
func flowOf(data []byte) (flow int, reply bool, ok bool) {
	if len(data) < 14+20+8 || binary.BigEndian.Uint16(data[12:]) != 0x0800 {
		return 0, false, false
	}
	ip := data[14:]
	if ip[12] == 10 && ip[13] == 1 {
		return int(ip[14])<<8 | int(ip[15]), false, true
	}
	if ip[16] == 10 && ip[17] == 1 {
		return int(ip[18])<<8 | int(ip[19]), true, true
	}
	return 0, false, false
}

// sendFrames writes frames to ifname through a raw AF_PACKET socket.
func sendFrames(ifname string, frames [][]byte) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sender socket: %w", err)
	}
	defer unix.Close(fd)
	ifi, err := ifIndex(ifname)
	if err != nil {
		return err
	}
	addr := &unix.SockaddrLinklayer{Ifindex: ifi, Halen: 6}
	for i, f := range frames {
		for {
			err = unix.Sendto(fd, f, 0, addr)
			if !errors.Is(err, unix.ENOBUFS) && !errors.Is(err, unix.EAGAIN) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("sending frame %d: %w", i, err)
		}
	}
	return nil
}

func ifIndex(name string) (int, error) {
	// net.InterfaceByName asks over netlink, from this thread's namespace.
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w", name, err)
	}
	return ifi.Index, nil
}

// TestLiveCaptureFanout sends both directions of many UDP flows and a VLAN
// tagged frame across a veth pair and captures them with two fanout
// sockets: every frame arrives exactly once, both directions of a flow reach
// the same socket, the VLAN id comes out of band, Stop drains the ring, and
// the kernel dropped nothing.
func TestLiveCaptureFanout(t *testing.T) {
	testenv.RequireLive(t, "LIVE CAPTURE TEST", "ip", "sysctl")
	ns := testenv.NewNetns(t, "nbcap")
	const flows = 500
	var frames [][]byte
	for i := range flows {
		frames = append(frames, testFrame(i, false, 0), testFrame(i, true, 0))
	}
	const vlanFlow, vlanID = flows, 42
	frames = append(frames, testFrame(vlanFlow, false, vlanID))

	var sources []*LiveSource
	err := inNetns(t, ns.Name, func() error {
		var err error
		sources, err = OpenLive(LiveConfig{
			Interface: ns.Capture, Workers: 2, RingSizeMB: 4,
			FanoutGroup: uint16(os.Getpid()), Promiscuous: true,
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 {
		t.Fatalf("OpenLive: %d sources, want 2", len(sources))
	}

	type seen struct {
		worker int
		reply  bool
		vlan   uint16
		wire   int
		ts     time.Time
	}
	var mu sync.Mutex
	var got []seen
	flowWorker := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for w, src := range sources {
		wg.Go(func() {
			defer src.Close()
			for {
				f, err := src.Next()
				if errors.Is(err, ErrIdle) {
					continue
				}
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Errorf("worker %d: %v", w, err)
					}
					return
				}
				if f.LinkType != 1 {
					t.Errorf("LinkType %v, want Ethernet", f.LinkType)
				}
				flow, reply, ok := flowOf(f.Data)
				if !ok {
					continue // not ours
				}
				mu.Lock()
				got = append(got, seen{w, reply, f.VLAN, f.Length, f.Timestamp})
				if prev, dup := flowWorker[flow]; dup && prev != w {
					t.Errorf("flow %d reached workers %d and %d", flow, prev, w)
				}
				flowWorker[flow] = w
				mu.Unlock()
			}
		})
	}
	if err := inNetns(t, ns.Name, func() error { return sendFrames(ns.Send, frames) }); err != nil {
		t.Fatal(err)
	}
	for _, s := range sources {
		s.Stop()
	}
	wg.Wait()

	if len(got) != len(frames) {
		t.Fatalf("captured %d of our frames, want %d", len(got), len(frames))
	}
	perWorker := [2]int{}
	vlans := 0
	for _, s := range got {
		perWorker[s.worker]++
		if s.vlan != 0 {
			vlans++
			if s.vlan != vlanID {
				t.Errorf("VLAN %d, want %d", s.vlan, vlanID)
			}
		}
		if s.ts.Before(start.Add(-time.Second)) || s.ts.After(time.Now()) {
			t.Errorf("timestamp %v is not the capture time", s.ts)
		}
	}
	if vlans != 1 {
		t.Errorf("%d frames with a VLAN id, want 1", vlans)
	}
	if perWorker[0] == 0 || perWorker[1] == 0 {
		t.Errorf("fanout did not spread flows: per worker %v", perWorker)
	}
	var total LiveStats
	for _, s := range sources {
		st := s.Stats()
		total.Packets += st.Packets
		total.KernelDrops += st.KernelDrops
		total.QueueFreezes += st.QueueFreezes
	}
	if total.Packets < uint64(len(frames)) {
		t.Errorf("Stats: %d packets, want at least %d", total.Packets, len(frames))
	}
	if total.KernelDrops != 0 {
		t.Errorf("kernel dropped %d frames", total.KernelDrops)
	}
	t.Logf("captured %d frames, per worker %v, %+v", len(got), perWorker, total)
}

// TestLiveStopOnBusyLink stops a source while frames keep arriving: Next
// must still end (after the drain limit) instead of draining forever.
func TestLiveStopOnBusyLink(t *testing.T) {
	testenv.RequireLive(t, "LIVE CAPTURE TEST", "ip", "sysctl")
	ns := testenv.NewNetns(t, "nbcap")
	var sources []*LiveSource
	if err := inNetns(t, ns.Name, func() error {
		var err error
		sources, err = OpenLive(LiveConfig{Interface: ns.Capture, RingSizeMB: 2, DrainLimit: 300 * time.Millisecond})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	src := sources[0]
	sending := make(chan struct{})
	senderDone := make(chan error, 1)
	go func() {
		senderDone <- inNetns(t, ns.Name, func() error {
			var batch [][]byte
			for i := range 500 {
				batch = append(batch, testFrame(i, false, 0))
			}
			for {
				select {
				case <-sending:
					return nil
				default:
				}
				if err := sendFrames(ns.Send, batch); err != nil {
					return err
				}
			}
		})
	}()
	defer func() {
		close(sending)
		if err := <-senderDone; err != nil {
			t.Error(err)
		}
	}()
	frames := 0
	var stopped time.Time
	for {
		_, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, ErrIdle) {
			t.Fatal(err)
		}
		if err == nil {
			frames++
		}
		if frames == 1000 && stopped.IsZero() {
			stopped = time.Now()
			src.Stop()
		}
	}
	took := time.Since(stopped)
	src.Close()
	if stopped.IsZero() {
		t.Fatal("never saw 1000 frames")
	}
	if took > 2*time.Second {
		t.Errorf("Next returned io.EOF %v after Stop on a busy link, want about the 300 ms drain limit", took)
	}
	t.Logf("%d frames; EOF %v after Stop", frames, took.Round(time.Millisecond))
}

// TestLiveFilter attaches filters to live sockets: the kernel passes only
// the frames they select, the VLAN tag it took out of the frame included
// ("vlan 42"), and the same frames replayed through FilterSource give the
// same selection.
func TestLiveFilter(t *testing.T) {
	testenv.RequireLive(t, "LIVE CAPTURE TEST", "ip", "sysctl")
	const flows, vlanID = 50, 42
	var frames [][]byte
	for i := range flows {
		frames = append(frames, testFrame(i, false, 0), testFrame(i, true, 0))
	}
	frames = append(frames, testFrame(flows, false, vlanID), testFrame(flows+1, true, vlanID))
	for _, tc := range []struct {
		expr string
		want int
	}{
		{"udp dst port 53 and not vlan", flows},
		{"vlan 42", 2},
		{"vlan 42 and src net 10.1.0.0/16", 1},
		{"udp and (src portrange 20000-20009 or dst portrange 20000-20004)", 15},
		{"tcp", 0},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			filter := mustFilter(t, tc.expr)
			ns := testenv.NewNetns(t, "nbflt")
			var sources []*LiveSource
			if err := inNetns(t, ns.Name, func() error {
				var err error
				sources, err = OpenLive(LiveConfig{Interface: ns.Capture, RingSizeMB: 2, Promiscuous: true, Filter: filter})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			src := sources[0]
			if err := inNetns(t, ns.Name, func() error { return sendFrames(ns.Send, frames) }); err != nil {
				t.Fatal(err)
			}
			src.Stop()
			live := 0
			for {
				f, err := src.Next()
				if errors.Is(err, ErrIdle) {
					continue
				}
				if err != nil {
					break
				}
				if _, _, ok := flowOf(f.Data); ok {
					live++
				}
			}
			src.Close()
			// The same frames, as a capture file holds them, replayed.
			replayed := 0
			var pkt filterPacket
			p, err := filter.compile(1)
			if err != nil {
				t.Fatal(err)
			}
			for _, fr := range frames {
				f := Frame{Data: fr, Length: len(fr), LinkType: 1}
				kernelView(&pkt, &f)
				if p.run(&pkt) != 0 {
					replayed++
				}
			}
			if live != tc.want || replayed != tc.want {
				t.Errorf("live capture kept %d frames, replay %d; want %d", live, replayed, tc.want)
			}
		})
	}
}
