package objformat

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func addSeedObjects(f *testing.F) {
	object, _ := sampleObject(f)
	f.Add(object)
	empty, _ := NewBuilder(0).Finish()
	f.Add(empty)
	builder := NewBuilder(16)
	builder.Add(makeBatch(^uint64(0), 5, 1, 40))
	one, _ := builder.Finish()
	f.Add(one)
	f.Add([]byte{})
}

// FuzzParseObject checks that ParseObject never panics and that whatever it
// accepts is an object the rest of floe can trust: blocks inside the data
// region, contiguous, sorted, and an index that re-encodes to the same bytes.
func FuzzParseObject(f *testing.F) {
	addSeedObjects(f)
	f.Fuzz(func(t *testing.T, object []byte) {
		checkParsedObject(t, object)
		// Random bytes rarely pass a CRC; also try them with the CRCs
		// repaired, to reach the checks behind.
		checkParsedObject(t, withRepairedCRCs(object))
	})
}

func checkParsedObject(t *testing.T, object []byte) {
	entries, err := ParseObject(object)
	if err != nil {
		return
	}
	indexPosition, indexLength, err := ParseFooter(object[len(object)-FooterSize:])
	if err != nil {
		t.Fatalf("ParseObject accepted a footer ParseFooter rejects: %v", err)
	}
	if blocksEnd(entries) != indexPosition {
		t.Fatalf("blocks end at %d, index at %d", blocksEnd(entries), indexPosition)
	}
	if !bytes.Equal(appendIndex(nil, entries), object[indexPosition:indexPosition+indexLength]) {
		t.Fatal("accepted index does not re-encode to its own bytes")
	}
	checkEntriesConsistent(t, entries, indexPosition)
	for _, entry := range entries {
		_ = object[entry.Position : entry.Position+entry.Size] // in bounds, or this panics
	}
}

// withRepairedCRCs returns a copy of object whose footer CRC, and index CRC
// if the footer locates an index inside the object, are correct.
func withRepairedCRCs(object []byte) []byte {
	object = bytes.Clone(object)
	if len(object) < FooterSize {
		return object
	}
	footer := object[len(object)-FooterSize:]
	binary.BigEndian.PutUint32(footer[footerCRCAt:], crc32.Checksum(footer[:footerCRCAt], castagnoli))
	position := binary.BigEndian.Uint64(footer)
	length := binary.BigEndian.Uint64(footer[8:])
	footerPosition := uint64(len(object) - FooterSize)
	if position <= footerPosition && length <= footerPosition-position && length >= indexCRCSize {
		index := object[position : position+length]
		body := index[:len(index)-indexCRCSize]
		binary.BigEndian.PutUint32(index[len(body):], crc32.Checksum(body, castagnoli))
	}
	return object
}

// withRepairedIndexCRC returns a copy of index with a correct CRC.
func withRepairedIndexCRC(index []byte) []byte {
	index = bytes.Clone(index)
	if len(index) >= indexCRCSize {
		body := index[:len(index)-indexCRCSize]
		binary.BigEndian.PutUint32(index[len(body):], crc32.Checksum(body, castagnoli))
	}
	return index
}

// FuzzParseIndex checks ParseIndex alone, the way a remote reader uses it
// after a ranged read of the index.
func FuzzParseIndex(f *testing.F) {
	object, index := sampleObject(f)
	f.Add(object[index[len(index)-1].Position+index[len(index)-1].Size : len(object)-FooterSize])
	f.Add(appendIndex(nil, nil))
	f.Add([]byte{0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, index []byte) {
		checkParsedIndex(t, index)
		checkParsedIndex(t, withRepairedIndexCRC(index))
	})
}

func checkParsedIndex(t *testing.T, index []byte) {
	entries, err := ParseIndex(index)
	if err != nil {
		return
	}
	if !bytes.Equal(appendIndex(nil, entries), index) {
		t.Fatal("accepted index does not re-encode to its own bytes")
	}
	checkEntriesConsistent(t, entries, blocksEnd(entries))
}

// FuzzBlockBatches checks that the batches found are exactly the block,
// split in order.
func FuzzBlockBatches(f *testing.F) {
	f.Add(makeBatch(1, 0, 1, 40).Data)
	f.Add(append(makeBatch(1, 0, 1, 12).Data, makeBatch(1, 1, 1, 30).Data...))
	f.Fuzz(func(t *testing.T, block []byte) {
		batches, err := BlockBatches(block)
		if err != nil {
			return
		}
		if joined := bytes.Join(batches, nil); !bytes.Equal(joined, block) {
			t.Fatal("batches do not make up the block")
		}
		for _, batch := range batches {
			if len(batch) < batchHeaderSize {
				t.Fatalf("batch of %d bytes", len(batch))
			}
		}
	})
}

func checkEntriesConsistent(t *testing.T, entries []IndexEntry, dataEnd int64) {
	t.Helper()
	var position int64
	for i, entry := range entries {
		if entry.FirstOffset >= entry.EndOffset || entry.Position != position || entry.Size <= 0 {
			t.Fatalf("entry %d inconsistent: %+v", i, entry)
		}
		if i > 0 {
			previous := entries[i-1]
			if entry.Stream < previous.Stream || (entry.Stream == previous.Stream && entry.FirstOffset < previous.EndOffset) {
				t.Fatalf("entry %d out of order: %+v after %+v", i, entry, previous)
			}
		}
		position += entry.Size
	}
	if position != dataEnd {
		t.Fatalf("blocks end at %d, want %d", position, dataEnd)
	}
}
