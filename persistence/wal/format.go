package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The on-disk format; doc.go draws it. Frozen once released: change it only
// with a new formatVersion.
const (
	blockSize       = 4096
	formatVersion   = 1
	recordMagic     = 0x46574c52 // "FWLR"
	headerSize      = 32
	entryHeaderSize = 20

	// flagWrap marks a padding record: the rest of the ring, up to the end of
	// the file, holds no record and the next one starts at physical offset 0.
	flagWrap   = 1 << 0
	knownFlags = flagWrap

	// maxRecordBytes bounds one record so that its body length fits the u32
	// field.
	maxRecordBytes = math.MaxUint32 &^ (blockSize - 1)
)

// castagnoli is the CRC32C table (hardware-accelerated on amd64 and arm64).
// Written once at package initialisation, read-only afterwards.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func alignUp(n int64) int64   { return (n + blockSize - 1) &^ (blockSize - 1) }
func alignDown(n int64) int64 { return n &^ (blockSize - 1) }

// recordSize is the ring space a record with a body of bodyLength bytes takes.
func recordSize(bodyLength int64) int64 { return alignUp(headerSize + bodyLength) }

// maxAppendBytes is the most one Append may write, records only (padding
// excluded): half the ring. Then a wrap's padding is always smaller than the
// records that caused it, so the Append fits into an empty ring wherever the
// write position is, and ErrFull is always cured by trimming.
func maxAppendBytes(ringBytes int64) int64 { return alignDown(ringBytes / 2) }

// recordHeader is the fixed header at the start of every record.
type recordHeader struct {
	flags      uint8
	position   Position // the record's own logical position
	bodyLength uint32
	bodyCRC    uint32
	entryCount uint32
}

func (h *recordHeader) encode(b []byte) {
	_ = b[headerSize-1]
	binary.BigEndian.PutUint32(b[0:4], recordMagic)
	b[4] = formatVersion
	b[5] = h.flags
	b[6], b[7] = 0, 0
	binary.BigEndian.PutUint64(b[8:16], uint64(h.position))
	binary.BigEndian.PutUint32(b[16:20], h.bodyLength)
	binary.BigEndian.PutUint32(b[20:24], h.bodyCRC)
	binary.BigEndian.PutUint32(b[24:28], h.entryCount)
	binary.BigEndian.PutUint32(b[28:32], crc32.Checksum(b[:28], castagnoli))
}

// decodeHeader reads a header. ok is false when b holds no record header
// (wrong magic or header CRC): a torn write, zeros or random bytes, where
// recovery stops. A header that checks out but has a version or flags this
// build does not know is an error instead: a newer floe wrote it, and treating
// it as the end of the log would silently drop acknowledged data.
func decodeHeader(b []byte) (h recordHeader, ok bool, err error) {
	_ = b[headerSize-1]
	if binary.BigEndian.Uint32(b[0:4]) != recordMagic ||
		binary.BigEndian.Uint32(b[28:32]) != crc32.Checksum(b[:28], castagnoli) {
		return h, false, nil
	}
	if b[4] != formatVersion || b[5]&^knownFlags != 0 || b[6] != 0 || b[7] != 0 {
		return h, false, fmt.Errorf("wal: record header has format version %d, flags %#x: this build reads version %d",
			b[4], b[5], formatVersion)
	}
	h.flags = b[5]
	h.position = Position(binary.BigEndian.Uint64(b[8:16]))
	h.bodyLength = binary.BigEndian.Uint32(b[16:20])
	h.bodyCRC = binary.BigEndian.Uint32(b[20:24])
	h.entryCount = binary.BigEndian.Uint32(b[24:28])
	return h, true, nil
}

// putEntry encodes e at the start of b and returns the bytes used.
func putEntry(b []byte, e *Entry) int {
	_ = b[entryHeaderSize-1]
	binary.BigEndian.PutUint64(b[0:8], e.Stream)
	binary.BigEndian.PutUint64(b[8:16], uint64(e.BaseOffset))
	binary.BigEndian.PutUint32(b[16:20], uint32(len(e.Data)))
	return entryHeaderSize + copy(b[entryHeaderSize:], e.Data)
}

// encodeRecord fills dst (exactly one record, block-aligned length) with a
// record at pos holding entries, whose encoded body is bodyLength bytes.
func encodeRecord(dst []byte, pos Position, entries []Entry, bodyLength int) {
	body := dst[headerSize : headerSize+bodyLength]
	n := 0
	for i := range entries {
		n += putEntry(body[n:], &entries[i])
	}
	// The buffer is reused: stale bytes in the padding would not harm
	// recovery (the CRCs cover only header and body) but would leak old data
	// into the file.
	clear(dst[headerSize+bodyLength:])
	h := recordHeader{
		position:   pos,
		bodyLength: uint32(bodyLength),
		bodyCRC:    crc32.Checksum(body, castagnoli),
		entryCount: uint32(len(entries)),
	}
	h.encode(dst[:headerSize])
}

// encodeWrap fills dst (one block) with the padding record at pos.
func encodeWrap(dst []byte, pos Position) {
	clear(dst[:blockSize])
	h := recordHeader{flags: flagWrap, position: pos, bodyCRC: crc32.Checksum(nil, castagnoli)}
	h.encode(dst[:headerSize])
}

// checkBody reports whether body is exactly count well-formed entries.
func checkBody(body []byte, count uint32) bool {
	for ; count > 0; count-- {
		if len(body) < entryHeaderSize {
			return false
		}
		n := binary.BigEndian.Uint32(body[16:20])
		if uint64(n) > uint64(len(body)-entryHeaderSize) {
			return false
		}
		body = body[entryHeaderSize+int(n):]
	}
	return len(body) == 0
}

// nextEntry decodes the entry at the start of a body already checked by
// checkBody; e.Data aliases body.
func nextEntry(body []byte) (e Entry, rest []byte) {
	e.Stream = binary.BigEndian.Uint64(body[0:8])
	e.BaseOffset = int64(binary.BigEndian.Uint64(body[8:16]))
	n := int(binary.BigEndian.Uint32(body[16:20]))
	e.Data = body[entryHeaderSize : entryHeaderSize+n : entryHeaderSize+n]
	return e, body[entryHeaderSize+n:]
}
