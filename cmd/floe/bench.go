package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/floe-io/floe/bench"
)

const benchUsage = `floe bench — load generator for any Kafka-compatible broker.

Usage:
  floe bench produce [flags]      producers only: throughput and send latency
  floe bench e2e [flags]          producers and consumers: end-to-end latency
  floe bench catchup [flags]      producer latency while a consumer reads a backlog
  floe bench connections [flags]  many idle connections: broker memory, producer p99

Results: a progress line on stderr every second, a table on stdout, and
result.json plus chart.svg in --out.

Examples:
  floe bench produce --brokers 127.0.0.1:9092 --duration 30s
  floe bench produce --producers 16 --max-buffered 1 --duration 20s
  floe bench e2e --rate 10000 --partitions 8 --partitions-per-consumer 4
  floe bench catchup --rate 5000 --backlog-bytes 2GiB --baseline 20s
  floe bench connections --connections 50000 --rate 1000 --broker-pid $(pgrep -n floe)

Flags:
`

// benchOptions are the raw flag values of floe bench.
type benchOptions struct {
	brokers, out, recordSize, backlogBytes, fetchPartition, readRate string
	jsonOnly, kfake, consumerProcess, consumerIdle                   bool
	consumerGOGC                                                     int
	cfg                                                              bench.Config
}

func benchFlags(stderr io.Writer) (*flag.FlagSet, *benchOptions) {
	o := &benchOptions{}
	c := &o.cfg
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Target, "target", "", "label of the broker under test, copied to the result (floe, kafka, …)")
	fs.StringVar(&o.brokers, "brokers", "127.0.0.1:9092", "seed brokers, comma separated")
	fs.StringVar(&c.Topic, "topic", "floe-bench", "topic (created if missing)")
	fs.IntVar(&c.Partitions, "partitions", 4, "partitions of the topic when it is created")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "measured time after the warmup (catchup: longest catch-up allowed)")
	fs.DurationVar(&c.Warmup, "warmup", 5*time.Second, "time before the measurement, not counted (produce, e2e, connections)")
	fs.StringVar(&o.out, "out", "", "directory for result.json and chart.svg (default bench/out/<scenario>-<time>)")
	fs.BoolVar(&o.jsonOnly, "json-only", false, "print the JSON result on stdout instead of the table, and write no chart")
	fs.IntVar(&c.Producers, "producers", 1, "producer clients")
	fs.Float64Var(&c.Rate, "rate", 0, "records per second over all producers; 0 = as fast as possible")
	fs.StringVar(&o.recordSize, "record-size", "1KiB", "value size of each record")
	fs.StringVar(&c.Acks, "acks", "all", "all, 1 or 0")
	fs.StringVar(&c.Compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&c.Linger, "linger", 0, "producer linger (kgo's default is 10ms; 0 sends at once)")
	fs.IntVar(&c.MaxInflight, "max-inflight", 0, "produce requests in flight per broker; 0 = kgo's default (5, idempotent); > 0 disables idempotence")
	fs.IntVar(&c.MaxBuffered, "max-buffered", 10000, "unacknowledged records per producer (1 = one record at a time)")
	fs.IntVar(&c.PartitionsPerConsumer, "partitions-per-consumer", 0, "e2e: one consumer client per this many partitions; 0 = one for all")
	fs.StringVar(&o.fetchPartition, "fetch-max-partition-bytes", "1MiB", "e2e, catchup: consumer fetch size per partition")
	fs.DurationVar(&c.BacklogDuration, "backlog-duration", 60*time.Second, "catchup: produce this long before the baseline")
	fs.StringVar(&o.backlogBytes, "backlog-bytes", "0", "catchup: end the backlog phase early once this much is acknowledged (0 = off)")
	fs.StringVar(&o.readRate, "read-rate", "0", "catchup: cap the catch-up consumer at this many bytes per second (0 = as fast as it is served); with a log cache holding the backlog, a control run of the same read load from memory")
	fs.DurationVar(&c.Baseline, "baseline", 10*time.Second, "catchup, connections: window of producer latency before the disturbance")
	fs.IntVar(&c.Connections, "connections", 10000, "connections: idle connections to open")
	fs.Float64Var(&c.LightRate, "light-rate", 0, "connections: requests per second spread over the idle connections")
	fs.StringVar(&c.LightRequest, "light-request", "apiversions", "connections: apiversions or metadata")
	fs.IntVar(&c.BrokerPID, "broker-pid", 0, "connections: read the broker's VmRSS from /proc/<pid>/status")
	fs.StringVar(&c.MetricsURL, "metrics-url", "", "connections: scrape process_resident_memory_bytes from this URL; catchup: read the broker's own Produce latency (floe_request_duration_seconds) from it")
	fs.BoolVar(&o.kfake, "kfake", false, "") // hidden: run against an in-process kfake cluster
	fs.IntVar(&o.consumerGOGC, "consumer-gogc", 0, "catchup: with --consumer-process, the consumer process's GOGC (0 = Go's default, 100). It stands for a consumer on another machine but shares this one's CPUs; a higher value makes its garbage collections, each of which takes a CPU for a millisecond or more, rarer")
	fs.BoolVar(&o.consumerIdle, "consumer-idle", false, "catchup: with --consumer-process, run the consumer process under SCHED_IDLE (Linux). For the same reason as --consumer-gogc: its decoding then takes this machine's CPUs only when the producer and the broker leave them idle")
	fs.BoolVar(&o.consumerProcess, "consumer-process", false, "catchup: run the catch-up consumer in a process of its own, as a remote consumer would be; the process is started before the baseline window and waits there, so that its start is not counted as catch-up")
	fs.Usage = func() { printBenchUsage(fs) }
	return fs, o
}

// printBenchUsage prints the help without the hidden --kfake flag.
func printBenchUsage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprint(w, benchUsage)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Usage == "" {
			return
		}
		fmt.Fprintf(w, "  --%s", f.Name)
		if name, _ := flag.UnquoteUsage(f); name != "" {
			fmt.Fprintf(w, " %s", name)
		}
		fmt.Fprintf(w, "\n    \t%s", f.Usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

// benchCommand runs `floe bench <scenario> [flags]`.
func benchCommand(args []string, stdout, stderr io.Writer) int {
	fs, o := benchFlags(stderr)
	if len(args) == 0 || !slices.Contains(bench.Scenarios(), args[0]) {
		fs.SetOutput(stdout)
		printBenchUsage(fs)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		fmt.Fprintf(stderr, "floe bench: unknown scenario %q\n", args[0])
		return 2
	}
	scenario := args[0]
	if err := parseWithEnv(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "floe bench:", err)
		return 2
	}
	if err := o.finish(); err != nil {
		fmt.Fprintln(stderr, "floe bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if o.kfake {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			fmt.Fprintln(stderr, "floe bench: kfake:", err)
			return 1
		}
		defer cluster.Close()
		o.cfg.Brokers, o.cfg.Target = cluster.ListenAddrs(), "kfake"
	}
	if o.out == "" {
		o.out = filepath.Join("bench", "out", scenario+"-"+time.Now().Format("20060102-150405"))
	}
	res, runErr := bench.Run(ctx, scenario, o.cfg, stderr)
	if res.Scenario == "" { // nothing ran
		fmt.Fprintln(stderr, "floe bench:", runErr)
		return 1
	}
	code := report(res, o, stdout, stderr)
	if runErr != nil {
		fmt.Fprintln(stderr, "floe bench:", runErr)
		return 1
	}
	return code
}

// finish converts the flags that need parsing into the config.
func (o *benchOptions) finish() error {
	o.cfg.Brokers = strings.Split(o.brokers, ",")
	size, err := parseSize(o.recordSize)
	if err != nil {
		return fmt.Errorf("--record-size: %w", err)
	}
	o.cfg.RecordSize = int(size)
	if o.cfg.BacklogBytes, err = parseSize(o.backlogBytes); err != nil {
		return fmt.Errorf("--backlog-bytes: %w", err)
	}
	fetch, err := parseSize(o.fetchPartition)
	if err != nil || fetch > 1<<30 {
		return fmt.Errorf("--fetch-max-partition-bytes: bad size %q", o.fetchPartition)
	}
	o.cfg.FetchMaxPartitionBytes = int32(fetch)
	rate, err := parseSize(o.readRate)
	if err != nil {
		return fmt.Errorf("--read-rate: %w", err)
	}
	o.cfg.ReadRate = float64(rate)
	if o.consumerProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--consumer-process: %w", err)
		}
		o.cfg.ConsumerCommand = []string{exe, "bench-consumer"}
	}
	o.cfg.ConsumerGCPercent = o.consumerGOGC
	o.cfg.ConsumerIdle = o.consumerIdle
	return nil
}

// benchConsumer is the hidden `floe bench-consumer`, the catch-up consumer
// that `floe bench catchup --consumer-process` runs in its own process.
func benchConsumer(args []string, stdout, stderr io.Writer) int {
	return bench.ConsumerMain(args, os.Stdin, stdout, stderr)
}

// report prints the table (or the JSON) and writes the files.
func report(res bench.Result, o *benchOptions, stdout, stderr io.Writer) int {
	if o.jsonOnly {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(stderr, "floe bench:", err)
			return 1
		}
	} else if err := bench.WriteTable(stdout, res); err != nil {
		fmt.Fprintln(stderr, "floe bench:", err)
		return 1
	}
	paths, err := bench.WriteFiles(o.out, res, o.jsonOnly)
	if err != nil {
		fmt.Fprintln(stderr, "floe bench:", err)
		return 1
	}
	fmt.Fprintln(stderr, "floe bench: wrote", strings.Join(paths, ", "))
	return 0
}
