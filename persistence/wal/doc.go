// Package wal is floe's write-ahead log: a preallocated file used as a ring of
// 4 KiB blocks, written with O_DIRECT and fdatasync, read only by recovery.
//
// A Produce with acks≥1 is answered once its batches are in an Append that
// returned: Append writes with RWF_DSYNC (or writes and then calls Datasync),
// because O_DIRECT alone only bypasses the page cache; it does not flush the
// device's volatile write cache (a synchronous write or fdatasync does, with a
// FLUSH/FUA to the device). The trim point moves
// forward once the data is uploaded to object storage and its metadata
// committed; the caller keeps that point durably and hands it to Open.
//
// # File layout
//
// Block 0 is the superblock; the ring is the rest of the file, Capacity()
// bytes. A logical Position only grows; its byte lives at file offset
// 4096 + position % Capacity(). Every record starts on a 4 KiB boundary and
// is followed by zeros up to the next one. All integers are big-endian;
// every CRC is CRC32C (Castagnoli).
//
//	superblock (file offset 0, one block; the rest of the block is zero)
//	+-------+---------+----------+------------+-------------+-----------+
//	| magic | version | reserved | file bytes | write limit | CRC32C    |
//	| "FWSB"|  u8 = 1 | 3 × 0    | u64        | i64 position| of [0,24) |
//	+-------+---------+----------+------------+-------------+-----------+
//	 0       4         5          8            16            24        28
//
//	record
//	+-------+---------+-------+----------+----------+--------+----------+---------+-----------+
//	| magic | version | flags | reserved | position | body   | body     | entry   | header    |
//	| "FWLR"|  u8 = 1 |  u8   | u16 = 0  | i64      | length | CRC32C   | count   | CRC32C    |
//	|       |         |       |          |          | u32    | u32      | u32     | of [0,28) |
//	+-------+---------+-------+----------+----------+--------+----------+---------+-----------+
//	 0       4         5       6          8          16       20         24        28        32
//	then the body (body length bytes), then zeros to the next 4 KiB boundary.
//
//	body = entry count × entry
//	+-----------+-------------+-------------+-----------------------+
//	| stream    | base offset | data length | data (a Kafka record  |
//	| u64       | i64         | u32         | batch, opaque here)   |
//	+-----------+-------------+-------------+-----------------------+
//	 0           8             16            20
//
// The position field is the record's own logical position: the same ring
// offset holds a different position on every lap, so recovery tells this lap
// from the previous one. Flags: bit 0 (WRAP) marks a padding record, written
// where the next record would not fit before the end of the file; its body is
// empty, the rest of the ring up to the end of the file is skipped, and the
// next record sits at ring offset 0 with the position advanced accordingly.
// Other flag bits must be zero. The version byte is 1; a record or superblock
// whose CRC checks out but whose version (or flags) this build does not know
// makes Open or Replay fail rather than drop data a newer floe wrote. The
// format is frozen once released: change it only with a new version.
//
// # Writing
//
// Append packs entries into records of at most Options.MaxWriteBytes (an
// entry bigger than that gets a record of its own), lays them out after the
// write position, refuses with ErrFull if they would overrun the trim point,
// writes them from one reused aligned buffer with one WriteAtSync (pwritev2
// with RWF_DSYNC); when the buffer fills or the ring wraps, it writes the
// pieces with WriteAt and then calls Datasync once. One Append may
// write at most half the ring (ErrTooLarge beyond that), so a wrap's padding
// is always smaller than the records after it and an Append always fits into
// an emptied ring. Any write or sync error is sticky (ErrStorage).
//
// # Recovery
//
// Replay reads the ring from the trim point in 4 MiB chunks and stops at the
// first block whose header has the wrong magic or CRC, a position other than
// the expected one (the previous lap, or zeros), or whose body fails its CRC
// (a torn write). The writer continues there.
//
// # Stale records
//
// A crash during an Append can leave a later record of that Append on disk
// while an earlier one is torn. Recovery stops at the torn one, and new
// records overwrite it; if a new record ends exactly where the stale one
// starts, a second crash would replay the stale record as if it were the next
// one, with offsets the partition has since reused. So before the writer
// writes past the superblock's write limit it raises the limit durably (a
// stride of up to 64 MiB at a time, so one extra sync per stride), and Replay
// zeroes the ring from the recovered end up to that limit before the first
// Append. Close lowers the limit to End, so a clean restart erases nothing.
//
// # Ownership
//
// One goroutine, the WAL's owner (in floe a WAL actor), calls Open, Replay,
// Append and Close; they are not safe for concurrent use, and the write
// buffer, the superblock copy and the file's write side belong to it. End,
// Used, Capacity, Err and Trim are safe from any goroutine: the write
// position, the trim point and the sticky error are atomics, the write
// position is published only after the Datasync that made it durable, and a
// concurrent Trim can only make more room than Append checked for. The Entry
// slices passed to Append are not retained; the ones Replay hands out belong
// to the caller. FaultFS, for tests, may be told to fail or crash from any
// goroutine.
package wal
