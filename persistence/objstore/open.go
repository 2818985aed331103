package objstore

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrS3NotBuilt is returned (wrapped) by Open for an s3:// URL until the S3
// implementation exists. The URL is parsed and validated first, so a typo is
// reported as such, not as this error.
var ErrS3NotBuilt = errors.New("objstore: the S3 object store is not built yet; use file:///dir")

// S3Config is the validated content of an s3:// object-store URL:
//
//	s3://bucket?endpoint=http://minio:9000&region=us-east-1&path_style=true
//
// Credentials are deliberately not part of the URL (it ends up in logs and
// process listings); the S3 client takes them from its default chain.
type S3Config struct {
	// Bucket is the bucket name (S3 naming rules).
	Bucket string
	// Endpoint is the base URL of an S3-compatible service, empty for AWS.
	Endpoint string
	// Region is the signing region, empty to use the SDK's default chain.
	Region string
	// PathStyle addresses the bucket as endpoint/bucket instead of
	// bucket.endpoint, as MinIO and most self-hosted stores need.
	PathStyle bool
}

// Open returns the Store named by an --object-store value:
//
//	file:///abs/dir   a LocalDir at /abs/dir
//	/abs/dir, rel/dir a LocalDir (a plain path, no scheme)
//	s3://bucket?...   parsed into an S3Config; not built yet (ErrS3NotBuilt)
func Open(rawURL string) (Store, error) {
	scheme, _, hasScheme := strings.Cut(rawURL, "://")
	if !hasScheme {
		if rawURL == "" {
			return nil, errors.New("objstore: empty object-store URL")
		}
		return NewLocalDir(rawURL)
	}
	switch scheme {
	case "file":
		dir, err := parseFileURL(rawURL)
		if err != nil {
			return nil, err
		}
		return NewLocalDir(dir)
	case "s3":
		if _, err := ParseS3URL(rawURL); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w (%s)", ErrS3NotBuilt, rawURL)
	default:
		return nil, fmt.Errorf("objstore: unknown object-store scheme %q in %q (want file:// or s3://)", scheme, rawURL)
	}
}

// parseFileURL accepts file:///abs/dir and file://localhost/abs/dir.
func parseFileURL(rawURL string) (string, error) {
	parsed, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("objstore: object-store URL: %w", err)
	}
	if parsed.Host != "" && parsed.Host != "localhost" {
		return "", fmt.Errorf("objstore: %q: a file URL cannot name host %q (want file:///abs/dir)", rawURL, parsed.Host)
	}
	if parsed.RawQuery != "" || parsed.Fragment != "" || parsed.User != nil {
		return "", fmt.Errorf("objstore: %q: a file URL takes no user, query or fragment", rawURL)
	}
	if !filepath.IsAbs(parsed.Path) {
		return "", fmt.Errorf("objstore: %q: a file URL needs an absolute path (file:///abs/dir)", rawURL)
	}
	return filepath.Clean(parsed.Path), nil
}

// ParseS3URL parses and validates an s3:// URL. Unknown query parameters are
// errors, so that a misspelt "path-style" is not silently ignored.
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
	return config, nil
}

func (c *S3Config) applyQuery(query url.Values) error {
	for name, values := range query {
		if len(values) != 1 {
			return fmt.Errorf("parameter %q given %d times", name, len(values))
		}
		value := values[0]
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
			pathStyle, err := strconv.ParseBool(value)
			if err != nil {
				return fmt.Errorf("path_style: %w", err)
			}
			c.PathStyle = pathStyle
		default:
			return fmt.Errorf("unknown parameter %q (known: endpoint, region, path_style)", name)
		}
	}
	return nil
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
