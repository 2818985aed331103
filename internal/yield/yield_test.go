package yield

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestCopy(t *testing.T) {
	for _, size := range []int{0, 1, Step - 1, Step, Step + 1, 3*Step + 17} {
		src := make([]byte, size)
		for i := range src {
			src[i] = byte(i * 7)
		}
		dst := make([]byte, size)
		if n := Copy(dst, src); n != size || !bytes.Equal(dst, src) {
			t.Fatalf("size %d: copied %d, equal %v", size, n, bytes.Equal(dst, src))
		}
		short := make([]byte, size/2)
		if n := Copy(short, src); n != size/2 || !bytes.Equal(short, src[:size/2]) {
			t.Fatalf("size %d into %d: copied %d", size, size/2, n)
		}
	}
}

// With one P, a goroutine made runnable before a copy runs before the copy
// ends only if the copy yields: nothing else in this goroutine blocks, and
// a few MiB copy well inside the runtime's 10 ms preemption period.
func TestCopyLetsOthersRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	src := make([]byte, 4*Step)
	dst := make([]byte, 4*Step)
	copy(dst, src) // fault the pages in first: the copies below are fast

	var ran atomic.Bool
	go ran.Store(true)
	copy(dst, src)
	plain := ran.Load()

	ran.Store(false)
	go ran.Store(true)
	Copy(dst, src)
	if !ran.Load() {
		t.Fatal("a runnable goroutine did not run during Copy")
	}
	t.Logf("the goroutine ran during a plain copy: %v", plain)

	ran.Store(false)
	go ran.Store(true)
	var c Counter
	for i := 0; i < 4*Step; i += 16 << 10 {
		copy(dst[i:i+16<<10], src[i:i+16<<10])
		c.Add(16 << 10)
	}
	if !ran.Load() {
		t.Fatal("a runnable goroutine did not run during a counted copy")
	}
}
