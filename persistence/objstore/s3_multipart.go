package objstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// maxPartsInFlightPerPut bounds the parts one Put uploads at once, so that
// one large object cannot take every slot of the semaphore from the cold
// reads and the other uploads.
const maxPartsInFlightPerPut = 4

// putMultipart uploads data in parts of MultipartPartBytes (the last one
// shorter; each sent a quantum at a time on pace, if given) and completes the upload;
// S3 publishes the object only at completion, so Put stays atomic. On any
// failure the upload is aborted, so that its parts stop costing storage. An
// abort that itself fails leaves them to the bucket's lifecycle rule
// (AbortIncompleteMultipartUpload), which a production bucket should have.
//
// The checksum algorithm is named on the upload and on every part, and each
// part's CRC32 is passed back at completion: the SDK checksums every part
// anyway, and versitygw rejects a completion (InvalidPart) whose parts carry
// checksums the upload did not declare.
func (s *S3) putMultipart(ctx context.Context, key string, data []byte, pace Pacer) (err error) {
	partBytes := s.config.MultipartPartBytes
	partCount := (int64(len(data)) + partBytes - 1) / partBytes
	if partCount > maxS3Parts {
		return fmt.Errorf("objstore: s3 put %q: %d bytes need %d parts of %d bytes, S3 allows %d",
			key, len(data), partCount, partBytes, maxS3Parts)
	}
	created, err := withSlot(ctx, s, func(ctx context.Context) (*s3.CreateMultipartUploadOutput, error) {
		return s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket:            aws.String(s.bucket),
			Key:               aws.String(key),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
	})
	if err != nil {
		return s.wrap("put (create multipart upload)", key, err)
	}
	uploadID := created.UploadId
	defer func() {
		if err != nil {
			if abortErr := s.abortMultipart(ctx, key, uploadID); abortErr != nil {
				err = errors.Join(err, abortErr)
			}
		}
	}()
	parts, err := s.uploadParts(ctx, key, uploadID, data, int(partCount), pace)
	if err != nil {
		return err
	}
	_, err = withSlot(ctx, s, func(ctx context.Context) (*s3.CompleteMultipartUploadOutput, error) {
		return s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(s.bucket),
			Key:             aws.String(key),
			UploadId:        uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
	})
	if code, _ := s3ErrorCode(err); code == "NoSuchUpload" && s.completedEarlier(ctx, key, int64(len(data))) {
		return nil
	}
	if err != nil {
		return s.wrap("put (complete multipart upload)", key, err)
	}
	return nil
}

// completedEarlier tells whether a CompleteMultipartUpload answered with
// NoSuchUpload had in fact succeeded: an attempt whose answer was lost
// completed the upload, and the retry no longer finds it. The key then
// holds an object of the size put. floe writes each key once, so an object
// of that size is this upload's.
func (s *S3) completedEarlier(ctx context.Context, key string, size int64) bool {
	found, err := s.Head(ctx, key)
	return err == nil && found == size
}

// uploadParts uploads the parts, up to maxPartsInFlightPerPut at once, each
// holding a slot; the first failure cancels the others. With a pace, each
// part's body goes a quantum at a time, once pace lets it go.
func (s *S3) uploadParts(ctx context.Context, key string, uploadID *string, data []byte, partCount int, pace Pacer) ([]types.CompletedPart, error) {
	partBytes := s.config.MultipartPartBytes
	parts := make([]types.CompletedPart, partCount)
	group, groupCtx := errgroup.WithContext(ctx)
	group.SetLimit(min(maxPartsInFlightPerPut, s.config.MaxInFlight))
	for index := range partCount {
		start := int64(index) * partBytes
		end := min(start+partBytes, int64(len(data)))
		number := aws.Int32(int32(index + 1))
		group.Go(func() error {
			partCtx, cancel := context.WithCancel(groupCtx)
			defer cancel()
			body := s.newRequestBody(partCtx, cancel, data[start:end], pace)
			uploaded, err := withSlot(partCtx, s, func(ctx context.Context) (*s3.UploadPartOutput, error) {
				return s.client.UploadPart(ctx, &s3.UploadPartInput{
					Bucket:            aws.String(s.bucket),
					Key:               aws.String(key),
					UploadId:          uploadID,
					PartNumber:        number,
					Body:              body.reader,
					ContentLength:     aws.Int64(end - start),
					ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
					ChecksumCRC32:     body.crc32,
				}, body.opts...)
			})
			if err := body.result(err); err != nil {
				return s.wrap(fmt.Sprintf("put (part %d of %d)", index+1, partCount), key, err)
			}
			parts[index] = types.CompletedPart{
				ETag:          uploaded.ETag,
				PartNumber:    number,
				ChecksumCRC32: uploaded.ChecksumCRC32,
			}
			return nil
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	return parts, nil
}

// abortMultipart aborts an upload even when ctx has ended (that is often why
// the upload failed), within the time one request may take with its retries.
func (s *S3) abortMultipart(ctx context.Context, key string, uploadID *string) error {
	budget := s.config.RequestTimeout*time.Duration(s.config.MaxAttempts) + s.config.RetryMaxDelay*time.Duration(s.config.MaxAttempts)
	abortCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
	defer cancel()
	_, err := withSlot(abortCtx, s, func(ctx context.Context) (*s3.AbortMultipartUploadOutput, error) {
		return s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(s.bucket),
			Key:      aws.String(key),
			UploadId: uploadID,
		})
	})
	if code, _ := s3ErrorCode(err); err != nil && code != "NoSuchUpload" {
		return fmt.Errorf("objstore: s3 put %q: aborting multipart upload %s: %w", key, aws.ToString(uploadID), err)
	}
	return nil
}
