package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RequireLive lets a live-capture test run only as root with the given
// commands on PATH. Otherwise it skips with a loud reason, or, under CI
// (CI=true), fails: CI installs everything these tests need.
func RequireLive(t testing.TB, what string, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, "the "+tool+" command")
		}
	}
	if len(missing) == 0 {
		return
	}
	notRun(t, what+" NOT RUN: needs "+strings.Join(missing, ", ")+" (apt-get install iproute2 procps tcpreplay)")
}

// Netns is a network namespace the test created, holding a veth pair
// (Send ↔ Capture) with no addresses and IPv6 off, so that only the frames
// a test sends cross it; lo is up for local servers (metrics).
type Netns struct{ Name, Send, Capture string }

// NewNetns creates the namespace and its veth pair; the test's cleanup
// deletes them. prefix (a few letters) keeps names apart between packages.
func NewNetns(t testing.TB, prefix string) *Netns {
	t.Helper()
	id := fmt.Sprintf("%x%x", os.Getpid()&0xffff, time.Now().UnixNano()&0xfffff)
	ns := &Netns{Name: prefix + id, Send: "nbs" + id, Capture: "nbc" + id}
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns.Name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.Name).Run() })
	run("ip", "netns", "exec", ns.Name, "sysctl", "-q", "-w",
		"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	run("ip", "-n", ns.Name, "link", "add", ns.Send, "type", "veth", "peer", "name", ns.Capture)
	for _, dev := range []string{ns.Send, ns.Capture, "lo"} {
		run("ip", "-n", ns.Name, "link", "set", dev, "up")
	}
	return ns
}
