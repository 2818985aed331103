package actors

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// partitionRef is what everyone outside a partition actor may know of it: its
// identity, its PID, and the offsets it publishes for lock-free reads
// (Metadata, ListOffsets earliest/latest, admission on the loop).
type partitionRef struct {
	topic  string
	index  int32
	stream uint64
	pid    *actor.PID
	wal    int // WAL shard

	highWatermark  atomic.Int64 // written only by the partition actor
	logStartOffset atomic.Int64 // written only by the partition actor

	// parked are the long-poll fetches waiting for this partition's next
	// data or loaded block. An event loop parks a fetch here itself when
	// the fetch is at the high watermark, without a message to the actor
	// (parkAt); the actor parks the others and wakes them all.
	parkMu sync.Mutex
	parked []parkedFetch // guarded by parkMu
}

// park adds a waiting fetch.
func (r *partitionRef) park(fr *fetchRequest, index int) {
	r.parkMu.Lock()
	defer r.parkMu.Unlock()
	r.parkLocked(fr, index)
}

// parkAt parks a fetch if offset is the high watermark: there is nothing to
// read, and the partition wakes the fetch when there is. The actor stores a
// new high watermark before it takes parkMu to wake the parked, so a fetch
// parked under parkMu against the old one is always woken.
func (r *partitionRef) parkAt(offset int64, fr *fetchRequest, index int) bool {
	r.parkMu.Lock()
	defer r.parkMu.Unlock()
	if r.highWatermark.Load() != offset {
		return false
	}
	r.parkLocked(fr, index)
	return true
}

func (r *partitionRef) parkLocked(fr *fetchRequest, index int) {
	if len(r.parked) >= 64 {
		// Drop entries of fetches that have finished, so an idle partition
		// polled by many consumers does not grow without bound.
		kept := r.parked[:0]
		for _, pf := range r.parked {
			if !pf.fr.finished() {
				kept = append(kept, pf)
			}
		}
		clear(r.parked[len(kept):])
		r.parked = kept
	}
	r.parked = append(r.parked, parkedFetch{fr: fr, index: index})
}

// takeParked removes and returns every parked fetch; spare, emptied,
// becomes the new list, so that a partition waking fetches on every write
// swaps two lists instead of allocating one each time.
func (r *partitionRef) takeParked(spare []parkedFetch) []parkedFetch {
	r.parkMu.Lock()
	defer r.parkMu.Unlock()
	parked := r.parked
	r.parked = spare[:0]
	return parked
}

// topicEntry is immutable once published in a snapshot.
type topicEntry struct {
	name       string
	id         [16]byte
	configs    topicConfig
	partitions []*partitionRef
}

// snapshot is an immutable view of every topic. The topic manager is its only
// writer: it copies, changes and publishes a new one. Event loops read it with
// one atomic load and no lock.
type snapshot struct {
	byName   map[string]*topicEntry
	byID     map[[16]byte]*topicEntry
	byStream map[uint64]*partitionRef
}

type registry struct {
	current atomic.Pointer[snapshot]
}

func newRegistry() *registry {
	r := &registry{}
	r.current.Store(&snapshot{byName: map[string]*topicEntry{}, byID: map[[16]byte]*topicEntry{}, byStream: map[uint64]*partitionRef{}})
	return r
}

func (r *registry) load() *snapshot { return r.current.Load() }

// update publishes fn's changes to a copy of the current snapshot. Only the
// topic manager (and start-up, before any reader) calls it.
func (r *registry) update(fn func(s *snapshot)) {
	old := r.current.Load()
	s := &snapshot{
		byName:   make(map[string]*topicEntry, len(old.byName)+1),
		byID:     make(map[[16]byte]*topicEntry, len(old.byID)+1),
		byStream: make(map[uint64]*partitionRef, len(old.byStream)),
	}
	for k, v := range old.byName {
		s.byName[k] = v
	}
	for k, v := range old.byID {
		s.byID[k] = v
	}
	for k, v := range old.byStream {
		s.byStream[k] = v
	}
	fn(s)
	r.current.Store(s)
}

func (s *snapshot) put(t *topicEntry) {
	if old := s.byName[t.name]; old != nil {
		s.remove(old)
	}
	s.byName[t.name] = t
	s.byID[t.id] = t
	for _, p := range t.partitions {
		s.byStream[p.stream] = p
	}
}

func (s *snapshot) remove(t *topicEntry) {
	delete(s.byName, t.name)
	delete(s.byID, t.id)
	for _, p := range t.partitions {
		delete(s.byStream, p.stream)
	}
}

func (s *snapshot) partition(topic string, index int32) (*topicEntry, *partitionRef) {
	t := s.byName[topic]
	if t == nil {
		return nil, nil
	}
	if index < 0 || int(index) >= len(t.partitions) {
		return t, nil
	}
	return t, t.partitions[index]
}

// fetchTopic finds a fetched topic: by id from Fetch v13, by name below.
func (s *snapshot) fetchTopic(name string, id [16]byte, byID bool) *topicEntry {
	if byID {
		return s.byID[id]
	}
	return s.byName[name]
}
