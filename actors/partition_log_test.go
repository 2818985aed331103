package actors

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/floe-io/floe/wire"
)

// Batches produced one after another come back from a tail fetch as one
// writev part, referenced rather than copied; the arena's chunks grow for a
// busy partition and shrink for a slow one.
func TestBatchArena(t *testing.T) {
	var a batchArena
	now := time.Now().UnixNano()
	var batches [][]byte
	var want []byte
	for i := range 600 {
		b := bytes.Repeat([]byte{byte(i)}, 1000+i)
		c := a.copy(b, now)
		if !bytes.Equal(c, b) {
			t.Fatalf("copy %d differs", i)
		}
		batches = append(batches, c)
		want = append(want, b...)
	}
	for i, c := range batches {
		if !bytes.Equal(c, bytes.Repeat([]byte{byte(i)}, 1000+i)) {
			t.Fatalf("batch %d changed by a later copy", i)
		}
	}
	if a.size != arenaMaxChunk {
		t.Errorf("chunks of a busy partition grew to %d, want %d", a.size, arenaMaxChunk)
	}
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	tp := kmsg.NewFetchResponseTopic()
	tp.Topic = "t"
	tp.Partitions = []kmsg.FetchResponseTopicPartition{kmsg.NewFetchResponseTopicPartition()}
	resp.Topics = []kmsg.FetchResponseTopic{tp}
	frame, err := wire.AppendFetchFrame(1, resp, func(int, int) [][]byte { return batches })
	if err != nil {
		t.Fatal(err)
	}
	// 600 batches of about 1.3 KB in chunks of 8, 16, ... 512 KiB: one part
	// per chunk, plus the frame's own fields around them.
	if len(frame.Parts) > 2*8+1 {
		t.Errorf("%d batches in %d parts", len(batches), len(frame.Parts))
	}
	// The records end the frame but for three empty tag sections.
	if got := bytes.Join(frame.Parts, nil); !bytes.HasSuffix(got[:len(got)-3], want) {
		t.Error("the frame does not carry the batches in order")
	}

	// A slow partition: each chunk lasts longer than a second.
	for range 10 {
		now += int64(2 * time.Second)
		a.copy(make([]byte, a.size), now)
	}
	if a.size != arenaMinChunk {
		t.Errorf("chunks of a slow partition shrank to %d, want %d", a.size, arenaMinChunk)
	}
	// A batch larger than any chunk gets a chunk of its own size.
	big := a.copy(make([]byte, 2*arenaMaxChunk), now)
	if len(big) != 2*arenaMaxChunk {
		t.Errorf("big batch of %d bytes", len(big))
	}
}
