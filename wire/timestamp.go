package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedRecords bounds what RecordAtTime decompresses of one batch:
// a producer may send a batch that inflates without end (it is stored as
// sent), and the broker must not follow it. Batches are read as a stream, so
// this bounds work, not memory.
const MaxDecompressedRecords = 256 << 20

// RecordAtTime finds, in one record batch, the first record at offset from
// or later whose timestamp is at least target, as ListOffsets by timestamp
// answers (Kafka's LogSegment.findOffsetByTimestamp). ok is false when no
// record of the batch qualifies. A LogAppendTime batch gives every record
// the batch's time, so it needs no record read; a compressed CreateTime
// batch is decompressed as a stream up to the record found.
//
// The batch was validated when it was produced, but compressed records were
// not, and it may have been read back from storage: a record that runs past
// its batch is ErrCorruptBatch, never a panic.
func RecordAtTime(batch []byte, h BatchHeader, from, target int64) (offset, timestamp int64, ok bool, err error) {
	if err := checkOffsets(h); err != nil {
		return -1, -1, false, err
	}
	if h.MaxTimestamp < target || h.LastOffset() < from {
		return -1, -1, false, nil
	}
	if h.TimestampType() == 1 {
		return max(from, h.BaseOffset), h.MaxTimestamp, true, nil
	}
	offset, timestamp = -1, -1
	err = eachRecordTime(batch, h, func(off, ts int64) bool {
		if off >= from && ts >= target {
			offset, timestamp, ok = off, ts, true
			return false
		}
		return true
	})
	if err != nil {
		return -1, -1, false, err
	}
	return offset, timestamp, ok, nil
}

// MaxTimeFrom finds, in one record batch, the first record at offset from
// or later with the largest timestamp among those records: what ListOffsets
// for the max timestamp (KIP-734) needs of a batch that the log start
// offset cuts, whose header's largest timestamp may belong to a deleted
// record. ok is false when no record is at or after from. Errors are those
// of RecordAtTime.
func MaxTimeFrom(batch []byte, h BatchHeader, from int64) (offset, timestamp int64, ok bool, err error) {
	if err := checkOffsets(h); err != nil {
		return -1, -1, false, err
	}
	if h.LastOffset() < from {
		return -1, -1, false, nil
	}
	if h.TimestampType() == 1 {
		return max(from, h.BaseOffset), h.MaxTimestamp, true, nil
	}
	offset, timestamp = -1, -1
	err = eachRecordTime(batch, h, func(off, ts int64) bool {
		if off >= from && (!ok || ts > timestamp) {
			offset, timestamp, ok = off, ts, true
		}
		return true
	})
	if err != nil {
		return -1, -1, false, err
	}
	return offset, timestamp, ok, nil
}

func checkOffsets(h BatchHeader) error {
	if h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 || h.BaseOffset < 0 || h.LastOffset() < h.BaseOffset {
		return &invalidBatchError{fmt.Sprintf("offsets %d to %d with %d records", h.BaseOffset, h.LastOffset(), h.NumRecords)}
	}
	return nil
}

// eachRecordTime calls visit with the offset and timestamp of each record
// of a CreateTime batch, in order, until visit returns false. A compressed
// batch is decompressed as a stream, as far as visit goes.
func eachRecordTime(batch []byte, h BatchHeader, visit func(offset, timestamp int64) bool) error {
	if len(batch) < BatchHeaderSize {
		return fmt.Errorf("%w: %d bytes, too short for a batch header", ErrCorruptBatch, len(batch))
	}
	src, closeSrc, err := recordsReader(batch[BatchHeaderSize:], h.Compression())
	if err != nil {
		return fmt.Errorf("%w: batch at offset %d: %v", ErrCorruptBatch, h.BaseOffset, err)
	}
	defer closeSrc()
	r := bufio.NewReaderSize(io.LimitReader(src, MaxDecompressedRecords), 4<<10)
	// A record's attributes and timestamp delta fit in this.
	var head [1 + binary.MaxVarintLen64]byte
	for i := int32(0); i < h.NumRecords; i++ {
		length, err := binary.ReadVarint(r)
		if err != nil || length < 1 || length > MaxDecompressedRecords {
			return recordAtTimeError(h, i, err)
		}
		n, err := io.ReadFull(r, head[:min(int(length), len(head))])
		if err != nil {
			return recordAtTimeError(h, i, err)
		}
		delta, tn := readVarint64(head[1:n]) // after the unused attributes
		if tn == 0 {
			return recordAtTimeError(h, i, nil)
		}
		// The record's offset is its place in the batch, as the broker
		// assigns offsets (a compressed batch's offset deltas were never
		// checked).
		if !visit(h.BaseOffset+int64(i), h.FirstTimestamp+delta) {
			return nil
		}
		if _, err := r.Discard(int(length) - n); err != nil {
			return recordAtTimeError(h, i, err)
		}
	}
	return nil
}

func recordAtTimeError(h BatchHeader, index int32, err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: batch at offset %d: record %d: %v", ErrCorruptBatch, h.BaseOffset, index, err)
}

// recordsReader streams the records of a batch (the bytes after its
// header), decompressing them with the batch's codec.
func recordsReader(records []byte, codec int8) (io.Reader, func(), error) {
	src := bytes.NewReader(records)
	switch codec {
	case 0:
		return src, func() {}, nil
	case 1:
		r, err := gzip.NewReader(src)
		if err != nil {
			return nil, nil, err
		}
		return r, func() { _ = r.Close() }, nil
	case 2:
		return &snappyReader{src: records}, func() {}, nil
	case 3:
		return lz4.NewReader(src), func() {}, nil
	case 4:
		r, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(MaxDecompressedRecords))
		if err != nil {
			return nil, nil, err
		}
		return r, r.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown compression codec %d", codec)
}

// xerialHeader starts the framing the Java producer gives snappy (its
// magic, version 1, compatible version 1); each block after it is a big
// endian length and a raw snappy block. Without it the records are one
// raw block.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1}

// maxSnappyRatio bounds a block's declared length by its compressed size:
// a snappy copy of 64 bytes takes 2 bytes at least, so no honest block
// declares more, and a block that does would have the decoder allocate it
// up front.
const maxSnappyRatio = 32

// snappyReader decodes snappy records, framed or not, one block at a time.
type snappyReader struct {
	src     []byte // blocks not decoded yet
	started bool
	block   []byte // decoded, not read yet
	buf     []byte
}

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.block) == 0 {
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.block)
	s.block = s.block[n:]
	return n, nil
}

func (s *snappyReader) next() error {
	var raw []byte
	switch {
	case !s.started && !bytes.HasPrefix(s.src, xerialHeader[:8]):
		raw, s.src = s.src, nil
		if len(raw) == 0 {
			return io.EOF
		}
	case len(s.src) == 0:
		return io.EOF
	default:
		if !s.started {
			if len(s.src) < len(xerialHeader) {
				return io.ErrUnexpectedEOF
			}
			s.src = s.src[len(xerialHeader):]
			if len(s.src) == 0 {
				return io.EOF
			}
		}
		if len(s.src) < 4 {
			return io.ErrUnexpectedEOF
		}
		size := binary.BigEndian.Uint32(s.src)
		if uint64(size) > uint64(len(s.src)-4) {
			return io.ErrUnexpectedEOF
		}
		raw, s.src = s.src[4:4+size], s.src[4+size:]
	}
	s.started = true
	n, err := s2.DecodedLen(raw)
	if err != nil {
		return err
	}
	if n > maxSnappyRatio*len(raw)+64 {
		return fmt.Errorf("snappy block of %d bytes declares %d", len(raw), n)
	}
	if s.block, err = s2.Decode(s.buf[:cap(s.buf)], raw); err != nil {
		return err
	}
	s.buf = s.block
	return nil
}
