package meta

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	// MaxPartitions bounds the partitions of one topic: each is an actor,
	// a log cache slice and a stream in every object index, so a typo of a
	// few zeros must not take the broker down.
	MaxPartitions = 1 << 16
	// maxTopicNameLength is Kafka's limit.
	maxTopicNameLength = 249
	// counterStreams allocates stream ids; 0 is never a stream.
	counterStreams = "next_stream"
	firstStreamID  = 1
)

// Partition is one partition of a topic and the stream that stores it.
type Partition struct {
	Index  int32
	Stream uint64
}

// Topic is a topic as stored.
type Topic struct {
	Name string
	// ID is a random (version 4) UUID, the topic id of Metadata v10+.
	ID         [16]byte
	Partitions []Partition
	Configs    map[string]string
	Created    time.Time
}

// CreateTopic stores a new topic with the given number of partitions, each
// on a newly allocated stream, and returns it.
func (s *Store) CreateTopic(name string, partitions int32, configs map[string]string) (Topic, error) {
	if err := validateTopicName(name); err != nil {
		return Topic{}, err
	}
	if partitions <= 0 || partitions > MaxPartitions {
		return Topic{}, fmt.Errorf("%w: %d (want 1 to %d)", ErrInvalidPartitions, partitions, MaxPartitions)
	}
	id, err := newTopicID()
	if err != nil {
		return Topic{}, err
	}
	topic := Topic{
		Name:    name,
		ID:      id,
		Configs: cloneConfigs(configs),
		// Stored at nanosecond precision without a monotonic reading, so the
		// value returned equals the value read back later.
		Created: time.Now().UTC().Round(0),
	}
	err = s.update("create topic "+name, func(tx *bolt.Tx) error {
		if bucket(tx, bucketTopics).Get([]byte(name)) != nil {
			return fmt.Errorf("%w: %s", ErrTopicExists, name)
		}
		if err := addPartitions(tx, &topic, partitions); err != nil {
			return err
		}
		return putTopic(tx, topic)
	})
	if err != nil {
		return Topic{}, err
	}
	return topic, nil
}

// DeleteTopic removes a topic and returns what it was. Its streams are
// recorded as deleted, and their log start offsets and producer states are
// dropped; their objects stay until a cleaner removes them.
func (s *Store) DeleteTopic(name string) (Topic, error) {
	var topic Topic
	err := s.update("delete topic "+name, func(tx *bolt.Tx) error {
		var err error
		if topic, err = getTopic(tx, name); err != nil {
			return err
		}
		for _, partition := range topic.Partitions {
			if err := deleteStream(tx, partition.Stream); err != nil {
				return err
			}
		}
		return bucket(tx, bucketTopics).Delete([]byte(name))
	})
	if err != nil {
		return Topic{}, err
	}
	return topic, nil
}

// AddPartitions grows a topic to total partitions, the new ones on newly
// allocated streams. Kafka cannot shrink a topic, so total must exceed the
// current count.
func (s *Store) AddPartitions(name string, total int32) (Topic, error) {
	var topic Topic
	err := s.update("add partitions to "+name, func(tx *bolt.Tx) error {
		var err error
		if topic, err = getTopic(tx, name); err != nil {
			return err
		}
		current := int32(len(topic.Partitions))
		if total <= current || total > MaxPartitions {
			return fmt.Errorf("%w: %d for topic %s with %d (want more, at most %d)", ErrInvalidPartitions, total, name, current, MaxPartitions)
		}
		if err := addPartitions(tx, &topic, total-current); err != nil {
			return err
		}
		return putTopic(tx, topic)
	})
	if err != nil {
		return Topic{}, err
	}
	return topic, nil
}

// AlterTopicConfigs removes the keys in remove, then sets those in set (so a
// key in both ends up set), and returns the topic. Values are not checked
// here: which keys and values are valid is the Kafka API layer's business.
func (s *Store) AlterTopicConfigs(name string, set map[string]string, remove []string) (Topic, error) {
	var topic Topic
	err := s.update("alter configs of "+name, func(tx *bolt.Tx) error {
		var err error
		if topic, err = getTopic(tx, name); err != nil {
			return err
		}
		for _, key := range remove {
			delete(topic.Configs, key)
		}
		maps.Copy(topic.Configs, set)
		return putTopic(tx, topic)
	})
	if err != nil {
		return Topic{}, err
	}
	return topic, nil
}

// Topics returns every topic, sorted by name.
func (s *Store) Topics() ([]Topic, error) {
	topics := []Topic{}
	err := s.view("list topics", func(tx *bolt.Tx) error {
		return bucket(tx, bucketTopics).ForEach(func(_, value []byte) error {
			topic, err := decodeTopic(value)
			if err != nil {
				return err
			}
			topics = append(topics, topic)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	// bbolt iterates in byte order of the keys, which is name order already;
	// sorting keeps the promise independent of the key encoding.
	sort.Slice(topics, func(i, j int) bool { return topics[i].Name < topics[j].Name })
	return topics, nil
}

// addPartitions appends count partitions to topic, each on a new stream.
func addPartitions(tx *bolt.Tx, topic *Topic, count int32) error {
	first, err := nextCounter(tx, counterStreams, firstStreamID, uint64(count))
	if err != nil {
		return err
	}
	base := int32(len(topic.Partitions))
	for i := range count {
		topic.Partitions = append(topic.Partitions, Partition{Index: base + i, Stream: first + uint64(i)})
	}
	return nil
}

func getTopic(tx *bolt.Tx, name string) (Topic, error) {
	value := bucket(tx, bucketTopics).Get([]byte(name))
	if value == nil {
		return Topic{}, fmt.Errorf("%w: %s", ErrUnknownTopic, name)
	}
	return decodeTopic(value)
}

func putTopic(tx *bolt.Tx, topic Topic) error {
	value, err := encodeTopic(topic)
	if err != nil {
		return err
	}
	return bucket(tx, bucketTopics).Put([]byte(topic.Name), value)
}

// topicRecord is the stored form of a Topic, apart from the exported type
// so that renaming a field of Topic cannot silently change the file format.
type topicRecord struct {
	Name       string            `json:"name"`
	ID         [16]byte          `json:"id"`
	Partitions []partitionRecord `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
	Created    time.Time         `json:"created"`
}

type partitionRecord struct {
	Index  int32  `json:"index"`
	Stream uint64 `json:"stream"`
}

func encodeTopic(topic Topic) ([]byte, error) {
	record := topicRecord{Name: topic.Name, ID: topic.ID, Configs: topic.Configs, Created: topic.Created}
	for _, partition := range topic.Partitions {
		record.Partitions = append(record.Partitions, partitionRecord(partition))
	}
	return json.Marshal(record)
}

func decodeTopic(value []byte) (Topic, error) {
	var record topicRecord
	if err := json.Unmarshal(value, &record); err != nil {
		return Topic{}, fmt.Errorf("%w: topic: %w", ErrCorrupt, err)
	}
	topic := Topic{Name: record.Name, ID: record.ID, Configs: cloneConfigs(record.Configs), Created: record.Created}
	topic.Partitions = make([]Partition, 0, len(record.Partitions))
	for _, partition := range record.Partitions {
		topic.Partitions = append(topic.Partitions, Partition(partition))
	}
	return topic, nil
}

// cloneConfigs copies configs so the caller's map is never aliased; the
// result is never nil, so callers may write to it.
func cloneConfigs(configs map[string]string) map[string]string {
	clone := make(map[string]string, len(configs))
	maps.Copy(clone, configs)
	return clone
}

// validateTopicName applies Kafka's rules: 1 to 249 characters of ASCII
// letters, digits, '.', '_' and '-', and neither "." nor "..".
func validateTopicName(name string) error {
	if name == "" || len(name) > maxTopicNameLength || name == "." || name == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidTopicName, name)
	}
	valid := func(c byte) bool {
		return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
	}
	if i := slices.IndexFunc([]byte(name), func(c byte) bool { return !valid(c) }); i >= 0 {
		return fmt.Errorf("%w: %q has character %q", ErrInvalidTopicName, name, name[i])
	}
	return nil
}

// newTopicID returns a random version 4 UUID; never the all-zero UUID, which
// Kafka reserves for "no id".
func newTopicID() ([16]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("meta: topic id: %w", err)
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id, nil
}
