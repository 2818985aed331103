package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name     string
		scenario string
		edit     func(*Config)
		wantErr  string // empty: valid
	}{
		{"defaults produce", ScenarioProduce, func(*Config) {}, ""},
		{"unknown scenario", "soak", func(*Config) {}, "unknown scenario"},
		{"bad acks", ScenarioProduce, func(c *Config) { c.Acks = "2" }, "acks"},
		{"bad compression", ScenarioProduce, func(c *Config) { c.Compression = "brotli" }, "compression"},
		{"e2e tiny records", ScenarioE2E, func(c *Config) { c.RecordSize = 4 }, "at least 8 bytes"},
		{"catchup unpaced", ScenarioCatchup, func(c *Config) {}, "fixed --rate"},
		{"catchup acks 1", ScenarioCatchup, func(c *Config) { c.Rate = 10; c.Acks = "1" }, "acks=all"},
		{"catchup ok", ScenarioCatchup, func(c *Config) { c.Rate = 10 }, ""},
		{"consumer gogc in process", ScenarioCatchup, func(c *Config) { c.Rate = 10; c.ConsumerGCPercent = 400 }, "consumer process"},
		{"consumer gogc", ScenarioCatchup, func(c *Config) { c.Rate = 10; c.ConsumerGCPercent = 400; c.ConsumerCommand = []string{"floe"} }, ""},
		{"consumer idle in process", ScenarioCatchup, func(c *Config) { c.Rate = 10; c.ConsumerIdle = true }, "consumer process"},
		{"consumer idle", ScenarioCatchup, func(c *Config) { c.Rate = 10; c.ConsumerIdle = true; c.ConsumerCommand = []string{"floe"} }, ""},
		{"connections light request", ScenarioConnections, func(c *Config) { c.Rate = 10; c.LightRequest = "fetch" }, "light request"},
		{"too many producers", ScenarioProduce, func(c *Config) { c.Producers = maxProducers + 1 }, "producers"},
		{"negative rate", ScenarioProduce, func(c *Config) { c.Rate = -1 }, "rates"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var cfg Config
			cfg.EnsureDefaults()
			c.edit(&cfg)
			err := cfg.Validate(c.scenario)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one mentioning %q", err, c.wantErr)
			}
		})
	}
}

func TestConfigJSONUsesSeconds(t *testing.T) {
	cfg := Config{Duration: 1500 * time.Millisecond, Linger: 2 * time.Millisecond, Acks: "all"}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["duration_seconds"] != 1.5 || m["linger_seconds"] != 0.002 || m["idempotent"] != true {
		t.Fatalf("config JSON %s", data)
	}
	if _, ok := m["Duration"]; ok {
		t.Fatalf("raw duration leaked: %s", data)
	}
}

func TestProcRSS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	status := "Name:\tfloe\nVmPeak:\t  999 kB\nVmRSS:\t   12345 kB\nThreads:\t9\n"
	if err := os.WriteFile(path, []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := procRSS(path)
	if err != nil || got != 12345*1024 {
		t.Fatalf("procRSS = %d, %v", got, err)
	}
	if err := os.WriteFile(path, []byte("Name:\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := procRSS(path); err == nil {
		t.Fatal("no VmRSS line: want an error")
	}
}

func TestScrapeRSS(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"+
			"# TYPE process_resident_memory_bytes gauge\n"+
			"process_resident_memory_bytes_total_fake 1\n"+
			"process_resident_memory_bytes 5.24288e+07\n")
	}))
	defer srv.Close()
	got, err := scrapeRSS(context.Background(), srv.URL)
	if err != nil || got != 52428800 {
		t.Fatalf("scrapeRSS = %d, %v", got, err)
	}
}

func TestSkipTags(t *testing.T) {
	// Two tagged fields (tag 0: 2 bytes, tag 5: 0 bytes), then the body.
	in := []byte{2, 0, 2, 0xAA, 0xBB, 5, 0, 'b', 'o', 'd', 'y'}
	rest, err := skipTags(in)
	if err != nil || string(rest) != "body" {
		t.Fatalf("skipTags = %q, %v", rest, err)
	}
	if _, err := skipTags([]byte{1, 0, 9, 1}); err == nil {
		t.Fatal("truncated tag: want an error")
	}
}

func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ v, step, top float64 }{
		{0, 1, 1}, {1, 0.2, 1}, {7, 2, 8}, {42, 10, 50}, {980, 200, 1000}, {0.013, 0.005, 0.015},
	} {
		step, top := niceScale(c.v)
		if diff := top - c.top; step != c.step || diff > 1e-9 || diff < -1e-9 {
			t.Errorf("niceScale(%g) = %g, %g; want %g, %g", c.v, step, top, c.step, c.top)
		}
	}
}

// The quantile of a histogram difference counts only what was added between
// the two readings, and answers with bucket upper bounds.
func TestHistQuantileUsOfDifference(t *testing.T) {
	buckets := []float64{0, 1e-6, 1e-5, 1e-4, 1e-3, math.Inf(1)}
	earlier := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 0, 0, 0, 500}} // old, slow
	later := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{98, 1, 0, 1, 500}}
	if got := histQuantileUs(later, earlier, 0.5); got != 1 {
		t.Errorf("p50 %v µs, want 1", got)
	}
	if got := histQuantileUs(later, earlier, 0.99); got != 10 {
		t.Errorf("p99 %v µs, want 10", got)
	}
	if got := histQuantileUs(later, earlier, 1); got != 1000 {
		t.Errorf("max %v µs, want 1000", got)
	}
	if got := histQuantileUs(earlier, earlier, 0.99); got != 0 {
		t.Errorf("empty window: %v", got)
	}
	// The last bucket is unbounded: its lower bound is reported.
	inf := &metrics.Float64Histogram{Buckets: buckets, Counts: []uint64{0, 0, 0, 0, 501}}
	if got := histQuantileUs(inf, earlier, 1); got != 1000 {
		t.Errorf("open bucket: %v", got)
	}
}

// The broker's request histogram is picked out of a real exposition by its
// api label, the stage histograms by theirs, and a window's quantiles count
// only what came between two readings.
func TestBrokerRequestHistogramWindow(t *testing.T) {
	bounds := []string{"0.0004", "0.0008", "0.0016", "0.0032", "+Inf"}
	exposition := func(withStages bool, counts ...int) string {
		var b strings.Builder
		b.WriteString("# HELP floe_request_duration_seconds Request latency.\n# TYPE floe_request_duration_seconds histogram\n")
		for i, le := range bounds {
			fmt.Fprintf(&b, "floe_request_duration_seconds_bucket{api=\"Produce\",le=\"%s\"} %d\n", le, counts[i])
			fmt.Fprintf(&b, "floe_request_duration_seconds_bucket{api=\"Fetch\",le=\"%s\"} %d\n", le, 1000)
			if withStages {
				// wal_write has the request's counts; every other stage
				// and the Fetch response wait, none after the first.
				fmt.Fprintf(&b, "floe_produce_stage_seconds_bucket{stage=\"wal_write\",le=\"%s\"} %d\n", le, counts[i])
				fmt.Fprintf(&b, "floe_produce_stage_seconds_bucket{stage=\"dispatch\",le=\"%s\"} %d\n", le, 10)
				fmt.Fprintf(&b, "floe_response_wait_seconds_bucket{api=\"Fetch\",le=\"%s\"} %d\n", le, counts[i])
			}
		}
		b.WriteString("floe_request_duration_seconds_sum{api=\"Produce\"} 1.5\nfloe_request_duration_seconds_count{api=\"Produce\"} 0\n")
		return b.String()
	}
	before, err := parseBrokerHistograms(strings.NewReader(exposition(true, 10, 10, 10, 10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	// 1000 more: 900 under 0.4 ms, 90 under 0.8 ms, 9 under 3.2 ms, 1 beyond.
	after, err := parseBrokerHistograms(strings.NewReader(exposition(true, 910, 1000, 1000, 1009, 1010)))
	if err != nil {
		t.Fatal(err)
	}
	got := after.window(before)
	want := BrokerLatency{Count: 1000, P50Us: 400, P99Us: 800, P999Us: 3200}
	if got.BrokerLatency != want {
		t.Fatalf("window %+v, want %+v", got.BrokerLatency, want)
	}
	if len(got.Stages) != 2 || got.Stages["wal_write"] != want || got.Stages["dispatch"] != (BrokerLatency{}) {
		t.Fatalf("stages %+v, want wal_write %+v and an empty dispatch (the Fetch response wait is not Produce's)", got.Stages, want)
	}
	if w := after.window(after); w.BrokerLatency != (BrokerLatency{}) {
		t.Fatalf("empty window %+v", w)
	}
	old, err := parseBrokerHistograms(strings.NewReader(exposition(false, 10, 10, 10, 10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if w := old.window(old); w.Stages != nil {
		t.Fatalf("stages from a broker without them: %+v", w.Stages)
	}
	if _, err := parseBrokerHistograms(strings.NewReader(strings.ReplaceAll(exposition(true, 1, 1, 1, 1, 1), `api="Produce"`, `api="Metadata"`))); err == nil {
		t.Fatal("an exposition without Produce request buckets parsed")
	}
}

func TestParseCPUTimes(t *testing.T) {
	stat := "cpu  6815 0 2534 14314 58 0 19 22 5 0\ncpu0 3396 0 1186 7281 9 0 3 8 0 0\nintr 1\n"
	got, err := parseCPUTimes([]byte(stat))
	if want := (cpuTimes{total: 6815 + 2534 + 14314 + 58 + 19 + 22, steal: 22}); err != nil || got != want {
		t.Errorf("got %+v, %v; want %+v (guest time is inside user time, so not added)", got, err, want)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8\n", "cpu  1 2 3 4 5 6 7\n", "cpu  1 2 3 x 5 6 7 8\n", "intr 1\ncpu  1 2 3 4 5 6 7 8\n"} {
		if v, err := parseCPUTimes([]byte(bad)); err == nil {
			t.Errorf("%q: got %+v, want an error", bad, v)
		}
	}
	a, b := cpuTimes{total: 100, steal: 4}, cpuTimes{total: 300, steal: 9}
	if p, ok := b.stealPercent(a); !ok || p != 2.5 {
		t.Errorf("5 of 200 ticks stolen: %v %v, want 2.5%%", p, ok)
	}
	if p, ok := a.stealPercent(b); ok {
		t.Errorf("backwards: %v, want none", p)
	}
	if p, ok := a.stealPercent(a); !ok || p != 0 {
		t.Errorf("no tick passed (a window under 10 ms): %v %v, want 0%%", p, ok)
	}
	if p, ok := (cpuTimes{total: 300, steal: 3}).stealPercent(a); ok {
		t.Errorf("steal went backwards: %v, want none", p)
	}
}

// The per-second steal is the share between two readings; a reading that
// fails gives 0 for its second and the one after, and the next pair counts
// again.
func TestStealMeter(t *testing.T) {
	readings := []struct {
		t   cpuTimes
		err error
	}{
		{cpuTimes{total: 100, steal: 0}, nil},
		{cpuTimes{total: 300, steal: 10}, nil}, // 10 of 200
		{cpuTimes{}, errors.New("no /proc/stat")},
		{cpuTimes{total: 700, steal: 30}, nil}, // after a failed reading
		{cpuTimes{total: 900, steal: 31}, nil}, // 1 of 200
	}
	i := 0
	m := stealMeter{read: func() (cpuTimes, error) { r := readings[i]; i++; return r.t, r.err }}
	var got []float64
	for range readings {
		got = append(got, m.next())
	}
	if want := []float64{0, 5, 0, 0, 0.5}; !slices.Equal(got, want) {
		t.Errorf("steal per reading %v, want %v", got, want)
	}
}

func TestParsePressureSome(t *testing.T) {
	got, err := parsePressureSome([]byte("some avg10=1.80 avg60=3.74 avg300=9.35 total=14089747829\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=7\n"))
	if err != nil || got != 14089747829 {
		t.Errorf("got %d, %v; want the some line's total 14089747829", got, err)
	}
	for _, bad := range []string{"", "full avg10=0.00 total=7\n", "some avg10=1.80\n", "some total=x\n"} {
		if v, err := parsePressureSome([]byte(bad)); err == nil {
			t.Errorf("%q: got %d, want an error", bad, v)
		}
	}
	t0 := time.Unix(100, 0)
	a := pressureSnapshot{at: t0, cpuUs: 1_000_000, ioUs: 2_000_000, cpu: cpuTimes{total: 1000, steal: 10}, ok: true}
	b := pressureSnapshot{at: t0.Add(2 * time.Second), cpuUs: 1_500_000, ioUs: 2_100_000, cpu: cpuTimes{total: 1400, steal: 22}, ok: true}
	if p := b.since(a); p == nil || p.CPUSomePercent != 25 || p.IOSomePercent != 5 || p.StealPercent != 3 {
		t.Errorf("2 s with 0.5 s of CPU stall, 0.1 s of I/O stall and 12 of 400 ticks stolen: %+v, want 25%%, 5%% and 3%%", p)
	}
	if p := b.since(pressureSnapshot{at: t0}); p != nil {
		t.Errorf("from an unreadable snapshot: %+v, want none", p)
	}
	if p := a.since(b); p != nil {
		t.Errorf("backwards: %+v, want none", p)
	}
}
