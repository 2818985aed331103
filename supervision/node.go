package supervision

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floe-io/floe/actors"
	"github.com/floe-io/floe/internal/pretouch"
	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objstore"
	"github.com/floe-io/floe/persistence/wal"
)

// Config is everything a node needs, from flags.
type Config struct {
	Listen                 string
	Advertise              string // host:port given to clients; empty = the listen address
	DataDir                string
	ObjectStore            string         // URL; empty = file://<data-dir>/objects
	Store                  objstore.Store // if set, used instead of ObjectStore (tests inject fault stores)
	HTTP                   string         // admin listener; empty = none
	LogCacheBytes          int64
	WALCapacityBytes       int64
	WALShards              int
	WALFS                  wal.FS // if set, the WAL files' filesystem (tests inject faults); nil: O_DIRECT files
	UploadBytes            int64
	UploadInterval         time.Duration
	UploadSpread           float64 // 0: uploads go at once
	AutoCreateTopics       bool
	DefaultPartitions      int32
	MaxFrameBytes          int
	MaxInFlight            int
	ColdReaders            int
	BlockCacheBytes        int64
	ColdReadBytesPerSecond int64 // 0: no limit
	// ColdReadNice, 1 to 19, runs the cold loaders on threads of their own
	// at that nice value, below the broker's other threads; 0 runs them at
	// normal priority.
	ColdReadNice int
	// Retention and compaction; zero values take actors.Config's defaults.
	RetentionCheckInterval     time.Duration
	CompactionInterval         time.Duration
	CompactionBytesPerSecond   int64
	CompactionSmallObjectBytes int64
	CompactionOutputBytes      int64
	CompactionMinAge           time.Duration
	ObjectDeletesPerSecond     int // paces deletes of objects compaction and retention leave (default 20)
	// OffsetsRetention: committed offsets of a group empty this long are
	// deleted (offsets.retention.minutes); zero takes the default, 7 days.
	OffsetsRetention time.Duration
	// GroupInitialRebalanceDelay: how long an empty group's first
	// rebalance waits for more members (group.initial.rebalance.delay.ms);
	// zero takes the default, 3 s, and a negative value waits not at all.
	GroupInitialRebalanceDelay time.Duration
	// GroupMinSessionTimeout is the shortest session timeout a classic
	// member may ask for (group.min.session.timeout.ms); zero takes the
	// default, 6 s.
	GroupMinSessionTimeout time.Duration
	// ProducerIDExpiration: an idempotent producer's state is forgotten
	// this long after its last write; zero takes the default, one day.
	ProducerIDExpiration time.Duration
	// PretouchMemory allocates, at start, the block cache's buffers
	// (actors.Broker.PreallocateBlocks) and touches as much more heap as
	// the log cache and the block cache may hold, so that filling them
	// later takes no page faults and no zeroing (package pretouch). It
	// needs the runtime setting madvdontneed=0, which cmd/floe sees to, or
	// the runtime gives the heap memory back to the kernel again.
	PretouchMemory bool
	Logger         *slog.Logger
}

// Node is a running broker: start order is metadata store, object store,
// WALs, actors (recovery), network, admin HTTP; stop order is the reverse.
type Node struct {
	cfg     Config
	log     *slog.Logger
	sys     *System
	meta    *meta.Store
	wals    []*wal.WAL
	broker  *actors.Broker
	net     *netloop.Server
	admin   *http.Server
	adminLn net.Listener
	reg     *prometheus.Registry
	group   *Group
	stop    chan struct{} // closed by Shutdown: ends the sampler
}

// Start opens the node's storage, recovers, and starts serving.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.WALShards <= 0 {
		cfg.WALShards = 1
	}
	shards, err := walShardsOnDisk(filepath.Join(cfg.DataDir, "wal"))
	if err != nil {
		return nil, fmt.Errorf("supervision: WAL dir: %w", err)
	}
	if shards > cfg.WALShards {
		// A shard left out would not be replayed: what it holds beyond its
		// trim point would be lost. The data dir keeps the larger count.
		cfg.Logger.Warn("the data dir has more WAL shards than configured; opening all of them", "configured", cfg.WALShards, "on_disk", shards)
		cfg.WALShards = shards
	}
	// node, not n: an error return sets n to nil before the deferred
	// cleanup runs.
	node := &Node{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry(), group: NewGroup(cfg.Logger), stop: make(chan struct{})}
	n = node
	defer func() {
		if err == nil {
			return
		}
		if node.net != nil {
			_ = node.net.Stop(context.Background())
		}
		if node.sys != nil {
			node.sys.StopAll("partitions", "groups", "cold", "background", "wal")
			node.sys.Shutdown()
		}
		_ = node.closeStorage()
	}()
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("supervision: data dir: %w", err)
	}
	if n.meta, err = meta.Open(filepath.Join(cfg.DataDir, "meta.db")); err != nil {
		return nil, fmt.Errorf("supervision: metadata store: %w", err)
	}
	storeURL := cfg.ObjectStore
	if storeURL == "" {
		abs, _ := filepath.Abs(filepath.Join(cfg.DataDir, "objects"))
		storeURL = "file://" + abs
	}
	store := cfg.Store
	if store == nil {
		if store, err = objstore.OpenContext(ctx, storeURL); err != nil {
			return nil, fmt.Errorf("supervision: object store: %w", err)
		}
	} else {
		storeURL = fmt.Sprintf("%T", store)
	}
	for i := 0; i < cfg.WALShards; i++ {
		trim, err := n.meta.WALTrim(i)
		if err != nil {
			return nil, fmt.Errorf("supervision: WAL trim point: %w", err)
		}
		opts := wal.Options{Path: filepath.Join(cfg.DataDir, "wal", walFile(i)), CapacityBytes: cfg.WALCapacityBytes, FS: cfg.WALFS, Logger: cfg.Logger}
		w, err := wal.Open(opts, wal.Position(trim))
		if err != nil {
			return nil, fmt.Errorf("supervision: WAL shard %d: %w", i, err)
		}
		n.wals = append(n.wals, w)
	}

	if _, err := netloop.RaiseFileLimit(); err != nil {
		n.log.Warn("could not raise the open-file limit", "err", err)
	}
	n.sys = New(cfg.Logger)
	n.net = netloop.New(netloop.Options{
		Listen: cfg.Listen, MaxFrameBytes: cfg.MaxFrameBytes, MaxInFlight: cfg.MaxInFlight,
		Logger: cfg.Logger, Registry: n.reg,
	}, nil)

	// The network starts before recovery ends so the bound port is known for
	// the advertised address; requests are refused until the broker is ready.
	bcfg := actors.Config{
		LogCacheBytes: cfg.LogCacheBytes, UploadBytes: cfg.UploadBytes, UploadInterval: cfg.UploadInterval, UploadSpread: cfg.UploadSpread,
		AutoCreateTopics: cfg.AutoCreateTopics, DefaultPartitions: cfg.DefaultPartitions, ColdReaders: cfg.ColdReaders,
		BlockCacheBytes: cfg.BlockCacheBytes, ColdReadBytesPerSecond: cfg.ColdReadBytesPerSecond, RetentionCheckInterval: cfg.RetentionCheckInterval,
		ProducerIDExpiration: cfg.ProducerIDExpiration,
		CompactionInterval:   cfg.CompactionInterval, CompactionBytesPerSecond: cfg.CompactionBytesPerSecond,
		CompactionSmallObjectBytes: cfg.CompactionSmallObjectBytes, CompactionOutputBytes: cfg.CompactionOutputBytes, CompactionMinAge: cfg.CompactionMinAge,
		ObjectDeletesPerSecond: cfg.ObjectDeletesPerSecond,
		Groups:                 actors.GroupConfig{OffsetsRetention: cfg.OffsetsRetention, InitialRebalanceDelay: cfg.GroupInitialRebalanceDelay, MinSessionTimeout: cfg.GroupMinSessionTimeout},
	}
	deps := actors.Deps{Actors: n.sys, Meta: n.meta, Store: store, WALs: n.wals, Logger: cfg.Logger, Registry: n.reg}
	if cfg.ColdReadNice > 0 {
		bcfg.EnsureDefaults()
		d, err := n.sys.NicedDispatcher(bcfg.ColdReaders, cfg.ColdReadNice)
		if err != nil {
			n.log.Warn("cold loaders run at normal priority", "err", err)
		} else {
			n.log.Info("cold loaders on threads of their own", "threads", bcfg.ColdReaders, "nice", cfg.ColdReadNice)
		}
		deps.ColdDispatcher = d
	}
	n.broker = actors.NewBroker(bcfg, deps)
	if cfg.PretouchMemory {
		start, bytes := time.Now(), n.broker.CacheBytes()
		blocks := n.broker.PreallocateBlocks()
		pretouch.Heap(bytes)
		n.log.Info("memory pre-touched", "bytes", bytes, "block_buffers", blocks, "took", time.Since(start).Round(time.Millisecond))
	}
	n.net.SetHandler(n.broker)
	if err := n.net.Start(ctx); err != nil {
		return nil, err
	}
	host, port, err := advertised(cfg.Advertise, n.net.Addr())
	if err != nil {
		return nil, err
	}
	n.broker.SetAdvertised(host, port)
	if err := n.broker.Start(ctx); err != nil {
		_ = n.net.Stop(context.Background())
		return nil, err
	}
	// Scheduler latencies and GC pauses tell an operator whether the broker's
	// goroutines wait for a CPU, the first thing to check when latency
	// moves and the request histograms do not.
	goRuntime := collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsScheduler, collectors.MetricsGC))
	n.reg.MustRegister(goRuntime, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), n.sys.Collector())
	n.startSampler()
	if cfg.HTTP != "" {
		if err := n.startAdmin(cfg.HTTP); err != nil {
			_ = n.net.Stop(context.Background())
			return nil, err
		}
	}
	n.log.Info("floe serving", "listen", n.net.Addr().String(), "advertise", net.JoinHostPort(host, strconv.Itoa(int(port))), "data_dir", cfg.DataDir, "object_store", storeURL)
	return n, nil
}

// walFile is the name of WAL shard i's file.
func walFile(i int) string { return fmt.Sprintf("wal-%03d.log", i) }

// walShardsOnDisk returns one more than the highest shard number among the
// WAL files in dir, or 0 when there are none.
func walShardsOnDisk(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	shards := 0
	for _, e := range entries {
		var i int
		if _, err := fmt.Sscanf(e.Name(), "wal-%d.log", &i); err == nil && i >= 0 && e.Name() == walFile(i) {
			shards = max(shards, i+1)
		}
	}
	return shards, nil
}

func advertised(adv string, bound net.Addr) (string, int32, error) {
	tcp, _ := bound.(*net.TCPAddr)
	if adv == "" {
		if tcp == nil {
			return "", 0, errors.New("supervision: unknown bound address")
		}
		host := tcp.IP.String()
		if tcp.IP.IsUnspecified() {
			host = "127.0.0.1"
		}
		return host, int32(tcp.Port), nil
	}
	host, portStr, err := net.SplitHostPort(adv)
	if err != nil {
		return "", 0, fmt.Errorf("supervision: advertise address: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("supervision: advertise port %q", portStr)
	}
	if port == 0 && tcp != nil {
		port = tcp.Port
	}
	return host, int32(port), nil
}

// Addr is the Kafka listener's address.
func (n *Node) Addr() net.Addr { return n.net.Addr() }

// HTTPAddr is the admin listener's address, or nil.
func (n *Node) HTTPAddr() net.Addr {
	if n.adminLn == nil {
		return nil
	}
	return n.adminLn.Addr()
}

// Broker exposes the broker for tests and tools in this process.
func (n *Node) Broker() *actors.Broker { return n.broker }

// System exposes the actor system (restart counters).
func (n *Node) System() *System { return n.sys }

// Shutdown stops taking work, answers what is in flight, uploads what it can
// within ctx, and closes storage (the WALs are fsynced on every write already).
func (n *Node) Shutdown(ctx context.Context) error {
	drainCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := n.net.Drain(drainCtx); err != nil {
		n.log.Warn("drain incomplete", "err", err)
	}
	cancel()
	if err := n.net.Stop(ctx); err != nil {
		n.log.Warn("network stop", "err", err)
	}
	uploadCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	n.broker.Stop(uploadCtx)
	cancel()
	if n.admin != nil {
		_ = n.admin.Shutdown(ctx)
	}
	close(n.stop)
	// Actors first, storage after: nothing may write to a closed WAL or
	// metadata store. Readers and writers of partitions stop before the
	// services they use; the WAL shards stop last.
	n.sys.StopAll("partitions", "groups", "cold", "background", "wal")
	n.sys.Shutdown()
	n.group.Wait()
	return n.closeStorage()
}

func (n *Node) closeStorage() error {
	var errs []error
	for _, w := range n.wals {
		errs = append(errs, w.Close())
	}
	n.wals = nil
	if n.meta != nil {
		errs = append(errs, n.meta.Close())
		n.meta = nil
	}
	return errors.Join(errs...)
}

func (n *Node) startAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("supervision: admin listener: %w", err)
	}
	n.adminLn = ln
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/actors", n.sys.serveActors)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := n.broker.Healthy(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !n.broker.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	n.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	n.group.Go("admin-http", func() {
		if err := n.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("admin listener", "err", err)
		}
	})
	return nil
}

// startSampler updates the actors' message rates once a second.
func (n *Node) startSampler() {
	const interval = time.Second
	n.group.Go("actor-rate-sampler", func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-n.stop:
				return
			case <-t.C:
				n.sys.Sample(interval)
			}
		}
	})
}

// Registry is the node's metrics registry.
func (n *Node) Registry() *prometheus.Registry { return n.reg }
