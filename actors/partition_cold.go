package actors

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/persistence/blockcache"
	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/wire"
)

// Readahead bounds in bytes: the window starts at 512 KiB and doubles on every
// sequential miss up to 4 MiB (never more than a quarter of the block cache,
// or readahead would evict what it just read), and halves when the block
// cache reports prefetched blocks evicted unread.
//
// The cap is small because a window is loaded at once: partitions read by
// one consumer advance in step, and with a 32 MiB cap their windows came due
// together, a copy of 100 MiB within a second that delayed produce on a
// two-vCPU machine (docs/benchmarks.md, session 10). A 4 MiB ranged GET
// takes S3 some tens of milliseconds, and the next window is loaded while
// half of this one is unread (prefetchAfter), so a partition still reads
// from S3 at tens of MiB/s without waiting on it.
const readaheadMinBytes = 512 << 10

// ReadaheadMaxBytes is the largest window the cold path loads at once, for
// any block cache of four times that or more.
const ReadaheadMaxBytes = 4 << 20

func (b *Broker) readaheadCap() int64 {
	return min(ReadaheadMaxBytes, b.cfg.BlockCacheBytes/4)
}

// readCold serves a fetch partition whose offset has left the log cache.
//
// Fast path: the blocks holding the offset are in the block cache; they are
// read here, on the partition actor, and the fetch may continue into the log
// cache within its byte limit. Slow path: a block is missing; a load is
// handed to the cold loaders and the fetch answers at once without this
// partition's data ("fail fast"), parked on the load if it asked to wait. So
// a fetch never waits on object storage while another of its partitions
// has data, and produce and tail fetches never wait at all.
func (p *partition) readCold(m *fetchMsg, part *fetchPart, off int64) {
	l := p.log
	if p.sitOut(m, part) {
		return
	}
	// done charges the budget with what this partition took, then answers.
	// Nothing may touch part after partDone: the round may end, and the
	// fetch start its next one, at once.
	before := part.bytes
	done := func() {
		p.b.coldBudgetCharge(part.bytes - before)
		p.parkUnmet(m, part)
		m.fr.partDone(m.round)
	}
	i := sort.Search(len(l.objects), func(i int) bool { return l.objects[i].end > off })
	for ; i < len(l.objects); i++ {
		rng := l.objects[i]
		block, ok := p.b.blocks.Get(blockKey(rng))
		if !ok {
			p.b.metrics.cacheMisses.Inc()
			p.readahead(i)
			done()
			return
		}
		p.b.metrics.blockHits.Inc()
		taken := len(part.batches)
		full, err := p.takeBatches(part, rng, block.Data, &off, l.highWatermark)
		if len(part.batches) > taken {
			// The answer sends the block's bytes as they are: the fetch
			// holds the reference until the answer is written.
			part.blocks = append(part.blocks, block)
		} else {
			block.Release()
		}
		if err != nil {
			p.b.log.Error("corrupt object block", "key", rng.key, "position", rng.position, "err", err)
			part.code = kerr.KafkaStorageError.Code
			done()
			return
		}
		if full {
			p.prefetchAfter(i)
			done()
			return
		}
		// Read past this block: a catch-up reader will not need it again.
		p.b.blocks.Consumed(blockKey(rng))
		off = max(off, rng.end)
		if off >= l.cacheStart() {
			p.readCache(part, off)
			done()
			return
		}
	}
	done()
}

// sitOut ends this partition's part of a fetch round without data when the
// cold path's byte budget is in debt, and reports whether it did. A fetch
// with nothing else comes back when the budget has refilled.
func (p *partition) sitOut(m *fetchMsg, part *fetchPart) bool {
	wait := p.b.coldBudgetWait()
	if wait <= 0 {
		return false
	}
	p.b.metrics.coldThrottled.Inc()
	if m.park && part.bytes == 0 {
		fr, index := m.fr, m.index
		time.AfterFunc(wait, func() { fr.wake(index) })
	}
	m.fr.partDone(m.round)
	return true
}

// coldCursor remembers where the last cold read of a partition stopped in a
// block: every batch before byte pos of the block ends below offset next. A
// catch-up reader asks for next in its following fetch, and the walk resumes
// there instead of from the block's first batch (a 1 MiB block of small
// batches is a thousand headers, each a cache miss).
type coldCursor struct {
	block blockcache.Key
	pos   int
	next  int64
}

// takeBatches appends the batches of block from *off on, within the part's
// byte limit, advancing *off. It reports whether the limit stopped it.
func (p *partition) takeBatches(part *fetchPart, rng objectRange, block []byte, off *int64, highWatermark int64) (bool, error) {
	key := blockKey(rng)
	pos, exact := 0, *off <= rng.first
	if c := p.log.coldCursor; c.block == key && *off >= c.next && c.pos <= len(block) {
		pos, exact = c.pos, *off == c.next
	}
	defer func() { p.log.coldCursor = coldCursor{block: key, pos: pos, next: *off} }()
	// When the batch at pos is known to be the first one wanted and the rest
	// of the block fits, it is taken whole, its headers unread: a catch-up
	// reader mostly takes whole blocks, and touching a thousand headers
	// spread over a block costs more than the rest of the fetch.
	if rest := len(block) - pos; exact && rest > 0 && rng.end <= highWatermark && part.bytes+rest <= int(part.maxBytes) {
		part.batches = append(part.batches, block[pos:])
		part.bytes += rest
		*off = max(*off, rng.end)
		pos = len(block)
		return false, nil
	}
	for pos < len(block) {
		size, err := objformat.BatchSizeAt(block, pos)
		if err != nil {
			return false, err
		}
		// The batch as a slice of the block whose capacity runs on to the
		// block's end, so the response encoder sees that consecutive
		// batches are adjacent and writes them as one part.
		data := block[pos : pos+size]
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			return false, err
		}
		last := h.LastOffset()
		if last < *off {
			pos += size
			continue
		}
		if h.BaseOffset >= highWatermark {
			return true, nil
		}
		if part.bytes > 0 && part.bytes+len(data) > int(part.maxBytes) {
			return true, nil
		}
		part.batches = append(part.batches, data)
		part.bytes += len(data)
		*off = last + 1
		pos += size
	}
	return false, nil
}

// readahead handles a miss at block i. A miss where the previous window
// ended, or on a block still loading, means the reader caught up with the
// readahead, and the window doubles; any other miss starts again from one
// block. The window halves when prefetched blocks were evicted unread.
func (p *partition) readahead(i int) {
	l := p.log
	loading := p.b.blocks.Contains(blockKey(l.objects[i]))
	if l.readaheadWindow > 0 && (loading || l.objects[i].first == l.readaheadNext) {
		l.readaheadWindow = min(2*l.readaheadWindow, p.b.readaheadCap())
	} else {
		l.readaheadWindow = min(readaheadMinBytes, p.b.readaheadCap())
	}
	if wasted := p.b.blocks.Wasted(p.ref.stream); wasted > 0 {
		l.readaheadWindow = max(1, l.readaheadWindow/2) // a load takes one block at least
	}
	if loading {
		// The block is on its way (or just arrived); what follows the loads
		// in flight is loaded with the grown window.
		p.prefetchAfter(i)
		return
	}
	p.load(i, l.readaheadWindow, 1)
}

// prefetchAfter keeps the readahead going for a reader served from the
// cache at block i: once less than half a window after it is cached or
// loading, the next window is loaded in the background, so the store's
// latency is hidden behind the half the reader still has to read.
func (p *partition) prefetchAfter(i int) {
	l := p.log
	if l.readaheadWindow == 0 {
		return
	}
	ahead := int64(0)
	for j := i + 1; j < len(l.objects) && ahead < (l.readaheadWindow+1)/2; j++ {
		if !p.b.blocks.Contains(blockKey(l.objects[j])) {
			p.load(j, l.readaheadWindow, 0)
			return
		}
		ahead += l.objects[j].size
	}
}

// load reserves the blocks from index i up to window bytes that are neither
// cached nor loading (another fetch's load of a block is shared, not
// repeated) and hands them to a loader; the first demand of them were asked
// for, the rest are readahead.
func (p *partition) load(i int, window int64, demand int) {
	l := p.log
	end := i
	for span := int64(0); end < len(l.objects) && (end == i || span+l.objects[end].size <= window); end++ {
		span += l.objects[end].size
	}
	// A window that ends inside an object's run of adjacent blocks stops
	// before the run instead, if it keeps a block: the loader reads a run
	// with one request, and the next load then takes this one whole. Runs
	// cut in two cost a store request more each (with 4 MiB windows, 20-50%
	// more GETs in the catch-up benchmark, whose objects hold 2 MiB of each
	// partition).
	if end < len(l.objects) && adjacent(l.objects[end-1], l.objects[end]) {
		run := end - 1
		for run > i && adjacent(l.objects[run-1], l.objects[run]) {
			run--
		}
		if run > i {
			end = run
		}
	}
	l.readaheadNext = l.objects[end-1].end
	p.loadBlocks(i, end, demand)
}

// adjacent reports whether block b follows block a in the same object, so
// that one ranged read takes both.
func adjacent(a, b objectRange) bool {
	return a.key == b.key && b.position == a.position+a.size
}

// loadBlocks hands the blocks of objects[i:end] that are neither cached nor
// loading to a loader, the first demand of them asked for.
func (p *partition) loadBlocks(i, end, demand int) {
	l := p.log
	m := &coldLoadMsg{stream: p.ref.stream, partition: p.self}
	for j := i; j < end; j++ {
		rng := l.objects[j]
		if !p.b.blocks.Reserve(blockKey(rng)) {
			continue
		}
		m.ranges = append(m.ranges, rng)
		if j < i+demand {
			m.demand++
		}
	}
	if len(m.ranges) == 0 {
		return
	}
	for _, r := range m.ranges {
		if len(m.referenced) == 0 || m.referenced[len(m.referenced)-1] != r.key {
			m.referenced = append(m.referenced, r.key)
			p.b.refs.acquire(r.key)
		}
	}
	p.b.coldLoad(m)
}

// coldBudgetBurst is how far the cold path may run ahead of its byte rate.
const coldBudgetBurst = 4 << 20

// coldBudgetWait is how long until the cold path's budget is out of debt; 0
// when there is budget (or no limit).
func (b *Broker) coldBudgetWait() time.Duration {
	budget := b.coldBudget.Load()
	if budget == nil {
		return 0
	}
	tokens := budget.Tokens()
	if tokens >= 0 {
		return 0
	}
	return time.Duration(-tokens / float64(budget.Limit()) * float64(time.Second))
}

// coldBudgetCharge takes bytes served from the cold path out of the budget,
// going into debt if need be (the bytes are already read).
func (b *Broker) coldBudgetCharge(bytes int) {
	budget := b.coldBudget.Load()
	if budget == nil || bytes <= 0 {
		return
	}
	for bytes > 0 {
		n := min(bytes, coldBudgetBurst)
		budget.ReserveN(time.Now(), n)
		bytes -= n
	}
}
