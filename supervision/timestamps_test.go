package supervision

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A topic with message.timestamp.type=LogAppendTime stamps each batch with
// the broker's time: the Produce answer carries it, consumers read it as
// every record's timestamp with the LogAppendTime type, and so they do
// after a restart, from objects. A CreateTime topic beside it keeps the
// producer's timestamps and answers LogAppendTime -1.
func TestLogAppendTime(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	cl := newClient(t, n)
	createTopic(t, cl, "stamped", 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	createTopic(t, cl, "created", 1, nil)
	createTopic(t, cl, "created-raw", 1, nil)

	before := time.Now().UnixMilli()
	produceAll(t, cl, "stamped", 1, 100, 10) // test records are an hour old
	produceAll(t, cl, "created", 1, 100, 10)
	stamped := rawProduce(t, n, "stamped", testBatch([]byte("raw")))
	created := rawProduce(t, n, "created-raw", testBatch([]byte("raw")))
	after := time.Now().UnixMilli()
	if stamped.ErrorCode != 0 || stamped.LogAppendTime < before || stamped.LogAppendTime > after {
		t.Fatalf("LogAppendTime topic answered %+v, want a time in [%d, %d]", stamped, before, after)
	}
	if created.ErrorCode != 0 || created.LogAppendTime != -1 {
		t.Fatalf("CreateTime topic answered %+v, want LogAppendTime -1", created)
	}

	check := func(n *Node) {
		t.Helper()
		cl := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"stamped": {0: kgo.NewOffset().At(0)}}))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for next := int64(0); next < 101; {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of 101: %v", next, ctx.Err())
			}
			fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
			fs.EachRecord(func(r *kgo.Record) {
				ms := r.Timestamp.UnixMilli()
				switch {
				case r.Offset != next:
					t.Fatalf("offset %d, want %d", r.Offset, next)
				case r.Attrs.TimestampType() != 1:
					t.Fatalf("offset %d: timestamp type %d, want 1 (LogAppendTime)", r.Offset, r.Attrs.TimestampType())
				case ms < before || ms > after:
					t.Fatalf("offset %d: timestamp %d, not the append time in [%d, %d]", r.Offset, ms, before, after)
				case r.Offset == 100 && ms != stamped.LogAppendTime:
					t.Fatalf("the raw batch reads %d, its Produce answer said %d", ms, stamped.LogAppendTime)
				case r.Offset < 100 && string(r.Value) != string(testRecord("stamped", 0, int(r.Offset), 10).Value):
					t.Fatalf("offset %d: value differs", r.Offset)
				}
				next++
			})
		}
		consumeAll(t, n, "created", 1, 100, 10) // checks the producer's timestamps
	}
	check(n)

	cl.Close()
	stopNode(t, n)
	cfg.LogCacheBytes = 1 // everything from objects
	n = startNode(t, cfg)
	defer stopNode(t, n)
	check(n)
	if n.Broker().ColdReads() == 0 {
		t.Fatal("no read came from objects after the restart")
	}
}

// rawIdempotentBatch is a two-record batch of a new idempotent producer's
// first sequence.
func rawIdempotentBatch(t *testing.T, ctx context.Context, cl *kgo.Client) []byte {
	t.Helper()
	init, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || init.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, init)
	}
	batch := testBatch([]byte("once"), []byte("twice"))
	binary.BigEndian.PutUint64(batch[43:], uint64(init.ProducerID))
	binary.BigEndian.PutUint16(batch[51:], uint16(init.ProducerEpoch))
	binary.BigEndian.PutUint32(batch[53:], 0) // first sequence
	fixBatchCRC(batch)
	return batch
}

// A retried idempotent batch on a LogAppendTime topic is answered with the
// first write's offset and append time, not with a new time or -1: while
// the batch is in the log cache, and after it has been uploaded and
// evicted (the producer state keeps the time), and after a restart, when
// the state comes from the metadata store's snapshot of it.
func TestLogAppendTimeDuplicate(t *testing.T) {
	cfg := testConfig(t)
	cfg.LogCacheBytes = 1 // uploaded batches leave the cache at once
	n := startNode(t, cfg)
	defer func() { stopNode(t, n) }()
	cl := newClient(t, n)
	createTopic(t, cl, "stamped-retry", 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var batch []byte
	var first kmsg.ProduceResponseTopicPartition
	for _, evicted := range []bool{false, true} {
		batch = rawIdempotentBatch(t, ctx, cl)
		first = rawProduce(t, n, "stamped-retry", batch)
		if first.ErrorCode != 0 || first.LogAppendTime <= 0 {
			t.Fatalf("first write: %+v", first)
		}
		if evicted {
			// Wait for the upload, then append once more: the partition
			// evicts what is uploaded when it appends.
			for deadline := time.Now().Add(30 * time.Second); countObjects(t, cfg.DataDir) == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("nothing was uploaded")
				}
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "stamped-retry", Value: []byte("after")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5 * time.Millisecond) // a new stamp would differ
		retry := rawProduce(t, n, "stamped-retry", batch)
		if retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset || retry.LogAppendTime != first.LogAppendTime {
			t.Fatalf("evicted %v: retry answered offset %d time %d (code %d), first write offset %d time %d",
				evicted, retry.BaseOffset, retry.LogAppendTime, retry.ErrorCode, first.BaseOffset, first.LogAppendTime)
		}
	}
	end, err := kadm.NewClient(cl).ListEndOffsets(ctx, "stamped-retry")
	if o, _ := end.Lookup("stamped-retry", 0); err != nil || o.Offset != 5 {
		t.Fatalf("end offset %d (%v), want 5: a retry was written again", o.Offset, err)
	}
	// Everything is uploaded at shutdown, so the restarted partition has
	// no batch in its cache or WAL: only the snapshot knows the producer.
	stopNode(t, n)
	n = startNode(t, cfg)
	if retry := rawProduce(t, n, "stamped-retry", batch); retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset || retry.LogAppendTime != first.LogAppendTime {
		t.Fatalf("after a restart: retry answered offset %d time %d (code %d), first write offset %d time %d",
			retry.BaseOffset, retry.LogAppendTime, retry.ErrorCode, first.BaseOffset, first.LogAppendTime)
	}
}
