package wal

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

const fuzzFileBytes = 1 << 20

// seedImage returns the start of a WAL file holding a few appends.
func seedImage(t testing.TB) []byte {
	fs := newMemFS()
	opts := memOptions(fs, fuzzFileBytes, 8<<10)
	w, _ := openReplay(t, opts, 0)
	rng := rand.New(rand.NewPCG(31, 32))
	mustAppend(t, w, makeEntries(rng, 3, 0, 300, 1, 0))
	mustAppend(t, w, makeEntries(rng, 2, 5000, 9000, 2, 0))
	mustAppend(t, w, makeEntries(rng, 1, 1, 1, 3, 0))
	w.Close()
	return bytes.Clone(fs.bytes(testPath)[:superblockSize+8*blockSize])
}

// FuzzReplay: whatever bytes the file holds, Open and Replay never panic,
// every entry replayed comes from a record whose checksums and position check
// out, and after appending one more entry a second replay returns the same
// entries plus that one.
func FuzzReplay(f *testing.F) {
	f.Add(seedImage(f), uint8(0))
	f.Add(seedImage(f), uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, image []byte, trimBlocks uint8) {
		if len(image) > fuzzFileBytes {
			image = image[:fuzzFileBytes]
		}
		fs := newMemFS()
		opts := memOptions(fs, fuzzFileBytes, 8<<10)
		if _, err := fs.OpenFile(testPath, fuzzFileBytes); err != nil {
			t.Fatal(err)
		}
		copy(fs.bytes(testPath), image)
		original := bytes.Clone(fs.bytes(testPath))
		trim := Position(trimBlocks) * blockSize

		w, err := Open(opts, trim)
		if err != nil {
			return // e.g. a superblock of an unknown version
		}
		var got []replayed
		if err := w.Replay(func(end Position, e Entry) error {
			got = append(got, replayed{end, e})
			return nil
		}); err != nil {
			return // e.g. a record of an unknown version
		}
		verifyReplayed(t, original, trim, got)

		extra := Entry{Stream: 7, BaseOffset: 7, Data: []byte("extra")}
		if _, err := w.Append([]Entry{extra}); err != nil {
			t.Fatalf("Append after Replay: %v", err)
		}
		w.Close()
		_, again := openReplay(t, opts, trim)
		wantEntries(t, again, append(entriesOf(got), extra))
	})
}

// verifyReplayed re-reads, with its own decoding, the records that the
// replayed entries claim to come from.
func verifyReplayed(t *testing.T, image []byte, trim Position, got []replayed) {
	ring := int64(len(image) - superblockSize)
	pos := trim
	for i := 0; i < len(got); {
		hdr := image[superblockSize+int64(pos)%ring:]
		be := binary.BigEndian
		if be.Uint32(hdr[0:4]) != recordMagic || be.Uint32(hdr[28:32]) != crc32.Checksum(hdr[:28], castagnoli) ||
			Position(be.Uint64(hdr[8:16])) != pos {
			t.Fatalf("entry %d: no valid record header at position %d", i, pos)
		}
		if hdr[5]&flagWrap != 0 {
			pos += Position(ring - int64(pos)%ring)
			continue
		}
		bodyLength := int64(be.Uint32(hdr[16:20]))
		end := pos + Position(alignUp(headerSize+bodyLength))
		body := hdr[headerSize : headerSize+bodyLength]
		if crc32.Checksum(body, castagnoli) != be.Uint32(hdr[20:24]) {
			t.Fatalf("entry %d: record at %d has a bad body CRC", i, pos)
		}
		for n := be.Uint32(hdr[24:28]); n > 0; n-- {
			r := got[i]
			size := int(be.Uint32(body[16:20]))
			if r.end != end || r.e.Stream != be.Uint64(body[0:8]) || r.e.BaseOffset != int64(be.Uint64(body[8:16])) ||
				!bytes.Equal(r.e.Data, body[entryHeaderSize:entryHeaderSize+size]) {
				t.Fatalf("entry %d does not match the record at %d", i, pos)
			}
			body = body[entryHeaderSize+size:]
			i++
		}
		pos = end
	}
}

// FuzzBody: checkBody accepts exactly what nextEntry can walk.
func FuzzBody(f *testing.F) {
	body := make([]byte, 0, 64)
	for _, e := range []Entry{{1, 2, []byte("abc")}, {3, 4, nil}} {
		b := make([]byte, entryHeaderSize+len(e.Data))
		putEntry(b, &e)
		body = append(body, b...)
	}
	f.Add(body, uint32(2))
	f.Add(body[:10], uint32(1))
	f.Fuzz(func(t *testing.T, body []byte, count uint32) {
		if !checkBody(body, count) {
			return
		}
		total := 0
		for rest := body; len(rest) > 0; count-- {
			var e Entry
			e, rest = nextEntry(rest)
			total += entryHeaderSize + len(e.Data)
		}
		if count != 0 || total != len(body) {
			t.Fatalf("checkBody accepted a body that walks to count %d, %d of %d bytes", count, total, len(body))
		}
	})
}
