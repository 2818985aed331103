package bench

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 10 minutes at 3 significant digits (≤ 0.1 %
// error, ~200 KiB per histogram). A longer latency is clamped to the top
// and still counted.
const (
	histogramLowestMicros  = 1
	histogramHighestMicros = int64(10 * time.Minute / time.Microsecond)
	histogramDigits        = 3
)

// phases is the ordered list of a scenario's phases and which one is
// current. Only the scenario's control goroutine calls advance; recorders
// read current from promise callbacks and consumer loops.
type phases struct {
	names   []string
	current atomic.Int32

	mu     sync.Mutex // guards starts
	starts []time.Time
}

func newPhases(start time.Time, names ...string) *phases {
	p := &phases{names: names, starts: make([]time.Time, len(names))}
	p.starts[0] = start
	return p
}

func (p *phases) index(name string) int {
	i := slices.Index(p.names, name)
	if i < 0 {
		panic("bench: unknown phase " + name) // programmer error: phases are fixed per scenario
	}
	return i
}

// advance makes name (which must come after the current phase) current.
func (p *phases) advance(name string, now time.Time) {
	i := p.index(name)
	if int32(i) <= p.current.Load() {
		panic("bench: phase " + name + " does not move forward")
	}
	p.mu.Lock()
	p.starts[i] = now
	p.mu.Unlock()
	p.current.Store(int32(i))
}

func (p *phases) currentName() string { return p.names[p.current.Load()] }

// spans returns each entered phase with its start and end relative to
// origin; the last entered phase ends at end.
func (p *phases) spans(origin, end time.Time) []PhaseSpan {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []PhaseSpan
	for i, name := range p.names {
		if p.starts[i].IsZero() {
			continue
		}
		if n := len(out); n > 0 {
			out[n-1].EndSeconds = seconds(p.starts[i].Sub(origin))
		}
		out = append(out, PhaseSpan{Name: name, StartSeconds: seconds(p.starts[i].Sub(origin))})
	}
	if n := len(out); n > 0 {
		out[n-1].EndSeconds = seconds(end.Sub(origin))
	}
	return out
}

// stats is one histogram with its counters.
type stats struct {
	hist      *hdrhistogram.Histogram
	records   int64 // successful records (latency samples, when latency is recorded)
	bytes     int64
	errors    int64
	maxMicros int64 // the exact largest sample; the histogram's max is rounded
}

func newStats() stats {
	return stats{hist: hdrhistogram.New(histogramLowestMicros, histogramHighestMicros, histogramDigits)}
}

func (s *stats) add(micros int64, withLatency bool, bytes int) {
	s.records++
	s.bytes += int64(bytes)
	if !withLatency {
		return
	}
	if micros > s.maxMicros {
		s.maxMicros = micros
	}
	_ = s.hist.RecordValue(min(micros, histogramHighestMicros)) // in range by construction
}

func (s *stats) reset() {
	s.hist.Reset()
	s.records, s.bytes, s.errors, s.maxMicros = 0, 0, 0, 0
}

// latency summarises the histogram. Percentiles are clamped to the exact
// maximum, which the histogram's bucket rounding could otherwise exceed.
func (s *stats) latency() Latency {
	h := s.hist
	if h.TotalCount() == 0 {
		return Latency{}
	}
	at := func(percentile float64) int64 { return min(h.ValueAtPercentile(percentile), s.maxMicros) }
	return Latency{
		Count: h.TotalCount(),
		Min:   h.Min(),
		Mean:  math.Round(h.Mean()*10) / 10,
		P50:   at(50),
		P95:   at(95),
		P99:   at(99),
		P999:  at(99.9),
		Max:   s.maxMicros,
	}
}

// recorder collects one stream of samples (producer acks, or consumed
// records) per phase and per one-second window. Its fields are guarded by
// mu: kgo's promise goroutines and consumer loops add, the sampler ticks.
type recorder struct {
	phases *phases

	mu      sync.Mutex
	window  stats
	byPhase []stats
	samples [][]int64 // per phase, every latency sample in µs, when keep
	keep    bool
}

func newRecorder(p *phases) *recorder {
	r := &recorder{phases: p, window: newStats(), byPhase: make([]stats, len(p.names))}
	for i := range r.byPhase {
		r.byPhase[i] = newStats()
	}
	return r
}

// newRecorder makes a recorder for role and hands it to the test hook.
func (r *run) newRecorder(p *phases, role string) *recorder {
	rec := newRecorder(p)
	if r.cfg.recorders != nil {
		rec.keep = true
		rec.samples = make([][]int64, len(p.names))
		r.cfg.recorders(role, rec)
	}
	return rec
}

// observe records one successful record of size bytes and its latency.
func (r *recorder) observe(latency time.Duration, bytes int) {
	micros := max(int64(latency/time.Microsecond), 0)
	i := r.phases.current.Load()
	r.mu.Lock()
	r.window.add(micros, true, bytes)
	r.byPhase[i].add(micros, true, bytes)
	if r.keep {
		r.samples[i] = append(r.samples[i], micros)
	}
	r.mu.Unlock()
}

// count records one successful record without a latency (catch-up reads).
func (r *recorder) count(records, bytes int) {
	i := r.phases.current.Load()
	r.mu.Lock()
	r.window.records += int64(records)
	r.window.bytes += int64(bytes)
	r.byPhase[i].records += int64(records)
	r.byPhase[i].bytes += int64(bytes)
	r.mu.Unlock()
}

// fail records one failed record.
func (r *recorder) fail() {
	i := r.phases.current.Load()
	r.mu.Lock()
	r.window.errors++
	r.byPhase[i].errors++
	r.mu.Unlock()
}

// windowSample is one second of a recorder.
type windowSample struct {
	records, bytes, errors int64
	latency                Latency
	phaseP99               int64 // p99 of the current phase so far
}

// tick returns the window since the previous tick and starts a new one.
func (r *recorder) tick() windowSample {
	i := r.phases.current.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	w := windowSample{
		records:  r.window.records,
		bytes:    r.window.bytes,
		errors:   r.window.errors,
		latency:  r.window.latency(),
		phaseP99: r.byPhase[i].latency().P99,
	}
	r.window.reset()
	return w
}

// phase returns the latency and throughput of the named phase over
// elapsed.
func (r *recorder) phase(name string, elapsed time.Duration) (Latency, Throughput) {
	i := r.phases.index(name)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.byPhase[i]
	return s.latency(), throughput(s.records, s.bytes, s.errors, elapsed)
}

// totals sums every phase.
func (r *recorder) totals() Totals {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t Totals
	for i := range r.byPhase {
		t.Records += r.byPhase[i].records
		t.Bytes += r.byPhase[i].bytes
		t.Errors += r.byPhase[i].errors
		t.Samples += r.byPhase[i].hist.TotalCount()
	}
	return t
}

// keptSamples returns a copy of the samples kept in the named phase.
func (r *recorder) keptSamples(phase string) []int64 {
	i := r.phases.index(phase)
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.samples[i])
}

func throughput(records, bytes, errors int64, elapsed time.Duration) Throughput {
	t := Throughput{Records: records, Bytes: bytes, Errors: errors, Seconds: seconds(elapsed)}
	if s := elapsed.Seconds(); s > 0 {
		t.RecordsPerSecond = round2(float64(records) / s)
		t.MiBPerSecond = round2(float64(bytes) / s / (1 << 20))
	}
	return t
}

func seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

func round2(v float64) float64 { return math.Round(v*100) / 100 }
