package objstore

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// S3Config is the validated content of an s3:// object-store URL plus the
// limits of the S3 client:
//
//	s3://bucket?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=true
//
// A zero field means "the default" (see [S3Config.EnsureDefaults]), so a
// parsed URL holds only what it says. Credentials are deliberately not part
// of the URL (it ends up in logs and process listings): [Open] takes static
// ones from the environment, else the SDK's default chain finds them.
type S3Config struct {
	// Bucket is the bucket name (S3 naming rules).
	Bucket string
	// Endpoint is the base URL of an S3-compatible service, empty for AWS.
	Endpoint string
	// Region is the signing region, empty to use the SDK's default chain
	// (and us-east-1 if that finds none).
	Region string
	// PathStyle addresses the bucket as endpoint/bucket instead of
	// bucket.endpoint, as versitygw, MinIO and most self-hosted stores need.
	PathStyle bool
	// CreateBucket makes NewS3 create the bucket if it does not exist
	// (create_bucket=true); otherwise a missing bucket is an error, because
	// a typo in the bucket name should not silently start an empty store.
	CreateBucket bool

	// MaxInFlight bounds the S3 requests in flight at once from this store
	// (max_in_flight, default 16): every request, a multipart part
	// included, holds one slot, retries and their back-off included, so a
	// throttling store slows its callers down instead of meeting more load.
	MaxInFlight int
	// RequestTimeout bounds one attempt of one request, its body included
	// (request_timeout, a Go duration, default 30s). It must cover a
	// multipart part or a large ranged GET at the slowest acceptable rate.
	RequestTimeout time.Duration
	// MaxAttempts is the number of attempts of one request, the first
	// included (max_attempts, default 5).
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the back-off between attempts:
	// attempt n waits a random time in [0, min(RetryMaxDelay,
	// RetryBaseDelay·2^(n-1))) ("full jitter"). Defaults 100ms and 5s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// MultipartThresholdBytes is the object size above which Put uses a
	// multipart upload (default 16 MiB); MultipartPartBytes is the size of
	// each part but the last (default 8 MiB; S3 requires at least 5 MiB).
	MultipartThresholdBytes int64
	MultipartPartBytes      int64
	// ListPageKeys is the page size of ListObjectsV2 (default and S3's
	// maximum 1000); tests lower it to exercise pagination.
	ListPageKeys int

	// Credentials are static credentials; zero means the SDK's default
	// chain. They print as "[redacted]".
	Credentials S3Credentials
}

// Defaults and limits of S3Config.
const (
	DefaultS3MaxInFlight             = 16
	DefaultS3RequestTimeout          = 30 * time.Second
	DefaultS3MaxAttempts             = 5
	DefaultS3RetryBaseDelay          = 100 * time.Millisecond
	DefaultS3RetryMaxDelay           = 5 * time.Second
	DefaultS3MultipartThresholdBytes = 16 << 20
	DefaultS3MultipartPartBytes      = 8 << 20

	// maxS3InFlight bounds the semaphore and the idle-connection pool.
	maxS3InFlight = 1024
	// maxS3Attempts keeps a misconfiguration from retrying for hours.
	maxS3Attempts = 20
	// minS3PartBytes and maxS3PartBytes are S3's limits on a part; a single
	// PutObject is limited to maxS3PartBytes too.
	minS3PartBytes = 5 << 20
	maxS3PartBytes = 5 << 30
	// maxS3Parts is S3's limit on the parts of one multipart upload.
	maxS3Parts = 10000
	// maxS3ListPageKeys is S3's limit on a ListObjectsV2 page.
	maxS3ListPageKeys = 1000
)

// EnsureDefaults replaces every zero limit with its default.
func (c *S3Config) EnsureDefaults() {
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultS3MaxInFlight
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultS3RequestTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultS3MaxAttempts
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultS3RetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = max(DefaultS3RetryMaxDelay, c.RetryBaseDelay)
	}
	if c.MultipartPartBytes == 0 {
		c.MultipartPartBytes = DefaultS3MultipartPartBytes
	}
	if c.MultipartThresholdBytes == 0 {
		c.MultipartThresholdBytes = max(DefaultS3MultipartThresholdBytes, c.MultipartPartBytes)
	}
	if c.ListPageKeys == 0 {
		c.ListPageKeys = maxS3ListPageKeys
	}
}

// Validate checks every field; call it after EnsureDefaults.
func (c *S3Config) Validate() error {
	if err := c.validate(); err != nil {
		return fmt.Errorf("objstore: s3: %w", err)
	}
	return nil
}

func (c *S3Config) validate() error {
	if err := validateBucket(c.Bucket); err != nil {
		return err
	}
	if c.Endpoint != "" {
		if err := validateEndpoint(c.Endpoint); err != nil {
			return err
		}
	}
	checks := []struct {
		ok   bool
		what string
	}{
		{c.MaxInFlight >= 1 && c.MaxInFlight <= maxS3InFlight, fmt.Sprintf("max_in_flight %d: want 1 to %d", c.MaxInFlight, maxS3InFlight)},
		{c.RequestTimeout > 0 && c.RequestTimeout <= time.Hour, fmt.Sprintf("request_timeout %v: want more than 0, at most 1h", c.RequestTimeout)},
		{c.MaxAttempts >= 1 && c.MaxAttempts <= maxS3Attempts, fmt.Sprintf("max_attempts %d: want 1 to %d", c.MaxAttempts, maxS3Attempts)},
		{c.RetryBaseDelay > 0 && c.RetryMaxDelay >= c.RetryBaseDelay && c.RetryMaxDelay <= 5*time.Minute,
			fmt.Sprintf("retry delays %v..%v: want 0 < base <= max <= 5m", c.RetryBaseDelay, c.RetryMaxDelay)},
		{c.MultipartPartBytes >= minS3PartBytes && c.MultipartPartBytes <= maxS3PartBytes,
			fmt.Sprintf("multipart part of %d bytes: want %d to %d", c.MultipartPartBytes, minS3PartBytes, int64(maxS3PartBytes))},
		{c.MultipartThresholdBytes >= c.MultipartPartBytes && c.MultipartThresholdBytes <= maxS3PartBytes,
			fmt.Sprintf("multipart threshold of %d bytes: want from the part size to %d", c.MultipartThresholdBytes, int64(maxS3PartBytes))},
		{c.ListPageKeys >= 1 && c.ListPageKeys <= maxS3ListPageKeys, fmt.Sprintf("list page of %d keys: want 1 to %d", c.ListPageKeys, maxS3ListPageKeys)},
	}
	for _, check := range checks {
		if !check.ok {
			return errors.New(check.what)
		}
	}
	return nil
}

// S3Credentials are static S3 credentials. Every way of printing them —
// fmt verbs, slog, JSON — shows "[redacted]", so a logged S3Config never
// carries a secret.
type S3Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// IsZero reports that no static credentials are set.
func (c S3Credentials) IsZero() bool { return c == S3Credentials{} }

// String returns "[redacted]", or "[default chain]" when no static
// credentials are set.
func (c S3Credentials) String() string {
	if c.IsZero() {
		return "[default chain]"
	}
	return "[redacted]"
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x) print String.
func (c S3Credentials) Format(state fmt.State, verb rune) {
	_, _ = state.Write([]byte(c.String()))
}

// LogValue keeps slog from printing the fields.
func (c S3Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON keeps encoding/json (and slog's JSON handler, which prints a
// nested S3Config through it) from printing the fields.
func (c S3Credentials) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(c.String())), nil
}

// Environment variables read by [S3CredentialsFromEnv].
const (
	EnvS3AccessKeyID     = "FLOE_S3_ACCESS_KEY_ID"
	EnvS3SecretAccessKey = "FLOE_S3_SECRET_ACCESS_KEY"
	EnvS3SessionToken    = "FLOE_S3_SESSION_TOKEN"
)

// S3CredentialsFromEnv reads static credentials through lookup (normally
// os.LookupEnv). None set yields zero credentials (the SDK's default chain,
// which reads AWS_ACCESS_KEY_ID and friends); a key id without a secret, or
// the reverse, is an error rather than a silent fall-back to another
// identity.
func S3CredentialsFromEnv(lookup func(string) (string, bool)) (S3Credentials, error) {
	get := func(name string) string {
		value, _ := lookup(name)
		return value
	}
	credentials := S3Credentials{
		AccessKeyID:     get(EnvS3AccessKeyID),
		SecretAccessKey: get(EnvS3SecretAccessKey),
		SessionToken:    get(EnvS3SessionToken),
	}
	if (credentials.AccessKeyID == "") != (credentials.SecretAccessKey == "") {
		return S3Credentials{}, fmt.Errorf("objstore: s3: set both %s and %s, or neither", EnvS3AccessKeyID, EnvS3SecretAccessKey)
	}
	if credentials.AccessKeyID == "" && credentials.SessionToken != "" {
		return S3Credentials{}, fmt.Errorf("objstore: s3: %s needs %s and %s", EnvS3SessionToken, EnvS3AccessKeyID, EnvS3SecretAccessKey)
	}
	return credentials, nil
}

// ParseS3URL parses and validates an s3:// URL. Unknown query parameters are
// errors, so that a misspelt "path-style" is not silently ignored. Fields the
// URL does not set stay zero (their defaults apply in NewS3).
//
//	endpoint=http://host:port   an S3-compatible service instead of AWS
//	region=us-east-1            the signing region
//	path_style=true             endpoint/bucket addressing
//	create_bucket=true          create the bucket if missing
//	max_in_flight=16            requests in flight at once
//	request_timeout=30s         one attempt of one request
//	max_attempts=5              attempts per request, the first included
func ParseS3URL(rawURL string) (S3Config, error) {
	parsed, err := url.Parse(rawURL)
	if err != nil {
		return S3Config{}, fmt.Errorf("objstore: object-store URL: %w", err)
	}
	if parsed.Scheme != "s3" {
		return S3Config{}, fmt.Errorf("objstore: %q is not an s3:// URL", rawURL)
	}
	if parsed.User != nil {
		return S3Config{}, fmt.Errorf("objstore: %q: credentials do not belong in the URL; use the environment or credentials file", parsed.Redacted())
	}
	if parsed.Path != "" && parsed.Path != "/" {
		return S3Config{}, fmt.Errorf("objstore: %q: a key prefix inside the bucket is not supported", rawURL)
	}
	if parsed.Fragment != "" {
		return S3Config{}, fmt.Errorf("objstore: %q: unexpected fragment", rawURL)
	}
	config := S3Config{Bucket: parsed.Host}
	if err := validateBucket(config.Bucket); err != nil {
		return S3Config{}, fmt.Errorf("objstore: %q: %w", rawURL, err)
	}
	if err := config.applyQuery(parsed.Query()); err != nil {
		return S3Config{}, fmt.Errorf("objstore: %q: %w", rawURL, err)
	}
	checked := config
	checked.EnsureDefaults()
	if err := checked.validate(); err != nil {
		return S3Config{}, fmt.Errorf("objstore: %q: %w", rawURL, err)
	}
	return config, nil
}

func (c *S3Config) applyQuery(query url.Values) error {
	for name, values := range query {
		if len(values) != 1 {
			return fmt.Errorf("parameter %q given %d times", name, len(values))
		}
		if err := c.applyParameter(name, values[0]); err != nil {
			return err
		}
	}
	return nil
}

func (c *S3Config) applyParameter(name, value string) error {
	var err error
	switch name {
	case "endpoint":
		if err := validateEndpoint(value); err != nil {
			return err
		}
		c.Endpoint = value
	case "region":
		if value == "" || strings.ContainsAny(value, " /?#") {
			return fmt.Errorf("invalid region %q", value)
		}
		c.Region = value
	case "path_style":
		c.PathStyle, err = strconv.ParseBool(value)
	case "create_bucket":
		c.CreateBucket, err = strconv.ParseBool(value)
	case "max_in_flight":
		c.MaxInFlight, err = parsePositive(value)
	case "max_attempts":
		c.MaxAttempts, err = parsePositive(value)
	case "request_timeout":
		c.RequestTimeout, err = time.ParseDuration(value)
		if err == nil && c.RequestTimeout <= 0 {
			err = fmt.Errorf("want a positive duration, got %q", value)
		}
	default:
		return fmt.Errorf("unknown parameter %q (known: endpoint, region, path_style, create_bucket, max_in_flight, request_timeout, max_attempts)", name)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func parsePositive(value string) (int, error) {
	number, err := strconv.Atoi(value)
	if err != nil {
		return 0, err
	}
	if number <= 0 {
		return 0, fmt.Errorf("want a positive number, got %d", number)
	}
	return number, nil
}

func validateEndpoint(endpoint string) error {
	parsed, err := url.Parse(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" {
		return fmt.Errorf("endpoint %q: want an http:// or https:// URL", endpoint)
	}
	if parsed.Host == "" {
		return fmt.Errorf("endpoint %q: no host", endpoint)
	}
	if parsed.User != nil {
		return fmt.Errorf("endpoint %q: credentials do not belong in the URL", parsed.Redacted())
	}
	return nil
}

// validateBucket applies S3's bucket naming rules: 3 to 63 characters of
// lower-case letters, digits, '.' and '-', beginning and ending with a letter
// or digit.
func validateBucket(bucket string) error {
	if len(bucket) < 3 || len(bucket) > 63 {
		return fmt.Errorf("bucket %q: want 3 to 63 characters", bucket)
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		letterOrDigit := (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		if !letterOrDigit && c != '.' && c != '-' {
			return fmt.Errorf("bucket %q: character %q not allowed", bucket, c)
		}
		if !letterOrDigit && (i == 0 || i == len(bucket)-1) {
			return fmt.Errorf("bucket %q: must begin and end with a letter or digit", bucket)
		}
	}
	if strings.Contains(bucket, "..") {
		return fmt.Errorf("bucket %q: two adjacent periods", bucket)
	}
	return nil
}
