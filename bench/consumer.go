package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumerGroup is a set of kgo consumer clients, each polling in its own
// goroutine and handing every fetch, with its record and byte count, to
// onFetch (called from that goroutine only).
type consumerGroup struct {
	clients []*kgo.Client
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// startConsumers reads the given partitions from the given offsets with
// one client per perClient partitions (0: a single client). With
// bytesPerSecond > 0 the clients together read no faster than that: each
// polls again only when its share of the rate has paid for what it has
// read (kgo fetches ahead by one response, so the broker is paced too).
func startConsumers(cfg *Config, from map[int32]int64, perClient int, bytesPerSecond float64, onFetch func(fs kgo.Fetches, records, bytes int, now time.Time)) (*consumerGroup, error) {
	parts := make([]int32, 0, len(from))
	for p := range from {
		parts = append(parts, p)
	}
	slices.Sort(parts)
	if perClient <= 0 {
		perClient = max(len(parts), 1)
	}
	g := &consumerGroup{}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	for chunk := range slices.Chunk(parts, perClient) {
		assign := make(map[int32]kgo.Offset, len(chunk))
		for _, p := range chunk {
			assign[p] = kgo.NewOffset().At(from[p])
		}
		cl, err := kgo.NewClient(consumerOpts(cfg, assign)...)
		if err != nil {
			g.stop()
			return nil, fmt.Errorf("bench: consumer client: %w", err)
		}
		g.clients = append(g.clients, cl)
		var pacer *Pacer
		if bytesPerSecond > 0 {
			share := bytesPerSecond * float64(len(chunk)) / float64(len(parts))
			pacer = NewPacer(wallClock{}, time.Now(), 0, share)
		}
		g.wg.Go(func() {
			var read int64
			for {
				fetches := cl.PollFetches(g.ctx)
				if g.ctx.Err() != nil {
					return
				}
				records, bytes := fetchSize(fetches)
				onFetch(fetches, records, bytes, time.Now())
				if pacer == nil {
					continue
				}
				read += int64(bytes)
				if pacer.WaitFor(g.ctx, pacer.Due(read)) != nil {
					return
				}
			}
		})
	}
	return g, nil
}

// fetchSize counts the records of fs and their key and value bytes.
func fetchSize(fs kgo.Fetches) (records, bytes int) {
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		for _, rec := range fp.Records {
			records++
			bytes += len(rec.Value) + len(rec.Key)
		}
	})
	return records, bytes
}

func (g *consumerGroup) stop() {
	g.cancel()
	g.wg.Wait()
	for _, cl := range g.clients {
		cl.Close()
	}
}
