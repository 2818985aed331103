package actors

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/wire"
)

// producerWindow is how many recent batches per producer are remembered for
// duplicate detection: Kafka allows 5 in-flight requests per idempotent
// producer, so a retry is always among the last 5.
const producerWindow = 5

type seqBatch struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	lastOffset        int64
	// appendTime is the LogAppendTime stamped on the batch (unix ms), for
	// the answer to a retry; -1 for a CreateTime batch, or one rebuilt
	// from the metadata store's snapshot, which keeps no times.
	appendTime int64
}

// producerEntry is one idempotent producer's state on one partition.
type producerEntry struct {
	epoch   int16
	batches [producerWindow]seqBatch // ring, newest at (next-1)
	next    int
	count   int
	// lastSeen is when (unix ms, broker clock) the partition last recorded
	// a batch of this producer, or rebuilt its state at start: the
	// producer expires producer.id.expiration after it (KIP-854).
	lastSeen int64
}

func (e *producerEntry) last() (seqBatch, bool) {
	if e.count == 0 {
		return seqBatch{}, false
	}
	return e.batches[(e.next+producerWindow-1)%producerWindow], true
}

func (e *producerEntry) add(b seqBatch) {
	e.batches[e.next] = b
	e.next = (e.next + 1) % producerWindow
	if e.count < producerWindow {
		e.count++
	}
}

func (e *producerEntry) duplicate(firstSeq, lastSeq int32) (seqBatch, bool) {
	for i := 0; i < e.count; i++ {
		b := e.batches[(e.next+producerWindow-1-i)%producerWindow]
		if b.firstSeq == firstSeq && b.lastSeq == lastSeq {
			return b, true
		}
	}
	return seqBatch{}, false
}

// producerStates maps producer id → state. Owned by the partition actor.
type producerStates map[int64]*producerEntry

// nextSeq is the sequence after s, wrapping as Kafka does.
func nextSeq(s int32) int32 {
	if s == 1<<31-1 {
		return 0
	}
	return s + 1
}

// seqCheck is the outcome of checking a batch against producer state.
type seqCheck struct {
	code      int16    // 0, or the error to answer
	duplicate bool     // the batch was written before: answer with dup's offsets
	dup       seqBatch // valid when duplicate
}

// check applies Kafka's idempotent-producer rules to a batch header without
// changing state.
func (ps producerStates) check(h wire.BatchHeader) seqCheck {
	if h.ProducerID < 0 {
		return seqCheck{}
	}
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	if lastSeq < h.BaseSequence { // wrapped past MaxInt32
		lastSeq = h.LastOffsetDelta - (1<<31 - 1 - h.BaseSequence) - 1
	}
	e := ps[h.ProducerID]
	if e == nil {
		// Unknown producer (new, or its state expired): any sequence starts it,
		// as Kafka does since KIP-360.
		return seqCheck{}
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return seqCheck{code: kerr.InvalidProducerEpoch.Code}
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return seqCheck{code: kerr.OutOfOrderSequenceNumber.Code}
		}
		return seqCheck{}
	}
	if dup, ok := e.duplicate(h.BaseSequence, lastSeq); ok {
		return seqCheck{duplicate: true, dup: dup}
	}
	last, ok := e.last()
	if !ok {
		return seqCheck{}
	}
	if h.BaseSequence != nextSeq(last.lastSeq) {
		return seqCheck{code: kerr.OutOfOrderSequenceNumber.Code}
	}
	return seqCheck{}
}

// record notes a batch written at [base, last], at now (unix ms);
// appendTime is the LogAppendTime stamped on it, or -1.
func (ps producerStates) record(h wire.BatchHeader, base, last, appendTime, now int64) {
	if h.ProducerID < 0 {
		return
	}
	e := ps[h.ProducerID]
	if e == nil || h.ProducerEpoch > e.epoch {
		e = &producerEntry{epoch: h.ProducerEpoch}
		ps[h.ProducerID] = e
	}
	if h.ProducerEpoch < e.epoch {
		return
	}
	e.lastSeen = max(e.lastSeen, now)
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	if lastSeq < h.BaseSequence {
		lastSeq = h.LastOffsetDelta - (1<<31 - 1 - h.BaseSequence) - 1
	}
	if l, ok := e.last(); ok && l.lastOffset >= last {
		return // replaying something already known
	}
	e.add(seqBatch{firstSeq: h.BaseSequence, lastSeq: lastSeq, baseOffset: base, lastOffset: last, appendTime: appendTime})
}

// expire forgets every producer last seen before cutoff (unix ms) and
// returns each one's last written offset (-1 if none is known), for the
// metadata store to forget them too. A producer that comes back later is
// treated as new, as Kafka treats a producer whose state expired: its next
// batch is accepted whatever its sequence (KIP-360).
func (ps producerStates) expire(cutoff int64) map[int64]int64 {
	var gone map[int64]int64
	for id, e := range ps {
		if e.lastSeen >= cutoff {
			continue
		}
		if gone == nil {
			gone = make(map[int64]int64)
		}
		gone[id] = -1
		if b, ok := e.last(); ok {
			gone[id] = b.lastOffset
		}
		delete(ps, id)
	}
	return gone
}

// logAppendTime is the LogAppendTime a stored batch's header carries, or -1.
func logAppendTime(h wire.BatchHeader) int64 {
	if h.TimestampType() == 1 {
		return h.MaxTimestamp
	}
	return -1
}
