package actors

import (
	"testing"

	"golang.org/x/time/rate"
)

// A read from the log cache is a catch-up read, metered by the cold path's
// budget, only when it starts more than half the partition's cached bytes
// and more than catchUpBehindBytes behind the end of the log; dropped heads
// and a truncated tail keep the distance right.
func TestCatchingUpFromCache(t *testing.T) {
	const mib = 1 << 20
	l := &partitionLog{}
	p := &partition{b: &Broker{}, log: l}
	p.b.coldBudget.Store(rate.NewLimiter(mib, coldBudgetBurst))
	for i := range 16 { // 16 batches of 1 MiB, offsets 10i to 10i+9
		l.appendBatch(cachedBatch{base: int64(10 * i), last: int64(10*i + 9), data: make([]byte, mib)})
	}
	check := func(what string, off int64, want bool) {
		t.Helper()
		if got := p.catchingUp(l.findCached(off)); got != want {
			t.Errorf("%s: offset %d catching up %v, want %v", what, off, got, want)
		}
	}
	check("16 MiB behind", 0, true)
	check("9 MiB behind, more than half of 16", 75, true)
	check("8 MiB behind, half of 16", 80, false)
	check("1 MiB behind", 155, false)

	for range 10 {
		l.dropHead()
	}
	check("6 MiB behind, all of the 6 cached", 100, true)
	check("4 MiB behind", 120, false)

	l.truncate(140) // the last two batches
	check("4 MiB behind after the truncation", 100, false)
	l.appendBatch(cachedBatch{base: 140, last: 149, data: make([]byte, 3*mib)})
	check("7 MiB behind, a 3 MiB batch appended", 100, true)

	p.b.coldBudget.Store(nil)
	check("no budget to meter with", 100, false)
}
