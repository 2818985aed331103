package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const clientID = "floe-bench"

var compressionCodecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

// producerOpts are the kgo options of one producer client.
func producerOpts(cfg *Config) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(clientID),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchCompression(compressionCodecs[cfg.Compression]),
		// Our own window (MaxBuffered) is the bound; kgo's is set above
		// it so that Produce never blocks inside kgo while a promise is
		// still releasing its slot.
		kgo.MaxBufferedRecords(2 * cfg.MaxBuffered),
	}
	switch cfg.Acks {
	case "all":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	}
	if !cfg.idempotent() {
		opts = append(opts, kgo.DisableIdempotentWrite())
		if cfg.MaxInflight > 0 {
			opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(cfg.MaxInflight))
		}
	}
	return opts
}

// consumerOpts are the kgo options of a consumer client reading the given
// partitions from the given offsets, without a group: direct assignment
// works on any broker and has no rebalance to disturb the measurement.
func consumerOpts(cfg *Config, from map[int32]kgo.Offset) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(clientID),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: from}),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxPartitionBytes(cfg.FetchMaxPartitionBytes),
		kgo.FetchMaxBytes(max(50<<20, cfg.FetchMaxPartitionBytes)),
	}
}

// topicSetupTimeout bounds creating the topic and waiting for its leaders.
const topicSetupTimeout = 30 * time.Second

// ensureTopic creates the topic when it is missing and waits until every
// partition has a leader; it returns the partition count.
func ensureTopic(ctx context.Context, cfg *Config) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, topicSetupTimeout)
	defer cancel()
	cl, err := adminClient(cfg)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	created := false
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	for {
		topics, err := adm.ListTopics(ctx, cfg.Topic)
		if err == nil {
			if td, ok := topics[cfg.Topic]; ok && td.Err == nil && len(td.Partitions) > 0 && allLed(td) {
				return len(td.Partitions), nil
			}
		}
		if !created {
			resp, err := adm.CreateTopic(ctx, int32(cfg.Partitions), -1, nil, cfg.Topic)
			switch {
			case err == nil && (resp.Err == nil || errors.Is(resp.Err, kerr.TopicAlreadyExists)):
				created = true
			case err == nil:
				return 0, fmt.Errorf("bench: create topic %s: %w", cfg.Topic, resp.Err)
			case ctx.Err() != nil:
				return 0, fmt.Errorf("bench: create topic %s: %w", cfg.Topic, err)
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bench: topic %s has no leaders: %w", cfg.Topic, ctx.Err())
		case <-retry.C:
		}
	}
}

// adminClient is a short-lived client for kadm. kadm answers from kgo's
// metadata cache, which by default may be 5 s old: too stale to see a
// topic that was just created.
func adminClient(cfg *Config) (*kgo.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ClientID(clientID), kgo.MetadataMinAge(50*time.Millisecond))
	if err != nil {
		return nil, fmt.Errorf("bench: admin client: %w", err)
	}
	return cl, nil
}

func allLed(td kadm.TopicDetail) bool {
	for _, p := range td.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return false
		}
	}
	return true
}

// listOffsets lists the start and the end offset of every partition of
// the topic, with one client.
func listOffsets(ctx context.Context, cfg *Config) (starts, ends map[int32]int64, err error) {
	cl, err := adminClient(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	list := func(f func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		listed, err := f(ctx, cfg.Topic)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("bench: list offsets of %s: %w", cfg.Topic, err)
		}
		out := make(map[int32]int64)
		listed.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
		return out, nil
	}
	if starts, err = list(adm.ListStartOffsets); err != nil {
		return nil, nil, err
	}
	if ends, err = list(adm.ListEndOffsets); err != nil {
		return nil, nil, err
	}
	return starts, ends, nil
}

// payloadPoolBytes is the size of the shared random payload that record
// values are cut from: large enough that a compressor's window (≤ 64 KiB
// for lz4 and snappy, a few MiB at most for zstd's default level) rarely
// sees the same bytes twice in one batch.
const payloadPoolBytes = 4 << 20

// payload is read-only random text shared by all producers. Like Kafka's
// ProducerPerformance it is made of random letters: compressible about as
// well as typical text-like data, never as well as a repeated buffer.
type payload struct {
	pool []byte
}

func newPayload(recordSize int) *payload {
	pool := make([]byte, payloadPoolBytes+recordSize)
	rng := rand.New(rand.NewPCG(1, 2)) // fixed seed: runs compare like with like
	for i := range pool {
		pool[i] = 'a' + byte(rng.IntN(26))
	}
	return &payload{pool: pool}
}

// value returns recordSize bytes starting at a position derived from n.
// The slice is shared: callers must not write to it.
func (p *payload) value(n int64, recordSize int) []byte {
	// 4099 is prime and not a multiple of common record sizes, so
	// consecutive records start at unrelated offsets.
	off := int((n * 4099) % payloadPoolBytes)
	return p.pool[off : off+recordSize : off+recordSize]
}
