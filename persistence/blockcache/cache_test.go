package blockcache

import (
	"runtime"
	"sync"
	"testing"
)

func key(i int) Key { return Key{Object: "o", Position: int64(i)} }

// block is an unrecycled block holding the caller's reference.
func block(n int) *Block {
	b := &Block{Data: make([]byte, n)}
	b.refs.Store(1)
	return b
}

func TestLRUByBytes(t *testing.T) {
	c := New(300)
	for i := 0; i < 3; i++ {
		c.Fill(key(i), 1, block(100), false)
	}
	if _, ok := c.Get(key(0)); !ok { // 0 becomes most recent
		t.Fatal("block 0 missing")
	}
	c.Fill(key(3), 1, block(100), false) // evicts 1, the least recent
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("block 1 should have been evicted")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := c.Get(key(i)); !ok {
			t.Fatalf("block %d missing", i)
		}
	}
	if s := c.Stats(); s.Bytes != 300 || s.Blocks != 3 || s.Evictions != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestConsumedIsEvictedFirst(t *testing.T) {
	c := New(300)
	for i := 0; i < 3; i++ {
		c.Fill(key(i), 1, block(100), false)
	}
	c.Consumed(key(2)) // the newest, but read past
	c.Fill(key(3), 1, block(100), false)
	if _, ok := c.Get(key(2)); ok {
		t.Fatal("consumed block survived")
	}
	if _, ok := c.Get(key(0)); !ok {
		t.Fatal("older unconsumed block was evicted instead")
	}
}

func TestConsumedBoundedToAnEighth(t *testing.T) {
	c := New(1600) // consumed blocks may hold 200 bytes: two blocks
	for i := 0; i < 8; i++ {
		c.Fill(key(i), 1, block(100), false)
	}
	for i := 0; i < 4; i++ {
		c.Consumed(key(i))
		c.Consumed(key(i)) // twice is once
	}
	s := c.Stats()
	if s.ConsumedBytes != 200 || s.Bytes != 600 || s.Evictions != 2 {
		t.Fatalf("after four consumed: %+v, want 200 consumed of 600 bytes, 2 evictions", s)
	}
	for i, want := range []bool{false, false, true, true, true, true, true, true} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Fatalf("block %d cached %v, want %v (the oldest consumed go first)", i, ok, want)
		}
	}
	// A hit does not bring a consumed block back onto the LRU: under
	// capacity pressure it still goes before every unconsumed block.
	for i := 8; i < 21; i++ { // 300 bytes over: three evictions
		c.Fill(key(i), 1, block(100), false)
	}
	for i, want := range map[int]bool{2: false, 3: false, 4: false, 5: true, 20: true} {
		if _, ok := c.Get(key(i)); ok != want {
			t.Fatalf("block %d cached %v, want %v (consumed blocks first, then the LRU's oldest)", i, ok, want)
		}
	}
	if s := c.Stats(); s.ConsumedBytes != 0 || s.Bytes != 1600 {
		t.Fatalf("after pressure: %+v", s)
	}
}

func TestPrefetchedUnreadCounted(t *testing.T) {
	c := New(200)
	c.Fill(key(0), 7, block(100), true)
	c.Fill(key(1), 7, block(100), true)
	if _, ok := c.Get(key(1)); !ok { // read: no longer counts as wasted
		t.Fatal("missing")
	}
	c.Fill(key(2), 8, block(100), false) // evicts 0, prefetched and unread
	c.Fill(key(3), 8, block(100), false) // evicts 1, read
	if got := c.Wasted(7); got != 1 {
		t.Fatalf("wasted %d, want 1", got)
	}
	if got := c.Wasted(7); got != 0 {
		t.Fatalf("wasted not reset: %d", got)
	}
}

func TestReserveDeduplicatesLoads(t *testing.T) {
	c := New(1000)
	if !c.Reserve(key(1)) {
		t.Fatal("first reserve refused")
	}
	if c.Reserve(key(1)) {
		t.Fatal("second reserve of a loading block accepted")
	}
	if !c.Contains(key(1)) {
		t.Fatal("loading block not reported")
	}
	c.Abandon(key(1))
	if !c.Reserve(key(1)) {
		t.Fatal("reserve after abandon refused")
	}
	c.Fill(key(1), 1, block(10), false)
	if c.Reserve(key(1)) {
		t.Fatal("reserve of a cached block accepted")
	}
}

// A demanded block larger than the cache is kept alone, so its reader makes
// progress; a prefetched one is dropped.
func TestOversizedBlock(t *testing.T) {
	c := New(100)
	c.Fill(key(0), 1, block(50), false)
	c.Fill(key(1), 1, block(101), true)
	if _, ok := c.Get(key(1)); ok {
		t.Fatal("prefetched block larger than the cache kept")
	}
	if _, ok := c.Get(key(0)); !ok {
		t.Fatal("oversized prefetched block evicted the others")
	}
	c.Fill(key(2), 1, block(101), false)
	if _, ok := c.Get(key(2)); !ok {
		t.Fatal("demanded block larger than the cache not kept")
	}
	if s := c.Stats(); s.Blocks != 1 {
		t.Fatalf("%d blocks, want the big one alone", s.Blocks)
	}
}

// Loads, reads and evictions from many goroutines, with recycled buffers:
// every block is filled with its key's byte, and a reader holding a block
// must see only that byte however many loads reuse buffers meanwhile.
func TestConcurrentUse(t *testing.T) {
	const size = 4 << 10
	c := New(64 << 10)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				n := (i * (g + 1)) % 300
				k := key(n)
				if c.Reserve(k) {
					b := c.NewBlock(size)
					for j := range b.Data {
						b.Data[j] = byte(n)
					}
					c.Fill(k, uint64(g), b, i%2 == 0)
				}
				if b, ok := c.Get(k); ok {
					runtime.Gosched() // let others evict and reload meanwhile
					for j, v := range b.Data {
						if v != byte(n) {
							t.Errorf("block %d byte %d is %d: its buffer was reused while held", n, j, v)
							break
						}
					}
					b.Release()
				}
				if i%7 == 0 {
					c.Consumed(k)
				}
			}
		}(g)
	}
	wg.Wait()
	s := c.Stats()
	if s.Bytes > 64<<10 {
		t.Fatalf("over capacity: %+v", s)
	}
	if s.ReusedBuffers == 0 {
		t.Fatalf("no buffer reused: %+v", s)
	}
}

// An evicted block's buffer is read into again by a later load, unless a
// reader still holds it; then it is reused once the reader releases it.
func TestBufferReuse(t *testing.T) {
	const size = 300 << 10
	c := New(2 * 320 << 10) // two blocks' buffers
	fill := func(i int) *Block {
		b := c.NewBlock(size)
		c.Fill(key(i), 1, b, false)
		return b
	}
	first := fill(0)
	buf := &first.Data[0]
	held, ok := c.Get(key(0))
	if !ok {
		t.Fatal("block 0 not cached")
	}
	fill(1)
	fill(2) // evicts 0, which the reader holds
	if b := c.NewBlock(size); &b.Data[0] == buf {
		t.Fatal("a held block's buffer was handed to a load")
	}
	if s := c.Stats(); s.ReusedBuffers != 0 {
		t.Fatalf("%d buffers reused, want 0", s.ReusedBuffers)
	}
	held.Release()
	b := c.NewBlock(size - 1000) // the same size class
	if &b.Data[0] != buf {
		t.Fatal("released buffer not reused")
	}
	if len(b.Data) != size-1000 || cap(b.Data) != 320<<10 {
		t.Fatalf("len %d cap %d, want %d and %d", len(b.Data), cap(b.Data), size-1000, 320<<10)
	}
	if s := c.Stats(); s.ReusedBuffers != 1 {
		t.Fatalf("%d buffers reused, want 1", s.ReusedBuffers)
	}
	b.Release()
	defer func() {
		if recover() == nil {
			t.Fatal("a second release did not panic")
		}
	}()
	b.Release()
}

// The free list and the cached blocks together hold at most the capacity
// and its margin.
func TestFreeListBounded(t *testing.T) {
	const capacity, size = 64 << 20, 1 << 20
	c := New(capacity) // margin: 8 MiB
	for i := range 10 {
		c.Fill(key(i), 1, c.NewBlock(size), false)
	}
	var taken []*Block
	for range 80 {
		taken = append(taken, c.NewBlock(size))
	}
	for _, b := range taken {
		b.Release()
	}
	if s := c.Stats(); s.FreeBytes != capacity+minFreeBytes-10*size {
		t.Fatalf("free %d bytes beside %d cached, want %d", s.FreeBytes, s.Bytes, capacity+minFreeBytes-10*size)
	}
}

func TestClassSize(t *testing.T) {
	for _, tc := range []struct{ n, size int }{
		{4096, 4096},
		{4097, 5120},
		{5120, 5120},
		{5121, 6144},
		{512 << 10, 512 << 10},
		{512<<10 + 1, 640 << 10},
		{300 << 10, 320 << 10},
		{maxClassBytes, maxClassBytes},
	} {
		size, _, ok := classSize(tc.n)
		if !ok || size != tc.size {
			t.Errorf("classSize(%d) = %d, %v; want %d", tc.n, size, ok, tc.size)
		}
	}
	for _, n := range []int{1, minClassBytes - 1, maxClassBytes + 1} {
		if _, _, ok := classSize(n); ok {
			t.Errorf("classSize(%d) recycled", n)
		}
	}
	seen := map[int]int{}
	for n := minClassBytes; n <= 1<<20; n += 512 {
		size, class, _ := classSize(n)
		if prev, ok := seen[class]; ok && prev != size {
			t.Fatalf("class %d has sizes %d and %d", class, prev, size)
		}
		seen[class] = size
		if size < n || size > n+n/4 {
			t.Fatalf("classSize(%d) = %d", n, size)
		}
	}
}

// Preallocate fills the free list with the capacity's worth of buffers for
// the block size, and loads of such blocks take them.
func TestPreallocate(t *testing.T) {
	const capacity, size = 64 << 20, 512 << 10
	c := New(capacity)
	if got := c.Preallocate(size); got != capacity {
		t.Fatalf("preallocated %d bytes, want %d", got, capacity)
	}
	if s := c.Stats(); s.FreeBytes != capacity {
		t.Fatalf("free %d bytes, want %d", s.FreeBytes, capacity)
	}
	for i := range 64 {
		c.Fill(key(i), 1, c.NewBlock(size-100), false)
	}
	if s := c.Stats(); s.ReusedBuffers != 64 || s.FreeBytes != capacity/2 || s.Bytes != capacity/2 {
		t.Fatalf("after 64 loads: %+v", s)
	}
	// Take every free buffer and 20 new ones, then release them all: the
	// list keeps what the cached half leaves, and the margin.
	var taken []*Block
	for range 64 + 20 {
		taken = append(taken, c.NewBlock(size))
	}
	if s := c.Stats(); s.ReusedBuffers != 128 || s.FreeBytes != 0 {
		t.Fatalf("after taking the free list: %+v", s)
	}
	for _, b := range taken {
		b.Release()
	}
	if want := int64(capacity/2 + minFreeBytes); c.Stats().FreeBytes != want {
		t.Fatalf("free %d bytes after releases, want %d", c.Stats().FreeBytes, want)
	}
}

// Blocks of another size class than the preallocated buffers may fill the
// cache; the unused buffers then give way, so the cache's memory stays
// within its capacity and margin.
func TestPreallocatedBuffersGiveWay(t *testing.T) {
	const capacity = 64 << 20
	c := New(capacity)
	c.Preallocate(512 << 10)
	for i := range 200 { // 300 KiB blocks take 320 KiB buffers, a class of their own
		c.Fill(key(i), 1, c.NewBlock(300<<10), false)
	}
	s := c.Stats()
	if s.ReusedBuffers != 0 {
		t.Fatalf("%d buffers of another class reused", s.ReusedBuffers)
	}
	if s.Bytes+s.FreeBytes > capacity+minFreeBytes {
		t.Fatalf("%d bytes cached and %d kept, over %d", s.Bytes, s.FreeBytes, capacity+minFreeBytes)
	}
}
