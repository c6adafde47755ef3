package testenv

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestCorpus(t *testing.T) {
	cases := Corpus(t)
	skipped, withArgs := 0, 0
	for _, c := range cases {
		if c.Skip != "" {
			skipped++
		}
		if len(c.Args) > 0 {
			withArgs++
		}
	}
	if skipped == 0 || withArgs == 0 {
		t.Errorf("%d cases, %d skipped, %d with extra flags: parity-skip.txt or netbased-args.txt not read", len(cases), skipped, withArgs)
	}
}

// A missing ground truth skips the test with one line naming where it was
// looked for and how to provide it; under CI=true it fails the test.
func TestMissingShared(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantSkip bool
	}{
		{"", true},
		{"false", true},
		{"true", false},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			empty := t.TempDir()
			t.Setenv("NETBASED_SHARED", empty)
			t.Setenv("CI", tc.ci)
			ft := &fakeT{TB: t}
			func() {
				defer func() { _ = recover() }()
				SharedDir(ft)
			}()
			switch {
			case tc.wantSkip && (!ft.skipped || ft.failed):
				t.Errorf("skipped %v, failed %v: want a skip", ft.skipped, ft.failed)
			case !tc.wantSkip && (!ft.failed || ft.skipped):
				t.Errorf("skipped %v, failed %v: want a failure", ft.skipped, ft.failed)
			}
			if strings.Contains(ft.msg, "\n") || !strings.Contains(ft.msg, empty) || !strings.Contains(ft.msg, "NETBASED_SHARED") {
				t.Errorf("message %q is not one line naming %s and NETBASED_SHARED", ft.msg, empty)
			}
		})
	}
}

func TestLocateHonoursEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("NETBASED_SHARED", dir)
	if got, ok := Locate(); got != dir || ok {
		t.Errorf("Locate() = %q, %v; want %q, false", got, ok, dir)
	}
	// A relative path is taken from the repository root.
	t.Setenv("NETBASED_SHARED", "some/where")
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Locate(); got != filepath.Join(root, "some", "where") {
		t.Errorf("Locate() = %q with a relative NETBASED_SHARED; want it under %s", got, root)
	}
}

// fakeT records Skip and Fatal instead of stopping the real test.
type fakeT struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatal(args ...any) {
	f.failed = true
	f.msg = fmtArgs(args)
	panic("fatal")
}
func (f *fakeT) Skip(args ...any) {
	f.skipped = true
	f.msg = fmtArgs(args)
	panic("skip")
}

func fmtArgs(args []any) string {
	var b strings.Builder
	for _, a := range args {
		if s, ok := a.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}
