package wal

import (
	"errors"
	"fmt"
	"log/slog"
)

const (
	// DefaultCapacityBytes is the WAL file size when Options leaves it zero.
	DefaultCapacityBytes = 2 << 30
	// MinCapacityBytes is the smallest WAL file accepted.
	MinCapacityBytes = 1 << 20
	// DefaultMaxWriteBytes is the group-write buffer when Options leaves it
	// zero (lowered to a quarter of the ring for small WALs).
	DefaultMaxWriteBytes = 4 << 20
)

// Options configure a WAL. Call EnsureDefaults, then Validate (Open does both).
type Options struct {
	// Path of the WAL file, e.g. <data-dir>/wal/wal-000.log; created and
	// preallocated if missing.
	Path string
	// CapacityBytes is the file size, rounded down to 4 KiB; default 2 GiB,
	// minimum 1 MiB. The first 4 KiB hold the superblock, the rest is the ring
	// (see Capacity).
	CapacityBytes int64
	// MaxWriteBytes is the buffer for one group write and the largest record
	// Append builds from several entries, rounded up to 4 KiB; default 4 MiB.
	// An entry bigger than this still works: that Append uses a larger
	// buffer for the one call.
	MaxWriteBytes int
	// FS is the filesystem; nil means OSFS (O_DIRECT).
	FS FS
	// Logger receives the WAL's few log lines; nil means slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills in zero fields and rounds sizes to the 4 KiB block.
func (o *Options) EnsureDefaults() {
	if o.CapacityBytes == 0 {
		o.CapacityBytes = DefaultCapacityBytes
	}
	o.CapacityBytes = alignDown(o.CapacityBytes)
	if o.MaxWriteBytes == 0 {
		// A quarter of the ring keeps several group writes in flight room even
		// in the smallest WAL.
		o.MaxWriteBytes = int(min(DefaultMaxWriteBytes, alignDown((o.CapacityBytes-superblockSize)/4)))
	}
	if o.MaxWriteBytes > 0 {
		o.MaxWriteBytes = int(alignUp(int64(o.MaxWriteBytes)))
	}
	if o.FS == nil {
		o.FS = OSFS()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Validate reports the first invalid field; call it after EnsureDefaults.
func (o *Options) Validate() error {
	switch {
	case o.Path == "":
		return errors.New("wal: Options.Path is empty")
	case o.CapacityBytes < MinCapacityBytes:
		return fmt.Errorf("wal: Options.CapacityBytes %d is below the minimum %d", o.CapacityBytes, MinCapacityBytes)
	case o.MaxWriteBytes <= 0:
		return fmt.Errorf("wal: Options.MaxWriteBytes %d is not positive", o.MaxWriteBytes)
	case int64(o.MaxWriteBytes) > maxAppendBytes(o.CapacityBytes-superblockSize):
		// A group write must always be able to fit into an empty ring,
		// whatever the write position, or Append could report ErrFull forever.
		return fmt.Errorf("wal: Options.MaxWriteBytes %d is above half the ring (%d)",
			o.MaxWriteBytes, maxAppendBytes(o.CapacityBytes-superblockSize))
	case o.FS == nil:
		return errors.New("wal: Options.FS is nil")
	case o.Logger == nil:
		return errors.New("wal: Options.Logger is nil")
	}
	return nil
}
