package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch responses carry most of what a broker sends, and nearly all of it is
// record data the broker already holds in memory (the log cache or the block
// cache). Encoding them with kmsg copies that data into one new buffer per
// response, megabytes at a time on a catch-up read; AppendFetchFrame instead
// returns the frame as a vector whose record parts are the caller's own slices,
// which the event loop hands to writev as they are.

// FetchCopyBelow is the size under which a record slice is copied into the
// frame's own buffer rather than referenced: below it an extra iovec (the
// kernel walks each, and writev takes at most 1024) costs more than the copy.
const FetchCopyBelow = 4 << 10

// fetchChunkBytes is the size of the buffers that copied record slices go
// into once the first has grown to half of it.
const fetchChunkBytes = 256 << 10

// FetchFrame is an encoded Fetch response frame: Parts, written in order, are
// the frame; Size is their total length, 4-byte size prefix included.
type FetchFrame struct {
	Parts [][]byte
	Size  int
}

// AppendFetchFrame encodes resp (whose version must be set, 4 to 12) as a
// whole response frame, byte for byte what AppendResponse would produce if
// every partition's RecordBatches were the concatenation of
// records(topicIndex, partitionIndex). resp's own RecordBatches fields are
// ignored; a partition with no record slices is encoded as empty records
// (length 0), as Apache Kafka writes them: librdkafka refuses null records
// ("invalid MessageSetSize -1") and never sees the end of the partition.
// Record slices are referenced, not copied
// (except those under FetchCopyBelow), so they must not change until the
// frame is written; slices that lie back to back in memory are written as
// one part. Response fields floe never sets (aborted transactions,
// tagged fields, the broker list of v16) are encoded as absent; versions above
// 12 are refused.
func AppendFetchFrame(correlationID int32, resp *kmsg.FetchResponse, records func(t, p int) [][]byte) (FetchFrame, error) {
	version := resp.Version
	if version < 4 || version > 12 {
		return FetchFrame{}, fmt.Errorf("wire: fetch frame encoder covers v4..v12, not v%d", version)
	}
	flexible := version >= 12
	e := fetchEncoder{buf: make([]byte, 0, 512)}
	e.buf = append(e.buf, 0, 0, 0, 0) // size, filled in at the end
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(correlationID))
	if flexible {
		e.buf = append(e.buf, 0) // no response-header tags
	}
	e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(resp.ThrottleMillis))
	if version >= 7 {
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(resp.ErrorCode))
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(resp.SessionID))
	}
	e.arrayLen(len(resp.Topics), flexible)
	for ti := range resp.Topics {
		t := &resp.Topics[ti]
		e.string(t.Topic, flexible)
		e.arrayLen(len(t.Partitions), flexible)
		for pi := range t.Partitions {
			p := &t.Partitions[pi]
			e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(p.Partition))
			e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(p.ErrorCode))
			e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(p.HighWatermark))
			e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(p.LastStableOffset))
			if version >= 5 {
				e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(p.LogStartOffset))
			}
			// Aborted transactions: null (floe has no transactions).
			if flexible {
				e.buf = append(e.buf, 0)
			} else {
				e.buf = binary.BigEndian.AppendUint32(e.buf, math.MaxUint32)
			}
			if version >= 11 {
				e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(p.PreferredReadReplica))
			}
			parts := records(ti, pi)
			if len(parts) == 0 {
				if flexible {
					e.buf = append(e.buf, 1) // compact length 0
				} else {
					e.buf = binary.BigEndian.AppendUint32(e.buf, 0)
				}
			} else {
				n := 0
				for _, b := range parts {
					n += len(b)
				}
				if n > math.MaxInt32-1 {
					return FetchFrame{}, fmt.Errorf("wire: %d bytes of records in one partition do not fit a frame", n)
				}
				if flexible {
					e.buf = binary.AppendUvarint(e.buf, uint64(n)+1)
				} else {
					e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
				}
				for _, b := range parts {
					e.records(b)
				}
				e.placeRun()
			}
			if flexible {
				e.buf = append(e.buf, 0) // no partition tags
			}
		}
		if flexible {
			e.buf = append(e.buf, 0) // no topic tags
		}
	}
	if flexible {
		e.buf = append(e.buf, 0) // no response tags
	}
	e.cut()
	if e.size-4 > math.MaxInt32 {
		return FetchFrame{}, fmt.Errorf("wire: fetch response of %d bytes does not fit a frame", e.size-4)
	}
	binary.BigEndian.PutUint32(e.parts[0], uint32(e.size-4))
	return FetchFrame{Parts: e.parts, Size: e.size}, nil
}

// fetchEncoder appends encoded fields to buf and cuts buf into parts around
// every referenced record slice. buf only ever grows by appending, so a part
// cut from it stays valid when a later append moves buf.
type fetchEncoder struct {
	buf   []byte
	start int // first byte of buf not yet in parts
	parts [][]byte
	size  int
	run   []byte // record slices given back to back in memory, not yet placed
}

func (e *fetchEncoder) cut() {
	if len(e.buf) > e.start {
		e.parts = append(e.parts, e.buf[e.start:len(e.buf):len(e.buf)])
		e.size += len(e.buf) - e.start
		e.start = len(e.buf)
	}
}

// records takes the next record slice. Slices that continue one another in
// memory (consecutive batches of one object block) are gathered into one
// run, so thousands of small batches become one writev part, not thousands
// of parts or a copy.
func (e *fetchEncoder) records(b []byte) {
	if len(b) == 0 {
		return
	}
	if len(e.run) > 0 && adjacent(e.run, b) {
		e.run = e.run[:len(e.run)+len(b)]
		return
	}
	e.placeRun()
	e.run = b
}

// placeRun puts the gathered run into the frame: copied when small,
// referenced otherwise.
func (e *fetchEncoder) placeRun() {
	run := e.run
	e.run = nil
	switch {
	case len(run) == 0:
	case len(run) < FetchCopyBelow:
		if len(e.buf)+len(run) > cap(e.buf) && len(e.buf) >= fetchChunkBytes/2 {
			// Full: go on in a new chunk rather than let append move
			// everything encoded so far (megabytes of small batches
			// would be copied again at each doubling).
			e.cut()
			e.buf, e.start = make([]byte, 0, fetchChunkBytes), 0
		}
		e.buf = append(e.buf, run...)
	default:
		e.cut()
		e.parts = append(e.parts, run)
		e.size += len(run)
	}
}

// adjacent reports whether b starts where a ends, within a's capacity.
func adjacent(a, b []byte) bool {
	return cap(a)-len(a) >= len(b) && &a[:len(a)+1][len(a)] == &b[0]
}

func (e *fetchEncoder) arrayLen(n int, flexible bool) {
	if flexible {
		e.buf = binary.AppendUvarint(e.buf, uint64(n)+1)
	} else {
		e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(n))
	}
}

func (e *fetchEncoder) string(s string, flexible bool) {
	if flexible {
		e.buf = binary.AppendUvarint(e.buf, uint64(len(s))+1)
	} else {
		e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(s)))
	}
	e.buf = append(e.buf, s...)
}
