package wal

import (
	"fmt"

	"github.com/ncw/directio"
)

// Append makes entries durable: it packs them into as few records as the
// group-write buffer allows, writes them durably (one WriteAtSync; WriteAts
// and a Datasync when the buffer fills or the ring wraps), and returns the
// position just past the last record. Group commit is the caller's business: pass every entry that is
// waiting to one Append.
//
// ErrFull and ErrTooLarge write nothing and are not sticky. Any write or sync
// failure is sticky (errors.Is(err, ErrStorage)): this and every later Append
// fail, and nothing past the previous End may be assumed durable. Entries'
// Data is not retained. Owner goroutine only, after Replay.
func (w *WAL) Append(entries []Entry) (Position, error) {
	switch {
	case w.closed:
		return 0, ErrClosed
	case w.Err() != nil:
		return 0, w.Err()
	case !w.replayed:
		return 0, errNotReplayed
	case len(entries) == 0:
		return w.End(), nil
	}
	start := w.End()
	end, biggest, err := w.plan(entries, start)
	if err != nil {
		return 0, err
	}
	if int64(end-start) > w.ringBytes-w.Used() {
		return 0, ErrFull
	}
	if end > w.writeLimit {
		// Move the limit well ahead so that this costs one extra sync per
		// limitStride bytes, not per Append.
		if err := w.setWriteLimit(end + Position(w.limitStride)); err != nil {
			return 0, err
		}
	}
	buf := w.buf
	if biggest > int64(len(buf)) {
		// One entry bigger than the buffer: a buffer for this call only, so
		// a rare huge batch does not pin memory for the WAL's lifetime.
		buf = directio.AlignedBlock(int(biggest))
	}
	last, lastOff, wrote, err := w.write(entries, start, buf)
	if err != nil {
		return 0, err
	}
	if len(last) > 0 && !wrote {
		// The usual Append: one write, made durable in the same call.
		if _, err := w.file.WriteAtSync(last, lastOff); err != nil {
			return 0, w.fail("write", err)
		}
	} else {
		if len(last) > 0 {
			if _, err := w.file.WriteAt(last, lastOff); err != nil {
				return 0, w.fail("write", err)
			}
		}
		if err := w.file.Datasync(); err != nil {
			return 0, w.fail("sync", err)
		}
	}
	w.writePos.Store(int64(end))
	return end, nil
}

// nextRecord returns the entries [i, j) that go into the record starting with
// entries[i], and that record's body length: as many as fit in limit bytes of
// record, and always at least one.
func nextRecord(entries []Entry, i int, limit int64) (j int, bodyLength int64) {
	bodyLength = entryHeaderSize + int64(len(entries[i].Data))
	for j = i + 1; j < len(entries); j++ {
		n := entryHeaderSize + int64(len(entries[j].Data))
		if headerSize+bodyLength+n > limit {
			break
		}
		bodyLength += n
	}
	return j, bodyLength
}

// plan lays out the records for entries from start without writing: it
// returns the end position (wrap padding included) and the biggest record.
func (w *WAL) plan(entries []Entry, start Position) (end Position, biggest int64, err error) {
	pos, total := start, int64(0)
	for i := 0; i < len(entries); {
		j, bodyLength := nextRecord(entries, i, int64(len(w.buf)))
		size := recordSize(bodyLength)
		total += size
		if size > maxRecordBytes || total > w.maxAppend {
			return 0, 0, fmt.Errorf("%w: %d entries need more than %d bytes", ErrTooLarge, len(entries), min(w.maxAppend, maxRecordBytes))
		}
		biggest = max(biggest, size)
		if off := w.ring(pos); off+size > w.ringBytes {
			pos += Position(w.ringBytes - off)
		}
		pos += Position(size)
		i = j
	}
	return pos, biggest, nil
}

// write encodes and writes the records that plan laid out, flushing buf when
// it is full and before the write position wraps to the start of the ring.
// The last buffer it does not write: it returns it with its file offset, for
// Append to write and sync in one call when nothing was written before it
// (wrote).
func (w *WAL) write(entries []Entry, start Position, buf []byte) (last []byte, lastOff int64, wrote bool, err error) {
	pos, flushed, used := start, start, int64(0)
	flush := func() error {
		if used > 0 {
			if _, err := w.file.WriteAt(buf[:used], w.fileOffset(flushed)); err != nil {
				return w.fail("write", err)
			}
			wrote = true
		}
		flushed, used = pos, 0
		return nil
	}
	for i := 0; i < len(entries); {
		j, bodyLength := nextRecord(entries, i, int64(len(w.buf)))
		size := recordSize(bodyLength)
		if off := w.ring(pos); off+size > w.ringBytes {
			if used+blockSize > int64(len(buf)) {
				if err := flush(); err != nil {
					return nil, 0, false, err
				}
			}
			encodeWrap(buf[used:], pos)
			used += blockSize
			pos += Position(w.ringBytes - off)
			if err := flush(); err != nil {
				return nil, 0, false, err
			}
		}
		if used+size > int64(len(buf)) {
			if err := flush(); err != nil {
				return nil, 0, false, err
			}
		}
		encodeRecord(buf[used:used+size], pos, entries[i:j], int(bodyLength))
		used += size
		pos += Position(size)
		i = j
	}
	return buf[:used], w.fileOffset(flushed), wrote, nil
}
