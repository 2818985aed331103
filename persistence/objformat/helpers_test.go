package objformat

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

// makeBatch synthesises a batch: correct v2 framing, then filler bytes that
// identify it, so that a misplaced batch shows up in comparisons.
func makeBatch(stream uint64, baseOffset int64, records int32, size int) Batch {
	if size < batchHeaderSize {
		size = batchHeaderSize
	}
	data := make([]byte, size)
	binary.BigEndian.PutUint64(data, uint64(baseOffset))
	binary.BigEndian.PutUint32(data[8:], uint32(size-batchHeaderSize))
	for i := batchHeaderSize; i < size; i++ {
		data[i] = byte(stream*31 + uint64(baseOffset) + uint64(i))
	}
	return Batch{
		Stream:       stream,
		BaseOffset:   baseOffset,
		LastOffset:   baseOffset + int64(records) - 1,
		MaxTimestamp: 1_700_000_000_000 + baseOffset,
		RecordCount:  records,
		Data:         data,
	}
}

// checkObject verifies an object built from batches with the given block
// size against everything the format promises.
func checkObject(t *testing.T, object []byte, index []IndexEntry, batches []Batch, blockSize int) {
	t.Helper()
	parsed, err := ParseObject(object)
	if err != nil {
		t.Fatalf("ParseObject: %v", err)
	}
	if !slices.Equal(parsed, index) {
		t.Fatalf("ParseObject index differs from Finish's:\n got %+v\nwant %+v", parsed, index)
	}
	sorted := slices.Clone(batches)
	slices.SortFunc(sorted, func(x, y Batch) int {
		if x.Stream != y.Stream {
			return compareUnsigned(x.Stream, y.Stream)
		}
		return int(x.BaseOffset - y.BaseOffset)
	})
	next := 0
	for i, entry := range index {
		blockData := object[entry.Position : entry.Position+entry.Size]
		framed, err := BlockBatches(blockData)
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if len(framed) > 1 && entry.Size > int64(blockSize) {
			t.Errorf("block %d holds %d batches in %d bytes, over the block size %d", i, len(framed), entry.Size, blockSize)
		}
		want := IndexEntry{Stream: entry.Stream, FirstOffset: sorted[next].BaseOffset, MaxTimestamp: sorted[next].MaxTimestamp, Position: entry.Position}
		for _, batchData := range framed {
			batch := sorted[next]
			next++
			if batch.Stream != entry.Stream {
				t.Fatalf("block %d of stream %d holds a batch of stream %d", i, entry.Stream, batch.Stream)
			}
			if !bytes.Equal(batchData, batch.Data) {
				t.Fatalf("block %d: batch at offset %d differs", i, batch.BaseOffset)
			}
			want.EndOffset = batch.LastOffset + 1
			want.RecordCount += int64(batch.RecordCount)
			want.MaxTimestamp = max(want.MaxTimestamp, batch.MaxTimestamp)
			want.Size += int64(len(batch.Data))
		}
		if entry != want {
			t.Errorf("block %d entry = %+v, want %+v", i, entry, want)
		}
	}
	if next != len(sorted) {
		t.Fatalf("blocks hold %d batches, added %d", next, len(sorted))
	}
}

func compareUnsigned(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
