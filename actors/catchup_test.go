package actors

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A read from the log cache is a catch-up read, metered by the cold path's
// budget, only when it starts more than catchUpBehindBytes behind the end of
// the log, in data cached more than catchUpBehindAge before; dropped heads
// and a truncated tail keep the distance right.
func TestCatchingUpFromCache(t *testing.T) {
	const mib = 1 << 20
	now := time.Now().UnixNano()
	old, fresh := now-int64(10*time.Second), now-int64(100*time.Millisecond)
	l := &partitionLog{}
	p := &partition{b: &Broker{coldBudget: rate.NewLimiter(mib, coldBudgetBurst)}, log: l}
	// 16 batches of 1 MiB, offsets 10i to 10i+9: twelve cached 10 s ago,
	// the last four 100 ms ago (a fast partition's last moments).
	for i := range 16 {
		at := old
		if i >= 12 {
			at = fresh
		}
		l.appendBatch(cachedBatch{base: int64(10 * i), last: int64(10*i + 9), data: make([]byte, mib), appended: at})
	}
	check := func(what string, off int64, want bool) {
		t.Helper()
		if got := p.catchingUp(l.findCached(off), now); got != want {
			t.Errorf("%s: offset %d catching up %v, want %v", what, off, got, want)
		}
	}
	check("16 MiB behind, in old data", 0, true)
	check("5 MiB behind, in old data", 115, true)
	check("4 MiB behind, in data of the last 100 ms", 120, false)
	check("1 MiB behind, in data of the last 100 ms", 155, false)

	for range 10 {
		l.dropHead()
	}
	check("6 MiB behind after ten heads dropped", 100, true)

	l.truncate(120) // the four fresh batches
	check("1 MiB behind after the truncation", 110, true)
	l.appendBatch(cachedBatch{base: 120, last: 129, data: make([]byte, 3*mib), appended: fresh})
	check("the fresh 3 MiB batch appended after it", 120, false)

	// Old data, but within catchUpBehindBytes of the end: a tail reader of
	// a slow partition that paused.
	small := &partitionLog{}
	p.log = small
	l = small
	for i := range 8 { // 8 batches of 128 KiB
		small.appendBatch(cachedBatch{base: int64(i), last: int64(i), data: make([]byte, 128<<10), appended: old})
	}
	check("640 KiB behind, in old data", 3, true)
	check("512 KiB behind, in old data", 4, false)

	p.b.coldBudget = nil
	check("no budget to meter with", 0, false)
}
