package blockcache

import (
	"container/list"
	"sync"
)

// Key names one block: the object's key and the block's position in it.
type Key struct {
	Object   string
	Position int64
}

type entry struct {
	key        Key
	stream     uint64
	data       []byte
	prefetched bool // loaded ahead of need and not read yet
	elem       *list.Element
}

// Stats are cumulative counters.
type Stats struct {
	Hits, Misses     int64
	Evictions        int64
	PrefetchedUnread int64 // prefetched blocks evicted before a read
	Bytes            int64
	Blocks           int
}

// Cache is an LRU of blocks bounded in bytes.
type Cache struct {
	mu       sync.Mutex
	capacity int64
	used     int64            // guarded by mu
	lru      *list.List       // guarded by mu; front = most recently used
	entries  map[Key]*entry   // guarded by mu
	loading  map[Key]struct{} // guarded by mu: reserved, being read
	wasted   map[uint64]int64 // guarded by mu: per stream, prefetched blocks evicted unread
	stats    Stats            // guarded by mu
}

// New makes a cache holding at most capacity bytes of block data.
func New(capacity int64) *Cache {
	return &Cache{
		capacity: capacity,
		lru:      list.New(),
		entries:  make(map[Key]*entry),
		loading:  make(map[Key]struct{}),
		wasted:   make(map[uint64]int64),
	}
}

// Get returns a block and marks it used.
func (c *Cache) Get(k Key) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[k]
	if e == nil {
		c.stats.Misses++
		return nil, false
	}
	c.stats.Hits++
	e.prefetched = false
	c.lru.MoveToFront(e.elem)
	return e.data, true
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

// Fill stores a loaded block (reserved or not) and evicts from the cold end
// until the cache is within its capacity. A block larger than the whole
// capacity is still kept, alone, so that the reader who asked for it can make
// progress; a prefetched one that large is not.
func (c *Cache) Fill(k Key, stream uint64, data []byte, prefetched bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.loading, k)
	if c.entries[k] != nil || prefetched && int64(len(data)) > c.capacity {
		return
	}
	e := &entry{key: k, stream: stream, data: data, prefetched: prefetched}
	e.elem = c.lru.PushFront(e)
	c.entries[k] = e
	c.used += int64(len(data))
	for c.used > c.capacity && c.lru.Len() > 1 {
		c.evictLocked(c.lru.Back().Value.(*entry))
	}
}

// Consumed demotes a block that a sequential reader has read past, so it is
// the first to go.
func (c *Cache) Consumed(k Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[k]; e != nil {
		c.lru.MoveToBack(e.elem)
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
	s.Bytes = c.used
	s.Blocks = len(c.entries)
	return s
}

func (c *Cache) evictLocked(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.key)
	c.used -= int64(len(e.data))
	c.stats.Evictions++
	if e.prefetched {
		c.stats.PrefetchedUnread++
		c.wasted[e.stream]++
	}
}
