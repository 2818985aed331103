package actors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/wire"
)

// testBlock is a block of n batches; batch i holds offsets 3i..3i+2 and a
// value of i%7*100 bytes.
func testBlock(n int) []byte {
	var block []byte
	for i := range n {
		b := kmsg.RecordBatch{
			FirstOffset:          int64(3 * i),
			Magic:                2,
			LastOffsetDelta:      2,
			NumRecords:           3,
			Records:              make([]byte, i%7*100),
			ProducerID:           -1,
			ProducerEpoch:        -1,
			FirstSequence:        -1,
			PartitionLeaderEpoch: -1,
		}
		raw := b.AppendTo(nil)
		binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
		block = append(block, raw...)
	}
	return block
}

// naiveTake is the plain rule takeBatches implements: every batch whose last
// offset reaches off, below the high watermark, within the byte limit (the
// first one always).
func naiveTake(t *testing.T, block []byte, off, hw int64, maxBytes int32) (batches []byte, next int64, full bool) {
	all, err := objformat.BlockBatches(block)
	if err != nil {
		t.Fatal(err)
	}
	next = off
	for _, b := range all {
		h, err := wire.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if h.LastOffset() < next {
			continue
		}
		if h.BaseOffset >= hw || (len(batches) > 0 && len(batches)+len(b) > int(maxBytes)) {
			return batches, next, true
		}
		batches = append(batches, b...)
		next = h.LastOffset() + 1
	}
	return batches, next, false
}

// takeBatches — resuming from its cursor, taking a block's rest whole —
// returns exactly what the plain rule returns, for sequential reads,
// re-reads, jumps back and jumps forward.
func TestTakeBatchesMatchesPlainRule(t *testing.T) {
	const batches = 200
	block := testBlock(batches)
	rng := objectRange{first: 0, end: 3 * batches, key: "o", size: int64(len(block))}
	p := &partition{log: &partitionLog{}}
	r := rand.New(rand.NewPCG(3, 4))
	off := int64(0)
	wholeRests := 0
	for step := 0; step < 3000; step++ {
		switch r.IntN(10) {
		case 0:
			off = r.Int64N(3 * batches) // a jump anywhere
		case 1:
			off = max(0, off-r.Int64N(10)) // a re-read
		}
		maxBytes := int32(1 + r.IntN(3000))
		if r.IntN(5) == 0 {
			maxBytes = int32(len(block)) // room for the whole rest
		}
		hw := int64(3*batches - 50 + r.IntN(100))

		got := &fetchPart{maxBytes: maxBytes}
		next := off
		full, err := p.takeBatches(got, rng, block, &next, hw)
		if err != nil {
			t.Fatal(err)
		}
		want, wantNext, wantFull := naiveTake(t, block, off, hw, maxBytes)
		if full != wantFull || next != wantNext || !bytes.Equal(bytes.Join(got.batches, nil), want) || got.bytes != len(want) {
			t.Fatalf("step %d from offset %d: got full %v, next %d, %d bytes; the plain rule gives full %v, next %d, %d bytes",
				step, off, full, next, got.bytes, wantFull, wantNext, len(want))
		}
		if len(got.batches) == 1 && got.bytes > 3000 {
			wholeRests++
		}
		off = next
		if off >= hw || off >= 3*batches {
			off = 0
		}
	}
	if wholeRests == 0 {
		t.Fatal("no read took a block's rest whole; the test does not cover that path")
	}
}

// Producers last seen before the cutoff are forgotten, with their last
// offsets; the others stay, and a forgotten producer starts afresh.
func TestProducerStatesExpire(t *testing.T) {
	ps := make(producerStates)
	batch := func(id int64, seq int32) wire.BatchHeader {
		return wire.BatchHeader{ProducerID: id, ProducerEpoch: 0, BaseSequence: seq, LastOffsetDelta: 1}
	}
	ps.record(batch(1, 0), 0, 1, -1, 1000)
	ps.record(batch(1, 2), 2, 3, -1, 5000) // seen again later
	ps.record(batch(2, 0), 4, 5, -1, 2000)
	ps.record(batch(3, 0), 6, 7, -1, 9000)
	gone := ps.expire(5000)
	if len(gone) != 1 || gone[2] != 5 {
		t.Fatalf("expired %v, want producer 2 at offset 5", gone)
	}
	if _, ok := ps[1]; !ok || len(ps) != 2 {
		t.Fatalf("left %d producers", len(ps))
	}
	// Producer 2 writes again with a later sequence: accepted as new.
	if c := ps.check(batch(2, 40)); c.code != 0 || c.duplicate {
		t.Fatalf("a forgotten producer's next batch: %+v", c)
	}
	if gone := ps.expire(5001); len(gone) != 1 || gone[1] != 3 {
		t.Fatalf("expired %v at 5001, want producer 1 (seen at 5000) at offset 3", gone)
	}
}

// An upload commits each producer's latest batch on each partition, even
// when its batches arrive newest first, as replayed batches of a partition
// that changed WAL shard can; a LogAppendTime batch's stamp comes along.
func TestCommittedProducers(t *testing.T) {
	ref := &partitionRef{stream: 3}
	item := func(pid int64, base int64, records int32, stamp int64) *walAppendMsg {
		h := wire.BatchHeader{BaseOffset: base, LastOffsetDelta: records - 1, ProducerID: pid, BaseSequence: int32(base), MaxTimestamp: 1000 + base}
		if stamp > 0 {
			h.Attributes, h.MaxTimestamp = 1<<3, stamp // the timestamp-type bit: LogAppendTime
		}
		return &walAppendMsg{ref: ref, header: h}
	}
	newer := &walWrittenMsg{shard: 0, items: []*walAppendMsg{item(7, 10, 10, 5555), item(-1, 20, 1, 0)}}
	older := &walWrittenMsg{shard: 1, items: []*walAppendMsg{item(7, 0, 5, 0), item(7, 5, 5, 0), item(8, 6, 1, 0)}}
	for _, order := range [][]*walWrittenMsg{{newer, older}, {older, newer}} {
		got := committedProducers(order)
		slices.SortFunc(got, func(a, b meta.ProducerState) int { return cmp.Compare(a.ProducerID, b.ProducerID) })
		want := []meta.ProducerState{
			{Stream: 3, ProducerID: 7, FirstSeq: 10, LastSeq: 19, BaseOffset: 10, LastOffset: 19, AppendTime: 5555},
			{Stream: 3, ProducerID: 8, FirstSeq: 6, LastSeq: 6, BaseOffset: 6, LastOffset: 6},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("shard %d's message first: %+v, want %+v", order[0].shard, got, want)
		}
	}
}
