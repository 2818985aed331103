package actors

import (
	"github.com/prometheus/client_golang/prometheus"
	"math"

	"github.com/floe-io/floe/netloop"
)

// brokerMetrics are the data path's metrics. Histograms and counters are
// safe from any goroutine; gauges are read from the broker's atomics at
// scrape time.
type brokerMetrics struct {
	walWrite         prometheus.Histogram
	walGroupBytes    prometheus.Histogram
	walGroupCount    prometheus.Histogram
	walErrors        prometheus.Counter
	walFull          prometheus.Counter
	produceRefused   prometheus.Counter
	upload           prometheus.Histogram
	uploadBytes      prometheus.Counter
	uploadErrors     prometheus.Counter
	coldRead         prometheus.Histogram
	coldReadBytes    prometheus.Counter
	coldReadErrors   prometheus.Counter
	cacheHits        prometheus.Counter
	cacheMisses      prometheus.Counter
	blockHits        prometheus.Counter
	compactionBytes  prometheus.Counter
	compactionErrors prometheus.Counter
	objectsDeleted   prometheus.Counter
	producersExpired prometheus.Counter
	coldThrottled    prometheus.Counter
	// floe_fetch_requests_total by session use (fetch_session.go).
	fetchSessionless, fetchOpening, fetchIncremental, fetchSessionError prometheus.Counter

	// floe_produce_stage_seconds, one observer per stage.
	stageDispatch, stageWALQueue, stageWALWrite, stageAck prometheus.Observer
}

// observeProduceStages splits one partition's part of a Produce, from the
// loop reading the request to the partition answering it, into its stages
// (all unix nanos): received → appended (dispatch to the partition actor,
// validation, offset assignment), → writeStart (queued behind the WAL's
// current group commit), → writeEnd (the write and its sync), → acked (the
// partition actor learning of it).
func (m *brokerMetrics) observeProduceStages(received, appended, writeStart, writeEnd, acked int64) {
	seconds := func(from, to int64) float64 { return max(0, float64(to-from)/1e9) }
	m.stageDispatch.Observe(seconds(received, appended))
	m.stageWALQueue.Observe(seconds(appended, writeStart))
	m.stageWALWrite.Observe(seconds(writeStart, writeEnd))
	m.stageAck.Observe(seconds(writeEnd, acked))
}

func newBrokerMetrics(b *Broker, reg prometheus.Registerer) *brokerMetrics {
	latency := netloop.LatencyBuckets
	sizes := prometheus.ExponentialBuckets(1024, 4, 10)
	m := &brokerMetrics{
		walWrite:         prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_wal_write_seconds", Help: "One WAL group commit: write and fdatasync.", Buckets: latency}),
		walGroupBytes:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_wal_group_bytes", Help: "Bytes of record batches in one group commit.", Buckets: sizes}),
		walGroupCount:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_wal_group_batches", Help: "Record batches in one group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 14)}),
		walErrors:        prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_wal_errors_total", Help: "WAL write or sync failures (sticky: the WAL refuses writes after one)."}),
		walFull:          prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_wal_full_total", Help: "Group commits that waited because the WAL was full."}),
		produceRefused:   prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_produce_refused_total", Help: "Produce partitions refused because the WAL was full or its queue over its limit."}),
		upload:           prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_upload_seconds", Help: "One upload: build, put and commit an object.", Buckets: latency}),
		uploadBytes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_upload_bytes_total", Help: "Object bytes uploaded."}),
		uploadErrors:     prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_upload_errors_total", Help: "Failed uploads (retried with backoff)."}),
		coldRead:         prometheus.NewHistogram(prometheus.HistogramOpts{Name: "floe_cold_read_seconds", Help: "One object-store read for a fetch behind the log cache.", Buckets: latency}),
		coldReadBytes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_cold_read_bytes_total", Help: "Bytes read from objects for fetches."}),
		coldReadErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_cold_read_errors_total", Help: "Failed object reads for fetches."}),
		cacheHits:        prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_log_cache_hits_total", Help: "Fetch partitions served from the log cache."}),
		cacheMisses:      prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_block_cache_misses_total", Help: "Cold fetch reads that missed the block cache (a load was started)."}),
		compactionBytes:  prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_bytes_total", Help: "Object bytes read and merged by compaction."}),
		compactionErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_compaction_errors_total", Help: "Failed compaction rounds (retried)."}),
		coldThrottled:    prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_cold_read_throttled_total", Help: "Fetch partitions of lagging consumers held back by the cold-read byte budget."}),
		objectsDeleted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_objects_deleted_total", Help: "Objects deleted after retention or compaction."}),
		producersExpired: prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_producers_expired_total", Help: "Idempotent producer states forgotten after producer-id-expiration (per partition), in memory and in the metadata store."}),
		blockHits:        prometheus.NewCounter(prometheus.CounterOpts{Name: "floe_block_cache_hits_total", Help: "Blocks served to cold fetches from the block cache."}),
	}
	stages := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "floe_produce_stage_seconds",
		Help:    "Where a durable Produce partition spends its time before it is answered: dispatch (loop to partition actor), wal_queue (behind the current group commit), wal_write (write and sync), ack (WAL to partition actor).",
		Buckets: netloop.LatencyBuckets,
	}, []string{"stage"})
	m.stageDispatch = stages.WithLabelValues("dispatch")
	m.stageWALQueue = stages.WithLabelValues("wal_queue")
	m.stageWALWrite = stages.WithLabelValues("wal_write")
	m.stageAck = stages.WithLabelValues("ack")
	fetches := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "floe_fetch_requests_total",
		Help: "Consumer fetches by their use of a fetch session (KIP-227): none (a full fetch outside any session), open (a full fetch that opens one), incremental, or error (a session not found, or a wrong epoch).",
	}, []string{"session"})
	m.fetchSessionless = fetches.WithLabelValues("none")
	m.fetchOpening = fetches.WithLabelValues("open")
	m.fetchIncremental = fetches.WithLabelValues("incremental")
	m.fetchSessionError = fetches.WithLabelValues("error")
	if reg == nil {
		return m
	}
	reg.MustRegister(stages, fetches, m.walWrite, m.walGroupBytes, m.walGroupCount, m.walErrors, m.walFull, m.produceRefused,
		m.upload, m.uploadBytes, m.uploadErrors, m.coldRead, m.coldReadBytes, m.coldReadErrors, m.cacheHits, m.cacheMisses, m.blockHits, m.compactionBytes, m.compactionErrors, m.objectsDeleted, m.producersExpired, m.coldThrottled,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_block_cache_bytes", Help: "Bytes in the cold path's block cache."},
			func() float64 { return float64(b.blocks.Stats().Bytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_block_cache_consumed_bytes", Help: "Of the block cache's bytes, those of blocks a sequential reader has read past (evicted first, at most an eighth of the cache)."},
			func() float64 { return float64(b.blocks.Stats().ConsumedBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_block_cache_prefetched_unread_total", Help: "Readahead blocks evicted before anyone read them."},
			func() float64 { return float64(b.blocks.Stats().PrefetchedUnread) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "floe_block_cache_reused_buffers_total", Help: "Cold loads that read into the buffer of a block evicted and released before, instead of new memory."},
			func() float64 { return float64(b.blocks.Stats().ReusedBuffers) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_block_cache_free_bytes", Help: "Bytes of released block buffers kept for the next loads; with the cached blocks, at most the block cache's size and a sixteenth more (8 MiB at least)."},
			func() float64 { return float64(b.blocks.Stats().FreeBytes) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_cold_read_budget_bytes_per_second", Help: "The cold-read byte budget in force (--cold-read-rate, or the dynamic broker config remote.log.manager.fetch.max.bytes.per.second); +Inf when there is no limit."},
			func() float64 {
				if budget := b.coldBudget.Load(); budget != nil {
					return float64(budget.Limit())
				}
				return math.Inf(1)
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_compaction_budget_bytes_per_second", Help: "Compaction's byte budget in force (--compaction-rate, or the dynamic broker config floe.compaction.max.bytes.per.second)."},
			func() float64 { return float64(b.compaction.Limit()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_log_cache_bytes", Help: "Bytes in the log cache (tail data)."},
			func() float64 { return float64(b.cacheBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_producer_states", Help: "Idempotent producers whose state partitions keep, summed over partitions."},
			func() float64 { return float64(b.producerStates.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wal_queued_bytes", Help: "Bytes accepted for the WAL, not yet written."},
			func() float64 { return float64(b.walQueued.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wal_used_bytes", Help: "WAL bytes not yet trimmed (not yet in objects)."},
			func() float64 { return float64(b.walUsed()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "floe_wal_capacity_bytes", Help: "WAL capacity."},
			func() float64 { return float64(b.walCapacity()) }),
	)
	return m
}

func (b *Broker) walUsed() (n int64) {
	for _, w := range b.deps.WALs {
		n += w.Used()
	}
	return n
}

func (b *Broker) walCapacity() (n int64) {
	for _, w := range b.deps.WALs {
		n += w.Capacity()
	}
	return n
}
