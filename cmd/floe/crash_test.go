package main

// Crash tests run the real floe binary as a subprocess: kill -9 in the middle
// of a produce storm, a clean SIGTERM, and the command line itself. The binary
// is built once per test run (with -race when the tests run with -race, so the
// broker's races show up in its stderr, which the tests check).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/internal/ackcheck"
	"github.com/floe-io/floe/internal/brokerproc"
)

// floeBinary is the path of the binary TestMain built.
var floeBinary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	binDir, err := os.MkdirTemp("", "floe-crash-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash tests:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	if floeBinary, err = brokerproc.Build(binDir); err != nil {
		fmt.Fprintln(os.Stderr, "crash tests:", err)
		return 1
	}
	return m.Run()
}

// dataDir is a fresh directory under the package dir: t.TempDir may be on
// tmpfs, where the WAL's O_DIRECT is refused.
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", "testdata-crash-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// startBroker runs `floe serve` on port 0 with dir as its data directory.
func startBroker(t *testing.T, dir string, extra ...string) *brokerproc.Process {
	t.Helper()
	args := []string{"--http", "127.0.0.1:0", "--wal-capacity", "256MiB", "--log-cache-size", "64MiB"}
	return brokerproc.Start(t, floeBinary, dir, nil, append(args, extra...)...)
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, addr, topic string, partitions int32) {
	t.Helper()
	cl := newClient(t, addr)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// ackLog counts what the producers were told; the acknowledged records
// themselves go to an ackcheck.Acked.
type ackLog struct {
	*ackcheck.Acked
	sent    atomic.Int64 // records handed to Produce; each gets one promise call
	count   atomic.Int64
	failed  atomic.Int64
	lastErr atomic.Value
}

func newAckLog() *ackLog { return &ackLog{Acked: ackcheck.NewAcked()} }

func (a *ackLog) promise(r *kgo.Record, err error) {
	if err != nil {
		a.failed.Add(1)
		a.lastErr.Store(err.Error())
		return
	}
	a.Add(r)
	a.count.Add(1)
}

// crashValue is producer w's record seq: unique across the test, ~100 bytes.
func crashValue(w, seq int) []byte {
	v := []byte(fmt.Sprintf("w%d-%09d|", w, seq))
	return append(v, bytes.Repeat([]byte{'a' + byte(seq%26)}, 100-len(v))...)
}

// objectFiles counts the objects in a local object store directory.
func objectFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".tmp":
			return filepath.SkipDir
		case d.Type().IsRegular():
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestKill9DuringProduce(t *testing.T) {
	const (
		topic      = "crash"
		partitions = 4
		producers  = 3
		ackTarget  = 20_000
	)
	for _, c := range []struct {
		name string
		args []string
		// objects: whether part of the data must be in objects at the
		// kill (the rest is only in the WAL), or none of it.
		objects bool
		// restart: the flags of the restart, if not args.
		restart []string
	}{
		{name: "wal-only", objects: false},
		{name: "objects-and-wal", args: []string{"--upload-size", "1MiB", "--upload-interval", "200ms"}, objects: true},
		// The partitions' batches in three WAL files; the restart asks for
		// one, and must still replay all three.
		{name: "three-wal-shards", args: []string{"--wal-shards", "3"}, restart: []string{"--wal-shards", "1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := dataDir(t)
			b := startBroker(t, dir, c.args...)
			createTopic(t, b.Addr, topic, partitions)

			acks := newAckLog()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			clients := make([]*kgo.Client, producers)
			for w := range producers {
				clients[w] = newClient(t, b.Addr, kgo.ProducerLinger(time.Millisecond))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for seq := 0; ctx.Err() == nil; seq++ {
						r := &kgo.Record{Topic: topic, Partition: int32((seq + w) % partitions), Value: crashValue(w, seq)}
						acks.sent.Add(1)
						clients[w].Produce(ctx, r, acks.promise)
					}
				}()
			}

			objectsDir := filepath.Join(dir, "objects")
			ready := func() bool {
				return acks.count.Load() >= ackTarget && (!c.objects || objectFiles(t, objectsDir) > 0)
			}
			if !ackcheck.WaitFor(60*time.Second, ready) {
				t.Fatalf("after 60 s: %d acks (want %d), %d failed (last: %v), %d objects", acks.count.Load(), ackTarget, acks.failed.Load(), acks.lastErr.Load(), objectFiles(t, objectsDir))
			}
			if failed := acks.failed.Load(); failed > 0 {
				t.Fatalf("%d produces failed before the kill (last: %v)", failed, acks.lastErr.Load())
			}
			b.Kill9()
			atKill := objectFiles(t, objectsDir)
			cancel()
			wg.Wait()
			for _, cl := range clients {
				cl.Close() // fails what is still buffered; those records were never acknowledged
			}
			// Promises may still run after Close (a response read before
			// the kill); every record gets exactly one.
			if !ackcheck.WaitFor(30*time.Second, func() bool { return acks.count.Load()+acks.failed.Load() == acks.sent.Load() }) {
				t.Fatalf("%d records sent, %d acknowledged, %d failed: promises missing", acks.sent.Load(), acks.count.Load(), acks.failed.Load())
			}
			t.Logf("killed with %d acks, %d objects; %d produces failed after the kill", acks.count.Load(), atKill, acks.failed.Load())
			if !c.objects && atKill > 0 {
				t.Fatalf("%d objects at the kill; this case wants all data only in the WAL", atKill)
			}
			acked := acks.Snapshot(t)

			if c.restart == nil {
				c.restart = c.args
			}
			b2 := startBroker(t, dir, c.restart...)
			ackcheck.ReadBack(t, b2.Addr, topic, partitions, acked, nil)
			if code := b2.Terminate(30 * time.Second); code != 0 {
				t.Fatalf("exit code %d after SIGTERM, want 0", code)
			}
		})
	}
}

func TestSIGTERMCleanExit(t *testing.T) {
	const topic, count = "graceful", 50
	dir := dataDir(t)
	b := startBroker(t, dir)
	createTopic(t, b.Addr, topic, 1)
	cl := newClient(t, b.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range count {
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("graceful-%d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	cl.Close()
	start := time.Now()
	if code := b.Terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, b.Tail(40))
	}
	t.Logf("exited 0 %v after SIGTERM", time.Since(start).Round(time.Millisecond))

	b2 := startBroker(t, dir)
	acked := map[int32]map[int64]string{0: {}}
	for i := range count {
		acked[0][int64(i)] = fmt.Sprintf("graceful-%d", i)
	}
	ackcheck.ReadBack(t, b2.Addr, topic, 1, acked, nil)
	if code := b2.Terminate(30 * time.Second); code != 0 {
		t.Fatalf("second run: exit code %d after SIGTERM, want 0", code)
	}
}

func TestHelp(t *testing.T) {
	flags := []string{"listen", "advertise", "data-dir", "object-store", "http", "log-cache-size", "wal-capacity", "wal-shards",
		"upload-size", "upload-interval", "auto-create-topics", "default-partitions", "log-level", "pretouch-memory"}
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command(floeBinary, args...)
			cmd.Env = brokerproc.CleanEnv()
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("floe %v: %v\n%s", args, err, out.String())
			}
			text := out.String()
			for _, f := range flags {
				// Go's flag package prints one dash; either is accepted on the command line.
				if !regexp.MustCompile(`(?m)^\s+--?` + regexp.QuoteMeta(f) + `\b`).MatchString(text) {
					t.Errorf("help does not list --%s:\n%s", f, text)
				}
			}
			if args[0] != "serve" && !strings.Contains(text, "FLOE_") {
				t.Errorf("help does not mention FLOE_ environment variables:\n%s", text)
			}
		})
	}

	t.Run("env FLOE_LOG_LEVEL=bogus", func(t *testing.T) {
		var out bytes.Buffer
		cmd := exec.Command(floeBinary, "serve", "--listen", "127.0.0.1:0", "--http", "", "--data-dir", dataDir(t))
		cmd.Env = append(brokerproc.CleanEnv(), "FLOE_LOG_LEVEL=bogus")
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("floe serve with FLOE_LOG_LEVEL=bogus still running after 30 s:\n%s", out.String())
		}
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Fatalf("exit code %d, want 2:\n%s", code, out.String())
		}
		if !strings.Contains(out.String(), "bogus") {
			t.Errorf("the error does not name the bad value:\n%s", out.String())
		}
	})
}

// A flag value out of range stops serve at once with exit code 2 and a
// message naming the flag, before anything is opened.
func TestServeRejectsBadFlagValues(t *testing.T) {
	for _, c := range []struct{ flag, value string }{
		{"--wal-shards", "0"},
		{"--wal-shards", "65"},
		{"--default-partitions", "0"},
		{"--wal-capacity", "1KiB"},
		{"--cold-read-nice", "-1"},
		{"--cold-read-nice", "20"},
		{"--object-delete-rate", "0"},
		{"--upload-spread", "-0.1"},
		{"--upload-spread", "1.5"},
		{"--upload-spread", "NaN"},
	} {
		t.Run(c.flag+"="+c.value, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, floeBinary, "serve", "--listen", "127.0.0.1:0", "--http", "", "--data-dir", dataDir(t), c.flag, c.value)
			cmd.Env = brokerproc.CleanEnv()
			cmd.Stdout, cmd.Stderr = &out, &out
			_ = cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("still running after 30 s:\n%s", out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 2 {
				t.Fatalf("exit code %d, want 2:\n%s", code, out.String())
			}
			if !strings.Contains(out.String(), c.flag) {
				t.Errorf("the error does not name %s:\n%s", c.flag, out.String())
			}
		})
	}
}

// --pretouch-memory restarts the broker, in the same process, with the
// runtime setting that keeps freed heap memory mapped, then touches the
// caches' memory before it serves.
func TestPretouchMemory(t *testing.T) {
	dir := dataDir(t)
	b := startBroker(t, dir, "--pretouch-memory", "--log-cache-size", "16MiB", "--block-cache-size", "16MiB")
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", b.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	vars := strings.Split(string(environ), "\x00")
	if !slices.Contains(vars, "GODEBUG=madvdontneed=0") {
		t.Errorf("the broker's environment has no GODEBUG=madvdontneed=0; its GODEBUG: %q", slices.DeleteFunc(vars, func(kv string) bool { return !strings.HasPrefix(kv, "GODEBUG=") }))
	}
	if !strings.Contains(b.Log(), `msg="memory pre-touched" bytes=33554432 block_buffers=16777216`) {
		t.Errorf("no pre-touch of the two caches' 32 MiB in the log:\n%s", b.Tail(20))
	}
	if code := b.Terminate(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
}
