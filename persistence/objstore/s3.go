package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/floe-io/floe/internal/yield"
)

// S3 is a Store kept in one S3 bucket (AWS or an S3-compatible server such
// as versitygw), through aws-sdk-go-v2. Keys are used as given, without a
// prefix.
//
// Every request holds one of MaxInFlight slots for its whole life, retries
// included; each attempt is bounded by RequestTimeout; transient failures
// (5xx, 429, SlowDown and other throttling codes, timeouts, connection
// errors, a response body cut short) are retried by the SDK's retryer, up to
// MaxAttempts with full-jitter exponential back-off. Nothing else retries:
// an error returned by a method is final for that call.
type S3 struct {
	client *s3.Client
	bucket string
	config S3Config // with defaults applied
	// slots is the request semaphore: a request sends into it before it
	// starts and receives from it when it ends. Its capacity is MaxInFlight.
	slots chan struct{}
}

var (
	_ Store       = (*S3)(nil)
	_ PacedPutter = (*S3)(nil)
)

// NewS3 builds the client and checks that the bucket exists, creating it if
// config.CreateBucket is set. ctx bounds that check; the store keeps no
// context.
func NewS3(ctx context.Context, config S3Config) (*S3, error) {
	config.EnsureDefaults()
	if err := config.Validate(); err != nil {
		return nil, err
	}
	client, err := newS3Client(ctx, config)
	if err != nil {
		return nil, err
	}
	store := &S3{
		client: client,
		bucket: config.Bucket,
		config: config,
		slots:  make(chan struct{}, config.MaxInFlight),
	}
	if err := store.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return store, nil
}

// Config returns the store's configuration with defaults applied.
func (s *S3) Config() S3Config { return s.config }

// InFlight returns the number of requests holding a slot now, for a gauge
// next to Config().MaxInFlight.
func (s *S3) InFlight() int { return len(s.slots) }

// withSlot runs one S3 request while holding a slot of the semaphore. The
// wait for a slot ends early with ctx.
func withSlot[T any](ctx context.Context, s *S3, request func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	defer func() { <-s.slots }()
	return request(ctx)
}

// ensureBucket checks the bucket with HeadBucket and creates it if it is
// missing and creation was asked for.
func (s *S3) ensureBucket(ctx context.Context) error {
	_, err := withSlot(ctx, s, func(ctx context.Context) (*s3.HeadBucketOutput, error) {
		return s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	})
	if err == nil {
		return nil
	}
	if !isS3MissingBucket(err) {
		return fmt.Errorf("objstore: s3 bucket %q: %w", s.bucket, err)
	}
	if !s.config.CreateBucket {
		return fmt.Errorf("objstore: s3 bucket %q does not exist (add create_bucket=true to the URL to create it)", s.bucket)
	}
	input := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	// us-east-1 is the one region that must not be named as a constraint.
	if region := s.client.Options().Region; region != "us-east-1" {
		input.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err = withSlot(ctx, s, func(ctx context.Context) (*s3.CreateBucketOutput, error) {
		return s.client.CreateBucket(ctx, input)
	})
	var alreadyOwned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &alreadyOwned) { // another broker may have won the race
		return fmt.Errorf("objstore: s3 creating bucket %q: %w", s.bucket, err)
	}
	return nil
}

// Put stores data with one PutObject, or with a multipart upload when it is
// larger than MultipartThresholdBytes. S3 makes either visible atomically,
// and only once it is durable.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	return s.PutPaced(ctx, key, data, nil)
}

// PutPaced is Put, sending the object (or each part of a multipart upload)
// a quantum at a time, each once pace (if not nil) lets it go, for at most
// half of each attempt's RequestTimeout (pacedBody). The request holds its
// slot while it waits on the pace.
func (s *S3) PutPaced(ctx context.Context, key string, data []byte, pace Pacer) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if int64(len(data)) > s.config.MultipartThresholdBytes {
		return s.putMultipart(ctx, key, data, pace)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Rewindable either way, so that the SDK can retry the body.
	body := s.newRequestBody(ctx, cancel, data, pace)
	_, err := withSlot(ctx, s, func(ctx context.Context) (*s3.PutObjectOutput, error) {
		return s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        aws.String(s.bucket),
			Key:           aws.String(key),
			Body:          body.reader,
			ContentLength: aws.Int64(int64(len(data))),
			ChecksumCRC32: body.crc32,
		}, body.opts...)
	})
	if err := body.result(err); err != nil {
		return s.wrap("put", key, err)
	}
	return nil
}

// Get reads a range with one ranged GET (bytes=offset-end), or the whole
// object with one plain GET whose checksum is verified. The body is read
// inside the request's attempt (see readWholeBody), so a transfer cut short
// is retried like any other transient failure.
func (s *S3) Get(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if offset < 0 {
		return nil, fmt.Errorf("%w: %q offset %d", ErrInvalidRange, key, offset)
	}
	if length == 0 {
		// An empty range is not expressible in a Range header; check the
		// key and the offset instead.
		return s.getEmpty(ctx, key, offset)
	}
	input := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if offset == 0 && length < 0 {
		// A whole-object read asks for no range, so that it can be checked
		// against the checksum stored with the object (the SDK sends one
		// with every upload); S3 sends none with a ranged response.
		input.ChecksumMode = types.ChecksumModeEnabled
	} else {
		byteRange := fmt.Sprintf("bytes=%d-", offset)
		if length > 0 && offset+length > offset { // an overflowing end means "to the end"
			byteRange += fmt.Sprint(offset + length - 1)
		}
		input.Range = aws.String(byteRange)
	}
	output, err := withSlot(ctx, s, func(ctx context.Context) (*s3.GetObjectOutput, error) {
		return s.client.GetObject(ctx, input)
	})
	if err != nil {
		if isS3InvalidRange(err) {
			// 416: the offset is at or past the end (or the object is
			// empty). At the end is a valid, empty read.
			return s.getEmpty(ctx, key, offset)
		}
		return nil, s.wrap("get", key, err)
	}
	data, err := bodyBytes(output.Body)
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	if aws.ToString(output.ContentRange) == "" {
		// The server ignored Range and sent the whole object.
		if offset > int64(len(data)) {
			return nil, fmt.Errorf("%w: %q offset %d, size %d", ErrInvalidRange, key, offset, len(data))
		}
		data = data[offset:]
	}
	if length > 0 && int64(len(data)) > length {
		data = data[:length]
	}
	return data, nil
}

// GetInto is one ranged GET whose body is read straight into dst inside
// the attempt (see readWholeBody): no buffer of the range's size is
// allocated and copied from. A server that ignores the range sends the
// whole object instead, which is buffered and copied from.
func (s *S3) GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error {
	total := totalLen(dst)
	into := &readInto{dst: dst, total: total}
	if total > 0 {
		ctx = context.WithValue(ctx, readIntoKey{}, into)
	}
	data, err := s.Get(ctx, key, offset, total)
	if err != nil {
		return err
	}
	if into.filled {
		return nil
	}
	if int64(len(data)) != total {
		return fmt.Errorf("%w: %q bytes [%d, +%d), %d there", ErrInvalidRange, key, offset, total, len(data))
	}
	for _, buf := range dst {
		data = data[yield.Copy(buf, data):]
	}
	return nil
}

// getEmpty answers a read of no bytes at offset: empty if the object exists
// and offset is within [0, size].
func (s *S3) getEmpty(ctx context.Context, key string, offset int64) ([]byte, error) {
	size, err := s.Head(ctx, key)
	if err != nil {
		return nil, err
	}
	if offset > size {
		return nil, fmt.Errorf("%w: %q offset %d, size %d", ErrInvalidRange, key, offset, size)
	}
	return []byte{}, nil
}

// Head returns the object's size from HeadObject.
func (s *S3) Head(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	output, err := withSlot(ctx, s, func(ctx context.Context) (*s3.HeadObjectOutput, error) {
		return s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	})
	if err != nil {
		return 0, s.wrap("head", key, err)
	}
	return aws.ToInt64(output.ContentLength), nil
}

// List pages through ListObjectsV2. Keys that floe could not have written
// (ValidateKey fails, e.g. a "dir/" marker made by another tool) are left
// out, as LocalDir leaves out its dot files.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	keys := []string{}
	input := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		MaxKeys: aws.Int32(int32(s.config.ListPageKeys)),
	}
	if prefix != "" {
		input.Prefix = aws.String(prefix)
	}
	for {
		page, err := withSlot(ctx, s, func(ctx context.Context) (*s3.ListObjectsV2Output, error) {
			return s.client.ListObjectsV2(ctx, input)
		})
		if err != nil {
			return nil, fmt.Errorf("objstore: s3 list %q: %w", prefix, err)
		}
		for _, object := range page.Contents {
			key := aws.ToString(object.Key)
			if strings.HasPrefix(key, prefix) && ValidateKey(key) == nil {
				keys = append(keys, key)
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		if aws.ToString(page.NextContinuationToken) == "" {
			return nil, fmt.Errorf("objstore: s3 list %q: a truncated page without a continuation token", prefix)
		}
		input.ContinuationToken = page.NextContinuationToken
	}
	// S3 lists in UTF-8 byte order already; S3-compatible servers may not.
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the object; S3 answers a missing key with success, and a
// server that answers 404 instead is treated the same.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	_, err := withSlot(ctx, s, func(ctx context.Context) (*s3.DeleteObjectOutput, error) {
		return s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	})
	if err != nil && !isS3NoSuchKey(err) {
		return s.wrap("delete", key, err)
	}
	return nil
}

// wrap turns a missing key into ErrNotFound and prefixes everything else.
func (s *S3) wrap(operation, key string, err error) error {
	if isS3NoSuchKey(err) {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return fmt.Errorf("objstore: s3 %s %q: %w", operation, key, err)
}

// s3ErrorCode returns the S3 error code ("NoSuchKey", "SlowDown", …) and the
// HTTP status of err, zero values if it has none.
func s3ErrorCode(err error) (code string, status int) {
	var apiError smithy.APIError
	if errors.As(err, &apiError) {
		code = apiError.ErrorCode()
	}
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	return code, status
}

// isS3NoSuchKey reports a missing object: NoSuchKey from GET, NotFound (the
// SDK's name for a bare 404: HEAD responses have no body) from HEAD. Other
// 404s are not a missing object: NoSuchBucket means the store is
// misconfigured, not empty, and NoSuchUpload concerns a multipart upload.
func isS3NoSuchKey(err error) bool {
	code, status := s3ErrorCode(err)
	switch code {
	case "NoSuchKey", "NotFound":
		return true
	case "":
		return status == http.StatusNotFound
	}
	return false
}

// isS3MissingBucket reads HeadBucket's error: NotFound (a bare 404), or
// NoSuchBucket from a server that sends a body anyway.
func isS3MissingBucket(err error) bool {
	code, status := s3ErrorCode(err)
	return code == "NoSuchBucket" || code == "NotFound" || (code == "" && status == http.StatusNotFound)
}

func isS3InvalidRange(err error) bool {
	code, status := s3ErrorCode(err)
	return code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable
}
