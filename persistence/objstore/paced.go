package objstore

import "context"

// A Pacer returns once n more bytes may be written, or with ctx's error: a
// rate limiter's WaitN, for work that shares the machine with producers
// (compaction) and should reach the disk or the network at a steady rate
// rather than as fast as the store takes it.
type Pacer func(ctx context.Context, n int) error

// PacedPutter is a Store that can write one object piece by piece, waiting
// on a Pacer before each piece (none when the Pacer is nil). Put's
// guarantees hold unchanged: the object appears whole, at the end, or not
// at all.
type PacedPutter interface {
	PutPaced(ctx context.Context, key string, data []byte, pace Pacer) error
}

// PutPaced puts data under key and waits on pace for every byte of it: piece
// by piece while the object is written, if the store is a PacedPutter, and
// otherwise all of it before the Put. A nil pace is no pace, here as in
// every PacedPutter.
func PutPaced(ctx context.Context, s Store, key string, data []byte, pace Pacer) error {
	if p, ok := s.(PacedPutter); ok {
		return p.PutPaced(ctx, key, data, pace)
	}
	if pace != nil {
		if err := pace(ctx, len(data)); err != nil {
			return err
		}
	}
	return s.Put(ctx, key, data)
}
