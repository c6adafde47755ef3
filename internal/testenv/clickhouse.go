package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ClickHouse is a clickhouse-server the test started from a config of its
// own under a temporary directory, listening on 127.0.0.1 only, on free
// ports. It can be stopped and started again on the same data and ports
// (fault tests); the test's cleanup kills it.
type ClickHouse struct {
	Dir       string
	TCPPort   int // native protocol
	HTTPPort  int
	InterPort int // interserver HTTP

	t       testing.TB
	cluster string
	shards  []*ClickHouse

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// RequireClickHouse lets a test run only when clickhouse-server is on
// PATH. Otherwise it skips with one line, or, under CI (CI=true), fails:
// CI installs it.
func RequireClickHouse(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err == nil {
		return
	}
	notRun(t, "ClickHouse test NOT RUN: needs clickhouse-server (apt-get install clickhouse-server clickhouse-client)")
}

// NewClickHouse prepares a server (directory, free ports, config) without
// starting it. RequireClickHouse must have let the test run.
func NewClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	s := &ClickHouse{Dir: t.TempDir(), t: t}
	s.TCPPort, s.HTTPPort, s.InterPort = freePort(t), freePort(t), freePort(t)
	t.Cleanup(func() { s.kill() })
	return s
}

// StartClickHouse starts one server and waits until it answers.
func StartClickHouse(t testing.TB) *ClickHouse {
	t.Helper()
	RequireClickHouse(t)
	s := NewClickHouse(t)
	s.Start()
	return s
}

// StartClickHouseCluster starts n servers, each of which knows the cluster
// name made of n shards of one replica each (the servers in order), for
// Distributed tables.
func StartClickHouseCluster(t testing.TB, name string, n int) []*ClickHouse {
	t.Helper()
	RequireClickHouse(t)
	servers := make([]*ClickHouse, n)
	for i := range servers {
		servers[i] = NewClickHouse(t)
	}
	for _, s := range servers {
		s.cluster, s.shards = name, servers
		s.Start()
	}
	return servers
}

// Addr is the native-protocol address, 127.0.0.1:port.
func (s *ClickHouse) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.TCPPort) }

// HTTPURL is the HTTP interface's base URL.
func (s *ClickHouse) HTTPURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.HTTPPort) }

// Start writes the config and starts the server, then waits (at most 30 s)
// until /ping answers; it fails the test otherwise.
func (s *ClickHouse) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("clickhouse-server already running")
	}
	cfg := filepath.Join(s.Dir, "config.xml")
	if err := os.WriteFile(cfg, []byte(s.config()), 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "users.xml"), []byte(clickHouseUsers), 0o644); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command("clickhouse-server", "--config-file="+cfg)
	cmd.Dir = s.Dir
	logf, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("starting clickhouse-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		if pingClickHouse(s.HTTPURL()) {
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("clickhouse-server exited at start; its log:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("clickhouse-server did not answer /ping in 30 s; its log:\n%s", s.logTail())
		}
	}
}

// Stop kills the server (SIGKILL: an abrupt loss, as a crash) and waits
// for it to exit. Start may be called again.
func (s *ClickHouse) Stop() {
	s.t.Helper()
	s.kill()
}

func (s *ClickHouse) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}

// Query runs one statement over HTTP and returns its output (format
// TabSeparated unless the query says otherwise); it fails the test on an
// error.
func (s *ClickHouse) Query(query string) string {
	s.t.Helper()
	out, err := s.TryQuery(query)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// TryQuery runs one statement over HTTP and returns its output or error.
func (s *ClickHouse) TryQuery(query string) (string, error) { return s.TryQueryWith(query, "") }

// TryQueryWith runs one statement over HTTP with settings given as URL
// parameters (name=value&…; ClickHouse 18.16 takes settings there rather
// than in a SETTINGS clause) and returns its output or error.
func (s *ClickHouse) TryQueryWith(query, settings string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.HTTPURL()+"/?"+settings, strings.NewReader(query))
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("clickhouse query %q: %w", query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("clickhouse query %q: %w", query, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("clickhouse query %q: %s: %s", query, resp.Status, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

func pingClickHouse(base string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(base + "/ping")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *ClickHouse) logTail() string {
	var out []string
	for _, name := range []string{"stdout.log", "server.err.log"} {
		b, _ := os.ReadFile(filepath.Join(s.Dir, name))
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		out = append(out, name+":\n"+string(b))
	}
	return strings.Join(out, "\n")
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *ClickHouse) config() string {
	var remote string
	if s.cluster != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "<remote_servers><%s>", s.cluster)
		for _, sh := range s.shards {
			fmt.Fprintf(&b, "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", sh.TCPPort)
		}
		fmt.Fprintf(&b, "</%s></remote_servers>", s.cluster)
		remote = b.String()
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/server.log</log>
    <errorlog>%[1]s/server.err.log</errorlog>
    <size>10M</size>
    <count>1</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>%[2]d</http_port>
  <tcp_port>%[3]d</tcp_port>
  <interserver_http_port>%[4]d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>64</max_concurrent_queries>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <mark_cache_size>67108864</mark_cache_size>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
  <kafka><auto_offset_reset>smallest</auto_offset_reset></kafka>
  %[5]s
</yandex>
`, s.Dir, s.HTTPPort, s.TCPPort, s.InterPort, remote)
}

const clickHouseUsers = `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <load_balancing>random</load_balancing>
      <input_format_skip_unknown_fields>1</input_format_skip_unknown_fields>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`
