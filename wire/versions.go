package wire

import "github.com/twmb/franz-go/pkg/kmsg"

// APIRange is one row of the version table: floe answers requests of API Key
// at versions Min..Max inclusive, and advertises exactly this in ApiVersions.
type APIRange struct {
	Key      int16
	Min, Max int16
}

// apiTable is THE table of supported API keys and versions. Everything else
// (ApiVersions, header checks, the handler registry's completeness test)
// derives from it.
//
// It is a function returning an array by value, not a package variable, so
// nobody can change it at run time and a lookup allocates nothing. Rows are
// sorted by key (a test checks it). Each Max is at most what kmsg v1.15.1
// knows (a test checks that too).
//
// Sources for the ranges: the per-version notes in kmsg's generated.go and
// Kafka's message JSON (KIP numbers below). Kafka 4.0 dropped everything
// older than 2.1 (KIP-896); where our Min is below that it costs nothing.
func apiTable() [27]APIRange {
	return [...]APIRange{
		// Produce 3..12. v3 is the first that carries record batches
		// (magic 2) only; v0-2 carry message sets, which we do not store.
		// v9 flexible; v10 adds CurrentLeader/NodeEndpoints tags
		// (KIP-951, optional to fill); v11 means the client understands
		// TRANSACTION_ABORTABLE (KIP-890). v12 (KIP-890 part 2) differs
		// from v11 only when the cluster advertises transaction.version
		// >= 2: then a transactional produce implicitly adds its
		// partitions to the transaction. We advertise no features, so
		// clients (franz-go caps transactional produce at 11 unless the
		// feature is finalized) treat v12 as v11. v13 names topics by
		// ID only; the handler works with names, so we stop at 12.
		{Key: int16(kmsg.Produce), Min: 3, Max: 12},

		// Fetch 4..12. v4 is the first whose responses carry record
		// batches (magic 2) and has the isolation level (KIP-98). v12 is
		// flexible with diverging-epoch tags (KIP-595). v13+ names
		// topics by ID only (KIP-516); the handler works with names, so
		// 12 is the cap. Clients negotiate down to 12 and keep using
		// names.
		{Key: int16(kmsg.Fetch), Min: 4, Max: 12},

		// ListOffsets 1..11. v0 (offsets array, no timestamp/offset
		// pair) was removed in Kafka 4.0. The handler must answer the
		// special timestamps each version brings: -1 latest, -2
		// earliest, -3 max timestamp (v7, KIP-734), -4 earliest local
		// (v8, KIP-405), -5 latest tiered (v9, KIP-1005), -6 earliest
		// pending upload (v11, KIP-1023); v10 adds TimeoutMillis
		// (KIP-1075). v11 is kmsg's max.
		{Key: int16(kmsg.ListOffsets), Min: 1, Max: 11},

		// Metadata 0..12. From v1 a null topic list means "all topics"
		// and an empty one means none; v0 used empty for all, which the
		// handler maps. v0 stays although Kafka 4.0 dropped it: the
		// version probe of kafka-python 2.0 (Debian's python3-kafka)
		// sends it right after ApiVersions and counts on an answer. v10+
		// responses carry topic IDs, which we have. v13 (KIP-1102) only
		// adds a top-level error code; not advertised yet.
		{Key: int16(kmsg.Metadata), Min: 0, Max: 12},

		// Consumer groups (actors/group_service.go). franz-go 1.22
		// negotiates each to our max; librdkafka 2.x and the Java
		// client 3.x/4.x send versions inside these ranges.

		// OffsetCommit 2..10. v0-1 were removed in Kafka 4.0. v6 adds
		// the leader epoch (KIP-320), v7 the instance id (KIP-345), v8
		// is flexible, v9 carries a KIP-848 member epoch in Generation,
		// v10 (Kafka 4.2) names topics by id; we have ids, and
		// franz-go 1.22 sends v10.
		{Key: int16(kmsg.OffsetCommit), Min: 2, Max: 10},

		// OffsetFetch 1..10. v0 (ZooKeeper offsets) was removed in
		// Kafka 4.0. v2 allows a null topic list (all) and a top-level
		// error, v5 the leader epoch, v7 require_stable (KIP-447), v8
		// several groups per request (KIP-709), v9 a KIP-848 member id
		// and epoch, v10 topic ids.
		{Key: int16(kmsg.OffsetFetch), Min: 1, Max: 10},

		// FindCoordinator 0..6. v4 batches keys (KIP-699), v6 adds
		// share-group keys (KIP-932), which we refuse per key.
		{Key: int16(kmsg.FindCoordinator), Min: 0, Max: 6},

		// JoinGroup 0..9. v4 brings MEMBER_ID_REQUIRED (KIP-394), v5
		// static members (KIP-345), v7 the protocol type in the answer,
		// v8 reasons (KIP-800), v9 SkipAssignment (KIP-814).
		{Key: int16(kmsg.JoinGroup), Min: 0, Max: 9},

		// Heartbeat 0..4: v3 instance id, v4 flexible.
		{Key: int16(kmsg.Heartbeat), Min: 0, Max: 4},

		// LeaveGroup 0..5: v3 batches members (KIP-345), v4
		// flexible, v5 reasons (KIP-800).
		{Key: int16(kmsg.LeaveGroup), Min: 0, Max: 5},

		// SyncGroup 0..5: v3 instance id, v4 flexible, v5 protocol
		// type and name (KIP-559).
		{Key: int16(kmsg.SyncGroup), Min: 0, Max: 5},

		// DescribeGroups 0..6: v3 authorized operations, v4 instance
		// ids, v5 flexible, v6 GROUP_ID_NOT_FOUND for unknown groups
		// (KIP-1043).
		{Key: int16(kmsg.DescribeGroups), Min: 0, Max: 6},

		// ListGroups 0..5: v4 state filter (KIP-518), v5 type filter
		// (KIP-848).
		{Key: int16(kmsg.ListGroups), Min: 0, Max: 5},

		// ApiVersions 0..4. v3 is flexible and names the client software
		// (KIP-511); v4 only lifts the rule that SupportedFeatures
		// MinVersion must not be 0 (KAFKA-17011), and we list no
		// features. v5 (KIP-1242) asks the broker to answer
		// REBOOTSTRAP_REQUIRED when the request's ClusterID/NodeID are
		// not its own; advertise it once the handler checks them.
		// Whatever a client asks above 4 gets the v0 UNSUPPORTED_VERSION
		// answer with this table (see UnsupportedVersionResponse).
		{Key: int16(kmsg.ApiVersions), Min: 0, Max: 4},

		// CreateTopics 2..7. v0-1 were removed in Kafka 4.0; v5 returns
		// configs (KIP-525) and is flexible; v7 returns topic IDs.
		{Key: int16(kmsg.CreateTopics), Min: 2, Max: 7},

		// DeleteTopics 1..6. v0 was removed in Kafka 4.0; v6 lets a
		// client name a topic by ID instead of by name (KIP-516): the
		// handler accepts both and answers an ID it does not know with
		// UNKNOWN_TOPIC_ID.
		{Key: int16(kmsg.DeleteTopics), Min: 1, Max: 6},

		// DeleteRecords 0..2: v2 is flexible. Moves a partition's log
		// start offset forward (retention by request).
		{Key: int16(kmsg.DeleteRecords), Min: 0, Max: 2},

		// InitProducerId 0..5. v2 is flexible; v3 lets a producer
		// resume with its id and epoch (KIP-360); v4 adds the error
		// PRODUCER_FENCED (KIP-588) and v5 TRANSACTION_ABORTABLE
		// (KIP-890), which we never send. kmsg's max is 5.
		{Key: int16(kmsg.InitProducerID), Min: 0, Max: 5},

		// DescribeConfigs 0..4: all of kmsg's versions; v3 adds
		// documentation (KIP-569), v4 is flexible.
		{Key: int16(kmsg.DescribeConfigs), Min: 0, Max: 4},

		// AlterConfigs 0..2: all of kmsg's versions; v2 is flexible. The
		// older, whole-set form that kafkajs, sarama and librdkafka's
		// AlterConfigs still send.
		{Key: int16(kmsg.AlterConfigs), Min: 0, Max: 2},

		// CreatePartitions 0..3: all of kmsg's versions; v2 is flexible.
		{Key: int16(kmsg.CreatePartitions), Min: 0, Max: 3},

		// DeleteGroups 0..3: v2 flexible, v3 error messages.
		{Key: int16(kmsg.DeleteGroups), Min: 0, Max: 3},

		// IncrementalAlterConfigs 0..1: all of kmsg's versions (KIP-339);
		// v1 is flexible.
		{Key: int16(kmsg.IncrementalAlterConfigs), Min: 0, Max: 1},

		// OffsetDelete 0..0 (KIP-496): kmsg's only version.
		{Key: int16(kmsg.OffsetDelete), Min: 0, Max: 0},

		// DescribeCluster 0..1. v1 adds EndpointType (KIP-919); v2 adds
		// IncludeFencedBrokers, not advertised yet.
		{Key: int16(kmsg.DescribeCluster), Min: 0, Max: 1},

		// ConsumerGroupHeartbeat 0..1 (KIP-848). v1 (Kafka 4.0) has
		// client-made member ids and regex subscriptions; franz-go uses
		// KIP-848 only at v1 and only when asked (ServerSideBalancer).
		{Key: int16(kmsg.ConsumerGroupHeartbeat), Min: 0, Max: 1},

		// ConsumerGroupDescribe 0..1 (KIP-848); v1 adds member types.
		{Key: int16(kmsg.ConsumerGroupDescribe), Min: 0, Max: 1},
	}
}

// SupportedAPIs returns the version table, sorted by key. The slice is a
// fresh copy: callers may keep or modify it.
func SupportedAPIs() []APIRange {
	t := apiTable()
	out := make([]APIRange, len(t))
	copy(out, t[:])
	return out
}

// lookupAPI returns the table row for key.
func lookupAPI(key int16) (APIRange, bool) {
	for _, r := range apiTable() {
		if r.Key == key {
			return r, true
		}
	}
	return APIRange{}, false
}

// VersionSupported reports whether floe serves API key at version.
func VersionSupported(key, version int16) bool {
	r, ok := lookupAPI(key)
	return ok && version >= r.Min && version <= r.Max
}

// APIName returns the Kafka name of an API key ("Produce", "Fetch", ...),
// also for keys floe does not serve, and "Unknown" for keys kmsg does not
// know. It is meant for logs and errors.
func APIName(key int16) string {
	return kmsg.NameForKey(key)
}
