package supervision

import (
	"context"
	crand "crypto/rand"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ncw/directio"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sys/unix"
)

// BenchmarkProduceAcksAll measures one franz-go producer sending 1 KiB
// records with acks=all (idempotent, pipelined) to a floe node in this
// process: throughput (b.SetBytes) and the send latency percentiles, from
// Produce to its promise. Compare with BenchmarkLoopbackTCP and
// BenchmarkDirectIOWrite from the same run:
//
//	go test ./supervision -run '^$' -bench 'Produce|Loopback|DirectIO' -benchtime 200000x -count 3
func BenchmarkProduceAcksAll(b *testing.B) {
	cfg := testConfigB(b)
	n, err := Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = n.Shutdown(context.Background()) }()
	// Uncompressed random values: the bytes on the wire and in the WAL
	// are the bytes counted (zeros would compress to almost nothing).
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr().String()), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<16),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, 1024)
	_, _ = crand.Read(value)
	ctx := context.Background()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "bench", Value: value}).FirstErr(); err != nil {
		b.Fatal(err)
	}
	latencies := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	wg.Add(b.N)
	b.SetBytes(int64(len(value)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		i := i
		cl.Produce(ctx, &kgo.Record{Topic: "bench", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				b.Error(err)
			}
			latencies[i] = time.Since(start)
			wg.Done()
		})
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkProduceOneAtATime: one record in flight at a time, acks=all: the
// latency of one produce including one fdatasync.
func BenchmarkProduceOneAtATime(b *testing.B) {
	cfg := testConfigB(b)
	n, err := Start(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = n.Shutdown(context.Background()) }()
	cl, err := kgo.NewClient(kgo.SeedBrokers(n.Addr().String()), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(0))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, 1024)
	ctx := context.Background()
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "single", Value: value}).FirstErr(); err != nil {
			b.Fatal(err)
		}
		latencies = append(latencies, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkLoopbackTCP is this machine's single-stream loopback bandwidth.
func BenchmarkLoopbackTCP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done
}

// BenchmarkDirectIOWrite is this machine's sequential O_DIRECT write
// bandwidth (4 MiB writes, one fdatasync per 64 MiB) on the data disk.
func BenchmarkDirectIOWrite(b *testing.B) {
	dir, err := os.MkdirTemp(".", "testdata-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := directio.OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const size, fileBytes = 4 << 20, 256 << 20
	block := directio.AlignedBlock(size)
	b.SetBytes(size)
	b.ResetTimer()
	var off int64
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(block, off%fileBytes); err != nil {
			b.Fatal(err)
		}
		off += size
		if off%(64<<20) == 0 {
			if err := unix.Fdatasync(int(f.Fd())); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		b.Fatal(err)
	}
}

func testConfigB(b *testing.B) Config {
	dir, err := os.MkdirTemp(".", "testdata-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return Config{
		Listen: "127.0.0.1:0", DataDir: dir, LogCacheBytes: 256 << 20, WALCapacityBytes: 1 << 30,
		UploadBytes: 32 << 20, UploadInterval: 5 * time.Second, AutoCreateTopics: true, DefaultPartitions: 1,
		Logger: discardLogger(),
	}
}

// BenchmarkFetchManyPartitions measures a consumer of 1,000 partitions of
// which one receives records: one op is a record produced to it and polled
// back. With a fetch session each fetch after the first names only the
// partition that moved, and each answer only the partition with news;
// without one, both name all 1,000. Reported per op besides the time: the
// CPU time of this process (broker and both clients), bytes the broker read
// and wrote, and fetches. The time is mostly the produce's WAL write; the
// CPU time is the one to compare. Compare the two in one run:
//
//	go test ./supervision -run '^$' -bench FetchManyPartitions -benchtime 2000x -count 3
func BenchmarkFetchManyPartitions(b *testing.B) {
	for _, c := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"session", nil},
		{"no-session", []kgo.Opt{kgo.DisableFetchSessions()}},
	} {
		b.Run(c.name, func(b *testing.B) {
			const partitions = 1000
			cfg := testConfigB(b)
			n, err := Start(context.Background(), cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = n.Shutdown(context.Background()) }()
			ctx := context.Background()
			prod, err := kgo.NewClient(kgo.SeedBrokers(n.Addr().String()), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
			if err != nil {
				b.Fatal(err)
			}
			defer prod.Close()
			if _, err := kadm.NewClient(prod).CreateTopic(ctx, partitions, 1, nil, "many"); err != nil {
				b.Fatal(err)
			}
			offsets := make(map[int32]kgo.Offset, partitions)
			for p := range int32(partitions) {
				offsets[p] = kgo.NewOffset().At(0)
			}
			cons, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.Addr().String()),
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"many": offsets})}, c.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer cons.Close()
			value := make([]byte, 100)
			roundTrip := func() {
				if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "many", Partition: 0, Value: value}).FirstErr(); err != nil {
					b.Fatal(err)
				}
				for got := 0; got == 0; {
					fs := cons.PollFetches(ctx)
					fs.EachError(func(_ string, _ int32, err error) { b.Fatal(err) })
					got = fs.NumRecords()
				}
			}
			roundTrip() // the first fetch opens the session
			counters := func() (in, out, fetches float64) {
				families, err := n.Registry().Gather()
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range families {
					for _, m := range f.Metric {
						switch {
						case f.GetName() == "floe_network_received_bytes_total":
							in = m.Counter.GetValue()
						case f.GetName() == "floe_network_sent_bytes_total":
							out = m.Counter.GetValue()
						case f.GetName() == "floe_fetch_requests_total":
							fetches += m.Counter.GetValue()
						}
					}
				}
				return in, out, fetches
			}
			cpu := func() time.Duration {
				var ru unix.Rusage
				if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
					b.Fatal(err)
				}
				return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			in0, out0, f0 := counters()
			cpu0 := cpu()
			b.ResetTimer()
			for range b.N {
				roundTrip()
			}
			b.StopTimer()
			cpu1 := cpu()
			in1, out1, f1 := counters()
			b.ReportMetric(float64((cpu1-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric((in1-in0)/float64(b.N), "B-in/op")
			b.ReportMetric((out1-out0)/float64(b.N), "B-out/op")
			b.ReportMetric((f1-f0)/float64(b.N), "fetches/op")
		})
	}
}
