package actors

import (
	"fmt"
	"strconv"
)

// configSpec describes one topic config floe stores and reports.
type configSpec struct {
	name     string
	def      string
	validate func(string) error
	doc      string
}

func intRange(min, max int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		if n < min || n > max {
			return fmt.Errorf("%d out of range [%d, %d]", n, min, max)
		}
		return nil
	}
}

func oneOf(values ...string) func(string) error {
	return func(v string) error {
		for _, ok := range values {
			if v == ok {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of %v", v, values)
	}
}

// topicConfigSpecs lists the topic configs floe knows. Unknown names are
// rejected with INVALID_CONFIG, as Kafka does.
func topicConfigSpecs() []configSpec {
	return []configSpec{
		{"retention.ms", "604800000", intRange(-1, 1<<62), "How long data is kept; -1 for ever."},
		{"retention.bytes", "-1", intRange(-1, 1<<62), "Bytes kept per partition; -1 for no limit."},
		{"max.message.bytes", "1048588", intRange(0, 1<<31-1), "Largest record batch accepted, in bytes."},
		{"cleanup.policy", "delete", oneOf("delete", "compact", "compact,delete", "delete,compact"), "Stored and reported; floe deletes by retention and does not compact keys."},
		{"segment.bytes", "1073741824", intRange(14, 1<<31-1), "Accepted for compatibility; floe's object sizes come from the upload settings."},
		{"segment.ms", "604800000", intRange(1, 1<<62), "Accepted for compatibility."},
		{"message.timestamp.type", "CreateTime", oneOf("CreateTime", "LogAppendTime"), "CreateTime keeps the producer's timestamps; LogAppendTime stamps each batch with the broker's time when it is appended."},
		{"min.insync.replicas", "1", intRange(1, 1<<31-1), "Accepted for compatibility; durability comes from the fsync'd WAL."},
		{"compression.type", "producer", oneOf("producer"), "Batches are stored as the producer sent them."},
	}
}

func findConfigSpec(name string) (configSpec, bool) {
	for _, s := range topicConfigSpecs() {
		if s.name == name {
			return s, true
		}
	}
	return configSpec{}, false
}

// validateTopicConfig checks one name/value pair.
func validateTopicConfig(name, value string) error {
	spec, ok := findConfigSpec(name)
	if !ok {
		return fmt.Errorf("unknown topic config %q", name)
	}
	if err := spec.validate(value); err != nil {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// topicConfig is the parsed form the data path reads.
type topicConfig struct {
	values          map[string]string // only explicitly set values
	maxMessageBytes int32
	retentionMillis int64
	retentionBytes  int64
	logAppendTime   bool // message.timestamp.type=LogAppendTime
}

func parseTopicConfig(values map[string]string) topicConfig {
	c := topicConfig{values: values, maxMessageBytes: 1048588, retentionMillis: 604800000, retentionBytes: -1}
	if v, err := strconv.ParseInt(values["max.message.bytes"], 10, 32); err == nil {
		c.maxMessageBytes = int32(v)
	}
	if v, err := strconv.ParseInt(values["retention.ms"], 10, 64); err == nil {
		c.retentionMillis = v
	}
	if v, err := strconv.ParseInt(values["retention.bytes"], 10, 64); err == nil {
		c.retentionBytes = v
	}
	c.logAppendTime = values["message.timestamp.type"] == "LogAppendTime"
	return c
}

// value returns a config's value and whether it is the default.
func (c topicConfig) value(name string) (string, bool) {
	if v, ok := c.values[name]; ok {
		return v, false
	}
	spec, _ := findConfigSpec(name)
	return spec.def, true
}
