package bench

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// e2eCatchUpTimeout bounds how long, after the producers have flushed, the
// consumers get to receive the records acknowledged last.
const e2eCatchUpTimeout = 10 * time.Second

// e2e: consumers start at the current end of every partition, then the
// producers send records stamped with their due time; a consumer's latency
// is its receipt time (when the poll returned) minus the stamp.
func (r *run) e2e(ctx context.Context) (Result, error) {
	cfg := r.cfg
	_, ends, err := listOffsets(ctx, cfg)
	if err != nil {
		return Result{}, err
	}
	p := newPhases(r.start, measuredPhases(cfg.Warmup, "measure")...)
	prodRec := r.newRecorder(p, "producer")
	consRec := r.newRecorder(p, "consumer")
	cons, err := startConsumers(cfg, ends, cfg.PartitionsPerConsumer, 0, func(fs kgo.Fetches, _, _ int, now time.Time) {
		fs.EachError(func(string, int32, error) { consRec.fail() })
		fs.EachRecord(func(rec *kgo.Record) {
			if sent, ok := stampedAt(rec.Value); ok {
				consRec.observe(now.Sub(sent), len(rec.Value))
			}
		})
	})
	if err != nil {
		return Result{}, err
	}
	smp := r.startSampler(ScenarioE2E, cfg.Warmup+cfg.Duration, p, prodRec, consRec)
	prod, err := startProducers(cfg, prodRec, nil, true, r.start)
	if err != nil {
		cons.stop()
		smp.stop()
		return Result{}, err
	}
	r.warmupAndMeasure(ctx, p)
	stopErr := prod.stop()
	waitConsumed(ctx, consRec, prodRec.totals().Records)
	cons.stop()

	res := Result{MeasuredPhase: "measure", Series: smp.stop()}
	res.Phases = p.spans(r.start, time.Now())
	elapsed := phaseElapsed(res.Phases, "measure")
	res.Latency, res.Throughput = prodRec.phase("measure", elapsed)
	res.Totals = prodRec.totals()
	e := &E2EResult{Consumers: len(cons.clients), Totals: consRec.totals()}
	e.Latency, e.Consumed = consRec.phase("measure", elapsed)
	res.E2E = e
	return res, stopErr
}

// waitConsumed polls until the consumers have received want records, for
// at most e2eCatchUpTimeout.
func waitConsumed(ctx context.Context, rec *recorder, want int64) {
	ctx, cancel := context.WithTimeout(ctx, e2eCatchUpTimeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for rec.totals().Records < want {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
