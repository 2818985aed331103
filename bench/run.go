package bench

import (
	"context"
	"fmt"
	"io"
	"time"
)

// Run runs one scenario against cfg.Brokers and returns its result. A
// progress line goes to progress every second (nil for none). When ctx
// ends early the scenario stops, cleans up and returns what it measured
// together with ctx's error.
func Run(ctx context.Context, scenario string, cfg Config, progress io.Writer) (Result, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(scenario); err != nil {
		return Result{}, fmt.Errorf("bench: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	partitions, err := ensureTopic(ctx, &cfg)
	if err != nil {
		return Result{}, err
	}
	r := &run{cfg: &cfg, partitions: partitions, progress: progress, start: time.Now()}
	var res Result
	switch scenario {
	case ScenarioProduce:
		res, err = r.produce(ctx)
	case ScenarioE2E:
		res, err = r.e2e(ctx)
	case ScenarioCatchup:
		res, err = r.catchup(ctx)
	case ScenarioConnections:
		res, err = r.connections(ctx)
	}
	res.Scenario, res.Config, res.Partitions = scenario, cfg, partitions
	res.Start, res.End = r.start, time.Now()
	if err == nil {
		err = ctx.Err()
	}
	return res, err
}

// run is the state shared by a scenario's steps.
type run struct {
	cfg        *Config
	partitions int
	progress   io.Writer
	start      time.Time

	brokerScrapeFailed bool // catchup: --metrics-url did not answer once; not retried
}

// wait returns after d, or early when ctx ends (then false).
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// phaseElapsed is the length of the named phase in spans.
func phaseElapsed(spans []PhaseSpan, name string) time.Duration {
	for _, s := range spans {
		if s.Name == name {
			return time.Duration((s.EndSeconds - s.StartSeconds) * float64(time.Second))
		}
	}
	return 0
}

// warmupAndMeasure runs the warmup (when there is one) and the measured
// phase of the produce and e2e scenarios, then enters "drain"; it returns
// early when ctx ends.
func (r *run) warmupAndMeasure(ctx context.Context, p *phases) {
	if wait(ctx, r.cfg.Warmup) && r.cfg.Warmup > 0 {
		p.advance("measure", time.Now())
	}
	if p.currentName() == "measure" {
		wait(ctx, r.cfg.Duration)
	}
	p.advance("drain", time.Now())
}
