package main

// kill -9 of the broker while a consumer group consumes and commits: every
// commit the broker acknowledged is there after the restart, and the group
// re-forms and resumes there without skipping a record.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/internal/ackcheck"
)

// crashConsumer consumes a group and commits after every poll, recording
// the commits the broker acknowledged.
type crashConsumer struct {
	cl        *kgo.Client
	mu        sync.Mutex
	consumed  map[int32][]int64
	acked     map[int32]int64
	cancel    context.CancelFunc
	done      chan struct{}
	committed chan struct{} // closed after the first acknowledged commit
	once      sync.Once
}

func startCrashConsumer(t *testing.T, addr, group, topic string) *crashConsumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.FetchMaxPartitionBytes(4<<10))
	if err != nil {
		t.Fatal(err)
	}
	c := &crashConsumer{cl: cl, consumed: make(map[int32][]int64), acked: make(map[int32]int64), done: make(chan struct{}), committed: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.loop(ctx, topic)
	return c
}

func (c *crashConsumer) loop(ctx context.Context, topic string) {
	defer close(c.done)
	for ctx.Err() == nil {
		recs := c.cl.PollRecords(ctx, 50).Records()
		if len(recs) == 0 || ctx.Err() != nil {
			continue
		}
		offsets := make(map[int32]kgo.EpochOffset)
		c.mu.Lock()
		for _, r := range recs {
			c.consumed[r.Partition] = append(c.consumed[r.Partition], r.Offset)
			offsets[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
		c.mu.Unlock()
		commitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c.cl.CommitOffsetsSync(commitCtx, map[string]map[int32]kgo.EpochOffset{topic: offsets},
			func(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				if err != nil || len(req.Topics) != len(resp.Topics) {
					return
				}
				c.mu.Lock()
				defer c.mu.Unlock()
				for i, rt := range resp.Topics {
					for j, rp := range rt.Partitions {
						if rp.ErrorCode == 0 && j < len(req.Topics[i].Partitions) {
							p := req.Topics[i].Partitions[j]
							c.acked[p.Partition] = max(c.acked[p.Partition], p.Offset)
							c.once.Do(func() { close(c.committed) })
						}
					}
				}
			})
		cancel()
	}
}

func (c *crashConsumer) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, o := range c.consumed {
		n += len(o)
	}
	return n
}

func TestKill9KeepsGroupOffsets(t *testing.T) {
	const partitions, perPartition = 4, 3000
	dir := dataDir(t)
	b := startBroker(t, dir)
	createTopic(t, b.Addr, "grouped", partitions)
	producer := newClient(t, b.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < partitions; p++ {
			producer.Produce(ctx, &kgo.Record{Topic: "grouped", Partition: p, Value: []byte("x")}, nil)
		}
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	producer.Close()

	c := startCrashConsumer(t, b.Addr, "crash-group", "grouped")
	select {
	case <-c.committed:
	case <-time.After(time.Minute):
		t.Fatal("no commit acknowledged within a minute")
	}
	if !ackcheck.WaitFor(time.Minute, func() bool { return c.total() >= partitions*perPartition/4 }) {
		t.Fatalf("consumed only %d records", c.total())
	}
	b.Kill9() // mid-run: the consumer is polling and committing
	c.cancel()
	<-c.done
	go c.cl.Close()
	c.mu.Lock()
	acked := make(map[int32]int64, len(c.acked))
	for p, o := range c.acked {
		acked[p] = o
	}
	c.mu.Unlock()
	t.Logf("killed after %d records consumed; acknowledged commits %v", c.total(), acked)

	b = startBroker(t, dir)
	cl := newClient(t, b.Addr)
	adm := kadm.NewClient(cl)
	var fetched kadm.OffsetResponses
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		var err error
		fetched, err = adm.FetchOffsets(ctx, "crash-group")
		return err == nil && fetched.Error() == nil
	}) {
		t.Fatal("offsets not readable after the restart")
	}
	committed := make(map[int32]int64)
	for p := int32(0); p < partitions; p++ {
		o, _ := fetched.Lookup("grouped", p)
		committed[p] = o.At
		// A commit in flight at the kill may have become durable
		// unacknowledged, so the stored offset may be newer, never older.
		if o.At < acked[p] {
			t.Errorf("p%d: committed %d after kill -9, acknowledged %d", p, o.At, acked[p])
		}
	}

	// The group re-forms and resumes at the commits: nothing skipped.
	r := startCrashConsumer(t, b.Addr, "crash-group", "grouped")
	defer func() { r.cancel(); <-r.done; r.cl.Close() }()
	want := 0
	for p := int32(0); p < partitions; p++ {
		want += perPartition - int(max(committed[p], 0))
	}
	if !ackcheck.WaitFor(2*time.Minute, func() bool { return r.total() >= want }) {
		t.Fatalf("resumed group consumed %d of %d", r.total(), want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p := int32(0); p < partitions; p++ {
		got := r.consumed[p]
		start := max(committed[p], 0)
		if len(got) == 0 && start < perPartition {
			t.Fatalf("p%d: nothing consumed after the restart", p)
		}
		for i, o := range got {
			if o != start+int64(i) {
				t.Fatalf("p%d: record %d after the restart has offset %d, want %d (resumed from %d)", p, i, o, start+int64(i), start)
			}
		}
	}
}
