package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the catch-up consumer process: run with
// childEnv set, it is `floe bench-consumer`.
const childEnv = "FLOE_BENCH_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "ready-twice" {
		fmt.Println("READY") // ConsumerMain says it once more
		os.Exit(ConsumerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	if os.Getenv(childEnv) == "gogc" {
		// Exits 0 only if ConsumerMain set the GOGC the parent asked for.
		code := ConsumerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		if got := debug.SetGCPercent(100); code == 0 && got != 2000 {
			fmt.Fprintf(os.Stderr, "GOGC %d, want 2000\n", got)
			code = 3
		}
		os.Exit(code)
	}
	if os.Getenv(childEnv) == "idle" {
		// Exits 0 only if every thread runs under SCHED_IDLE.
		code := ConsumerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		if code == 0 {
			if err := allThreadsIdle(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 3
			}
		}
		os.Exit(code)
	}
	if os.Getenv(childEnv) == "consumer" {
		writeStamp(childEnv + "_STARTED")
		code := ConsumerMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		writeStamp(childEnv + "_STOPPED")
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// writeStamp writes the time now (unix nanos) to the file the environment
// variable env names, if it names one.
func writeStamp(env string) {
	if path := os.Getenv(env); path != "" {
		_ = os.WriteFile(path, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644)
	}
}

// readStamp is the time writeStamp wrote to path, in seconds since start
// (rounded to the millisecond, as phase edges are).
func readStamp(t *testing.T, path string, start time.Time, what string) float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the consumer process %s: %v", what, err)
	}
	ns, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		t.Fatalf("the consumer process %s: stamp %q: %v", what, raw, err)
	}
	return seconds(time.Unix(0, ns).Sub(start))
}

// With ConsumerCommand the catch-up consumer runs in a process of its own,
// started before the baseline window (so that its start is not counted as
// catch-up), and its reports drive the read rate and the drain.
func TestCatchupConsumerProcessAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Rate = 2000
	cfg.BacklogDuration = time.Second
	cfg.Baseline = 500 * time.Millisecond
	cfg.Duration = 10 * time.Second
	cfg.ConsumerCommand = []string{os.Args[0]}
	started, stopped := filepath.Join(t.TempDir(), "started"), filepath.Join(t.TempDir(), "stopped")
	t.Setenv(childEnv, "consumer")
	t.Setenv(childEnv+"_STARTED", started)
	t.Setenv(childEnv+"_STOPPED", stopped)
	res := runScenario(t, ScenarioCatchup, cfg)

	c := res.Catchup
	if !c.Drained || c.DrainSeconds <= 0 || c.DrainSeconds >= cfg.Duration.Seconds() {
		t.Errorf("drained %t in %.3fs", c.Drained, c.DrainSeconds)
	}
	if c.BacklogRecords < 1000 || c.ReadRecords < c.BacklogRecords || c.RateMultiple <= 0 {
		t.Errorf("read %d records of a %d-record backlog, %.2f× the produce rate", c.ReadRecords, c.BacklogRecords, c.RateMultiple)
	}
	var baseline, catchup, catchupEnd float64 = -1, -1, -1
	for _, p := range res.Phases {
		switch p.Name {
		case "baseline":
			baseline = p.StartSeconds
		case "catchup":
			catchup, catchupEnd = p.StartSeconds, p.EndSeconds
		}
	}
	// Phase starts are rounded to the millisecond; so is this, or a child
	// started less than half a millisecond before the baseline would read
	// as started after it. Rounding keeps the order.
	at := readStamp(t, started, res.Start, "did not run")
	if baseline < 0 || catchup < 0 || at > baseline {
		t.Errorf("consumer process started at %.3f s, baseline at %.3f s, catch-up at %.3f s: want it started before the baseline", at, baseline, catchup)
	}
	// Its stop (the connections' close, the process's exit) is not
	// catch-up: it comes after the window.
	if at := readStamp(t, stopped, res.Start, "did not stop normally"); at < catchupEnd {
		t.Errorf("consumer process stopped at %.3f s, within the catch-up (until %.3f s)", at, catchupEnd)
	}
}

// A child that says READY more than once is started and stopped like any
// other: the second line does not panic the bench.
func TestConsumerProcessReadyTwice(t *testing.T) {
	childExitsZero(t, "ready-twice", Config{}, "stopped before the catch-up")
}

// The consumer process runs with the GOGC the bench was given.
func TestConsumerProcessGCPercent(t *testing.T) {
	childExitsZero(t, "gogc", Config{ConsumerGCPercent: 2000}, "GOGC 2000 applied, stopped before the catch-up")
}

// The consumer process runs under SCHED_IDLE when the bench asks, on every
// thread.
func TestConsumerProcessIdle(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SCHED_IDLE is set on Linux only")
	}
	childExitsZero(t, "idle", Config{ConsumerIdle: true}, "every thread under SCHED_IDLE")
}

// childExitsZero starts this test binary as the consumer process in the
// given TestMain mode, with cfg's consumer settings, stops it before the
// catch-up and expects it to exit 0 (the mode's checks passed: what).
func childExitsZero(t *testing.T, mode string, cfg Config, what string) {
	t.Helper()
	t.Setenv(childEnv, mode)
	cfg.ConsumerCommand, cfg.Brokers, cfg.Topic = []string{os.Args[0]}, []string{"127.0.0.1:1"}, "t"
	cp, err := startConsumerProcess(&cfg, func(int, int) {})
	if err != nil {
		t.Fatal(err)
	}
	cp.stop() // waits for the reader to see the end of the child's output
	if code := cp.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("child exit code %d, want 0 (%s)", code, what)
	}
}

// The catch-up report says whether the consumer ran in a process of its
// own, and with which GOGC.
func TestReportNamesConsumerGOGC(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{ConsumerCommand: []string{"floe"}, ConsumerGCPercent: 2000}, "the consumer ran in a process of its own, GOGC 2000\n"},
		{Config{ConsumerCommand: []string{"floe"}, ConsumerGCPercent: 2000, ConsumerIdle: true}, "the consumer ran in a process of its own, GOGC 2000, SCHED_IDLE\n"},
		{Config{ConsumerCommand: []string{"floe"}}, "the consumer ran in a process of its own, GOGC Go's default (100)\n"},
		{Config{}, ""},
	} {
		var table strings.Builder
		if err := WriteTable(&table, Result{Config: c.cfg, Catchup: &CatchupResult{}}); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(table.String(), "the consumer ran in a process of its own")
		if c.want != "" && !strings.Contains(table.String(), c.want) || c.want == "" && got {
			t.Errorf("config %+v: table\n%s\nwant the line %q", c.cfg, table.String(), c.want)
		}
	}
}
