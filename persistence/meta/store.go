package meta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// schemaVersion is the layout version of the file. Open refuses a file
// written with another version rather than misreading it.
const schemaVersion = 1

// openLockTimeout bounds how long Open waits for the file lock: a second
// broker started on the same data directory fails at once instead of hanging.
const openLockTimeout = time.Second

// Bucket names; see the Layout section of the package doc.
const (
	bucketSchema         = "schema"
	bucketTopics         = "topics"
	bucketCounters       = "counters"
	bucketDeletedStreams = "deleted_streams"
	bucketLogStart       = "log_start"
	bucketObjects        = "objects"
	bucketWALTrim        = "wal_trim"
	bucketProducers      = "producers"

	keySchemaVersion = "version"
)

// allBuckets lists every bucket, created by Open.
func allBuckets() []string {
	return []string{
		bucketSchema, bucketTopics, bucketCounters, bucketDeletedStreams,
		bucketLogStart, bucketObjects, bucketWALTrim, bucketProducers,
	}
}

// bucket returns a bucket that Open created.
func bucket(tx *bolt.Tx, name string) *bolt.Bucket { return tx.Bucket([]byte(name)) }

// Store is the embedded metadata store. See the package doc for its
// contract and ownership.
type Store struct {
	db *bolt.DB
}

// Open opens or creates the metadata file at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: openLockTimeout})
	if err != nil {
		return nil, fmt.Errorf("meta: open %s: %w", path, err)
	}
	if err := db.Update(initialise); err != nil {
		db.Close()
		return nil, fmt.Errorf("meta: open %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// initialise creates the buckets of a new file and checks the schema version
// of an existing one.
func initialise(tx *bolt.Tx) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	schema := bucket(tx, bucketSchema)
	stored := schema.Get([]byte(keySchemaVersion))
	if stored == nil {
		return schema.Put([]byte(keySchemaVersion), encodeUint64(schemaVersion))
	}
	if len(stored) != 8 || binary.BigEndian.Uint64(stored) != schemaVersion {
		return fmt.Errorf("%w: schema version %x, this build reads %d", ErrCorrupt, stored, schemaVersion)
	}
	return nil
}

// Close closes the file, waiting for transactions in progress.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("meta: close: %w", err)
	}
	return nil
}

// update runs fn in one read-write transaction (committed and fsynced, or
// rolled back if fn fails).
func (s *Store) update(operation string, fn func(tx *bolt.Tx) error) error {
	return describe(operation, s.db.Update(fn))
}

// view runs fn in one read-only transaction.
func (s *Store) view(operation string, fn func(tx *bolt.Tx) error) error {
	return describe(operation, s.db.View(fn))
}

// describe names the operation in an error from bbolt or the file system.
// Our own errors already say what went wrong, with the "meta: " prefix, and
// are returned as they are.
func describe(operation string, err error) error {
	if err == nil {
		return nil
	}
	for _, ours := range []error{
		ErrTopicExists, ErrUnknownTopic, ErrInvalidPartitions, ErrInvalidTopicName,
		ErrUnknownStream, ErrObjectExists, ErrInvalidArgument,
	} {
		if errors.Is(err, ours) {
			return err
		}
	}
	return fmt.Errorf("meta: %s: %w", operation, err)
}

func encodeUint64(value uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), value)
}

// decodeUint64 reads an 8-byte big-endian value written by encodeUint64.
func decodeUint64(value []byte) (uint64, error) {
	if len(value) != 8 {
		return 0, fmt.Errorf("%w: %d-byte integer", ErrCorrupt, len(value))
	}
	return binary.BigEndian.Uint64(value), nil
}

// nextCounter returns the counter's current value (initial if it was never
// set) and stores value+n: an allocation of n consecutive ids.
func nextCounter(tx *bolt.Tx, name string, initial, n uint64) (uint64, error) {
	counters := bucket(tx, bucketCounters)
	first := initial
	if stored := counters.Get([]byte(name)); stored != nil {
		var err error
		if first, err = decodeUint64(stored); err != nil {
			return 0, fmt.Errorf("counter %s: %w", name, err)
		}
	}
	if first+n < first {
		return 0, fmt.Errorf("counter %s exhausted", name)
	}
	return first, counters.Put([]byte(name), encodeUint64(first+n))
}

// peekCounter returns the counter's next value without allocating.
func peekCounter(tx *bolt.Tx, name string, initial uint64) (uint64, error) {
	stored := bucket(tx, bucketCounters).Get([]byte(name))
	if stored == nil {
		return initial, nil
	}
	return decodeUint64(stored)
}
