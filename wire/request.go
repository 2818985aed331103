package wire

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// unsafeReader is implemented by every kmsg request: ReadFrom without
// copying strings.
type unsafeReader interface {
	UnsafeReadFrom([]byte) error
}

// DecodeRequest makes the kmsg request for h's key and version and decodes
// body into it. A body that does not decode, or that has bytes left over
// after the request, is ErrMalformed. A key or version outside the table is
// ErrUnknownAPIKey or ErrUnsupportedVersion (ParseRequestHeader has already
// said so; this guards callers that skip it).
//
// The request's strings are copies, but its []byte fields (Produce's
// Records) alias body: the caller owns body and must not reuse it while the
// request is in use.
//
// DecodeRequest never panics. kmsg's decoders bound every length by the
// bytes left, and short fuzzing runs (FuzzParseRequestHeader) found no
// panic, but they are generated code outside this project. A panic inside
// them can only come from hostile input and touches nothing but the fresh
// request, so it is recovered here and becomes ErrMalformed rather than a
// crash of the connection's event loop. This is the one recover in the
// package; it guards a parser, not state.
func DecodeRequest(h RequestHeader, body []byte) (req kmsg.Request, err error) {
	r, ok := lookupAPI(h.Key)
	if !ok {
		return nil, fmt.Errorf("%w: key %d (%s)", ErrUnknownAPIKey, h.Key, APIName(h.Key))
	}
	if h.Version < r.Min || h.Version > r.Max {
		return nil, fmt.Errorf("%w: %s v%d, supported v%d..v%d", ErrUnsupportedVersion, APIName(h.Key), h.Version, r.Min, r.Max)
	}
	defer func() {
		if p := recover(); p != nil {
			req, err = nil, fmt.Errorf("%w: %s v%d: decoder panic: %v", ErrMalformed, APIName(h.Key), h.Version, p)
		}
	}()

	req = kmsg.RequestForKey(h.Key)
	req.SetVersion(h.Version)
	if err := req.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("%w: %s v%d body of %d bytes: %w", ErrMalformed, APIName(h.Key), h.Version, len(body), err)
	}
	if hasTrailingBytes(h, body) {
		return nil, fmt.Errorf("%w: %s v%d body of %d bytes has bytes after the request", ErrMalformed, APIName(h.Key), h.Version, len(body))
	}
	return req, nil
}

// hasTrailingBytes reports whether a body that decoded has bytes after the
// request. kmsg does not say how many bytes it consumed, but a kmsg decoder
// reads its input front to back and fails when it runs out, so it succeeds
// on a prefix of body exactly when the prefix holds the whole request. Body
// is therefore all request iff decoding body minus its last byte fails. One
// more decode (without string copies) is cheap next to the request's work,
// and unlike re-encoding and comparing lengths it does not reject valid
// inputs that re-encode shorter (non-minimal varints, a tagged field sent
// with its default value).
func hasTrailingBytes(h RequestHeader, body []byte) bool {
	if len(body) == 0 {
		return false
	}
	probe := kmsg.RequestForKey(h.Key)
	probe.SetVersion(h.Version)
	return probe.(unsafeReader).UnsafeReadFrom(body[:len(body)-1]) == nil
}
