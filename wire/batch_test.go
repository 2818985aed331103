package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseBatchHeaderMatchesKmsg(t *testing.T) {
	b := buildBatch(valueRecords([]byte("a"), nil, []byte("ccc"))...)
	SetBaseOffset(b, 1234)
	SetPartitionLeaderEpoch(b, 7)
	h, err := ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	var k kmsg.RecordBatch
	if err := k.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	want := BatchHeader{
		BaseOffset: k.FirstOffset, Length: k.Length, PartitionLeaderEpoch: k.PartitionLeaderEpoch,
		Magic: k.Magic, CRC: uint32(k.CRC), Attributes: k.Attributes, LastOffsetDelta: k.LastOffsetDelta,
		FirstTimestamp: k.FirstTimestamp, MaxTimestamp: k.MaxTimestamp, ProducerID: k.ProducerID,
		ProducerEpoch: k.ProducerEpoch, BaseSequence: k.FirstSequence, NumRecords: k.NumRecords,
	}
	if h != want {
		t.Fatalf("header %+v\nkmsg   %+v", h, want)
	}
	if h.BaseOffset != 1234 || h.PartitionLeaderEpoch != 7 || h.NumRecords != 3 || h.Size() != len(b) || h.LastOffset() != 1236 {
		t.Fatalf("header %+v", h)
	}
}

func TestBatchHeaderAccessors(t *testing.T) {
	tests := []struct {
		attributes    int16
		compression   int8
		timestampType int8
		transactional bool
		control       bool
	}{
		{0, 0, 0, false, false},
		{1, 1, 0, false, false},
		{4 | 0x08, 4, 1, false, false},
		{0x10, 0, 0, true, false},
		{0x10 | 0x20, 0, 0, true, true},
		{3 | 0x40, 3, 0, false, false}, // delete horizon flag (KIP-534) is no codec bit
	}
	for _, tt := range tests {
		h := BatchHeader{Attributes: tt.attributes, BaseOffset: 10, LastOffsetDelta: 4, Length: 100}
		if h.Compression() != tt.compression || h.TimestampType() != tt.timestampType ||
			h.Transactional() != tt.transactional || h.Control() != tt.control {
			t.Errorf("attributes %#x: compression %d ts %d txn %v control %v", tt.attributes,
				h.Compression(), h.TimestampType(), h.Transactional(), h.Control())
		}
		if h.LastOffset() != 14 || h.Size() != 112 {
			t.Errorf("LastOffset %d Size %d", h.LastOffset(), h.Size())
		}
	}
}

func TestParseBatchHeaderErrors(t *testing.T) {
	valid := buildBatch(valueRecords([]byte("x"))...)
	withMagic := func(m byte) []byte {
		b := append([]byte(nil), valid...)
		b[offsetMagic] = m
		return b
	}
	withLength := func(l int32) []byte {
		b := append([]byte(nil), valid...)
		binary.BigEndian.PutUint32(b[offsetLength:], uint32(l))
		return b
	}
	// A legacy v1 message: offset, size, crc, magic 1, attributes,
	// timestamp, key -1, value "v".
	v1 := []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 23, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 'v'}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrCorruptBatch},
		{"sixteen bytes", valid[:16], ErrCorruptBatch},
		{"magic 0", withMagic(0), ErrOldMessageFormat},
		{"magic 1 message set", v1, ErrOldMessageFormat},
		{"magic 1 cut at magic", v1[:17], ErrOldMessageFormat},
		{"magic 3", withMagic(3), ErrCorruptBatch},
		{"magic -1", withMagic(0xff), ErrCorruptBatch},
		{"header cut", valid[:BatchHeaderSize-1], ErrCorruptBatch},
		{"length below a header", withLength(minBatchLength - 1), ErrCorruptBatch},
		{"negative length", withLength(-100), ErrCorruptBatch},
		{"valid", valid, nil},
		{"length past the bytes parses", withLength(1 << 30), nil}, // ParseBatchHeader does not look at records
	}
	for _, tt := range tests {
		_, err := ParseBatchHeader(tt.b)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
	}
}

// mutate returns a copy of b changed by fn, with the CRC recomputed when
// fixCRC is true (to reach the checks behind the CRC).
func mutate(b []byte, recomputeCRC bool, fn func([]byte) []byte) []byte {
	c := fn(append([]byte(nil), b...))
	if recomputeCRC && len(c) >= BatchHeaderSize {
		fixCRC(c)
	}
	return c
}

func TestValidateBatch(t *testing.T) {
	recs := valueRecords([]byte("alpha"), nil, []byte("gamma"))
	recs[1].Key = nil // null key
	recs[2].Headers = []kmsg.Header{{Key: "h1", Value: []byte("v")}, {Key: "", Value: nil}}
	valid := buildBatch(recs...)
	big := buildBatch(valueRecords(bytes.Repeat([]byte{'z'}, 300))...) // two-byte varint lengths

	setInt32 := func(off int, v int32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], uint32(v)); return b }
	}
	setAttributes := func(a int16) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint16(b[offsetAttributes:], uint16(a)); return b }
	}
	firstRecord := BatchHeaderSize
	// valid's first record: length, attributes, ts delta, offset delta at +3.
	offsetDeltaAt := firstRecord + 3

	tests := []struct {
		name string
		b    []byte
		want error // nil, ErrCorruptBatch (damage only), ErrInvalidRecord, ErrOldMessageFormat
	}{
		{"valid", valid, nil},
		{"valid with two-byte varints", big, nil},
		{"valid single record", buildBatch(valueRecords(nil)...), nil},
		{"bad crc", mutate(valid, false, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrCorruptBatch},
		{"crc field wrong", mutate(valid, false, func(b []byte) []byte { b[offsetCRC] ^= 0x80; return b }), ErrCorruptBatch},
		{"length says more", mutate(valid, false, func(b []byte) []byte { return b[:len(b)-1] }), ErrCorruptBatch},
		{"length says less", mutate(valid, false, func(b []byte) []byte { return append(b, 0) }), ErrCorruptBatch},
		{"old format", mutate(valid, false, func(b []byte) []byte { b[offsetMagic] = 1; return b }), ErrOldMessageFormat},
		{"zero records", mutate(valid, true, setInt32(offsetNumRecords, 0)), ErrInvalidRecord},
		{"negative records", mutate(valid, true, setInt32(offsetNumRecords, -1)), ErrInvalidRecord},
		{"count above records", mutate(valid, true, func(b []byte) []byte {
			b = setInt32(offsetNumRecords, 4)(b)
			return setInt32(offsetLastOffsetDelta, 3)(b)
		}), ErrInvalidRecord},
		{"count below records", mutate(valid, true, func(b []byte) []byte {
			b = setInt32(offsetNumRecords, 2)(b)
			return setInt32(offsetLastOffsetDelta, 1)(b)
		}), ErrInvalidRecord},
		{"huge count", mutate(valid, true, func(b []byte) []byte {
			b = setInt32(offsetNumRecords, 1<<30)(b)
			return setInt32(offsetLastOffsetDelta, 1<<30-1)(b)
		}), ErrInvalidRecord},
		{"last offset delta gap", mutate(valid, true, setInt32(offsetLastOffsetDelta, 5)), ErrInvalidRecord},
		{"unknown codec 5", mutate(valid, true, setAttributes(5)), ErrInvalidRecord},
		{"unknown codec 7", mutate(valid, true, setAttributes(7)), ErrInvalidRecord},
		{"offset delta out of order", mutate(valid, true, func(b []byte) []byte { b[offsetDeltaAt] = 2; return b }), ErrInvalidRecord},
		{"record length past batch", mutate(valid, true, func(b []byte) []byte { b[firstRecord] = 0x7e; return b }), ErrInvalidRecord},
		{"record length negative", mutate(valid, true, func(b []byte) []byte { b[firstRecord] = 0x01; return b }), ErrInvalidRecord},
		{"record length short", mutate(valid, true, func(b []byte) []byte { b[firstRecord] -= 2; return b }), ErrInvalidRecord},
		{"garbage after records", buildBatchRaw(0, 1, 0, append(encodeRecord(valueRecords([]byte("v"))[0]), 0)), ErrInvalidRecord},
		{"no records bytes", buildBatchRaw(0, 1, 0, nil), ErrInvalidRecord},
		{"transactional control batch parses", mutate(valid, true, setAttributes(0x30)), nil}, // rules are the handler's
		{"compressed batch is not opened", buildBatchRaw(2, 3, 2, []byte("not snappy at all")), nil},
		{"zstd batch is not opened", buildBatchRaw(4, 1, 0, []byte{1}), nil},
		{"compressed keeps the count rules", buildBatchRaw(1, 3, 5, []byte("gzip?")), ErrInvalidRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ValidateBatch(tt.b)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, ErrCorruptBatch) && errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("damage reported as a producer error (INVALID_RECORD, not retried): %v", err)
			}
			if err == nil && h.Size() != len(tt.b) {
				t.Fatalf("size %d of %d bytes", h.Size(), len(tt.b))
			}
		})
	}
}

// Each record-field failure, with the CRC made right so walkRecords is what
// catches it.
func TestValidateBatchRecordFields(t *testing.T) {
	rec := func(fields ...[]byte) []byte { // a record from raw fields, length computed
		body := bytes.Join(fields, nil)
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}
	v := func(x int64) []byte { return binary.AppendVarint(nil, x) }
	attr, ts, off0 := []byte{0}, v(0), v(0)
	tests := []struct {
		name string
		rec  []byte
		ok   bool
	}{
		{"minimal record", rec(attr, ts, off0, v(-1), v(-1), v(0)), true},
		{"key and value", rec(attr, ts, off0, v(1), []byte("k"), v(2), []byte("vv"), v(0)), true},
		{"header", rec(attr, ts, off0, v(-1), v(-1), v(1), v(1), []byte("h"), v(-1)), true},
		{"huge timestamp delta", rec(attr, v(-1<<62), off0, v(-1), v(-1), v(0)), true},
		{"key length -2", rec(attr, ts, off0, v(-2), v(-1), v(0)), false},
		{"key past record", rec(attr, ts, off0, v(5), []byte("k"), v(-1), v(0)), false},
		{"value length -3", rec(attr, ts, off0, v(-1), v(-3), v(0)), false},
		{"value past record", rec(attr, ts, off0, v(-1), v(9), v(0)), false},
		{"negative header count", rec(attr, ts, off0, v(-1), v(-1), v(-1)), false},
		{"header count past record", rec(attr, ts, off0, v(-1), v(-1), v(3), v(0), v(0)), false},
		{"null header key", rec(attr, ts, off0, v(-1), v(-1), v(1), v(-1), v(0)), false},
		{"header value -2", rec(attr, ts, off0, v(-1), v(-1), v(1), v(0), v(-2)), false},
		{"bytes after headers", rec(attr, ts, off0, v(-1), v(-1), v(0), []byte{0}), false},
		{"no header count", rec(attr, ts, off0, v(-1), v(-1)), false},
		{"empty record", rec(), false},
		{"offset delta 1", rec(attr, ts, v(1), v(-1), v(-1), v(0)), false},
		{"offset delta over 32 bits", rec(attr, ts, v(1<<40), v(-1), v(-1), v(0)), false},
		{"timestamp varint too long", rec(attr, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, off0, v(-1), v(-1), v(0)), false},
		{"record length varint cut", []byte{0x80}, false},
	}
	for _, tt := range tests {
		b := buildBatchRaw(0, 1, 0, tt.rec)
		_, err := ValidateBatch(b)
		if tt.ok != (err == nil) {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && ErrorCode(err) != kerr.InvalidRecord.Code {
			t.Errorf("%s: code %d, want INVALID_RECORD", tt.name, ErrorCode(err))
		}
	}
}

// Every single-byte change of a valid batch is detected, except in the two
// fields outside the CRC that the broker itself rewrites.
func TestValidateBatchDetectsEveryByteFlip(t *testing.T) {
	valid := buildBatch(valueRecords([]byte("one"), []byte("two"), []byte("three"))...)
	for i := range valid {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			b := append([]byte(nil), valid...)
			b[i] ^= flip
			_, err := ValidateBatch(b)
			outsideCRC := i < offsetLength || (i >= offsetPartitionLeaderEpoch && i < offsetMagic)
			if outsideCRC {
				if err != nil {
					t.Fatalf("byte %d ^ %#x (outside the CRC): %v", i, flip, err)
				}
				continue
			}
			if err == nil {
				t.Fatalf("byte %d ^ %#x: not detected", i, flip)
			}
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrOldMessageFormat) {
				t.Fatalf("byte %d ^ %#x: %v", i, flip, err)
			}
		}
	}
}

func TestSetBaseOffsetAndEpochKeepBatchValid(t *testing.T) {
	b := buildBatch(valueRecords([]byte("v"))...)
	for _, off := range []int64{0, 1, 1 << 40, -1} {
		SetBaseOffset(b, off)
		SetPartitionLeaderEpoch(b, int32(off))
		h, err := ValidateBatch(b)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		if h.BaseOffset != off || h.PartitionLeaderEpoch != int32(off) {
			t.Fatalf("offset %d: header %+v", off, h)
		}
	}
}

// A batch stamped with the append time is still valid, reads as
// LogAppendTime with that max timestamp, and keeps its codec, its first
// timestamp and its records; kmsg agrees.
func TestSetLogAppendTimeKeepsBatchValid(t *testing.T) {
	for _, b := range [][]byte{buildBatch(valueRecords([]byte("a"), []byte("b"))...), buildBatchRaw(3, 2, 1, []byte("lz4 frame"))} {
		before, err := ValidateBatch(b)
		if err != nil {
			t.Fatal(err)
		}
		records := append([]byte(nil), b[BatchHeaderSize:]...)
		const at = 1_800_000_000_123
		stamped := before
		SetLogAppendTime(b, &stamped, at)
		h, err := ValidateBatch(b)
		if err != nil {
			t.Fatalf("after SetLogAppendTime: %v", err)
		}
		if stamped != h {
			t.Fatalf("the header kept in step %+v, the batch's %+v", stamped, h)
		}
		if h.TimestampType() != 1 || h.MaxTimestamp != at || h.Compression() != before.Compression() || h.FirstTimestamp != before.FirstTimestamp {
			t.Fatalf("header %+v, before %+v", h, before)
		}
		if !bytes.Equal(b[BatchHeaderSize:], records) {
			t.Fatal("records changed")
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if rb.Attributes&0x08 == 0 || rb.MaxTimestamp != at || uint32(rb.CRC) != crc32.Checksum(b[offsetAttributes:], castagnoli()) {
			t.Fatalf("kmsg reads %+v", rb)
		}
	}
}

func TestSplitBatches(t *testing.T) {
	one := buildBatch(valueRecords([]byte("a"))...)
	two := buildBatch(valueRecords([]byte("b"), []byte("c"))...)
	three := buildBatchRaw(3, 2, 1, []byte("lz4 frame"))
	corrupt := mutate(two, false, func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

	tests := []struct {
		name    string
		records []byte
		want    [][]byte
		wantErr error
	}{
		{"nil", nil, nil, nil},
		{"one", one, [][]byte{one}, nil},
		{"three", cat(one, two, three), [][]byte{one, two, three}, nil},
		{"trailing partial header", cat(one, two[:20]), nil, ErrCorruptBatch},
		{"trailing partial batch", cat(one, two[:len(two)-1]), nil, ErrCorruptBatch},
		{"corrupt middle", cat(one, corrupt, three), nil, ErrCorruptBatch},
		{"old format second", cat(one, mutate(two, false, func(b []byte) []byte { b[offsetMagic] = 0; return b })), nil, ErrOldMessageFormat},
		{"length past end", mutate(one, false, func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offsetLength:], 1<<31-1)
			return b
		}), nil, ErrCorruptBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches, headers, err := SplitBatches(tt.records)
			if !errors.Is(err, tt.wantErr) || (err == nil) != (tt.wantErr == nil) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if batches != nil || headers != nil {
					t.Fatal("batches returned with an error")
				}
				return
			}
			if len(batches) != len(tt.want) || len(headers) != len(tt.want) {
				t.Fatalf("%d batches, %d headers, want %d", len(batches), len(headers), len(tt.want))
			}
			for i := range batches {
				mustEqualBytes(t, "batch", batches[i], tt.want[i])
				if headers[i].Size() != len(batches[i]) {
					t.Fatalf("batch %d: header size %d, %d bytes", i, headers[i].Size(), len(batches[i]))
				}
				// A batch's capacity ends with it: appending must not
				// overwrite the next batch.
				if cap(batches[i]) != len(batches[i]) {
					t.Fatalf("batch %d: cap %d > len %d", i, cap(batches[i]), len(batches[i]))
				}
			}
		})
	}
}

// benchBatch is a 16 KiB uncompressed batch of 1 KiB records: 16 records
// whose encoded size (value, key and per-record overhead) is about 1 KiB.
func benchBatch() []byte {
	values := make([][]byte, 16)
	for i := range values {
		values[i] = bytes.Repeat([]byte{byte('a' + i)}, 1024-12)
	}
	return buildBatch(valueRecords(values...)...)
}

func BenchmarkValidateBatch(b *testing.B) {
	batch := benchBatch()
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ValidateBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchBatchShape(t *testing.T) {
	b := benchBatch()
	if len(b) < 16<<10-64 || len(b) > 16<<10+64 {
		t.Fatalf("bench batch is %d bytes, want about 16 KiB", len(b))
	}
	if _, err := ValidateBatch(b); err != nil {
		t.Fatal(err)
	}
}
