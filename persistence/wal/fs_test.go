package wal

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/ncw/directio"
)

// WriteAtSync writes what it is given, through pwritev2(RWF_DSYNC) and
// through the pwrite+fdatasync fallback used where the kernel refuses it.
func TestOSFileWriteAtSync(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		f, err := OSFS().OpenFile(filepath.Join(benchDir(t), "wal"), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		f.(*osFile).noDsync.Store(fallback)
		block := directio.AlignedBlock(2 * blockSize)
		for i := range block {
			block[i] = byte(i*7 + 1)
		}
		if n, err := f.WriteAtSync(block, 3*blockSize); err != nil || n != len(block) {
			t.Fatalf("fallback %v: WriteAtSync = %d, %v", fallback, n, err)
		}
		back := directio.AlignedBlock(len(block))
		if _, err := f.ReadAt(back, 3*blockSize); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back, block) {
			t.Fatalf("fallback %v: read back differs from what was written", fallback)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
