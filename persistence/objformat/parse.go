package objformat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// ParseFooter decodes the last FooterSize bytes of an object and returns
// where its index lies. It checks the magic, the version, the CRC and that
// the index position and length are plausible; whether they fit the object
// is for the caller (ParseObject checks it).
func ParseFooter(footer []byte) (indexPos int64, indexLen int64, err error) {
	if len(footer) != FooterSize {
		return 0, 0, fmt.Errorf("%w: footer of %d bytes, want %d", ErrCorrupt, len(footer), FooterSize)
	}
	if string(footer[footerMagicAt:]) != footerMagic {
		return 0, 0, fmt.Errorf("%w: bad footer magic %q", ErrCorrupt, footer[footerMagicAt:])
	}
	want := binary.BigEndian.Uint32(footer[footerCRCAt:])
	if got := crc32.Checksum(footer[:footerCRCAt], castagnoli); got != want {
		return 0, 0, fmt.Errorf("%w: footer CRC %#08x, stored %#08x", ErrCorrupt, got, want)
	}
	// The version is checked after the CRC, so that a flipped bit reads as
	// corruption rather than as an object from the future.
	if version := footer[footerVersionAt]; version != Version {
		return 0, 0, fmt.Errorf("%w: %d (this build reads %d)", ErrUnsupportedVersion, version, Version)
	}
	if !bytes.Equal(footer[footerVersionAt+1:footerCRCAt], []byte{0, 0, 0}) {
		return 0, 0, fmt.Errorf("%w: reserved footer bytes are not zero", ErrCorrupt)
	}
	position := binary.BigEndian.Uint64(footer[0:])
	length := binary.BigEndian.Uint64(footer[8:])
	if position > math.MaxInt64 || length > math.MaxInt64-position {
		return 0, 0, fmt.Errorf("%w: index at %d, length %d, out of range", ErrCorrupt, position, length)
	}
	if length < emptyIndexSize || (length-emptyIndexSize)%indexEntrySize != 0 ||
		(length-emptyIndexSize)/indexEntrySize > maxIndexEntries {
		return 0, 0, fmt.Errorf("%w: index length %d is not a whole number of entries", ErrCorrupt, length)
	}
	return int64(position), int64(length), nil
}

// ParseIndex decodes an index, checks its CRC and validates every entry (see
// the package doc for the rules). The returned entries are new memory.
func ParseIndex(index []byte) ([]IndexEntry, error) {
	if len(index) < emptyIndexSize {
		return nil, fmt.Errorf("%w: index of %d bytes, need at least %d", ErrCorrupt, len(index), emptyIndexSize)
	}
	body := index[:len(index)-indexCRCSize]
	want := binary.BigEndian.Uint32(index[len(body):])
	if got := crc32.Checksum(body, castagnoli); got != want {
		return nil, fmt.Errorf("%w: index CRC %#08x, stored %#08x", ErrCorrupt, got, want)
	}
	count := binary.BigEndian.Uint32(body)
	if uint64(len(index)) != uint64(indexSize(0))+uint64(count)*indexEntrySize {
		return nil, fmt.Errorf("%w: index of %d bytes cannot hold %d entries", ErrCorrupt, len(index), count)
	}
	entries := make([]IndexEntry, count)
	for i := range entries {
		entries[i] = decodeIndexEntry(body[indexHeaderSize+i*indexEntrySize:])
		if err := validateEntry(entries, i); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// validateEntry checks entry i on its own and against entry i-1.
func validateEntry(entries []IndexEntry, i int) error {
	entry := entries[i]
	if entry.FirstOffset < 0 || entry.FirstOffset >= entry.EndOffset {
		return fmt.Errorf("%w: index entry %d: offsets [%d, %d)", ErrCorrupt, i, entry.FirstOffset, entry.EndOffset)
	}
	// Compaction can leave gaps between offsets, so fewer records than the
	// range is fine; more is not.
	if entry.RecordCount < 0 || uint64(entry.RecordCount) > uint64(entry.EndOffset-entry.FirstOffset) {
		return fmt.Errorf("%w: index entry %d: %d records in [%d, %d)", ErrCorrupt, i, entry.RecordCount, entry.FirstOffset, entry.EndOffset)
	}
	var wantPosition int64
	if i > 0 {
		previous := entries[i-1]
		wantPosition = previous.Position + previous.Size
		if entry.Stream < previous.Stream ||
			(entry.Stream == previous.Stream && entry.FirstOffset < previous.EndOffset) {
			return fmt.Errorf("%w: index entry %d (stream %d, offset %d) is out of order after stream %d, end offset %d",
				ErrCorrupt, i, entry.Stream, entry.FirstOffset, previous.Stream, previous.EndOffset)
		}
	}
	if entry.Position != wantPosition {
		return fmt.Errorf("%w: index entry %d at position %d, want %d (blocks are contiguous)", ErrCorrupt, i, entry.Position, wantPosition)
	}
	if entry.Size < batchHeaderSize || entry.Size > math.MaxInt64-entry.Position {
		return fmt.Errorf("%w: index entry %d: block size %d", ErrCorrupt, i, entry.Size)
	}
	return nil
}

// ParseObject returns the index of a whole object after checking the
// footer, the index and that the blocks end exactly where the index begins.
func ParseObject(object []byte) ([]IndexEntry, error) {
	if len(object) < FooterSize {
		return nil, fmt.Errorf("%w: object of %d bytes is shorter than a footer", ErrCorrupt, len(object))
	}
	footerPosition := int64(len(object) - FooterSize)
	indexPos, indexLen, err := ParseFooter(object[footerPosition:])
	if err != nil {
		return nil, err
	}
	if indexPos+indexLen != footerPosition {
		return nil, fmt.Errorf("%w: index [%d, +%d) does not end at the footer (%d)", ErrCorrupt, indexPos, indexLen, footerPosition)
	}
	entries, err := ParseIndex(object[indexPos:footerPosition])
	if err != nil {
		return nil, err
	}
	if end := blocksEnd(entries); end != indexPos {
		return nil, fmt.Errorf("%w: blocks end at %d, index begins at %d", ErrCorrupt, end, indexPos)
	}
	return entries, nil
}

// blocksEnd is the position just past the last block: the index position of
// a valid object.
func blocksEnd(entries []IndexEntry) int64 {
	if len(entries) == 0 {
		return 0
	}
	last := entries[len(entries)-1]
	return last.Position + last.Size
}

// BlockBatches splits a block into the Kafka record batches it holds, using
// only the v2 framing (8-byte base offset, then a 4-byte big-endian length
// counting the bytes after it); the batches themselves are not validated.
// The returned slices alias block. A block that ends inside a batch is an
// error.
func BlockBatches(block []byte) ([][]byte, error) {
	var batches [][]byte
	for pos := 0; pos < len(block); {
		size, err := BatchSizeAt(block, pos)
		if err != nil {
			return nil, err
		}
		batches = append(batches, block[pos:pos+size:pos+size])
		pos += size
	}
	return batches, nil
}

// BatchSizeAt returns the size of the record batch that starts at byte pos of
// block, by the same framing as BlockBatches, so a reader can walk a block
// from any batch boundary without splitting all of it.
func BatchSizeAt(block []byte, pos int) (int, error) {
	rest := block[pos:]
	if len(rest) < batchHeaderSize {
		return 0, fmt.Errorf("%w: block truncated in a batch header at byte %d", ErrCorrupt, pos)
	}
	length := int32(binary.BigEndian.Uint32(rest[8:]))
	if length < 0 || int64(length) > int64(len(rest)-batchHeaderSize) {
		return 0, fmt.Errorf("%w: batch at byte %d claims %d bytes, %d remain", ErrCorrupt, pos, length, len(rest)-batchHeaderSize)
	}
	return batchHeaderSize + int(length), nil
}
