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
func apiTable() [12]APIRange {
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

		// Metadata 1..12. From v1 a null topic list means "all topics"
		// and an empty one means none (v0 used empty for all). v10+
		// responses carry topic IDs, which we have. v13 (KIP-1102) only
		// adds a top-level error code; not advertised yet.
		{Key: int16(kmsg.Metadata), Min: 1, Max: 12},

		// Consumer-group keys 8..16 go here when the group coordinator
		// issue lands: OffsetCommit (8), OffsetFetch (9),
		// FindCoordinator (10), JoinGroup (11), Heartbeat (12),
		// LeaveGroup (13), SyncGroup (14), DescribeGroups (15),
		// ListGroups (16). DeleteGroups (42), OffsetDelete (47) and
		// ConsumerGroupHeartbeat (68) go at their places below. Keep the
		// rows sorted by key and bump apiTable's array length.

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

		// DeleteRecords (21) 0..2 goes here with its issue.

		// InitProducerId 0..5. v2 is flexible; v3 lets a producer
		// resume with its id and epoch (KIP-360); v4 adds the error
		// PRODUCER_FENCED (KIP-588) and v5 TRANSACTION_ABORTABLE
		// (KIP-890), which we never send. kmsg's max is 5.
		{Key: int16(kmsg.InitProducerID), Min: 0, Max: 5},

		// DescribeConfigs 0..4: all of kmsg's versions; v3 adds
		// documentation (KIP-569), v4 is flexible.
		{Key: int16(kmsg.DescribeConfigs), Min: 0, Max: 4},

		// CreatePartitions 0..3: all of kmsg's versions; v2 is flexible.
		{Key: int16(kmsg.CreatePartitions), Min: 0, Max: 3},

		// (DeleteGroups 42 goes here.)

		// IncrementalAlterConfigs 0..1: all of kmsg's versions (KIP-339);
		// v1 is flexible.
		{Key: int16(kmsg.IncrementalAlterConfigs), Min: 0, Max: 1},

		// (OffsetDelete 47 goes here.)

		// DescribeCluster 0..1. v1 adds EndpointType (KIP-919); v2 adds
		// IncludeFencedBrokers, not advertised yet.
		{Key: int16(kmsg.DescribeCluster), Min: 0, Max: 1},

		// (ConsumerGroupHeartbeat 68 goes here.)
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
