package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// controlPeriod is how often a scenario checks a byte threshold.
const controlPeriod = 100 * time.Millisecond

// catchup is the isolation scenario (DESIGN.md §7): a paced acks=all
// producer builds a backlog, then keeps going through a baseline window
// and through the catch-up of a consumer started at the earliest offset of
// every partition. The catch-up ends when the consumer reaches the moving
// end (a fetch returned every partition up to its high watermark) or after
// cfg.Duration.
//
// The bench's own readings at the windows' edges (the broker's /metrics,
// ListOffsets, runtime and pressure snapshots) and the consumer process's
// stop fall outside both measured windows: between them ("readings") or
// after the catch-up ("drain"). Each costs the broker and the client a
// millisecond or more of CPU, and a record acknowledged during one of them
// would otherwise be charged to whichever window was open.
func (r *run) catchup(ctx context.Context) (Result, error) {
	cfg := r.cfg
	p := newPhases(r.start, "backlog", "baseline", "readings", "catchup", "drain")
	prodRec := r.newRecorder(p, "producer")
	consRec := r.newRecorder(p, "consumer")
	parts := &sendParts{late: r.newRecorder(p, "late"), requests: r.newRecorder(p, "requests")}
	smp := r.startSampler(ScenarioCatchup, 0, p, prodRec, consRec)
	prod, err := startProducers(cfg, prodRec, parts, false, r.start)
	if err != nil {
		smp.stop()
		return Result{}, err
	}
	res := Result{MeasuredPhase: "catchup"}
	c := &CatchupResult{}
	res.Catchup = c
	var cons *consumerGroup
	var tracker *drainTracker
	var stopErr error
	func() {
		if !r.buildBacklog(ctx, prodRec) {
			return
		}
		var child *consumerProcess
		if len(cfg.ConsumerCommand) > 0 {
			// Started now, so that its start is not counted as catch-up.
			if child, stopErr = startConsumerProcess(cfg, consRec.count); stopErr != nil {
				return
			}
			defer child.stop()
		}
		brokerStart := r.brokerProduceHistogram(ctx)
		baselineStart, baselinePressure := takeRuntimeSnapshot(), takePressureSnapshot()
		p.advance("baseline", time.Now())
		if !wait(ctx, cfg.Baseline) {
			return
		}
		p.advance("readings", time.Now())
		c.BaselineClient = takeRuntimeSnapshot().since(baselineStart)
		c.BaselineMachine = takePressureSnapshot().since(baselinePressure)
		c.BaselineBroker = brokerWindow(brokerStart, r.brokerProduceHistogram(ctx))
		starts, ends, err := listOffsets(ctx, cfg)
		if err != nil {
			stopErr = err
			return
		}
		for part, end := range ends {
			c.BacklogRecords += end - starts[part]
		}
		c.BacklogBytes = c.BacklogRecords * int64(cfg.RecordSize)
		brokerCatchupStart := r.brokerProduceHistogram(ctx)
		catchupStart, catchupPressure := takeRuntimeSnapshot(), takePressureSnapshot()
		tracker = newDrainTracker(starts, ends)
		p.advance("catchup", time.Now())
		defer func() { // after the window closed, before child.stop
			c.CatchupClient = takeRuntimeSnapshot().since(catchupStart)
			c.CatchupMachine = takePressureSnapshot().since(catchupPressure)
			c.CatchupBroker = brokerWindow(brokerCatchupStart, r.brokerProduceHistogram(ctx))
		}()
		if child != nil {
			if stopErr = child.begin(starts, ends, tracker); stopErr != nil {
				return
			}
		} else {
			cons, err = startConsumers(cfg, starts, 0, cfg.ReadRate, func(fs kgo.Fetches, records, bytes int, now time.Time) {
				// Count first, then tell the tracker: the fetch that drains the
				// backlog must land in the catch-up phase, not in the drain
				// phase its own detection starts.
				consRec.count(records, bytes)
				fs.EachPartition(func(fp kgo.FetchTopicPartition) { tracker.saw(fp, now) })
			})
			if err != nil {
				stopErr = err
				return
			}
		}
		deadline, cancel := context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
		select {
		case <-tracker.done:
		case <-deadline.Done():
		}
		p.advance("drain", time.Now())
	}()
	if p.currentName() != "drain" { // ended early: ctx, an error
		p.advance("drain", time.Now())
	}
	if cons != nil {
		cons.stop()
	}
	if err := prod.stop(); stopErr == nil {
		stopErr = err
	}
	res.Series = smp.stop()
	res.Phases = p.spans(r.start, time.Now())
	r.catchupVerdict(&res, prodRec, consRec, tracker)
	c.BaselineLate, _ = parts.late.phase("baseline", 0)
	c.CatchupLate, _ = parts.late.phase("catchup", 0)
	c.BaselineRequests, _ = parts.requests.phase("baseline", 0)
	c.CatchupRequests, _ = parts.requests.phase("catchup", 0)
	res.Totals = prodRec.totals()
	return res, stopErr
}

// buildBacklog waits until the backlog phase is over: BacklogDuration, or
// BacklogBytes acknowledged when that is set. False when ctx ended.
func (r *run) buildBacklog(ctx context.Context, prodRec *recorder) bool {
	deadline, cancel := context.WithTimeout(ctx, r.cfg.BacklogDuration)
	defer cancel()
	t := time.NewTicker(controlPeriod)
	defer t.Stop()
	for {
		select {
		case <-deadline.Done():
			return ctx.Err() == nil
		case <-t.C:
			if r.cfg.BacklogBytes > 0 && prodRec.totals().Bytes >= r.cfg.BacklogBytes {
				return true
			}
		}
	}
}

func (r *run) catchupVerdict(res *Result, prodRec, consRec *recorder, tracker *drainTracker) {
	c := res.Catchup
	c.BaselineLatency, _ = prodRec.phase("baseline", phaseElapsed(res.Phases, "baseline"))
	catchupElapsed := phaseElapsed(res.Phases, "catchup")
	res.Latency, res.Throughput = prodRec.phase("catchup", catchupElapsed)
	c.CatchupLatency = res.Latency
	c.P50Ratio = ratio(c.CatchupLatency.P50, c.BaselineLatency.P50)
	c.P99Ratio = ratio(c.CatchupLatency.P99, c.BaselineLatency.P99)
	if tracker != nil {
		if at, ok := tracker.drainedAt(); ok {
			c.Drained = true
			c.DrainSeconds = seconds(at.Sub(tracker.start))
		}
	}
	_, read := consRec.phase("catchup", catchupElapsed)
	c.ReadRecords, c.ReadBytes = read.Records, read.Bytes
	c.ReadRecordsPS, c.ReadMiBPS = read.RecordsPerSecond, read.MiBPerSecond
	c.ProduceRecordsPS = res.Throughput.RecordsPerSecond
	if c.ProduceRecordsPS > 0 {
		c.RateMultiple = round2(c.ReadRecordsPS / c.ProduceRecordsPS)
	}
}

// drainTracker decides when the catch-up consumer has reached the moving
// end: every partition has had a fetch that returned it up to its high
// watermark (a partition with no backlog starts out reached). Consumer
// goroutines call saw; done closes once, when the last partition gets
// there.
type drainTracker struct {
	start time.Time
	done  chan struct{}

	mu        sync.Mutex // guards the fields below
	remaining map[int32]bool
	at        time.Time
}

func newDrainTracker(starts, ends map[int32]int64) *drainTracker {
	d := &drainTracker{start: time.Now(), done: make(chan struct{}), remaining: make(map[int32]bool)}
	for part, end := range ends {
		if end > starts[part] {
			d.remaining[part] = true
		}
	}
	if len(d.remaining) == 0 {
		d.at = d.start
		close(d.done)
	}
	return d
}

func (d *drainTracker) saw(fp kgo.FetchTopicPartition, now time.Time) {
	if fp.Err != nil || len(fp.Records) == 0 {
		return
	}
	last := fp.Records[len(fp.Records)-1].Offset
	if last+1 < fp.HighWatermark {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.remaining[fp.Partition] {
		return
	}
	delete(d.remaining, fp.Partition)
	if len(d.remaining) == 0 {
		d.at = now
		close(d.done)
	}
}

// reachedAll marks every partition reached (a consumer process reports the
// whole drain at once).
func (d *drainTracker) reachedAll(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.remaining) == 0 {
		return
	}
	clear(d.remaining)
	d.at = now
	close(d.done)
}

func (d *drainTracker) drainedAt() (time.Time, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.at, !d.at.IsZero()
}

// brokerProduceHistogram reads the broker's Produce latency histograms from
// cfg.MetricsURL; nil without one, or (said once on stderr) when the scrape
// fails: the broker may not be floe.
func (r *run) brokerProduceHistogram(ctx context.Context) brokerReading {
	if r.cfg.MetricsURL == "" || r.brokerScrapeFailed {
		return nil
	}
	h, err := scrapeBroker(ctx, r.cfg.MetricsURL)
	if err != nil {
		r.brokerScrapeFailed = true
		fmt.Fprintf(r.progress, "floe bench: no broker-side latency: %v\n", err)
		return nil
	}
	return h
}

// brokerWindow is the broker-side latency between two readings, nil when
// either is missing.
func brokerWindow(before, after brokerReading) *BrokerProduce {
	if before == nil || after == nil {
		return nil
	}
	w := after.window(before)
	return &w
}
