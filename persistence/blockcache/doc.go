// Package blockcache is the cold path's cache of object blocks: an LRU bounded
// in bytes, separate from the log cache, so that a consumer catching up on
// old data never evicts the tail that producers and tail consumers need.
//
// Two refinements over plain LRU serve catch-up reads:
//
//   - Read-once eviction: a block a sequential reader has read past leaves
//     the LRU for a list of its own (Consumed). Those blocks are evicted
//     before any other, oldest first, and never hold more than an eighth of
//     the capacity: a second reader close behind the first still hits, but a
//     catch-up scan does not fill the cache with blocks nobody will read
//     again. Measured during a catch-up: the broker's page faults fell from
//     ~8,500/s to ~4,700/s and its CPU over its baseline from +6..17 to
//     +1..7 points, because freed blocks' memory is reused instead of the
//     heap growing to the cache's size (docs/benchmarks.md).
//   - Prefetch accounting: blocks loaded ahead of need (readahead) are marked;
//     when one is evicted before anyone read it, the stream's wasted counter
//     grows, which tells that stream's readahead to back off.
//
// A load in progress is recorded (Reserve/Fill/Abandon), so concurrent misses
// of the same block cause one object-store read.
//
// # Ownership
//
// A Cache is safe for concurrent use: every method takes its mutex and holds
// it only for map and list operations, never across I/O. Block data is
// immutable once filled and may be shared by any number of readers, each
// holding a reference (Get) until it is done; a fetch answer sends block
// bytes without copying them, so its references end when the answer has
// been handed to the socket.
//
// # Buffer reuse
//
// When an evicted block's last reference ends, its buffer goes to a free
// list, by size class, and the next load of a block of that class reads into
// it (NewBlock). A catch-up loads and evicts tens of megabytes a second; with
// new memory for every block, the heap zeroes each buffer before the load
// overwrites it (9.5% of the broker's CPU in a catch-up profile) and grows
// into pages the kernel must fault in. The free list holds what the cached
// blocks leave of the capacity, and a sixteenth of it (8 MiB at least)
// more; a reference never released only loses its buffer to the garbage
// collector.
//
// Until a catch-up's working set (readahead windows and blocks read past)
// has been allocated once, loads still take new memory. Preallocate, which
// `floe serve --pretouch-memory` calls, allocates the capacity's worth of
// buffers for the configured block size at start instead.
package blockcache
