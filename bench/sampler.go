package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// samplePeriod is the width of one point of the series.
const samplePeriod = time.Second

// sampler turns the recorders' windows into the per-second series and
// prints the progress line. Its goroutine owns series until stop returns.
type sampler struct {
	scenario string
	start    time.Time
	planned  time.Duration // expected length of the run; 0 when open-ended
	phases   *phases
	producer *recorder
	consumer *recorder // nil without consumers
	progress io.Writer
	overLine bool // progress goes to a terminal: rewrite one line

	series []Point
	last   time.Time
	steal  stealMeter
	done   chan struct{}
	wg     sync.WaitGroup
}

func (r *run) startSampler(scenario string, planned time.Duration, p *phases, producer, consumer *recorder) *sampler {
	s := &sampler{
		scenario: scenario, start: r.start, planned: planned, phases: p,
		producer: producer, consumer: consumer, progress: r.progress,
		overLine: isTerminal(r.progress), last: r.start, done: make(chan struct{}),
	}
	s.steal = stealMeter{read: readCPUTimes}
	s.steal.next() // the first reading, at the series' start
	s.wg.Go(s.loop)
	return s
}

func (s *sampler) loop() {
	t := time.NewTicker(samplePeriod)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			s.sample(now)
		case <-s.done:
			return
		}
	}
}

// stop ends the loop, adds the last partial window (so that the series
// accounts for every record) and returns the series.
func (s *sampler) stop() []Point {
	close(s.done)
	s.wg.Wait()
	s.sample(time.Now())
	if n := len(s.series); n > 1 {
		if last := s.series[n-1]; last.Records == 0 && last.Errors == 0 && last.ConsumeRecordsPerSecond == 0 {
			s.series = s.series[:n-1] // an empty sliver, not a second of silence
		}
	}
	if s.overLine {
		fmt.Fprintln(s.progress)
	}
	return s.series
}

func (s *sampler) sample(now time.Time) {
	width := now.Sub(s.last).Seconds()
	s.last = now
	pw := s.producer.tick()
	pt := Point{
		Seconds:          seconds(now.Sub(s.start)),
		Phase:            s.phases.currentName(),
		Records:          pw.records,
		Errors:           pw.errors,
		RecordsPerSecond: round2(float64(pw.records) / width),
		MiBPerSecond:     round2(float64(pw.bytes) / width / (1 << 20)),
		P50:              pw.latency.P50,
		P99:              pw.latency.P99,
		Max:              pw.latency.Max,
	}
	if s.consumer != nil {
		cw := s.consumer.tick()
		pt.ConsumeRecordsPerSecond = round2(float64(cw.records) / width)
		pt.ConsumeMiBPerSecond = round2(float64(cw.bytes) / width / (1 << 20))
		pt.E2EP50, pt.E2EP99 = cw.latency.P50, cw.latency.P99
	}
	pt.StealPercent = s.steal.next()
	s.series = append(s.series, pt)
	s.printProgress(pt, pw.phaseP99)
}

// stealMeter gives the stolen share of CPU time between one reading and
// the next: 0 where either could not be read (no /proc/stat) or the
// counters went backwards, the next pair counting again.
type stealMeter struct {
	read func() (cpuTimes, error)
	last cpuTimes
	ok   bool // last was read
}

func (m *stealMeter) next() float64 {
	t, err := m.read()
	var p float64
	if err == nil && m.ok {
		p, _ = t.stealPercent(m.last)
	}
	m.last, m.ok = t, err == nil
	return p
}

func (s *sampler) printProgress(pt Point, phaseP99 int64) {
	remaining := "?"
	if s.planned > 0 {
		remaining = fmt.Sprintf("%.0fs", max(s.planned.Seconds()-pt.Seconds, 0))
	}
	line := fmt.Sprintf("%s %5.0fs (left %s) %-16s %9.0f rec/s %8.2f MiB/s  p99 %s (phase so far %s)  err %d",
		s.scenario, pt.Seconds, remaining, pt.Phase, pt.RecordsPerSecond, pt.MiBPerSecond,
		formatMicros(pt.P99), formatMicros(phaseP99), pt.Errors)
	if s.consumer != nil {
		line += fmt.Sprintf("  read %.0f rec/s %.2f MiB/s", pt.ConsumeRecordsPerSecond, pt.ConsumeMiBPerSecond)
		if pt.E2EP99 > 0 {
			line += "  e2e p99 " + formatMicros(pt.E2EP99)
		}
	}
	if pt.StealPercent > 0 {
		line += fmt.Sprintf("  steal %.1f%%", pt.StealPercent)
	}
	if s.overLine {
		fmt.Fprintf(s.progress, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(s.progress, line)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// formatMicros prints a latency in the unit that keeps it short.
func formatMicros(us int64) string {
	switch {
	case us < 1000:
		return fmt.Sprintf("%dµs", us)
	case us < 1000_000:
		return fmt.Sprintf("%.2fms", float64(us)/1000)
	default:
		return fmt.Sprintf("%.2fs", float64(us)/1e6)
	}
}
