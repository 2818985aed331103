package supervision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testConfig is a node on port 0 in a fresh directory under the package dir
// (t.TempDir may be tmpfs, where O_DIRECT is refused).
func testConfig(t testing.TB) Config {
	t.Helper()
	dir, err := os.MkdirTemp(".", "testdata-node-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	level := slog.LevelWarn
	if testing.Verbose() {
		level = slog.LevelInfo
	}
	return Config{
		Listen:            "127.0.0.1:0",
		DataDir:           dir,
		LogCacheBytes:     64 << 20,
		WALCapacityBytes:  256 << 20,
		UploadBytes:       8 << 20,
		UploadInterval:    time.Second,
		AutoCreateTopics:  true,
		DefaultPartitions: 1,
		Logger:            slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	}
}

func startNode(t testing.TB, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return n
}

func stopNode(t testing.TB, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func newClient(t testing.TB, n *Node, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(n.Addr().String()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(2 * time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, cl *kgo.Client, name string, partitions int32, configs map[string]*string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, configs, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := resp.Error(); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
}

// testEpochMillis is the timestamp of record 0: an hour ago, so the default
// retention (7 days) never expires test data while a test runs.
var testEpochMillis = time.Now().Add(-time.Hour).UnixMilli()

// testRecord makes record i of a topic: key, value, two headers, a timestamp.
func testRecord(topic string, partition int32, i int, valueSize int) *kgo.Record {
	value := bytes.Repeat([]byte{byte(i)}, valueSize)
	copy(value, fmt.Sprintf("v-%d-%d|", partition, i))
	return &kgo.Record{
		Topic:     topic,
		Partition: partition,
		Key:       []byte(fmt.Sprintf("k-%d-%d", partition, i)),
		Value:     value,
		Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}, {Key: "p", Value: []byte(fmt.Sprint(partition))}},
		Timestamp: time.UnixMilli(testEpochMillis + int64(i)),
	}
}

// produceAll produces perPartition records to each partition and returns the
// acknowledged offsets in order per partition.
func produceAll(t testing.TB, cl *kgo.Client, topic string, partitions int32, perPartition, valueSize int) {
	t.Helper()
	produceRange(t, cl, topic, partitions, 0, perPartition, valueSize)
}

// produceRange produces records from..to-1 of every partition.
func produceRange(t testing.TB, cl *kgo.Client, topic string, partitions int32, from, to, valueSize int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, 1)
	for i := from; i < to; i++ {
		for p := int32(0); p < partitions; p++ {
			cl.Produce(ctx, testRecord(topic, p, i, valueSize), func(r *kgo.Record, err error) {
				if err != nil {
					select {
					case errs <- fmt.Errorf("produce p%d: %w", r.Partition, err):
					default:
					}
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
}

// consumeAll reads every partition from offset 0 and checks every record:
// offsets dense from 0, and key, value, headers and timestamp as produced.
func consumeAll(t *testing.T, n *Node, topic string, partitions int32, perPartition, valueSize int, opts ...kgo.Opt) {
	t.Helper()
	offsets := make(map[int32]kgo.Offset)
	for p := int32(0); p < partitions; p++ {
		offsets[p] = kgo.NewOffset().At(0)
	}
	cl := newClient(t, n, append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})}, opts...)...)
	next := make(map[int32]int)
	total := 0
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for total < int(partitions)*perPartition {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", total, int(partitions)*perPartition, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			i := next[r.Partition]
			want := testRecord(topic, r.Partition, i, valueSize)
			switch {
			case r.Offset != int64(i):
				t.Fatalf("p%d: offset %d, want %d", r.Partition, r.Offset, i)
			case !bytes.Equal(r.Key, want.Key) || !bytes.Equal(r.Value, want.Value):
				t.Fatalf("p%d offset %d: key/value differ: key %q want %q; value %q want %q", r.Partition, r.Offset, r.Key, want.Key, r.Value[:min(20, len(r.Value))], want.Value[:min(20, len(want.Value))])
			case len(r.Headers) != 2 || r.Headers[0].Key != "i" || string(r.Headers[0].Value) != fmt.Sprint(i):
				t.Fatalf("p%d offset %d: headers %v", r.Partition, r.Offset, r.Headers)
			case !r.Timestamp.Equal(want.Timestamp):
				t.Fatalf("p%d offset %d: timestamp %v, want %v", r.Partition, r.Offset, r.Timestamp, want.Timestamp)
			}
			next[r.Partition] = i + 1
			total++
		})
	}
	for p := int32(0); p < partitions; p++ {
		if next[p] != perPartition {
			t.Fatalf("p%d: consumed %d, want %d", p, next[p], perPartition)
		}
	}
}

func TestProduceConsumeIdempotent(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	const partitions, perPartition = 8, 12_500 // 100k records
	createTopic(t, cl, "orders", partitions, nil)
	produceAll(t, cl, "orders", partitions, perPartition, 100)
	consumeAll(t, n, "orders", partitions, perPartition, 100)
}

func TestCompressedBatches(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{{"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()}, {"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}} {
		t.Run(c.name, func(t *testing.T) {
			cl := newClient(t, n, kgo.ProducerBatchCompression(c.codec))
			topic := "compressed-" + c.name
			createTopic(t, cl, topic, 2, nil)
			produceAll(t, cl, topic, 2, 2000, 300)
			consumeAll(t, n, topic, 2, 2000, 300)
		})
	}
}

// TestRestartReadsFromObjects restarts with a log cache too small to hold
// anything, so every fetch is served from the uploaded objects.
func TestRestartReadsFromObjects(t *testing.T) {
	cfg := testConfig(t)
	cfg.UploadBytes = 1 << 20
	n := startNode(t, cfg)
	const partitions, perPartition, size = 4, 5000, 1024
	populate(t, n, "cold", partitions, perPartition, size)
	stopNode(t, n)

	objects := countObjects(t, cfg.DataDir)
	if objects == 0 {
		t.Fatal("no objects were uploaded")
	}
	cfg.LogCacheBytes = 1
	n = startNode(t, cfg)
	defer stopNode(t, n)
	consumeAll(t, n, "cold", partitions, perPartition, size)
	if n.Broker().ColdReads() == 0 {
		t.Fatal("no fetch was served from objects")
	}
	t.Logf("read %d records back from %d objects", partitions*perPartition, objects)
}

// populate creates topic and produces perPartition records of size to each
// partition with a client of its own.
func populate(t *testing.T, n *Node, topic string, partitions int32, perPartition, size int) {
	t.Helper()
	cl := newClient(t, n)
	defer cl.Close()
	createTopic(t, cl, topic, partitions, nil)
	produceAll(t, cl, topic, partitions, perPartition, size)
}

func countObjects(t *testing.T, dataDir string) int {
	t.Helper()
	count := 0
	err := filepath.WalkDir(filepath.Join(dataDir, "objects"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !strings.Contains(path, "/.") {
			count++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return count
}

func TestTopicAdmin(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// validate-only creates nothing.
	vr, err := adm.ValidateCreateTopics(ctx, 3, 1, nil, "checked")
	if err != nil || vr.Error() != nil {
		t.Fatalf("validate create: %v %v", err, vr.Error())
	}
	if td, _ := kadm.NewClient(newClient(t, n)).ListTopics(ctx); td.Has("checked") {
		t.Fatal("validate-only created the topic")
	}
	// errors with their codes
	for _, c := range []struct {
		name       string
		partitions int32
		configs    map[string]*string
		want       error
	}{
		{"bad topic!", 1, nil, kerr.InvalidTopicException},
		{strings.Repeat("x", 250), 1, nil, kerr.InvalidTopicException},
		{"zero", 0, nil, kerr.InvalidPartitions},
		{"badconf", 1, map[string]*string{"retention.ms": kadm.StringPtr("soon")}, kerr.InvalidConfig},
		{"unknownconf", 1, map[string]*string{"no.such.config": kadm.StringPtr("1")}, kerr.InvalidConfig},
	} {
		resp, err := adm.CreateTopics(ctx, c.partitions, 1, c.configs, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp[c.name].Err; !errors.Is(got, c.want) {
			t.Errorf("create %q: %v, want %v", c.name[:min(len(c.name), 20)], got, c.want)
		}
	}
	createTopic(t, cl, "admin", 2, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	if resp, _ := adm.CreateTopics(ctx, 2, 1, nil, "admin"); !errors.Is(resp["admin"].Err, kerr.TopicAlreadyExists) {
		t.Errorf("second create: %v", resp["admin"].Err)
	}
	if resp, _ := adm.CreateTopics(ctx, 1, 3, nil, "replicated"); !errors.Is(resp["replicated"].Err, kerr.InvalidReplicationFactor) {
		t.Errorf("replication factor 3: %v", resp["replicated"].Err)
	}

	// configs: described with their sources, altered, described again.
	rc, err := adm.DescribeTopicConfigs(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	conf := configMap(t, rc)
	if conf["retention.ms"] != "3600000" || conf["max.message.bytes"] != "1048588" || conf["cleanup.policy"] != "delete" {
		t.Fatalf("configs %v", conf)
	}
	ar, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "retention.bytes", Value: kadm.StringPtr("1048576")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, "admin")
	if err != nil || ar[0].Err != nil {
		t.Fatalf("alter: %v %v", err, ar)
	}
	rc, _ = adm.DescribeTopicConfigs(ctx, "admin")
	conf = configMap(t, rc)
	if conf["retention.bytes"] != "1048576" || conf["retention.ms"] != "604800000" {
		t.Fatalf("after alter: %v", conf)
	}
	if ar, _ := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("-5")}}, "admin"); !errors.Is(ar[0].Err, kerr.InvalidConfig) {
		t.Errorf("bad alter: %v", ar[0].Err)
	}
	twice := []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("1000")}, {Op: kadm.DeleteConfig, Name: "retention.ms"}}
	if ar, _ := adm.AlterTopicConfigs(ctx, twice, "admin"); !errors.Is(ar[0].Err, kerr.InvalidRequest) {
		t.Errorf("a config named twice: %v, want INVALID_REQUEST", ar[0].Err)
	}

	// The older, whole-set AlterConfigs (kafkajs and sarama send it): the
	// configs given replace every one set before, which go back to their
	// defaults; validate-only changes nothing.
	if ar, err := adm.ValidateAlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, "admin"); err != nil || ar[0].Err != nil {
		t.Fatalf("validate whole-set alter: %v %v", err, ar)
	}
	rc, _ = adm.DescribeTopicConfigs(ctx, "admin")
	if conf = configMap(t, rc); conf["cleanup.policy"] != "delete" || conf["retention.bytes"] != "1048576" {
		t.Fatalf("after validate-only whole-set alter: %v", conf)
	}
	if ar, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "cleanup.policy", Value: kadm.StringPtr("compact")}}, "admin"); err != nil || ar[0].Err != nil {
		t.Fatalf("whole-set alter: %v %v", err, ar)
	}
	rc, _ = adm.DescribeTopicConfigs(ctx, "admin")
	if conf = configMap(t, rc); conf["cleanup.policy"] != "compact" || conf["retention.bytes"] != "-1" {
		t.Fatalf("after whole-set alter: %v", conf)
	}
	for _, c := range []struct {
		configs []kadm.AlterConfig
		topic   string
		want    error
	}{
		{[]kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("soon")}}, "admin", kerr.InvalidConfig},
		{[]kadm.AlterConfig{{Name: "no.such.config", Value: kadm.StringPtr("1")}}, "admin", kerr.InvalidConfig},
		{[]kadm.AlterConfig{{Name: "retention.ms"}}, "admin", kerr.InvalidRequest},
		{nil, "missing", kerr.UnknownTopicOrPartition},
	} {
		if ar, _ := adm.AlterTopicConfigsState(ctx, c.configs, c.topic); len(ar) != 1 || !errors.Is(ar[0].Err, c.want) {
			t.Errorf("whole-set alter %v of %s: %v, want %v", c.configs, c.topic, ar, c.want)
		}
	}
	rc, _ = adm.DescribeTopicConfigs(ctx, "admin")
	if conf = configMap(t, rc); conf["cleanup.policy"] != "compact" {
		t.Fatalf("a refused whole-set alter changed the configs: %v", conf)
	}

	// partitions grow, never shrink.
	if r, err := adm.CreatePartitions(ctx, 3, "admin"); err != nil || r["admin"].Err != nil {
		t.Fatalf("create partitions: %v %v", err, r)
	}
	if r, _ := adm.UpdatePartitions(ctx, 2, "admin"); !errors.Is(r["admin"].Err, kerr.InvalidPartitions) {
		t.Errorf("shrink: %v", r["admin"].Err)
	}
	td, err := kadm.NewClient(newClient(t, n)).ListTopics(ctx, "admin")
	if err != nil || len(td["admin"].Partitions) != 5 {
		t.Fatalf("after growth: %v %v", err, td)
	}
	produceAll(t, cl, "admin", 5, 10, 10)

	// delete, then the topic is gone.
	if r, err := adm.DeleteTopics(ctx, "admin"); err != nil || r["admin"].Err != nil {
		t.Fatalf("delete: %v %v", err, r)
	}
	if r, _ := adm.DeleteTopics(ctx, "admin"); !errors.Is(r["admin"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("second delete: %v", r["admin"].Err)
	}
	// A new client: kadm caches metadata for a few seconds.
	if td, _ := kadm.NewClient(newClient(t, n)).ListTopics(ctx); td.Has("admin") {
		t.Fatalf("deleted topic still listed: %+v", td["admin"])
	}
}

func configMap(t *testing.T, rc kadm.ResourceConfigs) map[string]string {
	t.Helper()
	if len(rc) != 1 || rc[0].Err != nil {
		t.Fatalf("describe configs: %v", rc)
	}
	out := make(map[string]string)
	for _, c := range rc[0].Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out
}

func TestListOffsets(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "times", 1, nil)
	produceAll(t, cl, "times", 1, 1000, 10) // timestamps base+i
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start, err := adm.ListStartOffsets(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, "times")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := start.Lookup("times", 0); o.Offset != 0 {
		t.Errorf("start %d", o.Offset)
	}
	if o, _ := end.Lookup("times", 0); o.Offset != 1000 {
		t.Errorf("end %d", o.Offset)
	}
	// By timestamp: the first record at or after the time (see also
	// TestListOffsetsByTimestampExact).
	at, err := adm.ListOffsetsAfterMilli(ctx, testEpochMillis+500, "times")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := at.Lookup("times", 0); o.Offset != 500 || o.Timestamp != testEpochMillis+500 {
		t.Errorf("offset for timestamp: %d at %d, want 500 at %d", o.Offset, o.Timestamp, testEpochMillis+500)
	}
	after, _ := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), "times")
	if o, _ := after.Lookup("times", 0); o.Offset != 1000 && o.Offset != -1 {
		t.Errorf("offset after the last timestamp: %d", o.Offset)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// acks=0 is never answered, yet its records are written and the
// connection keeps serving requests pipelined behind it.
func TestAcksZero(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	createTopic(t, newClient(t, n), "fire-and-forget", 1, nil)
	cl := newClient(t, n, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	produceAll(t, cl, "fire-and-forget", 1, 500, 100)
	eventually(t, "acks=0 records written", func() bool {
		end, err := kadm.NewClient(newClient(t, n)).ListEndOffsets(context.Background(), "fire-and-forget")
		o, _ := end.Lookup("fire-and-forget", 0)
		return err == nil && o.Offset == 500
	})
	consumeAll(t, n, "fire-and-forget", 1, 500, 100)
}

// Metadata v0 has no null topic list: an empty one asks for every topic
// (from v1 it asks for none). kafka-python 2.0's version probe pipelines
// ApiVersions v0 and Metadata v0 on one connection and needs both answered.
func TestMetadataV0ListsEveryTopic(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	createTopic(t, cl, "v0-a", 1, nil)
	createTopic(t, cl, "v0-b", 2, nil)

	c := dialRaw(t, n)
	av := kmsg.NewPtrApiVersionsRequest()
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{}
	corrAV := c.send(av)
	corrMD := c.send(md)
	avResp := kmsg.NewPtrApiVersionsResponse()
	c.receive(avResp, corrAV)
	if avResp.ErrorCode != 0 {
		t.Fatalf("ApiVersions error %d", avResp.ErrorCode)
	}
	mdResp := kmsg.NewPtrMetadataResponse()
	c.receive(mdResp, corrMD)
	got := map[string]int{}
	for _, tp := range mdResp.Topics {
		got[*tp.Topic] = len(tp.Partitions)
	}
	if got["v0-a"] != 1 || got["v0-b"] != 2 || len(mdResp.Brokers) != 1 {
		t.Fatalf("Metadata v0 with no topics answered %v, brokers %d; want every topic", got, len(mdResp.Brokers))
	}

	md.Version = 1 // the same empty list asks for none from v1
	corrMD = c.send(md)
	mdResp = kmsg.NewPtrMetadataResponse()
	mdResp.Version = 1
	c.receive(mdResp, corrMD)
	if len(mdResp.Topics) != 0 {
		t.Fatalf("Metadata v1 with an empty list answered %d topics, want none", len(mdResp.Topics))
	}
}

// A broker's configs are described under their Kafka names with the values
// it runs with, read-only; another broker's id is refused, and the
// cluster-wide default resource holds nothing.
func TestDescribeBrokerConfigs(t *testing.T) {
	cfg := testConfig(t)
	cfg.DefaultPartitions = 7
	cfg.GroupMinSessionTimeout = 250 * time.Millisecond // changed from its default through Config
	n := startNode(t, cfg)
	defer stopNode(t, n)
	adm := kadm.NewClient(newClient(t, n))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc, err := adm.DescribeBrokerConfigs(ctx, 0)
	if err != nil || len(rc) != 1 || rc[0].Err != nil {
		t.Fatalf("describe broker 0: %v %v", err, rc)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc[0].Configs {
		got[c.Key] = c
	}
	for name, want := range map[string]string{
		"num.partitions":                   "7",
		"broker.id":                        "0",
		"log.retention.ms":                 "604800000",
		"group.initial.rebalance.delay.ms": "3000",
		"advertised.listeners":             "PLAINTEXT://" + n.Addr().String(),
	} {
		if c, ok := got[name]; !ok || c.MaybeValue() != want {
			t.Errorf("%s = %q (listed %v), want %q", name, c.MaybeValue(), ok, want)
		}
	}
	if c := got["num.partitions"]; c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("num.partitions: source %v, want a static broker config", c.Source)
	}
	if c := got["log.retention.ms"]; c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("log.retention.ms: source %v, want the default", c.Source)
	}
	if c := got["group.min.session.timeout.ms"]; c.MaybeValue() != "250" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("group.min.session.timeout.ms = %q from %v, want 250 from a static broker config", c.MaybeValue(), c.Source)
	}
	if c := got["group.initial.rebalance.delay.ms"]; c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("group.initial.rebalance.delay.ms: source %v, want the default", c.Source)
	}

	rc, err = adm.DescribeBrokerConfigs(ctx) // the cluster-wide default resource
	if err != nil || len(rc) != 1 || rc[0].Err != nil || len(rc[0].Configs) != 0 {
		t.Fatalf("describe the cluster default: %v %v", err, rc)
	}
	describe := func(broker string, names ...string) kmsg.DescribeConfigsResponseResource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = kmsg.ConfigResourceTypeBroker, broker, names
		req.Resources = append(req.Resources, res)
		kresp, err := newClient(t, n).Broker(0).Request(ctx, req) // not routed by the resource's name
		resp, _ := kresp.(*kmsg.DescribeConfigsResponse)
		if err != nil || resp == nil || len(resp.Resources) != 1 {
			t.Fatalf("describe broker %q: %v %+v", broker, err, resp)
		}
		return resp.Resources[0]
	}
	if r := describe("0", "num.partitions", "no.such.config"); len(r.Configs) != 1 || r.Configs[0].Name != "num.partitions" || !r.Configs[0].ReadOnly {
		t.Errorf("broker 0's num.partitions alone: %+v, want it, read-only", r.Configs)
	}
	if r := describe("3"); r.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("broker 3 described by broker 0: error %d, want INVALID_REQUEST", r.ErrorCode)
	}
}

// Topic and broker configs are described the same way: source, type, one
// synonym (the config itself) and documentation when asked for; CreateTopics
// answers the new topic's configs with the same sources.
func TestDescribedConfigsCarryTypesAndSynonyms(t *testing.T) {
	n := startNode(t, testConfig(t))
	defer stopNode(t, n)
	cl := newClient(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "described", 1, 1
	cc := kmsg.NewCreateTopicsRequestTopicConfig()
	cc.Name, cc.Value = "retention.ms", kmsg.StringPtr("3600000")
	ct.Configs = append(ct.Configs, cc)
	create.Topics = append(create.Topics, ct)
	cresp, err := create.RequestWith(ctx, cl)
	if err != nil || len(cresp.Topics) != 1 || cresp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, cresp)
	}
	sources := map[string]int8{}
	for _, c := range cresp.Topics[0].Configs {
		sources[c.Name] = c.Source
	}
	if sources["retention.ms"] != int8(kmsg.ConfigSourceDynamicTopicConfig) || sources["cleanup.policy"] != int8(kmsg.ConfigSourceDefaultConfig) {
		t.Errorf("CreateTopics config sources %v: want retention.ms dynamic, cleanup.policy default", sources)
	}

	for _, c := range []struct {
		typ            kmsg.ConfigResourceType
		resource, name string
		source         kmsg.ConfigSource
		kind           kmsg.ConfigType
		readOnly       bool
	}{
		{kmsg.ConfigResourceTypeTopic, "described", "retention.ms", kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigTypeLong, false},
		{kmsg.ConfigResourceTypeTopic, "described", "cleanup.policy", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeList, false},
		{kmsg.ConfigResourceTypeBroker, "0", "num.partitions", kmsg.ConfigSourceStaticBrokerConfig, kmsg.ConfigTypeInt, true},
		{kmsg.ConfigResourceTypeBroker, "0", "log.retention.ms", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong, true},
	} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms, req.IncludeDocumentation = true, true
		res := kmsg.NewDescribeConfigsRequestResource()
		res.ResourceType, res.ResourceName, res.ConfigNames = c.typ, c.resource, []string{c.name}
		req.Resources = append(req.Resources, res)
		kresp, err := cl.Broker(0).Request(ctx, req)
		resp, _ := kresp.(*kmsg.DescribeConfigsResponse)
		if err != nil || resp == nil || len(resp.Resources) != 1 || len(resp.Resources[0].Configs) != 1 {
			t.Fatalf("describe %s of %s: %v %+v", c.name, c.resource, err, resp)
		}
		got := resp.Resources[0].Configs[0]
		// (IsDefault is a v0 field; v1+ carry the source instead.)
		if got.Source != c.source || got.ConfigType != c.kind || got.ReadOnly != c.readOnly {
			t.Errorf("%s of %s: source %v type %v read-only %v, want %v %v %v", c.name, c.resource,
				got.Source, got.ConfigType, got.ReadOnly, c.source, c.kind, c.readOnly)
		}
		if len(got.ConfigSynonyms) != 1 || got.ConfigSynonyms[0].Name != c.name || got.ConfigSynonyms[0].Source != c.source ||
			got.ConfigSynonyms[0].Value == nil || got.Value == nil || *got.ConfigSynonyms[0].Value != *got.Value {
			t.Errorf("%s of %s: synonyms %+v, want itself", c.name, c.resource, got.ConfigSynonyms)
		}
		if got.Documentation == nil || *got.Documentation == "" {
			t.Errorf("%s of %s: no documentation", c.name, c.resource)
		}
	}
}
