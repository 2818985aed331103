// Package supervision builds floe's actor system: the protoactor system, the
// pool dispatcher for CPU-bound actors, one guardian (supervisor) per pool, the
// tracked goroutine starter, and the counters of restarts and dead letters.
//
// # Pools
//
//   - partitions: partition actors, on the CPU pool dispatcher (GOMAXPROCS
//     workers); a panic restarts that one actor, any number of times (a
//     partition must never stop being served because of a bug elsewhere).
//   - wal: the WAL shard actors, each activation on its own goroutine (they
//     block in write and fdatasync).
//   - cold: object-storage readers, on their own goroutines, bounded in number.
//   - background: uploader and topic manager, on their own goroutines.
//
// # Ownership
//
// The System is built once at start and is read-only afterwards except for the
// counters, which are atomics. The PoolDispatcher's queue is guarded by its
// mutex; workers are started by Start and stopped by Stop.
package supervision
