package actors

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/blockcache"
	"github.com/floe-io/floe/wire"
)

// fetchPart is one partition of a fetch. The result fields are written, per
// round, by exactly one goroutine (the partition actor or a cold reader) and
// read by the finisher after the round's countdown, under fetchRequest.mu.
type fetchPart struct {
	topicIndex, partIndex int
	ref                   *partitionRef // nil: answered with code, no round
	key                   sessionKey    // the partition's name in a fetch session
	offset                int64
	maxBytes              int32

	code           int16
	highWatermark  int64
	logStartOffset int64
	batches        [][]byte
	bytes          int
	// blocks are the block cache's blocks that batches reference, held
	// until the answer is written (or the round's reads are dropped).
	blocks []*blockcache.Block

	// Guarded by fetchRequest.mu.
	inRound bool // read in the current round
	woken   bool // new data (or a loaded block) since its last read
}

// fetchRequest is one Fetch in progress: a first round of reads to every
// partition, then, while min bytes is unmet, parked until a partition wakes
// it with new data, and another round of reads to the woken partitions
// only. The others' answers stand: a partition parks a long poll when it
// has nothing, or less than min bytes, so any news of its wakes the fetch.
// When max wait passes the fetch is answered with what it holds. There is no
// actor or goroutine per fetch: partitions report with partDone and wake,
// the max-wait timer fires once, and whoever completes it encodes the
// answer.
type fetchRequest struct {
	b        *Broker
	r        *netloop.Request
	resp     *kmsg.FetchResponse
	parts    []fetchPart
	minBytes int
	maxBytes int
	maxWait  time.Duration
	// session is the fetch session the request belongs to (nil: none);
	// an incremental fetch answers only the partitions with news.
	session     *fetchSession
	incremental bool

	mu    sync.Mutex
	round int // guarded by mu
	// pending counts the replies outstanding in this round. It is set
	// under mu before the round's reads are sent and counted down without
	// it, so that a thousand partitions answering at once do not queue on
	// mu; only the last one takes it.
	pending atomic.Int32
	expired bool // guarded by mu: max wait has passed
	timer   *time.Timer
	// done is set, under mu, when the answer is sent. It is an atomic so
	// that a partition pruning its parked list (under its park lock,
	// which a fetch holding mu may be waiting for) can read it without mu.
	done atomic.Bool
}

func (fr *fetchRequest) finished() bool { return fr.done.Load() }

// startRound sends a read to every live partition (all), or to the woken
// ones. A partition the fetch is at the high watermark of has nothing to
// read: its answer is known here, and a long poll parks on it without a
// message to its actor. Called with mu held.
func (fr *fetchRequest) startRound(park, all bool) {
	fr.round++
	n := int32(0)
	for i := range fr.parts {
		part := &fr.parts[i]
		part.inRound = part.ref != nil && (all || part.woken)
		part.woken = false
		if !part.inRound {
			continue
		}
		part.code, part.batches, part.bytes = 0, part.batches[:0], 0
		part.releaseBlocks()
		if off := part.offset; off == part.ref.highWatermark.Load() && (!park || part.ref.parkAt(off, fr, i)) {
			part.inRound = false
			part.highWatermark, part.logStartOffset = off, part.ref.logStartOffset.Load()
			continue
		}
		n++
	}
	fr.pending.Store(n)
	if n == 0 {
		fr.roundDoneLocked()
		return
	}
	round := fr.round
	// Count first, then send: a fast partition may answer before the loop
	// below ends, and partDone must see the full count.
	for i := range fr.parts {
		if part := &fr.parts[i]; part.inRound {
			fr.b.send(part.ref.pid, &fetchMsg{fr: fr, index: i, round: round, park: park})
		}
	}
}

// partDone records that one partition answered in round.
func (fr *fetchRequest) partDone(round int) {
	if fr.pending.Add(-1) != 0 {
		return
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.done.Load() || round != fr.round {
		// A wake that found the count at zero has started the next round
		// already (or max wait has answered the fetch).
		return
	}
	fr.roundDoneLocked()
}

// roundDoneLocked answers the fetch, reads the woken partitions, or waits.
// Called with mu held, once per round.
func (fr *fetchRequest) roundDoneLocked() {
	total, failed, woken := 0, false, false
	for i := range fr.parts {
		total += fr.parts[i].bytes
		failed = failed || fr.parts[i].code != 0
		woken = woken || fr.parts[i].woken
	}
	switch {
	case total >= fr.minBytes || failed || fr.expired || fr.maxWait <= 0:
		fr.finishLocked()
	case woken:
		fr.startRound(true, false)
	case fr.timer == nil:
		fr.timer = time.AfterFunc(fr.maxWait-time.Since(fr.r.Received), fr.expire)
	}
}

// wake is called by the partition of part index when it has new data (or
// a block loaded) while this fetch was parked on it. A stale wake, from a
// partition read again since, costs one more read of it and nothing else.
func (fr *fetchRequest) wake(index int) {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.done.Load() {
		return
	}
	fr.parts[index].woken = true
	if fr.pending.Load() > 0 {
		return // partDone starts the next round
	}
	fr.startRound(true, false)
}

// expire answers the fetch at max wait with what its partitions last said:
// each is parked on, so none has data it did not report.
func (fr *fetchRequest) expire() {
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.done.Load() {
		return
	}
	fr.expired = true
	if fr.pending.Load() == 0 {
		fr.finishLocked()
	}
}

// finishLocked assembles and sends the response. Partitions are filled in
// request order within the request's max bytes; the first batch of the first
// partition with data is always included, as Kafka does. Record data is not
// copied: the frame references the log cache's and block cache's batches
// (see wire.AppendFetchFrame), which never change once written.
func (fr *fetchRequest) finishLocked() {
	fr.done.Store(true)
	if fr.timer != nil {
		fr.timer.Stop()
	}
	records := make([][][][]byte, len(fr.resp.Topics))
	for ti := range fr.resp.Topics {
		records[ti] = make([][][]byte, len(fr.resp.Topics[ti].Partitions))
	}
	budget := fr.maxBytes
	any := false
	sent := make([]bool, len(fr.parts))
	for i := range fr.parts {
		part := &fr.parts[i]
		rp := &fr.resp.Topics[part.topicIndex].Partitions[part.partIndex]
		rp.ErrorCode = part.code
		if part.ref == nil {
			continue
		}
		rp.HighWatermark = part.highWatermark
		rp.LastStableOffset = part.highWatermark
		rp.LogStartOffset = part.logStartOffset
		size := 0
		n := 0
		for _, b := range part.batches {
			if any && size+len(b) > budget {
				break
			}
			size += len(b)
			n++
			any = true
		}
		if n == 0 {
			continue
		}
		budget = max(budget-size, 0)
		records[part.topicIndex][part.partIndex] = part.batches[:n]
		sent[i] = true
	}
	if fr.session != nil {
		keep := fr.session.answered(fr.parts, sent)
		if fr.incremental {
			records = fr.keepOnly(keep, records)
		}
	}
	fr.resp.Version = fr.r.Header.Version
	frame, err := wire.AppendFetchFrame(fr.r.Header.CorrelationID, fr.resp, func(t, p int) [][]byte { return records[t][p] })
	if err != nil {
		// Unreachable while wire's table advertises only versions the
		// encoder covers (a wire test checks that); never a silent copy.
		// The parts' blocks go to the GC unreleased, which only costs
		// their reuse.
		fr.r.Close(err.Error())
		return
	}
	fr.r.RespondFrame(frame.Parts, frame.Size, fr.takeBlocks())
}

// takeBlocks takes the block references the parts hold and returns what
// releases them, for the server to call when the answer is written; nil
// when the answer holds no block (a tail fetch).
func (fr *fetchRequest) takeBlocks() func() {
	var held []*blockcache.Block
	for i := range fr.parts {
		held = append(held, fr.parts[i].blocks...)
		fr.parts[i].blocks = nil
	}
	if len(held) == 0 {
		return nil
	}
	return func() {
		for _, b := range held {
			b.Release()
		}
	}
}

// releaseBlocks ends the part's references to blocks (its batches are
// being dropped).
func (part *fetchPart) releaseBlocks() {
	for i, b := range part.blocks {
		b.Release()
		part.blocks[i] = nil
	}
	part.blocks = part.blocks[:0]
}

// keepOnly drops from the answer the partitions keep says no to, and the
// topics left empty, and returns records re-indexed to match. Parts are in
// answer order, so the kept ones stay in it.
func (fr *fetchRequest) keepOnly(keep []bool, records [][][][]byte) [][][][]byte {
	var topics []kmsg.FetchResponseTopic
	var kept [][][][]byte
	last := -1
	for i := range fr.parts {
		if !keep[i] {
			continue
		}
		part := &fr.parts[i]
		if part.topicIndex != last {
			t := fr.resp.Topics[part.topicIndex]
			t.Partitions = nil
			topics = append(topics, t)
			kept = append(kept, nil)
			last = part.topicIndex
		}
		k := len(topics) - 1
		topics[k].Partitions = append(topics[k].Partitions, fr.resp.Topics[part.topicIndex].Partitions[part.partIndex])
		kept[k] = append(kept[k], records[part.topicIndex][part.partIndex])
	}
	fr.resp.Topics = topics
	return kept
}
