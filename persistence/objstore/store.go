package objstore

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"unicode/utf8"
)

// Store is the interface every object store implements. Objects are
// immutable once written: a key is written by one Put and then only read or
// deleted (an overwrite is allowed but floe never relies on it).
type Store interface {
	// Put stores data under key atomically: a concurrent or later reader sees
	// either the whole object or no object, never a prefix, even after a crash.
	// When Put returns nil the object is durable.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns length bytes of the object starting at offset; length < 0
	// means up to the end. offset must lie in [0, size]. A range running past
	// the end is cut short at the end (as S3 does), so a caller that needs an
	// exact range checks the length of the result. A missing key yields an
	// error for which errors.Is(err, ErrNotFound) holds.
	Get(ctx context.Context, key string, offset, length int64) ([]byte, error)
	// GetInto fills the caller's buffers with the object's bytes from
	// offset on: dst[0] first, then dst[1] with the bytes that follow, and so
	// on. Every byte asked for must exist; a range past the end is an error
	// for which errors.Is(err, ErrInvalidRange) holds. It is Get for a
	// caller that already has the memory: compaction reads blocks straight
	// into the object it builds, through the kernel, rather than copying
	// them from a second buffer (see package yield for why that matters).
	GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error
	// Head returns the size of the object in bytes, or ErrNotFound.
	Head(ctx context.Context, key string) (size int64, err error)
	// List returns the keys that begin with prefix, sorted. The prefix need not
	// end at a '/': "3fa2/obj/000" is a valid prefix.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object. Deleting a missing key is not an error,
	// because a retried delete must succeed.
	Delete(ctx context.Context, key string) error
}

var (
	// ErrNotFound is returned (wrapped) for a key that holds no object.
	ErrNotFound = errors.New("objstore: not found")
	// ErrInvalidKey is returned (wrapped) for a key or prefix that breaks the
	// key rules of the package doc.
	ErrInvalidKey = errors.New("objstore: invalid key")
	// ErrInvalidRange is returned (wrapped) by Get for an offset outside
	// [0, size].
	ErrInvalidRange = errors.New("objstore: invalid range")
)

// MaxKeyBytes is the longest key accepted: S3's limit, so that keys are
// portable between implementations.
const MaxKeyBytes = 1024

// ValidateKey reports whether key follows the key rules of the package doc.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidKey, len(key), MaxKeyBytes)
	}
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return fmt.Errorf("%w: %q is not NUL-free UTF-8", ErrInvalidKey, key)
	}
	for segment := range strings.SplitSeq(key, "/") {
		if err := validateSegment(key, segment); err != nil {
			return err
		}
	}
	return nil
}

func validateSegment(key, segment string) error {
	if segment == "" {
		return fmt.Errorf("%w: %q has an empty segment (leading, trailing or double '/')", ErrInvalidKey, key)
	}
	if segment[0] == '.' {
		return fmt.Errorf("%w: %q has a segment beginning with '.'", ErrInvalidKey, key)
	}
	return nil
}

// validatePrefix checks a List prefix: the part up to its last '/' must be
// made of valid segments (so it cannot climb out of a LocalDir), the rest is
// any partial segment.
func validatePrefix(prefix string) error {
	if len(prefix) > MaxKeyBytes {
		return fmt.Errorf("%w: prefix of %d bytes, limit %d", ErrInvalidKey, len(prefix), MaxKeyBytes)
	}
	slash := strings.LastIndexByte(prefix, '/')
	if slash < 0 {
		return nil
	}
	return ValidateKey(prefix[:slash])
}

// ObjectKey returns the key of the object with the given id:
//
//	hhhh/obj/iiiiiiiiiiiiiiiiiiii
//
// hhhh is the top 16 bits, in hex, of the CRC32C of the id's 8 big-endian
// bytes; it spreads consecutive ids over
// 65,536 prefixes, because S3 scales request rate per key prefix; the id is
// in decimal, zero-padded to 20 digits (the width of the largest uint64), so
// ids sort numerically under one prefix and a human can read them. No
// ObjectKey is a prefix directory of another. The layout is frozen: keys of
// existing objects are recomputed from their ids.
func ObjectKey(id uint64) string {
	var idBytes [8]byte
	for i := range idBytes {
		idBytes[i] = byte(id >> (56 - 8*i))
	}
	hash := crc32.Checksum(idBytes[:], crc32.MakeTable(crc32.Castagnoli))
	return fmt.Sprintf("%04x/obj/%020d", hash>>16, id)
}

// totalLen is the number of bytes a GetInto asks for.
func totalLen(dst [][]byte) int64 {
	var n int64
	for _, d := range dst {
		n += int64(len(d))
	}
	return n
}
