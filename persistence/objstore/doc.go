// Package objstore is floe's one seam to object storage: put, ranged get,
// head, list by prefix and delete of immutable objects addressed by string
// keys.
//
// Two implementations sit behind [Store]: [LocalDir], the embedded default,
// which keeps each object as a file under a directory and makes every Put
// crash-safe the way etcd rotates its WAL (write a temporary file, fsync it,
// rename it into place, fsync the directory); and an S3 client, added later.
// [Open] parses the --object-store flag and picks one; [S3Config] already
// holds the validated S3 settings so the S3 client only has to fill in the
// calls. Only the S3 implementation will import the AWS SDK.
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
// system cannot hold a file "a/b" and a file "a/b/c", while S3 can. [ObjectKey]
// builds keys with that property.
//
// # Ownership
//
// Every Store method is safe to call from any goroutine, concurrently; the
// store keeps no per-caller state. Calls block on I/O, so they belong on the
// goroutines of the uploader, the compactor, retention and the cold-read pool,
// never on a network loop or a partition actor. Data passed to Put is not
// retained after Put returns; a slice returned by Get belongs to the caller.
// A [FaultStore]'s fault settings may be changed from any goroutine (a test's
// goroutine usually) while other goroutines are inside calls; its mutex
// guards only those settings and is never held across a call to the wrapped
// store or a wait.
package objstore
