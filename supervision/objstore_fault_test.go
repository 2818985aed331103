package supervision

// Object-store fault tests (DESIGN.md §3, last point): while the store fails,
// stalls or crawls, uploads are retried with backoff, the WAL fills, produce
// is throttled and then answered with a retriable error; nothing acknowledged
// is lost, the broker does not crash, and once the store is back uploads
// resume and producers succeed again.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/internal/ackcheck"
	"github.com/floe-io/floe/persistence/objstore"
)

// errInjectedOutage is what the fault store returns while "down": a 503.
var errInjectedOutage = errors.New("injected: 503 Service Unavailable")

// outageValueBytes is the size of every value the outage producers write.
const outageValueBytes = 1024

// outageValue is producer w's record seq: unique across a test, 1 KiB, its
// bytes depending on seq so that a mixed-up record cannot compare equal.
func outageValue(w, seq int) []byte {
	v := fmt.Appendf(nil, "w%d-%09d|", w, seq)
	fill := bytes.Repeat([]byte{'a' + byte(seq%26), '0' + byte(w%10)}, outageValueBytes/2)
	return append(v, fill[:outageValueBytes-len(v)]...)
}

// ackBook records what the producers were told, record by record: the
// acknowledged records in an ackcheck.Acked, the failures here.
type ackBook struct {
	*ackcheck.Acked
	mu sync.Mutex
	// strictFailures lists failed records that were produced once the store
	// had recovered and every older record had its answer (guarded by mu).
	strictFailures []string
	errs           map[string]int // guarded by mu: failure messages with counts
	failedByWorker map[int]int    // guarded by mu: failures per producer
	unexpected     []string       // guarded by mu: failures that are not retriable backpressure

	sent   atomic.Int64 // records handed to Produce; each gets exactly one promise call
	acks   atomic.Int64
	failed atomic.Int64
}

func newAckBook() *ackBook {
	return &ackBook{Acked: ackcheck.NewAcked(), errs: make(map[string]int), failedByWorker: make(map[int]int)}
}

// record notes producer w's answer for r; strict records must not fail.
func (b *ackBook) record(w int, r *kgo.Record, err error, strict bool) {
	if err == nil {
		b.Add(r)
		b.acks.Add(1)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failed.Add(1)
	b.errs[err.Error()]++
	b.failedByWorker[w]++
	if strict {
		b.strictFailures = append(b.strictFailures, fmt.Sprintf("p%d %.12q: %v", r.Partition, r.Value, err))
	}
	if !retriableBackpressure(err) {
		b.unexpected = append(b.unexpected, fmt.Sprintf("p%d %.12q: %v", r.Partition, r.Value, err))
	}
}

// retriableBackpressure reports whether a produce failure is what a full WAL
// may cause: the client gave up after retrying REQUEST_TIMED_OUT (or a
// retriable error of the same family) until its delivery timeout.
func retriableBackpressure(err error) bool {
	if errors.Is(err, kgo.ErrRecordTimeout) || errors.Is(err, kgo.ErrRecordRetries) {
		return true
	}
	var ke *kerr.Error
	return errors.As(err, &ke) && ke.Retriable && !errors.Is(err, kerr.KafkaStorageError)
}

func (b *ackBook) errorSummary() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var lines []string
	for msg, count := range b.errs {
		lines = append(lines, fmt.Sprintf("%d× %s", count, msg))
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

// ackedProducers are producers writing unique values round robin over the
// partitions of a topic until stopped, each on its own client.
type ackedProducers struct {
	book     *ackBook
	clients  []*kgo.Client
	stopping chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once

	mu         sync.Mutex
	next       []int          // guarded by mu: per producer, the seq of its next record
	unresolved []map[int]bool // guarded by mu: per producer, records without an answer yet
	strictFrom []int          // guarded by mu: per producer, the first strict seq (-1: none yet)
}

// startAckedProducers starts one producer per entry of clientOpts, each with
// those options on top of idempotent acks=all uncompressed production.
func startAckedProducers(t *testing.T, addr, topic string, partitions int32, clientOpts ...[]kgo.Opt) *ackedProducers {
	t.Helper()
	ps := &ackedProducers{book: newAckBook(), stopping: make(chan struct{})}
	for _, opts := range clientOpts {
		base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(2 * time.Millisecond),
			kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxBufferedRecords(2000),
			// Uncompressed, so that the WAL holds what the test counts.
			kgo.ProducerBatchCompression(kgo.NoCompression())}
		cl, err := kgo.NewClient(append(base, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		ps.clients = append(ps.clients, cl)
		ps.next = append(ps.next, 0)
		ps.unresolved = append(ps.unresolved, make(map[int]bool))
		ps.strictFrom = append(ps.strictFrom, -1)
	}
	// Produce blocks while the client's buffer is full; it unblocks as records
	// get their answers. The context only ends a test that failed before stop.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for w, cl := range ps.clients {
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			for {
				select {
				case <-ps.stopping:
					return
				default:
				}
				ps.mu.Lock()
				seq := ps.next[w]
				ps.next[w]++
				ps.unresolved[w][seq] = true
				strict := ps.strictFrom[w] >= 0 && seq >= ps.strictFrom[w]
				ps.mu.Unlock()
				r := &kgo.Record{Topic: topic, Partition: int32((seq + w) % int(partitions)), Value: outageValue(w, seq)}
				ps.book.sent.Add(1)
				cl.Produce(ctx, r, func(r *kgo.Record, err error) {
					ps.mu.Lock()
					delete(ps.unresolved[w], seq)
					ps.mu.Unlock()
					ps.book.record(w, r, err, strict)
				})
			}
		}()
	}
	return ps
}

// settle waits until every record produced so far has its answer, then makes
// every record produced from then on strict: once the store is healthy, a
// failure can only be collateral damage of an older record (a client fails
// everything buffered behind a record it gives up on), and there are none.
func (ps *ackedProducers) settle(t *testing.T, timeout time.Duration) {
	t.Helper()
	ps.mu.Lock()
	mark := slices.Clone(ps.next)
	ps.mu.Unlock()
	settled := func() bool {
		ps.mu.Lock()
		defer ps.mu.Unlock()
		for w, pending := range ps.unresolved {
			for seq := range pending {
				if seq < mark[w] {
					return false
				}
			}
		}
		for w := range ps.strictFrom {
			ps.strictFrom[w] = ps.next[w]
		}
		return true
	}
	if !ackcheck.WaitFor(timeout, settled) {
		t.Fatalf("records produced before the recovery still unanswered after %v", timeout)
	}
}

// stop ends production and waits, up to timeout, for every record produced
// to be acknowledged or failed.
func (ps *ackedProducers) stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	ps.stopOnce.Do(func() { close(ps.stopping) })
	ps.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for _, cl := range ps.clients {
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v (%d sent, %d acknowledged, %d failed)", err, ps.book.sent.Load(), ps.book.acks.Load(), ps.book.failed.Load())
		}
	}
	if b := ps.book; b.acks.Load()+b.failed.Load() != b.sent.Load() {
		t.Fatalf("%d records sent, %d acknowledged, %d failed: promises missing after Flush", b.sent.Load(), b.acks.Load(), b.failed.Load())
	}
}

// nodeMetric is the value of a counter or gauge (or the sample count of a
// histogram) in the node's registry, summed over its label sets, as /metrics
// would show it.
func nodeMetric(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	families, err := n.Registry().Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
		return sum
	}
	t.Fatalf("metric %s is not registered", name)
	return 0
}

// verifyAcknowledged reads the topic back (ackcheck.ReadBack), accepting
// only values the acked producers write.
func verifyAcknowledged(t *testing.T, addr, topic string, partitions int32, acked map[int32]map[int64]string, opts ...kgo.Opt) int64 {
	t.Helper()
	return ackcheck.ReadBack(t, addr, topic, partitions, acked, func(v []byte) bool {
		var w, seq int
		_, err := fmt.Sscanf(string(v), "w%d-%d|", &w, &seq)
		return err == nil && bytes.Equal(v, outageValue(w, seq))
	}, opts...)
}

// storeFault is one way for the object store to misbehave.
type storeFault struct {
	name  string
	apply func(*objstore.FaultStore)
	// down: no upload can finish while the fault lasts, so the WAL must fill
	// and producers must see retriable failures.
	down bool
	// uploadErrors: failed uploads show in floe_upload_errors_total.
	uploadErrors bool
}

// outageConfig is a node whose WAL fills in seconds without uploads.
func outageConfig(t *testing.T) (Config, *objstore.FaultStore) {
	t.Helper()
	cfg := testConfig(t)
	local, err := objstore.NewLocalDir(filepath.Join(cfg.DataDir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	faults := objstore.NewFaultStore(local)
	faults.Scope(objstore.OpPut) // uploads fail; nothing is read until the end
	cfg.Store = faults
	cfg.WALCapacityBytes = 16 << 20
	cfg.UploadBytes = 1 << 20
	cfg.UploadInterval = 200 * time.Millisecond
	return cfg, faults
}

// Two kinds of producer run during a fault. Both ask the broker to answer a
// produce within 2 s (the broker answers REQUEST_TIMED_OUT for a batch stuck
// behind a full WAL when that time is up, or at once when it refuses a batch
// at admission).
//
// impatientProducer gives a record up after 5 s: an idempotent client may
// only do that for a batch it is unsure about (REQUEST_TIMED_OUT means "maybe
// written") if cancellation is allowed, so it is. Its failures are the
// retriable errors a full WAL surfaces.
//
// patientProducer is kgo's default idempotent producer: it never gives up on a
// batch that may have been written, so it waits out the fault and none of its
// records may fail.
var (
	impatientProducer = []kgo.Opt{kgo.ProduceRequestTimeout(2 * time.Second), kgo.RecordDeliveryTimeout(5 * time.Second), kgo.AllowIdempotentProduceCancellation()}
	patientProducer   = []kgo.Opt{kgo.ProduceRequestTimeout(2 * time.Second)}
)

// patientWorker is the index of the patient producer in runStoreFault.
const patientWorker = 2

// TestObjectStoreOutage takes the store down (every Put fails with a 503, or
// hangs until the store is back) while producers run, until the WAL is full
// and producers give up on records; then brings it back.
func TestObjectStoreOutage(t *testing.T) {
	for _, fault := range []storeFault{
		{name: "errors", apply: func(f *objstore.FaultStore) { f.Fail(errInjectedOutage) }, down: true, uploadErrors: true},
		{name: "stall", apply: func(f *objstore.FaultStore) { f.Stall() }, down: true},
	} {
		t.Run(fault.name, func(t *testing.T) { runStoreFault(t, fault) })
	}
}

// TestObjectStoreSlow makes every upload take 3 s: uploads still finish, the
// WAL absorbs the difference, and nothing acknowledged is lost.
func TestObjectStoreSlow(t *testing.T) {
	runStoreFault(t, storeFault{name: "slow", apply: func(f *objstore.FaultStore) { f.Delay(3 * time.Second) }})
}

func runStoreFault(t *testing.T, fault storeFault) {
	const (
		topic      = "outage"
		partitions = 4
		// healthyAcks and recoveredAcks: acknowledgements wanted before the
		// fault and after the recovery.
		healthyAcks   = 4000
		recoveredAcks = 4000
	)
	cfg, faults := outageConfig(t)
	n := startNode(t, cfg)
	defer stopNode(t, n)
	createTopic(t, newClient(t, n), topic, partitions, nil)
	capacity := nodeMetric(t, n, "floe_wal_capacity_bytes")
	metric := func(name string) float64 { return nodeMetric(t, n, name) }
	admin := kadm.NewClient(newClient(t, n))
	// endOffsets is the sum of the partitions' high watermarks: what the
	// broker has made durable, as opposed to what clients have heard of yet.
	endOffsets := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ends, err := admin.ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			t.Fatalf("list end offsets: %v", err)
		}
		var sum int64
		ends.Each(func(o kadm.ListedOffset) { sum += o.Offset })
		return sum
	}

	// Healthy: records are acknowledged and uploaded.
	ps := startAckedProducers(t, n.Addr().String(), topic, partitions, impatientProducer, impatientProducer, patientProducer)
	book := ps.book
	start := time.Now()
	if !ackcheck.WaitFor(30*time.Second, func() bool { return book.acks.Load() >= healthyAcks && metric("floe_upload_bytes_total") > 0 }) {
		t.Fatalf("healthy: %d acks, %v bytes uploaded after 30 s; failures: %s", book.acks.Load(), metric("floe_upload_bytes_total"), book.errorSummary())
	}
	healthyRate := float64(book.acks.Load()) / time.Since(start).Seconds()
	if f := book.failed.Load(); f > 0 {
		t.Fatalf("%d records failed with a healthy store: %s", f, book.errorSummary())
	}

	// The fault: uploads stop (or crawl); the WAL fills.
	faultStart := time.Now()
	usedBeforeRecovery := 0.0
	uploadErrorsBefore := metric("floe_upload_errors_total")
	fault.apply(faults)
	if fault.down {
		full := func() bool {
			return metric("floe_wal_full_total")+metric("floe_produce_refused_total") > 0 && metric("floe_wal_used_bytes") >= capacity/2
		}
		if !ackcheck.WaitFor(30*time.Second, full) {
			t.Fatalf("store down 30 s and the WAL is not full: used %v of %v bytes, %d acks", metric("floe_wal_used_bytes"), capacity, book.acks.Load())
		}
		// Once an upload has failed (or is stuck), the one that may have been
		// in flight when the fault began has ended, and from then on nothing
		// is trimmed: the WAL's free space bounds what can still be written.
		if fault.uploadErrors && !ackcheck.WaitFor(30*time.Second, func() bool { return metric("floe_upload_errors_total") > uploadErrorsBefore }) {
			t.Fatal("store failing and floe_upload_errors_total did not move")
		}
		if !fault.uploadErrors {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := faults.WaitBlocked(ctx, 1); err != nil {
				t.Fatalf("no upload stuck in the stalled store: %v", err)
			}
			cancel()
		}
		usedAtFull := metric("floe_wal_used_bytes")
		endAtFull, acksAtFull, failedAtFull := endOffsets(), book.acks.Load(), book.failed.Load()
		// Hold the outage until the producers have given up on some records:
		// backpressure, surfaced as retriable errors.
		const failuresWanted = 200
		if !ackcheck.WaitFor(30*time.Second, func() bool { return book.failed.Load() >= failedAtFull+failuresWanted }) {
			t.Fatalf("WAL full but only %d records failed in 30 s (%d acks meanwhile): produce is not refused", book.failed.Load()-failedAtFull, book.acks.Load()-acksAtFull)
		}
		// What became durable meanwhile had to fit in the WAL's free space
		// (each record takes more than its value's 1 KiB there).
		grown := endOffsets() - endAtFull
		if room := capacity - usedAtFull; float64(grown*outageValueBytes) > room {
			t.Fatalf("%d records (%d KiB) made durable while the WAL had %.0f KiB free and the store was down", grown, grown, room/1024)
		}
		t.Logf("%s: WAL full after %v (used %.1f of %.1f MiB); then %d records written, %d acks (answers in flight) and %d failures; healthy rate %.0f records/s",
			fault.name, time.Since(faultStart).Round(time.Millisecond), usedAtFull/(1<<20), capacity/(1<<20), grown, book.acks.Load()-acksAtFull, book.failed.Load()-failedAtFull, healthyRate)
		usedBeforeRecovery = usedAtFull
	} else {
		// Slow, not down: uploads keep finishing (two of them, each 3 s or
		// more), and producers go on.
		uploads, uploadedBytes, acks := metric("floe_upload_seconds"), metric("floe_upload_bytes_total"), book.acks.Load()
		if !ackcheck.WaitFor(30*time.Second, func() bool {
			return metric("floe_upload_seconds") >= uploads+2 && book.acks.Load() >= acks+healthyAcks
		}) {
			t.Fatalf("slow store: after 30 s, %v uploads finished, %d acks", metric("floe_upload_seconds")-uploads, book.acks.Load()-acks)
		}
		finished := metric("floe_upload_seconds") - uploads
		t.Logf("slow: %v uploads of %.1f MiB on average; WAL used %.1f of %.1f MiB, wal_full %v, refused %v; %d acks and %d failures in %v",
			finished, (metric("floe_upload_bytes_total")-uploadedBytes)/finished/(1<<20),
			metric("floe_wal_used_bytes")/(1<<20), capacity/(1<<20), metric("floe_wal_full_total"), metric("floe_produce_refused_total"),
			book.acks.Load()-acks, book.failed.Load(), time.Since(faultStart).Round(time.Millisecond))
	}
	if err := n.Broker().Healthy(); err != nil {
		t.Fatalf("broker unhealthy during the fault: %v", err)
	}

	// Recovery: uploads resume and carry off the backlog, the WAL drains,
	// producers succeed again. (The producers keep writing as fast as the
	// broker lets them, so the WAL need not empty.)
	uploadedBefore := metric("floe_upload_bytes_total")
	if !fault.down {
		usedBeforeRecovery = metric("floe_wal_used_bytes")
	}
	faults.Recover()
	recovered := time.Now()
	minUsed := capacity
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		minUsed = min(minUsed, metric("floe_wal_used_bytes"))
		return metric("floe_upload_bytes_total")-uploadedBefore >= usedBeforeRecovery/2 && minUsed < max(usedBeforeRecovery, 1)
	}) {
		t.Fatalf("store recovered 30 s ago: %.1f MiB uploaded since, WAL used %.1f MiB at least (%.1f MiB before)",
			(metric("floe_upload_bytes_total")-uploadedBefore)/(1<<20), minUsed/(1<<20), usedBeforeRecovery/(1<<20))
	}
	drained := time.Since(recovered)
	ps.settle(t, 30*time.Second) // from here on, a failure is a bug
	acksAtRecovery := book.acks.Load()
	if !ackcheck.WaitFor(30*time.Second, func() bool { return book.acks.Load() >= acksAtRecovery+recoveredAcks }) {
		t.Fatalf("after recovery only %d acks in 30 s; failures: %s", book.acks.Load()-acksAtRecovery, book.errorSummary())
	}
	t.Logf("%s: uploads resumed and the WAL drained %v after the recovery (used %.1f → %.1f MiB)", fault.name, drained.Round(time.Millisecond), usedBeforeRecovery/(1<<20), minUsed/(1<<20))
	ps.stop(t, time.Minute)

	book.mu.Lock()
	unexpected, late, patientFailures := book.unexpected, book.strictFailures, book.failedByWorker[patientWorker]
	book.mu.Unlock()
	if patientFailures > 0 {
		t.Errorf("%d records of the patient (default idempotent) producer failed", patientFailures)
	}
	if len(unexpected) > 0 {
		t.Errorf("%d failures are not retriable backpressure, e.g. %v", len(unexpected), unexpected[:min(5, len(unexpected))])
	}
	if len(late) > 0 {
		t.Errorf("%d records produced after the recovery (and after every older record had its answer) failed, e.g. %v", len(late), late[:min(5, len(late))])
	}
	if fault.down && book.failed.Load() == 0 {
		t.Error("the store was down, the WAL full, and no produce failed")
	}
	t.Logf("%s: %d sent, %d acknowledged, %d failed (%s); %v upload errors, %d puts",
		fault.name, book.sent.Load(), book.acks.Load(), book.failed.Load(), book.errorSummary(), metric("floe_upload_errors_total"), faults.Calls(objstore.OpPut))

	verifyAcknowledged(t, n.Addr().String(), topic, partitions, book.Snapshot(t))
	if err := n.Broker().Healthy(); err != nil {
		t.Fatalf("broker unhealthy after the fault: %v", err)
	}
	for _, kind := range []string{"partition", "wal", "uploader", "cold", "topics"} {
		if r := n.System().Restarts(kind); r > 0 {
			t.Errorf("%d restarts of %s actors", r, kind)
		}
	}
}

// replayLog records, per WAL file, the entries its replay found.
type replayLog struct {
	slog.Handler
	mu      *sync.Mutex
	entries map[string]int64
	attrs   []slog.Attr // from WithAttrs
}

func (h replayLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "wal replayed" {
		var path string
		var entries int64
		take := func(a slog.Attr) bool {
			switch a.Key {
			case "wal_path":
				path = a.Value.String()
			case "entries":
				entries = a.Value.Int64()
			}
			return true
		}
		for _, a := range h.attrs {
			take(a)
		}
		r.Attrs(take)
		h.mu.Lock()
		h.entries[filepath.Base(path)] = entries
		h.mu.Unlock()
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// Enabled takes every record: the replay is logged at Info, below the
// tests' level.
func (h replayLog) Enabled(context.Context, slog.Level) bool { return true }

func (h replayLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.Handler = h.Handler.WithAttrs(attrs)
	h.attrs = append(slices.Clip(h.attrs), attrs...)
	return h
}

func (h replayLog) WithGroup(name string) slog.Handler {
	h.Handler = h.Handler.WithGroup(name)
	return h
}

// Two WAL shards (Config.WALShards; no flag sets it yet): partitions are
// spread over both, and a restart after uploads never succeeded reads
// every record back from the two WALs alone.
func TestTwoWALShardsReplay(t *testing.T) {
	cfg, faults := outageConfig(t)
	cfg.WALShards = 2
	cfg.WALCapacityBytes = 64 << 20
	faults.Fail(errInjectedOutage)
	n := startNode(t, cfg)
	const partitions, perPartition, size = 4, 300, 1000
	populate(t, n, "sharded", partitions, perPartition, size)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Logf("shutdown with the store down: %v", err)
	}
	if objects := countObjects(t, cfg.DataDir); objects != 0 {
		t.Fatalf("%d objects uploaded while every upload failed", objects)
	}
	faults.Recover()
	replays := replayLog{Handler: cfg.Logger.Handler(), mu: &sync.Mutex{}, entries: map[string]int64{}}
	cfg.Logger = slog.New(replays)
	n = startNode(t, cfg)
	defer stopNode(t, n)
	replays.mu.Lock()
	if len(replays.entries) != 2 || replays.entries["wal-000.log"] == 0 || replays.entries["wal-001.log"] == 0 {
		t.Errorf("entries replayed per WAL shard: %v; want both shards used", replays.entries)
	}
	replays.mu.Unlock()
	consumeAll(t, n, "sharded", partitions, perPartition, size)
}

// TestWALShardCountChanges restarts a broker whose uploads all fail with
// first more WAL shards and then fewer than the data dir was written with.
// With more, some partitions move to another shard and keep older entries
// in a higher shard than their newer ones; with fewer, the shards left out
// must still be opened and replayed. Every record comes back in order.
func TestWALShardCountChanges(t *testing.T) {
	cfg, faults := outageConfig(t)
	cfg.WALShards = 2
	faults.Fail(errInjectedOutage)
	const partitions, half, size = 4, 150, 1000
	n := startNode(t, cfg)
	populate(t, n, "resharded", partitions, half, size)
	shutdownDown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Logf("shutdown with the store down: %v", err)
		}
	}
	shutdownDown()

	// Three shards: stream s moves from shard s%2 to s%3, so stream 3's
	// first half is in shard 1 and its second half in shard 0.
	cfg.WALShards = 3
	n = startNode(t, cfg)
	produceRange(t, newClient(t, n), "resharded", partitions, half, 2*half, size)
	shutdownDown()
	if objects := countObjects(t, cfg.DataDir); objects != 0 {
		t.Fatalf("%d objects uploaded while every upload failed", objects)
	}

	faults.Recover()
	cfg.WALShards = 1
	replays := replayLog{Handler: cfg.Logger.Handler(), mu: &sync.Mutex{}, entries: map[string]int64{}}
	cfg.Logger = slog.New(replays)
	n = startNode(t, cfg)
	defer stopNode(t, n)
	replays.mu.Lock()
	if len(replays.entries) != 3 || replays.entries["wal-002.log"] == 0 {
		t.Errorf("entries replayed per WAL shard: %v; want all three shards on disk replayed", replays.entries)
	}
	replays.mu.Unlock()
	consumeAll(t, n, "resharded", partitions, 2*half, size)
}

// One idempotent producer writes to every partition while the WAL shard
// count goes from 2 to 3, so that a partition's batches sit in two shards,
// and every upload fails. The node then restarts with one shard and the
// store back, uploads what it replays, and restarts once more, so that only
// the metadata store's producer state knows the producer. On every
// partition a retry of the producer's last batch is answered as the
// duplicate it is, and its next sequence is accepted.
func TestProducerStateAcrossWALShards(t *testing.T) {
	cfg, faults := outageConfig(t)
	cfg.WALShards = 2
	faults.Fail(errInjectedOutage)
	const topic, partitions = "resharded-producer", 4
	n := startNode(t, cfg)
	w := newIdempotentWriter(t, n, topic, partitions)
	shutdownDown := func(n *Node) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Logf("shutdown with the store down: %v", err)
		}
	}
	w.produce(n, 0, "two shards")
	shutdownDown(n)
	cfg.WALShards = 3
	n = startNode(t, cfg)
	w.produce(n, 2, "three shards")
	shutdownDown(n)

	faults.Recover()
	cfg.WALShards = 1
	n = startNode(t, cfg)
	if !ackcheck.WaitFor(30*time.Second, func() bool {
		return metricValue(t, n, "floe_upload_bytes_total") > 0 && metricValue(t, n, "floe_wal_used_bytes") == 0
	}) {
		t.Fatal("the replayed WAL was not uploaded in 30 s")
	}
	stopNode(t, n)
	n = startNode(t, cfg)
	defer stopNode(t, n)
	w.retry(n, 2, "after the restarts")
	w.produce(n, 4, "after the restarts")
	w.readBack(n, 6)
}

// idempotentWriter writes two-record batches of one idempotent producer
// with explicit sequences to every partition of a topic, so that a test can
// retry a batch exactly. Batch seq of partition p holds the values p<p>-<seq>
// and p<p>-<seq+1>.
type idempotentWriter struct {
	t          *testing.T
	topic      string
	partitions int32
	id         int64
	epoch      int16
}

// newIdempotentWriter creates the topic and gets a producer id from n.
func newIdempotentWriter(t *testing.T, n *Node, topic string, partitions int32) *idempotentWriter {
	t.Helper()
	cl := newClient(t, n)
	defer cl.Close()
	createTopic(t, cl, topic, partitions, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	init, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || init.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %+v", err, init)
	}
	return &idempotentWriter{t: t, topic: topic, partitions: partitions, id: init.ProducerID, epoch: init.ProducerEpoch}
}

func (w *idempotentWriter) batch(p, seq int32) []byte {
	b := testBatch([]byte(fmt.Sprintf("p%d-%d", p, seq)), []byte(fmt.Sprintf("p%d-%d", p, seq+1)))
	binary.BigEndian.PutUint64(b[43:], uint64(w.id))
	binary.BigEndian.PutUint16(b[51:], uint16(w.epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	fixBatchCRC(b)
	return b
}

// produce writes batch seq to every partition, where it must land at
// offset seq: each earlier batch of the producer is there once.
func (w *idempotentWriter) produce(n *Node, seq int32, what string) {
	w.t.Helper()
	for p := range w.partitions {
		r := rawProduceTo(w.t, n, w.topic, p, w.batch(p, seq))
		if r.ErrorCode != 0 || r.BaseOffset != int64(seq) {
			w.t.Fatalf("%s, partition %d: sequence %d answered offset %d, code %d; want offset %d", what, p, seq, r.BaseOffset, r.ErrorCode, seq)
		}
	}
}

// retry sends batch seq again to every partition: whether its first
// write landed or not, it must be answered at offset seq with no error.
func (w *idempotentWriter) retry(n *Node, seq int32, what string) {
	w.t.Helper()
	for p := range w.partitions {
		if r := rawProduceTo(w.t, n, w.topic, p, w.batch(p, seq)); r.ErrorCode != 0 || r.BaseOffset != int64(seq) {
			w.t.Fatalf("%s, partition %d: retry of sequence %d answered offset %d, code %d; want offset %d", what, p, seq, r.BaseOffset, r.ErrorCode, seq)
		}
	}
}

// readBack wants every partition to hold the values p<p>-0 to
// p<p>-<count-1> in order, each once, and to end at offset count.
func (w *idempotentWriter) readBack(n *Node, count int64) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newClient(w.t, n, kgo.ConsumeTopics(w.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := map[int32]int64{}
	for got := int64(0); got < count*int64(w.partitions); {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			w.t.Fatalf("read %d of %d records: %v", got, count*int64(w.partitions), ctx.Err())
		}
		fs.EachError(func(_ string, p int32, err error) { w.t.Fatalf("fetch partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("p%d-%d", r.Partition, next[r.Partition]); r.Offset != next[r.Partition] || string(r.Value) != want {
				w.t.Fatalf("partition %d offset %d: %q, want offset %d %q", r.Partition, r.Offset, r.Value, next[r.Partition], want)
			}
			next[r.Partition]++
			got++
		})
	}
	w.wantEnd(n, count)
}

// wantEnd wants every partition's high watermark at end.
func (w *idempotentWriter) wantEnd(n *Node, end int64) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := newClient(w.t, n)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, w.topic)
	if err != nil {
		w.t.Fatal(err)
	}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != end {
			w.t.Errorf("partition %d ends at %d (%v), want %d", o.Partition, o.Offset, o.Err, end)
		}
	})
}
