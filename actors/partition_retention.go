package actors

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Messages for retention and compaction.
type (
	// retentionMsg asks a partition to apply its topic's retention now.
	retentionMsg struct {
		nowMillis      int64
		retentionMs    int64 // -1: keep for ever
		retentionBytes int64 // -1: no limit
	}
	// expireProducersMsg asks a partition to forget the producers it has
	// not seen for expiration.
	expireProducersMsg struct {
		nowMillis  int64
		expiration time.Duration
	}
	// deleteRecordsMsg moves the log start offset to offset (DeleteRecords).
	deleteRecordsMsg struct {
		dr     *deleteRecordsRequest
		slot   int
		offset int64
	}
	// compactedMsg: the compactor replaced the objects in removed by the
	// ranges in added for this partition. The partition switches its index
	// and acknowledges, after which it never reads the old objects again.
	compactedMsg struct {
		removed map[string]bool
		added   []objectRange
		ack     func()
	}
)

// applyRetention moves the log start offset past whole uploaded object
// ranges that are older than retention.ms, or beyond retention.bytes counting
// from the newest data. Data not yet uploaded is never expired (it is still
// only in the WAL and the log cache).
func (p *partition) applyRetention(m *retentionMsg) {
	l := p.log
	start := l.logStartOffset
	var size int64
	for _, r := range l.objects {
		if r.end > start {
			size += r.size
		}
	}
	for _, c := range l.live() {
		if c.last >= l.uploadedEnd { // not in objects yet: part of the log's size too
			size += int64(len(c.data))
		}
	}
	for _, r := range l.objects {
		if r.end <= start {
			continue
		}
		if r.end > l.uploadedEnd {
			break
		}
		expiredByTime := m.retentionMs >= 0 && r.maxTimestamp < m.nowMillis-m.retentionMs
		expiredBySize := m.retentionBytes >= 0 && size > m.retentionBytes
		if !expiredByTime && !expiredBySize {
			break
		}
		start = r.end
		size -= r.size
	}
	p.moveLogStart(start, nil)
}

// deleteRecords applies DeleteRecords to this partition.
func (p *partition) deleteRecords(m *deleteRecordsMsg) {
	l := p.log
	offset := m.offset
	if offset == -1 {
		offset = l.highWatermark
	}
	switch {
	case offset < 0 || offset > l.highWatermark:
		m.dr.done(m.slot, kerr.OffsetOutOfRange.Code, -1)
	case offset <= l.logStartOffset:
		m.dr.done(m.slot, 0, l.logStartOffset)
	default:
		dr, slot := m.dr, m.slot
		p.moveLogStart(offset, func(err error) {
			if err != nil {
				dr.done(slot, kerr.KafkaStorageError.Code, -1)
				return
			}
			dr.done(slot, 0, offset)
		})
	}
}

// moveLogStart sets a new log start offset, drops the object ranges wholly
// below it from the index, and has the maintenance actor make it durable
// (done, if set, is called after that). Object deletion follows from the
// durable value, so a crash before it keeps the data.
func (p *partition) moveLogStart(offset int64, done func(error)) {
	l := p.log
	if offset <= l.logStartOffset {
		if done != nil {
			done(nil)
		}
		return
	}
	l.logStartOffset = offset
	p.publish()
	i := 0
	for i < len(l.objects) && l.objects[i].end <= offset {
		i++
	}
	l.objects = append(l.objects[:0:0], l.objects[i:]...)
	p.b.send(p.b.maintenance, &persistLogStartMsg{stream: p.ref.stream, offset: offset, done: done})
}

// compacted switches the index from the removed objects to the new ranges.
func (p *partition) compacted(m *compactedMsg) {
	l := p.log
	kept := l.objects[:0:0]
	for _, r := range l.objects {
		if !m.removed[r.key] {
			kept = append(kept, r)
		}
	}
	for _, r := range m.added {
		if r.end > l.logStartOffset {
			kept = append(kept, r)
		}
	}
	sortRanges(kept)
	l.objects = kept
	m.ack()
}
