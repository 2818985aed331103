package actors

import (
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/wire"
)

// lookupTimeout bounds how long a timestamp lookup waits for object blocks
// before it answers KAFKA_STORAGE_ERROR (retriable). A failed load says so
// at once (coldLoadFailedMsg); this is for a load that never ends, such as
// one queued behind loaders stuck in a store that hangs.
const lookupTimeout = coldLoadTimeout + 5*time.Second

// maxLookupLoads bounds the blocks loaded for one lookup that were evicted
// again before the lookup could read them (a block cache too small for
// the load going on).
const maxLookupLoads = 4

// maxTimestamp is the ListOffsets timestamp that asks for the record with
// the largest timestamp (KIP-734).
const maxTimestamp = -3

// lookupMaxTimestamp answers KIP-734's max timestamp: the first record at
// or after the log start with the largest timestamp. The object index and
// the cached batch headers give each range's and batch's largest time,
// which is the answer's time unless the log start cuts the range or batch
// that holds it (DeleteRecords or retention moved it past some of its
// records): that one range is read from its block, and the batch the log
// start falls in record by record. The first record at the largest time is
// then found as for a timestamp lookup.
func (p *partition) lookupMaxTimestamp(m *listOffsetMsg) {
	l := p.log
	from, cacheStart := l.logStartOffset, l.cacheStart()
	best, cut := int64(-1), -1
	for i, o := range l.objects {
		switch {
		case o.end <= from:
		case o.first < from:
			cut = i
		default:
			best = max(best, o.maxTimestamp)
		}
	}
	// The batch the log start falls in answers itself when it holds the
	// largest time: it comes before every other record.
	cutOff, cutTs, cutFound := int64(-1), int64(-1), false
	take := func(data []byte, h wire.BatchHeader) {
		switch {
		case h.LastOffset() < from:
		case h.BaseOffset >= from:
			best = max(best, h.MaxTimestamp)
		default:
			off, ts, ok := p.maxTimeFrom(data, h, from)
			if ok && (!cutFound || ts > cutTs) {
				cutOff, cutTs, cutFound = off, ts, true
			}
		}
	}
	for _, c := range l.live() {
		if c.base >= l.highWatermark {
			break
		}
		take(c.data, c.header)
	}
	if cut >= 0 && l.objects[cut].first < cacheStart && l.objects[cut].maxTimestamp > max(best, cutTs) {
		rng := l.objects[cut]
		block, ok := p.b.blocks.Get(blockKey(rng))
		if !ok {
			p.awaitBlock(m, cut)
			return
		}
		err := eachBlockBatch(block.Data, func(data []byte, h wire.BatchHeader) bool {
			take(data, h)
			return true
		})
		block.Release()
		if err != nil {
			p.b.log.Error("corrupt object block", "key", rng.key, "position", rng.position, "err", err)
			m.lr.done(m.slot, kerr.KafkaStorageError.Code, -1, -1)
			return
		}
	}
	switch {
	case cutFound && cutTs >= best:
		m.lr.done(m.slot, 0, cutOff, cutTs)
	case best < 0:
		m.lr.done(m.slot, 0, -1, -1)
	default:
		m.target = best
		p.lookupTime(m)
	}
}

// lookupTime answers m with the first offset at or after the log start whose
// record has a timestamp of at least m.target, and that record's timestamp,
// as Kafka does: the object index and the cached batches' headers say which
// block or batch holds it (the first whose largest timestamp reaches the
// target), and the records of that batch say which record. A block that is
// not in the block cache is loaded by the cold loaders, and the lookup
// waits for it on the partition (the partition goes on serving meanwhile).
func (p *partition) lookupTime(m *listOffsetMsg) {
	l := p.log
	cacheStart := l.cacheStart()
	i := sort.Search(len(l.objects), func(i int) bool { return l.objects[i].end > l.logStartOffset })
	for ; i < len(l.objects) && l.objects[i].first < cacheStart; i++ {
		rng := l.objects[i]
		if rng.maxTimestamp < m.target {
			continue
		}
		block, ok := p.b.blocks.Get(blockKey(rng))
		if !ok {
			p.awaitBlock(m, i)
			return
		}
		off, ts, found, err := p.recordAtTimeInBlock(block.Data, l.logStartOffset, m.target)
		block.Release()
		if err != nil {
			p.b.log.Error("corrupt object block", "key", rng.key, "position", rng.position, "err", err)
			m.lr.done(m.slot, kerr.KafkaStorageError.Code, -1, -1)
			return
		}
		if found {
			m.lr.done(m.slot, 0, off, ts)
			return
		}
	}
	for _, c := range l.live() {
		if c.base >= l.highWatermark {
			break
		}
		if off, ts, found := p.recordAtTime(c.data, c.header, l.logStartOffset, m.target); found {
			m.lr.done(m.slot, 0, off, ts)
			return
		}
	}
	m.lr.done(m.slot, 0, -1, -1)
}

// recordAtTime is wire.RecordAtTime for a batch the broker holds; see
// unreadable for a batch whose records cannot be read.
func (p *partition) recordAtTime(batch []byte, h wire.BatchHeader, from, target int64) (offset, timestamp int64, found bool) {
	offset, timestamp, found, err := wire.RecordAtTime(batch, h, from, target)
	if err != nil {
		return p.unreadable(h, from, err)
	}
	return offset, timestamp, found
}

// maxTimeFrom is wire.MaxTimeFrom for a batch the broker holds; see
// unreadable for a batch whose records cannot be read.
func (p *partition) maxTimeFrom(batch []byte, h wire.BatchHeader, from int64) (offset, timestamp int64, found bool) {
	offset, timestamp, found, err := wire.MaxTimeFrom(batch, h, from)
	if err != nil {
		return p.unreadable(h, from, err)
	}
	return offset, timestamp, found
}

// unreadable answers a timestamp lookup in a batch whose records cannot be
// read: a producer's malformed compressed batch (produce checks the CRC
// over compressed records but does not decompress them), not damage. Its
// first offset stands in, never after the record wanted, as a batch-level
// index would answer.
func (p *partition) unreadable(h wire.BatchHeader, from int64, err error) (offset, timestamp int64, found bool) {
	p.b.log.Warn("timestamp lookup cannot read a batch's records; answering its first offset",
		"topic", p.ref.topic, "partition", p.ref.index, "offset", h.BaseOffset, "err", err)
	return max(h.BaseOffset, from), h.MaxTimestamp, true
}

// eachBlockBatch calls visit with each batch of an object block and its
// header, until visit returns false; an error is a block whose framing is
// damaged.
func eachBlockBatch(block []byte, visit func(data []byte, h wire.BatchHeader) bool) error {
	for pos := 0; pos < len(block); {
		size, err := objformat.BatchSizeAt(block, pos)
		if err != nil {
			return err
		}
		data := block[pos : pos+size]
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			return err
		}
		if !visit(data, h) {
			return nil
		}
		pos += size
	}
	return nil
}

// recordAtTimeInBlock looks through the batches of an object block; an
// error is a block whose framing is damaged.
func (p *partition) recordAtTimeInBlock(block []byte, from, target int64) (offset, timestamp int64, found bool, err error) {
	offset, timestamp = -1, -1
	err = eachBlockBatch(block, func(data []byte, h wire.BatchHeader) bool {
		offset, timestamp, found = p.recordAtTime(data, h, from, target)
		return !found
	})
	if err != nil || !found {
		return -1, -1, false, err
	}
	return offset, timestamp, true, nil
}

// awaitBlock parks m until the block at index i of the object index is
// cached, loading it if no load of it is under way.
func (p *partition) awaitBlock(m *listOffsetMsg, i int) {
	l := p.log
	if !p.b.blocks.Contains(blockKey(l.objects[i])) {
		if m.loads >= maxLookupLoads {
			m.lr.done(m.slot, kerr.KafkaStorageError.Code, -1, -1)
			return
		}
		m.loads++
		p.loadBlocks(i, i+1, 1)
	}
	m.block = blockKey(l.objects[i])
	l.lookups = append(l.lookups, m)
	if !m.timerArmed {
		m.timerArmed = true
		self := p.self
		time.AfterFunc(lookupTimeout, func() { p.b.send(self, lookupTimeoutMsg{m: m}) })
	}
}

// retryLookups runs the waiting lookups again when a load has ended. After
// a failed one (loadFailed), a lookup whose block is neither cached nor
// loading any more is answered KAFKA_STORAGE_ERROR, which clients retry,
// rather than loaded again; the others run again (a load that failed in
// part filled the cache with the rest).
func (p *partition) retryLookups(loadFailed bool) {
	waiting := p.log.lookups
	p.log.lookups = nil
	for _, m := range waiting {
		if loadFailed && !p.b.blocks.Contains(m.block) {
			m.lr.done(m.slot, kerr.KafkaStorageError.Code, -1, -1)
			continue
		}
		if m.timestamp == maxTimestamp {
			p.lookupMaxTimestamp(m)
		} else {
			p.lookupTime(m)
		}
	}
}

// lookupTimedOut answers m if it is still waiting: a lookup is answered
// exactly when it leaves l.lookups, so membership says whether it waits.
func (p *partition) lookupTimedOut(m *listOffsetMsg) {
	l := p.log
	i := slices.Index(l.lookups, m)
	if i < 0 {
		return
	}
	l.lookups = slices.Delete(l.lookups, i, i+1)
	m.lr.done(m.slot, kerr.KafkaStorageError.Code, -1, -1)
}
