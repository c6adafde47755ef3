// Package testenv locates the ground truth the tests compare against: the
// read-only ../shared directory next to the repository (or
// $NETBASED_SHARED) with Zeek's traces and logs in testdata/zeek. Tests
// that need it fail, loudly, when it is missing; they never skip.
package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// SharedDir returns the shared directory: $NETBASED_SHARED, else ../shared
// beside the repository root (the directory holding go.mod). It fails the
// test when testdata/zeek is not there.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("NETBASED_SHARED")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatalf("locating the repository root: %v", err)
		}
		dir = filepath.Join(root, "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "testdata", "zeek")); err != nil {
		t.Fatalf("the Zeek ground truth is missing (%v); set NETBASED_SHARED to the shared directory", err)
	}
	return dir
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Case is one directory of testdata/zeek.
type Case struct {
	Name string // directory name, the Zeek btest name
	Dir  string
	// Trace is trace.pcap or trace.pcapng in Dir.
	Trace string
	// Args are the extra `netbased replay` flags of netbased-args.txt, plus
	// the flags that stand for script settings of the test's
	// zeek-args.txt that netbased-args.txt predates
	// (--track-removed-services for DPD::track_removed_services_in_connection).
	Args []string
	// Skip is the reason of parity-skip.txt, empty when the case is compared.
	Skip string
}

// File returns the path of a file of the case's directory.
func (c Case) File(name string) string { return filepath.Join(c.Dir, name) }

// Corpus lists every case of testdata/zeek in name order. It fails the test
// when the corpus looks incomplete (fewer than 80 cases) or a case has no
// trace.
func Corpus(t testing.TB) []Case {
	t.Helper()
	root := filepath.Join(SharedDir(t), "testdata", "zeek")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var cases []Case
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := Case{Name: e.Name(), Dir: filepath.Join(root, e.Name())}
		for _, name := range []string{"trace.pcap", "trace.pcapng"} {
			if _, err := os.Stat(c.File(name)); err == nil {
				c.Trace = c.File(name)
			}
		}
		if c.Trace == "" {
			t.Fatalf("%s: no trace.pcap or trace.pcapng", c.Dir)
		}
		if b, err := os.ReadFile(c.File("netbased-args.txt")); err == nil {
			c.Args = strings.Fields(string(b))
		}
		if b, err := os.ReadFile(c.File("zeek-args.txt")); err == nil {
			c.Args = append(c.Args, scriptSettingFlags(string(b))...)
		}
		if b, err := os.ReadFile(c.File("parity-skip.txt")); err == nil {
			c.Skip = strings.TrimSpace(string(b))
			if c.Skip == "" {
				c.Skip = "parity-skip.txt (no reason given)"
			}
		}
		cases = append(cases, c)
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	if len(cases) < 80 {
		t.Fatalf("found only %d test directories in %s", len(cases), root)
	}
	return cases
}

// scriptSettingFlags returns the netbased flags for the redef lines of a
// zeek-args.txt that have one.
func scriptSettingFlags(zeekArgs string) []string {
	var flags []string
	for _, line := range strings.Split(zeekArgs, "\n") {
		f := strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), ";"))
		if len(f) == 4 && f[0] == "redef" && f[1] == "DPD::track_removed_services_in_connection" && f[2] == "=" && f[3] == "T" {
			flags = append(flags, "--track-removed-services")
		}
	}
	return flags
}
