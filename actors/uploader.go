package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"golang.org/x/time/rate"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/persistence/objstore"
	"github.com/floe-io/floe/persistence/wal"
)

// Messages the uploader handles.
type (
	// walWrittenMsg: a WAL shard made these appends durable, ending at end.
	walWrittenMsg struct {
		shard int
		end   wal.Position
		items []*walAppendMsg
	}
	// replayedMsg: what the WAL shards held at start-up, not yet uploaded.
	replayedMsg   []*walWrittenMsg
	uploadTickMsg struct{}
	// uploadKickMsg lands behind every walWrittenMsg queued before it, so
	// the upload it starts takes the whole backlog, not just the first
	// UploadBytes of it.
	uploadKickMsg struct{}
	// UploadNow uploads everything pending and reports on Done (shutdown,
	// tests). Done must be buffered.
	UploadNow struct{ Done chan error }
)

// uploadTimeout bounds one object Put and commit.
const uploadTimeout = 2 * time.Minute

// uploader turns durable WAL data into objects: it builds a stream-set
// object, puts it in the object store, commits it (with the WAL trim points
// and producer state) to the metadata store, trims the WALs and tells the
// partitions. It runs on its own goroutine; a store failure delays uploads
// with backoff and jitter, and the WAL fills meanwhile — nothing is dropped.
type uploader struct {
	b       *Broker
	self    *actor.PID
	pending []*walWrittenMsg
	bytes   int64
	oldest  time.Time
	backoff time.Duration
	retryAt time.Time
	kicked  bool // an uploadKickMsg is queued
}

func (b *Broker) uploaderProducer() actor.Producer {
	return func() actor.Actor { return &uploader{b: b} }
}

func (u *uploader) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		u.self = ctx.Self()
		u.arm(u.b.cfg.UploadInterval / 4)
	case *walWrittenMsg:
		u.add(ctx, m)
	case replayedMsg:
		u.add(ctx, m...)
	case uploadKickMsg:
		u.kicked = false
		u.try()
	case uploadTickMsg:
		if len(u.pending) > 0 && time.Since(u.oldest) >= u.b.cfg.UploadInterval {
			u.try()
		}
		u.arm(min(u.b.cfg.UploadInterval/4, time.Second))
	case UploadNow:
		var err error
		if len(u.pending) > 0 {
			err = u.upload(false)
		}
		m.Done <- err
	}
}

// add queues durable WAL data for the next upload, and starts one when
// UploadBytes are queued.
func (u *uploader) add(ctx actor.Context, written ...*walWrittenMsg) {
	if len(u.pending) == 0 {
		u.oldest = time.Now()
	}
	for _, m := range written {
		u.pending = append(u.pending, m)
		for _, it := range m.items {
			u.bytes += int64(len(it.entry.Data))
		}
	}
	if u.bytes >= u.b.cfg.UploadBytes && !u.kicked {
		u.kicked = true
		ctx.Send(u.self, uploadKickMsg{})
	}
}

func (u *uploader) arm(d time.Duration) {
	self, b := u.self, u.b
	time.AfterFunc(max(d, 10*time.Millisecond), func() { b.send(self, uploadTickMsg{}) })
}

// try uploads unless a previous failure's backoff is still running.
func (u *uploader) try() {
	if time.Now().Before(u.retryAt) {
		return
	}
	if err := u.upload(true); err != nil {
		u.b.metrics.uploadErrors.Inc()
		u.backoff = min(max(2*u.backoff, 100*time.Millisecond), 10*time.Second)
		jitter := time.Duration(rand.Int64N(int64(u.backoff) / 2))
		u.retryAt = time.Now().Add(u.backoff/2 + jitter)
		u.b.log.Warn("upload failed; will retry", "err", err, "retry_in", time.Until(u.retryAt).Round(time.Millisecond), "pending_bytes", u.bytes)
		return
	}
	u.backoff, u.retryAt = 0, time.Time{}
}

// upload puts everything pending in one object, spread over time if paced
// (uploadPace decides how).
func (u *uploader) upload(paced bool) error {
	start := time.Now()
	gathered := start.Sub(u.oldest)
	batch := u.pending
	builder := objformat.NewBuilder(u.b.cfg.BlockBytes)
	trim := make(map[int]int64)
	for _, w := range batch {
		trim[w.shard] = max(trim[w.shard], int64(w.end))
		for _, it := range w.items {
			h := it.header
			builder.Add(objformat.Batch{
				Stream: it.ref.stream, BaseOffset: h.BaseOffset, LastOffset: h.BaseOffset + int64(h.LastOffsetDelta),
				MaxTimestamp: h.MaxTimestamp, RecordCount: h.NumRecords, Data: it.entry.Data,
			})
		}
	}
	object, index := builder.Finish()
	id, err := u.b.deps.Meta.NextObjectID()
	if err != nil {
		return fmt.Errorf("actors: upload: object id: %w", err)
	}
	key := objstore.ObjectKey(id)
	ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	var pace objstore.Pacer
	if paced {
		pace = u.uploadPace(len(object), gathered)
	}
	if err := objstore.PutPaced(ctx, u.b.deps.Store, key, object, pace); err != nil {
		return fmt.Errorf("actors: upload: put %s: %w", key, err)
	}
	up := meta.Upload{Object: meta.Object{ID: id, Key: key, Size: int64(len(object)), Created: time.Now()}, WALTrim: trim}
	for _, e := range index {
		up.Object.Entries = append(up.Object.Entries, meta.ObjectEntry{
			Stream: e.Stream, FirstOffset: e.FirstOffset, EndOffset: e.EndOffset, RecordCount: e.RecordCount,
			MaxTimestamp: e.MaxTimestamp, Position: e.Position, Size: e.Size,
		})
	}
	up.Producers = committedProducers(batch)
	if err := u.b.deps.Meta.CommitUpload(up); err != nil {
		// The object is in the store but not referenced: harmless garbage;
		// the data is still in the WAL and the next attempt uploads it again.
		return fmt.Errorf("actors: upload: commit %s: %w", key, err)
	}
	for shard, pos := range trim {
		u.b.deps.WALs[shard].Trim(wal.Position(pos))
		u.b.send(u.b.shards[shard], walTrimmedMsg{})
	}
	u.notify(key, index)
	u.b.metrics.upload.Observe(time.Since(start).Seconds())
	u.b.metrics.uploadBytes.Add(float64(len(object)))
	u.pending = nil
	u.bytes = 0
	u.b.log.Debug("uploaded object", "key", key, "bytes", len(object), "blocks", len(index))
	return nil
}

// maxUploadSpread bounds the time one upload is spread over, so that a
// slow trickle of data is not kept from the object store much longer than
// the upload interval already keeps it.
const maxUploadSpread = 2 * time.Second

// uploadPace returns the pace of an upload of size bytes whose data took
// gathered to accumulate: spread over UploadSpread of that time, at most
// maxUploadSpread, so the upload takes half as long as the gathering at the
// default of 0.5 and keeps up with any produce rate. An object store on the
// broker's machine (the tests' versitygw) otherwise hashes and writes an
// 8 MiB object in one burst of about 20 ms of a vCPU, which producers on
// the same machine see in their p99 (docs/benchmarks.md, session 15).
//
// nil (at once) when spreading is off, after a failed attempt (the data is
// late already) and when a WAL shard is half full (its space is needed).
func (u *uploader) uploadPace(size int, gathered time.Duration) objstore.Pacer {
	spread := min(time.Duration(float64(gathered)*u.b.cfg.UploadSpread), maxUploadSpread)
	if spread <= 0 || size == 0 || u.backoff > 0 || u.b.walFullness() >= 0.5 {
		return nil
	}
	limiter := rate.NewLimiter(rate.Limit(float64(size)/spread.Seconds()), pacePieceBytes)
	return func(ctx context.Context, n int) error { return waitBytes(ctx, limiter, n) }
}

// committedProducers is the producer state an upload of written commits:
// each idempotent producer's latest batch on each partition, with the
// append time a LogAppendTime batch was stamped with. A partition's batches
// come in offset order within one shard's message, but after the shard
// count changed, its replayed batches are in two messages, in either order.
func committedProducers(written []*walWrittenMsg) []meta.ProducerState {
	latest := make(map[[2]int64]meta.ProducerState)
	for _, w := range written {
		for _, it := range w.items {
			h := it.header
			if h.ProducerID < 0 {
				continue
			}
			last := h.BaseOffset + int64(h.LastOffsetDelta)
			key := [2]int64{int64(it.ref.stream), h.ProducerID}
			if prev, ok := latest[key]; ok && prev.LastOffset >= last {
				continue
			}
			state := meta.ProducerState{
				Stream: it.ref.stream, ProducerID: h.ProducerID, Epoch: h.ProducerEpoch,
				FirstSeq: h.BaseSequence, LastSeq: h.BaseSequence + h.LastOffsetDelta,
				BaseOffset: h.BaseOffset, LastOffset: last,
			}
			if h.TimestampType() == 1 {
				state.AppendTime = h.MaxTimestamp
			}
			latest[key] = state
		}
	}
	states := make([]meta.ProducerState, 0, len(latest))
	for _, s := range latest {
		states = append(states, s)
	}
	return states
}

// notify tells each partition which ranges it now has in the object.
func (u *uploader) notify(key string, index []objformat.IndexEntry) {
	snap := u.b.reg.load()
	byStream := make(map[uint64]*uploadedMsg)
	for _, e := range index {
		ref := snap.byStream[e.Stream]
		if ref == nil {
			continue // the topic was deleted
		}
		m := byStream[e.Stream]
		if m == nil {
			m = &uploadedMsg{}
			byStream[e.Stream] = m
		}
		m.ranges = append(m.ranges, objectRange{first: e.FirstOffset, end: e.EndOffset, maxTimestamp: e.MaxTimestamp, key: key, position: e.Position, size: e.Size})
		m.end = max(m.end, e.EndOffset)
	}
	for stream, m := range byStream {
		u.b.send(snap.byStream[stream].pid, m)
	}
}
