package supervision

// A panicking partition actor is restarted by its supervisor from durable
// state, and the other partitions do not notice (DESIGN.md §5).

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/internal/ackcheck"
)

// partitionAcks records what a producer was told about one partition.
type partitionAcks struct {
	mu      sync.Mutex
	offsets map[int64]string // guarded by mu: acknowledged offset → value
	clash   []string         // guarded by mu: offsets acknowledged twice
	sent    atomic.Int64
	acked   atomic.Int64
	failed  atomic.Int64
	lastErr atomic.Value
}

func (a *partitionAcks) promise(r *kgo.Record, err error) {
	if err != nil {
		a.lastErr.Store(fmt.Sprintf("offset %d: %v", r.Offset, err))
		a.failed.Add(1)
		return
	}
	a.mu.Lock()
	if prev, ok := a.offsets[r.Offset]; ok {
		a.clash = append(a.clash, fmt.Sprintf("offset %d for %q and %q", r.Offset, prev, r.Value))
	}
	a.offsets[r.Offset] = string(r.Value)
	a.mu.Unlock()
	a.acked.Add(1)
}

func TestPartitionPanicRestart(t *testing.T) {
	const (
		topic      = "panicky"
		injections = 4
		// ackedAfter is how many more acks partition 0 must get after each
		// restart, and partition 1 during each.
		ackedAfter = 200
	)
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n, kgo.MaxBufferedRecords(2000))
	createTopic(t, cl, topic, 2, nil)

	acks := [2]*partitionAcks{{offsets: map[int64]string{}}, {offsets: map[int64]string{}}}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for p := range int32(2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not cancelled by a context: a cancelled record would count as
			// a failure. Produce blocks when the client's buffer is full.
			for seq := 0; !stop.Load(); seq++ {
				acks[p].sent.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%08d", p, seq))}, acks[p].promise)
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()

	failures := func() {
		t.Helper()
		for p, a := range acks {
			if f := a.failed.Load(); f > 0 {
				t.Fatalf("partition %d: %d produces failed (last: %v)", p, f, a.lastErr.Load())
			}
		}
	}
	if !ackcheck.WaitFor(30*time.Second, func() bool { return acks[0].acked.Load() >= ackedAfter && acks[1].acked.Load() >= ackedAfter }) {
		t.Fatalf("no steady produce: %d and %d acks after 30 s", acks[0].acked.Load(), acks[1].acked.Load())
	}
	restarts0 := n.System().Restarts("partition")
	for i := 1; i <= injections; i++ {
		p1Before := acks[1].acked.Load()
		if !n.Broker().InjectPartitionPanic(topic, 0) {
			t.Fatalf("injection %d: no partition %s/0", i, topic)
		}
		if !ackcheck.WaitFor(10*time.Second, func() bool { return n.System().Restarts("partition") >= restarts0+int64(i) }) {
			t.Fatalf("injection %d: %d partition restarts counted, want %d", i, n.System().Restarts("partition")-restarts0, i)
		}
		p0After := acks[0].acked.Load()
		if !ackcheck.WaitFor(30*time.Second, func() bool {
			return acks[0].acked.Load() >= p0After+ackedAfter && acks[1].acked.Load() >= p1Before+ackedAfter
		}) {
			t.Fatalf("injection %d: partition 0 acked %d more after the restart, partition 1 %d more since the injection; want %d each",
				i, acks[0].acked.Load()-p0After, acks[1].acked.Load()-p1Before, ackedAfter)
		}
		failures()
	}

	stop.Store(true)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	failures()
	if got := n.System().Restarts("partition") - restarts0; got != injections {
		t.Fatalf("%d partition restarts counted, want %d", got, injections)
	}
	for p, a := range acks {
		if a.acked.Load() != a.sent.Load() {
			t.Fatalf("partition %d: %d sent, %d acknowledged after flush", p, a.sent.Load(), a.acked.Load())
		}
		if len(a.clash) > 0 {
			t.Fatalf("partition %d: an offset acknowledged twice: %v", p, a.clash[:min(5, len(a.clash))])
		}
	}
	t.Logf("acknowledged: partition 0 %d, partition 1 %d", acks[0].acked.Load(), acks[1].acked.Load())
	readBackAcked(t, n, topic, acks)
}

// readBackAcked reads both partitions from 0 to the end and checks that
// they hold exactly the acknowledged records: dense offsets, each value at
// its acknowledged offset, none twice.
func readBackAcked(t *testing.T, n *Node, topic string, acks [2]*partitionAcks) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := newClient(t, n)
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	for p, a := range acks {
		if o, _ := ends.Lookup(topic, int32(p)); o.Offset != int64(len(a.offsets)) {
			t.Fatalf("partition %d: end offset %d, %d records acknowledged", p, o.Offset, len(a.offsets))
		}
	}
	consumer := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(0), 1: kgo.NewOffset().At(0)}}))
	next := [2]int64{}
	seen := make(map[string]int64)
	for next[0] < int64(len(acks[0].offsets)) || next[1] < int64(len(acks[1].offsets)) {
		fetches := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %v of %d and %d records: %v", next, len(acks[0].offsets), len(acks[1].offsets), ctx.Err())
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset != next[p] {
				t.Fatalf("partition %d: offset %d, want %d", p, r.Offset, next[p])
			}
			if prev, ok := seen[string(r.Value)]; ok {
				t.Fatalf("partition %d: %q at offsets %d and %d", p, r.Value, prev, r.Offset)
			}
			seen[string(r.Value)] = r.Offset
			if want := acks[p].offsets[r.Offset]; want != string(r.Value) {
				t.Fatalf("partition %d offset %d: %q, acknowledged %q", p, r.Offset, r.Value, want)
			}
			next[p]++
		})
	}
}
