package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// checkStoreContract runs the behaviour every Store must share against
// store, with every key under root (so that a shared bucket can hold many
// runs). Keys follow the package's rules, and none is both an object and a
// prefix of another object, which versitygw's posix backend cannot hold.
func checkStoreContract(t *testing.T, store Store, root string) {
	t.Run("RoundTrip", func(t *testing.T) { contractRoundTrip(t, store, root+"/rt") })
	t.Run("RangedGet", func(t *testing.T) { contractRangedGet(t, store, root+"/rg") })
	t.Run("GetInto", func(t *testing.T) { contractGetInto(t, store, root+"/gi") })
	t.Run("MissingKey", func(t *testing.T) { contractMissingKey(t, store, root+"/mk") })
	t.Run("List", func(t *testing.T) { contractList(t, store, root+"/ls") })
	t.Run("Delete", func(t *testing.T) { contractDelete(t, store, root+"/del") })
	t.Run("InvalidKeys", func(t *testing.T) { contractInvalidKeys(t, store) })
	t.Run("CancelledContext", func(t *testing.T) { contractCancelledContext(t, store, root+"/cc") })
	t.Run("Concurrent", func(t *testing.T) { contractConcurrent(t, store, root+"/cp") })
	t.Run("PutPaced", func(t *testing.T) { contractPutPaced(t, store, root+"/pp") })
}

func TestLocalDirContract(t *testing.T) {
	checkStoreContract(t, newLocalDir(t), "contract")
}

func contractRoundTrip(t *testing.T, store Store, root string) {
	ctx := context.Background()
	for _, size := range []int{0, 1, 4096, 1 << 20} {
		key := fmt.Sprintf("%s/obj/%d", root, size)
		data := patterned(size)
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
	key := root + "/k"
	mustPut(t, store, key, []byte("first version"))
	mustPut(t, store, key, []byte("v2"))
	if got, _ := store.Get(ctx, key, 0, -1); string(got) != "v2" {
		t.Fatalf("after overwrite Get = %q, want v2", got)
	}
	// Put does not keep the caller's slice.
	data := []byte("hello")
	mustPut(t, store, key, data)
	data[0] = 'j'
	if got, _ := store.Get(ctx, key, 0, -1); string(got) != "hello" {
		t.Fatalf("Get after the caller changed its slice = %q, want hello", got)
	}
}

func contractRangedGet(t *testing.T, store Store, root string) {
	ctx := context.Background()
	key := root + "/r"
	mustPut(t, store, key, []byte("0123456789"))
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
		{10, 0, "", nil},     // likewise
		{7, 100, "789", nil}, // past the end: cut short, as S3 does
		{11, 1, "", ErrInvalidRange},
		{11, -1, "", ErrInvalidRange},
		{11, 0, "", ErrInvalidRange},
		{-1, 1, "", ErrInvalidRange},
	}
	for _, test := range tests {
		got, err := store.Get(ctx, key, test.offset, test.length)
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
	empty := root + "/empty"
	mustPut(t, store, empty, nil)
	for _, length := range []int64{-1, 0, 5} {
		if got, err := store.Get(ctx, empty, 0, length); err != nil || len(got) != 0 {
			t.Errorf("Get(empty object, 0, %d) = %q, %v; want empty", length, got, err)
		}
	}
	if _, err := store.Get(ctx, empty, 1, -1); !errors.Is(err, ErrInvalidRange) {
		t.Errorf("Get(empty object, 1, -1) error = %v, want ErrInvalidRange", err)
	}
}

// manySizes is n buffer sizes: size, 0, size+1, size, 0, size+1, …
func manySizes(n, size int) []int {
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = []int{size, 0, size + 1}[i%3]
	}
	return sizes
}

func contractGetInto(t *testing.T, store Store, root string) {
	ctx := context.Background()
	key := root + "/r"
	data := patterned(3<<20 + 5) // over several yield steps
	mustPut(t, store, key, data)
	tests := []struct {
		offset int64
		sizes  []int
	}{
		{0, []int{len(data)}},
		{0, []int{3, 4, 0, 2 << 20}},
		{7, []int{1 << 20, 1, 2<<20 - 3}},
		{int64(len(data)) - 5, []int{5}},
		{int64(len(data)), nil},
		{int64(len(data)), []int{0}},
		{5, manySizes(1500, 1000)}, // more buffers than one readv takes
	}
	for _, test := range tests {
		dst := make([][]byte, len(test.sizes))
		for i, size := range test.sizes {
			dst[i] = make([]byte, size)
		}
		if err := store.GetInto(ctx, key, test.offset, dst...); err != nil {
			t.Fatalf("GetInto(%d, %v): %v", test.offset, test.sizes, err)
		}
		at := test.offset
		for i, buf := range dst {
			if !bytes.Equal(buf, data[at:at+int64(len(buf))]) {
				t.Fatalf("GetInto(%d, %v): buffer %d differs from the object at %d", test.offset, test.sizes, i, at)
			}
			at += int64(len(buf))
		}
	}
	for _, bad := range []struct {
		offset int64
		sizes  []int
	}{
		{int64(len(data)) - 5, []int{6}},
		{int64(len(data)) - 5, []int{3, 3}},
		{int64(len(data)) + 1, nil},
		{int64(len(data)) + 1, []int{1}},
		{-1, []int{1}},
	} {
		dst := make([][]byte, len(bad.sizes))
		for i, size := range bad.sizes {
			dst[i] = make([]byte, size)
		}
		if err := store.GetInto(ctx, key, bad.offset, dst...); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("GetInto(%d, %v) error = %v, want ErrInvalidRange", bad.offset, bad.sizes, err)
		}
	}
	if err := store.GetInto(ctx, root+"/missing", 0, make([]byte, 1)); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetInto(missing key) error = %v, want ErrNotFound", err)
	}
}

func contractMissingKey(t *testing.T, store Store, root string) {
	ctx := context.Background()
	mustPut(t, store, root+"/a/b/c", []byte("x"))
	// root/a/b is a prefix of an object and root/a/b/c/d runs through one:
	// neither is an object.
	for _, suffix := range []string{"nope", "a/b", "a/b/c/d", "a/x/y"} {
		key := root + "/" + suffix
		for _, length := range []int64{-1, 0, 1} {
			if _, err := store.Get(ctx, key, 0, length); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q, 0, %d) error = %v, want ErrNotFound", key, length, err)
			}
		}
		if _, err := store.Head(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Head(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func contractList(t *testing.T, store Store, root string) {
	ctx := context.Background()
	for _, key := range []string{"a/x", "a-b", "a/y/z", "ab", "b/1", "b/2", "b10/1"} {
		mustPut(t, store, root+"/"+key, []byte(key))
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
		want := make([]string, 0, len(test.want))
		for _, key := range test.want {
			want = append(want, root+"/"+key)
		}
		got, err := store.List(ctx, root+"/"+test.prefix)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("List(%q) = %q, %v; want %q", root+"/"+test.prefix, got, err, want)
		}
	}
	for _, prefix := range []string{"../", "/etc/", "a/../", ".tmp/"} {
		if _, err := store.List(ctx, prefix); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("List(%q) error = %v, want ErrInvalidKey", prefix, err)
		}
	}
}

func contractDelete(t *testing.T, store Store, root string) {
	ctx := context.Background()
	mustPut(t, store, root+"/d/1", []byte("one"))
	mustPut(t, store, root+"/d/2", []byte("two"))
	if err := store.Delete(ctx, root+"/d/1"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Head(ctx, root+"/d/1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head after Delete error = %v, want ErrNotFound", err)
	}
	for _, suffix := range []string{"d/1", "never", "d", "x/y/z"} {
		if err := store.Delete(ctx, root+"/"+suffix); err != nil {
			t.Errorf("Delete(%q) = %v, want nil for a missing key", root+"/"+suffix, err)
		}
	}
	if got, _ := store.List(ctx, root+"/"); !slices.Equal(got, []string{root + "/d/2"}) {
		t.Fatalf("List after deletes = %q, want [%s/d/2]", got, root)
	}
	mustPut(t, store, root+"/d/3", []byte("three"))
}

func contractInvalidKeys(t *testing.T, store Store) {
	ctx := context.Background()
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
}

func contractCancelledContext(t *testing.T, store Store, root string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := store.Put(ctx, root+"/k", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Put error = %v, want context.Canceled", err)
	}
	if _, err := store.Get(ctx, root+"/k", 0, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("Get error = %v, want context.Canceled", err)
	}
	if _, err := store.Head(ctx, root+"/k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Head error = %v, want context.Canceled", err)
	}
	if _, err := store.List(ctx, root+"/"); !errors.Is(err, context.Canceled) {
		t.Errorf("List error = %v, want context.Canceled", err)
	}
	if err := store.Delete(ctx, root+"/k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete error = %v, want context.Canceled", err)
	}
}

// pacerLog records what a Pacer was asked for; fail makes call number fail
// (counting from 1) return errPaced.
type pacerLog struct {
	mu    sync.Mutex
	calls []int
	fail  int
}

var errPaced = errors.New("pace refused")

func (p *pacerLog) pace(ctx context.Context, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, n)
	if len(p.calls) == p.fail {
		return errPaced
	}
	return ctx.Err()
}

func (p *pacerLog) total() (sum int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range p.calls {
		sum += n
	}
	return sum
}

// PutPaced waits on the pacer for every byte of the object, and a pacer that
// refuses leaves no object behind.
func contractPutPaced(t *testing.T, store Store, root string) {
	ctx := context.Background()
	for _, size := range []int{0, 1000, 3<<20 + 12345} {
		key := fmt.Sprintf("%s/ok/%d", root, size)
		data := patterned(size)
		var log pacerLog
		if err := PutPaced(ctx, store, key, data, log.pace); err != nil {
			t.Fatalf("PutPaced(%d bytes): %v", size, err)
		}
		if got := log.total(); got != size {
			t.Errorf("PutPaced(%d bytes) waited for %d bytes (%v)", size, got, log.calls)
		}
		if got, err := store.Get(ctx, key, 0, -1); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get after PutPaced(%d bytes) = %d bytes, %v", size, len(got), err)
		}
	}
	// A nil pace is no pace, whether the store paces its writes itself or
	// not (plainStore hides its PutPaced).
	for name, s := range map[string]Store{"store": store, "plain": plainStore{store}} {
		key := root + "/unpaced/" + name
		data := patterned(3<<20 + 1)
		if err := PutPaced(ctx, s, key, data, nil); err != nil {
			t.Fatalf("PutPaced(%s, nil pace): %v", name, err)
		}
		if got, err := store.Get(ctx, key, 0, -1); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get after PutPaced(%s, nil pace) = %d bytes, %v", name, len(got), err)
		}
	}
	key := root + "/refused"
	log := pacerLog{fail: 1}
	if err := PutPaced(ctx, store, key, patterned(3<<20), log.pace); !errors.Is(err, errPaced) {
		t.Fatalf("PutPaced with a refusing pacer = %v, want its error", err)
	}
	if _, err := store.Head(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head after a refused PutPaced = %v, want ErrNotFound", err)
	}
}

// plainStore is a Store that does not pace its own writes.
type plainStore struct{ Store }

func contractConcurrent(t *testing.T, store Store, root string) {
	ctx := context.Background()
	const writers = 24
	var group sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		group.Go(func() {
			key := ObjectKey(uint64(i))
			key = root + "/" + key
			data := patterned(1000 + i)
			if err := store.Put(ctx, key, data); err != nil {
				errs <- err
				return
			}
			got, err := store.Get(ctx, key, 0, -1)
			if err == nil && !bytes.Equal(got, data) {
				err = fmt.Errorf("Get(%q) returned other bytes", key)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	group.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if keys, err := store.List(ctx, root+"/"); err != nil || len(keys) != writers {
		t.Errorf("List after concurrent puts = %d keys, %v; want %d", len(keys), err, writers)
	}
}

// patterned returns size bytes that differ from position to position, so
// that a range or part off by some bytes shows.
func patterned(size int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	return data
}
