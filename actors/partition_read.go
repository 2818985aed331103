package actors

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// fetch serves one partition of a fetch round: from the log cache when the
// offset is there (the tail path), from the cold pool when it is older, or
// parks the fetch when there is nothing yet.
func (p *partition) fetch(m *fetchMsg) {
	l := p.log
	part := &m.fr.parts[m.index]
	part.highWatermark = l.highWatermark
	part.logStartOffset = l.logStartOffset
	off := part.offset
	switch {
	case off < l.logStartOffset || off > l.highWatermark:
		part.code = kerr.OffsetOutOfRange.Code
		m.fr.partDone(m.round)
	case off == l.highWatermark:
		p.parkUnmet(m, part)
		m.fr.partDone(m.round)
	case off >= l.cacheStart():
		p.b.metrics.cacheHits.Inc()
		i := l.findCached(off)
		catchUp := p.catchingUp(i)
		if catchUp && p.sitOut(m, part) {
			return
		}
		before := part.bytes
		p.readCachedFrom(part, i)
		if catchUp {
			p.b.coldBudgetCharge(part.bytes - before)
		}
		p.parkUnmet(m, part)
		m.fr.partDone(m.round)
	default:
		p.readCold(m, part, off)
	}
}

// catchUpBehindBytes is how far behind the end of a partition's log a
// reader must be, at the least, for a read from the log cache to count as
// catch-up.
const catchUpBehindBytes = 4 << 20

// catchingUp reports whether a read from live()[i] on is a lagging
// reader's: more than half the partition's cached bytes (and at least
// catchUpBehindBytes) behind the end of the log. Such reads are metered by
// the cold path's byte budget like reads from objects, so that a consumer
// draining a backlog does not, once it reaches the log cache, take its
// last tens of megabytes at memory speed, a burst of sends and of work
// for the consumer that the producers on this broker would feel. A tail
// reader is never that far behind, and is never metered.
func (p *partition) catchingUp(i int) bool {
	if p.b.coldBudget.Load() == nil || i < 0 {
		return false
	}
	l := p.log
	behind := l.behind(i)
	return behind > catchUpBehindBytes && behind > l.cacheBytes/2
}

// parkUnmet parks a long poll on this partition when what it read here
// does not meet the fetch's min bytes on its own: nothing yet, a block
// still loading, or less data than min bytes. New data, or the load's
// completion, wakes the fetch, and the woken round reads this partition
// again from the same offset (as Kafka counts new data toward min bytes).
func (p *partition) parkUnmet(m *fetchMsg, part *fetchPart) {
	if m.park && part.code == 0 && part.bytes < m.fr.minBytes {
		p.ref.park(m.fr, m.index)
	}
}

// readCache collects cached batches from off up to the high watermark and the
// partition's byte limit; the first batch is returned even if larger than the
// limit, as Kafka does, so a consumer can always make progress.
func (p *partition) readCache(part *fetchPart, off int64) {
	p.readCachedFrom(part, p.log.findCached(off))
}

// readCachedFrom is readCache from live()[i] (findCached's answer; -1 reads
// nothing).
func (p *partition) readCachedFrom(part *fetchPart, i int) {
	l := p.log
	if i < 0 {
		return
	}
	for _, c := range l.live()[i:] {
		if c.base >= l.highWatermark {
			break
		}
		if part.bytes > 0 && part.bytes+len(c.data) > int(part.maxBytes) {
			break
		}
		part.batches = append(part.batches, c.data)
		part.bytes += len(c.data)
	}
}

// listOffset answers ListOffsets for a timestamp or a special value; see
// lookupTime for a timestamp.
func (p *partition) listOffset(m *listOffsetMsg) {
	l := p.log
	// Special timestamps: latest, earliest, max timestamp (KIP-734),
	// earliest local (KIP-405: everything floe serves counts as local),
	// latest tiered (the last offset in objects), earliest pending upload
	// (KIP-1023: the first offset not yet in objects).
	const latest, earliest, earliestLocal, latestTiered, earliestPending = -1, -2, -4, -5, -6
	switch m.timestamp {
	case latest:
		m.lr.done(m.slot, 0, l.highWatermark, -1)
		return
	case earliest, earliestLocal:
		m.lr.done(m.slot, 0, l.logStartOffset, -1)
		return
	case latestTiered:
		m.lr.done(m.slot, 0, max(l.uploadedEnd, l.logStartOffset)-1, -1)
		return
	case earliestPending:
		if l.uploadedEnd >= l.highWatermark {
			m.lr.done(m.slot, 0, -1, -1)
		} else {
			m.lr.done(m.slot, 0, max(l.uploadedEnd, l.logStartOffset), -1)
		}
		return
	case maxTimestamp:
		p.lookupMaxTimestamp(m)
		return
	default:
		if m.timestamp < 0 {
			m.lr.done(m.slot, kerr.InvalidRequest.Code, -1, -1)
			return
		}
		m.target = m.timestamp
	}
	p.lookupTime(m)
}
