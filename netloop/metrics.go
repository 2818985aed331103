package netloop

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics of the network front end; registered on the injected registry.
type metrics struct {
	requests            *prometheus.CounterVec
	latency             *prometheus.HistogramVec
	responseWait        *prometheus.HistogramVec
	bytesIn             prometheus.Counter
	bytesOut            prometheus.Counter
	connections         prometheus.Gauge
	connectionsRejected prometheus.Counter
	// perAPI holds each Kafka API's series once it has answered a
	// request (so unused APIs export nothing): looking the label up per
	// response took most of the per-response metric cost.
	perAPI [kmsg.MaxKey + 1]atomic.Pointer[apiSeries]
}

// apiSeries are one Kafka API's request metrics.
type apiSeries struct {
	requests prometheus.Counter
	latency  prometheus.Observer
	wait     prometheus.Observer
}

func newMetrics(reg prometheus.Registerer, inflight func() float64) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "floe_requests_total", Help: "Requests answered, by Kafka API.",
		}, []string{"api"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "floe_request_duration_seconds", Help: "Time from reading a request to queuing its response, by Kafka API.",
			Buckets: LatencyBuckets,
		}, []string{"api"}),
		responseWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "floe_response_wait_seconds", Help: "Time from queuing a response to its turn to be written: the event loop's turn, and waiting behind earlier responses of the same connection (Kafka answers in order), by Kafka API. A response behind a large one of its own connection also waits for that one's 256 KiB slices, which this does not count.",
			Buckets: LatencyBuckets,
		}, []string{"api"}),
		bytesIn:             prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_network_received_bytes_total", Help: "Request bytes read."}),
		bytesOut:            prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_network_sent_bytes_total", Help: "Response bytes queued for writing."}),
		connections:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "floe_connections", Help: "Open client connections."}),
		connectionsRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_connections_rejected_total", Help: "Connections refused at the connection cap or while draining."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.latency, m.responseWait, m.bytesIn, m.bytesOut, m.connections, m.connectionsRejected,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_requests_in_flight", Help: "Requests read and not yet answered."}, inflight))
	}
	return m
}

// LatencyBuckets are the bounds of floe's latency histograms: 50 µs to 9 s,
// each √2 times the one before, so a quantile read from them is within 41%
// (a factor of 2 could not tell a 1.6 ms tail from a 3.2 ms one).
var LatencyBuckets = prometheus.ExponentialBuckets(50e-6, math.Sqrt2, 36)

// series returns API key's series, resolving them on the key's first use.
// Two goroutines resolving at once get the same children from client_golang.
func (m *metrics) series(key int16) *apiSeries {
	inTable := key >= 0 && int(key) < len(m.perAPI)
	if inTable {
		if s := m.perAPI[key].Load(); s != nil {
			return s
		}
	}
	label := kmsg.NameForKey(key)
	if label == "" {
		label = strconv.Itoa(int(key))
	}
	s := &apiSeries{requests: m.requests.WithLabelValues(label), latency: m.latency.WithLabelValues(label), wait: m.responseWait.WithLabelValues(label)}
	if inTable {
		m.perAPI[key].Store(s)
	}
	return s
}

// observeWait records how long a response of API key waited to be written.
func (m *metrics) observeWait(key int16, waited time.Duration) {
	m.series(key).wait.Observe(waited.Seconds())
}

func (m *metrics) observe(key int16, took time.Duration, bytes int) {
	s := m.series(key)
	s.requests.Inc()
	s.latency.Observe(took.Seconds())
	m.bytesOut.Add(float64(bytes))
}
