package wal

import (
	"fmt"
	"hash/crc32"
	"time"

	"github.com/ncw/directio"
)

// replayChunkBytes is how much Replay reads at once: large direct reads keep
// the device near its sequential speed.
const replayChunkBytes = 4 << 20

// Replay calls fn for every entry from the trim point given to Open up to the
// end of valid data, in write order, then erases whatever stale records might
// lie beyond that end and positions the writer there. end is the position just
// past the record holding e: what the caller may Trim to once every entry of
// that record (and of all before it) is uploaded.
//
// e.Data is a fresh copy the caller may keep: entries of one record share one
// backing array, each capped to its own length so that appending to one never
// overwrites the next.
//
// If fn returns an error, Replay stops and returns it; the WAL must then be
// closed. Call Replay exactly once, before the first Append; owner goroutine
// only.
func (w *WAL) Replay(fn func(end Position, e Entry) error) error {
	switch {
	case w.closed:
		return ErrClosed
	case w.replayed:
		return errReplayed
	case w.Err() != nil:
		return w.Err()
	}
	began := time.Now()
	r := replayer{w: w, fn: fn}
	chunkBytes := int(min(replayChunkBytes, w.ringBytes))
	rr := newRingReader(w, w.openTrim, chunkBytes)
	err := r.run(rr, w.openTrim)
	rr.close()
	if err != nil {
		return err
	}
	if err := w.eraseStale(r.pos, chunkBytes); err != nil {
		return err
	}
	w.writePos.Store(int64(r.pos))
	w.replayed = true
	w.log.Info("wal replayed", "trim", int64(w.openTrim), "end", int64(r.pos),
		"records", r.records, "entries", r.entries, "stop", r.stop,
		"duration_ms", time.Since(began).Milliseconds())
	return nil
}

// replayer holds one Replay's state.
type replayer struct {
	w  *WAL
	fn func(end Position, e Entry) error

	pos     Position // the next record expected
	records int
	entries int
	stop    string // why replay ended, for the log
}

// run reads records from trim until one does not check out, or until a whole
// ring has been read (the live part can never be larger).
func (r *replayer) run(rr *ringReader, trim Position) error {
	w := r.w
	r.pos = trim
	limit := trim + Position(w.ringBytes)
	for r.stop == "" {
		block, ok := rr.peekBlock()
		if !ok {
			break
		}
		h, ok, err := decodeHeader(block)
		switch {
		case err != nil:
			return fmt.Errorf("%w (at position %d)", err, r.pos)
		case !ok:
			r.stop = "no_record"
			continue
		case h.position != r.pos:
			r.stop = "position_mismatch"
			if h.position > r.pos {
				// A record from a later lap than the trim point expects: the
				// caller trimmed past here without making that durable first.
				w.log.Warn("wal record ahead of the trim point; the trim point is stale and data is lost",
					"position", int64(r.pos), "found", int64(h.position))
			}
			continue
		}
		off := w.ring(r.pos)
		if h.flags&flagWrap != 0 {
			// The next record is at ring offset 0, which is also where the
			// reader continues after the end of the file.
			if !rr.skip(w.ringBytes - off) {
				break
			}
			r.pos += Position(w.ringBytes - off)
			continue
		}
		size := recordSize(int64(h.bodyLength))
		if size > w.maxAppend || off+size > w.ringBytes || r.pos+Position(size) > limit {
			r.stop = "bad_length"
			continue
		}
		rec, ok := rr.next(size)
		if !ok {
			break
		}
		if err := r.record(rec, h); err != nil {
			return err
		}
	}
	if rr.err != nil {
		return w.fail("read", rr.err)
	}
	if r.stop == "" {
		r.stop = "ring_end"
	}
	return nil
}

// record checks one record's body and hands its entries to fn.
func (r *replayer) record(rec []byte, h recordHeader) error {
	body := rec[headerSize : headerSize+int64(h.bodyLength)]
	if crc32.Checksum(body, castagnoli) != h.bodyCRC {
		r.stop = "body_crc" // a torn write: the header landed, the body did not
		return nil
	}
	if !checkBody(body, h.entryCount) {
		// The CRCs check out, so floe wrote this: a bug, not a torn write.
		r.w.log.Error("wal record with valid checksums but malformed entries; replay stops there",
			"position", int64(r.pos))
		r.stop = "malformed_body"
		return nil
	}
	end := r.pos + Position(len(rec))
	data := copyOut(body)
	for rest := data; len(rest) > 0; {
		var e Entry
		e, rest = nextEntry(rest)
		if err := r.fn(end, e); err != nil {
			return fmt.Errorf("wal: replay callback at position %d: %w", r.pos, err)
		}
		r.entries++
	}
	r.records++
	r.pos = end
	return nil
}

// copyOut returns a fresh copy of body for the entries of one record: one
// allocation per record, not per entry, since with small entries replay would
// be bound by the allocator, and the caller keeps them all anyway.
//
// The copy goes in pieces: a memmove cannot be preempted, and one of a
// megabyte into fresh pages (a page fault every 4 KiB) kept the garbage
// collector spinning on the other core, waiting to stop this goroutine
// (measured: a quarter of replay's CPU time).
func copyOut(body []byte) []byte {
	const piece = 64 << 10
	data := make([]byte, len(body)) // zeroed in preemptible chunks by the runtime
	for at := 0; at < len(body); at += piece {
		copy(data[at:], body[at:min(at+piece, len(body))])
	}
	return data
}

// eraseStale zeroes the ring from end up to the superblock's write limit
// (never past a whole ring from the trim point): a crash can leave records of
// this lap beyond the first torn one, and once new records end exactly where
// such a stale record starts, a later replay would take it as the next one.
func (w *WAL) eraseStale(end Position, chunkBytes int) error {
	to := min(w.writeLimit, w.openTrim+Position(w.ringBytes))
	if to <= end {
		return nil
	}
	buf := directio.AlignedBlock(chunkBytes)
	for pos := end; pos < to; {
		off := w.ring(pos)
		n := min(int64(len(buf)), w.ringBytes-off, int64(to-pos))
		if _, err := w.file.WriteAt(buf[:n], superblockSize+off); err != nil {
			return w.fail("erase stale records", err)
		}
		pos += Position(n)
	}
	if err := w.file.Datasync(); err != nil {
		return w.fail("sync erased records", err)
	}
	w.log.Info("wal erased the ring beyond the recovered end", "from", int64(end), "to", int64(to))
	return nil
}
