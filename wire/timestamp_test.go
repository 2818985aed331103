package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"testing"

	"github.com/klauspost/compress/snappy/xerial"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// timeBatch encodes records whose timestamps are base+deltas (not in
// order, as producers may send them), compressed by franz-go's own
// compressor for codecs 1 to 4 (snappy framed by xerial, as the Java
// producer frames it, when xerialSnappy is set).
func timeBatch(t testing.TB, baseOffset, firstTimestamp int64, deltas []int64, codec int8, xerialSnappy bool) []byte {
	t.Helper()
	var raw []byte
	maxTs := int64(-1)
	for i, d := range deltas {
		raw = append(raw, encodeRecord(kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: d, Value: bytes.Repeat([]byte{byte(i)}, 100)})...)
		maxTs = max(maxTs, firstTimestamp+d)
	}
	records := raw
	if codec != 0 {
		codecs := map[int8]kgo.CompressionCodec{1: kgo.GzipCompression(), 2: kgo.SnappyCompression(), 3: kgo.Lz4Compression(), 4: kgo.ZstdCompression()}
		c, err := kgo.DefaultCompressor(codecs[codec])
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, used := c.Compress(&buf, raw)
		if int8(used) != codec {
			t.Fatalf("compressor used codec %d, want %d", used, codec)
		}
		records = append([]byte(nil), out...)
		if codec == 2 && xerialSnappy {
			records = xerial.Encode(nil, raw)
		}
	}
	b := buildBatchRaw(int16(codec), int32(len(deltas)), int32(len(deltas)-1), records)
	binary.BigEndian.PutUint64(b[offsetBaseOffset:], uint64(baseOffset))
	binary.BigEndian.PutUint64(b[offsetFirstTimestamp:], uint64(firstTimestamp))
	binary.BigEndian.PutUint64(b[offsetMaxTimestamp:], uint64(maxTs))
	fixCRC(b)
	return b
}

func TestRecordAtTime(t *testing.T) {
	const base, first = 1000, 1_700_000_000_000
	deltas := []int64{5, 1, 9, 3, 9, 12, 0}
	for _, tc := range []struct {
		name   string
		codec  int8
		xerial bool
	}{{"none", 0, false}, {"gzip", 1, false}, {"snappy", 2, false}, {"snappy-xerial", 2, true}, {"lz4", 3, false}, {"zstd", 4, false}} {
		t.Run(tc.name, func(t *testing.T) {
			batch := timeBatch(t, base, first, deltas, tc.codec, tc.xerial)
			h, err := ValidateBatch(batch)
			if err != nil {
				t.Fatal(err)
			}
			for _, from := range []int64{0, base, base + 2, base + 5, base + 6, base + 7} {
				// The first of the largest at or after from: deltas 9
				// repeat, and 12 is past from+5.
				wantOff, wantTs, wantOK := int64(-1), int64(-1), false
				for i, d := range deltas {
					if base+int64(i) >= from && first+d > wantTs {
						wantOff, wantTs, wantOK = base+int64(i), first+d, true
					}
				}
				if off, ts, ok, err := MaxTimeFrom(batch, h, from); err != nil || off != wantOff || ts != wantTs || ok != wantOK {
					t.Fatalf("max from %d: got (%d, %+d, %v, %v), want (%d, %+d, %v)", from, off, ts-first, ok, err, wantOff, wantTs-first, wantOK)
				}
				for target := int64(first - 1); target <= first+13; target++ {
					wantOff, wantTs, wantOK := int64(-1), int64(-1), false
					for i, d := range deltas {
						if base+int64(i) >= from && first+d >= target {
							wantOff, wantTs, wantOK = base+int64(i), first+d, true
							break
						}
					}
					off, ts, ok, err := RecordAtTime(batch, h, from, target)
					if err != nil {
						t.Fatalf("from %d target %+d: %v", from, target-first, err)
					}
					if off != wantOff || ts != wantTs || ok != wantOK {
						t.Fatalf("from %d target %+d: got (%d, %+d, %v), want (%d, %+d, %v)", from, target-first, off, ts-first, ok, wantOff, wantTs-first, wantOK)
					}
				}
			}
		})
	}
}

// A LogAppendTime batch's records all carry the batch's time, whatever
// their own deltas say.
func TestRecordAtTimeLogAppendTime(t *testing.T) {
	const base, first = 50, 1_700_000_000_000
	batch := timeBatch(t, base, first, []int64{0, 1, 2}, 0, false)
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	SetLogAppendTime(batch, &h, first+500)
	for _, tc := range []struct{ from, target, off, ts int64 }{
		{0, first, base, first + 500},
		{base + 1, first + 500, base + 1, first + 500},
		{0, first + 501, -1, -1},
		{base + 3, first, -1, -1},
	} {
		off, ts, ok, err := RecordAtTime(batch, h, tc.from, tc.target)
		if err != nil || off != tc.off || ts != tc.ts || ok != (tc.off >= 0) {
			t.Fatalf("from %d target %d: got (%d, %d, %v, %v), want (%d, %d)", tc.from, tc.target, off, ts, ok, err, tc.off, tc.ts)
		}
	}
}

// Damaged records are ErrCorruptBatch, and a snappy block that declares an
// impossible size is refused before anything is allocated for it.
func TestRecordAtTimeDamaged(t *testing.T) {
	const first = 1_700_000_000_000
	for _, codec := range []int8{0, 1, 2, 3, 4} {
		batch := timeBatch(t, 0, first, []int64{0, 1, 2, 3}, codec, false)
		h, err := ParseBatchHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		// The record wanted is the last one: a cut before it is an error, a
		// cut after its timestamp may still find it, and nothing else.
		errorsSeen := 0
		for cut := BatchHeaderSize; cut < len(batch); cut++ {
			off, ts, ok, err := RecordAtTime(batch[:cut], h, 0, first+3)
			switch {
			case err != nil && !errors.Is(err, ErrCorruptBatch):
				t.Fatalf("codec %d cut at %d of %d: %v", codec, cut, len(batch), err)
			case err != nil:
				errorsSeen++
			case !ok || off != 3 || ts != first+3:
				t.Fatalf("codec %d cut at %d of %d: (%d, %d, %v)", codec, cut, len(batch), off, ts, ok)
			}
		}
		if errorsSeen == 0 {
			t.Fatalf("codec %d: no cut was an error", codec)
		}
	}
	// A raw snappy block whose length varint says 1 GiB: refused, and
	// before the decoder allocates the gigabyte (which would also end in
	// an error, so the error alone shows nothing).
	bomb := []byte{0x80, 0x80, 0x80, 0x80, 0x04, 0}
	batch := buildBatchRaw(2, 1, 0, bomb)
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, err = RecordAtTime(batch, h, 0, 0)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("snappy bomb: %v", err)
	}
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64<<20 {
		t.Fatalf("snappy bomb: %d bytes allocated", allocated)
	}
}

func ExampleRecordAtTime() {
	// Three records at offsets 10-12, timestamps 1000, 3000, 2000 (ms).
	var raw []byte
	for i, d := range []int64{0, 2000, 1000} {
		raw = append(raw, encodeRecord(kmsg.Record{OffsetDelta: int32(i), TimestampDelta64: d})...)
	}
	rb := kmsg.RecordBatch{FirstOffset: 10, Length: int32(49 + len(raw)), Magic: 2, LastOffsetDelta: 2, FirstTimestamp: 1000, MaxTimestamp: 3000, NumRecords: 3, Records: raw}
	batch := rb.AppendTo(nil)
	h, _ := ParseBatchHeader(batch)
	off, ts, ok, _ := RecordAtTime(batch, h, 0, 1500)
	fmt.Println(off, ts, ok)
	// Output: 11 3000 true
}
