package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
)

// defaultS3Region signs requests when neither the URL nor the SDK's chain
// names a region; S3-compatible servers accept it.
const defaultS3Region = "us-east-1"

// newS3Client builds the SDK client: the HTTP client with the per-attempt
// timeout, the one retryer, credentials, endpoint and addressing.
func newS3Client(ctx context.Context, config S3Config) (*s3.Client, error) {
	httpClient := awshttp.NewBuildableClient().
		// Client.Timeout covers one attempt from dial to the last byte of
		// the body (readWholeBody reads it inside the attempt).
		WithTimeout(config.RequestTimeout).
		WithTransportOptions(func(transport *http.Transport) {
			// Keep a warm connection for every slot; Go's default of 2 idle
			// connections per host would redial under load.
			transport.MaxIdleConnsPerHost = config.MaxInFlight
		})
	options := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(httpClient),
		awsconfig.WithRetryer(func() aws.Retryer { return newS3Retryer(config) }),
	}
	if config.Region != "" {
		options = append(options, awsconfig.WithRegion(config.Region))
	}
	if !config.Credentials.IsZero() {
		static := credentials.NewStaticCredentialsProvider(
			config.Credentials.AccessKeyID, config.Credentials.SecretAccessKey, config.Credentials.SessionToken)
		options = append(options, awsconfig.WithCredentialsProvider(static))
	}
	awsConfig, err := awsconfig.LoadDefaultConfig(ctx, options...)
	if err != nil {
		return nil, fmt.Errorf("objstore: s3: loading the AWS configuration: %w", err)
	}
	if awsConfig.Region == "" {
		awsConfig.Region = defaultS3Region
	}
	client := s3.NewFromConfig(awsConfig, func(o *s3.Options) {
		if config.Endpoint != "" {
			o.BaseEndpoint = aws.String(config.Endpoint)
		}
		o.UsePathStyle = config.PathStyle
		// Overrides AWS_MAX_ATTEMPTS from the environment: the URL and the
		// defaults here are the one source of the retry policy.
		o.RetryMaxAttempts = config.MaxAttempts
		// Response checksums are validated where asked for (Get asks for
		// whole-object reads): a ranged GET cannot be checked against the
		// object's checksum, and some S3-compatible servers send it anyway.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		// A multipart object's composite checksum cannot be validated; that
		// is expected, not worth a line on stderr for every read.
		o.DisableLogOutputChecksumValidationSkipped = true
		o.APIOptions = append(o.APIOptions, addReadWholeBody)
	})
	return client, nil
}

// newS3Retryer is the only retry loop around S3 requests: the SDK's standard
// retryer, which already retries 500/502/503/504, unmodelled 429s,
// throttling codes (SlowDown, …), RequestTimeout, timeouts and connection
// errors, and never a cancelled context. Changed from its defaults:
//   - an explicit 429 rule, for servers that send a modelled error with it;
//   - our full-jitter back-off, so its delays follow the config (the SDK's
//     own uses a 1 s base for throttling, which tests cannot shorten);
//   - no client-side retry quota: the quota fails calls at once after a
//     burst of errors, but floe's callers already wait and try again later
//     (uploads stay in the WAL), and MaxInFlight bounds the load; a call
//     should fail only after its own MaxAttempts.
func newS3Retryer(config S3Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = config.MaxAttempts
		o.MaxBackoff = config.RetryMaxDelay
		o.Backoff = fullJitterBackoff{base: config.RetryBaseDelay, ceiling: config.RetryMaxDelay}
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.RetryableHTTPStatusCode{
			Codes: map[int]struct{}{http.StatusTooManyRequests: {}},
		})
	})
}

// fullJitterBackoff waits a random time in [0, min(ceiling, base·2^(n-1)))
// after failed attempt n (1-based): "full jitter", which spreads the retries
// of many brokers hit by one outage instead of synchronising them.
type fullJitterBackoff struct {
	base    time.Duration
	ceiling time.Duration
}

func (b fullJitterBackoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	limit := b.ceiling
	if shift := attempt - 1; shift >= 0 && shift < 32 {
		if grown := b.base << shift; grown > 0 && grown < limit {
			limit = grown
		}
	}
	return rand.N(limit), nil
}

// addReadWholeBody installs readWholeBody in the deserialize step, which runs
// inside each attempt of the retry loop (the Finalize step).
func addReadWholeBody(stack *middleware.Stack) error {
	return stack.Deserialize.Add(middleware.DeserializeMiddlewareFunc("FloeReadWholeBody", readWholeBody), middleware.Before)
}

// readWholeBody reads a GetObject body to the end before the attempt ends.
// Left to the caller, a body cut short by a reset connection or a stalled
// server would fail the call with no retry; read here, the failure is the
// attempt's and the retryer treats it like any other transient error. It
// also reads through the SDK's checksum-validating reader to its EOF, so a
// corrupt body fails too.
func readWholeBody(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
	out, metadata, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, metadata, err
	}
	output, ok := out.Result.(*s3.GetObjectOutput)
	if !ok || output.Body == nil {
		return out, metadata, nil
	}
	into, _ := ctx.Value(readIntoKey{}).(*readInto)
	if into != nil && aws.ToString(output.ContentRange) != "" && aws.ToInt64(output.ContentLength) == into.total {
		err := into.readFrom(output.Body)
		_ = output.Body.Close()
		if err != nil {
			return out, metadata, &bodyReadError{err: err, retryable: ctx.Err() == nil}
		}
		output.Body = &bufferedBody{Reader: bytes.NewReader(nil)}
		return out, metadata, nil
	}
	data, err := readAll(output.Body, output.ContentLength)
	_ = output.Body.Close() // the data, or the read error, is what counts
	if err != nil {
		return out, metadata, &bodyReadError{err: err, retryable: ctx.Err() == nil}
	}
	output.Body = &bufferedBody{Reader: bytes.NewReader(data), data: data}
	return out, metadata, nil
}

// readIntoKey carries a GetInto's buffers to readWholeBody in the request's
// context.
type readIntoKey struct{}

// readInto is where a GetInto wants its range: readWholeBody reads a body
// of exactly total bytes into dst and sets filled. An attempt that fails
// part way leaves dst to the next, which writes it again from the start.
type readInto struct {
	dst    [][]byte
	total  int64
	filled bool
}

// readFrom fills dst from a body whose Content-Length is total; the HTTP
// client ends the body there, so only a short one is an error.
func (r *readInto) readFrom(body io.Reader) error {
	for _, buf := range r.dst {
		if _, err := io.ReadFull(body, buf); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	r.filled = true
	return nil
}

// readAll reads body to EOF into one allocation when its length is known.
func readAll(body io.Reader, contentLength *int64) ([]byte, error) {
	capacity := int64(bytes.MinRead)
	if contentLength != nil && *contentLength >= 0 {
		capacity += *contentLength
	}
	buffer := bytes.NewBuffer(make([]byte, 0, capacity))
	if _, err := buffer.ReadFrom(body); err != nil {
		return nil, err
	}
	if contentLength != nil && int64(buffer.Len()) != *contentLength {
		return nil, fmt.Errorf("got %d bytes of a %d-byte body: %w", buffer.Len(), *contentLength, io.ErrUnexpectedEOF)
	}
	return buffer.Bytes(), nil
}

// bodyReadError is a failed read of a response body. It is retryable unless
// the caller's context ended (the retryer consults RetryableError).
type bodyReadError struct {
	err       error
	retryable bool
}

func (e *bodyReadError) Error() string        { return "reading the response body: " + e.err.Error() }
func (e *bodyReadError) Unwrap() error        { return e.err }
func (e *bodyReadError) RetryableError() bool { return e.retryable }

// bufferedBody is a GetObject body already read by readWholeBody; Get takes
// its bytes without a copy.
type bufferedBody struct {
	*bytes.Reader
	data []byte
}

func (*bufferedBody) Close() error { return nil }

// bodyBytes returns the bytes of a GetObject body.
func bodyBytes(body io.ReadCloser) ([]byte, error) {
	if buffered, ok := body.(*bufferedBody); ok {
		return buffered.data, nil
	}
	defer body.Close()
	return io.ReadAll(body) // only if readWholeBody was not installed
}
