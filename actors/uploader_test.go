package actors

import (
	"context"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/floe-io/floe/persistence/wal"
)

// An upload is spread over UploadSpread of the time its data took to
// gather, at most maxUploadSpread, less the one burst that goes at once.
// The bubble's clock makes the times exact.
func TestUploadPaceSpreadsOverGathering(t *testing.T) {
	for _, test := range []struct {
		gathered time.Duration
		want     time.Duration
	}{
		{gathered: time.Second, want: 375 * time.Millisecond},      // over 0.5 s: 8 MiB/s, 3 MiB after the burst
		{gathered: 4 * time.Second, want: 1500 * time.Millisecond}, // over 2 s
		{gathered: time.Minute, want: 1500 * time.Millisecond},     // over maxUploadSpread, not 30 s
	} {
		synctest.Test(t, func(t *testing.T) {
			u := &uploader{b: &Broker{cfg: Config{UploadSpread: 0.5}}}
			const size = 4 << 20
			pace := u.uploadPace(size, test.gathered)
			if pace == nil {
				t.Fatalf("gathered %v: no pace", test.gathered)
			}
			start := time.Now()
			for range size / (256 << 10) { // as an S3 body asks
				if err := pace(context.Background(), 256<<10); err != nil {
					t.Fatal(err)
				}
			}
			if took := time.Since(start); took != test.want {
				t.Fatalf("gathered %v: 4 MiB took %v, want %v", test.gathered, took, test.want)
			}
		})
	}
}

// Some uploads go at once: with spreading off, an empty object, a retry
// after a failure, and a WAL half full.
func TestUploadPaceAtOnce(t *testing.T) {
	w, err := wal.Open(wal.Options{Path: filepath.Join(t.TempDir(), "wal.log"), CapacityBytes: 1 << 20}, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	if err := w.Replay(func(wal.Position, wal.Entry) error { return nil }); err != nil {
		t.Fatal(err)
	}
	b := &Broker{cfg: Config{UploadSpread: 0.5}, deps: Deps{WALs: []*wal.WAL{w}}}
	u := &uploader{b: b}
	if u.uploadPace(1<<20, time.Second) == nil {
		t.Fatal("an empty WAL: no pace, want one")
	}
	if u.uploadPace(0, time.Second) != nil {
		t.Error("an empty object is paced")
	}
	b.cfg.UploadSpread = 0
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Error("paced with UploadSpread 0")
	}
	b.cfg.UploadSpread = 0.5
	u.backoff = 100 * time.Millisecond
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Error("a retry after a failure is paced")
	}
	u.backoff = 0
	for w.Used() < w.Capacity()/2 {
		if _, err := w.Append([]wal.Entry{{Stream: 1, Data: make([]byte, 200<<10)}}); err != nil {
			t.Fatal(err)
		}
	}
	if u.uploadPace(1<<20, time.Second) != nil {
		t.Errorf("paced with the WAL %.0f%% full", 100*b.walFullness())
	}
}
