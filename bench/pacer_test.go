package bench

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeClock moves only when a sleeper asks it to, or when the test says.
type fakeClock struct {
	now    time.Time
	sleeps []time.Time // every SleepUntil target, in order
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.sleeps = append(c.sleeps, t)
	if t.After(c.now) {
		c.now = t
	}
	return nil
}

func TestPacerSchedulesByAbsoluteTime(t *testing.T) {
	start := time.Unix(1_000, 0)
	clock := &fakeClock{now: start}
	p := NewPacer(clock, start, 0, 1000) // one send per millisecond
	ctx := context.Background()
	ms := func(n int64) time.Time { return start.Add(time.Duration(n) * time.Millisecond) }

	for n := range int64(5) {
		due, err := p.Next(ctx)
		if err != nil || !due.Equal(ms(n)) || !clock.now.Equal(ms(n)) {
			t.Fatalf("send %d: due %v at %v (err %v), want both %v", n, due.Sub(start), clock.now.Sub(start), err, ms(n).Sub(start))
		}
	}
	if len(clock.sleeps) != 4 { // the first send was due at once
		t.Fatalf("slept %d times, want 4", len(clock.sleeps))
	}

	// The sender stalls for 10.5 ms (a blocked Produce). The sends due
	// meanwhile come out at once, each still carrying its own due time,
	// so their latency is measured from when they should have gone.
	clock.now = ms(4).Add(10500 * time.Microsecond)
	sleeps := len(clock.sleeps)
	for n := int64(5); n <= 14; n++ {
		due, err := p.Next(ctx)
		if err != nil || !due.Equal(ms(n)) {
			t.Fatalf("overdue send %d: due %v (err %v), want %v", n, due.Sub(start), err, ms(n).Sub(start))
		}
	}
	if len(clock.sleeps) != sleeps {
		t.Fatalf("slept while behind schedule: %v", clock.sleeps[sleeps:])
	}
	// Back on schedule: the next send waits for its slot, not for
	// "now + interval".
	if due, _ := p.Next(ctx); !due.Equal(ms(15)) || !clock.now.Equal(ms(15)) {
		t.Fatalf("after catching up: due %v, clock %v, want 15ms", due.Sub(start), clock.now.Sub(start))
	}
}

func TestPacerDoesNotDrift(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(&fakeClock{now: start}, start, 0, 3) // 333.33… ms apart
	if got, want := p.Due(3_000_000), start.Add(1_000_000*time.Second); !got.Equal(want) {
		t.Fatalf("send 3e6 due %v after start, want %v", got.Sub(start), want.Sub(start))
	}
}

func TestPacerOffsetsInterleaveProducers(t *testing.T) {
	start := time.Unix(0, 0)
	clock := &fakeClock{now: start}
	// Two producers sharing 2000/s: each at 1000/s, the second half a
	// period later, as startProducers sets them up.
	a := NewPacer(clock, start, 0, 1000)
	b := NewPacer(clock, start, 500*time.Microsecond, 1000)
	for n := range int64(3) {
		if got := a.Due(n).Sub(start); got != time.Duration(n)*time.Millisecond {
			t.Errorf("a[%d] = %v", n, got)
		}
		if got := b.Due(n).Sub(start); got != time.Duration(n)*time.Millisecond+500*time.Microsecond {
			t.Errorf("b[%d] = %v", n, got)
		}
	}
}

func TestPacerStopsWithContext(t *testing.T) {
	start := time.Unix(0, 0)
	p := NewPacer(&fakeClock{now: start}, start, time.Second, 10)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Next after cancel: %v", err)
	}
}
