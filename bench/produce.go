package bench

import (
	"context"
	"time"
)

// produce: cfg.Producers clients send for Warmup+Duration; the measured
// phase is the Duration after the warmup. Records still in flight at the
// end are waited for (phase "drain") but not counted.
func (r *run) produce(ctx context.Context) (Result, error) {
	cfg := r.cfg
	p := newPhases(r.start, measuredPhases(cfg.Warmup, "measure")...)
	rec := r.newRecorder(p, "producer")
	smp := r.startSampler(ScenarioProduce, cfg.Warmup+cfg.Duration, p, rec, nil)
	prod, err := startProducers(cfg, rec, nil, false, r.start)
	if err != nil {
		smp.stop()
		return Result{}, err
	}
	r.warmupAndMeasure(ctx, p)
	stopErr := prod.stop()
	res := Result{MeasuredPhase: "measure", Series: smp.stop()}
	res.Phases = p.spans(r.start, time.Now())
	res.Latency, res.Throughput = rec.phase("measure", phaseElapsed(res.Phases, "measure"))
	res.Totals = rec.totals()
	return res, stopErr
}

// measuredPhases is warmup (when there is one), the measured phase and
// drain.
func measuredPhases(warmup time.Duration, measured string) []string {
	if warmup > 0 {
		return []string{"warmup", measured, "drain"}
	}
	return []string{measured, "drain"}
}
