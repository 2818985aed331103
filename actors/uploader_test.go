package actors

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objstore"
	"github.com/floe-io/floe/persistence/wal"
	"github.com/floe-io/floe/wire"
)

// An upload is spread over UploadSpread of the time its data took to
// gather, at most maxUploadSpread, less the one burst that goes at once.
// The bubble's clock makes the times exact.
func TestUploadPaceSpreadsOverGathering(t *testing.T) {
	for _, test := range []struct {
		gathered time.Duration
		want     time.Duration
	}{
		{gathered: time.Second, want: 375 * time.Millisecond},      // over 0.5 s: 8 MiB/s, 3 MiB after the burst
		{gathered: 4 * time.Second, want: 1500 * time.Millisecond}, // over 2 s
		{gathered: time.Minute, want: 1500 * time.Millisecond},     // over maxUploadSpread, not 30 s
	} {
		synctest.Test(t, func(t *testing.T) {
			u := &uploader{b: &Broker{cfg: Config{UploadSpread: 0.5}}}
			const size = 4 << 20
			pace := u.uploadPace(size, test.gathered)
			if pace == nil {
				t.Fatalf("gathered %v: no pace", test.gathered)
			}
			start := time.Now()
			for range size / (256 << 10) { // as an S3 body asks
				if err := pace(context.Background(), 256<<10); err != nil {
					t.Fatal(err)
				}
			}
			if took := time.Since(start); took != test.want {
				t.Fatalf("gathered %v: 4 MiB took %v, want %v", test.gathered, took, test.want)
			}
		})
	}
}

// Some uploads go at once: with spreading off, an empty object, a retry
// after a failure, and a WAL half full.
func TestUploadPaceAtOnce(t *testing.T) {
	w := openTestWAL(t)
	b := &Broker{cfg: Config{UploadSpread: 0.5}, deps: Deps{WALs: []*wal.WAL{w}}}
	u := &uploader{b: b}
	if u.uploadPace(1<<20, time.Second) == nil {
		t.Fatal("an empty WAL: no pace, want one")
	}
	if u.uploadPace(0, time.Second) != nil {
		t.Error("an empty object is paced")
	}
	b.cfg.UploadSpread = 0
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Error("paced with UploadSpread 0")
	}
	b.cfg.UploadSpread = 0.5
	u.backoff = 100 * time.Millisecond
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Error("a retry after a failure is paced")
	}
	u.backoff = 0
	for w.Used() < w.Capacity()/2 {
		if _, err := w.Append([]wal.Entry{{Stream: 1, Data: make([]byte, 200<<10)}}); err != nil {
			t.Fatal(err)
		}
	}
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Errorf("paced with the WAL %.0f%% full", 100*b.walFullness())
	}
}

// openTestWAL opens an empty WAL of 1 MiB, replayed and ready to append.
func openTestWAL(t *testing.T) *wal.WAL {
	t.Helper()
	w, err := wal.Open(wal.Options{Path: filepath.Join(t.TempDir(), "wal.log"), CapacityBytes: 1 << 20}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Replay(func(wal.Position, wal.Entry) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return w
}

// paceRecorder is a store that only records whether each put was paced.
type paceRecorder struct {
	objstore.Store
	paced []bool
}

func (s *paceRecorder) Put(ctx context.Context, key string, data []byte) error {
	return s.PutPaced(ctx, key, data, nil)
}

func (s *paceRecorder) PutPaced(_ context.Context, _ string, _ []byte, pace objstore.Pacer) error {
	s.paced = append(s.paced, pace != nil)
	return nil
}

// upload hands the store its pace: an upload from try is paced, the one
// UploadNow asks for (shutdown) is not.
func TestUploadPassesItsPace(t *testing.T) {
	store := &paceRecorder{}
	metaStore, err := meta.Open(filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = metaStore.Close() })
	b := NewBroker(Config{UploadSpread: 0.5, BlockCacheBytes: 1 << 20},
		Deps{Store: store, Meta: metaStore, WALs: []*wal.WAL{openTestWAL(t)}, Actors: &tickCounter{}})
	b.shards = []*actor.PID{nil} // the trim notice goes nowhere
	u := &uploader{b: b}
	for offset, paced := range []bool{true, false} {
		batch := make([]byte, 4096) // framed as a batch: base offset, then the length of the rest
		binary.BigEndian.PutUint64(batch, uint64(offset))
		binary.BigEndian.PutUint32(batch[8:], uint32(len(batch)-12))
		u.pending = []*walWrittenMsg{{items: []*walAppendMsg{{
			ref:    &partitionRef{stream: 1},
			entry:  wal.Entry{Stream: 1, BaseOffset: int64(offset), Data: batch},
			header: wire.BatchHeader{BaseOffset: int64(offset), ProducerID: -1},
		}}}}
		u.oldest = time.Now().Add(-time.Second)
		if err := u.upload(paced); err != nil {
			t.Fatalf("upload(%v): %v", paced, err)
		}
	}
	if want := []bool{true, false}; !slices.Equal(store.paced, want) {
		t.Fatalf("puts paced %v, want %v", store.paced, want)
	}
}
