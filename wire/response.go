package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AppendResponse appends a whole response frame to dst and returns the
// extended slice: the 4-byte size, the correlation id, the response header's
// tagged-field section (one empty byte) when the response is flexible, then
// resp's body. The ApiVersions response header is always v0, flexible or not
// (KIP-511: a client that sent a version the broker does not know must still
// be able to read the answer). resp's version must already be set.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, filled in below
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != int16(kmsg.ApiVersions) {
		dst = append(dst, 0) // no response-header tags
	}
	dst = resp.AppendTo(dst)
	size := len(dst) - start - 4
	if size > math.MaxInt32 {
		// A handler built a response no Kafka frame can hold: a bug,
		// not a protocol failure.
		panic(fmt.Sprintf("wire: %s response of %d bytes does not fit a frame", APIName(resp.Key()), size))
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(size))
	return dst
}

// ApiVersionsResponse returns an ApiVersions response at version, error 0,
// listing every row of SupportedAPIs. It advertises no features, so clients
// use no feature-gated behaviour (e.g. KIP-890 part 2 transactions).
func ApiVersionsResponse(version int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.Version = version
	apis := SupportedAPIs()
	resp.ApiKeys = make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.Key, a.Min, a.Max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

// UnsupportedVersionResponse returns the answer to an ApiVersions request at
// a version above ours: version 0, UNSUPPORTED_VERSION, and the full key
// table. Kafka itself lists only the ApiVersions row (KIP-511); the full
// table is a superset that every client handles: Java and librdkafka retry
// at the ApiVersions row's max, franz-go takes the table as is and saves the
// round trip.
func UnsupportedVersionResponse() *kmsg.ApiVersionsResponse {
	resp := ApiVersionsResponse(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	return resp
}
