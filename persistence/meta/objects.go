package meta

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	counterObjects = "next_object"
	firstObjectID  = 1
)

// ObjectEntry says where one block of stream data lies in an object. It
// mirrors objformat.IndexEntry field for field; the caller converts, so that
// meta does not depend on the object format.
type ObjectEntry struct {
	Stream       uint64
	FirstOffset  int64
	EndOffset    int64 // exclusive: last offset + 1
	RecordCount  int64
	MaxTimestamp int64
	Position     int64
	Size         int64
}

// Object is one object in object storage and its index.
type Object struct {
	ID      uint64
	Key     string
	Size    int64
	Created time.Time
	Entries []ObjectEntry
}

// Upload is what one finished upload commits at once.
type Upload struct {
	// Object is the object uploaded; an Object with ID 0 means none (all the
	// WAL data to trim belonged to deleted streams) and only the trim points
	// and producer states are committed.
	Object Object
	// WALTrim maps a WAL shard to the position up to which its data is now
	// in objects.
	WALTrim map[int]int64
	// Producers are the newest producer states of the uploaded data.
	Producers []ProducerState
}

// NextObjectID allocates an object id. Ids are never reused, also when the
// upload that took one fails, so that a key written by a failed attempt can
// never be mistaken for a committed object.
func (s *Store) NextObjectID() (uint64, error) {
	var id uint64
	err := s.update("next object id", func(tx *bolt.Tx) error {
		var err error
		id, err = nextCounter(tx, counterObjects, firstObjectID, 1)
		return err
	})
	return id, err
}

// CommitUpload records an upload in one transaction: the object and its
// index entries, the WAL trim points (each only moved forward), and the
// producer states (for each stream and producer the one with the highest
// LastOffset wins). Producer states of deleted streams are dropped.
//
// Atomicity is the point: if the trim points could commit without the
// object, a crash in between would lose acknowledged data; if the object
// could commit without the trim points, replay would upload it twice.
func (s *Store) CommitUpload(u Upload) error {
	if err := validateUpload(u); err != nil {
		return err
	}
	object := u.Object
	if object.ID != 0 && object.Created.IsZero() {
		object.Created = time.Now().UTC().Round(0)
	}
	return s.update("commit upload", func(tx *bolt.Tx) error {
		if object.ID != 0 {
			if err := putObject(tx, object); err != nil {
				return err
			}
		}
		for shard, position := range u.WALTrim {
			if err := raiseTo(bucket(tx, bucketWALTrim), encodeUint64(uint64(shard)), position); err != nil {
				return err
			}
		}
		for _, state := range u.Producers {
			if err := putProducerIfNewer(tx, state); err != nil {
				return err
			}
		}
		return nil
	})
}

func validateUpload(u Upload) error {
	object := u.Object
	if object.ID != 0 {
		if object.Key == "" || object.Size < 0 {
			return fmt.Errorf("%w: object %d with key %q and size %d", ErrInvalidArgument, object.ID, object.Key, object.Size)
		}
		for i, entry := range object.Entries {
			if entry.FirstOffset >= entry.EndOffset || entry.Position < 0 || entry.Size <= 0 || entry.Position > object.Size-entry.Size {
				return fmt.Errorf("%w: object %d entry %d %+v does not fit an object of %d bytes", ErrInvalidArgument, object.ID, i, entry, object.Size)
			}
		}
	}
	for shard, position := range u.WALTrim {
		if shard < 0 || position < 0 {
			return fmt.Errorf("%w: WAL trim of shard %d to %d", ErrInvalidArgument, shard, position)
		}
	}
	for _, state := range u.Producers {
		if state.ProducerID < 0 || state.LastOffset < state.BaseOffset {
			return fmt.Errorf("%w: producer state %+v", ErrInvalidArgument, state)
		}
	}
	return nil
}

// putObject stores a new object; its id must have been allocated and not be
// committed yet.
func putObject(tx *bolt.Tx, object Object) error {
	next, err := peekCounter(tx, counterObjects, firstObjectID)
	if err != nil {
		return err
	}
	if object.ID >= next {
		return fmt.Errorf("%w: object id %d was never allocated", ErrInvalidArgument, object.ID)
	}
	objects := bucket(tx, bucketObjects)
	key := encodeUint64(object.ID)
	if objects.Get(key) != nil {
		return fmt.Errorf("%w: %d", ErrObjectExists, object.ID)
	}
	value, err := encodeObject(object)
	if err != nil {
		return err
	}
	return objects.Put(key, value)
}

// Objects returns every committed object that has not been deleted, by id.
func (s *Store) Objects() ([]Object, error) {
	objects := []Object{}
	err := s.view("list objects", func(tx *bolt.Tx) error {
		return bucket(tx, bucketObjects).ForEach(func(_, value []byte) error {
			object, err := decodeObject(value)
			if err != nil {
				return err
			}
			objects = append(objects, object)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return objects, nil // big-endian id keys: bbolt's order is id order
}

// DeleteObjects forgets the given objects; ids not present are ignored, so
// a retried deletion is harmless. Call it before deleting the objects from
// object storage: the reverse order would leave readers an index entry
// pointing at nothing.
func (s *Store) DeleteObjects(ids []uint64) error {
	return s.update("delete objects", func(tx *bolt.Tx) error {
		objects := bucket(tx, bucketObjects)
		for _, id := range ids {
			if err := objects.Delete(encodeUint64(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// WALTrim returns the trim point of a WAL shard: data before it is in
// objects. A shard never trimmed returns 0.
func (s *Store) WALTrim(shard int) (int64, error) {
	if shard < 0 {
		return 0, fmt.Errorf("%w: WAL shard %d", ErrInvalidArgument, shard)
	}
	var position int64
	err := s.view("WAL trim", func(tx *bolt.Tx) error {
		stored := bucket(tx, bucketWALTrim).Get(encodeUint64(uint64(shard)))
		if stored == nil {
			return nil
		}
		value, err := decodeUint64(stored)
		position = int64(value)
		return err
	})
	return position, err
}
