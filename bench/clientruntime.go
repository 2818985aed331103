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
	var total uint64
	for i := range later.Counts {
		total += later.Counts[i] - earlier.Counts[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i := range later.Counts {
		seen += later.Counts[i] - earlier.Counts[i]
		if seen >= rank {
			upper := later.Buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = later.Buckets[i]
			}
			return round2(upper * 1e6)
		}
	}
	return 0
}
