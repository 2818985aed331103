package meta

import (
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

const (
	counterProducerIDs = "next_producer_id"
	// firstProducerID leaves the low ids free, as Kafka brokers commonly
	// see them in tests and tools.
	firstProducerID = 1000
	// maxProducerIDBlock bounds one allocation; Kafka hands out blocks of
	// 1000, so this is generous and still catches a runaway caller.
	maxProducerIDBlock = 1 << 20
)

// ProducerState is the last batch of an idempotent producer on a stream:
// what the partition actor needs after a restart to detect duplicates and
// out-of-order sequences.
type ProducerState struct {
	Stream     uint64
	ProducerID int64
	Epoch      int16
	FirstSeq   int32
	LastSeq    int32
	BaseOffset int64
	LastOffset int64
	// AppendTime is the LogAppendTime the broker stamped on the batch
	// (unix ms), which a retry of it is answered with; 0 when the batch
	// kept its CreateTime.
	AppendTime int64
}

// ProducerStates returns every stored producer state, sorted by stream then
// producer id.
func (s *Store) ProducerStates() ([]ProducerState, error) {
	states := []ProducerState{}
	err := s.view("producer states", func(tx *bolt.Tx) error {
		return bucket(tx, bucketProducers).ForEach(func(_, value []byte) error {
			state, err := decodeProducer(value)
			if err != nil {
				return err
			}
			states = append(states, state)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return states, nil
}

// AllocateProducerIDs reserves n consecutive producer ids and returns the
// first. Ids increase monotonically from 1000 and are never handed out
// twice, even across a crash, since the counter is advanced durably before
// the ids are returned.
func (s *Store) AllocateProducerIDs(n int64) (first int64, err error) {
	if n <= 0 || n > maxProducerIDBlock {
		return 0, fmt.Errorf("%w: %d producer ids (want 1 to %d)", ErrInvalidArgument, n, maxProducerIDBlock)
	}
	err = s.update("allocate producer ids", func(tx *bolt.Tx) error {
		next, err := nextCounter(tx, counterProducerIDs, firstProducerID, uint64(n))
		if err != nil {
			return err
		}
		if next > math.MaxInt64-uint64(n) {
			return fmt.Errorf("producer ids exhausted")
		}
		first = int64(next)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return first, nil
}

// putProducerIfNewer stores state unless the stored state of the same stream
// and producer has a LastOffset at or past it, or the stream is deleted.
func putProducerIfNewer(tx *bolt.Tx, state ProducerState) error {
	if streamIsDeleted(tx, state.Stream) {
		return nil
	}
	producers := bucket(tx, bucketProducers)
	key := producerKey(state.Stream, state.ProducerID)
	if stored := producers.Get(key); stored != nil {
		current, err := decodeProducer(stored)
		if err != nil {
			return err
		}
		if current.LastOffset >= state.LastOffset {
			return nil
		}
	}
	return producers.Put(key, encodeProducer(state))
}

// ForgetProducers deletes the stored states of expired producers on stream:
// for each producer id in lastOffsets, the state is deleted unless its
// LastOffset is past the given one (the producer wrote again after it was
// judged expired, and an upload stored that).
func (s *Store) ForgetProducers(stream uint64, lastOffsets map[int64]int64) error {
	if len(lastOffsets) == 0 {
		return nil
	}
	return s.update("forget producers", func(tx *bolt.Tx) error {
		producers := bucket(tx, bucketProducers)
		for id, last := range lastOffsets {
			key := producerKey(stream, id)
			stored := producers.Get(key)
			if stored == nil {
				continue
			}
			current, err := decodeProducer(stored)
			if err != nil {
				return err
			}
			if current.LastOffset > last {
				continue
			}
			if err := producers.Delete(key); err != nil {
				return err
			}
		}
		return nil
	})
}
