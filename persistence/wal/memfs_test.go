package wal

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"unsafe"
)

// memFS is an in-memory FS for fast tests. It enforces O_DIRECT's alignment
// rules, so a misaligned write fails here as it would on a real disk.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memData
}

type memData struct {
	mu sync.Mutex
	b  []byte
}

type memFile struct{ d *memData }

var errMisaligned = errors.New("memfs: misaligned direct I/O")

func newMemFS() *memFS { return &memFS{files: make(map[string]*memData)} }

func (m *memFS) MkdirAll(string) error { return nil }

func (m *memFS) OpenFile(path string, size int64) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.files[filepath.Clean(path)]
	if !ok {
		d = &memData{b: make([]byte, size)}
		m.files[filepath.Clean(path)] = d
	}
	return memFile{d}, nil
}

// bytes returns the live contents of path, for tests that corrupt or inspect
// the file.
func (m *memFS) bytes(path string) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.files[filepath.Clean(path)].b
}

func aligned(p []byte, off int64) bool {
	return off%blockSize == 0 && len(p)%blockSize == 0 &&
		(len(p) == 0 || uintptr(unsafe.Pointer(&p[0]))%blockSize == 0)
}

func (f memFile) WriteAt(p []byte, off int64) (int, error) {
	if !aligned(p, off) {
		return 0, errMisaligned
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if off+int64(len(p)) > int64(len(f.d.b)) {
		return 0, os.ErrInvalid
	}
	return copy(f.d.b[off:], p), nil
}

func (f memFile) ReadAt(p []byte, off int64) (int, error) {
	if !aligned(p, off) {
		return 0, errMisaligned
	}
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	if off+int64(len(p)) > int64(len(f.d.b)) {
		return 0, os.ErrInvalid
	}
	return copy(p, f.d.b[off:]), nil
}

func (f memFile) Datasync() error { return nil }

func (f memFile) WriteAtSync(p []byte, off int64) (int, error) { return f.WriteAt(p, off) }
func (f memFile) Close() error                                 { return nil }

func (f memFile) Size() (int64, error) {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	return int64(len(f.d.b)), nil
}
