package wal

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
)

const testPath = "/wal/wal-000.log"

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// memOptions returns options for a WAL of capacityBytes on fs.
func memOptions(fs FS, capacityBytes int64, maxWriteBytes int) Options {
	return Options{Path: testPath, CapacityBytes: capacityBytes, MaxWriteBytes: maxWriteBytes, FS: fs, Logger: quietLogger}
}

// replayed is one entry as Replay reported it.
type replayed struct {
	end Position
	e   Entry
}

// openReplay opens a WAL and replays it, failing the test on any error.
func openReplay(t testing.TB, opts Options, trim Position) (*WAL, []replayed) {
	t.Helper()
	w, err := Open(opts, trim)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var got []replayed
	err = w.Replay(func(end Position, e Entry) error {
		got = append(got, replayed{end, e})
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return w, got
}

// makeEntries returns n entries with sizes in [minSize, maxSize] whose data
// encodes their stream and offset, so mix-ups show.
func makeEntries(rng *rand.Rand, n, minSize, maxSize int, stream uint64, offset int64) []Entry {
	out := make([]Entry, n)
	for i := range out {
		size := minSize
		if maxSize > minSize {
			size += rng.IntN(maxSize - minSize + 1)
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(int64(j) + offset*7 + int64(stream))
		}
		out[i] = Entry{Stream: stream, BaseOffset: offset, Data: data}
		offset++
	}
	return out
}

// wantEntries fails unless got holds exactly want, in order.
func wantEntries(t testing.TB, got []replayed, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("replayed %d entries, want %d%s", len(got), len(want), firstDiff(got, want))
	}
	if d := firstDiff(got, want); d != "" {
		t.Fatal(d)
	}
}

func firstDiff(got []replayed, want []Entry) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i].e, want[i]
		if g.Stream != w.Stream || g.BaseOffset != w.BaseOffset || !bytes.Equal(g.Data, w.Data) {
			return fmt.Sprintf("; entry %d: got stream %d offset %d len %d, want stream %d offset %d len %d",
				i, g.Stream, g.BaseOffset, len(g.Data), w.Stream, w.BaseOffset, len(w.Data))
		}
	}
	return ""
}

func entriesOf(rs []replayed) []Entry {
	out := make([]Entry, len(rs))
	for i, r := range rs {
		out[i] = r.e
	}
	return out
}

func mustAppend(t testing.TB, w *WAL, entries []Entry) Position {
	t.Helper()
	end, err := w.Append(entries)
	if err != nil {
		t.Fatalf("Append(%d entries): %v", len(entries), err)
	}
	return end
}
