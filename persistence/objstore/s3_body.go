package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"sync"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// pacedBodyQuantum is how much of a paced request body goes per wait on the
// pace. A PUT sent whole lands on an S3 server as one burst of hashing and
// copying; on a server that shares CPUs with the broker (a gateway on the
// same machine, as in the tests and the benchmarks) an 8 MiB burst costs the
// producers about 20 ms of a vCPU at once. Sent a quantum at a time, the
// same work comes as small slices.
const pacedBodyQuantum = 256 << 10

// pacedBody is a request body that waits on pace before each quantum of
// data. It is an io.ReadSeeker, so the SDK can rewind it to retry; bytes
// sent again are paced again. A pace error is sticky: every later Read
// returns it and cancel ends the request's context, so that the SDK stops
// rather than retrying a body that can no longer be sent.
//
// An attempt paces for at most limit: what is left then goes at once. The
// attempt must end within its RequestTimeout, and a slow pace (compaction
// at a low rate, several parts sharing it) would otherwise make every
// attempt time out and the upload never end.
type pacedBody struct {
	r       *bytes.Reader // the data and the position in it
	ctx     context.Context
	cancel  context.CancelFunc
	pace    Pacer
	limit   time.Duration
	since   time.Time // the attempt's first Read; zero until then
	allowed int64     // end of the bytes let go since the last rewind
	err     error
}

func newPacedBody(ctx context.Context, cancel context.CancelFunc, data []byte, pace Pacer, limit time.Duration) *pacedBody {
	return &pacedBody{r: bytes.NewReader(data), ctx: ctx, cancel: cancel, pace: pace, limit: limit}
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	off, left := b.r.Size()-int64(b.r.Len()), int64(b.r.Len())
	if left == 0 {
		return 0, io.EOF
	}
	if off >= b.allowed {
		if b.since.IsZero() {
			b.since = time.Now()
		}
		n := min(pacedBodyQuantum, left)
		if time.Since(b.since) >= b.limit {
			n = left
		} else if err := b.pace(b.ctx, int(n)); err != nil {
			b.err = err
			b.cancel()
			return 0, err
		}
		b.allowed = off + n
	}
	return b.r.Read(p[:min(int64(len(p)), b.allowed-off)])
}

// Seek moves as bytes.Reader does; bytes from the new position on are
// paced again, and the attempt's pacing time starts again.
func (b *pacedBody) Seek(offset int64, whence int) (int64, error) {
	to, err := b.r.Seek(offset, whence)
	if err != nil {
		return to, err
	}
	b.allowed = to
	b.since = time.Time{}
	return to, nil
}

// bodySums are the checksums of a request body, computed by floe so that
// the SDK does not read a paced body through before sending it: left to
// itself, it reads the whole body once for the CRC32 header and, on a plain
// HTTP endpoint, for the SHA-256 that SigV4 signs, and that read would wait
// on the pace as well.
type bodySums struct {
	data []byte
	crc  string // base64 of the big-endian CRC32 (IEEE), as x-amz-checksum-crc32

	once sync.Once
	hash string // hex SHA-256, computed on first use
}

func newBodySums(data []byte) *bodySums {
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc32.ChecksumIEEE(data))
	return &bodySums{data: data, crc: base64.StdEncoding.EncodeToString(sum[:])}
}

func (s *bodySums) sha256() string {
	s.once.Do(func() {
		sum := sha256.Sum256(s.data)
		s.hash = hex.EncodeToString(sum[:])
	})
	return s.hash
}

// signWith is a per-call option giving the SDK the payload hash to sign on
// a plain HTTP endpoint. Over HTTPS nothing is added: the SDK then signs
// the payload as unsigned and relies on the CRC32 header, without hashing.
func (s *bodySums) signWith(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("FloePayloadHash",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok && !req.IsHTTPS() {
					ctx = v4.SetPayloadHash(ctx, s.sha256())
				}
				return next.HandleFinalize(ctx, in)
			}), "ComputePayloadHash", middleware.Before)
	})
}

// requestBody is what one PUT or UploadPart sends: data as it is, for the
// SDK to checksum, or paced, with the checksums given.
type requestBody struct {
	reader io.ReadSeeker
	crc32  *string // nil: the SDK computes it
	opts   []func(*s3.Options)
	paced  *pacedBody
}

// newRequestBody makes data a body for a request made with ctx, which cancel
// ends. With a nil pace it is a bytes.Reader, as the SDK likes it; paced,
// an attempt paces for at most half the request timeout.
func (s *S3) newRequestBody(ctx context.Context, cancel context.CancelFunc, data []byte, pace Pacer) requestBody {
	if pace == nil {
		return requestBody{reader: bytes.NewReader(data)}
	}
	sums := newBodySums(data)
	paced := newPacedBody(ctx, cancel, data, pace, s.config.RequestTimeout/2)
	return requestBody{reader: paced, crc32: &sums.crc, opts: []func(*s3.Options){sums.signWith}, paced: paced}
}

// result is the request's error, or the pace's when the pace failed: the
// request then failed because its body could not be sent.
func (b requestBody) result(err error) error {
	if b.paced != nil && b.paced.err != nil {
		return b.paced.err
	}
	return err
}
