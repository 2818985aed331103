package actors

import (
	"context"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floe-io/floe/persistence/blockcache"
)

// coldLoadMsg asks a cold loader to read object blocks into the block cache.
// The blocks were reserved in the cache by the sender. The partition is told
// when the load completes, and wakes its parked fetches.
type coldLoadMsg struct {
	stream     uint64
	partition  *actor.PID
	ranges     []objectRange // ascending; the first `demand` were asked for, the rest are readahead
	demand     int
	referenced []string // object keys counted in Broker.refs by the sender
}

// coldLoadedMsg tells a partition that blocks it asked for are cached.
type coldLoadedMsg struct{}

// coldLoadFailedMsg tells a partition that a load of its blocks failed; the
// blocks are neither cached nor loading any more.
type coldLoadFailedMsg struct{}

// coldLoadTimeout bounds one object read, so a stalled store cannot hold a
// loader (and its slot of store concurrency) for ever.
const coldLoadTimeout = 30 * time.Second

// coldLoader reads object blocks for consumers behind the log cache. Loaders
// run on their own goroutines (they block on the object store), and their
// number bounds the cold path's store concurrency; their memory is the block
// cache's budget plus one read each. When they are all busy, loads queue in
// their mailboxes — fetches never wait for that (see partition.readCold), and
// produce and tail fetches share nothing with them.
type coldLoader struct {
	b *Broker
	// Scratch for one load, reused: the blocks being read and their buffers.
	blocks []*blockcache.Block
	bufs   [][]byte
}

func (b *Broker) coldLoaderProducer() actor.Producer {
	return func() actor.Actor { return &coldLoader{b: b} }
}

// coldLoad hands m to a loader, round robin.
func (b *Broker) coldLoad(m *coldLoadMsg) {
	i := b.coldRR.Add(1) % uint64(len(b.cold))
	b.send(b.cold[i], m)
}

func (c *coldLoader) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*coldLoadMsg)
	if !ok {
		return
	}
	defer c.b.refs.release(m.referenced)
	failed := false
	// Adjacent blocks of one object are read with one ranged GET.
	for i := 0; i < len(m.ranges); {
		j := i + 1
		for j < len(m.ranges) && adjacent(m.ranges[j-1], m.ranges[j]) {
			j++
		}
		if !c.load(m.stream, m.ranges[i:j], i, m.demand) {
			failed = true
		}
		i = j
	}
	if failed {
		// Leave the fetches parked: they end at their max wait, and the
		// client's next fetch tries again. Waking them now would spin on a store
		// that is down. A timestamp lookup has no max wait: it is answered
		// with a retriable error.
		c.b.send(m.partition, coldLoadFailedMsg{})
		return
	}
	c.b.send(m.partition, coldLoadedMsg{})
}

// load reads the contiguous blocks span (ranges[first:] of the message) and
// fills the cache. The blocks are read with one ranged GET straight into
// their buffers, which are mostly ones that evicted blocks left (see
// blockcache.Block).
func (c *coldLoader) load(stream uint64, span []objectRange, first, demand int) bool {
	start := time.Now()
	pos := span[0].position
	size := span[len(span)-1].position + span[len(span)-1].size - pos
	c.blocks, c.bufs = c.blocks[:0], c.bufs[:0]
	for _, r := range span {
		b := c.b.blocks.NewBlock(int(r.size))
		c.blocks = append(c.blocks, b)
		c.bufs = append(c.bufs, b.Data)
	}
	defer func() {
		clear(c.blocks)
		clear(c.bufs)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), coldLoadTimeout)
	err := c.b.deps.Store.GetInto(ctx, span[0].key, pos, c.bufs...)
	cancel()
	c.b.coldReads.Add(1)
	c.b.metrics.coldRead.Observe(time.Since(start).Seconds())
	if err != nil {
		c.b.metrics.coldReadErrors.Inc()
		c.b.log.Warn("cold read failed", "key", span[0].key, "position", pos, "bytes", size, "err", err)
		for i, r := range span {
			c.blocks[i].Release()
			c.b.blocks.Abandon(blockKey(r))
		}
		return false
	}
	c.b.metrics.coldReadBytes.Add(float64(size))
	// Readahead blocks go in first and the demanded ones last, so in a small
	// cache a load's own readahead cannot evict the block the reader waits
	// for.
	for pass := 0; pass < 2; pass++ {
		for i, r := range span {
			prefetched := first+i >= demand
			if prefetched == (pass == 0) {
				c.b.blocks.Fill(blockKey(r), stream, c.blocks[i], prefetched)
			}
		}
	}
	return true
}

func blockKey(r objectRange) blockcache.Key {
	return blockcache.Key{Object: r.key, Position: r.position}
}

// objectRefs counts in-flight reads per object key, so an object replaced by
// compaction is deleted only once no read still needs it.
type objectRefs struct {
	mu   sync.Mutex
	refs map[string]int // guarded by mu
}

func (o *objectRefs) acquire(key string) {
	o.mu.Lock()
	if o.refs == nil {
		o.refs = make(map[string]int)
	}
	o.refs[key]++
	o.mu.Unlock()
}

func (o *objectRefs) release(keys []string) {
	o.mu.Lock()
	for _, k := range keys {
		if o.refs[k]--; o.refs[k] <= 0 {
			delete(o.refs, k)
		}
	}
	o.mu.Unlock()
}

// inUse reports whether any read holds key.
func (o *objectRefs) inUse(key string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refs[key] > 0
}
