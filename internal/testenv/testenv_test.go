package testenv

import "testing"

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

func TestMissingSharedFails(t *testing.T) {
	t.Setenv("NETBASED_SHARED", t.TempDir())
	ft := &fakeT{TB: t}
	func() {
		defer func() { recover() }()
		SharedDir(ft)
	}()
	if !ft.failed {
		t.Error("SharedDir accepted a directory without testdata/zeek")
	}
}

// fakeT records Fatalf instead of stopping the real test.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
