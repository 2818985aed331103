package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/persistence/blockcache"
	"github.com/floe-io/floe/persistence/wal"
	"github.com/floe-io/floe/wire"
)

// Messages a partition actor handles.
type (
	// produceMsg carries one partition's records of a Produce request.
	produceMsg struct {
		pr      *produceRequest
		slot    int
		records []byte
		config  topicConfig
	}
	// durableMsg: everything this partition sent to its WAL shard below upTo
	// is durable; or, with err, the WAL failed and nothing more will be.
	durableMsg struct {
		upTo int64
		err  error
		// The group commit that made upTo durable, unix nanos: its write
		// started and ended then (floe_produce_stage_seconds).
		writeStart, writeEnd int64
	}
	// fetchMsg asks for data of one fetch partition in one round.
	fetchMsg struct {
		fr    *fetchRequest
		index int
		round int
		park  bool
	}
	// uploadedMsg: these ranges of the partition are now in objects.
	uploadedMsg struct {
		ranges []objectRange
		end    int64
	}
	// listOffsetMsg asks for the offset of a timestamp.
	listOffsetMsg struct {
		lr        *listOffsetsRequest
		slot      int
		timestamp int64 // as asked: a time, or a special value
		// Set by the partition: the time looked up, the block it waits
		// for, the blocks loaded for it so far, and whether its timeout is
		// set. It waits while it is in partitionLog.lookups.
		target     int64
		block      blockcache.Key
		loads      int
		timerArmed bool
	}
	// lookupTimeoutMsg: a lookup waiting for an object block waited too long.
	lookupTimeoutMsg struct{ m *listOffsetMsg }
	// produceTimeoutMsg: check waiters against their deadlines.
	produceTimeoutMsg struct{}
	// panicMsg makes the actor panic, for supervision tests.
	panicMsg struct{}
)

// partition is the actor that owns one partition. Its durable part lives in
// log, which survives restarts of the actor (see partitionLog).
type partition struct {
	b         *Broker
	ref       *partitionRef
	log       *partitionLog
	producers producerStates
	self      *actor.PID
}

func (b *Broker) partitionProducer(ref *partitionRef, log *partitionLog) actor.Producer {
	return func() actor.Actor { return &partition{b: b, ref: ref, log: log} }
}

// Receive handles one message; it runs on the CPU pool and never blocks.
func (p *partition) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.self = ctx.Self()
		p.start()
	case *produceMsg:
		p.produce(m)
	case *durableMsg:
		p.durable(m)
	case *fetchMsg:
		p.fetch(m)
	case *uploadedMsg:
		p.uploaded(m)
	case *listOffsetMsg:
		p.listOffset(m)
	case *retentionMsg:
		p.applyRetention(m)
	case *expireProducersMsg:
		p.expireProducers(m)
	case *deleteRecordsMsg:
		p.deleteRecords(m)
	case *compactedMsg:
		p.compacted(m)
	case coldLoadedMsg:
		p.wakeParked()
		p.retryLookups(false)
	case coldLoadFailedMsg:
		p.retryLookups(true)
	case lookupTimeoutMsg:
		p.lookupTimedOut(m.m)
	case produceTimeoutMsg:
		p.log.timerArmed = false
		p.expireWaiters(time.Now().UnixNano())
	case panicMsg:
		panic("partition: panic requested by a fault test")
	}
}

// start runs on every incarnation. After a restart, requests the previous
// incarnation was serving get a retriable error (their data, if it reaches
// the WAL, is kept: an idempotent retry then finds it as a duplicate), parked
// fetches are woken, and producer state is rebuilt from the data.
func (p *partition) start() {
	l := p.log
	l.incarnation++
	if l.incarnation > 1 {
		for _, w := range l.waiters {
			w.pr.done(w.slot, kerr.NotLeaderForPartition.Code, -1, l.logStartOffset)
		}
		l.waiters = nil
		p.wakeParked()
		for _, m := range l.lookups {
			m.lr.done(m.slot, kerr.NotLeaderForPartition.Code, -1, -1)
		}
		l.lookups = nil
	}
	p.rebuildProducers()
	p.publish()
}

// rebuildProducers rebuilds producer state from the last upload's snapshot
// and the batches still in the cache. A rebuilt producer counts as seen now:
// a restart gives every producer a full expiration period again, so expiry
// can come late but never early.
func (p *partition) rebuildProducers() {
	now := time.Now().UnixMilli()
	p.producers = make(producerStates)
	for _, s := range p.log.snapshot {
		h := wire.BatchHeader{ProducerID: s.ProducerID, ProducerEpoch: s.Epoch, BaseSequence: s.FirstSeq, LastOffsetDelta: s.LastSeq - s.FirstSeq}
		appendTime := int64(-1)
		if s.AppendTime > 0 {
			appendTime = s.AppendTime
		}
		p.producers.record(h, s.BaseOffset, s.LastOffset, appendTime, now)
	}
	for _, c := range p.log.live() {
		p.producers.record(c.header, c.base, c.last, logAppendTime(c.header), now)
	}
	p.countProducers()
}

// countProducers brings the broker's count of tracked producers
// (floe_producer_states) up to date with this partition's.
func (p *partition) countProducers() {
	n := int64(len(p.producers))
	p.b.producerStates.Add(n - p.log.producerCount)
	p.log.producerCount = n
}

// expireProducers forgets the producers idle for longer than the
// expiration and asks the maintenance actor to delete their stored state.
func (p *partition) expireProducers(m *expireProducersMsg) {
	gone := p.producers.expire(m.nowMillis - m.expiration.Milliseconds())
	if len(gone) == 0 {
		return
	}
	p.countProducers()
	kept := p.log.snapshot[:0]
	for _, s := range p.log.snapshot {
		if _, expired := gone[s.ProducerID]; !expired {
			kept = append(kept, s)
		}
	}
	clear(p.log.snapshot[len(kept):])
	p.log.snapshot = kept
	p.b.send(p.b.maintenance, &forgetProducersMsg{stream: p.ref.stream, lastOffsets: gone})
}

func (p *partition) publish() {
	p.ref.highWatermark.Store(p.log.highWatermark)
	p.ref.logStartOffset.Store(p.log.logStartOffset)
}

func (p *partition) produce(m *produceMsg) {
	l := p.log
	batches, headers, err := wire.SplitBatches(m.records)
	switch {
	case err != nil:
		m.pr.done(m.slot, wire.ErrorCode(err), -1, l.logStartOffset)
		return
	case len(batches) != 1:
		// Produce v3+ carries exactly one batch per partition.
		m.pr.done(m.slot, kerr.InvalidRecord.Code, -1, l.logStartOffset)
		return
	}
	batch, h := batches[0], headers[0]
	switch {
	case int64(len(batch)) > int64(m.config.maxMessageBytes):
		m.pr.done(m.slot, kerr.MessageTooLarge.Code, -1, l.logStartOffset)
		return
	case h.Compression() == 4 && m.pr.version < 7:
		// zstd needs Produce v7+ (KIP-110), so old consumers never see it.
		m.pr.done(m.slot, kerr.UnsupportedCompressionType.Code, -1, l.logStartOffset)
		return
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		m.pr.done(m.slot, kerr.InvalidRecord.Code, -1, l.logStartOffset)
		return
	case h.Transactional() || h.Control():
		// Transactions are not supported (no AddPartitionsToTxn etc. in
		// ApiVersions); a transactional batch cannot be valid here.
		m.pr.done(m.slot, kerr.InvalidTxnState.Code, -1, l.logStartOffset)
		return
	case p.b.storageError.Load():
		m.pr.done(m.slot, kerr.KafkaStorageError.Code, -1, l.logStartOffset)
		return
	}
	check := p.producers.check(h)
	if check.code != 0 {
		m.pr.done(m.slot, check.code, -1, l.logStartOffset)
		return
	}
	if check.duplicate {
		// A retry of a batch already written: answer with its offsets (and
		// on a LogAppendTime topic its append time) once it is durable.
		appendTime := int64(-1)
		if m.config.logAppendTime {
			appendTime = check.dup.appendTime
		}
		if check.dup.lastOffset < l.highWatermark {
			m.pr.durable(m.slot, check.dup.baseOffset, l.logStartOffset, appendTime)
		} else {
			p.addWaiter(m.pr, m.slot, check.dup.baseOffset, check.dup.lastOffset, 0, appendTime)
		}
		return
	}

	base := l.nextOffset
	last := base + int64(h.LastOffsetDelta)
	now := time.Now()
	// The cache keeps its own copy: the request's frame holds other
	// partitions' batches too, and a copy next to this partition's previous
	// batch is served without another copy (see batchArena).
	batch = l.arena.copy(batch, now.UnixNano())
	wire.SetBaseOffset(batch, base)
	wire.SetPartitionLeaderEpoch(batch, 0)
	h.BaseOffset = base
	appendTime := int64(-1)
	if m.config.logAppendTime {
		appendTime = now.UnixMilli()
		wire.SetLogAppendTime(batch, &h, appendTime)
	}
	l.nextOffset = last + 1
	l.appendBatch(cachedBatch{base: base, last: last, header: h, data: batch})
	p.b.cacheBytes.Add(int64(len(batch)))
	p.producers.record(h, base, last, appendTime, now.UnixMilli())
	if int64(len(p.producers)) != p.log.producerCount {
		p.countProducers()
	}

	p.b.walQueued.Add(int64(len(batch)))
	p.b.send(p.b.shards[p.ref.wal], &walAppendMsg{
		ref:    p.ref,
		entry:  wal.Entry{Stream: p.ref.stream, BaseOffset: base, Data: batch},
		header: h,
	})
	if m.pr.acks != 0 {
		p.addWaiter(m.pr, m.slot, base, last, now.UnixNano(), appendTime)
	}
	p.evict()
}

// addWaiter parks pr's slot until offset last is durable. appended is when
// this partition handed the batch to the WAL (unix nanos), 0 for a retry
// waiting on an earlier write; appendTime is the LogAppendTime to answer, or
// -1.
func (p *partition) addWaiter(pr *produceRequest, slot int, base, last, appended, appendTime int64) {
	l := p.log
	l.waiters = append(l.waiters, pendingAck{pr: pr, slot: slot, base: base, last: last, deadline: pr.deadline, appended: appended, logAppendTime: appendTime})
	if !l.timerArmed {
		l.timerArmed = true
		self, b := p.self, p.b
		time.AfterFunc(time.Until(time.Unix(0, pr.deadline))+time.Millisecond, func() { b.send(self, produceTimeoutMsg{}) })
	}
}

// expireWaiters answers REQUEST_TIMED_OUT to waiters past their deadline. Their
// data may still become durable, as in Kafka; an idempotent retry then finds it.
func (p *partition) expireWaiters(now int64) {
	l := p.log
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if w.deadline <= now {
			w.pr.done(w.slot, kerr.RequestTimedOut.Code, -1, l.logStartOffset)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.waiters[len(kept):])
	l.waiters = kept
	if len(kept) > 0 {
		earliest := kept[0].deadline
		for _, w := range kept {
			earliest = min(earliest, w.deadline)
		}
		l.timerArmed = true
		self, b := p.self, p.b
		time.AfterFunc(time.Until(time.Unix(0, earliest))+time.Millisecond, func() { b.send(self, produceTimeoutMsg{}) })
	}
}

func (p *partition) durable(m *durableMsg) {
	l := p.log
	if m.err != nil {
		// The WAL refuses every later append (sticky), so nothing above the
		// high watermark will ever be durable: drop it and fail its waiters.
		for _, w := range l.waiters {
			w.pr.done(w.slot, kerr.KafkaStorageError.Code, -1, l.logStartOffset)
		}
		l.waiters = nil
		p.b.cacheBytes.Add(-l.truncate(l.highWatermark))
		p.rebuildProducers()
		return
	}
	if m.upTo <= l.highWatermark {
		return
	}
	l.highWatermark = m.upTo
	p.publish()
	now := time.Now().UnixNano()
	kept := l.waiters[:0]
	for _, w := range l.waiters {
		if w.last < l.highWatermark {
			if w.appended != 0 {
				p.b.metrics.observeProduceStages(w.pr.received, w.appended, m.writeStart, m.writeEnd, now)
			}
			w.pr.durable(w.slot, w.base, l.logStartOffset, w.logAppendTime)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.waiters[len(kept):])
	l.waiters = kept
	p.wakeParked()
}

// wakeParked wakes every parked fetch. The new high watermark, if any, is
// published before (see partitionRef.parkAt).
func (p *partition) wakeParked() {
	parked := p.ref.takeParked(p.log.spareParked)
	for _, pf := range parked {
		pf.fr.wake(pf.index)
	}
	clear(parked)
	p.log.spareParked = parked[:0]
}

func (p *partition) uploaded(m *uploadedMsg) {
	l := p.log
	// A range is added only past what the index covers: a compaction may
	// have replaced this upload's object before this message arrived (the
	// compactor reads the metadata store, which the uploader commits to
	// before it sends), and then the merged ranges already cover it.
	covered := l.uploadedEnd
	if n := len(l.objects); n > 0 {
		covered = max(covered, l.objects[n-1].end)
	}
	for _, r := range m.ranges {
		if r.first >= covered && r.end > l.logStartOffset {
			l.objects = append(l.objects, r)
			covered = r.end
		}
	}
	if m.end > l.uploadedEnd {
		l.uploadedEnd = m.end
	}
	p.evict()
}

// evict drops uploaded batches from the head of this partition's cache while
// the broker's log cache is over budget. Batches not yet uploaded stay: the
// cache is their only readable copy until the upload.
func (p *partition) evict() {
	l := p.log
	for p.b.cacheBytes.Load() > p.b.cfg.LogCacheBytes && l.head < len(l.batches) && l.batches[l.head].last < l.uploadedEnd {
		p.b.cacheBytes.Add(-l.dropHead())
	}
}
