// Package objformat encodes and decodes stream-set objects: the immutable
// objects the uploader writes to object storage, each holding Kafka record
// batches of many streams (a stream is one partition). A stream object, which
// the uploader writes for a partition with a large share of an upload, and
// the per-partition objects of compaction are the same format with a single
// stream.
//
// # Layout (version 1)
//
// The format is frozen: objects written now must be readable by every later
// floe. A change gets a new version byte in the footer, and readers keep
// accepting the old versions.
//
//	object := block* index footer
//
//	+-----------------+-----------------+-----+-------------------+--------------+
//	| block 0         | block 1         | ... | index             | footer       |
//	| stream s, whole | stream s or a   |     | (indexLength      | (FooterSize  |
//	| Kafka batches   | later stream    |     |  bytes)           |  = 32 bytes) |
//	+-----------------+-----------------+-----+-------------------+--------------+
//	^ position 0                              ^ indexPosition
//
// Blocks are Kafka v2 record batches copied byte for byte, back to back,
// sorted by (stream, base offset). A block holds whole batches of one stream
// only, with contiguous offsets (a gap in a stream's offsets starts a new
// block, so an index entry's range never claims offsets its block lacks),
// and is closed when the next batch would take it past the block size
// (default 512 KiB); a batch larger than the block size gets a block of its
// own. Blocks start at position 0 and follow one another without gaps, so
// the index fully determines where every block is. Blocks carry no checksum
// of their own: every Kafka batch carries a CRC32C of its records, which the
// consumer checks end to end.
//
// Index, all integers big-endian:
//
//	offset  size      field
//	0       4         entryCount   uint32
//	4       56*count  entries, one per block, in object order:
//	                    0  stream        uint64
//	                    8  firstOffset   int64   base offset of the first batch
//	                    16 endOffset     int64   last offset of the last batch + 1
//	                    24 recordCount   int64   sum of the batches' record counts
//	                    32 maxTimestamp  int64   max of the batches' max timestamps (ms)
//	                    40 position      int64   byte offset of the block in the object
//	                    48 size          int64   byte length of the block
//	4+56*count  4     crc              uint32  CRC32C (Castagnoli) of all bytes before it
//
// Footer, the last FooterSize bytes of the object:
//
//	offset  size  field
//	0       8     indexPosition  uint64  byte offset of the index
//	8       8     indexLength    uint64  byte length of the index
//	16      1     version        uint8   1
//	17      3     reserved       zero
//	20      4     crc            uint32  CRC32C of footer bytes 0..19
//	24      8     magic          "FLOESSO\x00" (floe stream-set object)
//
// A reader of a remote object fetches the footer with one ranged read of the
// last FooterSize bytes, then the index with a second, then only the blocks
// it needs. A valid index has entries sorted by (stream, firstOffset), with
// firstOffset < endOffset, no offset range overlapping the previous block of
// the same stream, and blocks contiguous from position 0; the end of the last
// block is the index position.
//
// # Ownership
//
// A [Builder] belongs to one goroutine (the uploader's) from NewBuilder to
// Finish; it keeps references to the Data of the batches added, so the
// caller must not modify those bytes until Finish returns. Finish hands the
// returned object and index to the caller, and the Builder is empty and
// reusable afterwards. The parsing functions are pure: safe from any
// goroutine, and what they return either is freshly allocated (entries) or
// aliases the caller's input (BlockBatches' batches).
package objformat
