package actors

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/floe-io/floe/persistence/wal"
	"github.com/floe-io/floe/wire"
)

// replayed is one WAL entry recovered at start-up, not yet in an object.
type replayed struct {
	shard  int
	end    wal.Position
	entry  wal.Entry
	header wire.BatchHeader
}

// Start recovers state and spawns the actors: the metadata store gives the
// topics, object index, log start offsets and producer state; the WALs are
// replayed from their trim points, skipping what objects already hold; the
// replayed data is handed to the uploader and uploaded (best effort within
// the context) before the broker reports ready.
func (b *Broker) Start(ctx context.Context) error {
	d := b.deps
	if err := b.loadDynamicConfigs(); err != nil {
		return err
	}
	topics, err := d.Meta.Topics()
	if err != nil {
		return fmt.Errorf("actors: load topics: %w", err)
	}
	logs := make(map[uint64]*partitionLog)
	for _, t := range topics {
		for _, p := range t.Partitions {
			logs[p.Stream] = &partitionLog{}
		}
	}
	if err := b.loadObjects(logs); err != nil {
		return err
	}
	var recovered []replayed
	var replayedBytes int64
	start := time.Now()
	for shard, w := range d.WALs {
		err := w.Replay(func(end wal.Position, e wal.Entry) error {
			if logs[e.Stream] == nil {
				return nil // a deleted topic
			}
			h, err := wire.ParseBatchHeader(e.Data)
			if err != nil {
				return fmt.Errorf("actors: replay: stream %d offset %d: %w", e.Stream, e.BaseOffset, err)
			}
			recovered = append(recovered, replayed{shard: shard, end: end, entry: e, header: h})
			return nil
		})
		if err != nil {
			return fmt.Errorf("actors: replay WAL shard %d: %w", shard, err)
		}
	}
	// A partition's entries are in one shard unless the shard count
	// changed between runs; then its older entries may sit in a higher
	// shard than its newer ones. Offset order puts each back in place.
	sort.SliceStable(recovered, func(i, j int) bool {
		x, y := recovered[i].entry, recovered[j].entry
		return x.Stream < y.Stream || x.Stream == y.Stream && x.BaseOffset < y.BaseOffset
	})
	kept := recovered[:0]
	for _, r := range recovered {
		l, e := logs[r.entry.Stream], r.entry
		if e.BaseOffset < l.nextOffset {
			continue // already in an object
		}
		last := e.BaseOffset + int64(r.header.LastOffsetDelta)
		l.appendBatch(cachedBatch{base: e.BaseOffset, last: last, header: r.header, data: e.Data})
		l.nextOffset, l.highWatermark = last+1, last+1
		replayedBytes += int64(len(e.Data))
		kept = append(kept, r)
	}
	recovered = kept
	b.log.Info("WAL replayed", "entries", len(recovered), "bytes", replayedBytes, "took", time.Since(start).Round(time.Millisecond))
	for _, l := range logs {
		b.cacheBytes.Add(l.cacheBytes)
	}

	sweepCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = b.sweepOrphans(sweepCtx)
	cancel()
	if err != nil {
		b.log.Warn("sweeping orphaned objects", "err", err)
	}
	if err := b.spawnServices(); err != nil {
		return err
	}
	for _, mt := range topics {
		t, err := b.openTopic(mt, logs)
		if err != nil {
			return err
		}
		b.reg.update(func(s *snapshot) { s.put(t) })
	}
	if len(recovered) > 0 {
		b.handOver(recovered)
		done := make(chan error, 1)
		b.send(b.upload, UploadNow{Done: done})
		select {
		case err := <-done:
			if err != nil {
				b.log.Warn("uploading replayed WAL data failed; it stays in the WAL and will be retried", "err", err)
			}
		case <-ctx.Done():
			b.log.Warn("start-up upload still running; serving anyway")
		}
	}
	b.ready.Store(true)
	return nil
}

// loadObjects fills each partition log from the metadata store: object
// ranges, uploaded end, log start offset and producer state.
func (b *Broker) loadObjects(logs map[uint64]*partitionLog) error {
	d := b.deps
	objects, err := d.Meta.Objects()
	if err != nil {
		return fmt.Errorf("actors: load objects: %w", err)
	}
	for _, o := range objects {
		for _, e := range o.Entries {
			l := logs[e.Stream]
			if l == nil {
				continue
			}
			l.objects = append(l.objects, objectRange{first: e.FirstOffset, end: e.EndOffset, maxTimestamp: e.MaxTimestamp, key: o.Key, position: e.Position, size: e.Size})
			l.uploadedEnd = max(l.uploadedEnd, e.EndOffset)
		}
	}
	starts, err := d.Meta.LogStartOffsets()
	if err != nil {
		return fmt.Errorf("actors: load log start offsets: %w", err)
	}
	producers, err := d.Meta.ProducerStates()
	if err != nil {
		return fmt.Errorf("actors: load producer state: %w", err)
	}
	for stream, l := range logs {
		sort.Slice(l.objects, func(i, j int) bool { return l.objects[i].first < l.objects[j].first })
		l.nextOffset, l.highWatermark = l.uploadedEnd, l.uploadedEnd
		l.logStartOffset = starts[stream]
	}
	for _, p := range producers {
		if l := logs[p.Stream]; l != nil {
			l.snapshot = append(l.snapshot, p)
		}
	}
	return nil
}

// spawnServices starts the WAL shards, the uploader, the cold readers, the
// topic manager and the group actors, each under its pool's supervisor.
func (b *Broker) spawnServices() error {
	a := b.deps.Actors
	var err error
	for i := range b.deps.WALs {
		pid, e := a.Spawn(poolWAL, fmt.Sprintf("wal/%d", i), false, b.walShardProducer(i))
		if e != nil {
			return fmt.Errorf("actors: spawn WAL shard %d: %w", i, e)
		}
		b.shards = append(b.shards, pid)
	}
	if b.upload, err = a.Spawn(poolBackground, "uploader", false, b.uploaderProducer()); err != nil {
		return fmt.Errorf("actors: spawn uploader: %w", err)
	}
	for i := 0; i < b.cfg.ColdReaders; i++ {
		pid, e := a.SpawnOn(poolCold, fmt.Sprintf("cold/%d", i), b.deps.ColdDispatcher, b.coldLoaderProducer())
		if e != nil {
			return fmt.Errorf("actors: spawn cold loader %d: %w", i, e)
		}
		b.cold = append(b.cold, pid)
	}
	if b.maintenance, err = a.Spawn(poolBackground, "maintenance", false, b.maintenanceProducer()); err != nil {
		return fmt.Errorf("actors: spawn maintenance: %w", err)
	}
	if b.compact, err = a.Spawn(poolBackground, "compactor", false, b.compactorProducer()); err != nil {
		return fmt.Errorf("actors: spawn compactor: %w", err)
	}
	if b.topics, err = a.Spawn(poolBackground, "topics", false, b.topicManagerProducer()); err != nil {
		return fmt.Errorf("actors: spawn topic manager: %w", err)
	}
	// The group manager loads the stored groups in the background;
	// until then group requests get COORDINATOR_LOAD_IN_PROGRESS.
	if err := b.spawnGroups(); err != nil {
		return err
	}
	return nil
}

// handOver gives replayed entries to the uploader, grouped per shard, as if
// the shards had just written them. One message carries every shard's part,
// so that no upload the uploader starts in between takes a partition's newer
// entries without its older ones in another shard.
func (b *Broker) handOver(recovered []replayed) {
	snap := b.reg.load()
	byShard := make(map[int]*walWrittenMsg)
	var all replayedMsg
	for _, r := range recovered {
		ref := snap.byStream[r.entry.Stream]
		if ref == nil {
			continue
		}
		m := byShard[r.shard]
		if m == nil {
			m = &walWrittenMsg{shard: r.shard}
			byShard[r.shard] = m
			all = append(all, m)
		}
		m.end = max(m.end, r.end)
		m.items = append(m.items, &walAppendMsg{ref: ref, entry: r.entry, header: r.header})
	}
	b.send(b.upload, all)
}

// Stop uploads what is pending (bounded by ctx) so a clean restart replays
// little. The WAL already holds everything acknowledged, so a failure here
// loses nothing.
func (b *Broker) Stop(ctx context.Context) {
	b.ready.Store(false)
	if b.upload == nil {
		return
	}
	done := make(chan error, 1)
	b.send(b.upload, UploadNow{Done: done})
	select {
	case err := <-done:
		if err != nil {
			b.log.Warn("final upload failed; data stays in the WAL", "err", err)
		}
	case <-ctx.Done():
		b.log.Warn("final upload did not finish in time; data stays in the WAL")
	}
}
