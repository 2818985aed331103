package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// BrokerLatency is the broker's own latency histogram for one request type
// over a window, read from its Prometheus endpoint (floe's
// floe_request_duration_seconds, from request read to response queued).
// Next to the client's send latency it tells how much of a tail the broker
// spent handling requests and how much was spent around it (network,
// scheduling, the client). Quantiles are bucket upper bounds.
type BrokerLatency struct {
	Count  uint64  `json:"count"`
	P50Us  float64 `json:"p50_us"`
	P99Us  float64 `json:"p99_us"`
	P999Us float64 `json:"p999_us"`
}

// BrokerProduce is the broker's own view of Produce over a window: its
// request latency and, from a floe that exports them, where that time went.
type BrokerProduce struct {
	BrokerLatency
	// Stages: dispatch, wal_queue, wal_write and ack of each durable
	// Produce partition (floe_produce_stage_seconds), and response_wait,
	// from the answer being queued to its turn to be written
	// (floe_response_wait_seconds).
	Stages map[string]BrokerLatency `json:"stages,omitempty"`
}

// brokerHistogram is one reading of a cumulative histogram: bucket upper
// bound (seconds) → count.
type brokerHistogram map[float64]float64

// brokerReading is one scrape of the series in brokerSeries, by name.
type brokerReading map[string]brokerHistogram

// brokerSeries are the histogram series read from the broker: the Produce
// request latency (required) and, where the broker has them, the stages.
var brokerSeries = []struct{ name, metric, label, value string }{
	{"request", "floe_request_duration_seconds", "api", "Produce"},
	{"dispatch", "floe_produce_stage_seconds", "stage", "dispatch"},
	{"wal_queue", "floe_produce_stage_seconds", "stage", "wal_queue"},
	{"wal_write", "floe_produce_stage_seconds", "stage", "wal_write"},
	{"ack", "floe_produce_stage_seconds", "stage", "ack"},
	{"response_wait", "floe_response_wait_seconds", "api", "Produce"},
}

// BrokerStages are the names of the stages a BrokerProduce may carry, in
// the order a Produce goes through them.
func BrokerStages() []string {
	var names []string
	for _, s := range brokerSeries[1:] {
		names = append(names, s.name)
	}
	return names
}

// scrapeBroker reads brokerSeries from a Prometheus endpoint.
func scrapeBroker(ctx context.Context, url string) (brokerReading, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: metrics url: %w", err)
	}
	// Go's client would ask for gzip, and the broker would spend its CPU
	// compressing ~100 KB for a reader on the same machine.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape %s: %s", url, resp.Status)
	}
	h, err := parseBrokerHistograms(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	return h, nil
}

// parseBrokerHistograms picks the bucket lines of brokerSeries out of a
// Prometheus text exposition. The request series must be there.
func parseBrokerHistograms(r io.Reader) (brokerReading, error) {
	reading := make(brokerReading)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, "_bucket{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "}")
		if !ok {
			continue
		}
		labels = "," + labels + ","
		for _, s := range brokerSeries {
			if s.metric != name || !strings.Contains(labels, ","+s.label+`="`+s.value+`",`) {
				continue
			}
			_, le, ok := strings.Cut(labels, `,le="`)
			if !ok {
				continue
			}
			le, _, _ = strings.Cut(le, `"`)
			bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
			if err != nil {
				return nil, fmt.Errorf("bucket bound %q: %w", le, err)
			}
			fields := strings.Fields(value)
			if len(fields) == 0 {
				continue
			}
			count, err := strconv.ParseFloat(fields[0], 64)
			if err != nil {
				return nil, fmt.Errorf("bucket count %q: %w", fields[0], err)
			}
			if reading[s.name] == nil {
				reading[s.name] = make(brokerHistogram)
			}
			reading[s.name][bound] = count
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if reading["request"] == nil {
		return nil, fmt.Errorf("no floe_request_duration_seconds buckets for api %q", "Produce")
	}
	return reading, nil
}

// window is the broker's view of the requests between earlier and r.
func (r brokerReading) window(earlier brokerReading) BrokerProduce {
	w := BrokerProduce{BrokerLatency: r["request"].window(earlier["request"])}
	for _, name := range BrokerStages() {
		if r[name] == nil || earlier[name] == nil {
			continue
		}
		if w.Stages == nil {
			w.Stages = make(map[string]BrokerLatency)
		}
		w.Stages[name] = r[name].window(earlier[name])
	}
	return w
}

// window is the latency of the requests counted between earlier and h.
func (h brokerHistogram) window(earlier brokerHistogram) BrokerLatency {
	bounds := make([]float64, 0, len(h))
	for b := range h {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	// Cumulative counts to per-bucket ones; the +Inf bucket reports the
	// last finite bound.
	uppers := make([]float64, len(bounds))
	counts := make([]float64, len(bounds))
	var below float64
	for i, b := range bounds {
		uppers[i] = b
		if math.IsInf(b, 1) && i > 0 {
			uppers[i] = bounds[i-1]
		}
		cum := h[b] - earlier[b]
		counts[i] = cum - below
		below = cum
	}
	return BrokerLatency{
		Count:  uint64(below),
		P50Us:  bucketQuantileUs(uppers, counts, 0.5),
		P99Us:  bucketQuantileUs(uppers, counts, 0.99),
		P999Us: bucketQuantileUs(uppers, counts, 0.999),
	}
}
