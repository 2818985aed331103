// Command floe is the floe broker: `floe serve` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/floe-io/floe/supervision"
)

const usage = `floe — a Kafka-protocol broker that keeps its data in object storage.

Usage:
  floe serve [flags]     run a broker
  floe actors [flags]    live view of a broker's actors (--http ADDR, --sort, --once)
  floe bench <scenario>  load-generate against any Kafka broker (floe bench --help)
  floe help              show this help

Every flag can also be set as an environment variable FLOE_<NAME>, with the
flag's name in upper case and '-' as '_' (e.g. --data-dir → FLOE_DATA_DIR).
A flag given on the command line wins over the environment.

Flags of serve:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fs, _ := serveFlags(stderr)
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return 0
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "actors":
		return actorsTop(args[1:], stdout, stderr)
	case "bench-consumer": // hidden: the process `bench catchup --consumer-process` runs
		return benchConsumer(args[1:], stdout, stderr)
	case "bench":
		return benchCommand(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "floe: unknown command %q (try floe --help)\n", args[0])
		return 2
	}
}

func serve(args []string, stderr io.Writer) int {
	fs, opts := serveFlags(stderr)
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "floe:", err)
		return 2
	}
	cfg, err := opts.config(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "floe:", err)
		return 2
	}
	if cfg.PretouchMemory {
		// Returns only if the binary could not be started again.
		if err := execWithLazyFree(); err != nil {
			cfg.Logger.Warn("could not restart with GODEBUG=madvdontneed=0; memory freed by the heap goes back to the kernel", "err", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	node, err := supervision.Start(startCtx, cfg)
	cancel()
	if err != nil {
		cfg.Logger.Error("start failed", "err", err)
		return 1
	}
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := node.Shutdown(shutdownCtx); err != nil {
		cfg.Logger.Error("shutdown", "err", err)
		return 1
	}
	cfg.Logger.Info("stopped")
	return 0
}

// serveOptions are the raw flag values.
type serveOptions struct {
	listen, advertise, dataDir, objectStore, http              string
	logCacheSize, walCapacity, uploadSize                      string
	uploadInterval                                             time.Duration
	uploadSpread                                               float64
	autoCreateTopics                                           bool
	defaultPartitions                                          int
	walShards                                                  int
	maxRequestSize                                             string
	maxInFlight                                                int
	coldReaders, coldReadNice, objectDeleteRate                int
	blockCacheSize, compactionRate, compactSmall, coldReadRate string
	compactOutput                                              string
	retentionCheck, compactionInterval                         time.Duration
	offsetsRetention                                           time.Duration
	producerIDExpiration                                       time.Duration
	logLevel                                                   string
	pretouchMemory                                             bool
}

func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:9092", "Kafka listener address (host:port; port 0 picks a free one)")
	fs.StringVar(&o.advertise, "advertise", "", "address given to clients in Metadata (default: the listen address)")
	fs.StringVar(&o.dataDir, "data-dir", "./data", "directory for the WAL, the metadata store and the default object store")
	fs.StringVar(&o.objectStore, "object-store", "", "object store URL: file:///dir, or s3://bucket?endpoint=...&region=...&path_style=true (default file://<data-dir>/objects)")
	fs.StringVar(&o.http, "http", "127.0.0.1:9644", "admin HTTP listener (/healthz, /readyz, /metrics); empty to disable")
	fs.StringVar(&o.logCacheSize, "log-cache-size", "512MiB", "memory for recent data served to tail consumers")
	fs.StringVar(&o.walCapacity, "wal-capacity", "2GiB", "size of the preallocated write-ahead log; produce is throttled and refused when it is full")
	fs.IntVar(&o.walShards, "wal-shards", 1, "write-ahead log files, each with its own group commit and --wal-capacity; partitions are spread over them by stream id. A data dir keeps the largest count it has had")
	fs.StringVar(&o.uploadSize, "upload-size", "32MiB", "upload WAL data to an object once this much is pending")
	fs.DurationVar(&o.uploadInterval, "upload-interval", 30*time.Second, "upload pending WAL data at least this often")
	fs.Float64Var(&o.uploadSpread, "upload-spread", 0.5, "send each upload over this fraction of the time its data took to gather (at most 2s), so that the object store takes it as a stream, not a burst; 0 = at once")
	fs.BoolVar(&o.autoCreateTopics, "auto-create-topics", true, "create unknown topics on Metadata and Produce")
	fs.IntVar(&o.defaultPartitions, "default-partitions", 1, "partitions of an auto-created topic, or of CreateTopics with -1")
	fs.StringVar(&o.maxRequestSize, "max-request-size", "100MiB", "largest request frame accepted; larger ones close the connection")
	fs.IntVar(&o.maxInFlight, "max-in-flight", 64, "requests in flight per connection before the broker stops reading it")
	fs.IntVar(&o.coldReaders, "cold-readers", 4, "concurrent object-store reads for consumers behind the log cache")
	fs.IntVar(&o.coldReadNice, "cold-read-nice", 10, "nice value (1-19) of the threads the cold readers run on, below the broker's other threads, so that when the CPUs are short produce and tail reads run first; 0 = normal priority")
	fs.StringVar(&o.blockCacheSize, "block-cache-size", "256MiB", "memory for object blocks read by lagging consumers (apart from the log cache)")
	fs.StringVar(&o.coldReadRate, "cold-read-rate", "64MiB", "bytes per second all lagging consumers together are served from objects, and from the log cache while far behind its end (0 = no limit); keeps catch-up reads from starving produce")
	fs.DurationVar(&o.retentionCheck, "retention-check-interval", 30*time.Second, "how often retention.ms / retention.bytes are applied and expired objects deleted")
	fs.DurationVar(&o.compactionInterval, "compaction-interval", time.Minute, "how often small objects are looked for and merged")
	fs.StringVar(&o.compactionRate, "compaction-rate", "32MiB", "bytes per second compaction may read and write")
	fs.StringVar(&o.compactSmall, "compaction-small-object", "16MiB", "objects below this size are merged by compaction")
	fs.StringVar(&o.compactOutput, "compaction-object-size", "64MiB", "size at which compaction starts a new merged object (a single partition's run may take up to twice this); a round holds one in memory")
	fs.IntVar(&o.objectDeleteRate, "object-delete-rate", 20, "objects deleted per second at most, once compaction or retention no longer needs them; deleting many at once stalls producers")
	fs.DurationVar(&o.offsetsRetention, "offsets-retention", 7*24*time.Hour, "committed offsets of a consumer group that has been empty this long are deleted")
	fs.DurationVar(&o.producerIDExpiration, "producer-id-expiration", 24*time.Hour, "an idempotent producer's state is forgotten this long after its last write (producer.id.expiration.ms)")
	fs.BoolVar(&o.pretouchMemory, "pretouch-memory", false, "touch the log and block caches' memory at start and keep freed memory mapped (GODEBUG=madvdontneed=0), so that filling the caches takes no page faults; costs start-up time, and RSS shows the caches from the start")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	return fs, o
}

func (o *serveOptions) config(stderr io.Writer) (supervision.Config, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return supervision.Config{}, fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	sizes := map[string]*int64{}
	var logCache, walCap, upload, maxReq, blockCache, compactionRate, compactSmall, compactOutput, coldReadRate int64
	sizes["--log-cache-size"], sizes["--wal-capacity"], sizes["--upload-size"], sizes["--max-request-size"] = &logCache, &walCap, &upload, &maxReq
	sizes["--block-cache-size"], sizes["--compaction-rate"], sizes["--compaction-small-object"] = &blockCache, &compactionRate, &compactSmall
	sizes["--cold-read-rate"], sizes["--compaction-object-size"] = &coldReadRate, &compactOutput
	for name, raw := range map[string]string{"--log-cache-size": o.logCacheSize, "--wal-capacity": o.walCapacity, "--upload-size": o.uploadSize, "--max-request-size": o.maxRequestSize,
		"--block-cache-size": o.blockCacheSize, "--cold-read-rate": o.coldReadRate, "--compaction-rate": o.compactionRate, "--compaction-small-object": o.compactSmall,
		"--compaction-object-size": o.compactOutput} {
		v, err := parseSize(raw)
		if err != nil {
			return supervision.Config{}, fmt.Errorf("%s: %w", name, err)
		}
		*sizes[name] = v
	}
	switch {
	case o.defaultPartitions < 1 || o.defaultPartitions > 10000:
		return supervision.Config{}, fmt.Errorf("--default-partitions must be in [1, 10000]")
	case o.walShards < 1 || o.walShards > maxWALShards:
		return supervision.Config{}, fmt.Errorf("--wal-shards must be in [1, %d]", maxWALShards)
	case walCap < 1<<20:
		return supervision.Config{}, fmt.Errorf("--wal-capacity must be at least 1MiB")
	case maxReq < 1<<10 || maxReq > 1<<30:
		return supervision.Config{}, fmt.Errorf("--max-request-size must be in [1KiB, 1GiB]")
	case o.coldReadNice < 0 || o.coldReadNice > 19:
		return supervision.Config{}, fmt.Errorf("--cold-read-nice must be in [0, 19]")
	case o.objectDeleteRate < 1:
		return supervision.Config{}, fmt.Errorf("--object-delete-rate must be at least 1")
	case o.uploadInterval <= 0:
		return supervision.Config{}, fmt.Errorf("--upload-interval must be positive")
	case !(o.uploadSpread >= 0 && o.uploadSpread <= 1):
		return supervision.Config{}, fmt.Errorf("--upload-spread must be in [0, 1]")
	}
	return supervision.Config{
		Listen: o.listen, Advertise: o.advertise, DataDir: o.dataDir, ObjectStore: o.objectStore, HTTP: o.http,
		LogCacheBytes: logCache, WALCapacityBytes: walCap, WALShards: o.walShards, UploadBytes: upload, UploadInterval: o.uploadInterval,
		UploadSpread: o.uploadSpread, AutoCreateTopics: o.autoCreateTopics, DefaultPartitions: int32(o.defaultPartitions),
		MaxFrameBytes: int(maxReq), MaxInFlight: o.maxInFlight, ColdReaders: o.coldReaders, ColdReadNice: o.coldReadNice, Logger: logger,
		BlockCacheBytes: blockCache, ColdReadBytesPerSecond: coldReadRate, RetentionCheckInterval: o.retentionCheck, CompactionInterval: o.compactionInterval,
		CompactionBytesPerSecond: compactionRate, CompactionSmallObjectBytes: compactSmall, CompactionOutputBytes: compactOutput, OffsetsRetention: o.offsetsRetention,
		ProducerIDExpiration: o.producerIDExpiration, PretouchMemory: o.pretouchMemory, ObjectDeletesPerSecond: o.objectDeleteRate,
	}, nil
}

// maxWALShards bounds --wal-shards: each shard is a preallocated file and a
// goroutine blocked in fdatasync, and past a few per disk they only split
// the group commits.
const maxWALShards = 64

// lazyFree is the runtime setting under which the heap's scavenger gives
// idle memory back with MADV_FREE instead of MADV_DONTNEED: the pages stay
// mapped until the kernel is short of memory, so that the heap's later use
// of them takes no page fault (see package pretouch).
const lazyFree = "madvdontneed=0"

// execWithLazyFree runs this binary again, in this process, with lazyFree
// added to GODEBUG, which the runtime reads only at start. It does nothing
// when GODEBUG already says how to give memory back, the operator's choice
// or the first run's.
func execWithLazyFree() error {
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, "madvdontneed=") {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if godebug != "" {
		godebug += ","
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GODEBUG=") })
	return syscall.Exec(exe, os.Args, append(env, "GODEBUG="+godebug+lazyFree))
}
