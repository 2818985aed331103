package objstore

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenLocal(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"file://" + filepath.Join(dir, "one"),
		"file://localhost" + filepath.Join(dir, "two"),
		filepath.Join(dir, "three"),
	} {
		store, err := Open(url)
		if err != nil {
			t.Fatalf("Open(%q): %v", url, err)
		}
		local, ok := store.(*LocalDir)
		if !ok {
			t.Fatalf("Open(%q) = %T, want *LocalDir", url, store)
		}
		if want := filepath.Join(dir, filepath.Base(url)); local.Root() != want {
			t.Errorf("Open(%q) root = %q, want %q", url, local.Root(), want)
		}
	}
}

func TestOpenRejects(t *testing.T) {
	for _, url := range []string{
		"",
		"file://relative/dir",
		"file:///dir?x=1",
		"gs://bucket",
		"s3://",
		"s3://Bad_Bucket",
	} {
		if store, err := Open(url); err == nil {
			t.Errorf("Open(%q) = %T, want an error", url, store)
		}
	}
}

func TestParseS3URL(t *testing.T) {
	tests := []struct {
		url  string
		want S3Config
	}{
		{"s3://bucket", S3Config{Bucket: "bucket"}},
		{"s3://my.bucket-1/", S3Config{Bucket: "my.bucket-1"}},
		{
			"s3://floe?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
			S3Config{Bucket: "floe", Endpoint: "http://127.0.0.1:9000", Region: "us-east-1", PathStyle: true},
		},
		{"s3://floe?path_style=false", S3Config{Bucket: "floe"}},
		{"s3://floe?endpoint=https%3A%2F%2Fs3.example.com", S3Config{Bucket: "floe", Endpoint: "https://s3.example.com"}},
		{
			"s3://floe?create_bucket=true&max_in_flight=4&request_timeout=1m30s&max_attempts=7",
			S3Config{Bucket: "floe", CreateBucket: true, MaxInFlight: 4, RequestTimeout: 90 * time.Second, MaxAttempts: 7},
		},
	}
	for _, test := range tests {
		got, err := ParseS3URL(test.url)
		if err != nil || got != test.want {
			t.Errorf("ParseS3URL(%q) = %+v, %v; want %+v", test.url, got, err, test.want)
		}
	}
}

func TestParseS3URLRejects(t *testing.T) {
	tests := []struct{ url, mention string }{
		{"s3://", "bucket"},
		{"s3://ab", "3 to 63"},
		{"s3://" + strings.Repeat("b", 64), "3 to 63"},
		{"s3://Bucket", "not allowed"},
		{"s3://bucket_1", "not allowed"},
		{"s3://-bucket", "begin and end"},
		{"s3://bucket.", "begin and end"},
		{"s3://a..b", "adjacent"},
		{"s3://bucket:9000", "not allowed"},
		{"s3://bucket/prefix", "prefix"},
		{"s3://key:secret@bucket", "credentials"},
		{"s3://bucket?path-style=true", "unknown parameter"},
		{"s3://bucket?path_style=maybe", "path_style"},
		{"s3://bucket?region=a&region=b", "2 times"},
		{"s3://bucket?region=", "region"},
		{"s3://bucket?endpoint=minio:9000", "http"},
		{"s3://bucket?endpoint=http://", "no host"},
		{"s3://bucket#x", "fragment"},
		{"s3://bucket?create_bucket=yes", "create_bucket"},
		{"s3://bucket?max_in_flight=0", "max_in_flight"},
		{"s3://bucket?max_in_flight=5000", "max_in_flight"},
		{"s3://bucket?max_attempts=x", "max_attempts"},
		{"s3://bucket?max_attempts=21", "max_attempts"},
		{"s3://bucket?request_timeout=30", "request_timeout"},
		{"s3://bucket?request_timeout=-1s", "request_timeout"},
		{"s3://bucket?request_timeout=2h", "request_timeout"},
		{"file:///x", "not an s3"},
	}
	for _, test := range tests {
		_, err := ParseS3URL(test.url)
		if err == nil || !strings.Contains(err.Error(), test.mention) {
			t.Errorf("ParseS3URL(%q) error = %v, want one mentioning %q", test.url, err, test.mention)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseS3URL(%q) error leaks the secret: %v", test.url, err)
		}
	}
}
