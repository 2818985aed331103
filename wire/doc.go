// Package wire is floe's codec for the Kafka protocol, on top of franz-go's
// kmsg: request framing and headers, the one table of supported API keys and
// versions (from which ApiVersions is answered), response framing, record
// batch v2 parsing and validation, topic-name rules, and the mapping of its
// errors to Kafka error codes.
//
// It does no I/O, starts no goroutines and imports nothing of the project:
// netloop calls it on frames it has copied out of the event loop's buffer,
// the API handlers call it on batches and to build responses.
//
// # Ownership
//
// Every function is pure: it reads its arguments, writes only what it
// returns or the slice it is given to write (AppendResponse's dst,
// SetBaseOffset's and SetPartitionLeaderEpoch's batch), and keeps nothing.
// There is no package state: the version table is rebuilt by value on each
// call, so nothing is shared between goroutines and no lock exists. Results
// may alias inputs, as each function's comment says (ParseRequestHeader's
// body, DecodeRequest's []byte fields, SplitBatches' batches); the caller
// that owns the input owns them, and must not reuse the input's memory while
// they are in use.
//
// # Errors
//
// Failures are wrapped sentinels (ErrMalformed, ErrCorruptBatch, …): test
// them with errors.Is and turn them into the code a response carries with
// ErrorCode. Nothing here panics on input from the network; the only panics
// are for caller bugs (a response too large for a frame, a batch shorter
// than its header handed to SetBaseOffset).
package wire
