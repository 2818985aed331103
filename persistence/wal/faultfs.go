package wal

import (
	"errors"
	"sync"

	"github.com/ncw/directio"
)

// ErrInjected is the error a FaultFS returns for an injected fault.
var ErrInjected = errors.New("wal: injected fault")

// ErrCrashed is returned by every call on a FaultFS file handle that was
// closed or open at FaultFS.Crash (the process it belonged to is gone).
var ErrCrashed = errors.New("wal: file closed or crashed")

// FaultFS wraps an FS for tests (pebble-style): it fails the Nth write or sync
// on command, or all of them from some point on, and Crash simulates a power
// loss by undoing every write not yet made durable by Datasync.
//
// Writes pass through to the wrapped FS at once (reads see them, as with a
// real page cache); each file keeps the bytes that a write overwrote until the
// next successful Datasync, and Crash puts them back. A failed Datasync keeps
// them too: after an fsync error nothing unsynced may be assumed durable.
//
// Its methods are safe from any goroutine; mu is never held while a caller
// waits on anything but the wrapped FS.
type FaultFS struct {
	inner FS

	mu           sync.Mutex // guards every field below
	writes       int        // WriteAt calls so far, all files
	syncs        int        // Datasync calls so far, all files
	failWriteAt  int        // fail the write with this count (0: none)
	failSyncAt   int        // fail the sync with this count (0: none)
	failAllWrite bool
	failAllSync  bool
	open         []*faultFile
}

// NewFaultFS wraps inner, which must be able to read back what it wrote.
func NewFaultFS(inner FS) *FaultFS { return &FaultFS{inner: inner} }

// FailNthWrite makes the nth WriteAt from now fail (1 is the next one)
// without writing anything.
func (f *FaultFS) FailNthWrite(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWriteAt = f.writes + n
}

// FailNthSync makes the nth Datasync from now fail (1 is the next one).
func (f *FaultFS) FailNthSync(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failSyncAt = f.syncs + n
}

// FailAllWrites makes every WriteAt from now fail, until Heal.
func (f *FaultFS) FailAllWrites() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAllWrite = true
}

// FailAllSyncs makes every Datasync from now fail, until Heal.
func (f *FaultFS) FailAllSyncs() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAllSync = true
}

// Heal cancels every pending fault.
func (f *FaultFS) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWriteAt, f.failSyncAt, f.failAllWrite, f.failAllSync = 0, 0, false, false
}

// Counts returns how many writes and syncs were attempted so far.
func (f *FaultFS) Counts() (writes, syncs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes, f.syncs
}

// Crash simulates a power loss: for every file open now, each 4 KiB block
// written since the file's last successful Datasync gets its old content back,
// unless keep (which may be nil) returns true for the block's file offset
// (a write that happened to reach the disk: keep some to simulate torn and
// reordered writes; keep is asked once per block). Every handle open now then
// fails with ErrCrashed; files opened afterwards work, and faults are healed.
func (f *FaultFS) Crash(keep func(off int64) bool) error {
	f.mu.Lock()
	files := f.open
	f.open = nil
	f.failWriteAt, f.failSyncAt, f.failAllWrite, f.failAllSync = 0, 0, false, false
	f.mu.Unlock()
	var first error
	for _, ff := range files {
		if err := ff.crash(keep); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(dir string) error { return f.inner.MkdirAll(dir) }

// OpenFile implements FS.
func (f *FaultFS) OpenFile(path string, size int64) (File, error) {
	inner, err := f.inner.OpenFile(path, size)
	if err != nil {
		return nil, err
	}
	ff := &faultFile{fs: f, inner: inner, path: path}
	f.mu.Lock()
	f.open = append(f.open, ff)
	f.mu.Unlock()
	return ff, nil
}

// shouldFailWrite counts a write and reports whether to fail it.
func (f *FaultFS) shouldFailWrite() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.failAllWrite || f.writes == f.failWriteAt
}

func (f *FaultFS) shouldFailSync() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	return f.failAllSync || f.syncs == f.failSyncAt
}

// faultFile records, per unsynced write, the bytes it overwrote.
type faultFile struct {
	fs    *FaultFS
	inner File
	path  string

	mu      sync.Mutex // guards the fields below
	undo    []undoWrite
	closed  bool // by Close: a crash still undoes its unsynced writes
	crashed bool
}

type undoWrite struct {
	off int64
	old []byte // aligned, so it can be written back through O_DIRECT
}

func (ff *faultFile) WriteAt(p []byte, off int64) (int, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return 0, ErrCrashed
	}
	if ff.fs.shouldFailWrite() {
		return 0, ErrInjected
	}
	old := directio.AlignedBlock(len(p))
	if n, err := ff.inner.ReadAt(old, off); err != nil && n < len(p) {
		return 0, err
	}
	ff.undo = append(ff.undo, undoWrite{off: off, old: old})
	return ff.inner.WriteAt(p, off)
}

// WriteAtSync is WriteAt then a sync of that write alone: a write fault
// fails it unwritten, a sync fault fails it written but not durable (a crash
// undoes it).
func (ff *faultFile) WriteAtSync(p []byte, off int64) (int, error) {
	n, err := ff.WriteAt(p, off)
	if err != nil {
		return n, err
	}
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return 0, ErrCrashed
	}
	if ff.fs.shouldFailSync() {
		return 0, ErrInjected
	}
	if err := ff.inner.Datasync(); err != nil {
		return 0, err
	}
	ff.undo = ff.undo[:len(ff.undo)-1] // this write's
	return n, nil
}

func (ff *faultFile) ReadAt(p []byte, off int64) (int, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return 0, ErrCrashed
	}
	return ff.inner.ReadAt(p, off)
}

func (ff *faultFile) Datasync() error {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return ErrCrashed
	}
	if ff.fs.shouldFailSync() {
		return ErrInjected
	}
	if err := ff.inner.Datasync(); err != nil {
		return err
	}
	ff.undo = ff.undo[:0]
	return nil
}

func (ff *faultFile) Size() (int64, error) {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return 0, ErrCrashed
	}
	return ff.inner.Size()
}

func (ff *faultFile) Close() error {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed || ff.closed {
		return nil
	}
	ff.closed = true
	if len(ff.undo) == 0 {
		ff.fs.forget(ff)
	}
	// Otherwise the FaultFS keeps the file: closing does not make writes
	// durable, so a later Crash must still undo them.
	return ff.inner.Close()
}

func (f *FaultFS) forget(ff *faultFile) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, o := range f.open {
		if o == ff {
			f.open = append(f.open[:i], f.open[i+1:]...)
			return
		}
	}
}

// crash undoes unsynced writes, newest first so that a block written twice
// ends up with its content from before the first write.
func (ff *faultFile) crash(keep func(off int64) bool) error {
	ff.mu.Lock()
	defer ff.mu.Unlock()
	if ff.crashed {
		return nil
	}
	ff.crashed = true
	inner := ff.inner
	if ff.closed {
		if len(ff.undo) == 0 {
			return nil
		}
		var err error
		if inner, err = ff.fs.inner.OpenFile(ff.path, 0); err != nil {
			return err
		}
	}
	kept := make(map[int64]bool)
	var first error
	for i := len(ff.undo) - 1; i >= 0; i-- {
		u := ff.undo[i]
		for b := int64(0); b < int64(len(u.old)); b += blockSize {
			off := u.off + b
			k, seen := kept[off]
			if !seen {
				k = keep != nil && keep(off)
				kept[off] = k
			}
			if k {
				continue
			}
			end := min(b+blockSize, int64(len(u.old)))
			if _, err := inner.WriteAt(u.old[b:end], off); err != nil && first == nil {
				first = err
			}
		}
	}
	ff.undo = nil
	// Make the restored state the durable one, as after a real power loss.
	if err := inner.Datasync(); err != nil && first == nil {
		first = err
	}
	if err := inner.Close(); err != nil && first == nil {
		first = err
	}
	return first
}
