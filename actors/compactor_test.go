package actors

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kmsg"
	"golang.org/x/time/rate"

	"github.com/floe-io/floe/persistence/meta"
	"github.com/floe-io/floe/persistence/objformat"
	"github.com/floe-io/floe/persistence/objstore"
)

func entry(stream uint64, first, end, size int64) meta.ObjectEntry {
	return meta.ObjectEntry{Stream: stream, FirstOffset: first, EndOffset: end, RecordCount: end - first, MaxTimestamp: 1000 + end, Size: size}
}

// victim lays entries out back to back, as an object's index does.
func victim(id uint64, entries ...meta.ObjectEntry) meta.Object {
	var position int64
	for i := range entries {
		entries[i].Position = position
		position += entries[i].Size
	}
	return meta.Object{ID: id, Key: fmt.Sprint("v", id), Size: position, Entries: entries}
}

// planned renders a plan as "victim:stream[first,end)" per block, one
// output per line.
func planned(outputs []compactionOutput) string {
	var lines []string
	for _, out := range outputs {
		var blocks []string
		var size int64
		for _, b := range out.blocks {
			blocks = append(blocks, fmt.Sprintf("%d:%d[%d,%d)", b.victim, b.entry.Stream, b.entry.FirstOffset, b.entry.EndOffset))
			size += b.entry.Size
		}
		if size != out.size {
			lines = append(lines, fmt.Sprintf("size %d, blocks %d", out.size, size))
		}
		lines = append(lines, strings.Join(blocks, " "))
	}
	return strings.Join(lines, "\n")
}

func TestPlanCompaction(t *testing.T) {
	victims := []meta.Object{
		victim(1, entry(1, 0, 10, 100), entry(2, 0, 5, 50), entry(3, 4, 8, 40)),
		victim(2, entry(1, 10, 20, 100), entry(2, 5, 8, 30), entry(4, 0, 9, 90)),
		// An earlier round's output: a newer id, older offsets of stream 3.
		victim(3, entry(3, 0, 4, 40)),
	}
	starts := map[uint64]int64{2: 5}    // stream 2's first block is below its log start
	deleted := map[uint64]bool{4: true} // stream 4's topic is gone
	outputs, err := planCompaction(victims, starts, deleted, 150)
	if err != nil {
		t.Fatal(err)
	}
	// Cut between streams once an output holds 150 bytes.
	want := "0:1[0,10) 1:1[10,20)\n1:2[5,8) 2:3[0,4) 0:3[4,8)"
	if got := planned(outputs); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}

	// One stream alone is cut at twice the output size.
	long := []meta.Object{
		victim(1, entry(5, 0, 1, 100)), victim(2, entry(5, 1, 2, 100)),
		victim(3, entry(5, 2, 3, 100)), victim(4, entry(5, 3, 4, 100)),
	}
	outputs, err = planCompaction(long, nil, nil, 150)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := planned(outputs), "0:5[0,1) 1:5[1,2) 2:5[2,3)\n3:5[3,4)"; got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}

	// Everything expired: nothing to write, the victims still go.
	outputs, err = planCompaction(victims, map[uint64]int64{1: 20, 2: 8, 3: 8}, deleted, 150)
	if err != nil || len(outputs) != 0 {
		t.Fatalf("all expired: %d outputs, %v", len(outputs), err)
	}

	overlapping := []meta.Object{victim(1, entry(1, 0, 10, 100)), victim(2, entry(1, 5, 15, 100))}
	if _, err := planCompaction(overlapping, nil, nil, 150); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("overlapping blocks: %v", err)
	}
}

func TestCompactionIndex(t *testing.T) {
	out := compactionOutput{blocks: []compactionBlock{
		{0, entry(1, 0, 10, 100)},
		{1, entry(1, 10, 20, 100)}, // continues the first: joined
		{1, entry(1, 25, 30, 50)},  // a gap (compacted away): a new block
		{2, entry(1, 30, 40, 200)}, // would make a block of 250 > 200
		{2, entry(2, 40, 50, 20)},  // another stream
	}, size: 470}
	got := compactionIndex(out, 200)
	want := []objformat.IndexEntry{
		{Stream: 1, FirstOffset: 0, EndOffset: 20, RecordCount: 20, MaxTimestamp: 1020, Position: 0, Size: 200},
		{Stream: 1, FirstOffset: 25, EndOffset: 30, RecordCount: 5, MaxTimestamp: 1030, Position: 200, Size: 50},
		{Stream: 1, FirstOffset: 30, EndOffset: 40, RecordCount: 10, MaxTimestamp: 1040, Position: 250, Size: 200},
		{Stream: 2, FirstOffset: 40, EndOffset: 50, RecordCount: 10, MaxTimestamp: 1050, Position: 450, Size: 20},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("index:\n%+v\nwant:\n%+v", got, want)
	}
	// The index is one a reader accepts for blocks of that length.
	if _, err := objformat.Assemble(make([]byte, 470, 470+objformat.TrailerSize(len(got))), got); err != nil {
		t.Fatal(err)
	}
}

func testBatchAt(base int64, records int32) []byte {
	rb := kmsg.RecordBatch{FirstOffset: base, Magic: 2, LastOffsetDelta: records - 1, NumRecords: records,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, Records: make([]byte, 20)}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	return rb.AppendTo(nil)
}

func TestCheckBlock(t *testing.T) {
	block := append(testBatchAt(10, 3), testBatchAt(13, 2)...)
	if err := checkBlock(entry(1, 10, 15, int64(len(block))), block); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		name  string
		e     meta.ObjectEntry
		block []byte
	}{
		{"first offset", entry(1, 9, 15, 0), block},
		{"end offset", entry(1, 10, 16, 0), block},
		{"cut in a batch", entry(1, 10, 15, 0), block[:len(block)-1]},
		{"cut in a header", entry(1, 10, 15, 0), block[:len(block)-len(testBatchAt(13, 2))+8]},
	} {
		if err := checkBlock(bad.e, bad.block); err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
}

// nullStore answers every read into buffers with nothing but its success;
// the rest of Store panics if called.
type nullStore struct{ objstore.Store }

func (nullStore) GetInto(context.Context, string, int64, ...[]byte) error { return nil }

// A compaction read waits for every byte it reads, not for at most one
// burst: at 1 MiB/s with a full 1 MiB bucket, reading 4 MiB takes 3 s. The
// bubble's clock makes that exact; before the read was charged in full it
// took no time.
func TestCompactionReadChargedInFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &compactor{b: &Broker{deps: Deps{Store: nullStore{}}, compaction: rate.NewLimiter(rate.Limit(1<<20), pacePieceBytes)}}
		start := time.Now()
		if err := c.readInto("k", 0, 4<<20, [][]byte{make([]byte, 4<<20)}); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 3*time.Second {
			t.Fatalf("reading 4 MiB at 1 MiB/s with 1 MiB in the bucket took %v, want 3s", took)
		}
	})
}

// tickCounter is a Spawner that only counts the compaction ticks sent.
type tickCounter struct {
	Spawner
	ticks atomic.Int32
}

func (s *tickCounter) Send(_ *actor.PID, msg any) {
	if _, ok := msg.(compactTickMsg); ok {
		s.ticks.Add(1)
	}
}

// A timer armed again replaces the one before: the old interval no longer
// ticks, or each SetCompactionInterval would start a chain of ticks of its
// own beside the last.
func TestCompactorArmReplacesTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sends := &tickCounter{}
		c := &compactor{b: &Broker{deps: Deps{Actors: sends}}}
		c.b.compactionInterval.Store(int64(time.Hour))
		c.arm()
		time.Sleep(30 * time.Minute)
		c.arm() // due at 1h30m; the one due at 1h is gone
		time.Sleep(31 * time.Minute)
		synctest.Wait()
		if n := sends.ticks.Load(); n != 0 {
			t.Fatalf("%d ticks at 1h01m, want 0: the replaced timer still ran", n)
		}
		time.Sleep(30 * time.Minute)
		synctest.Wait()
		if n := sends.ticks.Load(); n != 1 {
			t.Fatalf("%d ticks at 1h31m, want 1", n)
		}
		c.timer.Stop()
	})
}
