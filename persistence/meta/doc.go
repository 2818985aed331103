// Package meta is floe's embedded metadata store: everything the broker must
// remember across a restart other than the data itself. It keeps topics and
// their configs, the streams (one per partition) and their log start
// offsets, the index of objects in object storage (which object holds which
// offset range of which stream), the WAL trim points, producer-id allocation
// and the last batch of every idempotent producer on every stream.
//
// The store is a bbolt file in the data directory. Every write method is one
// bbolt read-write transaction, fsynced before the method returns, so a
// method either happened entirely or not at all, also across kill -9.
// [Store.CommitUpload] relies on that: the object's index entries, the WAL
// trim points and the producer states it carries commit together, so after a
// crash the WAL is never trimmed past data the index does not know.
//
// A cluster of brokers will keep the same data in etcd; the method set of
// [Store] is what that implementation will share, through an interface
// defined by its consumers. Its rules are part of the contract:
//   - ids (streams, objects, producer ids) come from persistent counters and
//     are never reused, even after a crash or a delete;
//   - WAL trim points and log start offsets only move forward; a call that
//     would move one back is a no-op, so a retried or reordered call is
//     harmless;
//   - a deleted topic's streams are recorded (DeletedStreams) so their
//     objects can be cleaned up later, and nothing written afterwards for
//     such a stream (log start, producer state) is kept.
//
// # Layout
//
// One bucket per kind of record, keys big-endian so that bbolt's byte order
// is numeric order: "topics" (name → JSON), "counters", "deleted_streams",
// "log_start" (stream → offset), "objects" (id → binary, see codec.go),
// "wal_trim" (shard → position), "producers" (stream, producer id → binary),
// "groups" and "group_offsets" (consumer groups and their committed offsets,
// made on the first group write; see groups.go), "broker_configs" (dynamic
// broker configs, made on the first write; see broker_configs.go), and
// "schema" (the layout
// version, checked at Open). Compaction's index switch (ReplaceObjects) and
// an upload's commit (CommitUpload) are each one transaction.
//
// # Ownership
//
// A Store is safe for concurrent use by any number of goroutines: bbolt runs
// read transactions in parallel and serialises writers, and the Store keeps
// no other mutable state. Every method blocks on disk (a write waits for an
// fsync, a few hundred microseconds to milliseconds), so call it from the
// topic manager, the uploader, retention, a partition actor's start-up or a
// producer-id allocator — never from a network loop goroutine. Values
// returned are copies; callers may keep and modify them.
package meta
