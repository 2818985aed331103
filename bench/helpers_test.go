package bench

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kfakeConfig starts an in-process one-broker kfake cluster and returns a
// short test config pointing at it.
func kfakeConfig(t *testing.T) Config {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return Config{
		Target:     "kfake",
		Brokers:    c.ListenAddrs(),
		Topic:      "bench-test",
		Partitions: 4,
		Duration:   time.Second,
		RecordSize: 100,
	}
}

// captured collects the recorders a run creates.
type captured struct {
	mu   sync.Mutex
	recs map[string]*recorder
}

func capture(cfg *Config) *captured {
	c := &captured{recs: make(map[string]*recorder)}
	cfg.recorders = func(role string, rec *recorder) {
		c.mu.Lock()
		c.recs[role] = rec
		c.mu.Unlock()
	}
	return c
}

func (c *captured) get(t *testing.T, role string) *recorder {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.recs[role]
	if !ok {
		t.Fatalf("no %s recorder", role)
	}
	return r
}

func runScenario(t *testing.T, scenario string, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, scenario, cfg, testWriter{t})
	if err != nil {
		t.Fatalf("%s: %v", scenario, err)
	}
	return res
}

// testWriter sends the progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b))
	return len(b), nil
}

// checkLatencyFromSamples checks that a latency summary is the one of the
// kept samples: same count, exact max, percentiles ordered and each within
// the histogram's 0.1 % of the exact percentile of the samples.
func checkLatencyFromSamples(t *testing.T, what string, got Latency, samples []int64) {
	t.Helper()
	if got.Count != int64(len(samples)) {
		t.Fatalf("%s: count %d, but %d samples were recorded", what, got.Count, len(samples))
	}
	if len(samples) == 0 {
		t.Fatalf("%s: no samples", what)
	}
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	if got.Max != sorted[len(sorted)-1] {
		t.Errorf("%s: max %d, largest sample %d", what, got.Max, sorted[len(sorted)-1])
	}
	ordered := []int64{got.Min, got.P50, got.P95, got.P99, got.P999, got.Max}
	if !slices.IsSorted(ordered) {
		t.Errorf("%s: min ≤ p50 ≤ p95 ≤ p99 ≤ p99.9 ≤ max violated: %v", what, ordered)
	}
	for _, c := range []struct {
		name       string
		percentile float64
		value      int64
	}{{"p50", 50, got.P50}, {"p95", 95, got.P95}, {"p99", 99, got.P99}, {"p99.9", 99.9, got.P999}} {
		rank := max(int(math.Round(c.percentile/100*float64(len(sorted))))-1, 0)
		exact := sorted[rank]
		if tolerance := exact/500 + 1; c.value < exact-tolerance || c.value > exact+tolerance {
			t.Errorf("%s: %s = %d, exact %d (rank %d of %d)", what, c.name, c.value, exact, rank, len(sorted))
		}
	}
}

// jsonShape marshals r and returns it as generic JSON, after checking the
// fields every scenario has and their types.
func jsonShape(t *testing.T, r Result) map[string]any {
	t.Helper()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	wantString(t, m, "scenario", "measured_phase", "start", "end")
	for _, k := range []string{"start", "end"} {
		if _, err := time.Parse(time.RFC3339Nano, m[k].(string)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	wantNumber(t, m, "partitions")
	cfg := wantObject(t, m, "config")
	wantString(t, cfg, "target", "topic", "acks", "compression")
	wantNumber(t, cfg, "duration_seconds", "warmup_seconds", "linger_seconds", "producers", "record_size_bytes", "rate_records_per_second")
	wantNumber(t, wantObject(t, m, "latency_us"), "count", "min", "mean", "p50", "p95", "p99", "p99_9", "max")
	wantNumber(t, wantObject(t, m, "throughput"), "records", "bytes", "errors", "seconds", "records_per_second", "mib_per_second")
	wantNumber(t, wantObject(t, m, "totals"), "records", "bytes", "errors", "latency_samples")
	series, ok := m["series"].([]any)
	if !ok || len(series) == 0 {
		t.Fatalf("series: %T %v", m["series"], m["series"])
	}
	for _, p := range series {
		pt := p.(map[string]any)
		wantString(t, pt, "phase")
		wantNumber(t, pt, "t", "records", "errors", "records_per_second", "mib_per_second", "p50_us", "p99_us", "max_us",
			"consume_records_per_second", "consume_mib_per_second", "e2e_p50_us", "e2e_p99_us")
	}
	phases, ok := m["phases"].([]any)
	if !ok || len(phases) == 0 {
		t.Fatalf("phases: %v", m["phases"])
	}
	for _, p := range phases {
		wantString(t, p.(map[string]any), "name")
		wantNumber(t, p.(map[string]any), "start_seconds", "end_seconds")
	}
	return m
}

func wantString(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k].(string); !ok {
			t.Errorf("%q: want a string, got %T (%v)", k, m[k], m[k])
		}
	}
}

func wantNumber(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k].(float64); !ok {
			t.Errorf("%q: want a number, got %T (%v)", k, m[k], m[k])
		}
	}
}

func wantObject(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q: want an object, got %T", key, m[key])
	}
	return o
}

// endOffsetsSum is the number of records the topic holds.
func endOffsetsSum(t *testing.T, cfg Config) int64 {
	t.Helper()
	_, ends, err := listOffsets(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range ends {
		sum += o
	}
	return sum
}
