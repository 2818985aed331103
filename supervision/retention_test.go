package supervision

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/internal/ackcheck"
	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objstore"
)

// metricValue sums a metric's samples from the node's registry.
func metricValue(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	families, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func startOffset(t *testing.T, cl *kgo.Client, topic string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := offs.Lookup(topic, 0)
	if o.Err != nil {
		t.Fatal(o.Err)
	}
	return o.Offset
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRetentionBytesAndTime(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 256 << 10
	cfg.UploadInterval = 100 * time.Millisecond
	cfg.RetentionCheckInterval = time.Hour // not before everything is uploaded
	cfg.CompactionInterval = time.Hour
	n := startNode(t, cfg)
	// Uncompressed, so the stored bytes are what retention.bytes counts
	// (test values compress to almost nothing).
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopic(t, cl, "by-size", 1, map[string]*string{"retention.bytes": kadm.StringPtr("1048576")})
	produceAll(t, cl, "by-size", 1, 8000, 1024) // ~8.5 MiB
	eventually(t, "everything uploaded", func() bool { return metricValue(t, n, "floe_wal_used_bytes") == 0 })
	cl.Close()
	stopNode(t, n)

	// Restarted with every record in objects, the first retention pass
	// moves the log start to where it stays: a start read while uploads
	// went on could be overtaken while the test reads from it.
	cfg.RetentionCheckInterval = 100 * time.Millisecond
	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl = newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	eventually(t, "log start moves under retention.bytes", func() bool { return startOffset(t, cl, "by-size") >= 6000 })
	eventually(t, "expired objects deleted", func() bool { return metricValue(t, n, "floe_objects_deleted_total") > 0 })
	start := startOffset(t, cl, "by-size")
	// What is kept reads back whole, from the new start to the end.
	consumeRange(t, n, "by-size", start, 8000, 1024)

	// Test records are an hour old: retention.ms of a minute expires
	// everything uploaded.
	createTopic(t, cl, "by-time", 1, map[string]*string{"retention.ms": kadm.StringPtr("60000")})
	produceAll(t, cl, "by-time", 1, 2000, 100)
	eventually(t, "log start moves under retention.ms", func() bool { return startOffset(t, cl, "by-time") == 2000 })
}

func TestDeleteRecordsSurvivesRestart(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	cl := newClient(t, n)
	createTopic(t, cl, "trimmed", 1, nil)
	produceAll(t, cl, "trimmed", 1, 1000, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	adm := kadm.NewClient(cl)
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: "trimmed", Partition: 0, At: 600})
	resp, err := adm.DeleteRecords(ctx, offsets)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := resp.Lookup("trimmed", 0); r.Err != nil || r.LowWatermark != 600 {
		t.Fatalf("delete records: %+v", r)
	}
	beyond := kadm.Offsets{}
	beyond.Add(kadm.Offset{Topic: "trimmed", Partition: 0, At: 5000})
	resp, _ = adm.DeleteRecords(ctx, beyond)
	if r, _ := resp.Lookup("trimmed", 0); r.Err == nil {
		t.Fatal("delete records past the high watermark accepted")
	}
	consumeRange(t, n, "trimmed", 600, 1000, 100)
	cl.Close()
	stopNode(t, n)

	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl = newClient(t, n)
	if got := startOffset(t, cl, "trimmed"); got != 600 {
		t.Fatalf("log start after restart %d, want 600", got)
	}
	consumeRange(t, n, "trimmed", 600, 1000, 100)
}

// Compaction merges small objects while consumers read cold data from them;
// every read returns exactly the produced records, and no cold read fails
// (it would if an object were deleted while a read still needed it).
func TestCompactionUnderColdReads(t *testing.T) {
	cfg := testConfig(t)
	compactionUnderColdReads(t, cfg, func() int { return countObjects(t, cfg.DataDir) })
}

// The same against a real S3 server: compaction reads ranges of the victims
// with ranged GETs and writes the merged objects with (multipart) PUTs.
func TestS3CompactionUnderColdReads(t *testing.T) {
	bucketURL := s3TestURL(t, "floe-compact")
	cfg := testConfig(t)
	cfg.ObjectStore = bucketURL
	compactionUnderColdReads(t, cfg, func() int { return len(bucketKeys(t, bucketURL)) })
}

func compactionUnderColdReads(t *testing.T, cfg Config, countObjects func() int) {
	cfg.UploadBytes = 64 << 10
	cfg.UploadInterval = 50 * time.Millisecond
	cfg.LogCacheBytes = 1
	cfg.BlockCacheBytes = 2 << 20
	cfg.CompactionMinAge = time.Millisecond
	cfg.CompactionSmallObjectBytes = 1 << 20
	cfg.RetentionCheckInterval = 100 * time.Millisecond
	cfg.CompactionInterval = time.Hour // first build many small objects
	n := startNode(t, cfg)
	defer stopNode(t, n)
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	const partitions, perPartition, size, rounds = 4, 2500, 1024, 10
	createTopic(t, cl, "merged", partitions, nil)
	for r := 0; r < rounds; r++ {
		uploaded := metricValue(t, n, "floe_upload_bytes_total")
		produceRange(t, cl, "merged", partitions, r*perPartition/rounds, (r+1)*perPartition/rounds, size)
		eventually(t, "upload", func() bool { return metricValue(t, n, "floe_upload_bytes_total") > uploaded })
	}
	before := countObjects()
	if before < rounds {
		t.Fatalf("only %d objects to compact", before)
	}
	n.Broker().SetCompactionInterval(200 * time.Millisecond)

	var wg sync.WaitGroup
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				consumeAll(t, n, "merged", partitions, perPartition, size)
			}
		}()
	}
	wg.Wait()
	eventually(t, "compaction ran", func() bool { return metricValue(t, n, "floe_compaction_bytes_total") > 0 })
	eventually(t, "compacted objects deleted", func() bool { return countObjects() < before })
	consumeAll(t, n, "merged", partitions, perPartition, size)
	if errs := metricValue(t, n, "floe_cold_read_errors_total"); errs != 0 {
		t.Fatalf("%v cold reads failed", errs)
	}
	// The reads went through recycled block buffers (what the byte checks
	// above guard: a buffer reused while an answer still sends it).
	if reused := metricValue(t, n, "floe_block_cache_reused_buffers_total"); reused == 0 {
		t.Fatal("no cold load reused a released block's buffer")
	}
	t.Logf("objects: %d before compaction, %d after; %v block buffers reused", before, countObjects(), metricValue(t, n, "floe_block_cache_reused_buffers_total"))
}

// consumeRange reads partition 0 from start to end and checks every record.
func consumeRange(t *testing.T, n *Node, topic string, start, end int64, valueSize int) {
	t.Helper()
	cl := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(start)}}))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	next := start
	for next < end {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed up to %d of %d: %v", next, end, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next {
				t.Fatalf("offset %d, want %d", r.Offset, next)
			}
			want := testRecord(topic, 0, int(next), valueSize)
			if string(r.Value) != string(want.Value) {
				t.Fatalf("offset %d: value differs", next)
			}
			next++
		})
	}
}

// Idempotent producers idle past the producer id expiration are forgotten,
// in the partitions and in the metadata store.
func TestProducerStateExpires(t *testing.T) {
	const topic, partitions = "expiring", 3
	cfg := testConfig(t)
	cfg.UploadInterval = 100 * time.Millisecond
	n := startNode(t, cfg)
	cl := newClient(t, n) // idempotent: kgo's default
	createTopic(t, cl, topic, partitions, nil)
	produceAll(t, cl, topic, partitions, 10, 100)
	cl.Close()
	if got := metricValue(t, n, "floe_producer_states"); got != partitions {
		t.Fatalf("floe_producer_states %v after producing to %d partitions, want %d", got, partitions, partitions)
	}
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		return metricValue(t, n, "floe_upload_bytes_total") > 0 && metricValue(t, n, "floe_wal_used_bytes") == 0
	}) {
		t.Fatal("data not uploaded in 30 s")
	}
	stopNode(t, n)
	if got := storedProducers(t, cfg.DataDir); got != partitions {
		t.Fatalf("%d producer states stored after the upload, want %d", got, partitions)
	}

	// Restarted with a short expiration: the states come back (a restart
	// counts as seen), then expire; expiring exactly one per partition
	// shows both.
	cfg.ProducerIDExpiration = 2 * time.Second
	cfg.RetentionCheckInterval = 100 * time.Millisecond
	n = startNode(t, cfg)
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		return metricValue(t, n, "floe_producer_states") == 0 && metricValue(t, n, "floe_producers_expired_total") == partitions
	}) {
		t.Fatalf("after 30 s: floe_producer_states %v, floe_producers_expired_total %v",
			metricValue(t, n, "floe_producer_states"), metricValue(t, n, "floe_producers_expired_total"))
	}
	stopNode(t, n)
	if got := storedProducers(t, cfg.DataDir); got != 0 {
		t.Fatalf("%d producer states still stored after they expired", got)
	}
}

// storedProducers opens a stopped node's metadata store and counts its
// producer states.
func storedProducers(t *testing.T, dataDir string) int {
	t.Helper()
	store, err := meta.Open(filepath.Join(dataDir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	states, err := store.ProducerStates()
	if err != nil {
		t.Fatal(err)
	}
	return len(states)
}

// failAfterPut fails every GetInto once armed and a Put has gone through:
// with uploads over, the first Put is a compaction round's first merged
// object, and the round then fails building its second.
type failAfterPut struct {
	objstore.Store
	armed, put atomic.Bool
}

func (f *failAfterPut) Put(ctx context.Context, key string, data []byte) error {
	err := f.Store.Put(ctx, key, data)
	if err == nil && f.armed.Load() {
		f.put.Store(true)
	}
	return err
}

func (f *failAfterPut) GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error {
	if f.armed.Load() && f.put.Load() {
		return errors.New("injected: read failed after the first merged object")
	}
	return f.Store.GetInto(ctx, key, offset, dst...)
}

// A compaction round that fails after writing some merged objects deletes
// them: a round that kept failing would otherwise leave a new set of
// unreferenced objects every interval. The next round succeeds and the data
// reads back whole.
func TestFailedCompactionLeavesNoObjects(t *testing.T) {
	cfg, local := smallObjectsConfig(t)
	store := &failAfterPut{Store: local}
	cfg.Store = store
	cfg.CompactionSmallObjectBytes = 1 << 20
	cfg.CompactionOutputBytes = 256 << 10 // several merged objects per round
	n := startNode(t, cfg)
	defer stopNode(t, n)
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	const partitions, perPartition, size, rounds = 4, 500, 1024, 10
	createTopic(t, cl, "failing", partitions, nil)
	for r := 0; r < rounds; r++ { // an object per round
		uploaded := metricValue(t, n, "floe_upload_bytes_total")
		produceRange(t, cl, "failing", partitions, r*perPartition/rounds, (r+1)*perPartition/rounds, size)
		eventually(t, "upload", func() bool { return metricValue(t, n, "floe_upload_bytes_total") > uploaded })
	}
	eventually(t, "everything uploaded", func() bool { return metricValue(t, n, "floe_wal_used_bytes") == 0 })
	before := storeKeys(t, local)

	store.armed.Store(true)
	n.Broker().SetCompactionInterval(time.Hour) // one round now
	eventually(t, "the round fails", func() bool { return metricValue(t, n, "floe_compaction_errors_total") > 0 })
	if !store.put.Load() {
		t.Fatal("the round failed before writing a merged object: the test tests nothing")
	}
	if after := storeKeys(t, local); !slices.Equal(after, before) {
		t.Fatalf("objects after the failed round:\n%v\nbefore:\n%v", after, before)
	}

	store.armed.Store(false)
	n.Broker().SetCompactionInterval(time.Hour)
	eventually(t, "a round succeeds", func() bool { return metricValue(t, n, "floe_compaction_bytes_total") > 0 })
	eventually(t, "the merged objects replace the small ones", func() bool { return len(storeKeys(t, local)) < len(before) })
	consumeAll(t, n, "failing", partitions, perPartition, size)
}

func storeKeys(t *testing.T, store objstore.Store) []string {
	t.Helper()
	keys, err := store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}
