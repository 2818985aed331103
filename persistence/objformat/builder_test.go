package objformat

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestBuilderEmpty(t *testing.T) {
	builder := NewBuilder(0)
	if builder.Len() != 0 {
		t.Fatalf("Len = %d, want 0", builder.Len())
	}
	object, index := builder.Finish()
	if len(index) != 0 || len(object) != emptyIndexSize+FooterSize {
		t.Fatalf("empty object = %d bytes, %d entries; want %d bytes, none", len(object), len(index), emptyIndexSize+FooterSize)
	}
	entries, err := ParseObject(object)
	if err != nil || len(entries) != 0 {
		t.Fatalf("ParseObject(empty) = %v, %v", entries, err)
	}
}

func TestBuilderRoundTrips(t *testing.T) {
	tests := []struct {
		name             string
		streams          int
		batchesPerStream int
		minSize, maxSize int
		blockSize        int
	}{
		{"one small batch", 1, 1, 12, 12, 0},
		{"many streams, small batches", 50, 20, 12, 300, 1024},
		{"batches near the block size", 3, 10, 900, 1100, 1024},
		{"all bigger than the block", 4, 5, 2000, 5000, 1024},
		{"default block size", 10, 40, 10 << 10, 40 << 10, 0},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			random := rand.New(rand.NewPCG(1, uint64(len(test.name))))
			var batches []Batch
			for stream := range test.streams {
				offset := int64(random.IntN(1000))
				for range test.batchesPerStream {
					records := int32(1 + random.IntN(10))
					size := test.minSize + random.IntN(test.maxSize-test.minSize+1)
					// Stream ids are sparse and large to catch signed mix-ups.
					batches = append(batches, makeBatch(uint64(stream)*0x9e3779b97f4a7c15, offset, records, size))
					offset += int64(records) + int64(random.IntN(3)) // gaps, as compaction leaves
				}
			}
			random.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })
			builder := NewBuilder(test.blockSize)
			wantLen := 0
			for _, batch := range batches {
				builder.Add(batch)
				wantLen += len(batch.Data)
			}
			if builder.Len() != wantLen {
				t.Fatalf("Len = %d, want %d", builder.Len(), wantLen)
			}
			object, index := builder.Finish()
			blockSize := test.blockSize
			if blockSize == 0 {
				blockSize = DefaultBlockSize
			}
			checkObject(t, object, index, batches, blockSize)
			if builder.Len() != 0 {
				t.Fatalf("Len after Finish = %d, want 0", builder.Len())
			}
		})
	}
}

func TestBuilderBlockBoundaries(t *testing.T) {
	builder := NewBuilder(100)
	// 40+40 fit in one block; the third would make 120 > 100.
	builder.Add(makeBatch(1, 0, 1, 40))
	builder.Add(makeBatch(1, 1, 1, 40))
	builder.Add(makeBatch(1, 2, 1, 40))
	// Exactly the block size fits.
	builder.Add(makeBatch(1, 3, 1, 60))
	// A big batch goes alone, and the next one starts a new block.
	builder.Add(makeBatch(1, 4, 1, 250))
	builder.Add(makeBatch(1, 5, 1, 20))
	// A new stream always starts a new block.
	builder.Add(makeBatch(2, 0, 1, 20))
	object, index := builder.Finish()
	var sizes []int64
	for _, entry := range index {
		sizes = append(sizes, entry.Size)
	}
	if got, want := fmt.Sprint(sizes), "[80 100 250 20 20]"; got != want {
		t.Fatalf("block sizes = %s, want %s", got, want)
	}
	if _, err := ParseObject(object); err != nil {
		t.Fatal(err)
	}
}

func TestBuilderReuse(t *testing.T) {
	builder := NewBuilder(64)
	builder.Add(makeBatch(7, 10, 2, 30))
	first, _ := builder.Finish()
	builder.Add(makeBatch(8, 0, 1, 20))
	second, index := builder.Finish()
	if len(index) != 1 || index[0].Stream != 8 {
		t.Fatalf("second object's index = %+v, want one block of stream 8", index)
	}
	if _, err := ParseObject(first); err != nil {
		t.Fatalf("first object after reuse: %v", err)
	}
	checkObject(t, second, index, []Batch{makeBatch(8, 0, 1, 20)}, 64)
}

func TestBuilderPanicsOnProgrammerErrors(t *testing.T) {
	misframed := makeBatch(1, 5, 1, 40)
	misframed.BaseOffset = 6
	short := makeBatch(1, 0, 1, 40)
	short.Data = short.Data[:30]
	tooManyRecords := makeBatch(1, 0, 1, 40)
	tooManyRecords.RecordCount = 2
	tests := map[string]func(*Builder){
		"base offset differs from bytes": func(b *Builder) { b.Add(misframed) },
		"length field differs":           func(b *Builder) { b.Add(short) },
		"fewer bytes than framing":       func(b *Builder) { b.Add(Batch{Data: []byte{1, 2}}) },
		"more records than offsets":      func(b *Builder) { b.Add(tooManyRecords) },
		"overlapping batches": func(b *Builder) {
			b.Add(makeBatch(1, 0, 5, 40))
			b.Add(makeBatch(1, 4, 1, 40))
			b.Finish()
		},
	}
	for name, run := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			run(NewBuilder(0))
		})
	}
}

func BenchmarkBuilder(b *testing.B) {
	var batches []Batch
	for stream := range uint64(64) {
		for i := range int64(64) {
			batches = append(batches, makeBatch(stream, i*10, 10, 16<<10))
		}
	}
	builder := NewBuilder(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(batches) * (16 << 10)))
	for b.Loop() {
		for _, batch := range batches {
			builder.Add(batch)
		}
		builder.Finish()
	}
}

// Batches of one stream with a gap between them never share a block, so an
// index entry never claims offsets its block lacks.
func TestBuilderCutsBlocksAtGaps(t *testing.T) {
	b := NewBuilder(1 << 20)
	for _, base := range []int64{0, 10, 50, 60} {
		data := make([]byte, 12+49)
		binary.BigEndian.PutUint64(data, uint64(base))
		binary.BigEndian.PutUint32(data[8:], uint32(len(data)-12))
		b.Add(Batch{Stream: 1, BaseOffset: base, LastOffset: base + 9, RecordCount: 10, Data: data})
	}
	_, index := b.Finish()
	if len(index) != 2 || index[0].EndOffset != 20 || index[1].FirstOffset != 50 {
		t.Fatalf("index %+v, want blocks [0,20) and [50,70)", index)
	}
}

// Finish copies into fresh memory, which on slow-faulting VMs holds the P
// for hundreds of milliseconds per object unless the copy yields (package
// yield). With one P, a goroutine made runnable before Finish runs before
// Finish returns only if Finish yields: nothing in it blocks, and copying
// 4 MiB normally ends well inside the runtime's 10 ms preemption period.
// (Checked by removing the yield: the test then fails.)
func TestFinishYields(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	b := NewBuilder(0)
	for i := range int64(256) {
		b.Add(makeBatch(1, i*4, 4, 16<<10)) // 4 MiB in 16 KiB batches
	}
	var ran atomic.Bool
	go ran.Store(true)
	b.Finish()
	if !ran.Load() {
		t.Fatal("a runnable goroutine did not run while Finish copied 4 MiB")
	}
}
