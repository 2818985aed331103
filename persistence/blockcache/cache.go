package blockcache

import (
	"container/list"
	"sync"

	"github.com/floe-io/floe/internal/pretouch"
)

// Key names one block: the object's key and the block's position in it.
type Key struct {
	Object   string
	Position int64
}

type entry struct {
	key        Key
	stream     uint64
	block      *Block
	prefetched bool          // loaded ahead of need and not read yet
	consumed   bool          // read past by a sequential reader: on the consumed list
	elem       *list.Element // in lru, or in consumed
}

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses     int64
	Evictions        int64
	PrefetchedUnread int64 // prefetched blocks evicted before a read
	Bytes            int64
	ConsumedBytes    int64 // of Bytes, in blocks read past
	ReusedBuffers    int64 // loads that read into a released block's buffer
	FreeBytes        int64 // released buffers kept for reuse
	Blocks           int
}

// Cache is an LRU of blocks bounded in bytes.
type Cache struct {
	mu       sync.Mutex
	capacity int64
	lru      *list.List       // guarded by mu; front = most recently used
	consumed *list.List       // guarded by mu; blocks read past, front = newest
	doneUsed int64            // guarded by mu: bytes on consumed
	entries  map[Key]*entry   // guarded by mu
	loading  map[Key]struct{} // guarded by mu: reserved, being read
	wasted   map[uint64]int64 // guarded by mu: per stream, prefetched blocks evicted unread
	stats    Stats            // guarded by mu
	free     *freeList        // its cached field is the bytes of the cached blocks
}

// Released buffers waiting for reuse may hold what the cached blocks leave
// of the capacity, and a sixteenth of it (8 MiB at least) more: blocks an
// answer still sends when they are evicted, and the buffers they leave,
// must not make the cache's memory grow past its size for long. A
// catch-up evicts about as fast as it loads, so the margin keeps every
// load supplied.
const (
	freeShare    = 16
	minFreeBytes = 8 << 20
)

// New makes a cache holding at most capacity bytes of block data.
func New(capacity int64) *Cache {
	return &Cache{
		capacity: capacity,
		free:     newFreeList(capacity + max(capacity/freeShare, minFreeBytes)),
		lru:      list.New(),
		consumed: list.New(),
		entries:  make(map[Key]*entry),
		loading:  make(map[Key]struct{}),
		wasted:   make(map[uint64]int64),
	}
}

// NewBlock returns a block of n bytes holding one reference, for a load to
// read into and hand to Fill (or Release, if the load fails). Its buffer may
// be one a released block used: the bytes are not zeroed.
func (c *Cache) NewBlock(n int) *Block {
	b := &Block{}
	b.refs.Store(1)
	size, class, ok := classSize(n)
	if !ok {
		b.Data = make([]byte, n)
		return b
	}
	b.Data, b.free = c.free.get(size, class)[:n], c.free
	return b
}

// Preallocate fills the free list with buffers for blocks of blockSize
// bytes, as many as the capacity holds, and writes to every page of them so
// that the kernel maps the memory now. Loads of such blocks then neither
// fault pages in nor wait for the heap to zero memory, from the first
// catch-up on; the price is the capacity's memory held from the start. It
// returns the bytes allocated.
func (c *Cache) Preallocate(blockSize int) int64 {
	size, _, ok := classSize(blockSize)
	if !ok {
		return 0
	}
	var total int64
	for c.free.held()+c.free.cached.Load()+int64(size) <= c.capacity {
		buf := make([]byte, size)
		pretouch.Pages(buf)
		if !c.free.put(buf) {
			break
		}
		total += int64(size)
	}
	return total
}

// Get returns a block and marks it used. The caller holds a reference and
// must Release it when done with the bytes (a fetch answer, once written).
func (c *Cache) Get(k Key) (*Block, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		c.stats.Misses++
		return nil, false
	}
	c.stats.Hits++
	e.prefetched = false
	if !e.consumed {
		c.lru.MoveToFront(e.elem)
	}
	e.block.retain()
	return e.block, true
}

// Contains reports whether a block is cached or being loaded, without
// counting a hit or miss.
func (c *Cache) Contains(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, loading := c.loading[k]
	return c.entries[k] != nil || loading
}

// Reserve claims the load of a block: it returns false if the block is
// cached or another load of it is in progress. A true answer must be
// followed by Fill or Abandon.
func (c *Cache) Reserve(k Key) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.loading[k]; ok || c.entries[k] != nil {
		return false
	}
	c.loading[k] = struct{}{}
	return true
}

// Abandon releases a reservation whose load failed.
func (c *Cache) Abandon(k Key) {
	c.mu.Lock()
	delete(c.loading, k)
	c.mu.Unlock()
}

// Fill stores a loaded block (reserved or not), taking over the caller's
// reference, and evicts from the cold end until the cache is within its
// capacity. A block larger than the whole capacity is still kept, alone, so
// that the reader who asked for it can make progress; a prefetched one that
// large is not. A block counts its buffer's size, not its length.
func (c *Cache) Fill(k Key, stream uint64, b *Block, prefetched bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loading, k)
	if c.entries[k] != nil || prefetched && int64(cap(b.Data)) > c.capacity {
		b.Release()
		return
	}
	e := &entry{key: k, stream: stream, block: b, prefetched: prefetched}
	e.elem = c.lru.PushFront(e)
	c.entries[k] = e
	c.free.cached.Add(e.bytes())
	defer c.free.trim()
	for c.free.cached.Load() > c.capacity && len(c.entries) > 1 {
		if back := c.consumed.Back(); back != nil {
			c.evictLocked(back.Value.(*entry))
			continue
		}
		c.evictLocked(c.lru.Back().Value.(*entry))
	}
}

// consumedShare is the part of the capacity that blocks read past may hold:
// enough for a second reader a little behind the first to hit, small enough
// that a catch-up scan does not fill the cache (and the heap) with blocks
// nobody will read again.
const consumedShare = 8

// Consumed moves a block that a sequential reader has read past off the LRU:
// blocks read past are evicted before any other, oldest first, and beyond an
// eighth of the capacity at once.
func (c *Cache) Consumed(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil || e.consumed {
		return
	}
	c.lru.Remove(e.elem)
	e.consumed = true
	e.elem = c.consumed.PushFront(e)
	c.doneUsed += e.bytes()
	for c.doneUsed > c.capacity/consumedShare {
		c.evictLocked(c.consumed.Back().Value.(*entry))
	}
}

// Wasted returns and resets the count of a stream's prefetched blocks that
// were evicted unread.
func (c *Cache) Wasted(stream uint64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.wasted[stream]
	delete(c.wasted, stream)
	return n
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Bytes = c.free.cached.Load()
	s.ConsumedBytes = c.doneUsed
	s.Blocks = len(c.entries)
	s.ReusedBuffers = c.free.reused.Load()
	s.FreeBytes = c.free.held()
	return s
}

func (e *entry) bytes() int64 { return int64(cap(e.block.Data)) }

func (c *Cache) evictLocked(e *entry) {
	if e.consumed {
		c.consumed.Remove(e.elem)
		c.doneUsed -= e.bytes()
	} else {
		c.lru.Remove(e.elem)
	}
	delete(c.entries, e.key)
	c.free.cached.Add(-e.bytes())
	e.block.Release()
	c.stats.Evictions++
	if e.prefetched {
		c.stats.PrefetchedUnread++
		c.wasted[e.stream]++
	}
}
