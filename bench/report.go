package bench

import (
	"fmt"
	"io"
	"strings"
)

// WriteTable prints r as a human-readable summary. The measured phase's
// send latency comes first; the catch-up and connections scenarios add
// their baseline below it.
func WriteTable(w io.Writer, r Result) error {
	c := r.Config
	rate := "unlimited"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%.0f rec/s", c.Rate)
	}
	fmt.Fprintf(w, "floe bench %s against %s (%s), topic %s with %d partitions\n",
		r.Scenario, c.Target, strings.Join(c.Brokers, ","), c.Topic, r.Partitions)
	fmt.Fprintf(w, "producers %d, rate %s, records %d B, acks %s, compression %s, linger %s, max buffered %d, idempotent %t\n",
		c.Producers, rate, c.RecordSize, c.Acks, c.Compression, c.Linger, c.MaxBuffered, c.idempotent())
	fmt.Fprintf(w, "phases:")
	for _, p := range r.Phases {
		fmt.Fprintf(w, " %s %.1fs", p.Name, p.EndSeconds-p.StartSeconds)
	}
	fmt.Fprintf(w, "; measured phase: %s\n\n", r.MeasuredPhase)

	fmt.Fprintf(w, "%-24s %10s %8s %8s %11s %9s\n", "throughput", "records", "errors", "seconds", "records/s", "MiB/s")
	throughputRow(w, "produced", r.Throughput)
	if r.E2E != nil {
		throughputRow(w, "consumed", r.E2E.Consumed)
	}
	if r.Connections != nil && r.Connections.LightRequests.Records+r.Connections.LightRequests.Errors > 0 {
		throughputRow(w, "light requests", r.Connections.LightRequests)
	}
	fmt.Fprintf(w, "\n%-24s %10s %9s %9s %9s %9s %9s %11s\n", "latency (µs)", "count", "p50", "p95", "p99", "p99.9", "max", "mean")
	latencyRow(w, "send ("+r.MeasuredPhase+")", r.Latency)
	if e := r.E2E; e != nil {
		latencyRow(w, "end to end", e.Latency)
	}
	if k := r.Catchup; k != nil {
		latencyRow(w, "send (baseline)", k.BaselineLatency)
	}
	if k := r.Connections; k != nil {
		latencyRow(w, "send (baseline)", k.BaselineLatency)
		if k.LightLatency.Count > 0 {
			latencyRow(w, "light request", k.LightLatency)
		}
	}
	if k := r.Catchup; k != nil {
		fmt.Fprintf(w, "\ncatch-up: backlog %d records (%.1f MiB); drained %t in %.2fs; read %.0f rec/s, %.2f MiB/s = %.2f× the produce rate (%.0f rec/s)\n",
			k.BacklogRecords, float64(k.BacklogBytes)/(1<<20), k.Drained, k.DrainSeconds, k.ReadRecordsPS, k.ReadMiBPS, k.RateMultiple, k.ProduceRecordsPS)
		fmt.Fprintf(w, "producer latency during catch-up / baseline: p50 %.2f×, p99 %.2f× (target p99 ≤ 1.1×, rate ≥ 5×)\n", k.P50Ratio, k.P99Ratio)
		if c := r.Config; len(c.ConsumerCommand) > 0 {
			gogc := "Go's default (100)"
			if c.ConsumerGCPercent > 0 {
				gogc = fmt.Sprint(c.ConsumerGCPercent)
			}
			idle := ""
			if c.ConsumerIdle {
				idle = ", SCHED_IDLE"
			}
			fmt.Fprintf(w, "the consumer ran in a process of its own, GOGC %s%s\n", gogc, idle)
		}
		b, c := k.BaselineClient, k.CatchupClient
		fmt.Fprintf(w, "this client, baseline → catch-up: CPU %.0f%% → %.0f%%, scheduler wait p99 %.0f → %.0f µs (max %.0f → %.0f µs), GC cycles %d → %d (longest pause %.0f → %.0f µs)\n",
			b.CPUPercent, c.CPUPercent, b.SchedP99Us, c.SchedP99Us, b.SchedMaxUs, c.SchedMaxUs, b.GCCycles, c.GCCycles, b.GCPauseMaxUs, c.GCPauseMaxUs)
		if k.BaselineRequests.Count > 0 && k.CatchupRequests.Count > 0 {
			b, c := k.BaselineRequests, k.CatchupRequests
			fmt.Fprintf(w, "its Produce requests' round trip, baseline → catch-up: p50 %d → %d µs, p99 %d → %d µs (%d → %d requests)\n",
				b.P50, c.P50, b.P99, c.P99, b.Count, c.Count)
		}
		if k.BaselineLate.Count > 0 && k.CatchupLate.Count > 0 {
			b, c := k.BaselineLate, k.CatchupLate
			fmt.Fprintf(w, "its sends, after their due time (the bench's own timer): p50 %d → %d µs, p99 %d → %d µs\n", b.P50, c.P50, b.P99, c.P99)
		}
		if bm, cm := k.BaselineMachine, k.CatchupMachine; bm != nil && cm != nil {
			fmt.Fprintf(w, "this machine (Linux PSI), baseline → catch-up: some task waiting for a CPU %.1f%% → %.1f%% of the time, for I/O %.1f%% → %.1f%%; CPU time stolen by the hypervisor %.2f%% → %.2f%%\n",
				bm.CPUSomePercent, cm.CPUSomePercent, bm.IOSomePercent, cm.IOSomePercent, bm.StealPercent, cm.StealPercent)
		}
		if bb, cb := k.BaselineBroker, k.CatchupBroker; bb != nil && cb != nil {
			fmt.Fprintf(w, "the broker's own Produce latency, baseline → catch-up: p50 ≤ %.0f → ≤ %.0f µs, p99 ≤ %.0f → ≤ %.0f µs, p99.9 ≤ %.0f → ≤ %.0f µs (%d → %d requests)\n",
				bb.P50Us, cb.P50Us, bb.P99Us, cb.P99Us, bb.P999Us, cb.P999Us, bb.Count, cb.Count)
			var stages []string
			for _, name := range BrokerStages() {
				if s, ok := bb.Stages[name]; ok {
					stages = append(stages, fmt.Sprintf("%s ≤ %.0f → ≤ %.0f", name, s.P99Us, cb.Stages[name].P99Us))
				}
			}
			if len(stages) > 0 {
				fmt.Fprintf(w, "  its stages' p99 in µs: %s\n", strings.Join(stages, ", "))
			}
		}
	}
	if k := r.Connections; k != nil {
		fmt.Fprintf(w, "\nconnections: %d of %d opened in %.2fs (failed %d, nofile limit %d)\n", k.Opened, k.Requested, k.OpenSeconds, k.Failed, k.NoFileLimit)
		if k.FirstError != "" {
			fmt.Fprintf(w, "first error: %s\n", k.FirstError)
		}
		if k.MemorySource != "" {
			fmt.Fprintf(w, "broker RSS (%s): %.1f MiB → %.1f MiB, %.0f bytes per connection\n",
				k.MemorySource, float64(k.RSSBeforeBytes)/(1<<20), float64(k.RSSAfterBytes)/(1<<20), k.BytesPerConnection)
		}
		fmt.Fprintf(w, "producer p99 with connections / baseline: %.2f×\n", k.P99Ratio)
	}
	return nil
}

func throughputRow(w io.Writer, name string, t Throughput) {
	fmt.Fprintf(w, "%-24s %10d %8d %8.2f %11.0f %9.2f\n", name, t.Records, t.Errors, t.Seconds, t.RecordsPerSecond, t.MiBPerSecond)
}

func latencyRow(w io.Writer, name string, l Latency) {
	fmt.Fprintf(w, "%-24s %10d %9d %9d %9d %9d %9d %11.1f\n", name, l.Count, l.P50, l.P95, l.P99, l.P999, l.Max, l.Mean)
}
