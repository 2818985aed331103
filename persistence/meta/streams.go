package meta

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// DeletedStreams returns the streams of deleted topics: the data of these
// streams in objects is garbage.
func (s *Store) DeletedStreams() (map[uint64]bool, error) {
	deleted := map[uint64]bool{}
	err := s.view("deleted streams", func(tx *bolt.Tx) error {
		return bucket(tx, bucketDeletedStreams).ForEach(func(key, _ []byte) error {
			stream, err := decodeUint64(key)
			if err != nil {
				return err
			}
			deleted[stream] = true
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return deleted, nil
}

// LogStartOffsets returns the log start offset of every live stream that has
// one; a stream not in the map starts at 0.
func (s *Store) LogStartOffsets() (map[uint64]int64, error) {
	offsets := map[uint64]int64{}
	err := s.view("log start offsets", func(tx *bolt.Tx) error {
		return bucket(tx, bucketLogStart).ForEach(func(key, value []byte) error {
			stream, err := decodeUint64(key)
			if err != nil {
				return err
			}
			offset, err := decodeUint64(value)
			if err != nil {
				return err
			}
			offsets[stream] = int64(offset)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return offsets, nil
}

// SetLogStartOffset moves a stream's log start offset forward to offset.
// A value at or below the current one is a no-op (the log start never moves
// back, and a retried DeleteRecords must be harmless); so is a stream of a
// deleted topic, which a retention pass may still be working on. A stream
// id that was never allocated is ErrUnknownStream.
func (s *Store) SetLogStartOffset(stream uint64, offset int64) error {
	if offset < 0 {
		return fmt.Errorf("%w: log start offset %d of stream %d", ErrInvalidArgument, offset, stream)
	}
	return s.update("set log start offset", func(tx *bolt.Tx) error {
		live, err := streamIsLive(tx, stream)
		if err != nil || !live {
			return err
		}
		return raiseTo(bucket(tx, bucketLogStart), encodeUint64(stream), offset)
	})
}

// streamIsLive reports whether stream belongs to an existing topic; a stream
// that was never allocated is an error.
func streamIsLive(tx *bolt.Tx, stream uint64) (bool, error) {
	next, err := peekCounter(tx, counterStreams, firstStreamID)
	if err != nil {
		return false, err
	}
	if stream < firstStreamID || stream >= next {
		return false, fmt.Errorf("%w: %d", ErrUnknownStream, stream)
	}
	return bucket(tx, bucketDeletedStreams).Get(encodeUint64(stream)) == nil, nil
}

// streamIsDeleted reports whether stream belongs to a deleted topic.
func streamIsDeleted(tx *bolt.Tx, stream uint64) bool {
	return bucket(tx, bucketDeletedStreams).Get(encodeUint64(stream)) != nil
}

// deleteStream records stream as deleted and drops its per-stream state.
func deleteStream(tx *bolt.Tx, stream uint64) error {
	key := encodeUint64(stream)
	if err := bucket(tx, bucketDeletedStreams).Put(key, []byte{}); err != nil {
		return err
	}
	if err := bucket(tx, bucketLogStart).Delete(key); err != nil {
		return err
	}
	// Producer states are keyed (stream, producer id): delete the range.
	producers := bucket(tx, bucketProducers).Cursor()
	for k, _ := producers.Seek(key); k != nil && bytes.HasPrefix(k, key); k, _ = producers.Seek(key) {
		if err := producers.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// raiseTo stores value under key unless the stored value is already at or
// above it: the rule for WAL trim points and log start offsets.
func raiseTo(b *bolt.Bucket, key []byte, value int64) error {
	if stored := b.Get(key); stored != nil {
		current, err := decodeUint64(stored)
		if err != nil {
			return err
		}
		if int64(current) >= value {
			return nil
		}
	}
	return b.Put(key, encodeUint64(uint64(value)))
}
