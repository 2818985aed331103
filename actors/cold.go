package actors

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/wire"
)

// coldReadMsg asks a cold reader for one fetch partition's data from an object.
type coldReadMsg struct {
	fr            *fetchRequest
	index         int
	round         int
	rng           objectRange
	offset        int64
	highWatermark int64
}

// coldReadTimeout bounds one object read, so a stalled store cannot hold a
// fetch past its deadline.
const coldReadTimeout = 20 * time.Second

// coldReader reads object blocks for fetches that have fallen behind the log
// cache. Readers run on their own goroutines (they block on the object store)
// and their number bounds the store concurrency of cold reads, so a backlog
// of cold fetches queues here and never in the tail or write paths.
type coldReader struct {
	b *Broker
}

func (b *Broker) coldReaderProducer() actor.Producer {
	return func() actor.Actor { return &coldReader{b: b} }
}

// coldRead hands m to a reader, round robin.
func (b *Broker) coldRead(m *coldReadMsg) {
	i := b.coldRR.Add(1) % uint64(len(b.cold))
	b.send(b.cold[i], m)
}

func (c *coldReader) Receive(ctx actor.Context) {
	m, ok := ctx.Message().(*coldReadMsg)
	if !ok {
		return
	}
	part := &m.fr.parts[m.index]
	if m.fr.finished() {
		m.fr.partDone(m.round)
		return
	}
	start := time.Now()
	readCtx, cancel := context.WithTimeout(context.Background(), coldReadTimeout)
	block, err := c.b.deps.Store.Get(readCtx, m.rng.key, m.rng.position, m.rng.size)
	cancel()
	c.b.coldReads.Add(1)
	c.b.metrics.coldRead.Observe(time.Since(start).Seconds())
	if err != nil {
		c.b.metrics.coldReadErrors.Inc()
		c.b.log.Warn("cold read failed", "key", m.rng.key, "err", err)
		part.code = kerr.KafkaStorageError.Code
		m.fr.partDone(m.round)
		return
	}
	c.b.metrics.coldReadBytes.Add(float64(len(block)))
	batches, err := objformat.BlockBatches(block)
	if err != nil {
		c.b.log.Error("corrupt object block", "key", m.rng.key, "position", m.rng.position, "err", err)
		part.code = kerr.KafkaStorageError.Code
		m.fr.partDone(m.round)
		return
	}
	for _, data := range batches {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			part.code = kerr.KafkaStorageError.Code
			break
		}
		if h.LastOffset() < m.offset {
			continue
		}
		if h.BaseOffset >= m.highWatermark {
			break
		}
		if part.bytes > 0 && part.bytes+len(data) > int(part.maxBytes) {
			break
		}
		part.batches = append(part.batches, data)
		part.bytes += len(data)
	}
	m.fr.partDone(m.round)
}
