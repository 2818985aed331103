package supervision

import (
	"bytes"
	"context"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/actors"
	"github.com/floe-io/floe/persistence/objstore"
)

// recordingStore records the range of every read into buffers (the cold
// loaders' reads) before passing it on, so a test sees the readahead
// windows as the store does.
type recordingStore struct {
	objstore.Store
	mu    sync.Mutex
	spans []readSpan  // guarded by mu; in call order
	nices map[int]int // guarded by mu: reads by their thread's nice value
}

// readSpan is the range of one read.
type readSpan struct {
	key          string
	offset, size int64
}

func (s *recordingStore) GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error {
	var n int64
	for _, b := range dst {
		n += int64(len(b))
	}
	nice, err := threadNice() // a loader's goroutine is wired to its thread
	if err != nil {
		nice = -100
	}
	s.mu.Lock()
	s.spans = append(s.spans, readSpan{key, offset, n})
	if s.nices == nil {
		s.nices = map[int]int{}
	}
	s.nices[nice]++
	s.mu.Unlock()
	return s.Store.GetInto(ctx, key, offset, dst...)
}

// byNice counts the reads by the nice value of the thread that made them.
func (s *recordingStore) byNice() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.nices)
}

func (s *recordingStore) recorded() []readSpan {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.spans)
}

// readSizes returns the bytes of each read.
func readSizes(spans []readSpan) []int64 {
	sizes := make([]int64, len(spans))
	for i, sp := range spans {
		sizes[i] = sp.size
	}
	return sizes
}

// restartOnSlowStore starts a stopped node's configuration again with an
// empty log cache, its objects behind a fault store that makes every read
// take delay longer, and records the reads.
func restartOnSlowStore(t *testing.T, cfg Config, delay time.Duration) (*Node, *recordingStore) {
	t.Helper()
	local, err := objstore.NewLocalDir(filepath.Join(cfg.DataDir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	slow := objstore.NewFaultStore(local)
	slow.Scope(objstore.OpGet)
	slow.Delay(delay)
	store := &recordingStore{Store: slow}
	cfg.Store = store
	cfg.LogCacheBytes = 1
	n := startNode(t, cfg)
	t.Cleanup(func() { stopNode(t, n) })
	return n, store
}

// oneObjectConfig is testConfig for data that stays in one object: it is
// uploaded at shutdown and never compacted (compaction reads with GetInto
// too, which the recording store would count).
func oneObjectConfig(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.UploadBytes = 64 << 20
	cfg.UploadInterval = time.Hour
	cfg.CompactionInterval = time.Hour
	return cfg
}

// restartFromObjects writes perPartition records of size to each of the
// partitions of a new topic under cfg, uncompressed (test records compress
// to almost nothing), stops the node, and starts it again with an empty log
// cache on a recording store whose reads take delay (restartOnSlowStore).
func restartFromObjects(t *testing.T, cfg Config, topic string, partitions int32, perPartition, size int, delay time.Duration, produceOpts ...kgo.Opt) (*Node, *recordingStore) {
	t.Helper()
	n := startNode(t, cfg)
	cl := newClient(t, n, append(produceOpts, kgo.ProducerBatchCompression(kgo.NoCompression()))...)
	createTopic(t, cl, topic, partitions, nil)
	produceAll(t, cl, topic, partitions, perPartition, size)
	cl.Close()
	stopNode(t, n)
	return restartOnSlowStore(t, cfg, delay)
}

// TestColdReadaheadGrowsToCap reads 16 MiB back from a store that takes
// 50 ms a read, with a consumer that takes what it gets at once: it catches
// up with every window, even one still loading, so each window doubles the
// last, from one block up to the cap, and never beyond. (Before session 10 a
// miss on a block still loading started the window again from one block,
// and such a reader got one block a load.)
func TestColdReadaheadGrowsToCap(t *testing.T) {
	const perPartition, size = 16 << 10, 1000
	n, store := restartFromObjects(t, oneObjectConfig(t), "ra-fast", 1, perPartition, size, 50*time.Millisecond)
	consumeAll(t, n, "ra-fast", 1, perPartition, size)

	reads := readSizes(store.recorded())
	t.Logf("%d loads, bytes: %v", len(reads), reads)
	if len(reads) == 0 {
		t.Fatal("nothing was read from the store")
	}
	if reads[0] > 1<<20 {
		t.Errorf("first load %d bytes: the window starts at one block", reads[0])
	}
	largest := slices.Max(reads)
	// No load of the cold path may be larger, however far a reader runs
	// ahead.
	if largest > actors.ReadaheadMaxBytes {
		t.Errorf("a load of %d bytes: the cap is %d", largest, actors.ReadaheadMaxBytes)
	}
	// A block holds whole batches, here of almost 1 MB each, so a 2 MiB
	// window holds two blocks; only a window at the cap loads more.
	if largest <= 2<<20 {
		t.Errorf("largest load %d bytes: the window never reached the cap", largest)
	}
}

// TestColdReadaheadHidesLatency reads 16 MiB of 512 KiB blocks back at about
// 4 MiB/s from a store that takes 150 ms a read, longer than the reader takes
// for one block. Each miss doubles the window, and the next window is loaded
// while half of the last is unread, so once half a window lasts the reader
// longer than a load takes, the reader stops missing: a few misses while the
// window grows, then none. (Measured: 3 misses; 8 with the next window
// loaded only at the last block; 65 with the window started again on each
// miss, as before session 10.)
func TestColdReadaheadHidesLatency(t *testing.T) {
	const perPartition, size = 16 << 10, 1000
	const rate = 4 << 20 // bytes a second
	n, store := restartFromObjects(t, oneObjectConfig(t), "ra-paced", 1, perPartition, size, 150*time.Millisecond, kgo.ProducerBatchMaxBytes(64<<10))

	cl := newClient(t, n, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"ra-paced": {0: kgo.NewOffset().At(0)}}),
		kgo.FetchMaxPartitionBytes(256<<10))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	next := 0
	for next < perPartition {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", next, perPartition, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got := 0
		fs.EachRecord(func(r *kgo.Record) {
			if want := testRecord("ra-paced", 0, next, size); r.Offset != int64(next) || !bytes.Equal(r.Value, want.Value) {
				t.Fatalf("offset %d: want record %d", r.Offset, next)
			}
			next++
			got += len(r.Value)
		})
		time.Sleep(time.Duration(got) * time.Second / rate)
	}
	misses := nodeMetric(t, n, "floe_block_cache_misses_total")
	reads := readSizes(store.recorded())
	t.Logf("%d loads, %.0f misses, bytes: %v", len(reads), misses, reads)
	// 512 KiB → 4 MiB is three doublings; a miss may also fall on a block
	// whose load is in flight, and is counted again when the fetch retries.
	if misses > 10 {
		t.Errorf("%.0f fetches missed the block cache: the readahead did not get ahead of the reader", misses)
	}
}

// TestCatchUpFromLogCacheMetered reads 16 MiB back that are all still in the
// log cache, from the first offset, with a cold-read budget of 4 MiB/s. The
// reader is catching up although no object is read, so the budget meters it
// (its rounds are sat out while the budget is in debt) until it is within
// half the cache of the end.
func TestCatchUpFromLogCacheMetered(t *testing.T) {
	cfg := testConfig(t)
	cfg.LogCacheBytes = 64 << 20
	cfg.UploadBytes = 64 << 20
	cfg.UploadInterval = time.Hour
	cfg.ColdReadBytesPerSecond = 4 << 20
	n := startNode(t, cfg)
	defer stopNode(t, n)
	const perPartition, size = 16 << 10, 1000
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopic(t, cl, "behind", 1, nil)
	produceAll(t, cl, "behind", 1, perPartition, size)

	consumeAll(t, n, "behind", 1, perPartition, size)
	if reads := n.Broker().ColdReads(); reads != 0 {
		t.Fatalf("%d object reads: the data should all have come from the log cache", reads)
	}
	if throttled := nodeMetric(t, n, "floe_cold_read_throttled_total"); throttled == 0 {
		t.Fatal("no fetch was held back by the budget: the catch-up from the log cache was not metered")
	}
}

// TestColdReadsTakeWholeRuns reads one of two partitions back from objects
// that hold about 1 MiB of each: a run of adjacent blocks per partition
// and object. A readahead window that would end inside a run stops before
// it, so once the window holds a run, each run is read with one request:
// a few more reads than objects while the window grows, no more.
func TestColdReadsTakeWholeRuns(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 2 << 20
	cfg.UploadInterval = time.Hour
	cfg.CompactionInterval = time.Hour // compaction would merge the runs
	const perPartition, size = 32 << 10, 1000
	n, store := restartFromObjects(t, cfg, "runs", 2, perPartition, size, 20*time.Millisecond, kgo.ProducerBatchMaxBytes(64<<10))
	consumeAll(t, n, "runs", 1, perPartition, size) // partition 0 only

	spans := store.recorded()
	objects := map[string]bool{}
	for _, sp := range spans {
		objects[sp.key] = true
	}
	t.Logf("%d reads from %d objects: %v", len(spans), len(objects), spans)
	if len(objects) < 16 {
		t.Fatalf("reads from %d objects: the test needs more", len(objects))
	}
	if len(spans) > len(objects)+3 {
		t.Errorf("%d reads from %d objects: runs were read in pieces", len(spans), len(objects))
	}
}

// TestColdReadsRunOnNicedThreads reads a partition back from objects with
// --cold-read-nice 7: every object read for it must come from a thread at
// nice 7 (the test's own threads are at 0; see
// TestNicedDispatcherRunsActivationsOnNicedThreads), and once the node is
// shut down no thread may be left at 7.
func TestColdReadsRunOnNicedThreads(t *testing.T) {
	// Registered first, so it runs after the node's own clean-up stops it.
	t.Cleanup(func() { waitNoThreadsAt(t, 7, "after the node shut down") })
	cfg := oneObjectConfig(t)
	cfg.ColdReadNice = 7
	const perPartition, size = 2 << 10, 1000
	n, store := restartFromObjects(t, cfg, "niced", 1, perPartition, size, 0)
	consumeAll(t, n, "niced", 1, perPartition, size)
	got := store.byNice()
	t.Logf("reads by their thread's nice value: %v", got)
	if len(got) != 1 || got[7] == 0 {
		t.Errorf("reads by their thread's nice value %v; want all at 7", got)
	}
}
