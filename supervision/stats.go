package supervision

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// handleBuckets are the handling-time histogram buckets, 1 µs to ~4 s.
func handleBuckets() []float64 { return prometheus.ExponentialBuckets(1e-6, 2, 23) }

// ActorStats are one actor's counters. The mailbox wrapper writes them from
// the actor's own goroutine; readers (metrics scrape, /debug/actors, the rate
// sampler) only load atomics or read the histogram, which is safe for
// concurrent use.
type ActorStats struct {
	Name string
	Kind string
	Pool string

	mailbox  atomic.Pointer[actor.Mailbox]
	handled  atomic.Int64
	restarts atomic.Int64
	handle   prometheus.Histogram // this actor's handling time, for its p99
	kindHist prometheus.Observer  // the kind's handling time, exported

	rateMilli atomic.Int64 // messages/s × 1000 over the last sample interval
	lastCount int64        // sampler-owned
}

// Depth is the number of user messages waiting in the actor's mailbox.
func (s *ActorStats) Depth() int {
	if m := s.mailbox.Load(); m != nil {
		return (*m).UserMessageCount()
	}
	return 0
}

// Handled is the number of messages the actor has handled.
func (s *ActorStats) Handled() int64 { return s.handled.Load() }

// Restarts is how often the actor was restarted by its supervisor.
func (s *ActorStats) Restarts() int64 { return s.restarts.Load() }

// Rate is messages per second over the last sampling interval.
func (s *ActorStats) Rate() float64 { return float64(s.rateMilli.Load()) / 1000 }

// P99 is the 99th percentile handling time, estimated from the histogram
// buckets (upper bound of the bucket holding it).
func (s *ActorStats) P99() time.Duration {
	var m dto.Metric
	if err := s.handle.Write(&m); err != nil || m.Histogram == nil {
		return 0
	}
	h := m.Histogram
	total := h.GetSampleCount()
	if total == 0 {
		return 0
	}
	target := uint64(float64(total) * 0.99)
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() >= target {
			return time.Duration(b.GetUpperBound() * float64(time.Second))
		}
	}
	b := handleBuckets()
	return time.Duration(b[len(b)-1] * float64(time.Second))
}

// instrumentedMailbox wraps protoactor's unbounded mailbox to count and time
// every user message; protoactor has no API for a mailbox's length and its
// own metrics use a global meter without per-actor labels.
type instrumentedMailbox struct {
	actor.Mailbox
	stats *ActorStats
}

func (m *instrumentedMailbox) RegisterHandlers(invoker actor.MessageInvoker, d actor.Dispatcher) {
	m.Mailbox.RegisterHandlers(timedInvoker{MessageInvoker: invoker, stats: m.stats}, d)
}

type timedInvoker struct {
	actor.MessageInvoker
	stats *ActorStats
}

func (t timedInvoker) InvokeUserMessage(msg any) {
	start := time.Now()
	t.MessageInvoker.InvokeUserMessage(msg)
	took := time.Since(start).Seconds()
	t.stats.handled.Add(1)
	t.stats.handle.Observe(took)
	t.stats.kindHist.Observe(took)
}

// statsTable holds every live actor's stats.
type statsTable struct {
	mu     sync.Mutex
	byName map[string]*ActorStats // guarded by mu

	kindHist    *prometheus.HistogramVec
	deadLetters *prometheus.CounterVec
	depth       *prometheus.Desc
	handled     *prometheus.Desc
	restarts    *prometheus.Desc
}

func newStatsTable() *statsTable {
	return &statsTable{
		byName: make(map[string]*ActorStats),
		kindHist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "floe_actor_handle_seconds", Help: "Time an actor takes to handle one message, by actor kind.",
			Buckets: handleBuckets(),
		}, []string{"kind"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_actor_dead_letters_total", Help: "Messages sent to actors that no longer exist, by actor kind.",
		}, []string{"kind"}),
		depth:    prometheus.NewDesc("floe_actor_mailbox_depth", "User messages waiting in an actor's mailbox.", []string{"kind", "actor"}, nil),
		handled:  prometheus.NewDesc("floe_actor_messages_total", "Messages an actor has handled.", []string{"kind", "actor"}, nil),
		restarts: prometheus.NewDesc("floe_actor_restarts_total", "Restarts of an actor by its supervisor.", []string{"kind", "actor"}, nil),
	}
}

// mailboxFor makes the instrumented mailbox producer for a new actor.
func (t *statsTable) mailboxFor(name, pool string) (actor.MailboxProducer, *ActorStats) {
	kind := KindOf(name)
	s := &ActorStats{
		Name: name, Kind: kind, Pool: pool,
		handle:   prometheus.NewHistogram(prometheus.HistogramOpts{Name: "handle", Buckets: handleBuckets()}),
		kindHist: t.kindHist.WithLabelValues(kind),
	}
	t.mu.Lock()
	t.byName[name] = s
	t.mu.Unlock()
	inner := actor.Unbounded()
	return func() actor.Mailbox {
		mb := inner()
		s.mailbox.Store(&mb)
		return &instrumentedMailbox{Mailbox: mb, stats: s}
	}, s
}

func (t *statsTable) get(name string) *ActorStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byName[name]
}

func (t *statsTable) remove(name string) {
	t.mu.Lock()
	delete(t.byName, name)
	t.mu.Unlock()
}

// all returns every actor's stats, sorted by name.
func (t *statsTable) all() []*ActorStats {
	t.mu.Lock()
	out := make([]*ActorStats, 0, len(t.byName))
	for _, s := range t.byName {
		out = append(out, s)
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sample updates every actor's message rate; called once per interval by
// one goroutine.
func (t *statsTable) sample(interval time.Duration) {
	for _, s := range t.all() {
		n := s.handled.Load()
		s.rateMilli.Store(int64(float64(n-s.lastCount) * 1000 / interval.Seconds()))
		s.lastCount = n
	}
}

// Describe and Collect export per-actor gauges and counters on scrape.
func (t *statsTable) Describe(ch chan<- *prometheus.Desc) {
	ch <- t.depth
	ch <- t.handled
	ch <- t.restarts
	t.kindHist.Describe(ch)
	t.deadLetters.Describe(ch)
}

func (t *statsTable) Collect(ch chan<- prometheus.Metric) {
	for _, s := range t.all() {
		ch <- prometheus.MustNewConstMetric(t.depth, prometheus.GaugeValue, float64(s.Depth()), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(t.handled, prometheus.CounterValue, float64(s.Handled()), s.Kind, s.Name)
		ch <- prometheus.MustNewConstMetric(t.restarts, prometheus.CounterValue, float64(s.Restarts()), s.Kind, s.Name)
	}
	t.kindHist.Collect(ch)
	t.deadLetters.Collect(ch)
}
