package meta

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// Objects and producer states are many and are all read at every start, so
// they use a compact fixed binary form rather than JSON. Each value begins
// with a version byte so the form can change without a migration of old
// records. All integers big-endian.
//
//	object v1:   version u8 | id u64 | key length u16 | key | size i64 |
//	             created unix ns i64 | entry count u32 | entries
//	entry:       stream u64 | first i64 | end i64 | records i64 |
//	             max timestamp i64 | position i64 | size i64   (56 bytes)
//	producer v1: version u8 | stream u64 | producer id i64 | epoch i16 |
//	             first seq i32 | last seq i32 | base offset i64 | last offset i64
//	producer v2: v1's fields | append time i64 (0: the batch kept CreateTime)
//
// Producer records are written as v2; v1 records, from before, read with
// an append time of 0.
const (
	objectRecordVersion   = 1
	producerRecordVersion = 2
	objectEntrySize       = 56
	objectHeaderSize      = 1 + 8 + 2
	producerRecordSize    = 1 + 8 + 8 + 2 + 4 + 4 + 8 + 8 + 8
)

func encodeObject(object Object) ([]byte, error) {
	if len(object.Key) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: object key of %d bytes", ErrInvalidArgument, len(object.Key))
	}
	if len(object.Entries) > math.MaxUint32 {
		return nil, fmt.Errorf("%w: %d object entries", ErrInvalidArgument, len(object.Entries))
	}
	value := make([]byte, 0, objectHeaderSize+len(object.Key)+8+8+4+objectEntrySize*len(object.Entries))
	value = append(value, objectRecordVersion)
	value = binary.BigEndian.AppendUint64(value, object.ID)
	value = binary.BigEndian.AppendUint16(value, uint16(len(object.Key)))
	value = append(value, object.Key...)
	value = binary.BigEndian.AppendUint64(value, uint64(object.Size))
	value = binary.BigEndian.AppendUint64(value, uint64(object.Created.UnixNano()))
	value = binary.BigEndian.AppendUint32(value, uint32(len(object.Entries)))
	for _, entry := range object.Entries {
		value = binary.BigEndian.AppendUint64(value, entry.Stream)
		value = binary.BigEndian.AppendUint64(value, uint64(entry.FirstOffset))
		value = binary.BigEndian.AppendUint64(value, uint64(entry.EndOffset))
		value = binary.BigEndian.AppendUint64(value, uint64(entry.RecordCount))
		value = binary.BigEndian.AppendUint64(value, uint64(entry.MaxTimestamp))
		value = binary.BigEndian.AppendUint64(value, uint64(entry.Position))
		value = binary.BigEndian.AppendUint64(value, uint64(entry.Size))
	}
	return value, nil
}

// decoder reads big-endian fields and remembers the first shortage, so that
// decoding code reads straight through and checks once.
type decoder struct {
	data  []byte
	short bool
}

func (d *decoder) take(n int) []byte {
	if d.short || len(d.data) < n {
		d.short = true
		return make([]byte, n)
	}
	field := d.data[:n]
	d.data = d.data[n:]
	return field
}

func (d *decoder) uint8() uint8   { return d.take(1)[0] }
func (d *decoder) uint16() uint16 { return binary.BigEndian.Uint16(d.take(2)) }
func (d *decoder) uint32() uint32 { return binary.BigEndian.Uint32(d.take(4)) }
func (d *decoder) uint64() uint64 { return binary.BigEndian.Uint64(d.take(8)) }
func (d *decoder) int64() int64   { return int64(d.uint64()) }

// finish reports a record that was too short or too long.
func (d *decoder) finish(what string) error {
	if d.short || len(d.data) != 0 {
		return fmt.Errorf("%w: %s record has the wrong length", ErrCorrupt, what)
	}
	return nil
}

func decodeObject(value []byte) (Object, error) {
	d := decoder{data: value}
	if version := d.uint8(); version != objectRecordVersion {
		return Object{}, fmt.Errorf("%w: object record version %d", ErrCorrupt, version)
	}
	var object Object
	object.ID = d.uint64()
	object.Key = string(d.take(int(d.uint16())))
	object.Size = d.int64()
	object.Created = time.Unix(0, d.int64()).UTC()
	count := d.uint32()
	// The count must match the bytes left, which also bounds the allocation.
	if d.short || uint64(len(d.data)) != uint64(count)*objectEntrySize {
		return Object{}, fmt.Errorf("%w: object record of %d bytes with %d entries", ErrCorrupt, len(value), count)
	}
	object.Entries = make([]ObjectEntry, count)
	for i := range object.Entries {
		object.Entries[i] = ObjectEntry{
			Stream:       d.uint64(),
			FirstOffset:  d.int64(),
			EndOffset:    d.int64(),
			RecordCount:  d.int64(),
			MaxTimestamp: d.int64(),
			Position:     d.int64(),
			Size:         d.int64(),
		}
	}
	return object, d.finish("object")
}

func encodeProducer(state ProducerState) []byte {
	value := make([]byte, 0, producerRecordSize)
	value = append(value, producerRecordVersion)
	value = binary.BigEndian.AppendUint64(value, state.Stream)
	value = binary.BigEndian.AppendUint64(value, uint64(state.ProducerID))
	value = binary.BigEndian.AppendUint16(value, uint16(state.Epoch))
	value = binary.BigEndian.AppendUint32(value, uint32(state.FirstSeq))
	value = binary.BigEndian.AppendUint32(value, uint32(state.LastSeq))
	value = binary.BigEndian.AppendUint64(value, uint64(state.BaseOffset))
	value = binary.BigEndian.AppendUint64(value, uint64(state.LastOffset))
	return binary.BigEndian.AppendUint64(value, uint64(state.AppendTime))
}

func decodeProducer(value []byte) (ProducerState, error) {
	d := decoder{data: value}
	version := d.uint8()
	if version != 1 && version != producerRecordVersion {
		return ProducerState{}, fmt.Errorf("%w: producer record version %d", ErrCorrupt, version)
	}
	state := ProducerState{
		Stream:     d.uint64(),
		ProducerID: d.int64(),
		Epoch:      int16(d.uint16()),
		FirstSeq:   int32(d.uint32()),
		LastSeq:    int32(d.uint32()),
		BaseOffset: d.int64(),
		LastOffset: d.int64(),
	}
	if version >= 2 {
		state.AppendTime = d.int64()
	}
	return state, d.finish("producer")
}

// producerKey orders producer states by stream, then producer id, so that a
// stream's states form one key range (deleteStream relies on it).
func producerKey(stream uint64, producerID int64) []byte {
	key := binary.BigEndian.AppendUint64(make([]byte, 0, 16), stream)
	return binary.BigEndian.AppendUint64(key, uint64(producerID))
}
