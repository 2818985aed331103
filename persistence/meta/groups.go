package meta

// Consumer groups: each group's record and its committed offsets.
//
// Two buckets, created by the first group write rather than by Open, so a
// file written before groups existed opens unchanged (the schema version
// stays 1) and read-only transactions simply find no bucket:
//
//	"groups":        group name → JSON groupRecord
//	"group_offsets": key → offset record (binary)
//
//	key:           group length u16 | group | topic length u16 | topic | partition u32
//	offset v1:     version u8 | topic id [16] | offset i64 | leader epoch i32 |
//	               commit time unix ns i64 | metadata length u32 | metadata
//
// The key starts with the length-prefixed group name, so one group's offsets
// form one key range (a prefix scan), ordered by topic then partition.
//
// Group membership is not stored: members rejoin after a restart. What is
// stored is what must survive one: that the group exists, its protocol type
// (for ListGroups), when it last became empty (for offset expiry), and every
// committed offset with its metadata string and leader epoch.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	bucketGroups       = "groups"
	bucketGroupOffsets = "group_offsets"

	offsetRecordVersion = 1
	// offsetRecordFixedSize is everything but the metadata string.
	offsetRecordFixedSize = 1 + 16 + 8 + 4 + 8 + 4
	// maxGroupKeyPart bounds a group or topic name in a key (u16 length).
	maxGroupKeyPart = math.MaxUint16
)

// GroupInfo is a group's stored record.
type GroupInfo struct {
	Name string
	// Type is "consumer" for a KIP-848 group; "" or "classic" for a
	// classic (JoinGroup/SyncGroup) or offsets-only group.
	Type string
	// ProtocolType is the classic members' protocol type ("consumer" for
	// Kafka consumers); "" for a group that never had members.
	ProtocolType string
	Created      time.Time
	// EmptySince is when the group last lost its last member; zero for a
	// group that never had any (an offsets-only group).
	EmptySince time.Time
}

// CommittedOffset is one partition's committed offset in a group.
type CommittedOffset struct {
	Topic string
	// TopicID is the id of the topic when the offset was committed, so an
	// offset of a deleted topic is not applied to a new topic of the same
	// name.
	TopicID     [16]byte
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  time.Time
}

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// StoredGroup is a group and its offsets, sorted by topic then partition.
type StoredGroup struct {
	Info    GroupInfo
	Offsets []CommittedOffset
}

// GroupChange is a change to one group. Its parts apply in this order:
// Delete (the record and every offset), Info (the record, created or
// replaced), DeleteOffsets, Commits. Commits to a group without a record
// create a minimal one (an offsets-only group).
type GroupChange struct {
	Group         string
	Delete        bool
	Info          *GroupInfo
	DeleteOffsets []TopicPartition
	Commits       []CommittedOffset
}

// WriteGroups applies changes in order, all in one transaction: after a
// crash either every change happened or none did.
func (s *Store) WriteGroups(changes []GroupChange) error {
	for _, change := range changes {
		if err := validateGroupChange(change); err != nil {
			return err
		}
	}
	return s.update("write groups", func(tx *bolt.Tx) error {
		groups, err := tx.CreateBucketIfNotExists([]byte(bucketGroups))
		if err != nil {
			return err
		}
		offsets, err := tx.CreateBucketIfNotExists([]byte(bucketGroupOffsets))
		if err != nil {
			return err
		}
		for _, change := range changes {
			if err := applyGroupChange(groups, offsets, change); err != nil {
				return err
			}
		}
		return nil
	})
}

// CommitOffsets stores offsets of one group in one transaction.
func (s *Store) CommitOffsets(group string, offsets []CommittedOffset) error {
	return s.WriteGroups([]GroupChange{{Group: group, Commits: offsets}})
}

// DeleteGroup removes a group's record and every offset; a group that does
// not exist is not an error.
func (s *Store) DeleteGroup(group string) error {
	return s.WriteGroups([]GroupChange{{Group: group, Delete: true}})
}

// Groups returns every group with its offsets, sorted by name.
func (s *Store) Groups() ([]StoredGroup, error) {
	byName := make(map[string]*StoredGroup)
	err := s.view("list groups", func(tx *bolt.Tx) error {
		if groups := tx.Bucket([]byte(bucketGroups)); groups != nil {
			err := groups.ForEach(func(_, value []byte) error {
				info, err := decodeGroupInfo(value)
				if err != nil {
					return err
				}
				byName[info.Name] = &StoredGroup{Info: info}
				return nil
			})
			if err != nil {
				return err
			}
		}
		offsets := tx.Bucket([]byte(bucketGroupOffsets))
		if offsets == nil {
			return nil
		}
		return offsets.ForEach(func(key, value []byte) error {
			group, offset, err := decodeOffsetEntry(key, value)
			if err != nil {
				return err
			}
			g := byName[group]
			if g == nil {
				// Never written so (a commit creates the record), but an
				// offset is worth more than a consistency complaint.
				g = &StoredGroup{Info: GroupInfo{Name: group}}
				byName[group] = g
			}
			g.Offsets = append(g.Offsets, offset)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	out := make([]StoredGroup, 0, len(byName))
	for _, g := range byName {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Info.Name < out[j].Info.Name })
	return out, nil
}

// Group returns one group and whether it exists.
func (s *Store) Group(name string) (StoredGroup, bool, error) {
	var group StoredGroup
	found := false
	err := s.view("read group "+name, func(tx *bolt.Tx) error {
		if groups := tx.Bucket([]byte(bucketGroups)); groups != nil {
			if value := groups.Get([]byte(name)); value != nil {
				info, err := decodeGroupInfo(value)
				if err != nil {
					return err
				}
				group.Info, found = info, true
			}
		}
		offsets := tx.Bucket([]byte(bucketGroupOffsets))
		if offsets == nil || len(name) > maxGroupKeyPart {
			return nil
		}
		prefix := groupKeyPrefix(name)
		c := offsets.Cursor()
		for key, value := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, value = c.Next() {
			_, offset, err := decodeOffsetEntry(key, value)
			if err != nil {
				return err
			}
			group.Offsets = append(group.Offsets, offset)
		}
		if !found && len(group.Offsets) > 0 {
			group.Info, found = GroupInfo{Name: name}, true
		}
		return nil
	})
	if err != nil {
		return StoredGroup{}, false, err
	}
	return group, found, nil
}

func validateGroupChange(change GroupChange) error {
	if change.Group == "" || len(change.Group) > maxGroupKeyPart {
		return fmt.Errorf("%w: group name of %d bytes", ErrInvalidArgument, len(change.Group))
	}
	if change.Info != nil && change.Info.Name != change.Group {
		return fmt.Errorf("%w: record of group %q in a change of %q", ErrInvalidArgument, change.Info.Name, change.Group)
	}
	for _, tp := range change.DeleteOffsets {
		if err := validateGroupTopicPartition(tp.Topic, tp.Partition); err != nil {
			return err
		}
	}
	for _, offset := range change.Commits {
		if err := validateGroupTopicPartition(offset.Topic, offset.Partition); err != nil {
			return err
		}
		if uint64(len(offset.Metadata)) > math.MaxUint32 {
			return fmt.Errorf("%w: offset metadata of %d bytes", ErrInvalidArgument, len(offset.Metadata))
		}
	}
	return nil
}

func validateGroupTopicPartition(topic string, partition int32) error {
	if topic == "" || len(topic) > maxGroupKeyPart || partition < 0 {
		return fmt.Errorf("%w: offset of topic %q partition %d", ErrInvalidArgument, topic, partition)
	}
	return nil
}

func applyGroupChange(groups, offsets *bolt.Bucket, change GroupChange) error {
	name := []byte(change.Group)
	if change.Delete {
		if err := groups.Delete(name); err != nil {
			return err
		}
		if err := deleteGroupOffsets(offsets, change.Group); err != nil {
			return err
		}
	}
	if change.Info != nil {
		if err := putGroupInfo(groups, *change.Info); err != nil {
			return err
		}
	}
	for _, tp := range change.DeleteOffsets {
		if err := offsets.Delete(offsetKey(change.Group, tp.Topic, tp.Partition)); err != nil {
			return err
		}
	}
	if len(change.Commits) > 0 && groups.Get(name) == nil {
		info := GroupInfo{Name: change.Group, Created: time.Now().UTC().Round(0)}
		if err := putGroupInfo(groups, info); err != nil {
			return err
		}
	}
	for _, offset := range change.Commits {
		if err := offsets.Put(offsetKey(change.Group, offset.Topic, offset.Partition), encodeOffset(offset)); err != nil {
			return err
		}
	}
	return nil
}

// deleteGroupOffsets removes one group's key range. Keys are collected
// first: deleting under a cursor skips keys in bbolt.
func deleteGroupOffsets(offsets *bolt.Bucket, group string) error {
	prefix := groupKeyPrefix(group)
	var keys [][]byte
	c := offsets.Cursor()
	for key, _ := c.Seek(prefix); key != nil && bytes.HasPrefix(key, prefix); key, _ = c.Next() {
		keys = append(keys, bytes.Clone(key))
	}
	for _, key := range keys {
		if err := offsets.Delete(key); err != nil {
			return err
		}
	}
	return nil
}

// groupRecord is the stored form of GroupInfo (see topicRecord for why a
// separate type).
type groupRecord struct {
	Name         string    `json:"name"`
	Type         string    `json:"type,omitempty"`
	ProtocolType string    `json:"protocol_type,omitempty"`
	Created      time.Time `json:"created"`
	EmptySince   time.Time `json:"empty_since"`
}

func putGroupInfo(groups *bolt.Bucket, info GroupInfo) error {
	value, err := json.Marshal(groupRecord(info))
	if err != nil {
		return err
	}
	return groups.Put([]byte(info.Name), value)
}

func decodeGroupInfo(value []byte) (GroupInfo, error) {
	var record groupRecord
	if err := json.Unmarshal(value, &record); err != nil {
		return GroupInfo{}, fmt.Errorf("%w: group: %w", ErrCorrupt, err)
	}
	return GroupInfo(record), nil
}

func groupKeyPrefix(group string) []byte {
	key := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(group)), uint16(len(group)))
	return append(key, group...)
}

func offsetKey(group, topic string, partition int32) []byte {
	key := make([]byte, 0, 2+len(group)+2+len(topic)+4)
	key = binary.BigEndian.AppendUint16(key, uint16(len(group)))
	key = append(key, group...)
	key = binary.BigEndian.AppendUint16(key, uint16(len(topic)))
	key = append(key, topic...)
	return binary.BigEndian.AppendUint32(key, uint32(partition))
}

func encodeOffset(offset CommittedOffset) []byte {
	value := make([]byte, 0, offsetRecordFixedSize+len(offset.Metadata))
	value = append(value, offsetRecordVersion)
	value = append(value, offset.TopicID[:]...)
	value = binary.BigEndian.AppendUint64(value, uint64(offset.Offset))
	value = binary.BigEndian.AppendUint32(value, uint32(offset.LeaderEpoch))
	value = binary.BigEndian.AppendUint64(value, uint64(offset.CommitTime.UnixNano()))
	value = binary.BigEndian.AppendUint32(value, uint32(len(offset.Metadata)))
	return append(value, offset.Metadata...)
}

// decodeOffsetEntry reads a key and value written by offsetKey and
// encodeOffset.
func decodeOffsetEntry(key, value []byte) (string, CommittedOffset, error) {
	k := decoder{data: key}
	group := string(k.take(int(k.uint16())))
	var offset CommittedOffset
	offset.Topic = string(k.take(int(k.uint16())))
	offset.Partition = int32(k.uint32())
	if err := k.finish("offset key"); err != nil {
		return "", CommittedOffset{}, err
	}
	d := decoder{data: value}
	if version := d.uint8(); version != offsetRecordVersion {
		return "", CommittedOffset{}, fmt.Errorf("%w: offset record version %d", ErrCorrupt, version)
	}
	copy(offset.TopicID[:], d.take(16))
	offset.Offset = d.int64()
	offset.LeaderEpoch = int32(d.uint32())
	offset.CommitTime = time.Unix(0, d.int64()).UTC()
	// The length is checked against the bytes left before take, which
	// would otherwise allocate whatever a damaged length says.
	if length := d.uint32(); uint64(length) != uint64(len(d.data)) {
		return "", CommittedOffset{}, fmt.Errorf("%w: offset record of %d bytes with %d bytes of metadata", ErrCorrupt, len(value), length)
	}
	offset.Metadata = string(d.data)
	d.data = nil
	return group, offset, d.finish("offset")
}
