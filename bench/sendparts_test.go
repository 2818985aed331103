package bench

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Only answered Produce requests count as round trips, each as kgo timed
// it from the start of its write to the end of reading its answer.
func TestSendPartsCountsProduceRoundTrips(t *testing.T) {
	p := newPhases(time.Now(), "baseline")
	parts := &sendParts{late: newRecorder(p), requests: newRecorder(p)}
	e2e := kgo.BrokerE2E{WriteWait: time.Second, TimeToWrite: 100 * time.Microsecond, ReadWait: 50 * time.Microsecond, TimeToRead: 700 * time.Microsecond}
	parts.OnBrokerE2E(kgo.BrokerMetadata{}, int16(kmsg.Produce), e2e)
	parts.OnBrokerE2E(kgo.BrokerMetadata{}, int16(kmsg.Fetch), e2e)
	failed := e2e
	failed.ReadErr = errors.New("connection reset")
	parts.OnBrokerE2E(kgo.BrokerMetadata{}, int16(kmsg.Produce), failed)
	got, _ := parts.requests.phase("baseline", 0)
	if got.Count != 1 || got.Max != 850 {
		t.Fatalf("round trips %+v, want one of 850 µs", got)
	}
}

// The catch-up report gives both parts per window, and leaves them out
// when they were not measured.
func TestReportShowsSendParts(t *testing.T) {
	c := &CatchupResult{
		BaselineRequests: Latency{Count: 60000, P50: 210, P99: 540},
		CatchupRequests:  Latency{Count: 50000, P50: 215, P99: 1030},
		BaselineLate:     Latency{Count: 75000, P50: 80, P99: 1060},
		CatchupLate:      Latency{Count: 60000, P50: 82, P99: 1070},
	}
	var table strings.Builder
	if err := WriteTable(&table, Result{Catchup: c}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"its Produce requests' round trip, baseline → catch-up: p50 210 → 215 µs, p99 540 → 1030 µs (60000 → 50000 requests)\n",
		"its sends, after their due time (the bench's own timer): p50 80 → 82 µs, p99 1060 → 1070 µs\n",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table\n%s\nwant the line %q", table.String(), want)
		}
	}
	table.Reset()
	if err := WriteTable(&table, Result{Catchup: &CatchupResult{}}); err != nil {
		t.Fatal(err)
	}
	if s := table.String(); strings.Contains(s, "round trip") || strings.Contains(s, "due time") {
		t.Errorf("unmeasured parts reported:\n%s", s)
	}
}
