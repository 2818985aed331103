package actors

import (
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/floe-io/floe/persistence/wal"
	"github.com/floe-io/floe/wire"
)

// Messages a WAL shard handles.
type (
	walAppendMsg struct {
		ref    *partitionRef
		entry  wal.Entry
		header wire.BatchHeader
	}
	// walFlushMsg lands behind every append queued before it: handling it
	// writes them all with one write and one fdatasync (group commit).
	walFlushMsg struct{}
	// walTrimmedMsg: the uploader freed space.
	walTrimmedMsg struct{}
)

// maxGroupBytes bounds one group commit, so one write cannot hold up the
// acknowledgement of the first append in it for too long.
const maxGroupBytes = 4 << 20

// walShard owns one WAL file. It runs on its own goroutine (it blocks in
// write and fdatasync) and is the only caller of its WAL's Append.
type walShard struct {
	b       *Broker
	index   int
	w       *wal.WAL
	self    *actor.PID
	pending []*walAppendMsg

	flushQueued  bool
	waitForSpace bool
	failed       error
	entries      []wal.Entry // scratch, reused
	upTo         map[*partitionRef]int64
	retryArmed   bool
}

func (b *Broker) walShardProducer(index int) actor.Producer {
	return func() actor.Actor {
		return &walShard{b: b, index: index, w: b.deps.WALs[index], upTo: make(map[*partitionRef]int64)}
	}
}

func (s *walShard) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
		if err := s.w.Err(); err != nil {
			s.failed = err
		}
	case *walAppendMsg:
		if s.failed != nil {
			s.b.walQueued.Add(-int64(len(m.entry.Data)))
			s.b.send(m.ref.pid, &durableMsg{err: s.failed})
			return
		}
		s.pending = append(s.pending, m)
		if !s.flushQueued && !s.waitForSpace {
			s.flushQueued = true
			ctx.Send(s.self, walFlushMsg{})
		}
	case walFlushMsg:
		s.flushQueued = false
		s.flush(ctx)
	case walTrimmedMsg:
		s.retryArmed = false
		if s.waitForSpace {
			s.waitForSpace = false
			s.flush(ctx)
		}
	}
}

func (s *walShard) flush(ctx actor.Context) {
	if len(s.pending) == 0 || s.failed != nil {
		return
	}
	n, size := 0, 0
	for n < len(s.pending) && (n == 0 || size+len(s.pending[n].entry.Data) <= maxGroupBytes) {
		size += len(s.pending[n].entry.Data)
		n++
	}
	group := s.pending[:n]
	s.entries = s.entries[:0]
	for _, m := range group {
		s.entries = append(s.entries, m.entry)
	}
	start := time.Now()
	end, err := s.w.Append(s.entries)
	switch {
	case errors.Is(err, wal.ErrFull):
		s.b.metrics.walFull.Inc()
		// Wait for the uploader to trim; produce is throttled and then
		// refused at admission meanwhile. A timer retries too, in case a
		// trim message raced with this.
		s.waitForSpace = true
		if !s.retryArmed {
			s.retryArmed = true
			self, b := s.self, s.b
			time.AfterFunc(50*time.Millisecond, func() { b.send(self, walTrimmedMsg{}) })
		}
		return
	case err != nil:
		s.b.metrics.walErrors.Inc()
		s.fail(err)
		return
	}
	written := time.Now()
	s.b.metrics.walWrite.Observe(written.Sub(start).Seconds())
	s.b.metrics.walGroupBytes.Observe(float64(size))
	s.b.metrics.walGroupCount.Observe(float64(n))
	s.b.walQueued.Add(-int64(size))
	for _, m := range group {
		if last := m.entry.BaseOffset + int64(m.header.LastOffsetDelta) + 1; last > s.upTo[m.ref] {
			s.upTo[m.ref] = last
		}
	}
	for ref, upTo := range s.upTo {
		s.b.send(ref.pid, &durableMsg{upTo: upTo, writeStart: start.UnixNano(), writeEnd: written.UnixNano()})
		delete(s.upTo, ref)
	}
	s.b.send(s.b.upload, &walWrittenMsg{shard: s.index, end: end, items: append([]*walAppendMsg(nil), group...)})
	clear(s.pending[:n])
	s.pending = s.pending[n:]
	if len(s.pending) > 0 && !s.flushQueued {
		s.flushQueued = true
		ctx.Send(s.self, walFlushMsg{})
	}
}

// fail handles a write or fsync error: it is sticky (the WAL refuses every
// later append), every pending append fails with a storage error, and the
// broker reports itself unhealthy. An fsync is never retried as if it might
// have worked.
func (s *walShard) fail(err error) {
	s.failed = err
	s.b.storageError.Store(true)
	s.b.log.Error("WAL failed; refusing writes", "shard", s.index, "err", err)
	notified := make(map[*partitionRef]bool)
	for _, m := range s.pending {
		s.b.walQueued.Add(-int64(len(m.entry.Data)))
		if !notified[m.ref] {
			notified[m.ref] = true
			s.b.send(m.ref.pid, &durableMsg{err: err})
		}
	}
	clear(s.pending)
	s.pending = nil
}
