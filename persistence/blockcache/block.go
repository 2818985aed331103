package blockcache

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Block is one block's bytes with a reference count. The cache holds one
// reference while the block is cached, and every Get hands out one more; the
// holder ends it with Release. When the last reference ends, the buffer goes
// back to the cache's free list and a later load reads into it, so a
// catch-up does not take fresh memory from the heap for every block (the
// heap must zero it first, and on this kind of VM a fresh page faults too).
//
// A reference that is never released costs only the reuse: the buffer is
// then collected like any other garbage. Releasing one twice is a bug that
// would let a load overwrite bytes a reader still sends, so it panics.
type Block struct {
	Data []byte
	refs atomic.Int32
	free *freeList // nil: not recycled
}

// Release ends one reference to the block. The caller must not touch Data
// afterwards.
func (b *Block) Release() {
	switch n := b.refs.Add(-1); {
	case n > 0:
	case n == 0:
		if b.free != nil {
			b.free.put(b.Data[:cap(b.Data)])
		}
		b.Data = nil
	default:
		panic(fmt.Sprintf("blockcache: block released %d times too often", -n))
	}
}

// retain adds a reference; the caller holds one already (or the cache's
// mutex, while the block is cached).
func (b *Block) retain() { b.refs.Add(1) }

// Buffer sizes are rounded up to a size class: four classes per power of
// two, so a buffer is at most a quarter larger than its block. Blocks
// smaller than minClassBytes or larger than maxClassBytes are not recycled:
// small ones cost little to zero, and huge ones (a lone batch larger than
// the block size) are rare.
const (
	minClassBytes = 4 << 10
	maxClassBytes = 64 << 20
	classesPerTwo = 4
)

// classSize is the buffer size for a block of n bytes, and its class; ok is
// false when n is not recycled.
func classSize(n int) (size, class int, ok bool) {
	if n < minClassBytes || n > maxClassBytes {
		return n, 0, false
	}
	// n lies in (2^(e-1), 2^e]; the classes in it are 2^(e-1)·(1+k/4),
	// k = 1..4.
	e := bits.Len(uint(n - 1))
	step := 1 << (e - 1) / classesPerTwo
	k := (n - 1<<(e-1) + step - 1) / step
	return 1<<(e-1) + k*step, (e-1)*classesPerTwo + k, true
}

// freeList keeps released buffers by size class while they and the cached
// blocks together stay within the limit.
type freeList struct {
	mu      sync.Mutex
	limit   int64
	bytes   int64            // guarded by mu
	classes map[int][][]byte // guarded by mu
	reused  atomic.Int64     // buffers handed out again
	// cached is the bytes of the cache's blocks: the cache's only count
	// of them, changed under the cache's mutex and read here without it.
	cached atomic.Int64
}

func newFreeList(limit int64) *freeList {
	return &freeList{limit: limit, classes: make(map[int][][]byte)}
}

// get returns a buffer of the class's size whose contents are whatever the
// last block held, or a new one.
func (f *freeList) get(size, class int) []byte {
	f.mu.Lock()
	list := f.classes[class]
	if n := len(list); n > 0 {
		buf := list[n-1]
		list[n-1] = nil
		f.classes[class] = list[:n-1]
		f.bytes -= int64(cap(buf))
		f.mu.Unlock()
		f.reused.Add(1)
		return buf
	}
	f.mu.Unlock()
	return make([]byte, size)
}

// put keeps buf for reuse unless the list is full, and reports whether it
// did; the event loop calls it (through Release) when a fetch answer is
// written, so it takes the mutex for a slice append and nothing else.
func (f *freeList) put(buf []byte) bool {
	size, class, ok := classSize(cap(buf))
	if !ok || size != cap(buf) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	after := f.bytes + int64(size)
	if after+f.cached.Load() > f.limit {
		return false
	}
	f.classes[class] = append(f.classes[class], buf)
	f.bytes = after
	return true
}

// held is the bytes the list keeps.
func (f *freeList) held() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bytes
}

// trim drops kept buffers until they and the cached blocks are within the
// limit again: blocks of other size classes than the kept buffers may fill
// the cache.
func (f *freeList) trim() {
	f.mu.Lock()
	defer f.mu.Unlock()
	cached := f.cached.Load()
	for class, list := range f.classes {
		for len(list) > 0 && f.bytes+cached > f.limit {
			n := len(list) - 1
			f.bytes -= int64(cap(list[n]))
			list[n] = nil
			list = list[:n]
		}
		f.classes[class] = list
		if f.bytes+cached <= f.limit {
			return
		}
	}
}
