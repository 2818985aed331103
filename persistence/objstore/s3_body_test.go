package objstore

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/synctest"
	"time"
)

// A paced body paces an attempt for at most its limit and sends the rest at
// once; rewound for a retry, it paces again from the start. The bubble's
// clock makes the times exact: a pace of 100 ms a quantum, a limit of
// 250 ms, ten quanta.
func TestPacedBodyLimitsAnAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := patterned(10 * pacedBodyQuantum)
		var calls int
		pace := func(ctx context.Context, n int) error {
			calls++
			time.Sleep(100 * time.Millisecond)
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		body := newPacedBody(ctx, cancel, data, pace, 250*time.Millisecond)
		for attempt := 1; attempt <= 2; attempt++ {
			calls = 0
			start := time.Now()
			got, err := io.ReadAll(body)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("attempt %d: read %d bytes, %v; want the %d bytes", attempt, len(got), err, len(data))
			}
			if took := time.Since(start); calls != 3 || took != 300*time.Millisecond {
				t.Fatalf("attempt %d: %d paces in %v, want 3 in 300ms (the rest at once past 250ms)", attempt, calls, took)
			}
			if _, err := body.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
		}
	})
}
