package supervision

// A second client family's consumer group: IBM/sarama joins, consumes,
// commits, leaves; a second run of the group resumes at the commits.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaHandler records what the group consumed and marks every message,
// which sarama's offset manager commits (every 100 ms and when closing).
type saramaHandler struct {
	mu     sync.Mutex
	first  map[int32]int64
	seen   map[int32]map[int64]bool
	total  int
	want   int
	enough chan struct{}
}

func (h *saramaHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *saramaHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		if _, ok := h.first[msg.Partition]; !ok {
			h.first[msg.Partition] = msg.Offset
		}
		if h.seen[msg.Partition] == nil {
			h.seen[msg.Partition] = make(map[int64]bool)
		}
		if !h.seen[msg.Partition][msg.Offset] {
			h.seen[msg.Partition][msg.Offset] = true
			h.total++
			if h.total == h.want {
				close(h.enough)
			}
		}
		h.mu.Unlock()
		sess.MarkMessage(msg, "sarama")
	}
	return nil
}

// saramaRun consumes with a sarama group until want distinct records have
// been seen, then closes the group (committing what was marked).
func saramaRun(t *testing.T, n *Node, group, topic string, want int) *saramaHandler {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V3_6_0_0
	cfg.ClientID = "sarama-test"
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = time.Second
	cg, err := sarama.NewConsumerGroup([]string{n.Addr().String()}, group, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &saramaHandler{first: make(map[int32]int64), seen: make(map[int32]map[int64]bool), want: want, enough: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case <-h.enough:
	case err := <-done:
		t.Fatalf("sarama consume: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatalf("sarama consumed %d of %d records", h.total, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sarama consume: %v", err)
	}
	if err := cg.Close(); err != nil {
		t.Fatalf("sarama close: %v", err)
	}
	return h
}

func TestSaramaConsumerGroup(t *testing.T) {
	const partitions, perPartition = 4, 250
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	createTopic(t, cl, "sarama", partitions, nil)
	produceAll(t, cl, "sarama", partitions, perPartition, 10)

	h := saramaRun(t, n, "sarama-group", "sarama", partitions*perPartition)
	for p := int32(0); p < partitions; p++ {
		if len(h.seen[p]) != perPartition || h.first[p] != 0 {
			t.Fatalf("p%d: %d records from offset %d", p, len(h.seen[p]), h.first[p])
		}
	}
	committed := committedOffsets(t, cl, "sarama-group", "sarama")
	for p := int32(0); p < partitions; p++ {
		if committed[p] != perPartition {
			t.Fatalf("p%d: sarama committed %d, want %d", p, committed[p], perPartition)
		}
	}

	// The group comes back and reads only what is new.
	produceAll(t, cl, "sarama", partitions, 50, 10)
	h = saramaRun(t, n, "sarama-group", "sarama", partitions*50)
	for p := int32(0); p < partitions; p++ {
		if h.first[p] != perPartition || len(h.seen[p]) != 50 {
			t.Fatalf("p%d: resumed at %d with %d records, want %d and 50", p, h.first[p], len(h.seen[p]), perPartition)
		}
	}
	committed = committedOffsets(t, cl, "sarama-group", "sarama")
	for p := int32(0); p < partitions; p++ {
		if committed[p] != perPartition+50 {
			t.Fatalf("p%d: committed %d after the second run", p, committed[p])
		}
	}
}
