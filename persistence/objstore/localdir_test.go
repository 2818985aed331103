package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

func newLocalDir(t *testing.T) *LocalDir {
	t.Helper()
	store, err := NewLocalDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return store
}

func mustPut(t *testing.T, store Store, key string, data []byte) {
	t.Helper()
	if err := store.Put(context.Background(), key, data); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func TestLocalDirRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	// Past one writeback chunk (1 MiB) the object is written a chunk at a
	// time; the data says where each byte belongs, so a chunk written twice
	// or out of place shows.
	for _, size := range []int{0, 1, 4096, 1 << 20, 1<<20 + 1, 5<<20 + 12345} {
		key := fmt.Sprintf("ab12/obj/%d", size)
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i ^ i>>8 ^ i>>16)
		}
		mustPut(t, store, key, data)
		got, err := store.Get(ctx, key, 0, -1)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get(%q) = %d bytes, %v; want %d bytes", key, len(got), err, size)
		}
		headSize, err := store.Head(ctx, key)
		if err != nil || headSize != int64(size) {
			t.Fatalf("Head(%q) = %d, %v; want %d", key, headSize, err, size)
		}
	}
	// An overwrite replaces the whole object.
	mustPut(t, store, "k", []byte("first version"))
	mustPut(t, store, "k", []byte("v2"))
	if got, _ := store.Get(ctx, "k", 0, -1); string(got) != "v2" {
		t.Fatalf("after overwrite Get = %q, want v2", got)
	}
}

func TestLocalDirPutDoesNotRetainData(t *testing.T) {
	store := newLocalDir(t)
	data := []byte("hello")
	mustPut(t, store, "k", data)
	data[0] = 'j'
	if got, _ := store.Get(context.Background(), "k", 0, -1); string(got) != "hello" {
		t.Fatalf("Get = %q after caller changed its slice, want hello", got)
	}
}

func TestLocalDirRangedGet(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	data := []byte("0123456789")
	mustPut(t, store, "r", data)
	tests := []struct {
		offset, length int64
		want           string
		wantErr        error
	}{
		{0, -1, "0123456789", nil},
		{0, 10, "0123456789", nil},
		{0, 3, "012", nil},
		{3, 4, "3456", nil},
		{9, 1, "9", nil},
		{9, -1, "9", nil},
		{5, 0, "", nil},
		{10, -1, "", nil},    // offset == size: empty, not an error
		{10, 5, "", nil},     // likewise
		{7, 100, "789", nil}, // past the end: cut short, as S3 does
		{11, 1, "", ErrInvalidRange},
		{-1, 1, "", ErrInvalidRange},
	}
	for _, test := range tests {
		got, err := store.Get(ctx, "r", test.offset, test.length)
		if test.wantErr != nil {
			if !errors.Is(err, test.wantErr) {
				t.Errorf("Get(%d, %d) error = %v, want %v", test.offset, test.length, err, test.wantErr)
			}
			continue
		}
		if err != nil || string(got) != test.want {
			t.Errorf("Get(%d, %d) = %q, %v; want %q", test.offset, test.length, got, err, test.want)
		}
	}
	mustPut(t, store, "empty", nil)
	if got, err := store.Get(ctx, "empty", 0, -1); err != nil || len(got) != 0 {
		t.Errorf("Get(empty object) = %q, %v; want empty", got, err)
	}
}

func TestLocalDirMissingKey(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	mustPut(t, store, "a/b/c", []byte("x"))
	// "a/b" is a prefix directory, "a/b/c/d" runs through an object: neither
	// is an object.
	for _, key := range []string{"nope", "a/b", "a/b/c/d", "a/x/y"} {
		if _, err := store.Get(ctx, key, 0, -1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", key, err)
		}
		if _, err := store.Head(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Head(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func TestLocalDirList(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	keys := []string{"a/x", "a-b", "a/y/z", "ab", "b/1", "b/2", "b10/1"}
	for _, key := range keys {
		mustPut(t, store, key, []byte(key))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-b", "a/x", "a/y/z", "ab", "b/1", "b/2", "b10/1"}},
		{"a", []string{"a-b", "a/x", "a/y/z", "ab"}},
		{"a/", []string{"a/x", "a/y/z"}},
		{"a/y", []string{"a/y/z"}},
		{"a/y/z", []string{"a/y/z"}},
		{"b", []string{"b/1", "b/2", "b10/1"}},
		{"b/", []string{"b/1", "b/2"}},
		{"b1", []string{"b10/1"}},
		{"c", []string{}},
		{"c/d/", []string{}},
		{"a/x/", []string{}}, // runs through an object
	}
	for _, test := range tests {
		got, err := store.List(ctx, test.prefix)
		if err != nil || !slices.Equal(got, test.want) {
			t.Errorf("List(%q) = %q, %v; want %q", test.prefix, got, err, test.want)
		}
	}
	for _, prefix := range []string{"../", "/etc/", "a/../", ".tmp/"} {
		if _, err := store.List(ctx, prefix); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func TestLocalDirDelete(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	mustPut(t, store, "d/1", []byte("one"))
	mustPut(t, store, "d/2", []byte("two"))
	if err := store.Delete(ctx, "d/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Head(ctx, "d/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head after Delete error = %v, want ErrNotFound", err)
	}
	for _, key := range []string{"d/1", "never", "d", "x/y/z"} {
		if err := store.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) = %v, want nil for a missing key", key, err)
		}
	}
	if got, _ := store.List(ctx, ""); !slices.Equal(got, []string{"d/2"}) {
		t.Fatalf("List after deletes = %q, want [d/2]", got)
	}
	// The prefix directory left behind still takes new keys.
	mustPut(t, store, "d/3", []byte("three"))
}

func TestLocalDirRejectsInvalidKeys(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	outside := filepath.Join(filepath.Dir(store.Root()), "escaped")
	for _, key := range []string{"", "/abs", "../escaped", "a//b", "a/", ".tmp/put-1"} {
		if err := store.Put(ctx, key, []byte("x")); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := store.Get(ctx, key, 0, -1); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if _, err := store.Head(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Head(%q) error = %v, want ErrInvalidKey", key, err)
		}
		if err := store.Delete(ctx, key); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) error = %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := os.Stat(outside); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key escaped the store's directory: %v", err)
	}
}

func TestLocalDirKeyCannotNestUnderObject(t *testing.T) {
	store := newLocalDir(t)
	mustPut(t, store, "a/b", []byte("object"))
	if err := store.Put(context.Background(), "a/b/c", []byte("x")); err == nil {
		t.Fatal("Put under an existing object succeeded")
	}
	if err := store.Put(context.Background(), "a", []byte("x")); err == nil {
		t.Fatal("Put over a prefix directory succeeded")
	}
}

func TestLocalDirConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	store := newLocalDir(t)
	const writers, perWriter = 8, 16
	var wait sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for writer := range writers {
		wait.Go(func() {
			for i := range perWriter {
				id := uint64(writer*perWriter + i)
				if err := store.Put(ctx, ObjectKey(id), []byte(ObjectKey(id))); err != nil {
					errs <- err
				}
			}
		})
	}
	wait.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys, err := store.List(ctx, "")
	if err != nil || len(keys) != writers*perWriter {
		t.Fatalf("List = %d keys, %v; want %d", len(keys), err, writers*perWriter)
	}
	for _, key := range keys {
		if got, err := store.Get(ctx, key, 0, -1); err != nil || string(got) != key {
			t.Errorf("Get(%q) = %q, %v", key, got, err)
		}
	}
}

func TestLocalDirClearsTemporaryFilesOnOpen(t *testing.T) {
	dir := t.TempDir()
	store, err := NewLocalDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, store, "kept", []byte("x"))
	// A crash between writing a temporary file and renaming it leaves this.
	leftover := filepath.Join(dir, tempDirName, "put-123")
	if err := os.WriteFile(leftover, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if keys, _ := store.List(context.Background(), ""); !slices.Equal(keys, []string{"kept"}) {
		t.Fatalf("List = %q, want only [kept]: temporary files must not be listed", keys)
	}
	reopened, err := NewLocalDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("leftover temporary file survived reopen: %v", err)
	}
	if got, err := reopened.Get(context.Background(), "kept", 0, -1); err != nil || string(got) != "x" {
		t.Fatalf("Get after reopen = %q, %v", got, err)
	}
}

func TestLocalDirHiddenRoot(t *testing.T) {
	// A root whose own name begins with '.' must still be listed.
	store, err := NewLocalDir(filepath.Join(t.TempDir(), ".floe"))
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, store, "k", []byte("x"))
	if keys, err := store.List(context.Background(), ""); err != nil || !slices.Equal(keys, []string{"k"}) {
		t.Fatalf("List = %q, %v; want [k]", keys, err)
	}
}

func TestLocalDirCancelledContext(t *testing.T) {
	store := newLocalDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := store.Put(ctx, "k", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Put error = %v, want context.Canceled", err)
	}
	if _, err := store.Get(ctx, "k", 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Get error = %v, want context.Canceled", err)
	}
	if _, err := store.List(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Errorf("List error = %v, want context.Canceled", err)
	}
}

// readvFull goes on where a short read stopped, in the middle of a buffer
// or between two, skips empty buffers, hands over at most maxVec buffers,
// and leaves the caller's slices as they were.
func TestReadvFullShortReads(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		data := patterned(1 << 14)
		var dst [][]byte
		total := 0
		for total < len(data)-200 {
			size := rng.IntN(150)
			if rng.IntN(5) == 0 {
				size = 0
			}
			dst = append(dst, make([]byte, size))
			total += size
		}
		lens := make([]int, len(dst))
		for i, b := range dst {
			lens[i] = len(b)
		}
		offset := int64(rng.IntN(len(data) - total + 1))
		maxVec := 1 + rng.IntN(8)
		calls := 0
		err := readvFull(dst, offset, maxVec, func(vec [][]byte, off int64) (int, error) {
			calls++
			if len(vec) > maxVec {
				t.Fatalf("round %d: %d buffers in one read, limit %d", round, len(vec), maxVec)
			}
			limit := 1 + rng.IntN(300) // a short read, often inside a buffer
			n := 0
			for _, b := range vec {
				if len(b) == 0 {
					t.Fatalf("round %d: an empty buffer handed to readv", round)
				}
				c := copy(b[:min(len(b), limit-n)], data[off+int64(n):])
				n += c
				if n == limit {
					break
				}
			}
			return n, nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		at := offset
		for i, b := range dst {
			if len(b) != lens[i] {
				t.Fatalf("round %d: buffer %d changed length %d -> %d", round, i, lens[i], len(b))
			}
			if !bytes.Equal(b, data[at:at+int64(len(b))]) {
				t.Fatalf("round %d: buffer %d differs from the data at %d (%d reads)", round, i, at, calls)
			}
			at += int64(len(b))
		}
	}
	err := readvFull([][]byte{make([]byte, 10)}, 0, 4, func([][]byte, int64) (int, error) { return 0, nil })
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a read of nothing: %v, want io.ErrUnexpectedEOF", err)
	}
}

// BenchmarkLocalDirGetInto reads an 8 MiB span of a page-cached object
// into blocks of 16 KiB to 1 MiB, as a cold load does.
func BenchmarkLocalDirGetInto(b *testing.B) {
	store, err := NewLocalDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	const span = 8 << 20
	ctx := context.Background()
	if err := store.Put(ctx, "bench/span", patterned(span)); err != nil {
		b.Fatal(err)
	}
	for _, block := range []int{16 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("block=%dKiB", block>>10), func(b *testing.B) {
			dst := make([][]byte, span/block)
			for i := range dst {
				dst[i] = make([]byte, block)
			}
			b.SetBytes(span)
			for b.Loop() {
				if err := store.GetInto(ctx, "bench/span", 0, dst...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The local store waits on the pacer before each chunk it writes, so a large
// object reaches the disk at the pacer's rate rather than all at once.
func TestLocalDirPutPacedByChunk(t *testing.T) {
	store := newLocalDir(t)
	size := 3*writebackChunk + 100
	var log pacerLog
	if err := store.PutPaced(context.Background(), "paced/obj", patterned(size), log.pace); err != nil {
		t.Fatal(err)
	}
	want := []int{writebackChunk, writebackChunk, writebackChunk, 100}
	if !slices.Equal(log.calls, want) {
		t.Fatalf("pacer asked for %v, want %v", log.calls, want)
	}
}
