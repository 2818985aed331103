package objstore

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
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

func TestOpenS3IsNotBuiltYet(t *testing.T) {
	_, err := Open("s3://my-bucket?region=eu-west-1")
	if !errors.Is(err, ErrS3NotBuilt) {
		t.Fatalf("Open(s3 URL) error = %v, want ErrS3NotBuilt", err)
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
