package objstore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// The tests in this file run against a real S3 server named by
// FLOE_TEST_S3_URL, with credentials in FLOE_S3_ACCESS_KEY_ID and
// FLOE_S3_SECRET_ACCESS_KEY; .ci/versitygw.sh starts a versitygw and prints
// all three. They skip when the URL is unset, except under CI=true, where
// skipping would hide that CI no longer tests against a real server.

// integrationS3URL returns FLOE_TEST_S3_URL or skips (fails under CI).
func integrationS3URL(t testing.TB) string {
	t.Helper()
	rawURL := os.Getenv("FLOE_TEST_S3_URL")
	if rawURL == "" {
		const how = `start versitygw with: eval "$(.ci/versitygw.sh)"`
		if os.Getenv("CI") == "true" {
			t.Fatal("FLOE_TEST_S3_URL is unset under CI=true; .ci/run must " + how)
		}
		t.Skip("FLOE_TEST_S3_URL is unset; " + how)
	}
	return rawURL
}

// integrationRoot returns a key prefix of this run's own, and deletes every
// key under it when the test ends, so that runs can share a bucket.
func integrationRoot(t testing.TB, store Store) string {
	t.Helper()
	root := fmt.Sprintf("it-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := store.List(ctx, root+"/")
		if err != nil {
			t.Errorf("cleanup: List: %v", err)
		}
		for _, key := range keys {
			if err := store.Delete(ctx, key); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return root
}

func TestS3VersitygwContract(t *testing.T) {
	store, err := Open(integrationS3URL(t)) // as the broker opens it
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, ok := store.(*S3); !ok {
		t.Fatalf("Open = %T, want *S3", store)
	}
	checkStoreContract(t, store, integrationRoot(t, store))
}

func TestS3VersitygwMultipartAndPages(t *testing.T) {
	ctx := context.Background()
	config, err := ParseS3URL(integrationS3URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if config.Credentials, err = S3CredentialsFromEnv(os.LookupEnv); err != nil {
		t.Fatal(err)
	}
	config.MultipartPartBytes = minS3PartBytes
	config.MultipartThresholdBytes = minS3PartBytes
	config.ListPageKeys = 5
	store, err := NewS3(ctx, config)
	if err != nil {
		t.Fatalf("NewS3: %v", err)
	}
	root := integrationRoot(t, store)

	key := root + "/big/object"
	data := patterned(2*minS3PartBytes + 777) // three parts
	mustPut(t, store, key, data)
	got, err := store.Get(ctx, key, 0, -1)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	offset := int64(minS3PartBytes - 5)
	if got, err := store.Get(ctx, key, offset, 10); err != nil || !bytes.Equal(got, data[offset:offset+10]) {
		t.Fatalf("Get across parts = %v, %v; want %v", got, err, data[offset:offset+10])
	}
	if size, err := store.Head(ctx, key); err != nil || size != int64(len(data)) {
		t.Fatalf("Head = %d, %v; want %d", size, err, len(data))
	}

	// The same, paced: the parts' checksums and signed payload hashes are
	// then floe's own, and the server checks both.
	var log pacerLog
	if err := store.PutPaced(ctx, root+"/big/paced", data, log.pace); err != nil {
		t.Fatalf("PutPaced: %v", err)
	}
	if got, err := store.Get(ctx, root+"/big/paced", 0, -1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get after PutPaced = %d bytes, %v; want the %d bytes put", len(got), err, len(data))
	}
	if got := log.total(); got != len(data) {
		t.Fatalf("pacer asked for %d bytes, want %d", got, len(data))
	}

	// Object keys as the broker makes them, listed in pages of 5.
	var want []string
	for id := range uint64(23) {
		objectKey := root + "/keys/" + ObjectKey(id)
		mustPut(t, store, objectKey, []byte(objectKey))
		want = append(want, objectKey)
	}
	slices.Sort(want)
	if got, err := store.List(ctx, root+"/keys/"); err != nil || !slices.Equal(got, want) {
		t.Fatalf("List = %q, %v; want %q", got, err, want)
	}
}

// BenchmarkS3VersitygwGetInto reads 1 MiB ranges of an 8 MiB object, as
// the cold loaders read blocks: B/op is what the client allocates per read
// (the server is another process).
//
//	eval "$(.ci/versitygw.sh)"
//	go test ./persistence/objstore -run '^$' -bench VersitygwGetInto -benchtime 200x
func BenchmarkS3VersitygwGetInto(b *testing.B) {
	store, err := Open(integrationS3URL(b))
	if err != nil {
		b.Fatal(err)
	}
	key := integrationRoot(b, store) + "/object"
	const objectBytes, rangeBytes = 8 << 20, 1 << 20
	if err := store.Put(context.Background(), key, patterned(objectBytes)); err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, rangeBytes)
	b.SetBytes(rangeBytes)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		offset := int64(i%(objectBytes/rangeBytes)) * rangeBytes
		if err := store.GetInto(context.Background(), key, offset, dst); err != nil {
			b.Fatal(err)
		}
	}
}
