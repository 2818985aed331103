package actors

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/time/rate"

	"github.com/floe-io/floe/netloop"
	"github.com/floe-io/floe/persistence/blockcache"
	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objstore"
	"github.com/floe-io/floe/persistence/wal"
)

// Config is the broker's behaviour, from flags.
type Config struct {
	NodeID            int32
	AdvertiseHost     string
	AdvertisePort     int32
	ClusterID         string
	LogCacheBytes     int64         // tail cache budget across partitions
	UploadBytes       int64         // upload when this much WAL data is pending
	UploadInterval    time.Duration // or when the oldest pending data is this old
	BlockBytes        int           // object data block size
	AutoCreateTopics  bool
	DefaultPartitions int32
	ColdReaders       int   // concurrent object-store reads for cold fetches
	BlockCacheBytes   int64 // cold path's block cache
	// ColdReadBytesPerSecond is the cold path's byte budget: lagging
	// consumers together are served at most this fast, so a catch-up read
	// cannot take the CPU and memory bandwidth produce and tail reads
	// need. 0: no limit.
	ColdReadBytesPerSecond int64
	// UploadSpread spreads each upload's writes over this fraction of the
	// time its data took to gather (at most maxUploadSpread), so that the
	// object store takes an object as a stream rather than a burst. 0: at
	// once.
	UploadSpread float64

	RetentionCheckInterval time.Duration // how often retention (and producer expiry) runs
	// ProducerIDExpiration is how long a partition keeps an idempotent
	// producer's state after its last write (Kafka's
	// producer.id.expiration.ms, KIP-854; default one day). Without it,
	// every producer that ever wrote would be remembered for ever.
	ProducerIDExpiration       time.Duration
	CompactionInterval         time.Duration // how often compaction looks for work
	CompactionBytesPerSecond   int64         // read+write budget of compaction
	CompactionSmallObjectBytes int64         // objects below this size are merged
	CompactionOutputBytes      int64         // target size of a merged object
	CompactionMinAge           time.Duration // objects younger than this are left alone
	// ObjectDeletesPerSecond paces the deletion of objects compaction and
	// retention no longer need. Removing an object is not free: on the
	// local store each unlink of an 8 MiB object took about 2 ms of kernel
	// time, and a compaction round's 31 deletes back to back (57 ms) made
	// a second of 6.8 ms producer p99 against 1.4 ms (docs/benchmarks.md,
	// session 13).
	ObjectDeletesPerSecond int
	WALQueueBytes          int64 // bytes accepted for the WAL but not yet written, before produce is refused

	Groups GroupConfig // consumer groups and committed offsets (group_service.go)
}

// EnsureDefaults fills unset fields.
func (c *Config) EnsureDefaults() {
	if c.LogCacheBytes <= 0 {
		c.LogCacheBytes = 512 << 20
	}
	if c.UploadBytes <= 0 {
		c.UploadBytes = 32 << 20
	}
	if c.UploadInterval <= 0 {
		c.UploadInterval = 30 * time.Second
	}
	if c.BlockBytes <= 0 {
		c.BlockBytes = 512 << 10
	}
	if c.DefaultPartitions <= 0 {
		c.DefaultPartitions = 1
	}
	if c.ColdReaders <= 0 {
		c.ColdReaders = 4
	}
	if c.BlockCacheBytes <= 0 {
		c.BlockCacheBytes = 256 << 20
	}
	if c.RetentionCheckInterval <= 0 {
		c.RetentionCheckInterval = 30 * time.Second
	}
	if c.ProducerIDExpiration <= 0 {
		c.ProducerIDExpiration = 24 * time.Hour
	}
	if c.CompactionInterval <= 0 {
		c.CompactionInterval = time.Minute
	}
	if c.CompactionBytesPerSecond <= 0 {
		c.CompactionBytesPerSecond = 32 << 20
	}
	if c.CompactionSmallObjectBytes <= 0 {
		c.CompactionSmallObjectBytes = 16 << 20
	}
	if c.CompactionOutputBytes <= 0 {
		c.CompactionOutputBytes = 64 << 20
	}
	if c.CompactionMinAge <= 0 {
		c.CompactionMinAge = 10 * time.Second
	}
	if c.ObjectDeletesPerSecond <= 0 {
		c.ObjectDeletesPerSecond = 20
	}
	if c.WALQueueBytes <= 0 {
		c.WALQueueBytes = 128 << 20
	}
	if c.ClusterID == "" {
		c.ClusterID = "floe"
	}
	c.Groups.ensureDefaults()
}

// Pools the broker's actors run in; each gets its own supervisor.
const (
	poolPartitions = "partitions" // CPU-bound: partition actors
	poolWAL        = "wal"        // blocking: WAL shards
	poolCold       = "cold"       // blocking: object-store readers
	poolBackground = "background" // blocking: uploader, topic manager
)

// Spawner is what the broker needs of the actor system (supervision.System).
type Spawner interface {
	Spawn(pool, name string, cpuBound bool, producer actor.Producer) (*actor.PID, error)
	// SpawnOn is Spawn with the actor's activations run by d (nil: one
	// goroutine per activation).
	SpawnOn(pool, name string, d actor.Dispatcher, producer actor.Producer) (*actor.PID, error)
	Send(pid *actor.PID, msg any)
	Stop(pid *actor.PID)
}

// Deps are the broker's injected dependencies.
type Deps struct {
	Actors   Spawner
	Meta     *meta.Store
	Store    objstore.Store
	WALs     []*wal.WAL // one per shard
	Logger   *slog.Logger
	Registry prometheus.Registerer // nil: metrics kept but not exported
	// ColdDispatcher runs the cold loaders' activations, which block on
	// the object store: supervision.NewNicedDispatcher's low-priority
	// threads, one per loader. Nil: a goroutine per activation, on the
	// runtime's threads like everything else.
	ColdDispatcher actor.Dispatcher
}

// Broker owns the actors and answers requests handed over by the netloop.
type Broker struct {
	cfg         Config
	deps        Deps
	log         *slog.Logger
	metrics     *brokerMetrics
	handlers    [kmsg.MaxKey + 1]func(*netloop.Request) // by API key; read-only after NewBroker
	reg         *registry
	topics      *actor.PID                   // the topic manager
	upload      *actor.PID                   // the uploader
	maintenance *actor.PID                   // retention and expired-object deletion
	compact     *actor.PID                   // the compactor
	shards      []*actor.PID                 // WAL shard actors
	cold        []*actor.PID                 // cold loaders
	blocks      *blockcache.Cache            // the cold path's cache, apart from the log cache
	refs        objectRefs                   // in-flight reads per object
	coldBudget  atomic.Pointer[rate.Limiter] // nil: unlimited; replaced when the dynamic config changes
	compaction  *rate.Limiter                // compaction's byte budget; its limit follows the dynamic config
	dynamic     atomic.Pointer[dynamicConfigs]
	deletes     *rate.Limiter // paces object deletes (deleteObject)
	groups      groupService  // the group manager (group_service.go)
	coldRR      atomic.Uint64
	sessionIDs  atomic.Int32 // the last fetch session id given (fetch_session.go)

	coldReads          atomic.Int64 // object reads served to fetches
	cacheBytes         atomic.Int64 // bytes in every partition's log cache
	producerStates     atomic.Int64 // idempotent producers tracked, over every partition
	walQueued          atomic.Int64 // bytes sent to WAL shards, not yet written
	storageError       atomic.Bool  // a WAL failed: the broker is not healthy
	compactionInterval atomic.Int64 // nanoseconds; from Config, changeable
	ready              atomic.Bool
}

// NewBroker builds a broker; Start recovers state and spawns the actors.
func NewBroker(cfg Config, deps Deps) *Broker {
	cfg.EnsureDefaults()
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	b := &Broker{cfg: cfg, deps: deps, log: deps.Logger, reg: newRegistry(), blocks: blockcache.New(cfg.BlockCacheBytes)}
	b.metrics = newBrokerMetrics(b, deps.Registry)
	b.handlers = b.handlerTable()
	b.compactionInterval.Store(int64(cfg.CompactionInterval))
	b.dynamic.Store(&dynamicConfigs{})
	b.setColdReadRate(cfg.ColdReadBytesPerSecond)
	b.compaction = rate.NewLimiter(rate.Limit(cfg.CompactionBytesPerSecond), int(min(cfg.CompactionBytesPerSecond, pacePieceBytes)))
	b.deletes = rate.NewLimiter(rate.Limit(cfg.ObjectDeletesPerSecond), 1)
	return b
}

// ColdReads is the number of object-store reads made for fetches.
func (b *Broker) ColdReads() int64 { return b.coldReads.Load() }

// Ready reports whether recovery finished and requests are served.
func (b *Broker) Ready() bool { return b.ready.Load() }

// Healthy reports whether the broker can still accept writes.
func (b *Broker) Healthy() error {
	if b.storageError.Load() {
		return fmt.Errorf("actors: a WAL has a storage error")
	}
	return nil
}

func (b *Broker) send(pid *actor.PID, msg any) { b.deps.Actors.Send(pid, msg) }

// Serve implements netloop.Handler. It runs on an event loop: nothing here
// blocks; work that needs disk or another actor is sent on.
func (b *Broker) Serve(r *netloop.Request) {
	if !b.ready.Load() {
		r.Close("broker is starting")
		return
	}
	if k := r.Header.Key; k >= 0 && int(k) < len(b.handlers) && b.handlers[k] != nil {
		b.handlers[k](r)
		return
	}
	// wire's version table lists only keys with a handler (a test checks
	// it), so the netloop never hands over another key.
	r.Close(fmt.Sprintf("no handler for api key %d", r.Header.Key))
}

// handlerTable maps every served API key to its handler (one file per API).
// The key comes from the handler's request type, so a key and its handler
// cannot disagree.
func (b *Broker) handlerTable() [kmsg.MaxKey + 1]func(*netloop.Request) {
	var t [kmsg.MaxKey + 1]func(*netloop.Request)
	for _, h := range []handler{
		route(b.handleProduce), route(b.handleFetch), route(b.handleListOffsets), route(b.handleMetadata),
		route(b.handleApiVersions), route(b.handleCreateTopics), route(b.handleDeleteTopics),
		route(b.handleCreatePartitions), route(b.handleInitProducerID), route(b.handleDescribeConfigs),
		route(b.handleAlterConfigs), route(b.handleIncrementalAlterConfigs), route(b.handleDescribeCluster), route(b.handleDeleteRecords),
		// Consumer groups (group_service.go): FindCoordinator is answered
		// on the loop, the others go to the group manager actor.
		route(b.handleFindCoordinator), route(b.handleOffsetCommit), route(b.handleOffsetFetch),
		route(b.handleJoinGroup), route(b.handleHeartbeat), route(b.handleLeaveGroup), route(b.handleSyncGroup),
		route(b.handleDescribeGroups), route(b.handleListGroups), route(b.handleDeleteGroups),
		route(b.handleOffsetDelete), route(b.handleConsumerGroupHeartbeat), route(b.handleConsumerGroupDescribe),
	} {
		t[h.key] = h.serve
	}
	return t
}

type handler struct {
	key   int16
	serve func(*netloop.Request)
}

// route adapts a typed handler. kmsg's Key methods do not read their
// receiver, so the nil request of type T names its key.
func route[T kmsg.Request](fn func(*netloop.Request, T)) handler {
	var zero T
	return handler{key: zero.Key(), serve: func(r *netloop.Request) { fn(r, r.Body.(T)) }}
}

// handledKeys lists the API keys Serve dispatches; tested against wire's table.
func (b *Broker) handledKeys() []int16 {
	var keys []int16
	for k, h := range b.handlers {
		if h != nil {
			keys = append(keys, int16(k))
		}
	}
	return keys
}

// CacheBytes is what the log cache and the block cache may hold together,
// with the defaults applied.
func (b *Broker) CacheBytes() int64 {
	return b.cfg.LogCacheBytes + b.cfg.BlockCacheBytes
}

// PreallocateBlocks allocates the block cache's memory now, as buffers for
// blocks of the configured block size, and returns its bytes; see
// blockcache.Cache.Preallocate. Call it before Start.
func (b *Broker) PreallocateBlocks() int64 {
	return b.blocks.Preallocate(b.cfg.BlockBytes)
}

// SetAdvertised sets the address given to clients; call before Start.
func (b *Broker) SetAdvertised(host string, port int32) {
	b.cfg.AdvertiseHost, b.cfg.AdvertisePort = host, port
}

// InjectPartitionPanic makes a partition actor panic, for fault tests: its
// supervisor restarts it from its durable state.
func (b *Broker) InjectPartitionPanic(topic string, partition int32) bool {
	_, ref := b.reg.load().partition(topic, partition)
	if ref == nil {
		return false
	}
	b.send(ref.pid, panicMsg{})
	return true
}
