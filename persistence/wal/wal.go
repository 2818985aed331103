package wal

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"

	"github.com/ncw/directio"
)

// Entry is one record batch of one stream (partition) as stored in the WAL.
type Entry struct {
	Stream     uint64 // the partition's stream id
	BaseOffset int64  // offset of the first record in Data
	Data       []byte // the Kafka record batch bytes, opaque here
}

// Position is a logical byte position in the WAL. It only grows; the byte
// sits at ring offset position % Capacity().
type Position int64

var (
	// ErrFull: the ring has too little free space for this Append; nothing was
	// written. Retriable once the caller trims.
	ErrFull = errors.New("wal: full")
	// ErrStorage wraps a write or sync failure. It is sticky: every later
	// Append returns it too, and nothing after the last successful Append may
	// be assumed durable.
	ErrStorage = errors.New("wal: storage error")
	// ErrClosed: the WAL was closed.
	ErrClosed = errors.New("wal: closed")
	// ErrTooLarge: one Append asked for more than half the ring (see
	// maxAppendBytes), which could never be guaranteed to fit. Not sticky;
	// the caller must split the batch (or configure a bigger WAL).
	ErrTooLarge = errors.New("wal: append too large")

	errNotReplayed = errors.New("wal: Append before Replay")
	errReplayed    = errors.New("wal: Replay called twice")
)

// WAL is one write-ahead log file used as a ring. See doc.go for the format
// and the ownership of its state.
type WAL struct {
	file File
	log  *slog.Logger
	path string

	ringBytes   int64 // the ring: the file minus the superblock
	maxAppend   int64 // see maxAppendBytes
	limitStride int64 // how far the superblock's write limit moves ahead at once

	// Owned by the writer goroutine (the one calling Replay, Append, Close).
	buf        []byte   // aligned group-write buffer, reused by every Append
	superBuf   []byte   // aligned block for superblock writes
	writeLimit Position // durable in the superblock; see superblock.writeLimit
	openTrim   Position // the trim point Open was given: where Replay starts
	replayed   bool
	closed     bool

	// Shared with any goroutine.
	writePos atomic.Int64 // end of the last durable record
	trimPos  atomic.Int64
	sticky   atomic.Pointer[error]
}

// Open opens or creates the WAL file. trim is the durable trim point kept by
// the caller (0 for a new WAL): the end of the last record whose entries are
// all uploaded. Call Replay before the first Append.
func Open(opts Options, trim Position) (*WAL, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if trim < 0 || trim%blockSize != 0 {
		return nil, fmt.Errorf("wal: trim position %d is not a record boundary", trim)
	}
	if err := opts.FS.MkdirAll(filepath.Dir(opts.Path)); err != nil {
		return nil, fmt.Errorf("%w: mkdir for %s: %w", ErrStorage, opts.Path, err)
	}
	f, err := opts.FS.OpenFile(opts.Path, opts.CapacityBytes)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrStorage, opts.Path, err)
	}
	w, err := newWAL(opts, f, trim)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

func newWAL(opts Options, f File, trim Position) (*WAL, error) {
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("%w: stat %s: %w", ErrStorage, opts.Path, err)
	}
	if size != opts.CapacityBytes {
		return nil, fmt.Errorf("wal: %s is %d bytes, Options.CapacityBytes says %d: a WAL cannot change size",
			opts.Path, size, opts.CapacityBytes)
	}
	ring := size - superblockSize
	w := &WAL{
		file:        f,
		log:         opts.Logger.With("wal_path", opts.Path),
		path:        opts.Path,
		ringBytes:   ring,
		maxAppend:   maxAppendBytes(ring),
		limitStride: max(blockSize, alignDown(min(64<<20, ring/4))),
		buf:         directio.AlignedBlock(opts.MaxWriteBytes),
		superBuf:    directio.AlignedBlock(superblockSize),
		openTrim:    trim,
	}
	w.writePos.Store(int64(trim))
	w.trimPos.Store(int64(trim))
	if _, err := f.ReadAt(w.superBuf, 0); err != nil {
		return nil, fmt.Errorf("%w: read superblock of %s: %w", ErrStorage, opts.Path, err)
	}
	sb, state, err := decodeSuperblock(w.superBuf)
	if err != nil {
		return nil, err
	}
	switch state {
	case superblockFresh:
		// Nothing was ever written (the superblock is made durable before the
		// first record), so there is nothing stale to erase.
		w.writeLimit = trim
	case superblockValid:
		if sb.fileBytes != size {
			return nil, fmt.Errorf("wal: %s was created with %d bytes but is now %d", opts.Path, sb.fileBytes, size)
		}
		w.writeLimit = sb.writeLimit
	case superblockCorrupt:
		// Assume the worst: records may sit anywhere in the free part of the
		// ring, so Replay erases all of it.
		w.log.Warn("wal superblock unreadable; replay will erase the whole free ring")
		w.writeLimit = trim + Position(ring)
	}
	return w, nil
}

// Capacity is the size of the ring in bytes: Options.CapacityBytes less the
// 4 KiB superblock.
func (w *WAL) Capacity() int64 { return w.ringBytes }

// End is the position just past the last durable record. Safe from any
// goroutine.
func (w *WAL) End() Position { return Position(w.writePos.Load()) }

// Used is the number of ring bytes between the trim point and End. Safe from
// any goroutine.
func (w *WAL) Used() int64 {
	// Load trim first: both only grow, so End read second is never behind it.
	trim := w.trimPos.Load()
	return max(0, w.writePos.Load()-trim)
}

// Trim frees the ring up to to, an end position reported by Append or Replay
// whose entries (and all before them) are uploaded. The caller must have made
// to durable in its own store first: once trimmed, the space may be
// overwritten, and a restart from an older trim point would then find the log
// cut short. Going backwards is ignored; a position past End (a caller bug) is
// treated as End. Safe from any goroutine.
func (w *WAL) Trim(to Position) {
	// writePos only grows, so clamping to a value read now stays valid.
	to = min(to, w.End())
	for {
		cur := w.trimPos.Load()
		if int64(to) <= cur || w.trimPos.CompareAndSwap(cur, int64(to)) {
			return
		}
	}
}

// Err returns the sticky storage error, or nil. Safe from any goroutine.
func (w *WAL) Err() error {
	if p := w.sticky.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records err as the sticky error (the first one wins) and returns the
// sticky error.
func (w *WAL) fail(op string, err error) error {
	wrapped := fmt.Errorf("%w: %s %s: %w", ErrStorage, op, w.path, err)
	if w.sticky.CompareAndSwap(nil, &wrapped) {
		w.log.Error("wal storage failure; refusing further appends", "op", op, "err", err)
	}
	return w.Err()
}

// Close closes the file. After a clean run it first lowers the superblock's
// write limit to End, so that the next Replay has nothing to erase. Owner
// goroutine only, after the last Append.
func (w *WAL) Close() error {
	if w.closed {
		return ErrClosed
	}
	w.closed = true
	var err error
	if w.replayed && w.Err() == nil && w.writeLimit != w.End() {
		err = w.setWriteLimit(w.End())
	}
	if cerr := w.file.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%w: close %s: %w", ErrStorage, w.path, cerr)
	}
	return err
}

// fileOffset maps a logical position to its offset in the file.
func (w *WAL) fileOffset(pos Position) int64 {
	return superblockSize + w.ring(pos)
}

// ring maps a logical position to its offset in the ring.
func (w *WAL) ring(pos Position) int64 { return int64(pos) % w.ringBytes }

// setWriteLimit makes limit the superblock's write limit, durably.
func (w *WAL) setWriteLimit(limit Position) error {
	sb := superblock{fileBytes: w.ringBytes + superblockSize, writeLimit: limit}
	sb.encode(w.superBuf)
	if _, err := w.file.WriteAt(w.superBuf, 0); err != nil {
		return w.fail("write superblock", err)
	}
	if err := w.file.Datasync(); err != nil {
		return w.fail("sync superblock", err)
	}
	w.writeLimit = limit
	return nil
}
