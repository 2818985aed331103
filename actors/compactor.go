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
	compactTickMsg struct{} // a round, then the timer set again
	compactNowMsg  struct{} // a round now, the timer left as it is
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
	timer   *time.Timer // the next tick
	round   int
	rounds  map[int]*compactionRound
	garbage []string // old objects every partition left; deleted when unreferenced
}

func (b *Broker) compactorProducer() actor.Producer {
	return func() actor.Actor {
		return &compactor{
			b:      b,
			rounds: make(map[int]*compactionRound),
		}
	}
}

func (c *compactor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.self = ctx.Self()
		c.arm()
	case *actor.Stopping, *actor.Restarting:
		if c.timer != nil {
			c.timer.Stop() // a new instance arms its own
		}
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
	more, err := c.compact()
	if err != nil {
		c.b.metrics.compactionErrors.Inc()
		c.b.log.Warn("compaction failed; will retry", "err", err)
	}
	c.collect()
	if more {
		// Small objects were left for want of room in the round: go on at
		// once, so that the byte budget and not the interval bounds how
		// fast compaction keeps up with uploads.
		c.b.send(c.self, compactNowMsg{})
	}
}

// pacePieceBytes is the largest piece of paced background I/O (compaction's
// reads and writes, uploads) let through at once: each waits for its bytes
// of the budget a piece at a time (and an object is written a piece at a
// time), so the work reaches the disk and the object store as a steady
// stream at its rate, not in bursts of a whole object. A 130 MB merged
// object written at once, and the first 32 MiB of reads of a round let
// through by a full bucket, each put a 7–13 ms second into the producers'
// p99. It is also the local store's piece (objstore's writebackChunk).
const pacePieceBytes = 1 << 20

// timeoutFor bounds a read or write of n bytes: uploadTimeout on top of the
// time the budget spreads it over.
func (c *compactor) timeoutFor(n int64) time.Duration {
	return uploadTimeout + time.Duration(float64(n)/float64(c.b.compaction.Limit())*float64(time.Second))
}

// pace waits until n more bytes of the budget are free, a piece at a time.
func (c *compactor) pace(ctx context.Context, n int) error {
	return waitBytes(ctx, c.b.compaction, n)
}

// waitBytes takes n bytes from limiter, at most a burst at a time: the
// Pacer of compaction and of uploads.
func waitBytes(ctx context.Context, limiter *rate.Limiter, n int) error {
	for n > 0 {
		k := min(n, limiter.Burst())
		if err := limiter.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// arm sets the timer for the next tick, replacing the one set before.
func (c *compactor) arm() {
	if c.timer != nil {
		c.timer.Stop()
	}
	self, b := c.self, c.b
	c.timer = time.AfterFunc(time.Duration(b.compactionInterval.Load()), func() { b.send(self, compactTickMsg{}) })
}

// SetCompactionInterval changes how often compaction runs, runs a round
// now and counts the next interval from its end (operators and tests): a
// tick out of turn, since arm replaces the pending timer.
func (b *Broker) SetCompactionInterval(d time.Duration) {
	b.compactionInterval.Store(int64(d))
	b.send(b.compact, compactTickMsg{})
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

// candidates picks the oldest small objects, up to the round's byte limit;
// more tells whether an eligible object was left out for want of room.
func (c *compactor) candidates(objects []meta.Object) (out []meta.Object, more bool) {
	var total int64
	for _, o := range objects { // id order: oldest first
		if o.Size >= c.b.cfg.CompactionSmallObjectBytes || c.b.refs.inUse(o.Key) || time.Since(o.Created) < c.b.cfg.CompactionMinAge {
			continue
		}
		if total+o.Size > 4*c.b.cfg.CompactionOutputBytes {
			more = true
			break
		}
		out = append(out, o)
		total += o.Size
	}
	if len(out) < 2 {
		return nil, false
	}
	return out, more
}

// compact runs one round: plan the merged objects from the victims' indexes,
// then build each by reading its blocks straight into it. Blocks are copied
// whole, never split into batches, so a round holds one output object in
// memory (the victims are read a range at a time) and the page faults of
// that fresh memory are taken by the kernel inside the reads. more tells
// whether a successful round left small objects for another.
func (c *compactor) compact() (more bool, err error) {
	d := c.b.deps
	objects, err := d.Meta.Objects()
	if err != nil {
		return false, err
	}
	victims, more := c.candidates(objects)
	if victims == nil {
		return false, nil
	}
	starts, err := d.Meta.LogStartOffsets()
	if err != nil {
		return false, err
	}
	deleted, err := d.Meta.DeletedStreams()
	if err != nil {
		return false, err
	}
	start := time.Now()
	outputs, err := planCompaction(victims, starts, deleted, c.b.cfg.CompactionOutputBytes)
	if err != nil {
		return false, err
	}
	// The victims stay readable for the whole round: retention deletes an
	// object only when no read holds it.
	keys := make([]string, len(victims))
	for i, o := range victims {
		keys[i] = o.Key
		c.b.refs.acquire(o.Key)
	}
	defer c.b.refs.release(keys)
	var added []meta.Object
	var readBytes int64
	for _, out := range outputs {
		o, err := c.build(victims, out)
		if err != nil {
			c.discard(added)
			return false, err
		}
		added = append(added, o)
		readBytes += out.size
	}
	ids := make([]uint64, len(victims))
	removed := make(map[string]bool, len(victims))
	for i, o := range victims {
		ids[i] = o.ID
		removed[o.Key] = true
	}
	if err := d.Meta.ReplaceObjects(added, ids); err != nil {
		// Not discarded: a failed commit may still have reached the disk,
		// and the start-up sweep deletes them if it did not.
		return false, fmt.Errorf("actors: compaction: switch index: %w", err)
	}
	c.notify(victims, added, removed, keys)
	c.b.metrics.compactionBytes.Add(float64(readBytes))
	c.b.log.Info("compacted objects", "from", len(victims), "to", len(added), "bytes", readBytes, "took", time.Since(start).Round(time.Millisecond))
	// A round that merged nothing into fewer objects (merged objects
	// configured smaller than small ones) would only be repeated.
	return more && len(added) < len(victims), nil
}

// discard deletes the objects a failed round wrote: no index names them,
// and a round that keeps failing would otherwise leave a new set each time
// until the next start-up's orphan sweep.
func (c *compactor) discard(objects []meta.Object) {
	for _, o := range objects {
		if err := c.b.deleteObject(o.Key); err != nil {
			c.b.log.Warn("deleting the output of a failed compaction", "key", o.Key, "err", err)
		}
	}
}

// compactionBlock is one block of a victim that goes into a merged object.
type compactionBlock struct {
	victim int // index into the round's victims
	entry  meta.ObjectEntry
}

// compactionOutput is one merged object: its blocks in object order.
type compactionOutput struct {
	blocks []compactionBlock
	size   int64 // bytes of blocks
}

// planCompaction lays the victims' live blocks out as merged objects: sorted
// by (stream, offset), a new object cut between streams once the current one
// reaches outputBytes, or anywhere once it reaches twice that (so a stream's
// run stays in one object unless it alone is that large). Blocks of deleted
// streams and blocks wholly below their log start are left out. Two blocks of
// one stream with overlapping offsets mean a broken index and fail the round.
func planCompaction(victims []meta.Object, starts map[uint64]int64, deleted map[uint64]bool, outputBytes int64) ([]compactionOutput, error) {
	var blocks []compactionBlock
	for i, o := range victims {
		for _, e := range o.Entries {
			if deleted[e.Stream] || e.EndOffset <= starts[e.Stream] {
				continue
			}
			blocks = append(blocks, compactionBlock{victim: i, entry: e})
		}
	}
	// Victims are in id order, which is not offset order for a stream
	// whose older data an earlier round rewrote under a newer id.
	sort.SliceStable(blocks, func(i, j int) bool {
		a, b := blocks[i].entry, blocks[j].entry
		if a.Stream != b.Stream {
			return a.Stream < b.Stream
		}
		return a.FirstOffset < b.FirstOffset
	})
	var outputs []compactionOutput
	var cur compactionOutput
	for i, b := range blocks {
		if i > 0 {
			prev := blocks[i-1]
			if prev.entry.Stream == b.entry.Stream && b.entry.FirstOffset < prev.entry.EndOffset {
				return nil, fmt.Errorf("actors: compaction: stream %d: block at offset %d of %s overlaps [%d, %d) of %s",
					b.entry.Stream, b.entry.FirstOffset, victims[b.victim].Key, prev.entry.FirstOffset, prev.entry.EndOffset, victims[prev.victim].Key)
			}
			if cur.size >= outputBytes && (prev.entry.Stream != b.entry.Stream || cur.size >= 2*outputBytes) {
				outputs = append(outputs, cur)
				cur = compactionOutput{}
			}
		}
		cur.blocks = append(cur.blocks, b)
		cur.size += b.entry.Size
	}
	if len(cur.blocks) > 0 {
		outputs = append(outputs, cur)
	}
	return outputs, nil
}

// compactionIndex is the merged object's index: each block at its new
// position, and blocks of one stream that continue one another joined while
// the joined block stays within blockBytes (uploads of a busy broker leave
// many small blocks; the merged object need not keep them small). Joining
// changes no byte: the blocks already lie back to back.
func compactionIndex(out compactionOutput, blockBytes int) []objformat.IndexEntry {
	index := make([]objformat.IndexEntry, 0, len(out.blocks))
	var position int64
	for _, b := range out.blocks {
		e := b.entry
		if n := len(index); n > 0 {
			last := &index[n-1]
			if last.Stream == e.Stream && last.EndOffset == e.FirstOffset && last.Size+e.Size <= int64(blockBytes) {
				last.EndOffset = e.EndOffset
				last.RecordCount += e.RecordCount
				last.MaxTimestamp = max(last.MaxTimestamp, e.MaxTimestamp)
				last.Size += e.Size
				position += e.Size
				continue
			}
		}
		index = append(index, objformat.IndexEntry{Stream: e.Stream, FirstOffset: e.FirstOffset, EndOffset: e.EndOffset,
			RecordCount: e.RecordCount, MaxTimestamp: e.MaxTimestamp, Position: position, Size: e.Size})
		position += e.Size
	}
	return index
}

// build reads one merged object's blocks into place, checks them, and puts
// the object. A victim's blocks that lie back to back in it are read with
// one ranged read, whatever their places in the new object.
func (c *compactor) build(victims []meta.Object, out compactionOutput) (meta.Object, error) {
	index := compactionIndex(out, c.b.cfg.BlockBytes)
	object := make([]byte, out.size, out.size+int64(objformat.TrailerSize(len(index))))
	type read struct {
		position int64 // in the victim
		dst      [][]byte
		size     int64
	}
	reads := make([][]read, len(victims)) // per victim, in victim order
	var at int64
	for _, b := range out.blocks {
		e := b.entry
		dst := object[at : at+e.Size : at+e.Size]
		at += e.Size
		rs := reads[b.victim]
		if n := len(rs); n > 0 && rs[n-1].position+rs[n-1].size == e.Position {
			rs[n-1].dst = append(rs[n-1].dst, dst)
			rs[n-1].size += e.Size
			continue
		}
		reads[b.victim] = append(rs, read{position: e.Position, dst: [][]byte{dst}, size: e.Size})
	}
	for v, rs := range reads {
		for _, r := range rs {
			if err := c.readInto(victims[v].Key, r.position, r.size, r.dst); err != nil {
				return meta.Object{}, err
			}
		}
	}
	at = 0
	for _, b := range out.blocks {
		if err := checkBlock(b.entry, object[at:at+b.entry.Size]); err != nil {
			return meta.Object{}, fmt.Errorf("actors: compaction: object %s: %w", victims[b.victim].Key, err)
		}
		at += b.entry.Size
	}
	object, err := objformat.Assemble(object, index)
	if err != nil {
		return meta.Object{}, fmt.Errorf("actors: compaction: %w", err)
	}
	return c.put(object, index)
}

func (c *compactor) readInto(key string, position, size int64, dst [][]byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeoutFor(size))
	defer cancel()
	if err := c.pace(ctx, int(size)); err != nil {
		return err
	}
	if err := c.b.deps.Store.GetInto(ctx, key, position, dst...); err != nil {
		return fmt.Errorf("actors: compaction: read %s: %w", key, err)
	}
	return nil
}

// checkBlock checks that a block read from a victim is what its index entry
// says: whole batches back to back, the first at the entry's first offset
// and the last ending at its end offset. Batch contents are the consumers'
// to check (each carries a CRC).
func checkBlock(e meta.ObjectEntry, block []byte) error {
	var last []byte
	for pos := 0; pos < len(block); {
		size, err := objformat.BatchSizeAt(block, pos)
		if err != nil {
			return err
		}
		batch := block[pos : pos+size]
		if pos == 0 {
			h, err := wire.ParseBatchHeader(batch)
			if err != nil {
				return err
			}
			if h.BaseOffset != e.FirstOffset {
				return fmt.Errorf("block of stream %d at %d starts at offset %d, its index says %d", e.Stream, e.Position, h.BaseOffset, e.FirstOffset)
			}
		}
		last = batch
		pos += size
	}
	h, err := wire.ParseBatchHeader(last)
	if err != nil {
		return err
	}
	if h.LastOffset()+1 != e.EndOffset {
		return fmt.Errorf("block of stream %d at %d ends at offset %d, its index says %d", e.Stream, e.Position, h.LastOffset()+1, e.EndOffset)
	}
	return nil
}

func (c *compactor) put(object []byte, index []objformat.IndexEntry) (meta.Object, error) {
	d := c.b.deps
	id, err := d.Meta.NextObjectID()
	if err != nil {
		return meta.Object{}, err
	}
	key := objstore.ObjectKey(id)
	ctx, cancel := context.WithTimeout(context.Background(), c.timeoutFor(int64(len(object))))
	defer cancel()
	if err := objstore.PutPaced(ctx, d.Store, key, object, c.pace); err != nil {
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

func sortRanges(rs []objectRange) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].first < rs[j].first })
}
