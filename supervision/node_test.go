package supervision

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testConfig is a node on port 0 in a fresh directory under the package dir
// (t.TempDir may be tmpfs, where O_DIRECT is refused).
func testConfig(t *testing.T) Config {
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

func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return n
}

func stopNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func newClient(t *testing.T, n *Node, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(n.Addr().String()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(2 * time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32, configs map[string]*string) {
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
		Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i)),
	}
}

// produceAll produces perPartition records to each partition and returns the
// acknowledged offsets in order per partition.
func produceAll(t *testing.T, cl *kgo.Client, topic string, partitions int32, perPartition, valueSize int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	errs := make(chan error, 1)
	for i := 0; i < perPartition; i++ {
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
				t.Fatalf("p%d offset %d: key/value differ: key %q want %q; value %q want %q", r.Partition, r.Offset, r.Key, want.Key, r.Value[:min(20, len(r.Value))], want.Value[:20])
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

var _ = io.EOF
