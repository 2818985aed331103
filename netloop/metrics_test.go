package netloop

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The per-response metrics work: what Respond and the loop's flush record
// for every answered request.
func BenchmarkObserveResponse(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry(), func() float64 { return 0 })
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.observe(int16(i&1), time.Millisecond, 100) // Produce, Fetch
		m.observeWait(int16(i&1), time.Microsecond)
	}
}

// An API's series appear on its first answer, under its kmsg name, and
// APIs that answered nothing export nothing.
func TestAPISeriesResolvedOnFirstUse(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, func() float64 { return 0 })
	m.observe(0, time.Millisecond, 10)
	m.observe(0, time.Millisecond, 10)
	m.observeWait(0, time.Microsecond)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		switch f.GetName() {
		case "floe_requests_total", "floe_request_duration_seconds", "floe_response_wait_seconds":
		default:
			continue
		}
		if len(f.Metric) != 1 || f.Metric[0].Label[0].GetValue() != "Produce" {
			t.Fatalf("%s: %d series, want Produce alone", f.GetName(), len(f.Metric))
		}
		want := map[string]float64{"floe_requests_total": 2, "floe_request_duration_seconds": 2, "floe_response_wait_seconds": 1}[f.GetName()]
		got := f.Metric[0].GetCounter().GetValue() + float64(f.Metric[0].GetHistogram().GetSampleCount())
		if got != want {
			t.Errorf("%s counted %v, want %v", f.GetName(), got, want)
		}
	}
}
