package blockcache

import (
	"sync"
	"testing"
)

func key(i int) Key { return Key{Object: "o", Position: int64(i)} }

func block(n int) []byte { return make([]byte, n) }

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

func TestConcurrentUse(t *testing.T) {
	c := New(64 << 10)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				k := key((i * (g + 1)) % 300)
				if c.Reserve(k) {
					c.Fill(k, uint64(g), block(512), i%2 == 0)
				}
				c.Get(k)
				if i%7 == 0 {
					c.Consumed(k)
				}
			}
		}(g)
	}
	wg.Wait()
	if s := c.Stats(); s.Bytes > 64<<10 {
		t.Fatalf("over capacity: %+v", s)
	}
}
