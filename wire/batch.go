package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record batch v2 (magic 2), as Kafka writes it and floe stores it:
//
//	offset size field
//	     0    8 baseOffset            ┐ outside the CRC: the broker
//	     8    4 batchLength           │ rewrites baseOffset and
//	    12    4 partitionLeaderEpoch  │ partitionLeaderEpoch without
//	    16    1 magic (2)             │ recomputing it
//	    17    4 crc (CRC32C of bytes 21..end)
//	    21    2 attributes            ┐
//	    23    4 lastOffsetDelta       │
//	    27    8 baseTimestamp         │ covered
//	    35    8 maxTimestamp          │ by the
//	    43    8 producerId            │ CRC
//	    51    2 producerEpoch         │
//	    53    4 baseSequence          │
//	    57    4 recordCount           │
//	    61    … records               ┘
//
// batchLength counts the bytes after itself, so a batch is 12+batchLength
// bytes long.
const (
	// BatchHeaderSize is the size of a record batch header, records excluded.
	BatchHeaderSize = 61

	offsetBaseOffset           = 0
	offsetLength               = 8
	offsetPartitionLeaderEpoch = 12
	offsetMagic                = 16
	offsetCRC                  = 17
	offsetAttributes           = 21
	offsetLastOffsetDelta      = 23
	offsetFirstTimestamp       = 27
	offsetMaxTimestamp         = 35
	offsetProducerID           = 43
	offsetProducerEpoch        = 51
	offsetBaseSequence         = 53
	offsetNumRecords           = 57

	// batchLengthOverhead is what precedes and includes the length field.
	batchLengthOverhead = offsetLength + 4
	// minBatchLength is the smallest valid batchLength: a header, no
	// records.
	minBatchLength = BatchHeaderSize - batchLengthOverhead

	currentMagic = 2

	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20

	// maxCompressionCodec is the highest codec Kafka defines: 0 none,
	// 1 gzip, 2 snappy, 3 lz4, 4 zstd.
	maxCompressionCodec = 4
)

// castagnoli is the CRC32C polynomial table record batches use. crc32
// caches it (and picks the SSE4.2/ARMv8 instruction) after the first call.
func castagnoli() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) }

// BatchHeader is the fixed header of a record batch v2.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// LastOffset is the offset of the batch's last record.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
func (h BatchHeader) Compression() int8 { return int8(h.Attributes & attrCompressionMask) }

// Transactional reports whether the batch is part of a transaction.
func (h BatchHeader) Transactional() bool { return h.Attributes&attrTransactional != 0 }

// Control reports whether the batch holds a control record (a transaction
// marker), which only a broker writes.
func (h BatchHeader) Control() bool { return h.Attributes&attrControl != 0 }

// TimestampType is 0 for CreateTime, 1 for LogAppendTime.
func (h BatchHeader) TimestampType() int8 {
	if h.Attributes&attrTimestampType != 0 {
		return 1
	}
	return 0
}

// Size is the whole batch's size in bytes, header included.
func (h BatchHeader) Size() int { return batchLengthOverhead + int(h.Length) }

// ParseBatchHeader parses the record batch header at the start of b. It
// reads the magic byte first: magic 0 or 1 (a legacy message set, whose
// header is shorter) is ErrOldMessageFormat, any other magic but 2 is
// ErrCorruptBatch. Fewer than BatchHeaderSize bytes, or a batchLength too
// small for a header, is ErrCorruptBatch. It checks nothing else: see
// ValidateBatch.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) <= offsetMagic {
		return h, fmt.Errorf("%w: %d bytes, too short for a batch header", ErrCorruptBatch, len(b))
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[offsetBaseOffset:]))
	h.Length = int32(binary.BigEndian.Uint32(b[offsetLength:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[offsetPartitionLeaderEpoch:]))
	h.Magic = int8(b[offsetMagic])
	switch {
	case h.Magic == 0 || h.Magic == 1:
		return h, fmt.Errorf("%w: magic %d", ErrOldMessageFormat, h.Magic)
	case h.Magic != currentMagic:
		return h, fmt.Errorf("%w: unknown magic %d", ErrCorruptBatch, h.Magic)
	case len(b) < BatchHeaderSize:
		return h, fmt.Errorf("%w: %d bytes, a batch header needs %d", ErrCorruptBatch, len(b), BatchHeaderSize)
	case h.Length < minBatchLength:
		return h, fmt.Errorf("%w: batch length %d below the minimum %d", ErrCorruptBatch, h.Length, minBatchLength)
	}
	h.CRC = binary.BigEndian.Uint32(b[offsetCRC:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[offsetAttributes:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[offsetLastOffsetDelta:]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[offsetFirstTimestamp:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[offsetMaxTimestamp:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[offsetProducerID:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[offsetProducerEpoch:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[offsetBaseSequence:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[offsetNumRecords:]))
	return h, nil
}

// ValidateBatch checks one record batch that must fill b exactly, as a
// producer sent it, and returns its header.
//
// Damage (ErrCorruptBatch, Kafka's retriable CORRUPT_MESSAGE): fewer bytes
// than a header, a batchLength that disagrees with len(b), a CRC32C
// mismatch. Magic 0/1 is ErrOldMessageFormat. Content the producer got wrong
// (ErrInvalidRecord, which also matches ErrCorruptBatch): NumRecords < 1,
// LastOffsetDelta != NumRecords-1 (a producer's batch has no offset gaps;
// compaction makes them, so a compacted batch is not valid input here), an
// unknown compression codec, and for an uncompressed batch any record that
// does not parse (see walkRecords).
//
// Compressed batches are stored as sent: ValidateBatch does not decompress
// them, so their records are checked only by the CRC (which the producer
// computed over the compressed bytes). A consumer decompresses them and
// would find a producer's malformed records there, as it would from a
// Kafka broker that kept the batch in place.
//
// Rules about who may write what (control batches, producer id and
// sequence, timestamps, zstd before Produce v7) belong to the Produce
// handler, which knows the request; ValidateBatch checks the format only.
func ValidateBatch(b []byte) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if int64(len(b)) != int64(batchLengthOverhead)+int64(h.Length) {
		return h, fmt.Errorf("%w: batch length field says %d bytes, batch has %d", ErrCorruptBatch, int64(batchLengthOverhead)+int64(h.Length), len(b))
	}
	if crc := crc32.Checksum(b[offsetAttributes:], castagnoli()); crc != h.CRC {
		return h, fmt.Errorf("%w: crc32c %#08x, header says %#08x", ErrCorruptBatch, crc, h.CRC)
	}
	if h.NumRecords < 1 {
		return h, &invalidBatchError{fmt.Sprintf("record count %d", h.NumRecords)}
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return h, &invalidBatchError{fmt.Sprintf("last offset delta %d with %d records", h.LastOffsetDelta, h.NumRecords)}
	}
	if c := h.Compression(); c > maxCompressionCodec {
		return h, &invalidBatchError{fmt.Sprintf("unknown compression codec %d", c)}
	}
	if h.Compression() == 0 {
		if err := walkRecords(b[BatchHeaderSize:], h.NumRecords); err != nil {
			return h, err
		}
	}
	return h, nil
}

// SplitBatches splits a Produce partition's records field into its batches
// by their length fields and checks each with ValidateBatch. The batches
// alias records. An empty or nil records field is no batches and no error;
// Kafka requires exactly one batch per partition in Produce v3+
// (ProduceRequest.validateRecords answers INVALID_RECORD otherwise), which
// is for the handler to enforce.
func SplitBatches(records []byte) ([][]byte, []BatchHeader, error) {
	var batches [][]byte
	var headers []BatchHeader
	for rest := records; len(rest) > 0; {
		h, err := ParseBatchHeader(rest)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (batch %d at byte %d)", err, len(batches), len(records)-len(rest))
		}
		size := int64(batchLengthOverhead) + int64(h.Length)
		if size > int64(len(rest)) {
			return nil, nil, fmt.Errorf("%w: batch of %d bytes, %d left (batch %d at byte %d)", ErrCorruptBatch, size, len(rest), len(batches), len(records)-len(rest))
		}
		batch := rest[:size:size]
		if h, err = ValidateBatch(batch); err != nil {
			return nil, nil, fmt.Errorf("%w (batch %d at byte %d)", err, len(batches), len(records)-len(rest))
		}
		batches = append(batches, batch)
		headers = append(headers, h)
		rest = rest[size:]
	}
	return batches, headers, nil
}

// SetBaseOffset writes the batch's base offset. The field is outside the CRC,
// so the batch stays valid. batch must hold at least a header (a batch that
// passed ValidateBatch does); a shorter one is a caller bug and panics.
func SetBaseOffset(batch []byte, offset int64) {
	binary.BigEndian.PutUint64(batch[offsetBaseOffset:offsetBaseOffset+8], uint64(offset))
}

// SetLogAppendTime stamps a batch with the broker's append time, as a topic
// with message.timestamp.type=LogAppendTime asks: the timestamp-type bit of
// the attributes, the max timestamp, and the CRC, which covers both. The
// first timestamp and the records' deltas stay as the producer wrote them;
// consumers give every record of such a batch its max timestamp (KIP-32).
// h, the batch's parsed header, is changed to match. batch must be a whole
// batch that passed ValidateBatch.
func SetLogAppendTime(batch []byte, h *BatchHeader, millis int64) {
	h.Attributes |= attrTimestampType
	h.MaxTimestamp = millis
	binary.BigEndian.PutUint16(batch[offsetAttributes:], uint16(h.Attributes))
	binary.BigEndian.PutUint64(batch[offsetMaxTimestamp:], uint64(millis))
	h.CRC = crc32.Checksum(batch[offsetAttributes:], castagnoli())
	binary.BigEndian.PutUint32(batch[offsetCRC:], h.CRC)
}

// SetPartitionLeaderEpoch writes the batch's partition leader epoch, also
// outside the CRC.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[offsetPartitionLeaderEpoch:offsetPartitionLeaderEpoch+4], uint32(epoch))
}
