package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetch builds a response with random topics, partitions, codes and
// record slices (empty, small enough to be copied, large enough to be
// referenced), and returns it with its records per partition.
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
			for range rng.IntN(6) {
				size := rng.IntN(2 * FetchCopyBelow)
				if rng.IntN(4) == 0 {
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
					if parts := records[ti][pi]; len(parts) > 0 {
						resp.Topics[ti].Partitions[pi].RecordBatches = bytes.Join(parts, nil)
					}
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
					}
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
