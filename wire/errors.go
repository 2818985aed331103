package wire

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors. Functions of this package wrap them with detail (%w);
// test with errors.Is, map to a Kafka code with ErrorCode.
var (
	// ErrMalformed: a frame, header or request body that cannot be
	// decoded, or that has bytes left over after decoding.
	ErrMalformed = errors.New("wire: malformed request")
	// ErrUnknownAPIKey: an API key floe does not serve (not in the
	// version table, whether or not Kafka knows it).
	ErrUnknownAPIKey = errors.New("wire: unknown api key")
	// ErrUnsupportedVersion: a served API key at a version outside its
	// table range.
	ErrUnsupportedVersion = errors.New("wire: unsupported api version")
	// ErrFrameTooLarge: a size prefix above the configured maximum.
	ErrFrameTooLarge = errors.New("wire: frame too large")
	// ErrCorruptBatch: a record batch whose bytes are damaged: bad CRC,
	// truncated, or a length field that disagrees with the bytes.
	// Kafka's CORRUPT_MESSAGE, which clients retry (the damage may have
	// happened in transit).
	ErrCorruptBatch = errors.New("wire: corrupt record batch")
	// ErrInvalidRecord: a record batch whose CRC is right but whose
	// content breaks the format (record count, offset deltas, record
	// lengths, unknown codec). Kafka's INVALID_RECORD, which clients do
	// not retry: the producer built it so and would send it so again.
	// Every error that matches ErrInvalidRecord also matches
	// ErrCorruptBatch, so a caller that only asks "is the batch bad?"
	// needs one test.
	ErrInvalidRecord = errors.New("wire: invalid record batch")
	// ErrOldMessageFormat: a message set of magic 0 or 1 where a record
	// batch (magic 2) is required.
	ErrOldMessageFormat = errors.New("wire: old message format (magic 0/1)")
	// ErrInvalidTopicName: a topic name that breaks Kafka's naming rules.
	ErrInvalidTopicName = errors.New("wire: invalid topic name")
)

// invalidBatchError is a structural batch failure. It matches both
// ErrInvalidRecord and ErrCorruptBatch (see ErrInvalidRecord). A type rather
// than fmt.Errorf("%w: %w") so that the message carries one prefix.
type invalidBatchError struct {
	detail string
}

func (e *invalidBatchError) Error() string { return "wire: invalid record batch: " + e.detail }

func (e *invalidBatchError) Is(target error) bool {
	return target == ErrInvalidRecord || target == ErrCorruptBatch
}

// ErrorCode maps an error to the Kafka error code a response should carry:
// 0 for nil, the code of a wrapped *kerr.Error, the mapping below for this
// package's sentinels, and UNKNOWN_SERVER_ERROR for anything else.
//
//   - ErrCorruptBatch → CORRUPT_MESSAGE, as Kafka answers a CRC mismatch or a
//     truncated batch (CorruptRecordException).
//   - ErrInvalidRecord → INVALID_RECORD, as Kafka's LogValidator answers
//     count/offset/record-structure mismatches (InvalidRecordException).
//   - ErrOldMessageFormat → INVALID_RECORD: since KIP-467 (Kafka 2.4)
//     ProduceRequest.validateRecords throws
//     org.apache.kafka.common.InvalidRecordException ("Produce requests with
//     version N are only allowed to contain record batches with magic
//     version 2") for a v0/v1 batch in Produce v3+, which Errors maps to
//     INVALID_RECORD for that partition. UNSUPPORTED_FOR_MESSAGE_FORMAT is
//     for the opposite case (a v2-only feature on an old-format log).
//   - ErrUnsupportedVersion → UNSUPPORTED_VERSION.
//   - ErrMalformed, ErrUnknownAPIKey, ErrFrameTooLarge → INVALID_REQUEST.
//     Kafka closes the connection in these cases (InvalidRequestException,
//     InvalidReceiveException) and so should the caller; the code is for logs
//     and for a protocol that has a place for it.
//   - ErrInvalidTopicName → INVALID_TOPIC_EXCEPTION.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Code
	// ErrInvalidRecord before ErrCorruptBatch: structural errors match both.
	case errors.Is(err, ErrInvalidRecord):
		return kerr.InvalidRecord.Code
	case errors.Is(err, ErrCorruptBatch):
		return kerr.CorruptMessage.Code
	case errors.Is(err, ErrOldMessageFormat):
		return kerr.InvalidRecord.Code
	case errors.Is(err, ErrUnsupportedVersion):
		return kerr.UnsupportedVersion.Code
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrUnknownAPIKey), errors.Is(err, ErrFrameTooLarge):
		return kerr.InvalidRequest.Code
	case errors.Is(err, ErrInvalidTopicName):
		return kerr.InvalidTopicException.Code
	default:
		return kerr.UnknownServerError.Code
	}
}
