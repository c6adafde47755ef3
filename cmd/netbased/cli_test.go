package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runMain(args, &out, &errb)
	return code, out.String(), errb.String()
}

// A truncated trace: a clear error naming the file and the offset, a
// non-zero status, and every record computed before the fault still written.
func TestReplayTruncatedFileKeepsRecords(t *testing.T) {
	data, err := os.ReadFile(demoPcap(t))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)*2/3+7], 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run("replay", "--interval", "0", cut)
	if code == 0 {
		t.Fatalf("exit 0 on a truncated file; stderr %q", stderr)
	}
	if !strings.Contains(stderr, "cut.pcap") || !strings.Contains(stderr, "offset") {
		t.Errorf("error does not name the file and offset: %q", stderr)
	}
	if n := strings.Count(stdout, "\n"); n < 2 {
		t.Errorf("only %d records written before the fault:\n%s", n, stdout)
	}
}

func TestReplayBadInvocations(t *testing.T) {
	trace := demoPcap(t)
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("mode: sideways\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownKey := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknownKey, []byte("intervall: 5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notPcap := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPcap, []byte("this is not a capture file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // in stderr
		code int
	}{
		{"no files", []string{"replay"}, "no input files", 2},
		{"missing file", []string{"replay", filepath.Join(dir, "nope.pcap")}, "nope.pcap", 1},
		{"not a capture", []string{"replay", notPcap}, "notes.txt", 1},
		{"bad format", []string{"replay", "--format", "xml", trace}, "format", 2},
		{"bad local net", []string{"replay", "--local-nets", "10.0.0.0/33", trace}, "10.0.0.0/33", 2},
		{"bad service", []string{"replay", "--services", "gopher", trace}, "gopher", 2},
		{"bad interval", []string{"replay", "--interval", "soon", trace}, "soon", 2},
		{"bad mode in config", []string{"replay", "--config", badYAML, trace}, "sideways", 2},
		{"unknown config key", []string{"replay", "--config", unknownKey, trace}, "intervall", 2},
		{"unknown command", []string{"replay-all"}, "unknown command", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not mention %q", stderr, tc.want)
			}
		})
	}
}

// Flags given on the command line win over the configuration file; flags
// may follow the files.
func TestConfigFileAndFlagPrecedence(t *testing.T) {
	trace := demoPcap(t)
	cfg := filepath.Join(t.TempDir(), "netbased.yaml")
	if err := os.WriteFile(cfg, []byte("format: zeek\ninterval: 0\nlocal_nets: [private]\nagent_tag: from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run("replay", "--config", cfg, trace)
	if code != 0 || !strings.HasPrefix(stdout, "#separator") {
		t.Fatalf("config format zeek not applied: exit %d, stderr %q, out %.80q", code, stderr, stdout)
	}
	code, stdout, stderr = run("replay", "--config", cfg, trace, "--format", "json")
	if code != 0 || !strings.HasPrefix(stdout, "{") || !strings.Contains(stdout, "from-file") {
		t.Fatalf("flag did not win over the file: exit %d, stderr %q, out %.80q", code, stderr, stdout)
	}
}

// The conn log goes to a file in either format while records go to stdout.
func TestConnLogOutput(t *testing.T) {
	trace := demoPcap(t)
	for _, format := range []string{"json", "zeek"} {
		path := filepath.Join(t.TempDir(), "conn.log")
		code, _, stderr := run("replay", "--interval", "0", "--conn-log", path, "--conn-log-format", format, trace)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", format, code, stderr)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), "10.1.1.11") {
			t.Errorf("%s conn log lacks the trace's connections:\n%.300s", format, data)
		}
		if format == "zeek" && !strings.HasPrefix(string(data), "#separator") {
			t.Errorf("zeek conn log has no header")
		}
	}
}
