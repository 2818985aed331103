package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const (
	testBucket       = "floe-test"
	testAccessKeyID  = "test-access-key"
	testSecretAccess = "test-secret-never-printed"
)

// fakeS3 is an in-process gofakes3 server (memory backend) behind a
// faultHandler that counts requests by S3 operation and injects faults.
type fakeS3 struct {
	server *httptest.Server
	faults *faultHandler
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	faker := gofakes3.New(s3mem.New())
	faults := newFaultHandler(faker.Server())
	server := httptest.NewServer(faults)
	t.Cleanup(func() {
		faults.releaseStalls()
		server.Close()
	})
	return &fakeS3{server: server, faults: faults}
}

// config returns an S3Config for the fake with fast retries.
func (f *fakeS3) config() S3Config {
	return S3Config{
		Bucket:         testBucket,
		Endpoint:       f.server.URL,
		Region:         "us-east-1",
		PathStyle:      true,
		CreateBucket:   true,
		RequestTimeout: 5 * time.Second,
		MaxAttempts:    4,
		RetryBaseDelay: time.Millisecond,
		RetryMaxDelay:  5 * time.Millisecond,
		Credentials:    S3Credentials{AccessKeyID: testAccessKeyID, SecretAccessKey: testSecretAccess},
	}
}

// newStore returns an S3 store on the fake, with change applied to the
// config first (nil for none), and resets the request counts.
func (f *fakeS3) newStore(t *testing.T, change func(*S3Config)) *S3 {
	t.Helper()
	config := f.config()
	if change != nil {
		change(&config)
	}
	store, err := NewS3(context.Background(), config)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	f.faults.resetCounts()
	return store
}

func TestS3Contract(t *testing.T) {
	fake := newFakeS3(t)
	checkStoreContract(t, fake.newStore(t, nil), "contract")
}

func TestS3ListPaginates(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, func(c *S3Config) { c.ListPageKeys = 7 })
	const count = 60
	var want []string
	for id := range uint64(count) {
		key := "p/" + ObjectKey(id)
		mustPut(t, store, key, []byte{byte(id)})
		want = append(want, key)
	}
	mustPut(t, store, "q/other", nil) // outside the prefix
	fake.faults.resetCounts()
	got, err := store.List(ctx, "p/")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("List = %d keys %q…, want %d keys %q…", len(got), got[:min(3, len(got))], len(want), want[:3])
	}
	if pages, wantPages := fake.faults.count("ListObjectsV2"), (count+6)/7; pages != wantPages {
		t.Errorf("List made %d ListObjectsV2 requests, want %d pages of 7", pages, wantPages)
	}
}

// TestS3ListMoreThanOnePageOfDefaultSize lists more keys than S3's largest
// page (1000), with the default page size.
func TestS3ListMoreThanOnePageOfDefaultSize(t *testing.T) {
	if testing.Short() {
		t.Skip("1,001 puts")
	}
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	const count = 1001
	var group sync.WaitGroup
	for worker := range 8 {
		group.Go(func() {
			for id := uint64(worker); id < count; id += 8 {
				if err := store.Put(ctx, ObjectKey(id), nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	group.Wait()
	fake.faults.resetCounts()
	got, err := store.List(ctx, "")
	if err != nil || len(got) != count {
		t.Fatalf("List = %d keys, %v; want %d", len(got), err, count)
	}
	if pages := fake.faults.count("ListObjectsV2"); pages != 2 {
		t.Errorf("List made %d ListObjectsV2 requests, want 2", pages)
	}
}

func TestS3MultipartPut(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, func(c *S3Config) {
		c.MultipartPartBytes = minS3PartBytes
		c.MultipartThresholdBytes = minS3PartBytes + 1<<20
	})
	data := patterned(2*minS3PartBytes + 1234) // three parts, the last short
	mustPut(t, store, "big/object", data)
	for op, want := range map[string]int{"CreateMultipartUpload": 1, "UploadPart": 3, "CompleteMultipartUpload": 1, "PutObject": 0, "AbortMultipartUpload": 0} {
		if got := fake.faults.count(op); got != want {
			t.Errorf("%d %s requests, want %d", got, op, want)
		}
	}
	got, err := store.Get(ctx, "big/object", 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	// A range across the boundary between parts 1 and 2.
	offset := int64(minS3PartBytes - 10)
	got, err = store.Get(ctx, "big/object", offset, 20)
	if err != nil || !bytes.Equal(got, data[offset:offset+20]) {
		t.Fatalf("Get across parts = %v, %v; want %v", got, err, data[offset:offset+20])
	}
	if size, err := store.Head(ctx, "big/object"); err != nil || size != int64(len(data)) {
		t.Fatalf("Head = %d, %v; want %d", size, err, len(data))
	}
	// At the threshold exactly, one PutObject.
	fake.faults.resetCounts()
	mustPut(t, store, "big/at-threshold", patterned(minS3PartBytes+1<<20))
	if puts, creates := fake.faults.count("PutObject"), fake.faults.count("CreateMultipartUpload"); puts != 1 || creates != 0 {
		t.Errorf("Put at the threshold: %d PutObject, %d CreateMultipartUpload; want 1, 0", puts, creates)
	}
}

// newMultipartStore is a store on the fake that uploads every object larger
// than one minimal part in parts of that size.
func (f *fakeS3) newMultipartStore(t *testing.T) *S3 {
	return f.newStore(t, func(c *S3Config) {
		c.MultipartPartBytes = minS3PartBytes
		c.MultipartThresholdBytes = minS3PartBytes
	})
}

// A paced multipart upload sends each part a quantum at a time, each once
// the pacer lets it go; a pacer that refuses in the middle aborts the upload.
func TestS3MultipartPutPaced(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newMultipartStore(t)
	data := patterned(2*minS3PartBytes + 1234)
	var log pacerLog
	if err := store.PutPaced(ctx, "paced/object", data, log.pace); err != nil {
		t.Fatal(err)
	}
	if got := log.total(); got != len(data) {
		t.Fatalf("pacer asked for %d bytes in all, want %d: each part sent once", got, len(data))
	}
	if n := slices.Max(log.calls); n > pacedBodyQuantum {
		t.Fatalf("pacer asked for %d bytes at once, want at most %d", n, pacedBodyQuantum)
	}
	if got, err := store.Get(ctx, "paced/object", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	fake.faults.resetCounts()
	refusing := pacerLog{fail: 2}
	if err := store.PutPaced(ctx, "paced/refused", data, refusing.pace); !errors.Is(err, errPaced) {
		t.Fatalf("PutPaced with a pacer refusing its second quantum = %v, want its error", err)
	}
	for op, want := range map[string]int{"AbortMultipartUpload": 1, "CompleteMultipartUpload": 0} {
		if got := fake.faults.count(op); got != want {
			t.Errorf("%d %s requests, want %d", got, op, want)
		}
	}
	if _, err := store.Head(ctx, "paced/refused"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head after a refused PutPaced = %v, want ErrNotFound", err)
	}
}

// A paced body is rewound for a retry, and the bytes sent again are paced
// again: the server took the whole first attempt and then failed it.
func TestS3PutPacedRetryPacesAgain(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newStore(t, nil)
	fake.faults.add(&faultRule{op: "PutObject", remaining: 1, lose: true, status: http.StatusInternalServerError, code: "InternalError"})
	data := patterned(3*pacedBodyQuantum + 100)
	var log pacerLog
	if err := store.PutPaced(ctx, "paced/retried", data, log.pace); err != nil {
		t.Fatal(err)
	}
	if got := fake.faults.count("PutObject"); got != 2 {
		t.Fatalf("%d PutObject requests, want 2 (a lost answer and a retry)", got)
	}
	if got := log.total(); got != 2*len(data) {
		t.Fatalf("pacer asked for %d bytes in all, want %d: the body twice", got, 2*len(data))
	}
	if got, err := store.Get(ctx, "paced/retried", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
}

func TestS3MultipartAbortsOnFailure(t *testing.T) {
	ctx := context.Background()
	fake := newFakeS3(t)
	store := fake.newMultipartStore(t)
	// A permanent, non-retryable failure of every part.
	fake.faults.add(&faultRule{op: "UploadPart", remaining: -1, status: http.StatusForbidden, code: "AccessDenied"})
	err := store.Put(ctx, "big/failed", patterned(minS3PartBytes+1))
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("Put error = %v, want AccessDenied", err)
	}
	if aborts := fake.faults.count("AbortMultipartUpload"); aborts != 1 {
		t.Errorf("%d AbortMultipartUpload requests, want 1", aborts)
	}
	if completes := fake.faults.count("CompleteMultipartUpload"); completes != 0 {
		t.Errorf("%d CompleteMultipartUpload requests after a failed part, want 0", completes)
	}
	if _, err := store.Head(ctx, "big/failed"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head after a failed multipart Put error = %v, want ErrNotFound", err)
	}
}

func TestS3MultipartAbortsOnCancel(t *testing.T) {
	fake := newFakeS3(t)
	store := fake.newMultipartStore(t)
	fake.faults.add(&faultRule{op: "UploadPart", remaining: -1, stall: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Put(ctx, "big/cancelled", patterned(minS3PartBytes+1)) }()
	fake.faults.waitStalled(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Put error = %v, want context.Canceled", err)
	}
	// The abort ran on a context of its own, after the cancel.
	if aborts := fake.faults.count("AbortMultipartUpload"); aborts != 1 {
		t.Errorf("%d AbortMultipartUpload requests, want 1", aborts)
	}
}

func TestS3BucketCheck(t *testing.T) {
	fake := newFakeS3(t)
	config := fake.config()
	config.CreateBucket = false
	_, err := NewS3(context.Background(), config)
	if err == nil || !strings.Contains(err.Error(), "create_bucket=true") {
		t.Fatalf("NewS3 on a missing bucket error = %v, want one naming create_bucket=true", err)
	}
	config.CreateBucket = true
	for range 2 { // creates it, then finds it
		if _, err := NewS3(context.Background(), config); err != nil {
			t.Fatalf("NewS3 with create_bucket: %v", err)
		}
	}
	if creates := fake.faults.count("CreateBucket"); creates != 1 {
		t.Errorf("%d CreateBucket requests, want 1", creates)
	}
}

func TestOpenS3(t *testing.T) {
	fake := newFakeS3(t)
	t.Setenv(EnvS3AccessKeyID, testAccessKeyID)
	t.Setenv(EnvS3SecretAccessKey, testSecretAccess)
	rawURL := fmt.Sprintf("s3://%s?endpoint=%s&region=us-east-1&path_style=true&create_bucket=true&max_in_flight=3&request_timeout=2s&max_attempts=2",
		testBucket, fake.server.URL)
	store, err := Open(rawURL)
	if err != nil {
		t.Fatalf("Open(%q): %v", rawURL, err)
	}
	s3Store, ok := store.(*S3)
	if !ok {
		t.Fatalf("Open = %T, want *S3", store)
	}
	got := s3Store.Config()
	if got.MaxInFlight != 3 || got.RequestTimeout != 2*time.Second || got.MaxAttempts != 2 || got.Credentials.AccessKeyID != testAccessKeyID {
		t.Errorf("Config() = %+v", got)
	}
	mustPut(t, store, "k", []byte("v"))
}

func TestOpenS3RejectsHalfCredentials(t *testing.T) {
	t.Setenv(EnvS3AccessKeyID, testAccessKeyID)
	t.Setenv(EnvS3SecretAccessKey, "")
	_, err := Open("s3://floe-test?endpoint=http://127.0.0.1:1&region=us-east-1")
	if err == nil || !strings.Contains(err.Error(), EnvS3SecretAccessKey) {
		t.Fatalf("Open with only a key id error = %v, want one naming %s", err, EnvS3SecretAccessKey)
	}
}

func TestS3CredentialsNeverPrinted(t *testing.T) {
	config := S3Config{Bucket: testBucket, Credentials: S3Credentials{
		AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: testSecretAccess, SessionToken: "token-never-printed",
	}}
	var printed []string
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		printed = append(printed, fmt.Sprintf(format, config), fmt.Sprintf(format, config.Credentials))
	}
	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("s3", "config", config, "credentials", config.Credentials)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("s3", "config", config, "credentials", config.Credentials)
	printed = append(printed, text.String(), json.String())
	for _, output := range printed {
		for _, secret := range []string{"AKIDEXAMPLE", testSecretAccess, "token-never-printed"} {
			if strings.Contains(output, secret) {
				t.Errorf("printed credentials: %s", output)
			}
		}
	}
}

func TestS3CredentialsFromEnv(t *testing.T) {
	env := func(values map[string]string) func(string) (string, bool) {
		return func(name string) (string, bool) { value, ok := values[name]; return value, ok }
	}
	got, err := S3CredentialsFromEnv(env(map[string]string{EnvS3AccessKeyID: "id", EnvS3SecretAccessKey: "secret"}))
	if err != nil || got != (S3Credentials{AccessKeyID: "id", SecretAccessKey: "secret"}) {
		t.Errorf("both set: %v, %v", got.AccessKeyID, err)
	}
	if got, err := S3CredentialsFromEnv(env(nil)); err != nil || !got.IsZero() {
		t.Errorf("none set: want zero credentials (the default chain), got err %v", err)
	}
	for _, values := range []map[string]string{
		{EnvS3AccessKeyID: "id"},
		{EnvS3SecretAccessKey: "secret"},
		{EnvS3SessionToken: "token"},
	} {
		if _, err := S3CredentialsFromEnv(env(values)); err == nil {
			t.Errorf("%v: want an error", values)
		}
	}
}

func TestS3ConfigValidate(t *testing.T) {
	valid := S3Config{Bucket: testBucket}
	valid.EnsureDefaults()
	if err := valid.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if valid.MaxInFlight != 16 || valid.MultipartThresholdBytes != 16<<20 || valid.MultipartPartBytes != 8<<20 || valid.ListPageKeys != 1000 {
		t.Errorf("defaults = %+v", valid)
	}
	for name, change := range map[string]func(*S3Config){
		"max_in_flight":  func(c *S3Config) { c.MaxInFlight = maxS3InFlight + 1 },
		"max_attempts":   func(c *S3Config) { c.MaxAttempts = -1 },
		"request":        func(c *S3Config) { c.RequestTimeout = 2 * time.Hour },
		"retry":          func(c *S3Config) { c.RetryMaxDelay = c.RetryBaseDelay / 2 },
		"part":           func(c *S3Config) { c.MultipartPartBytes = 1 << 20 },
		"threshold":      func(c *S3Config) { c.MultipartThresholdBytes = c.MultipartPartBytes - 1 },
		"list page":      func(c *S3Config) { c.ListPageKeys = 1001 },
		"bucket":         func(c *S3Config) { c.Bucket = "No" },
		"endpoint":       func(c *S3Config) { c.Endpoint = "ftp://x" },
		"negative delay": func(c *S3Config) { c.RetryBaseDelay = -1 },
	} {
		config := valid
		change(&config)
		if err := config.Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, config)
		}
	}
}

func TestFullJitterBackoff(t *testing.T) {
	backoff := fullJitterBackoff{base: 10 * time.Millisecond, ceiling: 100 * time.Millisecond}
	for attempt, limit := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 4: 80 * time.Millisecond, 5: 100 * time.Millisecond, 60: 100 * time.Millisecond} {
		for range 200 {
			delay, err := backoff.BackoffDelay(attempt, nil)
			if err != nil || delay < 0 || delay >= limit {
				t.Fatalf("BackoffDelay(%d) = %v, %v; want in [0, %v)", attempt, delay, err, limit)
			}
		}
	}
}

func TestS3ErrorClassification(t *testing.T) {
	responseError := func(status int, code string) error {
		var apiError error
		if code != "" {
			apiError = &smithy.GenericAPIError{Code: code, Message: "test"}
		}
		return fmt.Errorf("operation error: %w", &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      apiError,
		}})
	}
	tests := []struct {
		err                          error
		noSuchKey, noBucket, invalid bool
	}{
		{responseError(404, "NoSuchKey"), true, false, false},
		{responseError(404, "NotFound"), true, true, false},
		{responseError(404, ""), true, true, false},
		{responseError(404, "NoSuchBucket"), false, true, false},
		{responseError(404, "NoSuchUpload"), false, false, false},
		{responseError(416, "InvalidRange"), false, false, true},
		{responseError(416, ""), false, false, true},
		{responseError(503, "SlowDown"), false, false, false},
		{errors.New("plain"), false, false, false},
	}
	for _, test := range tests {
		if got := isS3NoSuchKey(test.err); got != test.noSuchKey {
			t.Errorf("isS3NoSuchKey(%v) = %v", test.err, got)
		}
		if got := isS3MissingBucket(test.err); got != test.noBucket {
			t.Errorf("isS3MissingBucket(%v) = %v", test.err, got)
		}
		if got := isS3InvalidRange(test.err); got != test.invalid {
			t.Errorf("isS3InvalidRange(%v) = %v", test.err, got)
		}
	}
}
