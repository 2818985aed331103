package actors

import "testing"

// A change to the cold-read rate replaces the budget; the same rate keeps
// it, with its tokens (so that a change to another dynamic config does not
// refill it); no limit, written either way, removes it.
func TestSetColdReadRate(t *testing.T) {
	b := &Broker{}
	b.setColdReadRate(1 << 20)
	first := b.coldBudget.Load()
	if first == nil || first.Limit() != 1<<20 {
		t.Fatalf("1 MiB/s: budget %v", first)
	}
	b.setColdReadRate(1 << 20)
	if b.coldBudget.Load() != first {
		t.Error("the same rate replaced the budget, refilling it")
	}
	b.setColdReadRate(2 << 20)
	if got := b.coldBudget.Load(); got == first || got.Limit() != 2<<20 {
		t.Errorf("2 MiB/s: budget %v", got)
	}
	for _, none := range []int64{0, unlimited} {
		b.setColdReadRate(none)
		if got := b.coldBudget.Load(); got != nil {
			t.Errorf("rate %d: budget %v, want none", none, got)
		}
	}
}
