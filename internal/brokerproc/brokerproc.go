// Package brokerproc runs `floe serve` as a child process for tests that must
// do to a broker what only a process allows: kill -9 it, send it SIGTERM, and
// start it again on the same data directory. It is test support, imported
// only by _test files.
package brokerproc

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Package is the import path Build builds.
const Package = "github.com/floe-io/floe/cmd/floe"

// Build builds the floe binary into dir and returns its path. It builds with
// -race when the calling test binary was, so the broker's data races show in
// its stderr (Start fails the test on them).
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "floe")
	args := []string{"build", "-o", bin}
	if RaceEnabled() {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, Package)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", Package, err, out)
	}
	return bin, nil
}

// RaceEnabled reports whether the running binary was built with -race.
func RaceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// CleanEnv is this process's environment without FLOE_ variables, so that a
// developer's settings cannot change what a test runs, plus the FLOE_
// variables named in keep with their values here (credentials, say).
func CleanEnv(keep ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLOE_") {
			env = append(env, kv)
		}
	}
	for _, name := range keep {
		env = append(env, name+"="+os.Getenv(name))
	}
	// A -race binary sleeps a second at exit by default; nothing here needs it.
	return append(env, "GORACE=atexit_sleep_ms=0")
}

// FreeLoopbackAddr picks a free loopback port, for the admin listener, whose
// address the broker does not log. Another process could take it before the
// broker binds; the broker then fails to start and says so.
func FreeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Process is one run of `floe serve`.
type Process struct {
	Addr     string // the Kafka listener, from the broker's serving line
	HTTPAddr string // the admin listener ("" without one)

	t      testing.TB
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr strings.Builder // guarded by mu
	exited chan struct{}   // closed once stderr is drained and Wait returned
}

var servingLine = regexp.MustCompile(`msg="floe serving" listen=(\S+)`)

// Start runs `bin serve --listen 127.0.0.1:0 --data-dir dir` with args after
// those and the environment env (CleanEnv when nil), and waits up to a minute
// (recovery may replay a WAL) for its serving line. An --http address in args
// becomes HTTPAddr (unless its port is 0: the broker does not log the one
// it gets). At the test's end the process is killed if still running,
// and the test fails if the broker reported a data race.
func Start(t testing.TB, bin, dir string, env []string, args ...string) *Process {
	t.Helper()
	if env == nil {
		env = CleanEnv()
	}
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir}, args...)...)
	cmd.Env = env
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{t: t, cmd: cmd, exited: make(chan struct{})}
	for i, a := range args {
		if a == "--http" && i+1 < len(args) && !strings.HasSuffix(args[i+1], ":0") {
			p.HTTPAddr = args[i+1]
		}
	}
	addrs := make(chan string, 1)
	go p.collect(pipe, addrs)
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if strings.Contains(p.Log(), "WARNING: DATA RACE") {
			t.Errorf("the broker reported a data race:\n%s", p.Tail(200))
		}
		if t.Failed() {
			t.Logf("broker pid %d stderr (tail):\n%s", cmd.Process.Pid, p.Tail(60))
		}
	})
	select {
	case p.Addr = <-addrs:
	case <-p.exited:
		t.Fatalf("broker exited before serving (%v):\n%s", cmd.ProcessState, p.Tail(60))
	case <-time.After(time.Minute):
		t.Fatalf("broker not serving after a minute:\n%s", p.Tail(60))
	}
	return p
}

// collect keeps the broker's stderr and reports the serving line's address.
func (p *Process) collect(pipe io.Reader, addrs chan<- string) {
	defer close(p.exited)
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr.WriteString(line)
		p.stderr.WriteByte('\n')
		p.mu.Unlock()
		if m := servingLine.FindStringSubmatch(line); m != nil {
			select {
			case addrs <- m[1]:
			default:
			}
		}
	}
	_ = p.cmd.Wait() // after the pipe is drained, as exec requires
}

// Pid is the broker's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Log is everything the broker wrote to stderr so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Tail is the last lines of Log.
func (p *Process) Tail(lines int) string {
	all := strings.Split(strings.TrimRight(p.Log(), "\n"), "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// Kill9 sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill9() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	<-p.exited
}

// Terminate sends SIGTERM and returns the exit code, failing the test if the
// process still runs after timeout.
func (p *Process) Terminate(timeout time.Duration) int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.t.Fatalf("broker still running %v after SIGTERM:\n%s", timeout, p.Tail(60))
	}
	return p.cmd.ProcessState.ExitCode()
}

// Metric reads an unlabelled counter or gauge from the broker's /metrics.
func (p *Process) Metric(name string) float64 {
	p.t.Helper()
	if p.HTTPAddr == "" {
		p.t.Fatalf("metric %s: the broker has no --http listener", name)
	}
	resp, err := http.Get("http://" + p.HTTPAddr + "/metrics")
	if err != nil {
		p.t.Fatalf("scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatalf("scrape /metrics: %v", err)
	}
	for line := range strings.SplitSeq(string(body), "\n") {
		if value, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				p.t.Fatalf("metric %s: %v", name, err)
			}
			return v
		}
	}
	p.t.Fatalf("metric %s not in /metrics", name)
	return 0
}
