package meta

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReplaceObjects switches the object index from the objects in remove to the
// objects in add in one transaction, for compaction: readers of the index
// see either the old objects or the new ones, never a mix with a gap. Every
// object in add must have an allocated, uncommitted id; ids in remove that
// are not present are ignored (a retried replacement is harmless). The
// removed objects must be deleted from object storage only afterwards.
func (s *Store) ReplaceObjects(add []Object, remove []uint64) error {
	now := time.Now().UTC().Round(0)
	for i := range add {
		if add[i].ID == 0 {
			return fmt.Errorf("%w: replacement object without an id", ErrInvalidArgument)
		}
		if err := validateUpload(Upload{Object: add[i]}); err != nil {
			return err
		}
		if add[i].Created.IsZero() {
			add[i].Created = now
		}
	}
	return s.update("replace objects", func(tx *bolt.Tx) error {
		objects := bucket(tx, bucketObjects)
		for _, id := range remove {
			if err := objects.Delete(encodeUint64(id)); err != nil {
				return err
			}
		}
		for _, object := range add {
			if err := putObject(tx, object); err != nil {
				return err
			}
		}
		return nil
	})
}
