package wal

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestTornLastRecord damages the last record in several ways; replay must
// stop before it with everything earlier intact, and the writer must carry
// on from there.
func TestTornLastRecord(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(rec []byte)
	}{
		{"magic", func(rec []byte) { rec[0] ^= 0xff }},
		{"version without fixing the CRC", func(rec []byte) { rec[4] = 2 }},
		{"position", func(rec []byte) { rec[9] ^= 1 }},
		{"body length", func(rec []byte) { rec[18] ^= 1 }},
		{"header CRC", func(rec []byte) { rec[30] ^= 0x10 }},
		{"first body byte", func(rec []byte) { rec[headerSize] ^= 1 }},
		{"last data byte", func(rec []byte) { rec[headerSize+2*entryHeaderSize+2*5000-1] ^= 0x80 }},
		{"second block lost", func(rec []byte) { clear(rec[blockSize : 2*blockSize]) }},
		{"header block lost", func(rec []byte) { clear(rec[:blockSize]) }},
		{"body CRC fixed but entry length wrong", func(rec []byte) {
			body := rec[headerSize : headerSize+2*(entryHeaderSize+5000)]
			binary.BigEndian.PutUint32(body[16:20], 6000)
			binary.BigEndian.PutUint32(rec[20:24], crc32.Checksum(body, castagnoli))
			binary.BigEndian.PutUint32(rec[28:32], crc32.Checksum(rec[:28], castagnoli))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newMemFS()
			opts := memOptions(fs, 1<<20, 0)
			rng := rand.New(rand.NewPCG(11, 12))
			w, _ := openReplay(t, opts, 0)
			a := makeEntries(rng, 7, 1, 9000, 2, 0)
			mustAppend(t, w, a[:3])
			endA := mustAppend(t, w, a[3:])
			mustAppend(t, w, makeEntries(rng, 2, 5000, 5000, 2, 7)) // one 3-block record
			w.Close()

			off := superblockSize + int64(endA)
			tt.corrupt(fs.bytes(testPath)[off : off+3*blockSize])

			w, got := openReplay(t, opts, 0)
			wantEntries(t, got, a)
			if w.End() != endA {
				t.Fatalf("End %d after recovery, want %d", w.End(), endA)
			}
			b := makeEntries(rng, 1, 100, 100, 3, 0)
			mustAppend(t, w, b)
			w.Close()
			_, got = openReplay(t, opts, 0)
			wantEntries(t, got, append(a, b...))
		})
	}
}

// TestUnknownVersionFails: a record that checks out but has a newer version
// must not be mistaken for the end of the log.
func TestUnknownVersionFails(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	mustAppend(t, w, []Entry{{Data: []byte("x")}})
	w.Close()
	rec := fs.bytes(testPath)[superblockSize:]
	rec[4] = formatVersion + 1
	binary.BigEndian.PutUint32(rec[28:32], crc32.Checksum(rec[:28], castagnoli))
	w, err := Open(opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Replay(func(Position, Entry) error { return nil }); err == nil {
		t.Fatal("Replay accepted a record of an unknown version")
	}
}

// TestPreviousLapNotReplayed fills exactly one lap with valid records, so that
// the whole ring checks out; from the start of the second lap nothing of the
// first may come back.
func TestPreviousLapNotReplayed(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	one := []Entry{{Stream: 5, Data: make([]byte, 1000)}}
	for w.End() < Position(w.Capacity()) {
		w.Trim(mustAppend(t, w, one))
	}
	lap := w.End()
	if lap != Position(w.Capacity()) {
		t.Fatalf("first lap ended at %d, ring is %d", lap, w.Capacity())
	}
	w.Close()

	w, got := openReplay(t, opts, lap)
	if len(got) != 0 {
		t.Fatalf("replayed %d entries of the previous lap", len(got))
	}
	rng := rand.New(rand.NewPCG(13, 14))
	want := makeEntries(rng, 3, 1, 1000, 6, 0)
	for _, e := range want {
		mustAppend(t, w, []Entry{e})
	}
	w.Close()
	_, got = openReplay(t, opts, lap)
	wantEntries(t, got, want)
}
