package meta

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestReopenKeepsEverything(t *testing.T) {
	store, path := openStore(t)
	must[Topic](t)(store.CreateTopic("kept", 2, map[string]string{"cleanup.policy": "delete"}))
	must[Topic](t)(store.CreateTopic("gone", 1, nil))
	must[Topic](t)(store.DeleteTopic("gone"))
	must[Topic](t)(store.AddPartitions("kept", 3))
	kept := must[Topic](t)(store.AlterTopicConfigs("kept", map[string]string{"retention.ms": "1000"}, nil))
	if err := store.SetLogStartOffset(1, 42); err != nil {
		t.Fatal(err)
	}
	object := sampleObject(t, store, 1, 2, 4)
	producer := ProducerState{Stream: 2, ProducerID: 1000, Epoch: 2, FirstSeq: 5, LastSeq: 9, BaseOffset: 20, LastOffset: 24}
	if err := store.CommitUpload(Upload{Object: object, WALTrim: map[int]int64{0: 8192, 3: 4096}, Producers: []ProducerState{producer}}); err != nil {
		t.Fatal(err)
	}
	must[int64](t)(store.AllocateProducerIDs(5))

	store = reopen(t, store, path)
	if topics := must[[]Topic](t)(store.Topics()); len(topics) != 1 || !reflect.DeepEqual(topics[0], kept) {
		t.Errorf("Topics after reopen = %+v, want [%+v]", topics, kept)
	}
	if deleted := must[map[uint64]bool](t)(store.DeletedStreams()); !maps.Equal(deleted, map[uint64]bool{3: true}) {
		t.Errorf("DeletedStreams after reopen = %v, want {3}", deleted)
	}
	if offsets := must[map[uint64]int64](t)(store.LogStartOffsets()); !maps.Equal(offsets, map[uint64]int64{1: 42}) {
		t.Errorf("LogStartOffsets after reopen = %v", offsets)
	}
	if objects := must[[]Object](t)(store.Objects()); !reflect.DeepEqual(objects, []Object{object}) {
		t.Errorf("Objects after reopen = %+v, want [%+v]", objects, object)
	}
	for shard, want := range map[int]int64{0: 8192, 3: 4096} {
		if position := must[int64](t)(store.WALTrim(shard)); position != want {
			t.Errorf("WALTrim(%d) after reopen = %d, want %d", shard, position, want)
		}
	}
	if states := must[[]ProducerState](t)(store.ProducerStates()); !reflect.DeepEqual(states, []ProducerState{producer}) {
		t.Errorf("ProducerStates after reopen = %+v", states)
	}
	// Counters continue where they were.
	if first := must[int64](t)(store.AllocateProducerIDs(1)); first != 1005 {
		t.Errorf("AllocateProducerIDs after reopen = %d, want 1005", first)
	}
	if id := must[uint64](t)(store.NextObjectID()); id != object.ID+1 {
		t.Errorf("NextObjectID after reopen = %d, want %d", id, object.ID+1)
	}
	if topic := must[Topic](t)(store.CreateTopic("new", 1, nil)); topic.Partitions[0].Stream != 5 {
		t.Errorf("stream of a topic created after reopen = %d, want 5", topic.Partitions[0].Stream)
	}
}

func TestOpenRejectsOtherSchemaVersion(t *testing.T) {
	store, path := openStore(t)
	store.Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketSchema).Put([]byte(keySchemaVersion), encodeUint64(schemaVersion+1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open of a newer schema: error = %v, want ErrCorrupt", err)
	}
}

func TestClosedStoreFails(t *testing.T) {
	store, _ := openStore(t)
	store.Close()
	if _, err := store.Topics(); err == nil {
		t.Fatal("Topics on a closed store succeeded")
	}
	if _, err := store.NextObjectID(); err == nil {
		t.Fatal("NextObjectID on a closed store succeeded")
	}
}

// TestConcurrentCallers runs writers of every kind against readers; under
// -race it checks the Store's sharing, and afterwards that no allocation was
// handed out twice.
func TestConcurrentCallers(t *testing.T) {
	store, _ := openStore(t)
	const workers, rounds = 4, 8
	var wait sync.WaitGroup
	var mu sync.Mutex
	var objectIDs []uint64
	var producerIDs []int64
	var streams []uint64
	errs := make(chan error, workers*rounds*8)
	for worker := range workers {
		wait.Go(func() {
			for round := range rounds {
				topic, err := store.CreateTopic(fmt.Sprintf("t-%d-%d", worker, round), 2, nil)
				if err != nil {
					errs <- err
					continue
				}
				id, err := store.NextObjectID()
				if err != nil {
					errs <- err
					continue
				}
				first, err := store.AllocateProducerIDs(3)
				if err != nil {
					errs <- err
					continue
				}
				object := Object{ID: id, Key: fmt.Sprint(id), Size: 10, Entries: []ObjectEntry{{Stream: topic.Partitions[0].Stream, FirstOffset: 0, EndOffset: 1, Position: 0, Size: 10}}}
				upload := Upload{
					Object:    object,
					WALTrim:   map[int]int64{worker % 2: int64(round)},
					Producers: []ProducerState{{Stream: topic.Partitions[1].Stream, ProducerID: first, LastOffset: int64(round)}},
				}
				if err := store.CommitUpload(upload); err != nil {
					errs <- err
				}
				if err := store.SetLogStartOffset(topic.Partitions[0].Stream, int64(round)); err != nil {
					errs <- err
				}
				mu.Lock()
				objectIDs = append(objectIDs, id)
				producerIDs = append(producerIDs, first, first+1, first+2)
				for _, partition := range topic.Partitions {
					streams = append(streams, partition.Stream)
				}
				mu.Unlock()
			}
		})
	}
	for range 2 {
		wait.Go(func() {
			for range rounds {
				if _, err := store.Topics(); err != nil {
					errs <- err
				}
				if _, err := store.Objects(); err != nil {
					errs <- err
				}
				if _, err := store.ProducerStates(); err != nil {
					errs <- err
				}
			}
		})
	}
	wait.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for name, count := range map[string]int{
		"object ids":   len(slices.Compact(slices.Sorted(slices.Values(objectIDs)))),
		"producer ids": len(slices.Compact(slices.Sorted(slices.Values(producerIDs)))),
		"streams":      len(slices.Compact(slices.Sorted(slices.Values(streams)))),
	} {
		want := map[string]int{"object ids": workers * rounds, "producer ids": 3 * workers * rounds, "streams": 2 * workers * rounds}[name]
		if count != want {
			t.Errorf("%d distinct %s, want %d: an id was handed out twice", count, name, want)
		}
	}
	if objects := must[[]Object](t)(store.Objects()); len(objects) != workers*rounds {
		t.Errorf("%d objects committed, want %d", len(objects), workers*rounds)
	}
	if position := must[int64](t)(store.WALTrim(0)); position != rounds-1 {
		t.Errorf("WALTrim(0) = %d, want %d", position, rounds-1)
	}
}
