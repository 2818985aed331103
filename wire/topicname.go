package wire

import "fmt"

// maxTopicNameLength is Kafka's limit (Topic.MAX_NAME_LENGTH): a partition
// directory is named topic-partition and must fit a 255-byte file name.
const maxTopicNameLength = 249

// ValidateTopicName applies Kafka's topic naming rules (Topic.validate): 1 to
// 249 characters, each of [a-zA-Z0-9._-], and not "." or "..". The error
// wraps ErrInvalidTopicName, which ErrorCode maps to INVALID_TOPIC_EXCEPTION.
//
// Kafka also refuses a new topic whose name equals an existing one once '.'
// is read as '_' (they collide in metric names); that needs the topic list
// and belongs to the caller.
func ValidateTopicName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrInvalidTopicName)
	case name == "." || name == "..":
		return fmt.Errorf("%w: %q", ErrInvalidTopicName, name)
	case len(name) > maxTopicNameLength:
		return fmt.Errorf("%w: %d characters, the maximum is %d", ErrInvalidTopicName, len(name), maxTopicNameLength)
	}
	for i := 0; i < len(name); i++ {
		if !topicNameByte(name[i]) {
			return fmt.Errorf("%w: %q has %q at byte %d; allowed are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopicName, name, name[i], i)
		}
	}
	return nil
}

func topicNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}
