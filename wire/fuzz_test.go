package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fuzz targets for every parser of network input. Run one with, e.g.,
//
//	go test ./wire/ -run '^$' -fuzz '^FuzzValidateBatch$' -fuzztime 5s
//
// Without -fuzz they run their seeds as ordinary tests.

func FuzzParseRequestHeader(f *testing.F) {
	eachSupportedVersion(func(key, version int16) {
		f.Add(requestFrame(sampleRequest(f, key, version), 1))
	})
	f.Add(rawHeader(int16(kmsg.ApiVersions), 9, 0, 0, 0))
	f.Add(rawHeader(int16(kmsg.JoinGroup), 9, 0, 0, 0))
	f.Add(rawHeader(int16(kmsg.Metadata), 12, 0, 1, 'c', 2, 5, 3, 1, 2, 3, 0xAC, 0x02, 0, 0xff))
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, body, err := ParseRequestHeader(frame)
		if err != nil {
			if body != nil {
				t.Fatalf("body with error %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownAPIKey) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !VersionSupported(h.Key, h.Version) {
			t.Fatalf("accepted %s v%d", APIName(h.Key), h.Version)
		}
		if len(body) > len(frame)-requestHeaderFixedBytes-2 {
			t.Fatalf("body of %d bytes from a frame of %d", len(body), len(frame))
		}
		req, err := DecodeRequest(h, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("DecodeRequest: unexpected error kind: %v", err)
			}
			return
		}
		// What decoded must decode again from its own encoding, to the
		// same encoding.
		enc := req.AppendTo(nil)
		again, err := DecodeRequest(h, enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		if !bytes.Equal(again.AppendTo(nil), enc) {
			t.Fatal("encoding not stable")
		}
	})
}

func FuzzValidateBatch(f *testing.F) {
	f.Add(buildBatch(valueRecords([]byte("a"), nil, []byte("ccc"))...))
	f.Add(buildBatch(valueRecords(bytes.Repeat([]byte{'z'}, 200))...))
	f.Add(buildBatchRaw(1, 3, 2, []byte("gzip bytes")))
	recs := valueRecords([]byte("h"))
	recs[0].Headers = []kmsg.Header{{Key: "k", Value: []byte("v")}}
	f.Add(buildBatch(recs...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		b := append([]byte(nil), in...) // we rewrite it; the engine owns in
		// The CRC stops nearly every mutation at the door. Half the time,
		// fix it so the fuzzer reaches the record walk.
		if len(b) >= BatchHeaderSize && len(b)%2 == 0 {
			fixCRC(b)
		}
		h, err := ValidateBatch(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrOldMessageFormat) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if h.Size() != len(b) || h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 || h.Compression() > 4 {
			t.Fatalf("accepted inconsistent header %+v for %d bytes", h, len(b))
		}
		// The broker's own rewrites keep a valid batch valid.
		SetBaseOffset(b, 1<<40)
		SetPartitionLeaderEpoch(b, 3)
		if _, err := ValidateBatch(b); err != nil {
			t.Fatalf("after SetBaseOffset: %v", err)
		}
		if _, err := ParseBatchHeader(b); err != nil {
			t.Fatalf("ParseBatchHeader after ValidateBatch: %v", err)
		}
	})
}

// FuzzRecordAtTime reads records the broker stored without reading them
// (compressed ones), so anything a producer can send must give an answer or
// ErrCorruptBatch.
func FuzzRecordAtTime(f *testing.F) {
	f.Add(buildBatch(valueRecords([]byte("a"), nil, []byte("ccc"))...), int64(0), int64(1_700_000_000_001))
	for codec := int8(1); codec <= 4; codec++ {
		f.Add(timeBatch(f, 7, 1_700_000_000_000, []int64{3, 1, 2}, codec, codec == 2), int64(8), int64(1_700_000_000_002))
	}
	f.Fuzz(func(t *testing.T, b []byte, from, target int64) {
		h, err := ParseBatchHeader(b)
		if err != nil || h.Size() != len(b) {
			return
		}
		off, ts, ok, err := RecordAtTime(b, h, from, target)
		switch {
		case err != nil:
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("unexpected error kind: %v", err)
			}
		case ok && (off < from || off < h.BaseOffset || off > h.LastOffset() || ts < target):
			t.Fatalf("answer (%d, %d) for from %d target %d in batch %d-%d", off, ts, from, target, h.BaseOffset, h.LastOffset())
		case !ok && (off != -1 || ts != -1):
			t.Fatalf("no answer but (%d, %d)", off, ts)
		}
		off, ts, ok, err = MaxTimeFrom(b, h, from)
		switch {
		case err != nil:
			if !errors.Is(err, ErrCorruptBatch) {
				t.Fatalf("max: unexpected error kind: %v", err)
			}
		case ok && (off < from || off < h.BaseOffset || off > h.LastOffset()):
			t.Fatalf("max: answer (%d, %d) for from %d in batch %d-%d", off, ts, from, h.BaseOffset, h.LastOffset())
		case ok && h.TimestampType() == 0 && from <= h.BaseOffset && ts <= h.MaxTimestamp:
			// Every record counts: the first at the largest time is
			// what a lookup of that time finds (unless the header
			// understates the largest time: lookups trust headers).
			if o2, t2, ok2, err2 := RecordAtTime(b, h, from, ts); err2 != nil || !ok2 || o2 != off || t2 != ts {
				t.Fatalf("max (%d, %d) but a lookup of its time gives (%d, %d, %v, %v)", off, ts, o2, t2, ok2, err2)
			}
		case !ok && (off != -1 || ts != -1 || h.LastOffset() >= max(from, h.BaseOffset)):
			t.Fatalf("max: no answer but (%d, %d) for from %d in batch %d-%d", off, ts, from, h.BaseOffset, h.LastOffset())
		}
	})
}

func FuzzSplitBatches(f *testing.F) {
	one := buildBatch(valueRecords([]byte("a"))...)
	two := buildBatch(valueRecords([]byte("b"), []byte("c"))...)
	f.Add(append(append([]byte(nil), one...), two...))
	f.Add(one)
	f.Add(append(append([]byte(nil), one...), two[:30]...))
	f.Fuzz(func(t *testing.T, records []byte) {
		batches, headers, err := SplitBatches(records)
		if err != nil {
			if batches != nil || headers != nil {
				t.Fatal("batches with an error")
			}
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrOldMessageFormat) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(batches) != len(headers) {
			t.Fatalf("%d batches, %d headers", len(batches), len(headers))
		}
		total := 0
		for i, b := range batches {
			if headers[i].Size() != len(b) {
				t.Fatalf("batch %d: size %d, %d bytes", i, headers[i].Size(), len(b))
			}
			if _, err := ValidateBatch(b); err != nil {
				t.Fatalf("batch %d does not validate alone: %v", i, err)
			}
			total += len(b)
		}
		if total != len(records) {
			t.Fatalf("batches cover %d of %d bytes", total, len(records))
		}
	})
}

func FuzzFrameSize(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1}, int32(100))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, int32(0))
	f.Add([]byte{0, 0}, int32(-5))
	f.Fuzz(func(t *testing.T, prefix []byte, max int32) {
		size, err := FrameSize(prefix, max)
		if err != nil {
			if size != 0 || (!errors.Is(err, ErrMalformed) && !errors.Is(err, ErrFrameTooLarge)) {
				t.Fatalf("size %d, err %v", size, err)
			}
			return
		}
		limit := max
		if limit <= 0 {
			limit = DefaultMaxFrameBytes
		}
		if size <= 0 || size > int(limit) || uint32(size) != binary.BigEndian.Uint32(prefix) {
			t.Fatalf("size %d from %x with max %d", size, prefix, max)
		}
	})
}
