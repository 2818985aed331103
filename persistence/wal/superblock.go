package wal

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

const (
	superblockSize  = blockSize
	superblockMagic = 0x46575342 // "FWSB"
	superblockBytes = 28         // meaningful prefix; the rest of the block is zero
)

// superblock is block 0 of the file. It exists for one reason: to bound where
// records of the current lap may sit beyond the recovered end (see doc.go,
// "Stale records"), so that recovery can erase them before writing again.
type superblock struct {
	fileBytes int64
	// writeLimit: no record header was ever written at or beyond this logical
	// position (within the lap of the trim point). The writer raises it,
	// durably, before writing past it.
	writeLimit Position
}

type superblockState int

const (
	superblockFresh   superblockState = iota // all zeros: never written
	superblockValid                          // checks out
	superblockCorrupt                        // neither: a torn write or damage
)

func (s *superblock) encode(b []byte) {
	clear(b[:superblockSize])
	binary.BigEndian.PutUint32(b[0:4], superblockMagic)
	b[4] = formatVersion
	binary.BigEndian.PutUint64(b[8:16], uint64(s.fileBytes))
	binary.BigEndian.PutUint64(b[16:24], uint64(s.writeLimit))
	binary.BigEndian.PutUint32(b[24:28], crc32.Checksum(b[:24], castagnoli))
}

func decodeSuperblock(b []byte) (s superblock, state superblockState, err error) {
	if binary.BigEndian.Uint32(b[0:4]) != superblockMagic ||
		binary.BigEndian.Uint32(b[24:28]) != crc32.Checksum(b[:24], castagnoli) {
		for _, c := range b[:superblockSize] {
			if c != 0 {
				return s, superblockCorrupt, nil
			}
		}
		return s, superblockFresh, nil
	}
	if b[4] != formatVersion {
		return s, superblockCorrupt, fmt.Errorf("wal: superblock has format version %d: this build reads version %d",
			b[4], formatVersion)
	}
	s.fileBytes = int64(binary.BigEndian.Uint64(b[8:16]))
	s.writeLimit = Position(binary.BigEndian.Uint64(b[16:24]))
	return s, superblockValid, nil
}
