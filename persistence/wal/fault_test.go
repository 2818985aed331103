package wal

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestStorageErrorsAreSticky(t *testing.T) {
	tests := []struct {
		name   string
		inject func(*FaultFS)
	}{
		{"failed write", func(f *FaultFS) { f.FailNthWrite(1) }},
		{"failed sync", func(f *FaultFS) { f.FailNthSync(1) }},
		{"failed superblock write", func(f *FaultFS) { f.FailNthWrite(1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := NewFaultFS(newMemFS())
			opts := memOptions(fs, 1<<20, 0)
			rng := rand.New(rand.NewPCG(21, 22))
			w, _ := openReplay(t, opts, 0)
			acked := makeEntries(rng, 3, 1, 5000, 1, 0)
			if tt.name != "failed superblock write" {
				mustAppend(t, w, acked) // the first Append also writes the superblock
			} else {
				acked = nil
			}
			end := w.End()

			tt.inject(fs)
			_, err := w.Append(makeEntries(rng, 2, 1, 5000, 1, 3))
			if !errors.Is(err, ErrStorage) || !errors.Is(err, ErrInjected) {
				t.Fatalf("Append with a fault: %v", err)
			}
			if w.End() != end {
				t.Fatalf("End moved to %d after a failed Append", w.End())
			}
			fs.Heal()
			if _, err := w.Append(makeEntries(rng, 1, 1, 10, 1, 5)); !errors.Is(err, ErrStorage) {
				t.Fatalf("Append after a storage error: %v", err)
			}
			if !errors.Is(w.Err(), ErrStorage) {
				t.Fatalf("Err() = %v", w.Err())
			}
			w.Close()

			// After a crash only what an Append reported durable comes back.
			if err := fs.Crash(nil); err != nil {
				t.Fatal(err)
			}
			_, got := openReplay(t, opts, 0)
			wantEntries(t, got, acked)
		})
	}
}

func TestCrashDropsUnsyncedWrites(t *testing.T) {
	fs := NewFaultFS(newMemFS())
	opts := memOptions(fs, 1<<20, 16<<10)
	rng := rand.New(rand.NewPCG(23, 24))
	w, _ := openReplay(t, opts, 0)
	var acked []Entry
	for i := range 5 {
		e := makeEntries(rng, 4, 1, 9000, 1, int64(4*i))
		mustAppend(t, w, e)
		acked = append(acked, e...)
	}
	fs.FailNthSync(1)
	if _, err := w.Append(makeEntries(rng, 30, 1, 9000, 1, 20)); !errors.Is(err, ErrStorage) {
		t.Fatalf("Append with a failing sync: %v", err)
	}
	// The unsynced records are in the file now (a reopen without a crash
	// would see them); a crash takes them away.
	if err := fs.Crash(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append(acked[:1]); err == nil {
		t.Fatal("Append on a crashed WAL succeeded")
	}
	_, got := openReplay(t, opts, 0)
	wantEntries(t, got, acked)
}

// TestStaleRecordAfterCrash: a crash tears the first of two records but the
// second lands. Recovery stops at the first; a new record then ends exactly
// where the stale second one starts. After another crash the stale record
// must not be replayed: its offsets were reused by the new record.
func TestStaleRecordAfterCrash(t *testing.T) {
	fs := NewFaultFS(newMemFS())
	opts := memOptions(fs, 1<<20, blockSize) // one 3000-byte entry per record
	w, _ := openReplay(t, opts, 0)
	a := Entry{Stream: 1, BaseOffset: 0, Data: make([]byte, 3000)}
	b := Entry{Stream: 1, BaseOffset: 1, Data: make([]byte, 3000)}
	c := Entry{Stream: 1, BaseOffset: 2, Data: make([]byte, 3000)}
	if end := mustAppend(t, w, []Entry{a}); end != blockSize {
		t.Fatalf("first record ended at %d", end)
	}
	fs.FailNthSync(1)
	if _, err := w.Append([]Entry{b, c}); err == nil {
		t.Fatal("Append with a failing sync succeeded")
	}
	cOffset := int64(superblockSize + 2*blockSize)
	if err := fs.Crash(func(off int64) bool { return off == cOffset }); err != nil {
		t.Fatal(err)
	}

	inner := fs.inner.(*memFS)
	if _, ok, _ := decodeHeader(inner.bytes(testPath)[cOffset:]); !ok {
		t.Fatal("test setup: the stale record did not survive the crash")
	}
	w, got := openReplay(t, opts, 0)
	wantEntries(t, got, []Entry{a})
	d := Entry{Stream: 1, BaseOffset: 1, Data: make([]byte, 3000)}
	if end := mustAppend(t, w, []Entry{d}); end != 2*blockSize {
		t.Fatalf("new record ends at %d, want %d (where the stale one starts)", end, 2*blockSize)
	}
	if err := fs.Crash(nil); err != nil {
		t.Fatal(err)
	}
	w, got = openReplay(t, opts, 0)
	wantEntries(t, got, []Entry{a, d})
	w.Close()
	// Starting right at the stale record's position finds nothing either.
	_, got = openReplay(t, opts, 2*blockSize)
	wantEntries(t, got, nil)
}

// TestRandomCrashes runs crash cycles with torn and reordered writes (a random
// subset of each failed Append's blocks survives) on a small ring that wraps.
// Every cycle's replay must return exactly the entries known durable, plus at
// most a prefix of the Append that was cut short.
func TestRandomCrashes(t *testing.T) {
	fs := NewFaultFS(newMemFS())
	opts := memOptions(fs, 1<<20, 32<<10)
	rng := rand.New(rand.NewPCG(25, 26))
	var durable []replayed
	trim := Position(0)
	var cut []Entry // the Append interrupted by the last crash
	offset := int64(0)
	for cycle := range 40 {
		w, got := openReplay(t, opts, trim)
		if len(got) < len(durable) {
			t.Fatalf("cycle %d: replayed %d entries, %d are durable", cycle, len(got), len(durable))
		}
		wantEntries(t, got[:len(durable)], entriesOf(durable))
		extra := got[len(durable):]
		if len(extra) > len(cut) {
			t.Fatalf("cycle %d: %d extra entries, the cut Append had %d", cycle, len(extra), len(cut))
		}
		wantEntries(t, extra, cut[:len(extra)])
		durable = got

		for range rng.IntN(6) {
			entries := makeEntries(rng, 1+rng.IntN(12), 1, 12000, uint64(cycle), offset)
			offset += int64(len(entries))
			end, err := w.Append(entries)
			if errors.Is(err, ErrFull) {
				trim = durable[len(durable)/2].end
				w.Trim(trim)
				for len(durable) > 0 && durable[0].end <= trim {
					durable = durable[1:]
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				durable = append(durable, replayed{end, e})
			}
		}
		cut = makeEntries(rng, 1+rng.IntN(12), 1, 12000, uint64(cycle), offset)
		offset += int64(len(cut))
		if rng.IntN(2) == 0 {
			fs.FailNthSync(1)
		} else {
			fs.FailNthWrite(1 + rng.IntN(2))
		}
		if _, err := w.Append(cut); err == nil {
			// The fault hit a later write than this Append made: it is durable.
			for _, e := range cut {
				durable = append(durable, replayed{w.End(), e})
			}
			cut = nil
		}
		if err := fs.Crash(func(int64) bool { return rng.IntN(2) == 0 }); err != nil {
			t.Fatal(err)
		}
	}
}
