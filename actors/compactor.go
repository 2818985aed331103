package actors

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/persistence/objstore"
	"github.com/floe-io/floe/wire"
)

// Messages the compactor handles.
type (
	compactTickMsg struct{}
	compactNowMsg  struct{} // a round now, without re-arming the timer
	// compactAckMsg: a partition switched its index away from round's
	// removed objects.
	compactAckMsg struct{ round int }
)

// compactionRound is one replacement whose old objects wait for every
// affected partition's acknowledgement, then for their in-flight reads.
type compactionRound struct {
	acksLeft int
	keys     []string
}

// compactor merges small stream-set objects into larger objects in which each
// partition's data is contiguous, so a catch-up read of a partition is a few
// large sequential reads instead of one small read per upload. It reads and
// writes under a byte-rate budget, switches the index atomically in the
// metadata store, tells the partitions, and deletes an old object only when
// every partition has switched away from it and no read holds it.
type compactor struct {
	b       *Broker
	self    *actor.PID
	limiter *rate.Limiter
	round   int
	rounds  map[int]*compactionRound
	garbage []string // old objects every partition left; deleted when unreferenced
}

func (b *Broker) compactorProducer() actor.Producer {
	return func() actor.Actor {
		burst := int(max(b.cfg.CompactionBytesPerSecond, int64(b.cfg.CompactionSmallObjectBytes)))
		return &compactor{
			b:       b,
			limiter: rate.NewLimiter(rate.Limit(b.cfg.CompactionBytesPerSecond), burst),
			rounds:  make(map[int]*compactionRound),
		}
	}
}

func (c *compactor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.self = ctx.Self()
		c.arm()
	case compactTickMsg:
		c.run()
		c.arm()
	case compactNowMsg:
		c.run()
	case compactAckMsg:
		r := c.rounds[m.round]
		if r == nil {
			return
		}
		if r.acksLeft--; r.acksLeft <= 0 {
			c.garbage = append(c.garbage, r.keys...)
			delete(c.rounds, m.round)
			c.collect()
		}
	}
}

func (c *compactor) run() {
	if err := c.compact(); err != nil {
		c.b.metrics.compactionErrors.Inc()
		c.b.log.Warn("compaction failed; will retry", "err", err)
	}
	c.collect()
}

func (c *compactor) arm() {
	self, b := c.self, c.b
	time.AfterFunc(time.Duration(b.compactionInterval.Load()), func() { b.send(self, compactTickMsg{}) })
}

// SetCompactionInterval changes how often compaction runs and runs a round
// now (operators and tests).
func (b *Broker) SetCompactionInterval(d time.Duration) {
	b.compactionInterval.Store(int64(d))
	b.send(b.compact, compactNowMsg{})
}

// collect deletes old objects that no read holds any more.
func (c *compactor) collect() {
	kept := c.garbage[:0]
	for _, key := range c.garbage {
		if c.b.refs.inUse(key) {
			kept = append(kept, key)
			continue
		}
		if err := c.b.deleteObject(key); err != nil {
			c.b.log.Warn("deleting compacted object", "key", key, "err", err)
			kept = append(kept, key)
		}
	}
	c.garbage = kept
}

// candidates picks the oldest small objects, up to the round's byte limit.
func (c *compactor) candidates(objects []meta.Object) []meta.Object {
	var out []meta.Object
	var total int64
	for _, o := range objects { // id order: oldest first
		if o.Size >= c.b.cfg.CompactionSmallObjectBytes || c.b.refs.inUse(o.Key) || time.Since(o.Created) < c.b.cfg.CompactionMinAge {
			continue
		}
		if total+o.Size > 4*c.b.cfg.CompactionOutputBytes {
			break
		}
		out = append(out, o)
		total += o.Size
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// compact runs one round.
func (c *compactor) compact() error {
	d := c.b.deps
	objects, err := d.Meta.Objects()
	if err != nil {
		return err
	}
	victims := c.candidates(objects)
	if victims == nil {
		return nil
	}
	starts, err := d.Meta.LogStartOffsets()
	if err != nil {
		return err
	}
	deleted, err := d.Meta.DeletedStreams()
	if err != nil {
		return err
	}
	start := time.Now()
	var batches []objformat.Batch
	var readBytes int64
	for _, o := range victims {
		data, err := c.read(o)
		if err != nil {
			return err
		}
		readBytes += int64(len(data))
		for _, e := range o.Entries {
			if deleted[e.Stream] || e.EndOffset <= starts[e.Stream] {
				continue
			}
			got, err := blockBatches(e, data[e.Position:e.Position+e.Size])
			if err != nil {
				return fmt.Errorf("actors: compaction: object %s: %w", o.Key, err)
			}
			batches = append(batches, got...)
		}
	}
	added, err := c.write(batches)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(victims))
	removed := make(map[string]bool, len(victims))
	var keys []string
	for i, o := range victims {
		ids[i] = o.ID
		removed[o.Key] = true
		keys = append(keys, o.Key)
	}
	if err := d.Meta.ReplaceObjects(added, ids); err != nil {
		return fmt.Errorf("actors: compaction: switch index: %w", err)
	}
	c.notify(victims, added, removed, keys)
	c.b.metrics.compactionBytes.Add(float64(readBytes))
	c.b.log.Info("compacted objects", "from", len(victims), "to", len(added), "bytes", readBytes, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func (c *compactor) read(o meta.Object) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	if err := c.limiter.WaitN(ctx, int(min(o.Size, int64(c.limiter.Burst())))); err != nil {
		return nil, err
	}
	c.b.refs.acquire(o.Key)
	defer c.b.refs.release([]string{o.Key})
	data, err := c.b.deps.Store.Get(ctx, o.Key, 0, o.Size)
	if err != nil {
		return nil, fmt.Errorf("actors: compaction: read %s: %w", o.Key, err)
	}
	if int64(len(data)) != o.Size {
		return nil, fmt.Errorf("actors: compaction: %s is %d bytes, index says %d", o.Key, len(data), o.Size)
	}
	return data, nil
}

// write builds and puts the merged objects, cutting a new one when the
// current one reaches the output size.
func (c *compactor) write(batches []objformat.Batch) ([]meta.Object, error) {
	sort.SliceStable(batches, func(i, j int) bool {
		if batches[i].Stream != batches[j].Stream {
			return batches[i].Stream < batches[j].Stream
		}
		return batches[i].BaseOffset < batches[j].BaseOffset
	})
	var out []meta.Object
	builder := objformat.NewBuilder(c.b.cfg.BlockBytes)
	flush := func() error {
		if builder.Len() == 0 {
			return nil
		}
		object, index := builder.Finish()
		o, err := c.put(object, index)
		if err != nil {
			return err
		}
		out = append(out, o)
		return nil
	}
	for i, b := range batches {
		// Cut only between streams, so a stream's run stays in one object
		// unless it alone exceeds the output size.
		if builder.Len() >= int(c.b.cfg.CompactionOutputBytes) && (i == 0 || batches[i-1].Stream != b.Stream || builder.Len() >= 2*int(c.b.cfg.CompactionOutputBytes)) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
		builder.Add(b)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *compactor) put(object []byte, index []objformat.IndexEntry) (meta.Object, error) {
	d := c.b.deps
	id, err := d.Meta.NextObjectID()
	if err != nil {
		return meta.Object{}, err
	}
	key := objstore.ObjectKey(id)
	ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	if err := c.limiter.WaitN(ctx, min(len(object), c.limiter.Burst())); err != nil {
		return meta.Object{}, err
	}
	if err := d.Store.Put(ctx, key, object); err != nil {
		return meta.Object{}, fmt.Errorf("actors: compaction: put %s: %w", key, err)
	}
	o := meta.Object{ID: id, Key: key, Size: int64(len(object))}
	for _, e := range index {
		o.Entries = append(o.Entries, meta.ObjectEntry{Stream: e.Stream, FirstOffset: e.FirstOffset, EndOffset: e.EndOffset,
			RecordCount: e.RecordCount, MaxTimestamp: e.MaxTimestamp, Position: e.Position, Size: e.Size})
	}
	return o, nil
}

// notify tells every live partition that had data in the old objects to
// switch to the new ranges; the old objects become garbage after all acks.
func (c *compactor) notify(victims []meta.Object, added []meta.Object, removed map[string]bool, keys []string) {
	snap := c.b.reg.load()
	ranges := make(map[uint64][]objectRange)
	for _, o := range victims {
		for _, e := range o.Entries {
			if snap.byStream[e.Stream] != nil && ranges[e.Stream] == nil {
				ranges[e.Stream] = []objectRange{}
			}
		}
	}
	for _, o := range added {
		for _, e := range o.Entries {
			if _, ok := ranges[e.Stream]; ok {
				ranges[e.Stream] = append(ranges[e.Stream], objectRange{first: e.FirstOffset, end: e.EndOffset, maxTimestamp: e.MaxTimestamp, key: o.Key, position: e.Position, size: e.Size})
			}
		}
	}
	c.round++
	round := &compactionRound{acksLeft: len(ranges), keys: keys}
	if round.acksLeft == 0 {
		c.garbage = append(c.garbage, keys...)
		return
	}
	c.rounds[c.round] = round
	id, self, b := c.round, c.self, c.b
	for stream, rs := range ranges {
		b.send(snap.byStream[stream].pid, &compactedMsg{removed: removed, added: rs, ack: func() { b.send(self, compactAckMsg{round: id}) }})
	}
}

// blockBatches splits one index entry's block into objformat batches.
func blockBatches(e meta.ObjectEntry, block []byte) ([]objformat.Batch, error) {
	raw, err := objformat.BlockBatches(block)
	if err != nil {
		return nil, err
	}
	out := make([]objformat.Batch, 0, len(raw))
	for _, data := range raw {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			return nil, err
		}
		out = append(out, objformat.Batch{Stream: e.Stream, BaseOffset: h.BaseOffset, LastOffset: h.LastOffset(),
			MaxTimestamp: h.MaxTimestamp, RecordCount: h.NumRecords, Data: data})
	}
	return out, nil
}

func sortRanges(rs []objectRange) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].first < rs[j].first })
}
