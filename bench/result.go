package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Result is the outcome of one run; it marshals to result.json. Latencies
// are in microseconds, times in seconds since Start unless named otherwise.
type Result struct {
	Scenario string    `json:"scenario"`
	Config   Config    `json:"config"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	// Partitions is the topic's partition count as found or created.
	Partitions int `json:"partitions"`
	// MeasuredPhase names the phase Latency and Throughput describe.
	MeasuredPhase string      `json:"measured_phase"`
	Phases        []PhaseSpan `json:"phases"`
	Series        []Point     `json:"series"`
	// Latency is the producer's send latency in the measured phase.
	Latency    Latency    `json:"latency_us"`
	Throughput Throughput `json:"throughput"`
	// Totals counts every acknowledged and failed record of the run,
	// whatever its phase.
	Totals Totals `json:"totals"`

	E2E         *E2EResult         `json:"e2e,omitempty"`
	Catchup     *CatchupResult     `json:"catchup,omitempty"`
	Connections *ConnectionsResult `json:"connections,omitempty"`
}

// PhaseSpan is one phase of the run.
type PhaseSpan struct {
	Name         string  `json:"name"`
	StartSeconds float64 `json:"start_seconds"`
	EndSeconds   float64 `json:"end_seconds"`
}

// Latency is a latency distribution in microseconds.
type Latency struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min"`
	Mean  float64 `json:"mean"`
	P50   int64   `json:"p50"`
	P95   int64   `json:"p95"`
	P99   int64   `json:"p99"`
	P999  int64   `json:"p99_9"`
	Max   int64   `json:"max"`
}

// Throughput is what was acknowledged (or consumed) over Seconds.
type Throughput struct {
	Records          int64   `json:"records"`
	Bytes            int64   `json:"bytes"`
	Errors           int64   `json:"errors"`
	Seconds          float64 `json:"seconds"`
	RecordsPerSecond float64 `json:"records_per_second"`
	MiBPerSecond     float64 `json:"mib_per_second"`
}

// Totals are a recorder's counts over the whole run.
type Totals struct {
	Records int64 `json:"records"`
	Bytes   int64 `json:"bytes"`
	Errors  int64 `json:"errors"`
	// Samples is the number of latency samples in the histograms; for the
	// producer it equals Records.
	Samples int64 `json:"latency_samples"`
}

// Point is one second of the run (the last one may be shorter; rates are
// per second of its actual width). Phase is the phase current at the end
// of the window. Consumer fields are zero for scenarios without consumers.
type Point struct {
	Seconds          float64 `json:"t"`
	Phase            string  `json:"phase"`
	Records          int64   `json:"records"`
	Errors           int64   `json:"errors"`
	RecordsPerSecond float64 `json:"records_per_second"`
	MiBPerSecond     float64 `json:"mib_per_second"`
	P50              int64   `json:"p50_us"`
	P99              int64   `json:"p99_us"`
	Max              int64   `json:"max_us"`

	ConsumeRecordsPerSecond float64 `json:"consume_records_per_second"`
	ConsumeMiBPerSecond     float64 `json:"consume_mib_per_second"`
	E2EP50                  int64   `json:"e2e_p50_us"`
	E2EP99                  int64   `json:"e2e_p99_us"`

	// StealPercent is the share of the machine's CPU time in this second
	// that the hypervisor gave to other guests (see MachinePressure).
	StealPercent float64 `json:"steal_percent"`
}

// E2EResult adds the consumers' view to an e2e run.
type E2EResult struct {
	Consumers int        `json:"consumers"`
	Latency   Latency    `json:"latency_us"` // end to end, intended send to receipt
	Consumed  Throughput `json:"consumed"`
	Totals    Totals     `json:"totals"`
}

// CatchupResult is the isolation scenario's verdict.
type CatchupResult struct {
	BacklogRecords int64 `json:"backlog_records"` // behind the consumer when it started
	BacklogBytes   int64 `json:"backlog_bytes"`

	BaselineLatency Latency `json:"baseline_latency_us"`
	CatchupLatency  Latency `json:"catchup_latency_us"`
	// P50Ratio and P99Ratio are catch-up over baseline (target ≤ 1.1).
	P50Ratio float64 `json:"p50_ratio"`
	P99Ratio float64 `json:"p99_ratio"`

	Drained       bool    `json:"drained"`
	DrainSeconds  float64 `json:"drain_seconds"` // consumer start to reaching the moving end
	ReadRecords   int64   `json:"read_records"`
	ReadBytes     int64   `json:"read_bytes"`
	ReadRecordsPS float64 `json:"read_records_per_second"`
	ReadMiBPS     float64 `json:"read_mib_per_second"`
	// ProduceRecordsPS is the producer's measured rate while the consumer
	// caught up; RateMultiple is the read rate over it (target ≥ 5).
	ProduceRecordsPS float64 `json:"produce_records_per_second"`
	RateMultiple     float64 `json:"rate_multiple"`

	// BaselineClient and CatchupClient are the bench process's own
	// runtime in the two windows (see ClientRuntime).
	BaselineClient ClientRuntime `json:"baseline_client_runtime"`
	CatchupClient  ClientRuntime `json:"catchup_client_runtime"`
	// BaselineMachine and CatchupMachine are the bench machine's CPU and
	// I/O pressure in the two windows, where Linux reports it (see
	// MachinePressure).
	BaselineMachine *MachinePressure `json:"baseline_machine_pressure,omitempty"`
	CatchupMachine  *MachinePressure `json:"catchup_machine_pressure,omitempty"`
	// BaselineBroker and CatchupBroker are the broker's own Produce
	// latency in the two windows, when --metrics-url points at a floe
	// broker's /metrics (see BrokerLatency).
	BaselineBroker *BrokerProduce `json:"baseline_broker_produce,omitempty"`
	CatchupBroker  *BrokerProduce `json:"catchup_broker_produce,omitempty"`
	// BaselineLate and CatchupLate are how long after their due time the
	// sends were handed to the client; BaselineRequests and
	// CatchupRequests are the round trips of its Produce requests (see
	// sendParts).
	BaselineLate     Latency `json:"baseline_send_late_us"`
	CatchupLate      Latency `json:"catchup_send_late_us"`
	BaselineRequests Latency `json:"baseline_produce_requests_us"`
	CatchupRequests  Latency `json:"catchup_produce_requests_us"`
}

// ConnectionsResult is the connection scenario's verdict.
type ConnectionsResult struct {
	Requested   int     `json:"requested"`
	Opened      int     `json:"opened"`
	Failed      int     `json:"failed"`
	FirstError  string  `json:"first_error,omitempty"`
	OpenSeconds float64 `json:"open_seconds"`
	NoFileLimit uint64  `json:"nofile_limit"`

	MemorySource       string  `json:"memory_source,omitempty"` // proc or metrics; empty when not measured
	RSSBeforeBytes     int64   `json:"rss_before_bytes"`
	RSSAfterBytes      int64   `json:"rss_after_bytes"`
	BytesPerConnection float64 `json:"bytes_per_connection"`

	BaselineLatency Latency `json:"baseline_latency_us"`
	WithLatency     Latency `json:"with_connections_latency_us"`
	P99Ratio        float64 `json:"p99_ratio"`

	LightRequests Throughput `json:"light_requests"`
	LightLatency  Latency    `json:"light_latency_us"`
}

// WriteFiles writes result.json and, unless jsonOnly, chart.svg into dir,
// creating it, and returns the paths written.
func WriteFiles(dir string, r Result, jsonOnly bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bench: encode result: %w", err)
	}
	jsonPath := filepath.Join(dir, "result.json")
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	written := []string{jsonPath}
	if jsonOnly {
		return written, nil
	}
	chartPath := filepath.Join(dir, "chart.svg")
	f, err := os.Create(chartPath)
	if err != nil {
		return written, fmt.Errorf("bench: %w", err)
	}
	err = WriteChart(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return written, fmt.Errorf("bench: chart: %w", err)
	}
	return append(written, chartPath), nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return round2(float64(a) / float64(b))
}
