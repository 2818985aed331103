package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// RequestHeader is a parsed Kafka request header.
type RequestHeader struct {
	Key, Version  int16
	CorrelationID int32
	// ClientID is the header's client id; "" when the client sent null.
	ClientID string
	// HeaderVersion is 1 for a request at a non-flexible version and 2 for a
	// flexible one (KIP-482: tagged fields after the client id). It is 0
	// when the key is unknown to kmsg, so the layout past the client id is
	// unknown too.
	HeaderVersion int8
}

// requestHeaderFixedBytes is key, version and correlation id.
const requestHeaderFixedBytes = 2 + 2 + 4

// ParseRequestHeader parses the request header at the start of frame (the
// bytes after the 4-byte size prefix) and returns the header and the body
// that follows it. The body aliases frame.
//
// An API key not in the version table is ErrUnknownAPIKey, a version outside
// the key's range ErrUnsupportedVersion; in both cases the header still
// carries Key, Version and CorrelationID (and ClientID if it could be read),
// so the caller can answer a too-new ApiVersions with UNSUPPORTED_VERSION at
// v0, as Kafka does, or log and close. A truncated or garbled header is
// ErrMalformed, with whatever fields were read.
//
// Flexible request versions use header v2: client id, then tagged fields.
// No request-header tag is defined; unknown tags are skipped after their
// lengths are checked.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < requestHeaderFixedBytes {
		return h, nil, fmt.Errorf("%w: request header needs %d bytes, frame has %d", ErrMalformed, requestHeaderFixedBytes, len(frame))
	}
	h.Key = int16(binary.BigEndian.Uint16(frame[0:]))
	h.Version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))

	var versionErr error
	if r, ok := lookupAPI(h.Key); !ok {
		versionErr = fmt.Errorf("%w: key %d (%s) version %d", ErrUnknownAPIKey, h.Key, APIName(h.Key), h.Version)
	} else if h.Version < r.Min || h.Version > r.Max {
		versionErr = fmt.Errorf("%w: %s v%d, supported v%d..v%d", ErrUnsupportedVersion, APIName(h.Key), h.Version, r.Min, r.Max)
	}

	// kmsg decides flexibility from a threshold, so it answers for versions
	// above its max too; Kafka does the same for a too-new ApiVersions.
	if req := kmsg.RequestForKey(h.Key); req != nil {
		req.SetVersion(h.Version)
		h.HeaderVersion = 1
		if req.IsFlexible() {
			h.HeaderVersion = 2
		}
	}

	rest := frame[requestHeaderFixedBytes:]
	clientID, rest, err := readClientID(rest)
	if err != nil {
		if versionErr != nil {
			return h, nil, versionErr // the version is the news; the rest may be a layout we do not know
		}
		return h, nil, err
	}
	h.ClientID = clientID
	if versionErr != nil {
		return h, nil, versionErr
	}
	if h.HeaderVersion == 2 {
		if rest, err = skipTaggedFields(rest); err != nil {
			return h, nil, err
		}
	}
	return h, rest, nil
}

// readClientID reads the header's nullable string (int16 length, -1 for
// null; it stays a non-compact string in header v2).
func readClientID(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, fmt.Errorf("%w: request header truncated before client id", ErrMalformed)
	}
	n := int16(binary.BigEndian.Uint16(b))
	b = b[2:]
	switch {
	case n == -1:
		return "", b, nil
	case n < 0:
		return "", nil, fmt.Errorf("%w: client id length %d", ErrMalformed, n)
	case int(n) > len(b):
		return "", nil, fmt.Errorf("%w: client id length %d, %d bytes left", ErrMalformed, n, len(b))
	}
	return string(b[:n]), b[n:], nil
}

// skipTaggedFields skips a tagged-field section (KIP-482): an unsigned
// varint count, then per field an unsigned varint tag, an unsigned varint
// size and size bytes.
func skipTaggedFields(b []byte) ([]byte, error) {
	count, n := readUvarint32(b)
	if n == 0 {
		return nil, fmt.Errorf("%w: bad tagged field count", ErrMalformed)
	}
	b = b[n:]
	// Each field takes at least two bytes (tag and size): refuse a count
	// that cannot fit before looping over it.
	if uint64(count)*2 > uint64(len(b)) {
		return nil, fmt.Errorf("%w: %d tagged fields in %d bytes", ErrMalformed, count, len(b))
	}
	for i := uint32(0); i < count; i++ {
		_, n := readUvarint32(b)
		if n == 0 {
			return nil, fmt.Errorf("%w: bad tag in tagged field %d", ErrMalformed, i)
		}
		b = b[n:]
		size, n := readUvarint32(b)
		if n == 0 {
			return nil, fmt.Errorf("%w: bad size of tagged field %d", ErrMalformed, i)
		}
		b = b[n:]
		if uint64(size) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: tagged field %d of %d bytes, %d left", ErrMalformed, i, size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}
