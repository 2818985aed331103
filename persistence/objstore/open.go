package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Open returns the Store named by an --object-store value, with
// context.Background for the S3 bucket check (which is bounded by the
// store's own request timeout and retry limit); see [OpenContext].
func Open(rawURL string) (Store, error) {
	return OpenContext(context.Background(), rawURL)
}

// OpenContext returns the Store named by an --object-store value:
//
//	file:///abs/dir   a LocalDir at /abs/dir
//	/abs/dir, rel/dir a LocalDir (a plain path, no scheme)
//	s3://bucket?...   an [S3] store (see [ParseS3URL] for the parameters)
//
// For s3:// the static credentials come from the environment
// (FLOE_S3_ACCESS_KEY_ID, FLOE_S3_SECRET_ACCESS_KEY, optional
// FLOE_S3_SESSION_TOKEN), else from the AWS SDK's default chain. ctx bounds
// the bucket check NewS3 makes; the store does not keep it.
func OpenContext(ctx context.Context, rawURL string) (Store, error) {
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
		config, err := ParseS3URL(rawURL)
		if err != nil {
			return nil, err
		}
		if config.Credentials, err = S3CredentialsFromEnv(os.LookupEnv); err != nil {
			return nil, err
		}
		return NewS3(ctx, config)
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
