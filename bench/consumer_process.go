package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The catch-up consumer can run in a process of its own (Config.
// ConsumerCommand), as a lagging consumer on another machine would: its
// decoding and garbage collection then do not pause the producer whose
// latency the scenario measures. The child reports on stdout, one line per
// poll: "R <records> <bytes>", and "D" once every partition has reached the
// moving end.

// startConsumerProcess runs the child and feeds its reports to count and
// tracker. The returned function stops it.
func startConsumerProcess(cfg *Config, starts, ends map[int32]int64, count func(records, bytes int), tracker *drainTracker) (func(), error) {
	args := append([]string(nil), cfg.ConsumerCommand[1:]...)
	args = append(args,
		"--brokers", strings.Join(cfg.Brokers, ","),
		"--topic", cfg.Topic,
		"--from", encodeOffsets(starts),
		"--ends", encodeOffsets(ends),
		"--fetch-max-partition-bytes", strconv.Itoa(int(cfg.FetchMaxPartitionBytes)),
		"--read-rate", strconv.FormatFloat(cfg.ReadRate, 'f', -1, 64),
	)
	cmd := exec.Command(cfg.ConsumerCommand[0], args...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: consumer process: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			switch {
			case len(f) == 3 && f[0] == "R":
				n, _ := strconv.Atoi(f[1])
				b, _ := strconv.Atoi(f[2])
				count(n, b)
			case len(f) == 1 && f[0] == "D":
				tracker.reachedAll(time.Now())
			}
		}
	}()
	return func() {
		_ = stdin.Close() // the child exits when its stdin closes
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = cmd.Wait()
	}, nil
}

// RunCatchupConsumer is the child side: it reads the topic from the given
// offsets and reports to w until stdin closes or ctx ends.
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
