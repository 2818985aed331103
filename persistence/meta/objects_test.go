package meta

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func sampleObject(t *testing.T, store *Store, streams ...uint64) Object {
	t.Helper()
	id := must[uint64](t)(store.NextObjectID())
	object := Object{ID: id, Key: "abcd/obj/" + string(rune('0'+id)), Size: 1000, Created: time.Unix(1_700_000_000, 123).UTC()}
	var position int64
	for i, stream := range streams {
		object.Entries = append(object.Entries, ObjectEntry{
			Stream: stream, FirstOffset: int64(i) * 10, EndOffset: int64(i)*10 + 10,
			RecordCount: 10, MaxTimestamp: 1_700_000_000_000, Position: position, Size: 100,
		})
		position += 100
	}
	return object
}

func TestNextObjectID(t *testing.T) {
	store, path := openStore(t)
	for want := uint64(1); want <= 3; want++ {
		if id := must[uint64](t)(store.NextObjectID()); id != want {
			t.Fatalf("NextObjectID = %d, want %d", id, want)
		}
	}
	store = reopen(t, store, path)
	if id := must[uint64](t)(store.NextObjectID()); id != 4 {
		t.Fatalf("NextObjectID after reopen = %d, want 4", id)
	}
}

func TestCommitUploadAndObjects(t *testing.T) {
	store, _ := openStore(t)
	first := sampleObject(t, store, 1, 1, 2)
	second := sampleObject(t, store, 3)
	// Commit out of id order: Objects still lists by id.
	if err := store.CommitUpload(Upload{Object: second}); err != nil {
		t.Fatal(err)
	}
	if err := store.CommitUpload(Upload{Object: first, WALTrim: map[int]int64{0: 4096}}); err != nil {
		t.Fatal(err)
	}
	objects := must[[]Object](t)(store.Objects())
	if !reflect.DeepEqual(objects, []Object{first, second}) {
		t.Fatalf("Objects =\n%+v\nwant\n%+v", objects, []Object{first, second})
	}
	if err := store.CommitUpload(Upload{Object: first}); !errors.Is(err, ErrObjectExists) {
		t.Fatalf("committing object %d twice: error = %v, want ErrObjectExists", first.ID, err)
	}
	if err := store.DeleteObjects([]uint64{first.ID, 999}); err != nil {
		t.Fatal(err)
	}
	if objects := must[[]Object](t)(store.Objects()); len(objects) != 1 || objects[0].ID != second.ID {
		t.Fatalf("Objects after delete = %+v, want only %d", objects, second.ID)
	}
}

func TestCommitUploadFillsCreated(t *testing.T) {
	store, _ := openStore(t)
	object := sampleObject(t, store, 1)
	object.Created = time.Time{}
	before := time.Now()
	if err := store.CommitUpload(Upload{Object: object}); err != nil {
		t.Fatal(err)
	}
	if created := must[[]Object](t)(store.Objects())[0].Created; created.Before(before.Truncate(time.Second)) {
		t.Fatalf("Created = %v, want about now", created)
	}
}

func TestCommitUploadRejects(t *testing.T) {
	store, _ := openStore(t)
	valid := sampleObject(t, store, 1)
	tests := map[string]func(u *Upload){
		"unallocated id":     func(u *Upload) { u.Object.ID = 50 },
		"empty key":          func(u *Upload) { u.Object.Key = "" },
		"entry past the end": func(u *Upload) { u.Object.Entries[0].Position = 950 },
		"empty offset range": func(u *Upload) { u.Object.Entries[0].EndOffset = u.Object.Entries[0].FirstOffset },
		"negative shard":     func(u *Upload) { u.WALTrim = map[int]int64{-1: 5} },
		"negative trim":      func(u *Upload) { u.WALTrim = map[int]int64{0: -5} },
		"negative producer":  func(u *Upload) { u.Producers = []ProducerState{{Stream: 1, ProducerID: -1}} },
		"backwards producer": func(u *Upload) { u.Producers = []ProducerState{{Stream: 1, BaseOffset: 5, LastOffset: 4}} },
	}
	for name, corrupt := range tests {
		upload := Upload{Object: valid}
		upload.Object.Entries = append([]ObjectEntry(nil), valid.Entries...)
		corrupt(&upload)
		if err := store.CommitUpload(upload); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: error = %v, want ErrInvalidArgument", name, err)
		}
	}
	if objects := must[[]Object](t)(store.Objects()); len(objects) != 0 {
		t.Fatalf("rejected uploads left objects: %+v", objects)
	}
}

func TestWALTrimOnlyMovesForward(t *testing.T) {
	store, _ := openStore(t)
	if position := must[int64](t)(store.WALTrim(0)); position != 0 {
		t.Fatalf("WALTrim of a new store = %d, want 0", position)
	}
	uploads := []map[int]int64{
		{0: 100, 1: 50},
		{0: 80, 1: 70},  // shard 0 would move back: ignored
		{2: 10},         // shards not mentioned keep their point
		{0: 100, 1: 70}, // equal: no change
	}
	for _, trim := range uploads {
		if err := store.CommitUpload(Upload{WALTrim: trim}); err != nil {
			t.Fatal(err)
		}
	}
	for shard, want := range map[int]int64{0: 100, 1: 70, 2: 10, 3: 0} {
		if position := must[int64](t)(store.WALTrim(shard)); position != want {
			t.Errorf("WALTrim(%d) = %d, want %d", shard, position, want)
		}
	}
	if _, err := store.WALTrim(-1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("WALTrim(-1) error = %v, want ErrInvalidArgument", err)
	}
}

func TestCommitUploadIsAtomic(t *testing.T) {
	store, _ := openStore(t)
	committed := sampleObject(t, store, 1)
	if err := store.CommitUpload(Upload{Object: committed, WALTrim: map[int]int64{0: 100}}); err != nil {
		t.Fatal(err)
	}
	// The second upload fails at the object (already committed), after
	// validation passed: its trim point and producer state must not land.
	failing := Upload{
		Object:    committed,
		WALTrim:   map[int]int64{0: 500},
		Producers: []ProducerState{{Stream: 1, ProducerID: 1000, LastOffset: 9}},
	}
	if err := store.CommitUpload(failing); !errors.Is(err, ErrObjectExists) {
		t.Fatalf("CommitUpload error = %v, want ErrObjectExists", err)
	}
	if position := must[int64](t)(store.WALTrim(0)); position != 100 {
		t.Fatalf("WALTrim after a failed commit = %d, want 100", position)
	}
	if states := must[[]ProducerState](t)(store.ProducerStates()); len(states) != 0 {
		t.Fatalf("ProducerStates after a failed commit = %+v, want none", states)
	}
}
