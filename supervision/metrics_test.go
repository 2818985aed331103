package supervision

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// series returns the series of metric family name whose label has the
// given value, or nil.
func series(t *testing.T, n *Node, name, label, value string) *dto.Metric {
	t.Helper()
	families, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == label && l.GetValue() == value {
					return m
				}
			}
		}
	}
	return nil
}

// histogram reads the sample count and sum of the series of a histogram
// family whose label has the given value.
func histogram(t *testing.T, n *Node, name, label, value string) (uint64, float64) {
	t.Helper()
	m := series(t, n, name, label, value)
	if m == nil || m.Histogram == nil {
		return 0, 0
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

// Every durable Produce partition is split into the four stages of
// floe_produce_stage_seconds, whose times add up to no more than the
// request's own; every answered Produce shows up once in
// floe_response_wait_seconds.
func TestProduceStageMetrics(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	defer cl.Close()
	createTopic(t, cl, "stages", 2, nil)

	const records = 20
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	began := time.Now()
	for i := 0; i < records; i++ { // one at a time: one partition per request
		if err := cl.ProduceSync(ctx, testRecord("stages", int32(i%2), i, 100)).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	requests, requestSeconds := histogram(t, n, "floe_request_duration_seconds", "api", "Produce")
	if requests != records {
		t.Fatalf("%d Produce requests counted, want %d", requests, records)
	}
	var stageSeconds float64
	for _, stage := range []string{"dispatch", "wal_queue", "wal_write", "ack"} {
		count, sum := histogram(t, n, "floe_produce_stage_seconds", "stage", stage)
		if count != records {
			t.Errorf("stage %s: %d observations, want %d", stage, count, records)
		}
		stageSeconds += sum
	}
	if _, write := histogram(t, n, "floe_produce_stage_seconds", "stage", "wal_write"); write <= 0 {
		t.Errorf("wal_write took %v s in all: the write times are not carried to the partition", write)
	}
	if stageSeconds > requestSeconds {
		t.Errorf("stages add up to %.6f s, more than the requests' %.6f s", stageSeconds, requestSeconds)
	}
	elapsed := time.Since(began).Seconds()
	if requestSeconds > elapsed {
		t.Errorf("requests took %.6f s in all, more than the %.6f s the test produced for", requestSeconds, elapsed)
	}
	// The waits, like the stages, are parts of the time the test spent:
	// a wait measured from a missing or wrong queue time would not be.
	waits, waitSeconds := histogram(t, n, "floe_response_wait_seconds", "api", "Produce")
	if waits != records {
		t.Errorf("%d Produce responses in floe_response_wait_seconds, want %d", waits, records)
	}
	if waitSeconds <= 0 || waitSeconds > elapsed {
		t.Errorf("responses waited %.6f s in all, outside (0, %.6f s]", waitSeconds, elapsed)
	}
}
