package objformat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

func sampleObject(t testing.TB) ([]byte, []IndexEntry) {
	t.Helper()
	builder := NewBuilder(64)
	for stream := uint64(1); stream <= 3; stream++ {
		for offset := int64(0); offset < 6; offset += 2 {
			builder.Add(makeBatch(stream, offset, 2, 30))
		}
	}
	return builder.Finish()
}

func TestEveryBitFlipInIndexOrFooterIsDetected(t *testing.T) {
	object, index := sampleObject(t)
	indexPosition := int(index[len(index)-1].Position + index[len(index)-1].Size)
	for at := indexPosition; at < len(object); at++ {
		for bit := range 8 {
			corrupt := bytes.Clone(object)
			corrupt[at] ^= 1 << bit
			if _, err := ParseObject(corrupt); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("flipping bit %d of byte %d: error = %v, want ErrCorrupt", bit, at, err)
			}
		}
	}
}

func TestTruncatedObjectIsDetected(t *testing.T) {
	object, _ := sampleObject(t)
	for _, cut := range []int{0, 1, FooterSize - 1, FooterSize, len(object) / 2, len(object) - 1} {
		if _, err := ParseObject(object[:cut]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("object cut to %d bytes: error = %v, want ErrCorrupt", cut, err)
		}
		if _, err := ParseObject(object[len(object)-cut:]); !errors.Is(err, ErrCorrupt) && cut != len(object) {
			t.Errorf("object missing its first %d bytes: error = %v, want ErrCorrupt", len(object)-cut, err)
		}
	}
}

// footerWith builds a footer with a correct CRC around the given fields, to
// reach the checks behind the CRC.
func footerWith(indexPosition, indexLength uint64, version byte, reserved byte) []byte {
	footer := binary.BigEndian.AppendUint64(nil, indexPosition)
	footer = binary.BigEndian.AppendUint64(footer, indexLength)
	footer = append(footer, version, reserved, 0, 0)
	footer = binary.BigEndian.AppendUint32(footer, crc32.Checksum(footer, castagnoli))
	return append(footer, footerMagic...)
}

func TestParseFooter(t *testing.T) {
	position, length, err := ParseFooter(footerWith(100, uint64(indexSize(2)), Version, 0))
	if err != nil || position != 100 || length != int64(indexSize(2)) {
		t.Fatalf("ParseFooter = %d, %d, %v; want 100, %d", position, length, err, indexSize(2))
	}
	if _, _, err := ParseFooter(footerWith(0, emptyIndexSize, 2, 0)); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("version 2: error = %v, want ErrUnsupportedVersion", err)
	}
	corrupt := map[string][]byte{
		"short":                footerWith(0, emptyIndexSize, Version, 0)[1:],
		"reserved byte set":    footerWith(0, emptyIndexSize, Version, 1),
		"index too short":      footerWith(0, emptyIndexSize-1, Version, 0),
		"partial entry":        footerWith(0, emptyIndexSize+indexEntrySize-1, Version, 0),
		"position overflows":   footerWith(1<<63, emptyIndexSize, Version, 0),
		"position+length wrap": footerWith(1<<63-4, emptyIndexSize, Version, 0),
	}
	for name, footer := range corrupt {
		if _, _, err := ParseFooter(footer); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestParseIndexValidatesEntries(t *testing.T) {
	good := []IndexEntry{
		{Stream: 1, FirstOffset: 0, EndOffset: 10, RecordCount: 10, Position: 0, Size: 100},
		{Stream: 1, FirstOffset: 10, EndOffset: 20, RecordCount: 4, Position: 100, Size: 50},
		{Stream: 2, FirstOffset: 0, EndOffset: 1, RecordCount: 0, Position: 150, Size: 12},
	}
	if entries, err := ParseIndex(appendIndex(nil, good)); err != nil || len(entries) != len(good) {
		t.Fatalf("ParseIndex(good) = %v, %v", entries, err)
	}
	tests := map[string]func(entries []IndexEntry){
		"first == end":            func(e []IndexEntry) { e[0].EndOffset = 0 },
		"negative first":          func(e []IndexEntry) { e[0].FirstOffset = -1 },
		"more records than range": func(e []IndexEntry) { e[1].RecordCount = 11 },
		"negative records":        func(e []IndexEntry) { e[1].RecordCount = -1 },
		"overlap in a stream":     func(e []IndexEntry) { e[1].FirstOffset = 9 },
		"streams out of order":    func(e []IndexEntry) { e[2].Stream = 0 },
		"gap between blocks":      func(e []IndexEntry) { e[1].Position = 101 },
		"first block not at 0":    func(e []IndexEntry) { e[0].Position = 1 },
		"block smaller than batch framing": func(e []IndexEntry) {
			e[2].Size = 11
		},
		"size overflows": func(e []IndexEntry) { e[2].Size = 1<<63 - 100 },
	}
	for name, corrupt := range tests {
		entries := append([]IndexEntry(nil), good...)
		corrupt(entries)
		if _, err := ParseIndex(appendIndex(nil, entries)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error = %v, want ErrCorrupt", name, err)
		}
	}
	index := appendIndex(nil, good)
	if _, err := ParseIndex(index[:len(index)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated index: error = %v, want ErrCorrupt", err)
	}
	// A count that disagrees with the length, with a CRC that matches.
	lying := bytes.Clone(index[:len(index)-indexCRCSize])
	binary.BigEndian.PutUint32(lying, 4)
	lying = binary.BigEndian.AppendUint32(lying, crc32.Checksum(lying, castagnoli))
	if _, err := ParseIndex(lying); !errors.Is(err, ErrCorrupt) {
		t.Errorf("count 4 in an index of 3: error = %v, want ErrCorrupt", err)
	}
}

func TestParseObjectChecksPlacement(t *testing.T) {
	object, index := sampleObject(t)
	indexPosition := index[len(index)-1].Position + index[len(index)-1].Size
	indexBytes := object[indexPosition : len(object)-FooterSize]
	// Index and footer are valid alone, but data is missing in front.
	shifted := append([]byte{0xAA}, object[:indexPosition]...)
	shifted = append(shifted, indexBytes...)
	shifted = appendFooter(shifted, indexPosition+1, int64(len(indexBytes)))
	if _, err := ParseObject(shifted); !errors.Is(err, ErrCorrupt) {
		t.Errorf("blocks ending before the index: error = %v, want ErrCorrupt", err)
	}
	// A footer pointing at an index that does not end where the footer begins.
	wrongLength := append(bytes.Clone(object[:len(object)-FooterSize]), 0)
	wrongLength = appendFooter(wrongLength, indexPosition, int64(len(indexBytes)))
	if _, err := ParseObject(wrongLength); !errors.Is(err, ErrCorrupt) {
		t.Errorf("gap between index and footer: error = %v, want ErrCorrupt", err)
	}
}

func TestBlockBatches(t *testing.T) {
	first, second := makeBatch(1, 0, 1, 12), makeBatch(1, 1, 1, 70)
	block := append(bytes.Clone(first.Data), second.Data...)
	batches, err := BlockBatches(block)
	if err != nil || len(batches) != 2 || !bytes.Equal(batches[0], first.Data) || !bytes.Equal(batches[1], second.Data) {
		t.Fatalf("BlockBatches = %d batches, %v", len(batches), err)
	}
	// The slices must not let an append overwrite the next batch.
	_ = append(batches[0], 0xFF)
	if !bytes.Equal(batches[1], second.Data) {
		t.Fatal("appending to one batch overwrote the next")
	}
	if batches, err := BlockBatches(nil); err != nil || len(batches) != 0 {
		t.Fatalf("BlockBatches(empty) = %v, %v", batches, err)
	}
	negative := bytes.Clone(first.Data)
	binary.BigEndian.PutUint32(negative[8:], 0x80000000)
	for name, bad := range map[string][]byte{
		"cut in a header":  block[:len(first.Data)+5],
		"cut in a body":    block[:len(block)-1],
		"length too large": append(bytes.Clone(first.Data), block[:13]...),
		"negative length":  negative,
	} {
		if _, err := BlockBatches(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error = %v, want ErrCorrupt", name, err)
		}
	}
}

func BenchmarkParseObject(b *testing.B) {
	builder := NewBuilder(0)
	for stream := range uint64(256) {
		for i := range int64(16) {
			builder.Add(makeBatch(stream, i*10, 10, 16<<10))
		}
	}
	object, _ := builder.Finish()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseObject(object); err != nil {
			b.Fatal(err)
		}
	}
}
