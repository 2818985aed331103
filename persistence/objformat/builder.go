package objformat

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/floe-io/floe/internal/yield"
)

// Batch is one Kafka record batch (v2) and what the index needs to know
// about it. The format does not look inside Data beyond its framing.
type Batch struct {
	// Stream is the stream (partition) the batch belongs to.
	Stream uint64
	// BaseOffset and LastOffset are the first and last offsets of the batch.
	BaseOffset, LastOffset int64
	// MaxTimestamp is the batch's max timestamp (ms).
	MaxTimestamp int64
	// RecordCount is the number of records in the batch.
	RecordCount int32
	// Data is the whole batch, framing included: its first 8 bytes are
	// BaseOffset and the next 4 the length of the rest, big-endian.
	Data []byte
}

// Builder collects batches and lays them out as one object. It belongs to
// one goroutine; see the package doc.
type Builder struct {
	blockSize int
	batches   []Batch
	dataBytes int
}

// NewBuilder returns an empty Builder that closes blocks at about blockSize
// bytes; blockSize <= 0 means DefaultBlockSize.
func NewBuilder(blockSize int) *Builder {
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	return &Builder{blockSize: blockSize}
}

// Add queues a batch, in any order. The Builder keeps batch.Data until
// Finish, without copying it. A batch whose fields contradict its framing is
// a programmer error and panics: written out, it would make an object that
// readers reject forever.
func (b *Builder) Add(batch Batch) {
	checkBatch(batch)
	b.batches = append(b.batches, batch)
	b.dataBytes += len(batch.Data)
}

func checkBatch(batch Batch) {
	if len(batch.Data) < batchHeaderSize {
		panic(fmt.Sprintf("objformat: batch of stream %d at offset %d has %d bytes, less than its framing", batch.Stream, batch.BaseOffset, len(batch.Data)))
	}
	if framed := int64(binary.BigEndian.Uint64(batch.Data)); framed != batch.BaseOffset {
		panic(fmt.Sprintf("objformat: batch of stream %d: base offset %d, but its bytes say %d", batch.Stream, batch.BaseOffset, framed))
	}
	if framed := binary.BigEndian.Uint32(batch.Data[8:]); int64(framed) != int64(len(batch.Data)-batchHeaderSize) {
		panic(fmt.Sprintf("objformat: batch of stream %d at offset %d: length field %d, but %d bytes follow it", batch.Stream, batch.BaseOffset, framed, len(batch.Data)-batchHeaderSize))
	}
	// LastOffset+1 must not overflow: it becomes the block's EndOffset.
	if batch.BaseOffset < 0 || batch.LastOffset < batch.BaseOffset || batch.LastOffset == math.MaxInt64 || batch.RecordCount < 0 ||
		int64(batch.RecordCount) > batch.LastOffset-batch.BaseOffset+1 {
		panic(fmt.Sprintf("objformat: batch of stream %d: offsets [%d, %d] with %d records", batch.Stream, batch.BaseOffset, batch.LastOffset, batch.RecordCount))
	}
}

// Len returns the bytes of batch data added since the last Finish: what the
// uploader compares with its upload threshold.
func (b *Builder) Len() int { return b.dataBytes }

// Finish sorts the batches by (stream, base offset), lays them out in
// blocks, appends the index and footer, and returns the object and its index
// entries. The Builder is then empty and may be reused. Two batches of one
// stream with overlapping offsets are a programmer error and panic.
func (b *Builder) Finish() (object []byte, index []IndexEntry) {
	slices.SortFunc(b.batches, func(x, y Batch) int {
		return cmp.Or(cmp.Compare(x.Stream, y.Stream), cmp.Compare(x.BaseOffset, y.BaseOffset))
	})
	index = b.planBlocks()
	object = make([]byte, 0, b.dataBytes+indexSize(len(index))+FooterSize)
	// The object is fresh memory, so this loop runs at the speed of page
	// faults: it yields every few pages' worth (see package yield).
	var copied yield.Counter
	for _, batch := range b.batches {
		object = append(object, batch.Data...)
		copied.Add(len(batch.Data))
	}
	indexPosition := int64(len(object))
	object = appendIndex(object, index)
	object = appendFooter(object, indexPosition, int64(len(object))-indexPosition)

	clear(b.batches) // drop the references to the callers' Data
	b.batches, b.dataBytes = b.batches[:0], 0
	return object, index
}

// planBlocks groups the sorted batches into blocks and returns their index
// entries.
func (b *Builder) planBlocks() []IndexEntry {
	var index []IndexEntry
	var block *IndexEntry
	var position int64
	for i, batch := range b.batches {
		if i > 0 && batch.Stream == b.batches[i-1].Stream && batch.BaseOffset <= b.batches[i-1].LastOffset {
			panic(fmt.Sprintf("objformat: stream %d has overlapping batches at offsets %d and %d", batch.Stream, b.batches[i-1].BaseOffset, batch.BaseOffset))
		}
		size := int64(len(batch.Data))
		// A block never mixes streams, holds a contiguous run of offsets
		// (so its index entry's range holds no offsets it lacks: compaction
		// may merge objects that are not adjacent), and closes before it
		// would exceed the block size; a lone batch larger than that fills a
		// block by itself.
		if block == nil || block.Stream != batch.Stream || batch.BaseOffset != block.EndOffset || block.Size+size > int64(b.blockSize) {
			index = append(index, IndexEntry{
				Stream:       batch.Stream,
				FirstOffset:  batch.BaseOffset,
				MaxTimestamp: batch.MaxTimestamp,
				Position:     position,
			})
			block = &index[len(index)-1]
		}
		block.EndOffset = batch.LastOffset + 1
		block.RecordCount += int64(batch.RecordCount)
		block.MaxTimestamp = max(block.MaxTimestamp, batch.MaxTimestamp)
		block.Size += size
		position += size
	}
	return index
}
