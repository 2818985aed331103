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

// brokerHistogram is one reading of a cumulative histogram: bucket upper
// bound (seconds) → count.
type brokerHistogram map[float64]float64

// brokerRequestMetric is floe's request latency histogram.
const brokerRequestMetric = "floe_request_duration_seconds"

// scrapeRequestHistogram reads the buckets of brokerRequestMetric for api.
func scrapeRequestHistogram(ctx context.Context, url, api string) (brokerHistogram, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: metrics url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape %s: %s", url, resp.Status)
	}
	h, err := parseRequestHistogram(resp.Body, api)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	return h, nil
}

// parseRequestHistogram picks the bucket lines of brokerRequestMetric with
// label api="<api>" out of a Prometheus text exposition.
func parseRequestHistogram(r io.Reader, api string) (brokerHistogram, error) {
	h := make(brokerHistogram)
	prefix := brokerRequestMetric + "_bucket{"
	apiLabel := `api="` + api + `"`
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		end := strings.IndexByte(line, '}')
		if end < 0 {
			continue
		}
		labels := line[len(prefix):end]
		if !strings.Contains(","+labels+",", ","+apiLabel+",") {
			continue
		}
		_, le, ok := strings.Cut(labels, `le="`)
		if !ok {
			continue
		}
		le, _, _ = strings.Cut(le, `"`)
		bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses as +Inf
		if err != nil {
			return nil, fmt.Errorf("bucket bound %q: %w", le, err)
		}
		fields := strings.Fields(line[end+1:])
		if len(fields) == 0 {
			continue
		}
		count, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bucket count %q: %w", fields[0], err)
		}
		h[bound] = count
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("no %s buckets for api %q", brokerRequestMetric, api)
	}
	return h, nil
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
