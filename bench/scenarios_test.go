package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestProduceUnpacedAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Producers = 2
	cfg.MaxBuffered = 64
	recs := capture(&cfg)
	res := runScenario(t, ScenarioProduce, cfg)
	jsonShape(t, res)

	prod := recs.get(t, "producer")
	if res.Totals.Errors != 0 || res.Throughput.Records == 0 {
		t.Fatalf("totals %+v, measured %+v", res.Totals, res.Throughput)
	}
	// Every acknowledged record is one latency sample and one record in
	// the topic (idempotent acks=all: no duplicates).
	if res.Totals.Samples != res.Totals.Records {
		t.Errorf("%d latency samples for %d acknowledged records", res.Totals.Samples, res.Totals.Records)
	}
	if inTopic := endOffsetsSum(t, cfg); inTopic != res.Totals.Records {
		t.Errorf("topic holds %d records, %d were acknowledged", inTopic, res.Totals.Records)
	}
	if res.Latency.Count != res.Throughput.Records {
		t.Errorf("measured phase: %d samples, %d records", res.Latency.Count, res.Throughput.Records)
	}
	checkLatencyFromSamples(t, "send", res.Latency, prod.keptSamples("measure"))
	if res.Throughput.Bytes != res.Throughput.Records*int64(cfg.RecordSize) {
		t.Errorf("bytes %d for %d records of %d", res.Throughput.Bytes, res.Throughput.Records, cfg.RecordSize)
	}
	var series int64
	for _, p := range res.Series {
		series += p.Records
	}
	if series != res.Totals.Records {
		t.Errorf("the series counts %d records, the totals %d", series, res.Totals.Records)
	}
}

func TestProducePacedAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Producers = 2
	cfg.Rate = 2000
	cfg.Warmup = 300 * time.Millisecond
	recs := capture(&cfg)
	res := runScenario(t, ScenarioProduce, cfg)
	jsonShape(t, res)
	checkLatencyFromSamples(t, "send", res.Latency, recs.get(t, "producer").keptSamples("measure"))
	if names := phaseNames(res); strings.Join(names, ",") != "warmup,measure,drain" {
		t.Errorf("phases %v", names)
	}
	// The pacer sends each record at its intended time, so it never runs
	// ahead of the schedule over the run. Within one phase it may: after
	// a stall (a loaded machine) it sends what is overdue at once, as an
	// open-loop load generator must, and the measured window can then
	// exceed the rate.
	run := res.Phases[len(res.Phases)-1].EndSeconds
	if sent := float64(res.Totals.Records); sent > cfg.Rate*run+float64(cfg.Producers) {
		t.Errorf("paced at %.0f/s: %.0f records in %.2f s ran ahead of the schedule", cfg.Rate, sent, run)
	}
	if got := res.Throughput.RecordsPerSecond; got < 0.5*cfg.Rate {
		t.Errorf("paced at %.0f/s, measured %.0f/s", cfg.Rate, got)
	}
	if res.Totals.Samples != res.Totals.Records || res.Totals.Errors != 0 {
		t.Errorf("totals %+v", res.Totals)
	}
}

func TestE2EAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Rate = 2000
	cfg.PartitionsPerConsumer = 2
	recs := capture(&cfg)
	res := runScenario(t, ScenarioE2E, cfg)
	m := jsonShape(t, res)
	e2e := wantObject(t, m, "e2e")
	wantNumber(t, e2e, "consumers")
	wantNumber(t, wantObject(t, e2e, "latency_us"), "count", "p50", "p99", "max")
	wantNumber(t, wantObject(t, e2e, "consumed"), "records", "records_per_second")

	if res.E2E.Consumers != 2 {
		t.Errorf("%d consumers for 4 partitions, 2 each", res.E2E.Consumers)
	}
	// Consumers start at the end offsets read before producing, so they
	// receive exactly what was acknowledged.
	if res.E2E.Totals.Records != res.Totals.Records || res.Totals.Records == 0 {
		t.Errorf("consumed %d records, %d acknowledged", res.E2E.Totals.Records, res.Totals.Records)
	}
	checkLatencyFromSamples(t, "send", res.Latency, recs.get(t, "producer").keptSamples("measure"))
	checkLatencyFromSamples(t, "e2e", res.E2E.Latency, recs.get(t, "consumer").keptSamples("measure"))
}

func TestCatchupAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Rate = 2000
	cfg.BacklogDuration = time.Second
	cfg.Baseline = 500 * time.Millisecond
	cfg.Duration = 10 * time.Second // the longest catch-up allowed; kfake drains in far less
	// kfake has no metrics: a stand-in /metrics whose Produce histogram
	// and WAL-write stage gain 100 requests (all under 0.8 ms) per scrape.
	// Each scrape takes 20 ms and notes its middle, which must fall in
	// neither measured window.
	var scrapes atomic.Int64
	var scrapedMu sync.Mutex
	var scrapedAt []time.Time
	metricsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if enc := req.Header.Get("Accept-Encoding"); enc != "identity" {
			t.Errorf("a /metrics scrape asked for Accept-Encoding %q: the broker would compress for a reader on its own machine", enc)
		}
		time.Sleep(10 * time.Millisecond)
		scrapedMu.Lock()
		scrapedAt = append(scrapedAt, time.Now())
		scrapedMu.Unlock()
		time.Sleep(10 * time.Millisecond)
		n := 100 * scrapes.Add(1)
		for _, le := range []string{"0.0004", "0.0008", "+Inf"} {
			fmt.Fprintf(w, "floe_request_duration_seconds_bucket{api=\"Produce\",le=%q} %d\n", le, n)
			fmt.Fprintf(w, "floe_produce_stage_seconds_bucket{stage=\"wal_write\",le=%q} %d\n", le, n)
		}
	}))
	defer metricsSrv.Close()
	cfg.MetricsURL = metricsSrv.URL
	recs := capture(&cfg)
	res := runScenario(t, ScenarioCatchup, cfg)
	for window, b := range map[string]*BrokerProduce{"baseline": res.Catchup.BaselineBroker, "catch-up": res.Catchup.CatchupBroker} {
		if b == nil || b.Count != 100 || b.P99Us != 400 {
			t.Errorf("broker-side Produce latency in the %s window: %+v, want 100 requests at p99 ≤ 400 µs", window, b)
			continue
		}
		if s, ok := b.Stages["wal_write"]; !ok || s.Count != 100 || len(b.Stages) != 1 {
			t.Errorf("broker-side Produce stages in the %s window: %+v, want wal_write alone with 100", window, b.Stages)
		}
	}
	m := jsonShape(t, res)
	wantNumber(t, wantObject(t, m, "catchup"), "backlog_records", "p50_ratio", "p99_ratio", "drain_seconds",
		"read_records_per_second", "read_mib_per_second", "rate_multiple", "produce_records_per_second")
	for _, window := range []string{"baseline_client_runtime", "catchup_client_runtime"} {
		wantNumber(t, wantObject(t, wantObject(t, m, "catchup"), window), "sched_latency_p99_us", "sched_latency_max_us",
			"gc_cycles", "gc_pause_max_us", "cpu_percent")
	}
	// The client produced in the baseline window: it used CPU and its
	// goroutines were scheduled. (kfake drains the catch-up in
	// milliseconds, too short a window to ask the same of it: CPU time
	// is counted in scheduler ticks.)
	if b := res.Catchup.BaselineClient; b.CPUPercent <= 0 || b.SchedMaxUs <= 0 {
		t.Errorf("client runtime in the baseline: %+v", b)
	}
	// In the baseline every send was handed to kgo and went in a Produce
	// request: as many lateness samples as sends (give or take the window's
	// edges), and at least one request, at most one per send.
	if c := res.Catchup; c.BaselineLate.Count < c.BaselineLatency.Count/2 || c.BaselineRequests.Count == 0 ||
		c.BaselineRequests.Count > c.BaselineLate.Count+10 || c.BaselineRequests.P50 <= 0 {
		t.Errorf("baseline sends: %d acknowledged, %d handed to kgo, requests %+v", c.BaselineLatency.Count, c.BaselineLate.Count, c.BaselineRequests)
	}
	// Both are parts of a send's latency: a record is handed to kgo after
	// its due time, and its request is written after that and answered
	// before its promise runs. So neither can exceed the longest send
	// acknowledged in the baseline or the catch-up (where a send handed
	// over at the baseline's end is acknowledged).
	if c := res.Catchup; c.BaselineLate.Max > max(c.BaselineLatency.Max, c.CatchupLatency.Max) ||
		c.BaselineRequests.Max > max(c.BaselineLatency.Max, c.CatchupLatency.Max) {
		t.Errorf("a part of a send longer than any send: late max %d µs, request max %d µs, sends max %d and %d µs",
			c.BaselineLate.Max, c.BaselineRequests.Max, c.BaselineLatency.Max, c.CatchupLatency.Max)
	}
	wantObject(t, wantObject(t, m, "catchup"), "baseline_produce_requests_us")
	wantObject(t, wantObject(t, m, "catchup"), "baseline_send_late_us")

	// Where Linux reports pressure stall information, both windows carry
	// the machine's CPU and I/O pressure, shares of wall time.
	if _, err := readPressureSome("/proc/pressure/cpu"); err == nil {
		for window, mp := range map[string]*MachinePressure{"baseline": res.Catchup.BaselineMachine, "catch-up": res.Catchup.CatchupMachine} {
			if mp == nil || mp.CPUSomePercent < 0 || mp.CPUSomePercent > 100 || mp.IOSomePercent < 0 || mp.IOSomePercent > 100 || mp.StealPercent < 0 || mp.StealPercent > 100 {
				t.Errorf("machine pressure in the %s window: %+v", window, mp)
			}
		}
	}
	c := res.Catchup
	if names := phaseNames(res); strings.Join(names, ",") != "backlog,baseline,readings,catchup,drain" {
		t.Errorf("phases %v", names)
	}
	scrapedMu.Lock()
	for _, at := range scrapedAt {
		s := seconds(at.Sub(res.Start))
		for _, p := range res.Phases {
			if (p.Name == "baseline" || p.Name == "catchup") && s > p.StartSeconds && s < p.EndSeconds {
				t.Errorf("a /metrics scrape at %.3f s, within the %s window (%.3f–%.3f s)", s, p.Name, p.StartSeconds, p.EndSeconds)
			}
		}
	}
	if len(scrapedAt) != 4 {
		t.Errorf("%d /metrics scrapes, want 4 (each window's edges)", len(scrapedAt))
	}
	scrapedMu.Unlock()
	if !c.Drained || c.DrainSeconds <= 0 || c.DrainSeconds >= cfg.Duration.Seconds() {
		t.Errorf("drained %t in %.3fs", c.Drained, c.DrainSeconds)
	}
	if c.BacklogRecords < 1000 { // 1.5 s at 2000/s, minus a loaded machine's slack
		t.Errorf("backlog of %d records", c.BacklogRecords)
	}
	if c.ReadRecords < c.BacklogRecords {
		t.Errorf("read %d records of a %d-record backlog", c.ReadRecords, c.BacklogRecords)
	}
	if c.BaselineLatency.Count == 0 || c.CatchupLatency.Count == 0 || c.P99Ratio <= 0 || c.RateMultiple <= 0 {
		t.Errorf("catch-up verdict %+v", c)
	}
	prod := recs.get(t, "producer")
	checkLatencyFromSamples(t, "baseline", c.BaselineLatency, prod.keptSamples("baseline"))
	checkLatencyFromSamples(t, "catch-up", c.CatchupLatency, prod.keptSamples("catchup"))
	var readInSeries bool
	for _, p := range res.Series {
		readInSeries = readInSeries || p.ConsumeRecordsPerSecond > 0
	}
	if !readInSeries {
		t.Error("no consumer rate in the series")
	}
}

func TestConnectionsAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Connections = 40
	cfg.Rate = 500
	cfg.Baseline = 500 * time.Millisecond
	cfg.LightRate = 200
	cfg.LightRequest = "metadata" // flexible response header: exercises the tag skip
	cfg.BrokerPID = os.Getpid()   // kfake runs in this process
	recs := capture(&cfg)
	res := runScenario(t, ScenarioConnections, cfg)
	m := jsonShape(t, res)
	wantNumber(t, wantObject(t, m, "connections"), "opened", "failed", "rss_before_bytes", "rss_after_bytes",
		"bytes_per_connection", "p99_ratio", "nofile_limit")

	c := res.Connections
	if c.Opened != cfg.Connections || c.Failed != 0 {
		t.Fatalf("opened %d, failed %d (%s)", c.Opened, c.Failed, c.FirstError)
	}
	if c.MemorySource != "proc" || c.RSSBeforeBytes <= 0 || c.RSSAfterBytes <= 0 {
		t.Errorf("memory: %+v", c)
	}
	if c.LightRequests.Records == 0 || c.LightRequests.Errors != 0 {
		t.Errorf("light requests %+v", c.LightRequests)
	}
	checkLatencyFromSamples(t, "light", c.LightLatency, recs.get(t, "light").keptSamples("with_connections"))
	prod := recs.get(t, "producer")
	checkLatencyFromSamples(t, "baseline", c.BaselineLatency, prod.keptSamples("baseline"))
	checkLatencyFromSamples(t, "with connections", c.WithLatency, prod.keptSamples("with_connections"))
}

func TestWriteFilesAndTable(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Rate = 1000
	cfg.Duration = 1500 * time.Millisecond
	res := runScenario(t, ScenarioE2E, cfg)
	dir := t.TempDir()
	paths, err := WriteFiles(dir, res, false)
	if err != nil || len(paths) != 2 {
		t.Fatalf("WriteFiles: %v %v", paths, err)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "chart.svg"))
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(svg))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("chart.svg is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 5 { // produce and consume MiB/s; send p50, p99; e2e p99
		t.Errorf("%d lines in the chart, want 5", polylines)
	}
	var table strings.Builder
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"produced", "consumed", "end to end", "p99.9"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if paths, err := WriteFiles(t.TempDir(), res, true); err != nil || len(paths) != 1 {
		t.Errorf("json only: %v %v", paths, err)
	}
}

func phaseNames(r Result) []string {
	var names []string
	for _, p := range r.Phases {
		names = append(names, p.Name)
	}
	return names
}

// With a read rate the catch-up consumer reads no faster than that, and
// still drains the backlog. (An upper bound only: a loaded machine may
// read slower, never faster.)
func TestCatchupReadRateAgainstKfake(t *testing.T) {
	cfg := kfakeConfig(t)
	cfg.Rate = 1000
	cfg.BacklogDuration = 2 * time.Second // about 200 KB of values
	cfg.Baseline = 200 * time.Millisecond
	cfg.Duration = 30 * time.Second
	cfg.FetchMaxPartitionBytes = 4 << 10 // many small fetches, so the pacing is fine grained
	cfg.ReadRate = 200 << 10             // drains in about 1.2 s, against milliseconds unpaced
	res := runScenario(t, ScenarioCatchup, cfg)
	c := res.Catchup
	if !c.Drained {
		t.Fatalf("not drained: %+v", c)
	}
	limit := cfg.ReadRate / (1 << 20)
	if c.ReadMiBPS > 1.2*limit {
		t.Errorf("read %.3f MiB/s with a read rate of %.3f MiB/s", c.ReadMiBPS, limit)
	}
	if c.DrainSeconds < 0.5 {
		t.Errorf("a %d-record backlog drained in %.3f s at %.0f B/s", c.BacklogRecords, c.DrainSeconds, cfg.ReadRate)
	}
}
