// Package objstore is floe's one seam to object storage: put, ranged get,
// head, list by prefix and delete of immutable objects addressed by string
// keys.
//
// Two implementations sit behind [Store]: [LocalDir], the embedded default,
// which keeps each object as a file under a directory and makes every Put
// crash-safe the way etcd rotates its WAL (write a temporary file, fsync it,
// rename it into place, fsync the directory); and [S3], a bucket on AWS or
// on an S3-compatible server (versitygw in CI), through aws-sdk-go-v2. [Open]
// parses the --object-store flag and picks one. The S3 files (s3*.go) are
// the only ones in floe that import the AWS SDK.
//
// # S3
//
// [S3] keeps keys as given, with no prefix of its own. Put is one PutObject,
// or above 16 MiB a multipart upload of 8 MiB parts, aborted on failure;
// either way S3 publishes the object atomically. Get is one ranged GET whose
// body is read inside the request's attempt, so a transfer cut short is
// retried. Every request holds a slot of a semaphore (max_in_flight,
// default 16) for its whole life, each attempt is bounded (request_timeout,
// default 30s), and transient failures — 5xx, 429, SlowDown and other
// throttling, timeouts, connection errors — are retried by the SDK's
// retryer alone, up to max_attempts (default 5) with full-jitter exponential
// back-off. The first error a method returns is final for that call; the
// caller decides whether to try again later. Credentials come from
// FLOE_S3_ACCESS_KEY_ID and FLOE_S3_SECRET_ACCESS_KEY, else the SDK's
// default chain; they print as "[redacted]" and never appear in an error.
//
// # Keys
//
// A key is a '/'-separated path of non-empty segments, at most [MaxKeyBytes]
// bytes, with no leading or trailing '/', no NUL byte, and no segment that
// begins with '.' (that rules out "." and "..", which would escape the store's
// directory, and reserves dot names for the store's own bookkeeping, such as
// LocalDir's temporary files). [ValidateKey] is applied by every
// implementation, so a key that works against LocalDir in tests works against
// S3 in production.
//
// A key must never be both an object and a "directory" of other keys: a file
// system cannot hold a file "a/b" and a file "a/b/c", while S3 can. LocalDir
// is such a file system, and so is versitygw's posix backend, which maps
// keys to paths the same way; keeping to the rule lets one bucket move
// between AWS, versitygw and a local directory. [ObjectKey] builds keys with
// that property.
//
// ObjectKey begins with four hex digits of a hash of the object id
// ("3fa2/obj/00000000000000000042"): S3 partitions a bucket by key prefix and
// scales each partition's request rate separately, so consecutive ids must
// not share one prefix, or every upload would hit the same partition. The
// hash is the first segment, not a suffix, for that reason; the id stays
// readable and sorts numerically under its prefix.
//
// # Ownership
//
// Every Store method is safe to call from any goroutine, concurrently; the
// store keeps no per-caller state. Calls block on I/O, so they belong on the
// goroutines of the uploader, the compactor, retention and the cold-read pool,
// never on a network loop or a partition actor. Data passed to Put is not
// retained after Put returns; a slice returned by Get belongs to the caller.
// An [S3] store's only mutable state is its semaphore, a buffered channel;
// the goroutines a multipart Put starts for its parts end before Put returns.
// A [FaultStore]'s fault settings may be changed from any goroutine (a test's
// goroutine usually) while other goroutines are inside calls; its mutex
// guards only those settings and is never held across a call to the wrapped
// store or a wait.
package objstore
