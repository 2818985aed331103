// Package ackcheck is test support for floe's durability tests: it keeps
// what producers were told (which record was acknowledged at which offset)
// and reads a topic back to check that every acknowledged record is there,
// exactly once, where the broker said. It is imported only by _test files.
package ackcheck

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Acked is the acknowledged records of a test run: partition → offset →
// value. Safe for concurrent use by produce promises.
type Acked struct {
	mu    sync.Mutex
	byOff map[int32]map[int64]string // guarded by mu
	clash []string                   // guarded by mu: one offset acknowledged for two values
	count int                        // guarded by mu
}

// NewAcked returns an empty record of acknowledgements.
func NewAcked() *Acked { return &Acked{byOff: make(map[int32]map[int64]string)} }

// Add notes that r was acknowledged at r.Offset.
func (a *Acked) Add(r *kgo.Record) {
	a.mu.Lock()
	defer a.mu.Unlock()
	offs := a.byOff[r.Partition]
	if offs == nil {
		offs = make(map[int64]string)
		a.byOff[r.Partition] = offs
	}
	if prev, ok := offs[r.Offset]; ok && prev != string(r.Value) {
		a.clash = append(a.clash, fmt.Sprintf("p%d offset %d acknowledged for %.12q and %.12q", r.Partition, r.Offset, prev, r.Value))
	}
	offs[r.Offset] = string(r.Value)
	a.count++
}

// Count is the number of acknowledgements noted.
func (a *Acked) Count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}

// Snapshot returns a copy of the acknowledgements, failing the test if the
// broker acknowledged two different records at one offset.
func (a *Acked) Snapshot(t testing.TB) map[int32]map[int64]string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.clash) > 0 {
		t.Fatalf("the broker acknowledged two records at one offset: %v", a.clash[:min(5, len(a.clash))])
	}
	out := make(map[int32]map[int64]string, len(a.byOff))
	for p, offs := range a.byOff {
		out[p] = make(map[int64]string, len(offs))
		for o, v := range offs {
			out[p][o] = v
		}
	}
	return out
}

// ReadBack reads partitions 0..partitions-1 of topic from offset 0 to their
// end offsets and checks that offsets are dense, that no value appears at
// two offsets, that valid (when not nil) accepts every value, and that every
// acknowledged record is at its offset with its value. It returns the number
// of records read.
func ReadBack(t testing.TB, addr, topic string, partitions int32, acked map[int32]map[int64]string, valid func([]byte) bool, opts ...kgo.Opt) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	hwm := make(map[int32]int64)
	starts := make(map[int32]kgo.Offset)
	total := int64(0)
	for p := range partitions {
		o, ok := ends.Lookup(topic, p)
		if !ok {
			t.Fatalf("no end offset for partition %d", p)
		}
		hwm[p] = o.Offset
		total += o.Offset
		starts[p] = kgo.NewOffset().At(0)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	next := make(map[int32]int64)
	where := make(map[string]string, total) // value → "pN@offset"
	got := make(map[int32]map[int64]string)
	for read := int64(0); read < total; {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records: %v (next offsets %v, end offsets %v)", read, total, ctx.Err(), next, hwm)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if r.Offset != next[p] {
				t.Fatalf("p%d: offset %d after %d: offsets not dense", p, r.Offset, next[p]-1)
			}
			if r.Offset >= hwm[p] {
				t.Fatalf("p%d: offset %d at or above the end offset %d", p, r.Offset, hwm[p])
			}
			here := fmt.Sprintf("p%d@%d", p, r.Offset)
			if prev, ok := where[string(r.Value)]; ok {
				t.Fatalf("value %.12q at %s and again at %s", r.Value, prev, here)
			}
			if valid != nil && !valid(r.Value) {
				t.Fatalf("%s: a value the test never produced: %.40q", here, r.Value)
			}
			where[string(r.Value)] = here
			if got[p] == nil {
				got[p] = make(map[int64]string)
			}
			got[p][r.Offset] = string(r.Value)
			next[p]++
			read++
		})
	}
	missing, ackedTotal := 0, 0
	for p, offs := range acked {
		for off, v := range offs {
			ackedTotal++
			if g, ok := got[p][off]; !ok || g != v {
				if missing < 5 {
					t.Errorf("p%d offset %d: acknowledged %.12q, read %.12q (end offset %d)", p, off, v, g, hwm[p])
				}
				missing++
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged records missing or different", missing, ackedTotal)
	}
	t.Logf("read back %d records, %d of them acknowledged; end offsets %v", total, ackedTotal, hwm)
	return total
}

// WaitFor polls cond every 10 ms until it holds or timeout passes, and
// reports whether it held: tests wait on an observable condition, never on
// a guessed duration.
func WaitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}
