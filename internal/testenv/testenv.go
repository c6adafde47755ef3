// Package testenv locates the ground truth the parity tests compare
// against: the read-only shared directory with Zeek's traces and logs in
// testdata/zeek, found through $NETBASED_SHARED or as ../shared beside the
// repository. A test that needs it skips, with one line saying where to get
// it, when it is missing; under CI (CI=true) it fails instead, because CI
// always has it. Tests that do not compare with Zeek must not call it.
package testenv

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Where the ground truth comes from, for the message of a test that cannot
// find it.
const groundTruthHint = "set NETBASED_SHARED to the project's shared directory (the one with testdata/zeek: Zeek's traces and logs), or place it at ../shared beside the repository"

// Locate returns the shared directory and whether its testdata/zeek
// exists: $NETBASED_SHARED when set, else ../shared. A relative path is
// taken from the repository root (the directory holding go.mod), not from
// the package directory a test runs in.
func Locate() (dir string, ok bool) {
	dir = os.Getenv("NETBASED_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "shared")
	}
	if !filepath.IsAbs(dir) {
		if root, err := repoRoot(); err == nil {
			dir = filepath.Join(root, dir)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "testdata", "zeek"))
	return dir, err == nil && st.IsDir()
}

// SharedDir returns the shared directory (see Locate). When its
// testdata/zeek is missing the test is skipped with one line saying where
// to get it, or failed under CI=true.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir, ok := Locate()
	if !ok {
		notRun(t, "the Zeek ground truth is not at "+filepath.Join(dir, "testdata", "zeek")+": "+groundTruthHint)
	}
	return dir
}

// notRun skips the test with msg, or fails it under CI (CI=true), which
// has everything the tests need.
func notRun(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	t.Skip(msg)
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

// Corpus lists every case of testdata/zeek in name order. It skips the test
// like SharedDir when the ground truth is missing, and fails it when the
// corpus looks incomplete (fewer than 80 cases) or a case has no trace.
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
