package meta

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestObjectCodecRoundTrip(t *testing.T) {
	objects := []Object{
		{ID: 1, Key: "k", Created: time.Unix(0, 1).UTC(), Entries: []ObjectEntry{}},
		{
			ID: ^uint64(0), Key: "ffff/obj/18446744073709551615", Size: 1 << 40, Created: time.Unix(1_700_000_000, 999).UTC(),
			Entries: []ObjectEntry{{Stream: ^uint64(0), FirstOffset: 1, EndOffset: 1 << 62, RecordCount: 7, MaxTimestamp: -1, Position: 0, Size: 1 << 40}},
		},
	}
	for _, object := range objects {
		value, err := encodeObject(object)
		if err != nil {
			t.Fatal(err)
		}
		decoded, err := decodeObject(value)
		if err != nil || !reflect.DeepEqual(decoded, object) {
			t.Fatalf("decodeObject(encodeObject(%+v)) = %+v, %v", object, decoded, err)
		}
		for cut := range value {
			if _, err := decodeObject(value[:cut]); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("object record cut to %d bytes: error = %v, want ErrCorrupt", cut, err)
			}
		}
		if _, err := decodeObject(append(value, 0)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("object record with a trailing byte: error = %v, want ErrCorrupt", err)
		}
	}
}

func TestProducerCodecRoundTrip(t *testing.T) {
	state := ProducerState{Stream: 7, ProducerID: 1 << 40, Epoch: -1, FirstSeq: -5, LastSeq: 1<<31 - 1, BaseOffset: 3, LastOffset: 1 << 50, AppendTime: 1_700_000_000_123}
	value := encodeProducer(state)
	if len(value) != producerRecordSize {
		t.Fatalf("producer record of %d bytes, want %d", len(value), producerRecordSize)
	}
	decoded, err := decodeProducer(value)
	if err != nil || decoded != state {
		t.Fatalf("decodeProducer(encodeProducer(%+v)) = %+v, %v", state, decoded, err)
	}
	if _, err := decodeProducer(value[:len(value)-1]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short producer record: error = %v, want ErrCorrupt", err)
	}
	// A v1 record, written before append times were kept, reads with none.
	v1 := append([]byte{1}, value[1:len(value)-8]...)
	state.AppendTime = 0
	if decoded, err := decodeProducer(v1); err != nil || decoded != state {
		t.Fatalf("decodeProducer(v1 record) = %+v, %v; want %+v", decoded, err, state)
	}
	if _, err := decodeProducer(append(v1, 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("v1 producer record with a trailing byte: error = %v, want ErrCorrupt", err)
	}
	value[0] = 9
	if _, err := decodeProducer(value); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unknown producer record version: error = %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeObject: a damaged record must give an error, never a panic or a
// huge allocation.
func FuzzDecodeObject(f *testing.F) {
	value, _ := encodeObject(Object{ID: 3, Key: "a/b", Size: 10, Entries: []ObjectEntry{{Stream: 1, EndOffset: 1, Size: 10}}})
	f.Add(value)
	f.Add([]byte{objectRecordVersion})
	f.Fuzz(func(t *testing.T, value []byte) {
		object, err := decodeObject(value)
		if err != nil {
			return
		}
		again, err := encodeObject(object)
		if err != nil || string(again) != string(value) {
			t.Fatalf("accepted record does not re-encode to itself")
		}
	})
}
