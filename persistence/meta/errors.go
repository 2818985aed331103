package meta

import "errors"

// Operating errors, returned wrapped; test with errors.Is.
var (
	// ErrTopicExists: CreateTopic of a name already in use.
	ErrTopicExists = errors.New("meta: topic already exists")
	// ErrUnknownTopic: a topic that does not exist.
	ErrUnknownTopic = errors.New("meta: unknown topic")
	// ErrInvalidPartitions: a partition count that is not positive, over
	// MaxPartitions, or (AddPartitions) not above the current count.
	ErrInvalidPartitions = errors.New("meta: invalid partition count")
	// ErrInvalidTopicName: a name Kafka would not accept.
	ErrInvalidTopicName = errors.New("meta: invalid topic name")
	// ErrUnknownStream: a stream id that was never allocated.
	ErrUnknownStream = errors.New("meta: unknown stream")
	// ErrObjectExists: CommitUpload of an object id already committed.
	ErrObjectExists = errors.New("meta: object already committed")
	// ErrInvalidArgument: any other argument outside its domain (negative
	// offsets, unallocated object ids, ...): a caller's bug.
	ErrInvalidArgument = errors.New("meta: invalid argument")
	// ErrCorrupt: a stored record that does not decode.
	ErrCorrupt = errors.New("meta: corrupt record")
)
