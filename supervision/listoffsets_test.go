package supervision

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/persistence/objstore"
)

// timesRecordTs is record i's timestamp: 10 ms apart, every seventh a
// little early (producers do not keep timestamps in order), and two far
// ahead with the same time, which makes them the largest.
func timesRecordTs(i int) int64 {
	switch {
	case i == 1234 || i == 1500:
		return testEpochMillis + 1_000_000
	case i%7 == 3:
		return testEpochMillis + 10*int64(i) - 25
	}
	return testEpochMillis + 10*int64(i)
}

const timesRecords = 2000

// firstAtOrAfter is what Kafka answers for target: the first record whose
// timestamp is at least target.
func firstAtOrAfter(target int64) (offset, timestamp int64) {
	for i := 0; i < timesRecords; i++ {
		if ts := timesRecordTs(i); ts >= target {
			return int64(i), ts
		}
	}
	return -1, -1
}

// listOffsetAt asks for timestamp (or a special value) with ListOffsets v8,
// the version that knows max timestamp.
func listOffsetAt(t *testing.T, cl *kgo.Client, topic string, timestamp int64) (offset, ts int64) {
	t.Helper()
	offset, ts, code := listOffsetCode(t, cl, topic, timestamp, time.Minute)
	if err := kerr.ErrorForCode(code); err != nil {
		t.Fatalf("list offset %d of %s: %v", timestamp, topic, err)
	}
	return offset, ts
}

func listOffsetCode(t *testing.T, cl *kgo.Client, topic string, timestamp int64, timeout time.Duration) (offset, ts int64, code int16) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 8
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = timestamp
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.Timestamp, p.ErrorCode
}

// checkTimes asks for every interesting time and the largest one.
func checkTimes(t *testing.T, cl *kgo.Client, topic, where string) {
	t.Helper()
	var targets []int64
	for _, i := range []int{0, 1, 2, 3, 4, 10, 499, 500, 501, 1233, 1234, 1235, 1999} {
		ts := timesRecordTs(i)
		targets = append(targets, ts-1, ts, ts+1)
	}
	targets = append(targets, testEpochMillis-1, testEpochMillis+1_000_001)
	for _, target := range targets {
		wantOff, wantTs := firstAtOrAfter(target)
		off, ts := listOffsetAt(t, cl, topic, target)
		if off != wantOff || ts != wantTs {
			t.Errorf("%s, %s at %+d ms: offset %d timestamp %+d, want %d %+d", where, topic, target-testEpochMillis, off, ts-testEpochMillis, wantOff, wantTs-testEpochMillis)
		}
	}
	// KIP-734: the first record with the largest timestamp.
	if off, ts := listOffsetAt(t, cl, topic, -3); off != 1234 || ts != testEpochMillis+1_000_000 {
		t.Errorf("%s, %s max timestamp: offset %d timestamp %+d, want 1234 +1000000", where, topic, off, ts-testEpochMillis)
	}
}

// ListOffsets by timestamp answers the exact record, as Kafka does, from
// the log cache and from objects (the block loaded for the lookup), with
// plain and compressed batches.
func TestListOffsetsByTimestampExact(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 64 << 10 // many objects, many blocks
	n := startNode(t, cfg)
	topics := map[string]kgo.CompressionCodec{"times-plain": kgo.NoCompression(), "times-zstd": kgo.ZstdCompression(), "times-snappy": kgo.SnappyCompression()}
	for topic, codec := range topics {
		cl := newClient(t, n, kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(20*time.Millisecond))
		createTopic(t, cl, topic, 1, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for i := 0; i < timesRecords; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("record %d of %s", i, topic)), Timestamp: time.UnixMilli(timesRecordTs(i))}, nil)
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		checkTimes(t, cl, topic, "from the log cache")
	}
	stopNode(t, n)

	cfg.LogCacheBytes = 1
	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl := newClient(t, n)
	for topic := range topics {
		checkTimes(t, cl, topic, "from objects")
	}
	if n.Broker().ColdReads() == 0 {
		t.Fatal("no lookup read an object block")
	}
}

// KIP-734 after DeleteRecords: the largest timestamp is that of the
// records left. The log start here cuts the batch and the object range of
// the two records with the largest time, whose headers and index entries
// still carry it; the answer is the largest time after the cut, from the
// log cache and, after a restart, from objects.
func TestListOffsetsMaxTimestampAfterDeleteRecords(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 64 << 10
	n := startNode(t, cfg)
	const topic, cutAt = "times-cut", 1501
	cl := newClient(t, n, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(20*time.Millisecond))
	createTopic(t, cl, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < timesRecords; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("record %d", i)), Timestamp: time.UnixMilli(timesRecordTs(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cut := kadm.Offsets{}
	cut.Add(kadm.Offset{Topic: topic, Partition: 0, At: cutAt})
	if resp, err := kadm.NewClient(cl).DeleteRecords(ctx, cut); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	wantOff, wantTs := int64(-1), int64(-1)
	for i := cutAt; i < timesRecords; i++ {
		if ts := timesRecordTs(i); ts > wantTs {
			wantOff, wantTs = int64(i), ts
		}
	}
	check := func(where string) {
		t.Helper()
		if off, ts := listOffsetAt(t, cl, topic, -3); off != wantOff || ts != wantTs {
			t.Errorf("%s: max timestamp at offset %d %+d ms, want %d %+d ms", where, off, ts-testEpochMillis, wantOff, wantTs-testEpochMillis)
		}
	}
	check("from the log cache")
	stopNode(t, n)

	cfg.LogCacheBytes = 1
	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl = newClient(t, n)
	check("from objects")
}

// A lookup whose block cannot be read answers KAFKA_STORAGE_ERROR as soon
// as the load fails (clients retry it), and the exact record once the store
// is back.
func TestListOffsetsByTimestampStoreDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 64 << 10
	n := startNode(t, cfg)
	cl := newClient(t, n)
	createTopic(t, cl, "times-down", 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := 0; i < timesRecords; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: "times-down", Value: []byte("v"), Timestamp: time.UnixMilli(timesRecordTs(i))}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stopNode(t, n)

	local, err := objstore.NewLocalDir(filepath.Join(cfg.DataDir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	faults := objstore.NewFaultStore(local)
	faults.Scope(objstore.OpGet)
	cfg.Store = faults
	cfg.LogCacheBytes = 1
	n = startNode(t, cfg)
	defer stopNode(t, n)
	cl = newClient(t, n)
	faults.Fail(errInjectedOutage)
	target := timesRecordTs(700)
	// Well inside the 35 s after which a lookup gives up on a load that
	// never ends: the failed load itself answers it.
	if _, _, code := listOffsetCode(t, cl, "times-down", target, 15*time.Second); code != kerr.KafkaStorageError.Code {
		t.Fatalf("with the store down: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
	}
	if faults.Calls(objstore.OpGet) == 0 {
		t.Fatal("the lookup did not try the store")
	}
	faults.Recover()
	if off, ts := listOffsetAt(t, cl, "times-down", target); off != 700 || ts != target {
		t.Fatalf("after recovery: offset %d timestamp %d, want 700 %d", off, ts, target)
	}
}

// A compressed batch whose records cannot be read (produce checks its CRC,
// not its contents) does not make lookups fail: its first offset stands in
// for the record, never after it.
func TestListOffsetsMalformedCompressedBatch(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	const topic = "times-garbage"
	createTopic(t, cl, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	produceAt := func(ms int64) {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v"), Timestamp: time.UnixMilli(testEpochMillis + ms)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceAt(0)
	produceAt(10)
	produceAt(20)
	garbage := kmsg.RecordBatch{
		Length:               int32(49 + len("not gzip at all")),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           1, // gzip
		LastOffsetDelta:      1,
		FirstTimestamp:       testEpochMillis + 30,
		MaxTimestamp:         testEpochMillis + 40,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           2,
		Records:              []byte("not gzip at all"),
	}
	raw := garbage.AppendTo(nil)
	fixBatchCRC(raw)
	if p := rawProduce(t, n, topic, raw); p.ErrorCode != 0 || p.BaseOffset != 3 {
		t.Fatalf("produce of the malformed batch: %v at %d", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
	produceAt(50)
	for _, tc := range []struct{ target, off, ts int64 }{
		{10, 1, 10},
		{35, 3, 40}, // in the malformed batch: its first offset, its max time
		{45, 5, 50},
	} {
		if off, ts := listOffsetAt(t, cl, topic, testEpochMillis+tc.target); off != tc.off || ts != testEpochMillis+tc.ts {
			t.Errorf("at %+d ms: offset %d timestamp %+d, want %d %+d", tc.target, off, ts-testEpochMillis, tc.off, tc.ts)
		}
	}
}
