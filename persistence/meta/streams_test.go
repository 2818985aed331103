package meta

import (
	"errors"
	"maps"
	"testing"
)

func TestLogStartOffsets(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("t", 3, nil))
	if offsets := must[map[uint64]int64](t)(store.LogStartOffsets()); len(offsets) != 0 {
		t.Fatalf("LogStartOffsets of a new store = %v, want empty", offsets)
	}
	steps := []struct {
		stream uint64
		offset int64
	}{{1, 100}, {2, 5}, {1, 50}, {1, 100}, {1, 150}}
	for _, step := range steps {
		if err := store.SetLogStartOffset(step.stream, step.offset); err != nil {
			t.Fatal(err)
		}
	}
	// Stream 1 only moved forward: 100, (50 ignored), 150.
	want := map[uint64]int64{1: 150, 2: 5}
	if offsets := must[map[uint64]int64](t)(store.LogStartOffsets()); !maps.Equal(offsets, want) {
		t.Fatalf("LogStartOffsets = %v, want %v", offsets, want)
	}
	if err := store.SetLogStartOffset(4, 1); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("unallocated stream: error = %v, want ErrUnknownStream", err)
	}
	if err := store.SetLogStartOffset(0, 1); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("stream 0: error = %v, want ErrUnknownStream", err)
	}
	if err := store.SetLogStartOffset(3, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative offset: error = %v, want ErrInvalidArgument", err)
	}
}

func TestDeletedStreamLosesItsState(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("gone", 2, nil))
	must[Topic](t)(store.CreateTopic("kept", 1, nil))
	for stream := uint64(1); stream <= 3; stream++ {
		if err := store.SetLogStartOffset(stream, 10); err != nil {
			t.Fatal(err)
		}
	}
	producers := []ProducerState{
		{Stream: 1, ProducerID: 1000, LastOffset: 5},
		{Stream: 2, ProducerID: 1000, LastOffset: 5},
		{Stream: 2, ProducerID: 1001, LastOffset: 6},
		{Stream: 3, ProducerID: 1000, LastOffset: 7},
	}
	if err := store.CommitUpload(Upload{Producers: producers}); err != nil {
		t.Fatal(err)
	}
	must[Topic](t)(store.DeleteTopic("gone"))

	if offsets := must[map[uint64]int64](t)(store.LogStartOffsets()); !maps.Equal(offsets, map[uint64]int64{3: 10}) {
		t.Fatalf("LogStartOffsets after delete = %v, want only stream 3", offsets)
	}
	if states := must[[]ProducerState](t)(store.ProducerStates()); len(states) != 1 || states[0].Stream != 3 {
		t.Fatalf("ProducerStates after delete = %+v, want only stream 3's", states)
	}
	// Late writers for the deleted streams (a retention pass, an upload in
	// flight) must not bring state back.
	if err := store.SetLogStartOffset(1, 20); err != nil {
		t.Fatalf("SetLogStartOffset on a deleted stream = %v, want a no-op", err)
	}
	if err := store.CommitUpload(Upload{Producers: producers[:1]}); err != nil {
		t.Fatal(err)
	}
	if offsets := must[map[uint64]int64](t)(store.LogStartOffsets()); len(offsets) != 1 {
		t.Fatalf("LogStartOffsets = %v: a deleted stream came back", offsets)
	}
	if states := must[[]ProducerState](t)(store.ProducerStates()); len(states) != 1 {
		t.Fatalf("ProducerStates = %+v: a deleted stream came back", states)
	}
}
