package objformat

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
)

// Format constants; see the layout in the package doc.
const (
	// Version is the format version written by this package.
	Version = 1
	// FooterSize is the fixed length of the footer at the end of an object.
	FooterSize = 32
	// DefaultBlockSize is the block size NewBuilder uses when given none:
	// large enough that a catch-up read is a few big sequential reads, small
	// enough that the cold path's block cache does not waste much on a
	// consumer that reads only the head of a block.
	DefaultBlockSize = 512 << 10

	indexEntrySize  = 56
	indexHeaderSize = 4 // entry count
	indexCRCSize    = 4
	// emptyIndexSize is the length of an index with no entries.
	emptyIndexSize = indexHeaderSize + indexCRCSize
	// maxIndexEntries is what the uint32 entry count can hold.
	maxIndexEntries = math.MaxUint32

	// batchHeaderSize is the Kafka v2 framing BlockBatches relies on: an
	// 8-byte base offset and a 4-byte length of the bytes after it.
	batchHeaderSize = 12

	footerVersionAt = 16
	footerCRCAt     = 20
	footerMagicAt   = 24
)

// footerMagic ends every object, so that a reader recognises a stream-set
// object (and a truncated upload) from its last bytes.
const footerMagic = "FLOESSO\x00"

var (
	// ErrCorrupt is returned (wrapped, with details) when bytes are not a
	// well-formed object, index, footer or block.
	ErrCorrupt = errors.New("objformat: corrupt")
	// ErrUnsupportedVersion is returned (wrapped) for a footer with a version
	// this build cannot read, e.g. an object written by a newer floe.
	ErrUnsupportedVersion = errors.New("objformat: unsupported version")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// IndexEntry describes one block of an object.
type IndexEntry struct {
	// Stream is the stream (partition) all batches of the block belong to.
	Stream uint64
	// FirstOffset is the base offset of the block's first batch.
	FirstOffset int64
	// EndOffset is one past the last offset of the block's last batch.
	EndOffset int64
	// RecordCount is the number of records in the block's batches.
	RecordCount int64
	// MaxTimestamp is the largest max timestamp of the block's batches (ms).
	MaxTimestamp int64
	// Position is the block's byte offset in the object.
	Position int64
	// Size is the block's byte length.
	Size int64
}

// appendIndex encodes entries as an index (count, entries, CRC32C).
func appendIndex(dst []byte, entries []IndexEntry) []byte {
	if len(entries) > maxIndexEntries {
		panic("objformat: more index entries than the format can count")
	}
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(entries)))
	for _, entry := range entries {
		dst = binary.BigEndian.AppendUint64(dst, entry.Stream)
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.FirstOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.EndOffset))
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.RecordCount))
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.MaxTimestamp))
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.Position))
		dst = binary.BigEndian.AppendUint64(dst, uint64(entry.Size))
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeIndexEntry reads one entry; the caller has checked the length.
func decodeIndexEntry(b []byte) IndexEntry {
	return IndexEntry{
		Stream:       binary.BigEndian.Uint64(b[0:]),
		FirstOffset:  int64(binary.BigEndian.Uint64(b[8:])),
		EndOffset:    int64(binary.BigEndian.Uint64(b[16:])),
		RecordCount:  int64(binary.BigEndian.Uint64(b[24:])),
		MaxTimestamp: int64(binary.BigEndian.Uint64(b[32:])),
		Position:     int64(binary.BigEndian.Uint64(b[40:])),
		Size:         int64(binary.BigEndian.Uint64(b[48:])),
	}
}

// appendFooter encodes the footer for an index at indexPosition.
func appendFooter(dst []byte, indexPosition, indexLength int64) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(indexPosition))
	dst = binary.BigEndian.AppendUint64(dst, uint64(indexLength))
	dst = append(dst, Version, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
	return append(dst, footerMagic...)
}

// indexSize is the encoded length of an index with n entries.
func indexSize(n int) int { return emptyIndexSize + n*indexEntrySize }
