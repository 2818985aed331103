package meta

import (
	"errors"
	"testing"
)

func TestReplaceObjects(t *testing.T) {
	s, _ := openStore(t)
	var ids []uint64
	for i := 0; i < 3; i++ {
		id, err := s.NextObjectID()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	small := func(id uint64, first int64) Object {
		return Object{ID: id, Key: "k", Size: 100, Entries: []ObjectEntry{{Stream: 1, FirstOffset: first, EndOffset: first + 10, Position: 0, Size: 100}}}
	}
	for i, id := range ids[:2] {
		if err := s.CommitUpload(Upload{Object: small(id, int64(i*10))}); err != nil {
			t.Fatal(err)
		}
	}
	merged := Object{ID: ids[2], Key: "m", Size: 200, Entries: []ObjectEntry{{Stream: 1, FirstOffset: 0, EndOffset: 20, Position: 0, Size: 200}}}
	if err := s.ReplaceObjects([]Object{merged}, ids[:2]); err != nil {
		t.Fatal(err)
	}
	objects, err := s.Objects()
	if err != nil || len(objects) != 1 || objects[0].ID != ids[2] || objects[0].Created.IsZero() {
		t.Fatalf("after replace: %+v %v", objects, err)
	}
	// A replayed replacement of committed ids fails whole, changing nothing.
	if err := s.ReplaceObjects([]Object{merged}, nil); !errors.Is(err, ErrObjectExists) {
		t.Fatalf("second replace: %v", err)
	}
	if err := s.ReplaceObjects([]Object{{ID: 999, Key: "x", Size: 1}}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("unallocated id: %v", err)
	}
}
