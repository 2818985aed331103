package bench

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The catch-up consumer can run in a process of its own (Config.
// ConsumerCommand), as a lagging consumer on another machine would: its
// decoding and garbage collection then do not pause the producer whose
// latency the scenario measures. The process is started before the
// baseline window, so that starting it (exec, the runtime's start, its
// page faults) is not counted as catch-up: it says "READY" on stdout and
// waits for one line on stdin, "START <from> <ends>", which the catch-up
// phase sends. It then reports on stdout, one line per poll:
// "R <records> <bytes>", and "D" once every partition has reached the
// moving end. It exits when its stdin closes.

// consumerProcess is the parent's side of the child.
type consumerProcess struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	done    chan struct{}                // closed when the child's stdout ends
	tracker atomic.Pointer[drainTracker] // set by begin
}

// readyTimeout bounds how long a child may take to say it is ready.
const readyTimeout = 30 * time.Second

// startConsumerProcess runs the child and waits until it is ready; its
// reports go to count, and to the tracker begin hands over.
func startConsumerProcess(cfg *Config, count func(records, bytes int)) (*consumerProcess, error) {
	args := append([]string(nil), cfg.ConsumerCommand[1:]...)
	args = append(args,
		"--brokers", strings.Join(cfg.Brokers, ","),
		"--topic", cfg.Topic,
		"--fetch-max-partition-bytes", strconv.Itoa(int(cfg.FetchMaxPartitionBytes)),
		"--read-rate", strconv.FormatFloat(cfg.ReadRate, 'f', -1, 64),
	)
	if cfg.ConsumerGCPercent > 0 {
		args = append(args, "--gogc", strconv.Itoa(cfg.ConsumerGCPercent))
	}
	if cfg.ConsumerIdle {
		args = append(args, "--idle")
	}
	cp := &consumerProcess{cmd: exec.Command(cfg.ConsumerCommand[0], args...), done: make(chan struct{})}
	cp.cmd.Stderr = os.Stderr
	var err error
	if cp.stdin, err = cp.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := cp.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cp.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: consumer process: %w", err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(cp.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 1 && f[0] == "READY":
				select { // a child saying it twice must not panic the bench
				case <-ready:
				default:
					close(ready)
				}
			case len(f) == 3 && f[0] == "R":
				n, _ := strconv.Atoi(f[1])
				b, _ := strconv.Atoi(f[2])
				count(n, b)
			case len(f) == 1 && f[0] == "D":
				if t := cp.tracker.Load(); t != nil {
					t.reachedAll(time.Now())
				}
			}
		}
	}()
	select {
	case <-ready:
		return cp, nil
	case <-cp.done:
		cp.stop()
		return nil, fmt.Errorf("bench: consumer process exited before it was ready: %v", cp.cmd.ProcessState)
	case <-time.After(readyTimeout):
		cp.stop()
		return nil, fmt.Errorf("bench: consumer process not ready after %v", readyTimeout)
	}
}

// begin starts the child's catch-up from starts; tracker learns when it
// has reached ends.
func (cp *consumerProcess) begin(starts, ends map[int32]int64, tracker *drainTracker) error {
	cp.tracker.Store(tracker)
	if _, err := fmt.Fprintf(cp.stdin, "START %s %s\n", encodeOffsets(starts), encodeOffsets(ends)); err != nil {
		return fmt.Errorf("bench: consumer process: %w", err)
	}
	return nil
}

// stop closes the child's stdin, which ends it, and waits for it (killing
// it after 10 s).
func (cp *consumerProcess) stop() {
	_ = cp.stdin.Close()
	select {
	case <-cp.done:
	case <-time.After(10 * time.Second):
		_ = cp.cmd.Process.Kill()
		<-cp.done
	}
	_ = cp.cmd.Wait()
}

// ConsumerMain is the child: `floe bench-consumer` (which `floe bench
// catchup --consumer-process` runs) with its arguments. It returns the
// process's exit code.
func ConsumerMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "127.0.0.1:9092", "")
	topic := fs.String("topic", "", "")
	fetch := fs.Int("fetch-max-partition-bytes", 1<<20, "")
	readRate := fs.Float64("read-rate", 0, "")
	gogc := fs.Int("gogc", 0, "")
	idle := fs.Bool("idle", false, "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *gogc > 0 {
		debug.SetGCPercent(*gogc)
	}
	if *idle {
		if err := setProcessIdle(); err != nil {
			fmt.Fprintln(stderr, "floe bench-consumer:", err)
			return 1
		}
	}
	cfg := &Config{Brokers: strings.Split(*brokers, ","), Topic: *topic, FetchMaxPartitionBytes: int32(*fetch), ReadRate: *readRate}
	fmt.Fprintln(stdout, "READY")
	in := bufio.NewReader(stdin)
	line, err := in.ReadString('\n')
	if err != nil {
		return 0 // the parent stopped before the catch-up
	}
	f := strings.Fields(line)
	if len(f) < 1 || len(f) > 3 || f[0] != "START" {
		fmt.Fprintf(stderr, "floe bench-consumer: want START <from> <ends>, got %q\n", line)
		return 2
	}
	f = append(f, "", "") // an empty offset list is a field Fields dropped
	from, err1 := DecodeOffsets(f[1])
	ends, err2 := DecodeOffsets(f[2])
	if err1 != nil || err2 != nil {
		fmt.Fprintln(stderr, "floe bench-consumer: bad offsets")
		return 2
	}
	if err := RunCatchupConsumer(context.Background(), cfg, from, ends, in, stdout); err != nil {
		fmt.Fprintln(stderr, "floe bench-consumer:", err)
		return 1
	}
	return 0
}

// RunCatchupConsumer reads the topic from the given offsets and reports to
// w until stdin closes or ctx ends.
func RunCatchupConsumer(ctx context.Context, cfg *Config, from, ends map[int32]int64, stdin io.Reader, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the parent closes our stdin to stop us
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	tracker := newDrainTracker(from, ends)
	out := bufio.NewWriter(w)
	group, err := startConsumers(cfg, from, 0, cfg.ReadRate, func(fs kgo.Fetches, records, bytes int, now time.Time) {
		fmt.Fprintf(out, "R %d %d\n", records, bytes)
		fs.EachPartition(func(fp kgo.FetchTopicPartition) { tracker.saw(fp, now) })
		_ = out.Flush()
	})
	if err != nil {
		return err
	}
	select {
	case <-tracker.done:
		fmt.Fprintln(out, "D")
		_ = out.Flush()
		<-ctx.Done()
	case <-ctx.Done():
	}
	group.stop()
	return nil
}

// encodeOffsets writes partition:offset pairs, comma separated.
func encodeOffsets(m map[int32]int64) string {
	parts := make([]int32, 0, len(m))
	for p := range m {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", p, m[p])
	}
	return b.String()
}

// DecodeOffsets reads what encodeOffsets wrote.
func DecodeOffsets(s string) (map[int32]int64, error) {
	m := make(map[int32]int64)
	if s == "" {
		return m, nil
	}
	for _, pair := range strings.Split(s, ",") {
		p, o, ok := strings.Cut(pair, ":")
		part, err1 := strconv.ParseInt(p, 10, 32)
		off, err2 := strconv.ParseInt(o, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bench: bad partition:offset %q", pair)
		}
		m[int32(part)] = off
	}
	return m, nil
}
