package bench

import (
	"context"
	"math"
	"time"
)

// Clock is the time source of a Pacer; tests inject a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil returns when the clock reads t or later, or with
	// ctx's error when ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pacer hands out send times on a fixed absolute schedule: the n-th send is
// due at start + offset + n/rate, whatever happened to the sends before it.
// A sender that falls behind (a blocked Produce, a stalled broker) gets the
// overdue times at once and catches up in a burst, and its latency is
// measured from the due time; so a stall is charged to every record that
// should have gone out during it (no coordinated omission). A Pacer
// belongs to one goroutine.
type Pacer struct {
	clock Clock
	start time.Time
	rate  float64 // sends per second
	next  int64   // index of the next send
}

// NewPacer paces at rate sends per second from start, the first send due at
// start+offset (producers sharing a total rate use offsets to interleave).
func NewPacer(clock Clock, start time.Time, offset time.Duration, ratePerSecond float64) *Pacer {
	return &Pacer{clock: clock, start: start.Add(offset), rate: ratePerSecond}
}

// Due returns the time the n-th send is scheduled for. It is computed from
// n, not by adding intervals, so rounding never accumulates into drift.
func (p *Pacer) Due(n int64) time.Time {
	return p.start.Add(time.Duration(math.Round(float64(n) * 1e9 / p.rate)))
}

// Next waits until the next send is due and returns its due time; when it
// is already overdue, Next returns at once.
func (p *Pacer) Next(ctx context.Context) (time.Time, error) {
	due := p.Due(p.next)
	p.next++
	return due, p.WaitFor(ctx, due)
}

// WaitFor waits until due (at once when it has passed) or until ctx ends.
// A pacer of bytes rather than sends waits for Due(bytes so far).
func (p *Pacer) WaitFor(ctx context.Context, due time.Time) error {
	if p.clock.Now().Before(due) {
		if err := p.clock.SleepUntil(ctx, due); err != nil {
			return err
		}
	}
	return ctx.Err()
}
