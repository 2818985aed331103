package wal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ncw/directio"
	"golang.org/x/sys/unix"
)

// benchDir returns a directory on a filesystem that supports O_DIRECT: the
// test's temporary directory unless that is a tmpfs (open fails with EINVAL),
// then a directory next to the package, removed afterwards.
func benchDir(b testing.TB) string {
	dir := b.TempDir()
	probe := filepath.Join(dir, "probe")
	f, err := directio.OpenFile(probe, os.O_RDWR|os.O_CREATE, 0o644)
	if err == nil {
		f.Close()
		return dir
	}
	if !errors.Is(err, unix.EINVAL) {
		b.Fatal(err)
	}
	dir, err = os.MkdirTemp(".", "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// BenchmarkAppend measures one Append, fdatasync included, on a real file.
func BenchmarkAppend(b *testing.B) {
	for _, c := range []struct {
		entryBytes, batch int
	}{{1 << 10, 1}, {64 << 10, 1}, {1 << 10, 256}, {1 << 10, 4096}} {
		name := fmt.Sprintf("entry=%dKiB/batch=%d", c.entryBytes>>10, c.batch)
		b.Run(name, func(b *testing.B) { benchAppend(b, c.entryBytes, c.batch) })
	}
}

// BenchmarkSyncBaseline is the device's cost for what a 1 KiB Append does
// underneath: one 4 KiB O_DIRECT pwrite and one fdatasync, sequentially over a
// file written once before, with no WAL code, for a ratio that a busy machine
// does not skew.
func BenchmarkSyncBaseline(b *testing.B) {
	const fileBytes = 64 << 20
	f, err := OSFS().OpenFile(filepath.Join(benchDir(b), "raw"), fileBytes)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := directio.AlignedBlock(4 << 20)
	for off := int64(0); off < fileBytes; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Datasync(); err != nil {
		b.Fatal(err)
	}
	block := buf[:blockSize]
	b.SetBytes(1 << 10)
	off := int64(0)
	cpu := startCPU(b)
	defer cpu.report()
	for b.Loop() {
		if _, err := f.WriteAt(block, off); err != nil {
			b.Fatal(err)
		}
		if err := f.Datasync(); err != nil {
			b.Fatal(err)
		}
		off = (off + blockSize) % fileBytes
	}
}

func benchAppend(b *testing.B, entryBytes, batch int) {
	opts := Options{Path: filepath.Join(benchDir(b), "wal.log"), CapacityBytes: 256 << 20, Logger: quietLogger}
	w, _ := openReplay(b, opts, 0)
	defer w.Close()
	entries := make([]Entry, batch)
	for i := range entries {
		entries[i] = Entry{Stream: uint64(i), Data: make([]byte, entryBytes)}
	}
	b.SetBytes(int64(entryBytes * batch))
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		w.Trim(mustAppend(b, w, entries))
	}
	cpu.report()
}

// cpuMeter reports the process's CPU time (user+system, all threads) per
// operation: unlike ns/op it does not grow when other processes share the
// cores, so it shows the code's own cost on a busy machine.
type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU(b)} }

func (c cpuMeter) report() {
	c.b.ReportMetric(float64(processCPU(c.b)-c.start)/float64(c.b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReplay measures Open and Replay of a full 64 MiB WAL, next to a
// plain sequential direct read of the same file (4 MiB at a time, no
// parsing): the device's speed, for a ratio that a busy machine does not skew.
func BenchmarkReplay(b *testing.B) {
	for _, entryBytes := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("entry=%dKiB", entryBytes>>10), func(b *testing.B) {
			opts := fullWAL(b, entryBytes)
			dataBytes := int64(0)
			_, got := openReplay(b, opts, 0)
			for _, r := range got {
				dataBytes += int64(len(r.e.Data))
			}
			b.SetBytes(dataBytes)
			b.ReportAllocs()
			cpu := startCPU(b)
			for b.Loop() {
				w, err := Open(opts, 0)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				if err := w.Replay(func(Position, Entry) error { n++; return nil }); err != nil {
					b.Fatal(err)
				}
				if n != len(got) {
					b.Fatalf("replayed %d entries, want %d", n, len(got))
				}
				w.Close()
			}
			cpu.report()
		})
	}
	b.Run("baseline=direct-read", func(b *testing.B) {
		opts := fullWAL(b, 64<<10)
		f, err := OSFS().OpenFile(opts.Path, opts.CapacityBytes)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		buf := directio.AlignedBlock(replayChunkBytes)
		b.SetBytes(opts.CapacityBytes)
		for b.Loop() {
			for off := int64(0); off < opts.CapacityBytes; off += int64(len(buf)) {
				n := min(int64(len(buf)), opts.CapacityBytes-off)
				if _, err := f.ReadAt(buf[:n], off); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// fullWAL writes a 64 MiB WAL of entryBytes entries until it is full.
func fullWAL(b *testing.B, entryBytes int) Options {
	opts := Options{Path: filepath.Join(benchDir(b), "wal.log"), CapacityBytes: 64<<20 + superblockSize, Logger: quietLogger}
	w, _ := openReplay(b, opts, 0)
	entries := make([]Entry, (1<<20)/entryBytes)
	for i := range entries {
		entries[i] = Entry{Stream: uint64(i % 7), BaseOffset: int64(i), Data: make([]byte, entryBytes)}
	}
	for {
		if _, err := w.Append(entries); errors.Is(err, ErrFull) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return opts
}
