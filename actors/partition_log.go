package actors

import (
	"sort"
	"time"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/wire"
)

// cachedBatch is one record batch in the log cache. data is immutable once
// cached (its base offset was set before), so fetches on other goroutines may
// share it.
type cachedBatch struct {
	base, last int64
	header     wire.BatchHeader
	data       []byte
	pos        int64 // where the batch starts in a running count of the partition's cached bytes
}

// objectRange says which object block holds [first, end) of a stream.
type objectRange struct {
	first, end   int64
	maxTimestamp int64
	key          string
	position     int64
	size         int64
}

// pendingAck is a produce partition waiting for its data to be durable.
type pendingAck struct {
	pr       *produceRequest
	slot     int
	last     int64 // durable once highWatermark > last
	base     int64
	deadline int64 // unix nanos; REQUEST_TIMED_OUT after it
	appended int64 // unix nanos: when this partition handed the batch to the WAL; 0 for a retry of an earlier batch
	// logAppendTime is the time the batch was stamped with (ms) on a
	// LogAppendTime topic, answered once durable; -1 otherwise.
	logAppendTime int64
}

// parkedFetch is a long-poll fetch waiting for new data on this partition.
type parkedFetch struct {
	fr    *fetchRequest
	index int // of the fetch's part for this partition
}

// partitionLog is a partition's state that outlives one incarnation of its
// actor: the data (which the WAL or the objects hold durably), the offsets, and
// the requests waiting on it. Only the partition actor's current incarnation
// touches it. On a restart the new incarnation keeps the data, fails the
// waiters with a retriable error and rebuilds everything else from the data.
type partitionLog struct {
	batches    []cachedBatch // contiguous, ascending; head is the first live one
	head       int
	cacheBytes int64

	nextOffset     int64 // log end offset: next offset to assign
	highWatermark  int64 // end of durable data
	logStartOffset int64
	uploadedEnd    int64 // everything below is in objects

	objects []objectRange // ascending by first
	arena   batchArena    // where produced batches are cached

	snapshot      []meta.ProducerState // producer state at the last upload, from meta
	producerCount int64                // producers tracked, as counted in Broker.producerStates

	readaheadWindow int64 // bytes; 0 until the first cold miss
	readaheadNext   int64 // offset where the last readahead window ends
	coldCursor      coldCursor

	waiters     []pendingAck
	spareParked []parkedFetch    // the parked list's other half (wakeParked)
	lookups     []*listOffsetMsg // timestamp lookups waiting for an object block
	timerArmed  bool
	incarnation int
}

func (l *partitionLog) live() []cachedBatch { return l.batches[l.head:] }

// cacheStart is the first offset the cache holds; below it data is in objects.
func (l *partitionLog) cacheStart() int64 {
	if l.head < len(l.batches) {
		return l.batches[l.head].base
	}
	return l.nextOffset
}

func (l *partitionLog) appendBatch(b cachedBatch) {
	if live := l.live(); len(live) > 0 {
		b.pos = live[len(live)-1].end()
	}
	l.batches = append(l.batches, b)
	l.cacheBytes += int64(len(b.data))
}

// end is where the batch ends in its partition's running count of cached bytes.
func (b *cachedBatch) end() int64 { return b.pos + int64(len(b.data)) }

// behind returns how many cached bytes lie from the batch at index i of
// live() to the end of the log.
func (l *partitionLog) behind(i int) int64 {
	live := l.live()
	return live[len(live)-1].end() - live[i].pos
}

// dropHead removes the oldest cached batch and returns its size.
func (l *partitionLog) dropHead() int64 {
	n := int64(len(l.batches[l.head].data))
	l.batches[l.head] = cachedBatch{}
	l.head++
	l.cacheBytes -= n
	if l.head > 1024 && l.head*2 > len(l.batches) {
		l.batches = append([]cachedBatch(nil), l.batches[l.head:]...)
		l.head = 0
	}
	return n
}

// truncate drops every cached batch at or above offset (the non-durable tail
// after a WAL failure) and returns the bytes freed.
func (l *partitionLog) truncate(offset int64) int64 {
	var freed int64
	for len(l.batches) > l.head && l.batches[len(l.batches)-1].base >= offset {
		last := len(l.batches) - 1
		freed += int64(len(l.batches[last].data))
		l.batches[last] = cachedBatch{}
		l.batches = l.batches[:last]
	}
	l.cacheBytes -= freed
	l.nextOffset = offset
	return freed
}

// findCached returns the index in live() of the first batch ending at or
// after offset, or -1.
func (l *partitionLog) findCached(offset int64) int {
	live := l.live()
	i := sort.Search(len(live), func(i int) bool { return live[i].last >= offset })
	if i == len(live) {
		return -1
	}
	return i
}

// Chunk sizes of a partition's batch arena.
const (
	arenaMinChunk = 8 << 10
	arenaMaxChunk = 512 << 10
)

// batchArena holds a partition's produced batches in chunks, so that
// batches produced one after another lie back to back in memory. A tail
// fetch then takes a run of them as one writev part, neither copied into the
// response nor given an iovec each: batches from a producer that does not
// linger are a few KiB, and a megabyte of them was a thousand copies (see
// wire.FetchCopyBelow). A chunk lives as long as any of its batches is
// cached or being written, so the chunk size follows the partition's rate:
// it doubles while chunks fill within a second and halves when they do
// not, keeping an idle partition's spare room to a few KiB.
type batchArena struct {
	chunk   []byte // the current chunk; len is what is used
	size    int    // the current chunk's size
	started int64  // unix nanos when the current chunk was made
}

// copy places b in the arena and returns the copy, whose capacity runs on
// to the end of its chunk (so that wire's fetch encoder sees that the next
// batch follows it). Nothing appends to a batch: it is only rewritten in
// place.
func (a *batchArena) copy(b []byte, now int64) []byte {
	if cap(a.chunk)-len(a.chunk) < len(b) {
		switch {
		case a.size == 0:
			a.size = arenaMinChunk
		case now-a.started < int64(time.Second):
			a.size = min(2*a.size, arenaMaxChunk)
		default:
			a.size = max(a.size/2, arenaMinChunk)
		}
		a.chunk = make([]byte, 0, max(a.size, len(b)))
		a.started = now
	}
	start := len(a.chunk)
	a.chunk = append(a.chunk, b...)
	return a.chunk[start:]
}
