package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// tempDirName is the directory under a LocalDir's root that holds files being
// written. Keys cannot begin with '.', so it never collides with an object,
// and List skips it.
const tempDirName = ".tmp"

// LocalDir is a Store that keeps each object as a file below a root
// directory; a key's segments are subdirectories. It is the embedded default
// and the store of tests.
type LocalDir struct {
	root    string
	tempDir string

	// dirMu guards durableDirs: the directories (relative to root) known to
	// exist with their entry fsynced in the parent. It is held across the
	// mkdir and parent fsync so that a Put that finds a directory already
	// created by a concurrent Put cannot return before that directory's
	// creation is durable (the walkthrough is at ensureDir).
	dirMu       sync.Mutex
	durableDirs map[string]bool
}

var (
	_ Store       = (*LocalDir)(nil)
	_ PacedPutter = (*LocalDir)(nil)
)

// NewLocalDir opens (creating if needed) a LocalDir rooted at dir. Temporary
// files left by a crash in the middle of a Put are removed: they were never
// renamed into place, so no reader can have seen them.
func NewLocalDir(dir string) (*LocalDir, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: local dir %q: %w", dir, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("objstore: local dir: %w", err)
	}
	// The root may have just been created: make its entry durable before any
	// object below it is acknowledged.
	if err := syncDir(filepath.Dir(root)); err != nil {
		return nil, fmt.Errorf("objstore: local dir: %w", err)
	}
	tempDir := filepath.Join(root, tempDirName)
	if err := os.RemoveAll(tempDir); err != nil {
		return nil, fmt.Errorf("objstore: local dir: clearing temporary files: %w", err)
	}
	if err := os.Mkdir(tempDir, 0o755); err != nil {
		return nil, fmt.Errorf("objstore: local dir: %w", err)
	}
	return &LocalDir{root: root, tempDir: tempDir, durableDirs: map[string]bool{"": true}}, nil
}

// Root returns the absolute directory the store lives in.
func (d *LocalDir) Root() string { return d.root }

// Put writes data to a temporary file, fsyncs it, renames it to the key's
// path and fsyncs the key's directory: after a crash the key holds either
// the old state or all of data, and once Put returns the object survives a
// power loss.
func (d *LocalDir) Put(ctx context.Context, key string, data []byte) error {
	return d.PutPaced(ctx, key, data, nil)
}

// PutPaced is Put, waiting on pace (if not nil) before each writebackChunk
// of the object is written.
func (d *LocalDir) PutPaced(ctx context.Context, key string, data []byte, pace Pacer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	dir := parentOf(key)
	if err := d.ensureDir(dir); err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	tempPath, err := d.writeTemp(ctx, data, pace)
	if err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if err := os.Rename(tempPath, d.path(key)); err != nil {
		_ = os.Remove(tempPath) // best effort; the next NewLocalDir clears leftovers anyway
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	if err := syncDir(filepath.Join(d.root, dir)); err != nil {
		return fmt.Errorf("objstore: put %q: %w", key, err)
	}
	return nil
}

// writebackChunk is how much of an object is written before its writeback is
// started; at most two chunks are being written back at a time.
const writebackChunk = 1 << 20

// writeSmoothed writes data to file a chunk at a time and starts each
// chunk's writeback as soon as it is written (sync_file_range), after
// waiting for the chunk before the previous one (and on pace, if given).
// A large object then reaches the disk as a stream of 1 MiB writes instead
// of one burst at fsync: a compacted object of 130 MiB, written whole, put
// 230 MiB/s of writeback in the device queue for seconds, and every WAL
// write of the same disk waited behind it (RocksDB's bytes_per_sync does
// the same for its files). The sync_file_range calls are only a schedule:
// their errors are ignored, because the fsync that follows reports any
// failure to write.
func writeSmoothed(ctx context.Context, file *os.File, data []byte, pace Pacer) error {
	if len(data) <= writebackChunk && pace == nil {
		_, err := file.Write(data)
		return err
	}
	fd := int(file.Fd())
	for off := 0; off < len(data); off += writebackChunk {
		end := min(off+writebackChunk, len(data))
		if pace != nil {
			if err := pace(ctx, end-off); err != nil {
				return err
			}
		}
		if _, err := file.Write(data[off:end]); err != nil {
			return err
		}
		if off >= 2*writebackChunk {
			_ = unix.SyncFileRange(fd, int64(off-2*writebackChunk), writebackChunk,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		}
		_ = unix.SyncFileRange(fd, int64(off), int64(end-off), unix.SYNC_FILE_RANGE_WRITE)
	}
	return nil
}

// writeTemp writes data to a new file in the temporary directory and fsyncs
// it, so that the rename that follows publishes only complete, durable bytes.
func (d *LocalDir) writeTemp(ctx context.Context, data []byte, pace Pacer) (path string, err error) {
	file, err := os.CreateTemp(d.tempDir, "put-")
	if err != nil {
		return "", err
	}
	path = file.Name()
	defer func() {
		if err != nil {
			_ = file.Close()
			_ = os.Remove(path)
		}
	}()
	if err = writeSmoothed(ctx, file, data, pace); err != nil {
		return "", err
	}
	if err = file.Sync(); err != nil {
		return "", err
	}
	if err = file.Close(); err != nil {
		return "", err
	}
	return path, nil
}

// ensureDir creates the directory rel (relative to root) and its parents,
// fsyncing each parent after a new entry appears in it.
//
// Why the lock is held across the fsync — without it:
//  1. Put A finds "3fa2" missing, creates it, starts fsyncing root.
//  2. Put B finds "3fa2" present (EEXIST), renames its object into it,
//     fsyncs "3fa2", returns success.
//  3. Power fails before A's fsync of root completes: "3fa2" and B's
//     acknowledged object are gone.
//
// With the lock B waits at step 2 until A has marked "3fa2" durable.
// Directory creation is rare (once per prefix per process), so the lock
// costs little.
func (d *LocalDir) ensureDir(rel string) error {
	d.dirMu.Lock()
	defer d.dirMu.Unlock()
	if d.durableDirs[rel] {
		return nil
	}
	// Walk from the top so that each parent is durable before its child.
	for i := 0; i <= len(rel); i++ {
		if i < len(rel) && rel[i] != '/' {
			continue
		}
		sub := rel[:i]
		if d.durableDirs[sub] {
			continue
		}
		path := filepath.Join(d.root, sub)
		err := os.Mkdir(path, 0o755)
		if errors.Is(err, fs.ErrExist) {
			err = requireDir(path)
		}
		if err != nil {
			return err
		}
		// Fsync the parent even when the directory already existed: it may
		// have been created by an earlier process that crashed before its
		// fsync, and this process has not yet made it durable.
		if err := syncDir(filepath.Join(d.root, parentOf(sub))); err != nil {
			return err
		}
		d.durableDirs[sub] = true
	}
	return nil
}

// Get reads a range of the object with one positioned read.
func (d *LocalDir) Get(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	file, size, err := d.openObject(ctx, key)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	if offset < 0 || offset > size {
		return nil, fmt.Errorf("%w: %q offset %d, size %d", ErrInvalidRange, key, offset, size)
	}
	available := size - offset
	if length < 0 || length > available {
		length = available
	}
	data := make([]byte, length)
	// Objects are immutable, so a short read means the file changed under us.
	if _, err := file.ReadAt(data, offset); err != nil {
		return nil, fmt.Errorf("objstore: get %q: %w", key, err)
	}
	return data, nil
}

// GetInto reads a range of the object with one positioned read per buffer,
// so the kernel writes the bytes where the caller wants them.
func (d *LocalDir) GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error {
	file, size, err := d.openObject(ctx, key)
	if err != nil {
		return err
	}
	defer file.Close()
	if total := totalLen(dst); offset < 0 || offset > size || total > size-offset {
		return fmt.Errorf("%w: %q bytes [%d, +%d), size %d", ErrInvalidRange, key, offset, total, size)
	}
	if err := preadvFull(file, dst, offset); err != nil {
		return fmt.Errorf("objstore: get %q: %w", key, err)
	}
	return nil
}

// readIovecs is the most buffers one preadv takes (Linux's UIO_MAXIOV).
const readIovecs = 1024

// preadvFull fills dst from file at offset with one preadv per readIovecs
// buffers, not one pread per buffer: a cold load reads a span of blocks
// into one buffer each.
func preadvFull(file *os.File, dst [][]byte, offset int64) error {
	raw, err := file.SyscallConn()
	if err != nil {
		return err
	}
	return readvFull(dst, offset, readIovecs, func(vec [][]byte, off int64) (n int, err error) {
		if cerr := raw.Read(func(fd uintptr) bool {
			for {
				if n, err = unix.Preadv(int(fd), vec, off); err != unix.EINTR {
					return true
				}
			}
		}); cerr != nil {
			return 0, cerr
		}
		if err != nil {
			return n, os.NewSyscallError("preadv", err)
		}
		return n, nil
	})
}

// readvFull fills dst from offset on, handing readv at most maxVec
// non-empty buffers at a time, and goes on where a short read stopped.
// dst's slices are not changed. A read of nothing is io.ErrUnexpectedEOF.
func readvFull(dst [][]byte, offset int64, maxVec int, readv func(vec [][]byte, off int64) (int, error)) error {
	var (
		next int // dst[next:] is still to fill
		into int // bytes of dst[next] filled already
	)
	vec := make([][]byte, 0, min(len(dst), maxVec)) // what the next readv fills
	for {
		vec = vec[:0]
		for i := next; i < len(dst) && len(vec) < maxVec; i++ {
			buf := dst[i]
			if i == next {
				buf = buf[into:]
			}
			if len(buf) > 0 {
				vec = append(vec, buf)
			}
		}
		if len(vec) == 0 {
			return nil
		}
		n, err := readv(vec, offset)
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrUnexpectedEOF
		}
		offset += int64(n)
		for n > 0 {
			if left := len(dst[next]) - into; n >= left {
				n -= left
				next, into = next+1, 0
			} else {
				into += n
				n = 0
			}
		}
	}
}

// Head returns the object's size.
func (d *LocalDir) Head(ctx context.Context, key string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	info, err := os.Stat(d.path(key))
	if err != nil {
		return 0, mapNotFound(key, err)
	}
	if !info.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return info.Size(), nil
}

// openObject checks ctx and key, opens the file of key and returns its
// size; a directory or a missing file is ErrNotFound.
func (d *LocalDir) openObject(ctx context.Context, key string) (*os.File, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if err := ValidateKey(key); err != nil {
		return nil, 0, err
	}
	file, err := os.Open(d.path(key))
	if err != nil {
		return nil, 0, mapNotFound(key, err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, fmt.Errorf("objstore: %q: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		file.Close()
		return nil, 0, fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return file, info.Size(), nil
}

// List walks the deepest directory the prefix names completely and keeps
// the keys that begin with prefix.
func (d *LocalDir) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	start := parentOf(prefix)
	keys := []string{}
	walkRoot := filepath.Join(d.root, start)
	err := filepath.WalkDir(walkRoot, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				return nil // nothing stored under that prefix
			}
			return err
		}
		if path != walkRoot && strings.HasPrefix(entry.Name(), ".") {
			if entry.IsDir() {
				return fs.SkipDir // the temporary directory
			}
			return nil
		}
		if !entry.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("objstore: list %q: %w", prefix, err)
	}
	// WalkDir's per-directory order is not the order of whole keys ("a-b"
	// sorts before "a/x" but its directory entry comes after "a").
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the object's file and fsyncs its directory so a deleted
// object does not come back after a crash. Empty directories are kept: a
// concurrent Put may be about to rename into one.
func (d *LocalDir) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	info, err := os.Lstat(d.path(key))
	if err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("objstore: delete %q: %w", key, err)
	}
	if !info.Mode().IsRegular() {
		return nil // a prefix directory, not an object
	}
	if err := os.Remove(d.path(key)); err != nil && !isNotFound(err) {
		return fmt.Errorf("objstore: delete %q: %w", key, err)
	}
	if err := syncDir(filepath.Join(d.root, parentOf(key))); err != nil {
		return fmt.Errorf("objstore: delete %q: %w", key, err)
	}
	return nil
}

func (d *LocalDir) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

// parentOf returns the part of a key before its last '/', or "".
func parentOf(key string) string {
	if slash := strings.LastIndexByte(key, '/'); slash >= 0 {
		return key[:slash]
	}
	return ""
}

// isNotFound covers ENOTDIR too: a key "a/b/c" where "a/b" is an object.
func isNotFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func mapNotFound(key string, err error) error {
	if isNotFound(err) {
		return fmt.Errorf("%w: %q", ErrNotFound, key)
	}
	return fmt.Errorf("objstore: %q: %w", key, err)
}

// requireDir fails unless path is a directory: a key "a/b/c" cannot be
// stored while "a/b" is an object.
func requireDir(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is an object, not a prefix: %w", path, syscall.ENOTDIR)
	}
	return nil
}

// syncDir fsyncs a directory so that entries created, renamed or removed in
// it survive a crash.
func syncDir(path string) error {
	dir, err := os.Open(path)
	if err != nil {
		return err
	}
	syncErr := dir.Sync()
	closeErr := dir.Close()
	if syncErr != nil {
		return syncErr
	}
	return closeErr
}
