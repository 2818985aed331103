package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of the connections scenario.
const (
	// dialParallelism bounds concurrent dials: enough to open 50,000
	// connections in seconds, few enough not to overflow the broker's
	// accept backlog (SYNs beyond it are retried after a second).
	dialParallelism = 64
	// rawTimeout bounds a dial and one request on a raw connection.
	rawTimeout = 10 * time.Second
	// rssSettle is the pause between opening the connections and reading
	// the broker's memory, so that per-connection allocations made just
	// after the handshake are counted.
	rssSettle = time.Second
	// lightWorkers is the number of goroutines issuing the light load,
	// each owning a disjoint share of the connections.
	lightWorkers = 16
)

// connections: a paced producer runs through a warmup and a baseline,
// then cfg.Connections raw connections are opened (each sends one
// ApiVersions) and kept, optionally carrying cfg.LightRate requests/s,
// while the producer goes on for cfg.Duration.
func (r *run) connections(ctx context.Context) (Result, error) {
	cfg := r.cfg
	c := &ConnectionsResult{Requested: cfg.Connections}
	limit, err := raiseNoFile()
	if err != nil {
		return Result{}, err
	}
	c.NoFileLimit = limit

	names := []string{"baseline", "opening", "with_connections", "drain"}
	if cfg.Warmup > 0 {
		names = append([]string{"warmup"}, names...)
	}
	p := newPhases(r.start, names...)
	prodRec := r.newRecorder(p, "producer")
	lightRec := r.newRecorder(p, "light")
	planned := cfg.Warmup + cfg.Baseline + cfg.Duration
	smp := r.startSampler(ScenarioConnections, planned, p, prodRec, nil)
	prod, err := startProducers(cfg, prodRec, nil, false, r.start)
	if err != nil {
		smp.stop()
		return Result{}, err
	}
	var conns []*rawConn
	var runErr error
	func() {
		if !wait(ctx, cfg.Warmup) {
			return
		}
		if cfg.Warmup > 0 {
			p.advance("baseline", time.Now())
		}
		if !wait(ctx, cfg.Baseline) {
			return
		}
		p.advance("opening", time.Now())
		before, source, err := brokerRSS(ctx, cfg.BrokerPID, cfg.MetricsURL)
		if err != nil {
			runErr = err
			return
		}
		opened := time.Now()
		var vers versions
		conns, vers, err = openConnections(ctx, cfg, c)
		if err != nil {
			runErr = err
			return
		}
		c.OpenSeconds = seconds(time.Since(opened))
		if source != "" && wait(ctx, rssSettle) {
			after, _, err := brokerRSS(ctx, cfg.BrokerPID, cfg.MetricsURL)
			if err != nil {
				runErr = err
				return
			}
			c.MemorySource, c.RSSBeforeBytes, c.RSSAfterBytes = source, before, after
			if c.Opened > 0 {
				c.BytesPerConnection = round2(float64(after-before) / float64(c.Opened))
			}
		}
		p.advance("with_connections", time.Now())
		lightCtx, stopLight := context.WithCancel(ctx)
		var light sync.WaitGroup
		if cfg.LightRate > 0 && len(conns) > 0 {
			startLightLoad(lightCtx, &light, cfg, vers, conns, lightRec)
		}
		wait(ctx, cfg.Duration)
		stopLight()
		light.Wait()
	}()
	p.advance("drain", time.Now())
	stopErr := prod.stop()
	for _, rc := range conns {
		rc.close()
	}
	res := Result{MeasuredPhase: "with_connections", Series: smp.stop(), Connections: c}
	res.Phases = p.spans(r.start, time.Now())
	withElapsed := phaseElapsed(res.Phases, "with_connections")
	res.Latency, res.Throughput = prodRec.phase("with_connections", withElapsed)
	c.WithLatency = res.Latency
	c.BaselineLatency, _ = prodRec.phase("baseline", phaseElapsed(res.Phases, "baseline"))
	c.P99Ratio = ratio(c.WithLatency.P99, c.BaselineLatency.P99)
	c.LightLatency, c.LightRequests = lightRec.phase("with_connections", withElapsed)
	res.Totals = prodRec.totals()
	if runErr != nil {
		return res, runErr
	}
	return res, stopErr
}

// openConnections dials cfg.Connections connections to the first broker,
// dialParallelism at a time, and sends an ApiVersions request on each. A
// connection that fails is counted, not retried; the first error is kept.
func openConnections(ctx context.Context, cfg *Config, c *ConnectionsResult) ([]*rawConn, versions, error) {
	addr := cfg.Brokers[0]
	probe, err := dialRaw(addr, rawTimeout)
	if err != nil {
		return nil, versions{}, err
	}
	vers, err := negotiate(probe, rawTimeout)
	probe.close()
	if err != nil {
		return nil, versions{}, err
	}
	conns := make([]*rawConn, cfg.Connections)
	var next atomic.Int64
	var mu sync.Mutex // guards c.Failed and c.FirstError
	var wg sync.WaitGroup
	for range min(dialParallelism, cfg.Connections) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(conns)) {
					return
				}
				rc, err := dialRaw(addr, rawTimeout)
				if err == nil {
					if err = rc.apiVersions(vers.apiVersions, rawTimeout); err != nil {
						rc.close()
					}
				}
				if err != nil {
					mu.Lock()
					c.Failed++
					if c.FirstError == "" {
						c.FirstError = fmt.Sprintf("connection %d: %v", i, err)
					}
					mu.Unlock()
					continue
				}
				conns[i] = rc
			}
		})
	}
	wg.Wait()
	open := conns[:0]
	for _, rc := range conns {
		if rc != nil {
			open = append(open, rc)
		}
	}
	c.Opened = len(open)
	return open, vers, ctx.Err()
}

// startLightLoad spreads cfg.LightRate requests/s over the connections:
// worker w owns connections w, w+W, w+2W, … and sends to them in turn on
// its own Pacer, so no connection is ever used by two goroutines.
func startLightLoad(ctx context.Context, wg *sync.WaitGroup, cfg *Config, vers versions, conns []*rawConn, rec *recorder) {
	workers := min(lightWorkers, len(conns))
	start := time.Now()
	for w := range workers {
		var own []*rawConn
		for i := w; i < len(conns); i += workers {
			own = append(own, conns[i])
		}
		offset := time.Duration(float64(w) / cfg.LightRate * 1e9)
		pacer := NewPacer(wallClock{}, start, offset, cfg.LightRate/float64(workers))
		wg.Go(func() {
			for i := 0; ; i++ {
				due, err := pacer.Next(ctx)
				if err != nil {
					return
				}
				rc := own[i%len(own)]
				if rc == nil {
					continue // failed earlier; its share of the rate is skipped
				}
				if cfg.LightRequest == "metadata" {
					err = rc.metadata(vers.metadata, cfg.Topic, rawTimeout)
				} else {
					err = rc.apiVersions(vers.apiVersions, rawTimeout)
				}
				if err != nil {
					rec.fail()
					own[i%len(own)] = nil
					continue
				}
				rec.observe(time.Since(due), 0)
			}
		})
	}
}
