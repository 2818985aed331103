package wire

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetch builds a response with random topics, partitions, codes and
// record slices (empty, small enough to be copied, large enough to be
// referenced, and now and then hundreds of small ones), and returns it with
// its records per partition.
func randomFetch(rng *rand.Rand, version int16) (*kmsg.FetchResponse, [][][][]byte) {
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = version
	resp.ThrottleMillis = rng.Int32N(1000)
	resp.ErrorCode = int16(rng.IntN(3))
	resp.SessionID = rng.Int32()
	var records [][][][]byte
	for range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(bytes.Repeat([]byte{'a' + byte(rng.IntN(26))}, 1+rng.IntN(200)))
		var trecs [][][]byte
		for range rng.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition = rng.Int32N(1000)
			p.ErrorCode = int16(rng.IntN(2))
			p.HighWatermark = rng.Int64()
			p.LastStableOffset = rng.Int64()
			p.LogStartOffset = rng.Int64N(100) - 1
			var parts [][]byte
			count, many := rng.IntN(6), rng.IntN(8) == 0
			if many {
				// Enough small slices to fill more than one copy chunk.
				count = 100 + rng.IntN(200)
			}
			for range count {
				size := rng.IntN(2 * FetchCopyBelow)
				switch {
				case many:
					size = rng.IntN(FetchCopyBelow)
				case rng.IntN(4) == 0:
					size = FetchCopyBelow + rng.IntN(200<<10)
				}
				b := make([]byte, size)
				fill := rand.NewChaCha8([32]byte{byte(size), byte(size >> 8)})
				_, _ = fill.Read(b)
				parts = append(parts, b)
			}
			t.Partitions = append(t.Partitions, p)
			trecs = append(trecs, parts)
		}
		resp.Topics = append(resp.Topics, t)
		records = append(records, trecs)
	}
	return resp, records
}

// The vectored encoder writes exactly kmsg's bytes, at every version it
// covers, and references (does not copy) every large record slice.
func TestAppendFetchFrameMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for version := int16(4); version <= 12; version++ {
		for iter := 0; iter < 100; iter++ {
			resp, records := randomFetch(rng, version)
			corr := rng.Int32()
			frame, err := AppendFetchFrame(corr, resp, func(ti, pi int) [][]byte { return records[ti][pi] })
			if err != nil {
				t.Fatal(err)
			}
			got := bytes.Join(frame.Parts, nil)
			if len(got) != frame.Size {
				t.Fatalf("v%d: size %d, parts hold %d", version, frame.Size, len(got))
			}

			// kmsg's encoding of the same response, records concatenated.
			for ti := range resp.Topics {
				for pi := range resp.Topics[ti].Partitions {
					// Empty, never null: see AppendFetchFrame.
					resp.Topics[ti].Partitions[pi].RecordBatches = append([]byte{}, bytes.Join(records[ti][pi], nil)...)
				}
			}
			want := AppendResponse(nil, corr, resp)
			mustEqualBytes(t, "fetch frame", got, want)

			referenced := map[*byte]bool{}
			for _, p := range frame.Parts {
				if len(p) > 0 {
					referenced[&p[0]] = true
				}
			}
			for ti := range records {
				for pi := range records[ti] {
					for _, b := range records[ti][pi] {
						if len(b) >= FetchCopyBelow && !referenced[&b[0]] {
							t.Fatalf("v%d: a %d-byte record slice was copied, not referenced", version, len(b))
						}
						if len(b) > 0 {
							delete(referenced, &b[0])
						}
					}
				}
			}
			// What is left is the frame's own buffers: copies go on in new
			// chunks rather than one buffer growing with the frame.
			for _, p := range frame.Parts {
				if len(p) > 0 && referenced[&p[0]] && len(p) > fetchChunkBytes+FetchCopyBelow {
					t.Fatalf("v%d: an own buffer of %d bytes", version, len(p))
				}
			}
		}
	}
}

func TestAppendFetchFrameRefusesUncoveredVersions(t *testing.T) {
	for _, v := range []int16{3, 13} {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		if _, err := AppendFetchFrame(1, resp, func(int, int) [][]byte { return nil }); err == nil {
			t.Fatalf("v%d encoded", v)
		}
	}
}

func BenchmarkFetchFrame(b *testing.B) {
	// A catch-up fetch: 4 partitions of 1 MiB in 64 KiB blocks.
	resp := kmsg.NewPtrFetchResponse()
	resp.Version = 12
	var records [][][]byte
	t := kmsg.NewFetchResponseTopic()
	t.Topic = "catchup"
	for p := range 4 {
		part := kmsg.NewFetchResponseTopicPartition()
		part.Partition = int32(p)
		t.Partitions = append(t.Partitions, part)
		var parts [][]byte
		for range 16 {
			parts = append(parts, make([]byte, 64<<10))
		}
		records = append(records, parts)
	}
	resp.Topics = append(resp.Topics, t)
	b.Run("vector", func(b *testing.B) {
		b.SetBytes(4 << 20)
		for b.Loop() {
			if _, err := AppendFetchFrame(1, resp, func(_, pi int) [][]byte { return records[pi] }); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A tail fetch of batches from a producer that does not linger, each
	// a few KiB and apart in memory: every one is copied.
	small := make([][][]byte, 4)
	for pi := range small {
		for range 512 {
			small[pi] = append(small[pi], make([]byte, 2<<10))
		}
	}
	b.Run("small", func(b *testing.B) {
		b.SetBytes(4 << 20)
		for b.Loop() {
			if _, err := AppendFetchFrame(1, resp, func(_, pi int) [][]byte { return small[pi] }); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("kmsg", func(b *testing.B) {
		b.SetBytes(4 << 20)
		for b.Loop() {
			// What the fetch path did before: join, then encode.
			for pi := range resp.Topics[0].Partitions {
				resp.Topics[0].Partitions[pi].RecordBatches = bytes.Join(records[pi], nil)
			}
			_ = AppendResponse(nil, 1, resp)
		}
	})
}

// Every Fetch version the broker advertises is one the vectored encoder
// covers, so the fetch path needs no other encoder.
func TestAppendFetchFrameCoversAdvertisedVersions(t *testing.T) {
	r, ok := lookupAPI(int16(kmsg.Fetch))
	if !ok {
		t.Fatal("Fetch is not in the version table")
	}
	for v := r.Min; v <= r.Max; v++ {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = v
		if _, err := AppendFetchFrame(1, resp, func(int, int) [][]byte { return nil }); err != nil {
			t.Errorf("Fetch v%d is advertised but not encodable: %v", v, err)
		}
	}
}

// Record slices cut from one block merge into one part; slices of separate
// buffers, or out of order, stay apart; the bytes are unchanged.
func TestAppendFetchFrameMergesAdjacentRecords(t *testing.T) {
	const n = FetchCopyBelow // each chunk just big enough to be referenced
	chunk := func(c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	block := bytes.Join([][]byte{chunk('a'), chunk('b'), chunk('c'), chunk('d')}, nil)
	other := chunk('e')
	recordParts := func(in [][]byte) []string {
		t.Helper()
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = 12
		topic := kmsg.NewFetchResponseTopic()
		topic.Partitions = []kmsg.FetchResponseTopicPartition{kmsg.NewFetchResponseTopicPartition()}
		resp.Topics = []kmsg.FetchResponseTopic{topic}
		frame, err := AppendFetchFrame(1, resp, func(int, int) [][]byte { return in })
		if err != nil {
			t.Fatal(err)
		}
		// The record bytes sit between the frame's header part and its
		// trailing tags, whatever the parts.
		all := bytes.Join(frame.Parts, nil)
		if want := bytes.Join(in, nil); !bytes.Contains(all, want) {
			t.Fatalf("the frame does not carry the records unchanged")
		}
		var out []string
		for _, p := range frame.Parts {
			if len(p) >= n {
				out = append(out, string(p[0])+"x"+strconv.Itoa(len(p)/n))
			}
		}
		return out
	}
	in := [][]byte{block[0:n], block[n : 2*n], block[2*n : 3*n], other, block[3*n : 4*n], block[n : 2*n]}
	if got, want := recordParts(in), []string{"ax3", "ex1", "dx1", "bx1"}; !slices.Equal(got, want) {
		t.Fatalf("record parts %v, want %v", got, want)
	}
	// A slice whose capacity ends at its length never merges, even when
	// the next one happens to follow it in memory.
	capped := [][]byte{block[0:n:n], block[n : 2*n]}
	if got := recordParts(capped); len(got) != 2 {
		t.Fatalf("merged past a capacity limit: %v", got)
	}
}
