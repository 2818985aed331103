package bench

import (
	"math"
	"runtime/metrics"
	"syscall"
	"time"
)

// ClientRuntime is the bench process's own Go runtime over one window. Send
// latency is measured in this process: when its goroutines wait for a CPU
// or its collector pauses, part of a latency tail is the client's, not the
// broker's. Reported so that a reader can tell the two apart.
type ClientRuntime struct {
	// SchedP99Us and SchedMaxUs are the time this process's goroutines
	// spent runnable before they ran (runtime/metrics'
	// /sched/latencies:seconds), as bucket upper bounds.
	SchedP99Us float64 `json:"sched_latency_p99_us"`
	SchedMaxUs float64 `json:"sched_latency_max_us"`
	// GCCycles and GCPauseMaxUs count the collector's cycles and its
	// longest stop-the-world pause.
	GCCycles     uint64  `json:"gc_cycles"`
	GCPauseMaxUs float64 `json:"gc_pause_max_us"`
	// CPUPercent is this process's user and system CPU time over the
	// window, in percent of one core.
	CPUPercent float64 `json:"cpu_percent"`
}

// runtimeSnapshot is the cumulative state ClientRuntime is a difference of.
type runtimeSnapshot struct {
	at       time.Time
	sched    *metrics.Float64Histogram
	pauses   *metrics.Float64Histogram
	gcCycles uint64
	cpu      time.Duration
}

var runtimeSamples = []string{"/sched/latencies:seconds", "/gc/pauses:seconds", "/gc/cycles/total:gc-cycles"}

func takeRuntimeSnapshot() runtimeSnapshot {
	s := make([]metrics.Sample, len(runtimeSamples))
	for i, name := range runtimeSamples {
		s[i].Name = name
	}
	metrics.Read(s)
	snap := runtimeSnapshot{at: time.Now()}
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		snap.sched = s[0].Value.Float64Histogram()
	}
	if s[1].Value.Kind() == metrics.KindFloat64Histogram {
		snap.pauses = s[1].Value.Float64Histogram()
	}
	if s[2].Value.Kind() == metrics.KindUint64 {
		snap.gcCycles = s[2].Value.Uint64()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		snap.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return snap
}

// since is the runtime over the window from earlier to s.
func (s runtimeSnapshot) since(earlier runtimeSnapshot) ClientRuntime {
	var c ClientRuntime
	if s.sched != nil && earlier.sched != nil {
		c.SchedP99Us = histQuantileUs(s.sched, earlier.sched, 0.99)
		c.SchedMaxUs = histQuantileUs(s.sched, earlier.sched, 1)
	}
	if s.pauses != nil && earlier.pauses != nil {
		c.GCPauseMaxUs = histQuantileUs(s.pauses, earlier.pauses, 1)
	}
	c.GCCycles = s.gcCycles - earlier.gcCycles
	if d := s.at.Sub(earlier.at); d > 0 {
		c.CPUPercent = round2(100 * float64(s.cpu-earlier.cpu) / float64(d))
	}
	return c
}

// histQuantileUs is the upper bound, in microseconds, of the bucket holding
// quantile q of the counts that later added to earlier (same buckets: the
// runtime's histograms never change shape). 0 when nothing was counted.
func histQuantileUs(later, earlier *metrics.Float64Histogram, q float64) float64 {
	if len(later.Counts) != len(earlier.Counts) {
		return 0
	}
	uppers := make([]float64, len(later.Counts))
	counts := make([]float64, len(later.Counts))
	for i := range later.Counts {
		uppers[i] = later.Buckets[i+1]
		if math.IsInf(uppers[i], 1) {
			uppers[i] = later.Buckets[i] // unbounded: report its lower bound
		}
		counts[i] = float64(later.Counts[i] - earlier.Counts[i])
	}
	return bucketQuantileUs(uppers, counts, q)
}

// bucketQuantileUs is the upper bound (seconds in, microseconds out) of the
// bucket holding quantile q of counts, per-bucket counts in ascending bucket
// order. 0 when nothing was counted. Both histogram sources (the Go runtime's
// and a broker's Prometheus buckets) reduce to this.
func bucketQuantileUs(uppers, counts []float64, q float64) float64 {
	var total float64
	for _, c := range counts {
		total += c
	}
	if total <= 0 {
		return 0
	}
	rank := math.Ceil(q * total)
	var seen float64
	for i, c := range counts {
		if seen += c; seen >= rank {
			return round2(uppers[i] * 1e6)
		}
	}
	return 0
}
