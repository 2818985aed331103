package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Scenario names, as given to Run and on the command line.
const (
	ScenarioProduce     = "produce"
	ScenarioE2E         = "e2e"
	ScenarioCatchup     = "catchup"
	ScenarioConnections = "connections"
)

// Scenarios lists every scenario Run knows.
func Scenarios() []string {
	return []string{ScenarioProduce, ScenarioE2E, ScenarioCatchup, ScenarioConnections}
}

// Config describes one benchmark run. The zero value of a field means "the
// default" (see EnsureDefaults) unless its comment says otherwise. It is
// data only: Run never keeps a reference to it.
type Config struct {
	// Target is a free-form label for the broker under test ("floe",
	// "kfake", "kafka"); it is copied to the result only.
	Target string `json:"target"`

	Brokers    []string `json:"brokers"`
	Topic      string   `json:"topic"`
	Partitions int      `json:"partitions"` // used when the topic is created

	Duration time.Duration `json:"-"` // measured time (catchup: the longest catch-up allowed)
	Warmup   time.Duration `json:"-"` // before Duration, not counted (produce, e2e, connections)

	Producers   int     `json:"producers"`
	Rate        float64 `json:"rate_records_per_second"` // total over all producers; 0 = unlimited
	RecordSize  int     `json:"record_size_bytes"`
	Acks        string  `json:"acks"`        // all, 1 or 0
	Compression string  `json:"compression"` // none, gzip, snappy, lz4, zstd
	// Linger is kgo's ProducerLinger. The default here is 0, not kgo's
	// 10ms: a broker benchmark wants to see the broker's latency.
	Linger time.Duration `json:"-"`
	// MaxInflight is the number of produce requests in flight per broker.
	// 0 keeps kgo's default (5 with idempotence, which acks=all uses);
	// kgo only lets it be set without idempotence, so a value > 0 turns
	// idempotence off.
	MaxInflight int `json:"max_inflight"`
	// MaxBuffered bounds the unacknowledged records of one producer; an
	// unpaced producer waits for a free slot before each Produce call.
	MaxBuffered int `json:"max_buffered"`

	// PartitionsPerConsumer: e2e starts one consumer client per this many
	// partitions; 0 means one consumer for all of them.
	PartitionsPerConsumer int `json:"partitions_per_consumer"`
	// FetchMaxPartitionBytes is the consumers' per-partition fetch size
	// (default 1 MiB, Kafka's and kgo's); a catch-up read of few
	// partitions may want more per round trip.
	FetchMaxPartitionBytes int32 `json:"fetch_max_partition_bytes"`

	// catchup
	BacklogDuration time.Duration `json:"-"`
	BacklogBytes    int64         `json:"backlog_bytes"` // if > 0, the backlog phase ends at this many acknowledged bytes (or BacklogDuration, whichever is first)
	Baseline        time.Duration `json:"-"`             // also the connections scenario's before-window
	// ConsumerCommand, if set, runs the catch-up consumer as this command
	// (program and leading arguments; the consumer's flags are appended) in
	// a process of its own.
	ConsumerCommand []string `json:"consumer_command,omitempty"`
	// ConsumerGCPercent, if > 0, is the consumer process's GOGC. The
	// process stands for a consumer on another machine, yet here it shares
	// the producer's and the broker's vCPUs: at Go's default of 100 its
	// heap of a few megabytes is collected about a dozen times a second
	// during a catch-up, and every collection takes a vCPU for a
	// millisecond or more (docs/benchmarks.md, session 14). 0 leaves Go's
	// default.
	ConsumerGCPercent int `json:"consumer_gc_percent,omitempty"`
	// ConsumerIdle runs the consumer process under SCHED_IDLE (Linux
	// only), for the same reason as its GOGC: a remote consumer decodes on
	// its own CPUs, this one on the producer's and the broker's. Under
	// SCHED_IDLE it takes them only when they are idle, and gives them up
	// at once when the producer's or the broker's thread wakes.
	ConsumerIdle bool `json:"consumer_idle,omitempty"`
	// ReadRate, if > 0, caps the catch-up consumer at this many bytes per
	// second. With a log cache that holds the whole backlog it gives a
	// control run: the same read load, served from memory.
	ReadRate float64 `json:"read_rate_bytes_per_second,omitempty"`

	// connections
	Connections  int     `json:"connections"`
	LightRate    float64 `json:"light_rate_requests_per_second"`
	LightRequest string  `json:"light_request"` // apiversions or metadata
	BrokerPID    int     `json:"broker_pid,omitempty"`
	MetricsURL   string  `json:"metrics_url,omitempty"`

	// recorders, when set (tests only), is given each recorder a scenario
	// creates ("producer", "consumer", "light"), and those recorders keep
	// every latency sample so that tests can compare them with the
	// histograms.
	recorders func(role string, rec *recorder)
}

// Limits, each with its reason.
const (
	// maxRecordSize: one record must fit kgo's default batch limit
	// (1,000,012 bytes) with room for the batch header.
	maxRecordSize = 1 << 19
	// maxProducers and maxConnections bound the goroutines and file
	// descriptors one run may create.
	maxProducers   = 1024
	maxConnections = 1 << 20
	// maxBufferedPerProducer bounds client memory (records × size).
	maxBufferedPerProducer = 1 << 20
	// maxFetchBytes bounds one fetch response a consumer may ask for
	// (kgo's default total is 50 MiB).
	maxFetchBytes = 256 << 20
	// e2eHeaderBytes is the send timestamp at the front of an e2e value.
	e2eHeaderBytes = 8
)

// EnsureDefaults fills every zero field with its default.
func (c *Config) EnsureDefaults() {
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"127.0.0.1:9092"}
	}
	if c.Topic == "" {
		c.Topic = "floe-bench"
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Producers == 0 {
		c.Producers = 1
	}
	if c.RecordSize == 0 {
		c.RecordSize = 1024
	}
	if c.Acks == "" {
		c.Acks = "all"
	}
	if c.Compression == "" {
		c.Compression = "none"
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = 10000
	}
	if c.FetchMaxPartitionBytes == 0 {
		c.FetchMaxPartitionBytes = 1 << 20
	}
	if c.BacklogDuration == 0 {
		c.BacklogDuration = 60 * time.Second
	}
	if c.Baseline == 0 {
		c.Baseline = 10 * time.Second
	}
	if c.Connections == 0 {
		c.Connections = 10000
	}
	if c.LightRequest == "" {
		c.LightRequest = "apiversions"
	}
}

// Validate reports the first field out of range for scenario.
func (c *Config) Validate(scenario string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !slices.Contains(Scenarios(), scenario) {
		bad("unknown scenario %q (want one of %v)", scenario, Scenarios())
	}
	if len(c.Brokers) == 0 || c.Topic == "" {
		bad("brokers and topic are required")
	}
	if c.Partitions < 1 || c.Partitions > 100000 {
		bad("partitions %d not in [1, 100000]", c.Partitions)
	}
	if c.Duration <= 0 || c.Warmup < 0 || c.Linger < 0 || c.Baseline <= 0 || c.BacklogDuration <= 0 {
		bad("durations must be positive (warmup and linger may be 0)")
	}
	if c.Producers < 1 || c.Producers > maxProducers {
		bad("producers %d not in [1, %d]", c.Producers, maxProducers)
	}
	if c.Rate < 0 || c.LightRate < 0 {
		bad("rates must not be negative")
	}
	if c.RecordSize < 0 || c.RecordSize > maxRecordSize {
		bad("record size %d not in [0, %d]", c.RecordSize, maxRecordSize)
	}
	if !slices.Contains([]string{"all", "1", "0"}, c.Acks) {
		bad("acks %q: want all, 1 or 0", c.Acks)
	}
	if _, ok := compressionCodecs[c.Compression]; !ok {
		bad("compression %q: want none, gzip, snappy, lz4 or zstd", c.Compression)
	}
	if c.MaxInflight < 0 || c.MaxBuffered < 1 || c.MaxBuffered > maxBufferedPerProducer {
		bad("max inflight must be ≥ 0 and max buffered in [1, %d]", maxBufferedPerProducer)
	}
	if c.ReadRate < 0 {
		bad("read rate must be ≥ 0")
	}
	if c.ConsumerGCPercent < 0 || c.ConsumerGCPercent > 0 && len(c.ConsumerCommand) == 0 {
		bad("consumer GC percent must be ≥ 0, and applies only to a consumer process")
	}
	if c.ConsumerIdle && len(c.ConsumerCommand) == 0 {
		bad("SCHED_IDLE applies only to a consumer process")
	}
	if c.PartitionsPerConsumer < 0 {
		bad("partitions per consumer must be ≥ 0")
	}
	if c.FetchMaxPartitionBytes < 1<<10 || c.FetchMaxPartitionBytes > maxFetchBytes {
		bad("fetch max partition bytes %d not in [1KiB, %d]", c.FetchMaxPartitionBytes, maxFetchBytes)
	}
	switch scenario {
	case ScenarioE2E:
		if c.RecordSize < e2eHeaderBytes {
			bad("e2e needs records of at least %d bytes (the send timestamp)", e2eHeaderBytes)
		}
	case ScenarioCatchup:
		if c.Rate <= 0 {
			bad("catchup needs a fixed --rate")
		}
		if c.Acks != "all" {
			bad("catchup produces with acks=all")
		}
	case ScenarioConnections:
		if c.Connections < 1 || c.Connections > maxConnections {
			bad("connections %d not in [1, %d]", c.Connections, maxConnections)
		}
		if c.Rate <= 0 {
			bad("connections needs a fixed producer --rate")
		}
		if c.LightRequest != "apiversions" && c.LightRequest != "metadata" {
			bad("light request %q: want apiversions or metadata", c.LightRequest)
		}
	}
	return errors.Join(errs...)
}

// idempotent reports whether the producers use kgo's idempotent writes.
func (c *Config) idempotent() bool { return c.Acks == "all" && c.MaxInflight == 0 }

// MarshalJSON writes durations as seconds (fields named *_seconds), which
// every plotting tool reads without knowing Go's units.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // no methods: no recursion
	return json.Marshal(struct {
		plain
		DurationSeconds        float64 `json:"duration_seconds"`
		WarmupSeconds          float64 `json:"warmup_seconds"`
		LingerSeconds          float64 `json:"linger_seconds"`
		BacklogDurationSeconds float64 `json:"backlog_duration_seconds"`
		BaselineSeconds        float64 `json:"baseline_seconds"`
		Idempotent             bool    `json:"idempotent"`
	}{
		plain:                  plain(c),
		DurationSeconds:        c.Duration.Seconds(),
		WarmupSeconds:          c.Warmup.Seconds(),
		LingerSeconds:          c.Linger.Seconds(),
		BacklogDurationSeconds: c.BacklogDuration.Seconds(),
		BaselineSeconds:        c.Baseline.Seconds(),
		Idempotent:             c.idempotent(),
	})
}
