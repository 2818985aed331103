package objformat

import (
	"bytes"
	"errors"
	"testing"
)

// An object assembled from the blocks and index a Builder made is the
// Builder's object, byte for byte; a wrong index is refused.
func TestAssembleMatchesBuilder(t *testing.T) {
	b := NewBuilder(256)
	for stream := uint64(1); stream <= 3; stream++ {
		for offset := int64(0); offset < 40; offset += 4 {
			b.Add(makeBatch(stream, offset, 4, 60))
		}
	}
	object, index := b.Finish()
	blocksLen := int(index[len(index)-1].Position + index[len(index)-1].Size)
	blocks := make([]byte, blocksLen, blocksLen+TrailerSize(len(index)))
	copy(blocks, object)
	got, err := Assemble(blocks, index)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, object) {
		t.Fatal("assembled object differs from the builder's")
	}
	if &got[0] != &blocks[0] {
		t.Fatal("assembled object was copied although its capacity was enough")
	}
	if len(got) != blocksLen+TrailerSize(len(index)) {
		t.Fatalf("object of %d bytes, TrailerSize says %d", len(got), blocksLen+TrailerSize(len(index)))
	}

	short := append([]IndexEntry(nil), index[:len(index)-1]...)
	if _, err := Assemble(object[:blocksLen], short); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("index that misses the last block: %v", err)
	}
	swapped := append([]IndexEntry(nil), index...)
	swapped[0], swapped[1] = swapped[1], swapped[0]
	if _, err := Assemble(object[:blocksLen], swapped); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("index out of order: %v", err)
	}
}
