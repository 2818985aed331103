package wire

import (
	"encoding/binary"
	"fmt"
)

// DefaultMaxFrameBytes is the default largest request frame (the bytes after
// the size prefix), Kafka's socket.request.max.bytes default.
const DefaultMaxFrameBytes = 100 << 20

// FrameSize reads the 4-byte big-endian size prefix of a request and returns
// the size of the frame that follows it. A prefix shorter than 4 bytes, or a
// size of zero or less, is ErrMalformed; a size above max is
// ErrFrameTooLarge. max <= 0 means DefaultMaxFrameBytes.
//
// A TLS ClientHello or an HTTP request sent to the Kafka port reads as a size
// of hundreds of MiB and fails here, before anything is allocated.
func FrameSize(prefix []byte, max int32) (int, error) {
	if len(prefix) < 4 {
		return 0, fmt.Errorf("%w: size prefix needs 4 bytes, have %d", ErrMalformed, len(prefix))
	}
	if max <= 0 {
		max = DefaultMaxFrameBytes
	}
	size := int32(binary.BigEndian.Uint32(prefix))
	switch {
	case size <= 0:
		return 0, fmt.Errorf("%w: frame size %d", ErrMalformed, size)
	case size > max:
		return 0, fmt.Errorf("%w: frame size %d above maximum %d", ErrFrameTooLarge, size, max)
	}
	return int(size), nil
}
