package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// flushTimeout bounds how long stop waits for records still in flight;
// those not acknowledged by then are failed and counted as errors.
const flushTimeout = 15 * time.Second

// producerGroup is cfg.Producers kgo clients, each driven by its own
// goroutine, sharing one recorder.
type producerGroup struct {
	cfg     *Config
	rec     *recorder
	parts   *sendParts // nil: not split
	payload *payload
	stamp   bool // write the due time into the first 8 value bytes (e2e)

	clients    []*kgo.Client
	loopCtx    context.Context // ends the send loops
	stopLoops  context.CancelFunc
	produceCtx context.Context // given to Produce; cancelled only after a failed flush
	cancelAll  context.CancelFunc
	wg         sync.WaitGroup
}

// sendParts splits a paced send's latency (measured from its due time) in
// two of its parts, each recorded per phase like the latency itself:
//   - late: how long after its due time the send loop handed the record
//     to kgo. This is the bench's own timing: when no thread of the
//     process is awake, Go's runtime sleeps in epoll_wait, whose timeout
//     is whole milliseconds, so a send due in 200 µs comes up to 1 ms late;
//   - requests: each Produce request's round trip as kgo times it, from
//     the start of its write to the end of reading its response. With
//     kgo's one Produce request in flight per broker (idempotent
//     producers), a record waits for the request before its own, so its
//     latency holds up to two round trips.
//
// What the broker adds shows in requests, not in late.
type sendParts struct {
	late, requests *recorder
}

// OnBrokerE2E records the round trip of every Produce request answered.
func (sp *sendParts) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e kgo.BrokerE2E) {
	if key != int16(kmsg.Produce) || e.WriteErr != nil || e.ReadErr != nil {
		return
	}
	sp.requests.observe(e.DurationE2E(), 0)
}

// startProducers creates the clients and starts sending. Paced producers
// share cfg.Rate equally, their schedules interleaved from start. parts, if
// not nil, records the sends' lateness and the Produce requests' round
// trips.
func startProducers(cfg *Config, rec *recorder, parts *sendParts, stamp bool, start time.Time) (*producerGroup, error) {
	g := &producerGroup{cfg: cfg, rec: rec, parts: parts, payload: newPayload(cfg.RecordSize), stamp: stamp}
	opts := producerOpts(cfg)
	if parts != nil {
		opts = append(opts, kgo.WithHooks(parts))
	}
	for range cfg.Producers {
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			g.closeClients()
			return nil, fmt.Errorf("bench: producer client: %w", err)
		}
		g.clients = append(g.clients, cl)
	}
	g.loopCtx, g.stopLoops = context.WithCancel(context.Background())
	g.produceCtx, g.cancelAll = context.WithCancel(context.Background())
	for k, cl := range g.clients {
		var pacer *Pacer
		if cfg.Rate > 0 {
			perProducer := cfg.Rate / float64(cfg.Producers)
			offset := time.Duration(float64(k) / cfg.Rate * 1e9)
			pacer = NewPacer(wallClock{}, start, offset, perProducer)
		}
		g.wg.Go(func() { g.sendLoop(cl, pacer) })
	}
	return g, nil
}

// sendLoop produces until the loop context ends. window bounds the records
// in flight; a paced loop measures from the due time even when it had to
// wait for a slot, an unpaced one from the moment it got the slot.
func (g *producerGroup) sendLoop(cl *kgo.Client, pacer *Pacer) {
	window := make(chan struct{}, g.cfg.MaxBuffered)
	size := g.cfg.RecordSize
	for n := int64(0); ; n++ {
		var due time.Time
		if pacer != nil {
			var err error
			if due, err = pacer.Next(g.loopCtx); err != nil {
				return
			}
		}
		select {
		case window <- struct{}{}:
		case <-g.loopCtx.Done():
			return
		}
		if pacer == nil {
			due = time.Now()
		}
		r := &kgo.Record{Value: g.value(n, size, due)}
		if g.parts != nil && pacer != nil {
			g.parts.late.observe(time.Since(due), 0)
		}
		cl.Produce(g.produceCtx, r, func(r *kgo.Record, err error) {
			latency := time.Since(due)
			if err != nil {
				g.rec.fail()
			} else {
				g.rec.observe(latency, len(r.Value))
			}
			<-window
		})
	}
}

func (g *producerGroup) value(n int64, size int, due time.Time) []byte {
	if !g.stamp {
		return g.payload.value(n, size)
	}
	v := make([]byte, size)
	copy(v, g.payload.value(n, size))
	binary.BigEndian.PutUint64(v, uint64(due.UnixNano()))
	return v
}

// stop ends the send loops, waits up to flushTimeout for what is in flight
// and closes the clients. It returns the flush error, if any.
func (g *producerGroup) stop() error {
	g.stopLoops()
	g.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	var errs []error
	for _, cl := range g.clients {
		if err := cl.Flush(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	g.cancelAll() // fails whatever the flush left behind
	g.closeClients()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bench: flush producers: %w", err)
	}
	return nil
}

func (g *producerGroup) closeClients() {
	for _, cl := range g.clients {
		cl.Close()
	}
}

// stampedAt reads the due time an e2e producer wrote into a value.
func stampedAt(value []byte) (time.Time, bool) {
	if len(value) < e2eHeaderBytes {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(value))), true
}
