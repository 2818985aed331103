package supervision

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/floe-io/floe/persistence/objstore"
)

// pacedStore records how compaction's writes and deletes reach the store.
// Uploads come with a nil pace (the test config's UploadSpread is 0) and go
// by unrecorded; only compaction puts with a pace.
type pacedStore struct {
	objstore.Store
	mu      sync.Mutex
	puts    []pacedPut  // guarded by mu
	deletes []time.Time // guarded by mu
}

// pacedPut is one PutPaced: the object's size and the pieces the pacer was
// asked for.
type pacedPut struct {
	size   int
	pieces []int
}

func (s *pacedStore) PutPaced(ctx context.Context, key string, data []byte, pace objstore.Pacer) error {
	if pace == nil {
		return objstore.PutPaced(ctx, s.Store, key, data, nil)
	}
	var pieces []int
	recorded := func(ctx context.Context, n int) error {
		pieces = append(pieces, n) // one put's pieces come one after another
		return pace(ctx, n)
	}
	err := objstore.PutPaced(ctx, s.Store, key, data, recorded)
	s.mu.Lock()
	s.puts = append(s.puts, pacedPut{len(data), pieces})
	s.mu.Unlock()
	return err
}

func (s *pacedStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deletes = append(s.deletes, time.Now())
	s.mu.Unlock()
	return s.Store.Delete(ctx, key)
}

func (s *pacedStore) recorded() ([]pacedPut, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]pacedPut(nil), s.puts...), append([]time.Time(nil), s.deletes...)
}

// smallObjectsConfig is a node whose uploads make many small objects for
// compaction, which runs only when the test asks, and the local store its
// objects go to; the caller wraps the store and sets cfg.Store.
func smallObjectsConfig(t *testing.T) (Config, *objstore.LocalDir) {
	cfg := testConfig(t)
	local, err := objstore.NewLocalDir(filepath.Join(cfg.DataDir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.UploadBytes = 64 << 10
	cfg.UploadInterval = 50 * time.Millisecond
	cfg.CompactionMinAge = time.Millisecond
	cfg.CompactionInterval = time.Hour
	return cfg, local
}

// pacedConfig is smallObjectsConfig behind a pacedStore.
func pacedConfig(t *testing.T) (Config, *pacedStore) {
	cfg, local := smallObjectsConfig(t)
	store := &pacedStore{Store: local}
	cfg.Store = store
	return cfg, store
}

// produceObjects produces rounds times perRound records of 1 KiB to each of
// partitions partitions, waiting for an upload after each.
func produceObjects(t *testing.T, n *Node, cl *kgo.Client, topic string, partitions int32, rounds, perRound int) {
	t.Helper()
	for r := 0; r < rounds; r++ {
		uploaded := metricValue(t, n, "floe_upload_bytes_total")
		produceRange(t, cl, topic, partitions, r*perRound, (r+1)*perRound, 1024)
		eventually(t, "upload", func() bool { return metricValue(t, n, "floe_upload_bytes_total") > uploaded })
	}
	eventually(t, "everything uploaded", func() bool { return metricValue(t, n, "floe_wal_used_bytes") == 0 })
}

// Compaction writes a merged object through the pacer, every byte of it,
// and deletes the objects it replaced no faster than the delete rate.
func TestCompactionPacesWritesAndDeletes(t *testing.T) {
	cfg, store := pacedConfig(t)
	cfg.CompactionSmallObjectBytes = 1 << 20
	cfg.CompactionOutputBytes = 8 << 20 // one merged object
	cfg.ObjectDeletesPerSecond = 10
	n := startNode(t, cfg)
	defer stopNode(t, n)
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	const partitions, rounds, perRound = 4, 8, 100
	createTopic(t, cl, "paced", partitions, nil)
	produceObjects(t, n, cl, "paced", partitions, rounds, perRound)
	before := len(storeKeys(t, store.Store))
	if before < rounds {
		t.Fatalf("only %d objects to compact", before)
	}

	n.Broker().SetCompactionInterval(time.Hour) // one round now
	eventually(t, "a round", func() bool { return metricValue(t, n, "floe_compaction_bytes_total") > 0 })
	eventually(t, "the small objects deleted", func() bool { return len(storeKeys(t, store.Store)) <= 2 })
	puts, deletes := store.recorded()
	if len(puts) == 0 {
		t.Fatal("no merged object was put through PutPaced")
	}
	for _, p := range puts {
		sum := 0
		for _, piece := range p.pieces {
			sum += piece
		}
		if sum != p.size || len(p.pieces) < p.size>>20 {
			t.Errorf("a merged object of %d bytes waited for %d bytes in pieces %v", p.size, sum, p.pieces)
		}
	}
	// At 10 a second each delete comes at least 100 ms after the one
	// before; the first may have waited for its turn a little, hence one
	// interval of slack.
	if len(deletes) < before-2 {
		t.Fatalf("%d deletes for %d objects", len(deletes), before)
	}
	least := time.Duration(len(deletes)-2) * 100 * time.Millisecond
	if took := deletes[len(deletes)-1].Sub(deletes[0]); took < least {
		t.Fatalf("%d deletes took %v, at 10 a second they take at least %v", len(deletes), took, least)
	}
	consumeAll(t, n, "paced", partitions, rounds*perRound, 1024)
}

// One round takes at most four merged objects' worth of small objects; the
// rest go in further rounds straight after it, not an interval later.
func TestCompactionContinuesWhileSmallObjectsRemain(t *testing.T) {
	cfg, store := pacedConfig(t)
	cfg.CompactionSmallObjectBytes = 64 << 10
	cfg.CompactionOutputBytes = 64 << 10 // a round takes 256 KiB of small objects
	n := startNode(t, cfg)
	defer stopNode(t, n)
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	const partitions, rounds, perRound = 4, 24, 8 // objects of about 32 KiB
	createTopic(t, cl, "many", partitions, nil)
	produceObjects(t, n, cl, "many", partitions, rounds, perRound)
	if small := smallObjects(t, store.Store, cfg.CompactionSmallObjectBytes); small < rounds {
		t.Fatalf("only %d small objects", small)
	}

	n.Broker().SetCompactionInterval(time.Hour) // one round now, the next tick in an hour
	eventually(t, "every small object merged", func() bool {
		return smallObjects(t, store.Store, cfg.CompactionSmallObjectBytes) <= 1
	})
	consumeAll(t, n, "many", partitions, rounds*perRound, 1024)
}

// SetCompactionInterval starts the interval over: rounds follow at the new
// interval, not after the old one has run out.
func TestSetCompactionIntervalRearms(t *testing.T) {
	cfg, store := pacedConfig(t)
	cfg.CompactionSmallObjectBytes = 1 << 20
	n := startNode(t, cfg)
	defer stopNode(t, n)
	n.Broker().SetCompactionInterval(100 * time.Millisecond) // nothing to compact yet
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.NoCompression()))
	createTopic(t, cl, "later", 2, nil)
	produceObjects(t, n, cl, "later", 2, 4, 50)
	eventually(t, "a round on the new interval", func() bool { return metricValue(t, n, "floe_compaction_bytes_total") > 0 })
	eventually(t, "the small objects merged", func() bool { return smallObjects(t, store.Store, cfg.CompactionSmallObjectBytes) <= 1 })
}

// smallObjects counts the objects below size.
func smallObjects(t *testing.T, store objstore.Store, size int64) int {
	t.Helper()
	count := 0
	for _, key := range storeKeys(t, store) {
		got, err := store.Head(context.Background(), key)
		if err != nil {
			continue // deleted since listed
		}
		if got < size {
			count++
		}
	}
	return count
}
