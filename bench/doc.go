// Package bench is floe's load generator: a handful of scenarios built on
// franz-go's kgo client (and raw kmsg framing for the connection scenario)
// that run against any Kafka-compatible broker, so that floe, Apache Kafka
// and franz-go's kfake can be measured with the same tool.
//
// Scenarios (one file each):
//
//   - produce: N producer clients, paced to a total rate or unlimited;
//     send latency from the Produce call (or, when paced, from the intended
//     send time) to the record's promise.
//   - e2e: producers plus consumers reading from the end; every record
//     carries its intended send time in its first 8 value bytes, and the
//     consumer measures the end-to-end latency.
//   - catchup: the isolation scenario of DESIGN.md §7. A paced producer
//     builds a backlog, a baseline window records its latency, then a
//     consumer reads every partition from the earliest offset while
//     production continues; the result compares producer latency before
//     and during catch-up and reports the catch-up read rate and the time
//     to drain, with the bench process's own runtime, the broker's own
//     Produce latency (from its /metrics) and the machine's CPU and I/O
//     pressure (Linux PSI) in both windows, so that a latency tail can be
//     placed in the client, the broker or the machine.
//   - connections: thousands of raw TCP connections, each opened with an
//     ApiVersions request and then left idle (optionally a light request
//     rate spread over them), while a normal producer measures its latency;
//     broker memory per connection from /proc or a Prometheus endpoint.
//
// # Measurement
//
// Latencies go into HdrHistograms with microsecond resolution (1 µs to
// 1 h, 3 significant digits); the reported maximum is the exact largest
// sample, and percentiles are clamped to it. A paced producer schedules its
// sends by absolute time (Pacer) and measures from the intended send time,
// so a stall in the broker shows up as latency of every record that should
// have been sent during it, not as a single slow record (no coordinated
// omission). An unpaced producer keeps at most MaxBuffered records
// unacknowledged and measures from the Produce call, taken after it has a
// free slot, so --max-buffered 1 measures one record at a time.
//
// Each scenario names its phases up front (e.g. warmup, measure, drain);
// a sample belongs to the phase in which it completed, and the overall
// statistics are those of the scenario's measured phase.
//
// # Ownership
//
// A recorder's histograms and counters are guarded by its mutex: promise
// callbacks (kgo's goroutines) and consumer loops write, the scenario's
// sampler goroutine reads and resets the one-second window. The current
// phase is an atomic index in the phases value shared by a scenario's
// recorders; only the scenario's control goroutine advances it. Each
// producer goroutine owns its kgo client, its pacer and its payload cursor;
// each raw connection is owned by exactly one light-load worker. Every
// goroutine is started through a sync.WaitGroup that Run waits on before
// it returns, and every channel is bounded.
package bench
