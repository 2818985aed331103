package meta

import (
	"errors"
	"reflect"
	"testing"
)

func TestProducerStatesNewestWins(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("t", 2, nil))
	batches := [][]ProducerState{
		{
			{Stream: 1, ProducerID: 1000, Epoch: 0, FirstSeq: 0, LastSeq: 4, BaseOffset: 0, LastOffset: 4},
			{Stream: 2, ProducerID: 1000, Epoch: 0, FirstSeq: 0, LastSeq: 0, BaseOffset: 0, LastOffset: 0},
		},
		{
			// Older than what is stored for (1, 1000): ignored.
			{Stream: 1, ProducerID: 1000, Epoch: 0, FirstSeq: 0, LastSeq: 2, BaseOffset: 0, LastOffset: 2},
			// Newer (a new epoch resets sequences, offsets still grow).
			{Stream: 2, ProducerID: 1000, Epoch: 1, FirstSeq: 0, LastSeq: 1, BaseOffset: 7, LastOffset: 8},
			{Stream: 1, ProducerID: 1001, Epoch: 3, FirstSeq: 10, LastSeq: 11, BaseOffset: 5, LastOffset: 6},
		},
		{
			// Two states of one producer in one upload: the newest wins
			// whatever the order.
			{Stream: 1, ProducerID: 1001, Epoch: 3, FirstSeq: 14, LastSeq: 15, BaseOffset: 12, LastOffset: 13},
			{Stream: 1, ProducerID: 1001, Epoch: 3, FirstSeq: 12, LastSeq: 13, BaseOffset: 9, LastOffset: 10},
		},
	}
	for _, producers := range batches {
		if err := store.CommitUpload(Upload{Producers: producers}); err != nil {
			t.Fatal(err)
		}
	}
	want := []ProducerState{
		{Stream: 1, ProducerID: 1000, Epoch: 0, FirstSeq: 0, LastSeq: 4, BaseOffset: 0, LastOffset: 4},
		{Stream: 1, ProducerID: 1001, Epoch: 3, FirstSeq: 14, LastSeq: 15, BaseOffset: 12, LastOffset: 13},
		{Stream: 2, ProducerID: 1000, Epoch: 1, FirstSeq: 0, LastSeq: 1, BaseOffset: 7, LastOffset: 8},
	}
	if states := must[[]ProducerState](t)(store.ProducerStates()); !reflect.DeepEqual(states, want) {
		t.Fatalf("ProducerStates =\n%+v\nwant\n%+v", states, want)
	}
}

func TestAllocateProducerIDs(t *testing.T) {
	store, path := openStore(t)
	steps := []struct{ n, want int64 }{{1, 1000}, {10, 1001}, {1000, 1011}}
	for _, step := range steps {
		if first := must[int64](t)(store.AllocateProducerIDs(step.n)); first != step.want {
			t.Fatalf("AllocateProducerIDs(%d) = %d, want %d", step.n, first, step.want)
		}
	}
	for _, n := range []int64{0, -1, maxProducerIDBlock + 1} {
		if _, err := store.AllocateProducerIDs(n); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("AllocateProducerIDs(%d) error = %v, want ErrInvalidArgument", n, err)
		}
	}
	store = reopen(t, store, path)
	if first := must[int64](t)(store.AllocateProducerIDs(1)); first != 2011 {
		t.Fatalf("AllocateProducerIDs after reopen = %d, want 2011", first)
	}
}

// An expired producer's state is deleted unless it wrote again since (a
// stored LastOffset past the one it was judged expired at); other streams
// and producers are untouched; unknown ids are no error.
func TestForgetProducers(t *testing.T) {
	store, _ := openStore(t)
	must[Topic](t)(store.CreateTopic("t", 2, nil))
	states := []ProducerState{
		{Stream: 1, ProducerID: 1000, LastOffset: 4},
		{Stream: 1, ProducerID: 1001, LastOffset: 9}, // wrote again after expiry at 6
		{Stream: 1, ProducerID: 1002, LastOffset: 3},
		{Stream: 2, ProducerID: 1000, LastOffset: 4},
	}
	if err := store.CommitUpload(Upload{Producers: states}); err != nil {
		t.Fatal(err)
	}
	if err := store.ForgetProducers(1, map[int64]int64{1000: 4, 1001: 6, 1999: 1}); err != nil {
		t.Fatal(err)
	}
	want := []ProducerState{states[1], states[2], states[3]}
	if got := must[[]ProducerState](t)(store.ProducerStates()); !reflect.DeepEqual(got, want) {
		t.Fatalf("after forgetting:\n%+v\nwant\n%+v", got, want)
	}
}
