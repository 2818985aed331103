package supervision

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/persistence/wal"
)

// A WAL write or fdatasync error fails the write waiting on it with
// KAFKA_STORAGE_ERROR, refuses every later one the same way and marks the
// broker unhealthy, and nothing unacknowledged becomes readable. After a
// restart on a working disk, everything acknowledged is there once, and an
// idempotent retry of a failed batch is written at most once: whether the
// failed write reached the file (the sync failed) or not (the write did).
func TestWALStorageErrorThenRestart(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(*wal.FaultFS)
	}{
		{"write fails", (*wal.FaultFS).FailAllWrites},
		{"sync fails", (*wal.FaultFS).FailAllSyncs},
	} {
		t.Run(c.name, func(t *testing.T) {
			const topic, partitions = "wal-fault", 4
			cfg := testConfig(t)
			cfg.WALShards = 2
			faults := wal.NewFaultFS(wal.OSFS())
			cfg.WALFS = faults
			n := startNode(t, cfg)
			w := newIdempotentWriter(t, n, topic, partitions)
			w.produce(n, 0, "before the fault")
			if err := n.Broker().Healthy(); err != nil {
				t.Fatalf("unhealthy before the fault: %v", err)
			}

			c.fail(faults)
			for p := range int32(partitions) {
				if r := rawProduceTo(t, n, topic, p, w.batch(p, 2)); r.ErrorCode != kerr.KafkaStorageError.Code {
					t.Fatalf("partition %d: sequence 2 after the fault answered offset %d, code %d; want KAFKA_STORAGE_ERROR", p, r.BaseOffset, r.ErrorCode)
				}
			}
			if n.Broker().Healthy() == nil {
				t.Fatal("the broker reports itself healthy after a WAL error")
			}
			w.wantEnd(n, 2) // the failed batches are not readable
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := n.Shutdown(ctx); err != nil {
				t.Logf("shutdown after the WAL error: %v", err)
			}

			cfg.WALFS = nil // the disk works again
			n = startNode(t, cfg)
			defer stopNode(t, n)
			if err := n.Broker().Healthy(); err != nil {
				t.Fatalf("unhealthy after the restart: %v", err)
			}
			w.retry(n, 2, "after the restart")
			w.produce(n, 4, "after the restart")
			w.readBack(n, 6)
		})
	}
}
