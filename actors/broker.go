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

	RetentionCheckInterval     time.Duration // how often retention runs
	CompactionInterval         time.Duration // how often compaction looks for work
	CompactionBytesPerSecond   int64         // read+write budget of compaction
	CompactionSmallObjectBytes int64         // objects below this size are merged
	CompactionOutputBytes      int64         // target size of a merged object
	CompactionMinAge           time.Duration // objects younger than this are left alone
	WALQueueBytes              int64         // bytes accepted for the WAL but not yet written, before produce is refused

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
}

// Broker owns the actors and answers requests handed over by the netloop.
type Broker struct {
	cfg         Config
	deps        Deps
	log         *slog.Logger
	metrics     *brokerMetrics
	reg         *registry
	topics      *actor.PID        // the topic manager
	upload      *actor.PID        // the uploader
	maintenance *actor.PID        // retention and expired-object deletion
	compact     *actor.PID        // the compactor
	shards      []*actor.PID      // WAL shard actors
	cold        []*actor.PID      // cold loaders
	blocks      *blockcache.Cache // the cold path's cache, apart from the log cache
	refs        objectRefs        // in-flight reads per object
	coldBudget  *rate.Limiter     // nil: unlimited; safe for concurrent use
	groups      groupService      // the group manager (group_service.go)
	coldRR      atomic.Uint64

	coldReads          atomic.Int64 // object reads served to fetches
	cacheBytes         atomic.Int64 // bytes in every partition's log cache
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
	b.compactionInterval.Store(int64(cfg.CompactionInterval))
	if cfg.ColdReadBytesPerSecond > 0 {
		b.coldBudget = rate.NewLimiter(rate.Limit(cfg.ColdReadBytesPerSecond), coldBudgetBurst)
	}
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
	switch req := r.Body.(type) {
	case *kmsg.ProduceRequest:
		b.handleProduce(r, req)
	case *kmsg.FetchRequest:
		b.handleFetch(r, req)
	case *kmsg.ListOffsetsRequest:
		b.handleListOffsets(r, req)
	case *kmsg.MetadataRequest:
		b.handleMetadata(r, req)
	case *kmsg.ApiVersionsRequest:
		b.handleApiVersions(r, req)
	case *kmsg.CreateTopicsRequest:
		b.handleCreateTopics(r, req)
	case *kmsg.DeleteTopicsRequest:
		b.handleDeleteTopics(r, req)
	case *kmsg.CreatePartitionsRequest:
		b.handleCreatePartitions(r, req)
	case *kmsg.InitProducerIDRequest:
		b.handleInitProducerID(r, req)
	case *kmsg.DescribeConfigsRequest:
		b.handleDescribeConfigs(r, req)
	case *kmsg.IncrementalAlterConfigsRequest:
		b.handleIncrementalAlterConfigs(r, req)
	case *kmsg.DescribeClusterRequest:
		b.handleDescribeCluster(r, req)
	case *kmsg.DeleteRecordsRequest:
		b.handleDeleteRecords(r, req)
	// Consumer groups (group_service.go): FindCoordinator is answered
	// here, the others go to the group manager actor.
	case *kmsg.FindCoordinatorRequest:
		b.handleFindCoordinator(r, req)
	case *kmsg.OffsetCommitRequest:
		b.handleOffsetCommit(r, req)
	case *kmsg.OffsetFetchRequest:
		b.handleOffsetFetch(r, req)
	case *kmsg.JoinGroupRequest:
		b.handleJoinGroup(r, req)
	case *kmsg.HeartbeatRequest:
		b.handleHeartbeat(r, req)
	case *kmsg.LeaveGroupRequest:
		b.handleLeaveGroup(r, req)
	case *kmsg.SyncGroupRequest:
		b.handleSyncGroup(r, req)
	case *kmsg.DescribeGroupsRequest:
		b.handleDescribeGroups(r, req)
	case *kmsg.ListGroupsRequest:
		b.handleListGroups(r, req)
	case *kmsg.DeleteGroupsRequest:
		b.handleDeleteGroups(r, req)
	case *kmsg.OffsetDeleteRequest:
		b.handleOffsetDelete(r, req)
	case *kmsg.ConsumerGroupHeartbeatRequest:
		b.handleConsumerGroupHeartbeat(r, req)
	case *kmsg.ConsumerGroupDescribeRequest:
		b.handleConsumerGroupDescribe(r, req)
	default:
		// The version table in wire lists only keys handled above; a test
		// checks that every row has a handler.
		r.Close(fmt.Sprintf("no handler for api key %d", r.Header.Key))
	}
}

// handledKeys lists the API keys Serve dispatches; tested against wire's table.
func handledKeys() []int16 {
	return []int16{
		kmsg.Produce.Int16(), kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16(), kmsg.Metadata.Int16(),
		kmsg.ApiVersions.Int16(), kmsg.CreateTopics.Int16(), kmsg.DeleteTopics.Int16(),
		kmsg.CreatePartitions.Int16(), kmsg.InitProducerID.Int16(), kmsg.DescribeConfigs.Int16(),
		kmsg.IncrementalAlterConfigs.Int16(), kmsg.DescribeCluster.Int16(), kmsg.DeleteRecords.Int16(),
		// consumer groups
		kmsg.FindCoordinator.Int16(), kmsg.OffsetCommit.Int16(), kmsg.OffsetFetch.Int16(),
		kmsg.JoinGroup.Int16(), kmsg.Heartbeat.Int16(), kmsg.LeaveGroup.Int16(), kmsg.SyncGroup.Int16(),
		kmsg.DescribeGroups.Int16(), kmsg.ListGroups.Int16(), kmsg.DeleteGroups.Int16(),
		kmsg.OffsetDelete.Int16(), kmsg.ConsumerGroupHeartbeat.Int16(), kmsg.ConsumerGroupDescribe.Int16(),
	}
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
