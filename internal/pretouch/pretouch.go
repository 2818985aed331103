// Package pretouch makes the Go heap take its pages from the kernel before
// the broker needs them.
//
// A page the process touches for the first time costs a page fault. On the
// virtual machines brokers often run on, that fault is also the host's: the
// VM measured in docs/benchmarks.md takes 18 µs a page, so a consumer that
// starts catching up, and fills the block cache at 26 MiB/s, costs the
// broker some 5,000 faults a second, on whichever goroutine touches the
// memory, and the producers' latency with them. JVM brokers meet the same
// cost with -XX:+AlwaysPreTouch.
//
// Heap touches the memory once at start and hands it back to the Go heap,
// which reuses it for later allocations. The runtime's scavenger returns
// idle heap memory to the kernel in the background; with the runtime
// setting madvdontneed=0 (cmd/floe restarts itself in place with it in
// GODEBUG, since the runtime reads it only at start) it does so with
// MADV_FREE, which leaves the pages mapped until the kernel is short
// of memory, so that their reuse takes no fault either.
package pretouch

import (
	"os"
	"runtime"
)

// chunk is the size of each allocation: large enough to be a span of its
// own, small enough that the runtime can reuse the pages for blocks of any
// size once they are freed.
const chunk = 1 << 20

// Heap grows the heap by n bytes, touching each page, then frees them.
func Heap(n int64) {
	if n <= 0 {
		return
	}
	held := touch(n)
	runtime.KeepAlive(held)
	held = nil
	runtime.GC()
}

// touch allocates n bytes in chunks and touches them (Pages); the chunks
// are returned, live.
func touch(n int64) [][]byte {
	held := make([][]byte, 0, n/chunk+1)
	for left := n; left > 0; left -= chunk {
		b := make([]byte, min(chunk, left))
		Pages(b)
		held = append(held, b)
	}
	return held
}

// Pages writes one byte of each page of b, so that the kernel maps them now:
// memory new to the process is mapped by its first write. The bytes written
// are zero, so b's contents do not change.
func Pages(b []byte) {
	page := os.Getpagesize()
	for i := 0; i < len(b); i += page {
		b[i] = 0
	}
}
