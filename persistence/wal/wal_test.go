package wal

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name          string
		capacityBytes int64
		maxWriteBytes int
		groups        []int // entries per Append
		minSize       int
		maxSize       int
	}{
		{"one small entry", 4 * mib, 0, []int{1}, 100, 100},
		{"empty data", 4 * mib, 0, []int{3}, 0, 0},
		{"exactly one block", 4 * mib, 0, []int{1}, blockSize - headerSize - entryHeaderSize, blockSize - headerSize - entryHeaderSize},
		{"one byte over a block", 4 * mib, 0, []int{1}, blockSize - headerSize - entryHeaderSize + 1, blockSize - headerSize - entryHeaderSize + 1},
		{"many small entries in one append", 4 * mib, 0, []int{2000}, 1, 300},
		{"many appends", 4 * mib, 0, []int{1, 5, 17, 1, 1, 64, 3}, 1, 3000},
		{"group bigger than MaxWriteBytes", 4 * mib, 16 << 10, []int{200}, 500, 1500},
		{"entries bigger than MaxWriteBytes", 4 * mib, 8 << 10, []int{3, 1, 4}, 20 << 10, 100 << 10},
		{"mixed huge and tiny", 8 * mib, 16 << 10, []int{10, 10}, 1, 600 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			fs := newMemFS()
			opts := memOptions(fs, tt.capacityBytes, tt.maxWriteBytes)
			w, got := openReplay(t, opts, 0)
			if len(got) != 0 {
				t.Fatalf("new WAL replayed %d entries", len(got))
			}
			var want []Entry
			var ends []Position
			offset := int64(0)
			for _, n := range tt.groups {
				entries := makeEntries(rng, n, tt.minSize, tt.maxSize, uint64(n), offset)
				offset += int64(n)
				end := mustAppend(t, w, entries)
				if end != w.End() || end%blockSize != 0 {
					t.Fatalf("Append returned %d, End %d", end, w.End())
				}
				want = append(want, entries...)
				ends = append(ends, end)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w2, got := openReplay(t, opts, 0)
			defer w2.Close()
			wantEntries(t, got, want)
			if w2.End() != ends[len(ends)-1] {
				t.Fatalf("reopened End %d, want %d", w2.End(), ends[len(ends)-1])
			}
			// The last entry of each Append carries that Append's end.
			i := 0
			for g, n := range tt.groups {
				i += n
				if got[i-1].end != ends[g] {
					t.Fatalf("append %d: last entry end %d, Append returned %d", g, got[i-1].end, ends[g])
				}
			}
		})
	}
}

func TestReplayCopiesData(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	mustAppend(t, w, []Entry{{Stream: 1, Data: []byte("aaaa")}, {Stream: 2, Data: []byte("bbbb")}})
	w.Close()
	_, got := openReplay(t, opts, 0)
	// Appending to one entry's data must not clobber the next one's.
	_ = append(got[0].e.Data, 'X')
	if string(got[1].e.Data) != "bbbb" {
		t.Fatalf("second entry became %q", got[1].e.Data)
	}
}

func TestReopenOnDisk(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Path: filepath.Join(dir, "wal", "wal-000.log"), CapacityBytes: 2 << 20, Logger: quietLogger}
	rng := rand.New(rand.NewPCG(3, 4))
	w, got := openReplay(t, opts, 0)
	if len(got) != 0 {
		t.Fatalf("new WAL replayed %d entries", len(got))
	}
	want := makeEntries(rng, 50, 1, 10000, 9, 0)
	mustAppend(t, w, want[:10])
	mustAppend(t, w, want[10:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w2, got := openReplay(t, opts, 0)
	wantEntries(t, got, want)
	more := makeEntries(rng, 5, 1, 100, 9, 50)
	mustAppend(t, w2, more)
	w2.Close()
	_, got = openReplay(t, opts, 0)
	wantEntries(t, got, append(want, more...))
}

func TestReplayFromTrimPoint(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	w, _ := openReplay(t, opts, 0)
	a := makeEntries(rng, 3, 10, 5000, 1, 0)
	b := makeEntries(rng, 4, 10, 5000, 1, 3)
	c := makeEntries(rng, 2, 10, 5000, 1, 7)
	endA := mustAppend(t, w, a)
	endB := mustAppend(t, w, b)
	mustAppend(t, w, c)
	w.Close()
	for _, tt := range []struct {
		trim Position
		want []Entry
	}{
		{0, append(append(append([]Entry{}, a...), b...), c...)},
		{endA, append(append([]Entry{}, b...), c...)},
		{endB, c},
	} {
		w, got := openReplay(t, opts, tt.trim)
		wantEntries(t, got, tt.want)
		if w.Used() != int64(w.End()-tt.trim) {
			t.Fatalf("Used %d, want %d", w.Used(), w.End()-tt.trim)
		}
		w.Close()
	}
	if _, err := Open(opts, 100); err == nil {
		t.Fatal("Open accepted a trim point that is not a record boundary")
	}
}

// TestWrapAround runs several laps of a small ring, trimming as it goes like
// the uploader would, and checks after each reopen that replay yields exactly
// the untrimmed entries and never anything from a previous lap.
func TestWrapAround(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 64<<10)
	rng := rand.New(rand.NewPCG(7, 8))
	w, _ := openReplay(t, opts, 0)
	var live []replayed // appended, not yet trimmed
	trim := Position(0)
	offset := int64(0)
	for round := 0; w.End() < Position(5*w.Capacity()); round++ {
		entries := makeEntries(rng, 1+rng.IntN(20), 1, 20000, uint64(round%3), offset)
		offset += int64(len(entries))
		end, err := w.Append(entries)
		if errors.Is(err, ErrFull) {
			// Upload "half" of what is live, then trim to a record end.
			cut := len(live) / 2
			trim = live[cut].end
			for len(live) > 0 && live[0].end <= trim {
				live = live[1:]
			}
			w.Trim(trim)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			live = append(live, replayed{end, e})
		}
		if round%25 == 24 {
			w.Close()
			var got []replayed
			w, got = openReplay(t, opts, trim)
			wantEntries(t, got, entriesOf(live))
			// An Append may span several records: an entry's own record
			// ends at or before the end its Append returned.
			for i := range got {
				if got[i].end > live[i].end || (i > 0 && got[i].end < got[i-1].end) {
					t.Fatalf("entry %d: end %d, Append's end %d", i, got[i].end, live[i].end)
				}
			}
		}
	}
	w.Close()
	_, got := openReplay(t, opts, trim)
	wantEntries(t, got, entriesOf(live))
}

func TestFullThenTrim(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	defer w.Close()
	entry := []Entry{{Stream: 1, Data: make([]byte, 3*blockSize)}} // one 4-block record
	var ends []Position
	for {
		end, err := w.Append(entry)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ends = append(ends, end)
	}
	if w.Err() != nil {
		t.Fatalf("ErrFull became sticky: %v", w.Err())
	}
	before := w.End()
	if _, err := w.Append(entry); !errors.Is(err, ErrFull) {
		t.Fatalf("second Append when full: %v", err)
	}
	if w.End() != before || w.Capacity()-w.Used() >= 4*blockSize {
		t.Fatalf("End moved or room left: End %d→%d, free %d", before, w.End(), w.Capacity()-w.Used())
	}
	w.Trim(ends[0])
	w.Trim(ends[0] - blockSize) // backwards: ignored
	if _, err := w.Append(entry); err != nil {
		t.Fatalf("Append after Trim: %v", err)
	}
}

func TestTooLarge(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	defer w.Close()
	half := int(w.Capacity() / 2)
	if _, err := w.Append([]Entry{{Data: make([]byte, half)}}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of half the ring: %v", err)
	}
	if _, err := w.Append(makeEntries(rand.New(rand.NewPCG(1, 1)), 200, 3000, 3000, 1, 0)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Append of 200 × 3000 bytes: %v", err)
	}
	// The biggest allowed Append fits into the emptied ring wherever the
	// write position is, with or without a wrap.
	biggest := []Entry{{Data: make([]byte, int(w.maxAppend)-headerSize-entryHeaderSize)}}
	for _, step := range []int{5000, 300000, 300000, 100000} {
		mustAppend(t, w, []Entry{{Data: make([]byte, step)}})
		w.Trim(w.End())
		mustAppend(t, w, biggest)
		w.Trim(w.End())
	}
}

func TestMisuse(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, err := Open(opts, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]Entry{{Data: []byte("x")}}); err == nil {
		t.Fatal("Append before Replay succeeded")
	}
	if err := w.Replay(func(Position, Entry) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := w.Replay(func(Position, Entry) error { return nil }); err == nil {
		t.Fatal("second Replay succeeded")
	}
	if end, err := w.Append(nil); err != nil || end != 0 {
		t.Fatalf("empty Append: %d, %v", end, err)
	}
	w.Trim(1 << 40) // past End: clamped
	if w.Used() != 0 {
		t.Fatalf("Used %d after trimming past End", w.Used())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Append([]Entry{{}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	if err := w.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	opts.CapacityBytes = 2 << 20
	if _, err := Open(opts, 0); err == nil {
		t.Fatal("Open with a different capacity succeeded")
	}
}

func TestOptions(t *testing.T) {
	o := Options{Path: "x"}
	o.EnsureDefaults()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.CapacityBytes != DefaultCapacityBytes || o.MaxWriteBytes != DefaultMaxWriteBytes || o.FS == nil || o.Logger == nil {
		t.Fatalf("defaults: %+v", o)
	}
	small := Options{Path: "x", CapacityBytes: 1<<20 + 100, MaxWriteBytes: 5000}
	small.EnsureDefaults()
	if small.CapacityBytes != 1<<20 || small.MaxWriteBytes != 8192 {
		t.Fatalf("rounding: %d %d", small.CapacityBytes, small.MaxWriteBytes)
	}
	for _, bad := range []Options{
		{},
		{Path: "x", CapacityBytes: 1<<20 - blockSize},
		{Path: "x", CapacityBytes: 1 << 20, MaxWriteBytes: 1 << 20},
		{Path: "x", MaxWriteBytes: -1},
	} {
		bad.EnsureDefaults()
		if bad.Validate() == nil {
			t.Errorf("Validate accepted %+v", bad)
		}
	}
}

// TestConcurrentObservers runs Trim, Used and End from other goroutines while
// the owner appends, for the race detector.
func TestConcurrentObservers(t *testing.T) {
	fs := newMemFS()
	opts := memOptions(fs, 1<<20, 0)
	w, _ := openReplay(t, opts, 0)
	defer w.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if u := w.Used(); u < 0 || u > w.Capacity() {
				t.Errorf("Used %d out of range", u)
				return
			}
			w.Trim(w.End())
			_ = w.Err()
		}
	}()
	entry := []Entry{{Data: make([]byte, 10000)}}
	for i := 0; i < 2000; i++ {
		if _, err := w.Append(entry); err != nil && !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
