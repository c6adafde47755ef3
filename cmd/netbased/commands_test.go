package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary run netbased's main instead of the tests
// (for tests that need a real process: signals, standard input).
const helperEnv = "NETBASED_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// netbasedProcess returns a command running netbased with args in a child
// process (this test binary, see TestMain).
func netbasedProcess(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	return cmd
}

func demoPath() string { return filepath.Join("..", "..", "pcaps", "demo.pcap") }

// Usage errors: exit 2, the message once without a ": usage" suffix, then
// one line pointing at the help; never the whole help.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("# nothing set\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"replay", "--bogus", demoPath()}, "flag provided but not defined: -bogus"},
		{"unknown run flag", []string{"run", "--interface", "lo", "--bogus"}, "-bogus"},
		{"no files", []string{"replay"}, "no input files"},
		{"bad interval", []string{"replay", "--interval", "soon", demoPath()}, `invalid value "soon"`},
		{"empty config", []string{"replay", "--config", empty, demoPath()}, "holds no settings"},
		{"all and none", []string{"replay", "--services", "all,none", demoPath()}, "all and none"},
		{"zeek to elasticsearch", []string{"replay", "--format", "zeek", "--out", "es+http://127.0.0.1:9/x", demoPath()}, "the zeek format is not supported"},
		{"zeek to kafka", []string{"replay", "--format", "zeek", "--out", "kafka://127.0.0.1:9/t", demoPath()}, "the zeek format is not supported"},
		{"version with arguments", []string{"version", "now"}, "unexpected arguments"},
		{"check with arguments", []string{"check", "x.pcap"}, "unexpected arguments"},
		{"es-template for zeek", []string{"es-template", "--format", "zeek"}, "not a document format"},
		{"es-template for a file", []string{"es-template", "--out", "/tmp/x.json"}, "not an Elasticsearch output"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2 (stderr %q)", code, stderr)
			}
			if strings.Count(stderr, tc.want) != 1 {
				t.Errorf("stderr does not say %q exactly once:\n%s", tc.want, stderr)
			}
			if strings.Contains(stderr, ": usage") || strings.Contains(stderr, "Flags:") {
				t.Errorf("stderr has a ': usage' suffix or the help:\n%s", stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "Run 'netbased "+tc.args[0]+" -h'") {
				t.Errorf("want the message and a one-line hint, got:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
	code, _, stderr := run("replay-all")
	if code != 2 || !strings.Contains(stderr, `unknown command "replay-all"`) || strings.Count(stderr, "\n") != 2 {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}

// Help goes to standard output with exit 0, for every way of asking.
func TestHelpGoesToStdout(t *testing.T) {
	for _, args := range [][]string{
		{"replay", "-h"}, {"replay", "--help"}, {"help", "replay"}, {"run", "-h"}, {"check", "-h"},
		{"es-template", "-h"}, {"help", "run"},
	} {
		code, stdout, stderr := run(args...)
		name := args[0]
		if name == "help" {
			name = args[1]
		}
		if code != 0 || stderr != "" || !strings.HasPrefix(stdout, "Usage: netbased "+name) || !strings.Contains(stdout, "-config") {
			t.Errorf("%q: exit %d, stderr %q, stdout %.80q", args, code, stderr, stdout)
		}
	}
	code, stdout, _ := run("replay", "-h")
	if code != 0 || !strings.Contains(stdout, "-append") || strings.Contains(stdout, "-interface") {
		t.Errorf("replay -h lacks --append or shows run's --interface:\n%s", stdout)
	}
	code, stdout, _ = run("check", "-h")
	if code != 0 || !strings.Contains(stdout, "-connect") || !strings.Contains(stdout, "-interface") {
		t.Errorf("check -h lacks --connect or --interface:\n%s", stdout)
	}
	code, stdout, _ = run("help")
	if code != 0 || !strings.Contains(stdout, "netbased check") || !strings.Contains(stdout, "netbased version") {
		t.Errorf("help: exit %d\n%s", code, stdout)
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-version", "-V"} {
		code, stdout, stderr := run(arg)
		if code != 0 || stderr != "" {
			t.Fatalf("%s: exit %d, stderr %q", arg, code, stderr)
		}
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(lines) != 4 || !strings.HasPrefix(lines[0], "netbased ") || !strings.HasPrefix(lines[1], "commit: ") ||
			!strings.HasPrefix(lines[2], "built:  ") || !strings.Contains(lines[3], "go1.") {
			t.Errorf("%s:\n%s", arg, stdout)
		}
	}
}

// The link-time variables win over the toolchain's build information.
func TestBuildInfoFromLdflags(t *testing.T) {
	saved := [3]string{version, commit, buildDate}
	t.Cleanup(func() { version, commit, buildDate = saved[0], saved[1], saved[2] })
	version, commit, buildDate = "v1.2.3-4-gabcdef0-dirty", "abcdef0123", "2025-01-02T03:04:05Z"
	b := readBuildInfo()
	if b.Version != version || b.Commit != commit || b.Date != buildDate || !b.Modified {
		t.Errorf("readBuildInfo() = %+v", b)
	}
	var out bytes.Buffer
	b.write(&out)
	if !strings.HasPrefix(out.String(), "netbased v1.2.3-4-gabcdef0-dirty\ncommit: abcdef0123\nbuilt:  2025-01-02T03:04:05Z\n") {
		t.Errorf("version output:\n%s", out.String())
	}
}

// A replay overwrites its --out and --conn-log files (twice = once), unless
// --append.
func TestReplayOverwritesOutputs(t *testing.T) {
	dir := t.TempDir()
	out, connLog := filepath.Join(dir, "intervals.json"), filepath.Join(dir, "conn.log")
	args := []string{"replay", "--progress", "never", "--out", out, "--conn-log", connLog, demoPath()}
	read := func() (string, string) {
		a, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(connLog)
		if err != nil {
			t.Fatal(err)
		}
		return string(a), string(b)
	}
	if code, _, stderr := run(args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	once, onceConns := read()
	if once == "" || onceConns == "" {
		t.Fatal("nothing written")
	}
	if code, _, stderr := run(args...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if twice, twiceConns := read(); twice != once || twiceConns != onceConns {
		t.Errorf("a second replay did not overwrite: %d and %d bytes after one replay, %d and %d after two",
			len(once), len(onceConns), len(twice), len(twiceConns))
	}
	if code, _, stderr := run(append(args, "--append")...); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if appended, appendedConns := read(); appended != once+once || appendedConns != onceConns+onceConns {
		t.Errorf("--append: %d and %d bytes, want %d and %d", len(appended), len(appendedConns), 2*len(once), 2*len(onceConns))
	}
}

// `replay -` reads the capture from standard input: the same records as the
// file.
func TestReplayStdin(t *testing.T) {
	_, want, _ := run("replay", "--progress", "never", demoPath())
	cmd := netbasedProcess(t, "replay", "--progress", "never", "-")
	f, err := os.Open(demoPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd.Stdin = f
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil || string(got) != want {
		t.Errorf("replay - : %v (stderr %q); %d bytes, want the file's %d", err, stderr.String(), len(got), len(want))
	}
}

// Ctrl-C during a replay: what was computed is written, nothing is printed,
// the exit status is 130 (128+SIGINT, like a shell's).
func TestReplayInterrupted(t *testing.T) {
	data, err := os.ReadFile(demoPath())
	if err != nil {
		t.Fatal(err)
	}
	cmd := netbasedProcess(t, "replay", "--progress", "never", "--interval", "0", "-")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// More than a pipe buffer: once written, the replay has been reading.
	half := len(data) / 2
	if _, err := stdin.Write(data[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	_ = stdin.Close() // what a Ctrl-C does to the writer of a pipe
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130; stderr %q", code, err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr %q, want nothing", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"address"`) {
		t.Errorf("the records computed before the signal were not written:\n%.300s", stdout.String())
	}
}

// An error after the file header names the file once, with one prefix.
func TestReplayErrorPrefix(t *testing.T) {
	data, err := os.ReadFile(demoPath())
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := run("replay", "--progress", "never", cut)
	if code != 1 || strings.Count(stderr, "replay:") != 1 || !strings.HasPrefix(stderr, "netbased replay: "+cut+": offset ") {
		t.Errorf("exit %d, stderr %q: want one 'netbased replay: FILE: offset N: …' line", code, stderr)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "intervals.json")
	code, stdout, stderr := run("check", "--interface", "lo", "--out", out, "--conn-log", filepath.Join(dir, "conn.log"))
	if code != 0 || !strings.HasPrefix(stdout, "ok: ") || stderr != "" {
		t.Errorf("good settings: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("check left files behind: %v", entries)
	}
	// The example configuration is valid but for this host's interface
	// and log directory (deploy/README.md's dry check).
	code, stdout, stderr = run("check", "--config", "../../deploy/netbased.yaml", "--interface", "lo", "--out", out)
	if code != 0 {
		t.Errorf("deploy/netbased.yaml with lo and a temporary output: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// Every problem is listed, with exit 1.
	code, stdout, stderr = run("check", "--interface", "nb-no-such-if0", "--out", "/nonexistent/dir/x.json",
		"--local-nets", "10.0.0.0/33", "--mode", "sideways", "--metrics-listen", "127.0.0.1:http-alt-x")
	for _, want := range []string{"5 problems", "nb-no-such-if0", "/nonexistent/dir", "10.0.0.0/33", "sideways", "metrics_listen"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("problems do not mention %q:\n%s", want, stderr)
		}
	}
	if code != 1 || stdout != "" {
		t.Errorf("bad settings: exit %d, stdout %q", code, stdout)
	}
	// A configuration file that does not parse is a problem (exit 1).
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("intervall: 5m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run("check", "--config", bad)
	if code != 1 || !strings.Contains(stderr, "intervall") {
		t.Errorf("unknown key: exit %d, stderr %q", code, stderr)
	}
}

// check --connect asks Elasticsearch with the configured API key (here from
// systemd's credentials directory) and reports a node that does not answer.
func TestCheckConnectElasticsearch(t *testing.T) {
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "es-api-key"), []byte("c2VjcmV0OmtleQ==\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Write([]byte(`{"tagline":"You Know, for Search"}`))
	}))
	defer srv.Close()
	code, stdout, stderr := run("check", "--interface", "lo", "--connect", "--out", "es+"+srv.URL+"/netbase-%Y")
	if code != 0 || !strings.Contains(stdout, "remote outputs reachable") {
		t.Errorf("reachable Elasticsearch: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if auth != "ApiKey c2VjcmV0OmtleQ==" {
		t.Errorf("Authorization %q, want the credential's API key", auth)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	code, _, stderr = run("check", "--interface", "lo", "--connect", "--out", "es+http://"+dead+"/x")
	if code != 1 || !strings.Contains(stderr, dead) {
		t.Errorf("dead Elasticsearch: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run("check", "--interface", "lo", "--connect", "--out", "kafka://"+dead+"/topic")
	if code != 1 || !strings.Contains(stderr, dead) {
		t.Errorf("dead Kafka broker: exit %d, stderr %q", code, stderr)
	}
}

// The API key's sources, in order: es_api_key, es_api_key_file, the systemd
// credential, $NETBASED_ES_API_KEY.
func TestElasticsearchAPIKeySources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("ZnJvbTpmaWxl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "es-api-key"), []byte("ZnJvbTpjcmVk"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NETBASED_ES_API_KEY", "ZnJvbTplbnY=")
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"option", Options{ESAPIKey: "ZnJvbTpvcHQ=", ESAPIKeyFile: file}, "ZnJvbTpvcHQ="},
		{"file", Options{ESAPIKeyFile: file}, "ZnJvbTpmaWxl"},
		{"credential", Options{}, "ZnJvbTpjcmVk"},
	} {
		if got, err := tc.o.elasticsearchAPIKey(); err != nil || got != tc.want {
			t.Errorf("%s: %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	t.Setenv("CREDENTIALS_DIRECTORY", "")
	if got, _ := (&Options{}).elasticsearchAPIKey(); got != "ZnJvbTplbnY=" {
		t.Errorf("environment: %q", got)
	}
	if _, err := (&Options{ESAPIKeyFile: filepath.Join(dir, "missing")}).elasticsearchAPIKey(); err == nil {
		t.Error("a missing key file was accepted")
	}
	if err := os.WriteFile(file, []byte("two words\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Options{ESAPIKeyFile: file}).elasticsearchAPIKey(); err == nil {
		t.Error("a key file holding more than a key was accepted")
	}
}

// The TLS settings reach the Elasticsearch output from flags: with a
// self-signed server, the replay fails without a CA, and succeeds with
// --es-insecure-skip-verify.
func TestReplayElasticsearchTLSFlags(t *testing.T) {
	var docs int
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		n := bytes.Count(mustReadAll(r), []byte("\n")) / 2
		docs += n
		w.Write([]byte(`{"errors":false,"items":[` + strings.TrimSuffix(strings.Repeat(`{"index":{"status":201}},`, n), ",") + `]}`))
	}))
	defer srv.Close()
	out := "es+" + srv.URL + "/netbase-%Y.%m.%d"
	base := []string{"replay", "--progress", "never", "--out", out, demoPath()}
	code, _, stderr := run(append(base, "--es-ca-file", "/nonexistent/ca.pem")...)
	if code == 0 || !strings.Contains(stderr, "CA file") {
		t.Errorf("missing CA file: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = run(append(base, "--es-insecure-skip-verify")...)
	if code != 0 || docs == 0 {
		t.Errorf("--es-insecure-skip-verify: exit %d, %d documents, stderr %q", code, docs, stderr)
	}
}

func mustReadAll(r *http.Request) []byte {
	var b bytes.Buffer
	_, _ = b.ReadFrom(r.Body)
	return b.Bytes()
}

func TestESTemplateCommand(t *testing.T) {
	code, stdout, stderr := run("es-template", "--format", "dynamite", "--out", "es+https://u:p@es1:9200,es2:9200/sensors-%Y.%m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var tmpl struct {
		IndexPatterns []string       `json:"index_patterns"`
		Template      map[string]any `json:"template"`
	}
	if err := json.Unmarshal([]byte(stdout), &tmpl); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if len(tmpl.IndexPatterns) != 1 || tmpl.IndexPatterns[0] != "sensors-*" || !strings.Contains(stdout, `"pcr_dns_avg"`) {
		t.Errorf("template for sensors-%%Y.%%m in the dynamite format:\n%.400s", stdout)
	}
}

// The man page lists every flag of replay, run and check, and renders
// without warnings when groff is installed.
func TestManPage(t *testing.T) {
	code, page, stderr := run("man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range manFlagCommands {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		commandTable()[name].flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(page, `.BR \-\-`+strings.ReplaceAll(f.Name, "-", `\-`)) {
				t.Errorf("the man page lacks --%s of %s", f.Name, name)
			}
		})
	}
	if _, err := exec.LookPath("groff"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("groff not installed (apt-get install groff-base); CI=true needs it")
		}
		t.Log("GROFF NOT INSTALLED: the page's rendering is not checked (apt-get install groff-base)")
		return
	}
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}
