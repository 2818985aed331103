package objstore

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

var errInjected = errors.New("503 SlowDown")

func TestFaultStoreFailAndRecover(t *testing.T) {
	ctx := context.Background()
	store := NewFaultStore(newLocalDir(t))
	mustPut(t, store, "k", []byte("v"))

	store.Fail(errInjected)
	if err := store.Put(ctx, "k2", []byte("v")); !errors.Is(err, errInjected) {
		t.Fatalf("Put error = %v, want the injected error", err)
	}
	if _, err := store.Get(ctx, "k", 0, -1); !errors.Is(err, errInjected) {
		t.Fatalf("Get error = %v, want the injected error", err)
	}
	if _, err := store.Head(ctx, "k"); !errors.Is(err, errInjected) {
		t.Fatalf("Head error = %v, want the injected error", err)
	}
	if _, err := store.List(ctx, ""); !errors.Is(err, errInjected) {
		t.Fatalf("List error = %v, want the injected error", err)
	}
	if err := store.Delete(ctx, "k"); !errors.Is(err, errInjected) {
		t.Fatalf("Delete error = %v, want the injected error", err)
	}

	store.Recover()
	if _, err := store.Head(ctx, "k2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the failed Put reached the store: Head error = %v", err)
	}
	if got, err := store.Get(ctx, "k", 0, -1); err != nil || string(got) != "v" {
		t.Fatalf("Get after Recover = %q, %v", got, err)
	}
	if got := store.Calls(OpGet); got != 2 {
		t.Errorf("Calls(OpGet) = %d, want 2", got)
	}
	if got := store.Calls(AllOps); got != 8 {
		t.Errorf("Calls(AllOps) = %d, want 8", got)
	}
}

func TestFaultStoreScope(t *testing.T) {
	ctx := context.Background()
	store := NewFaultStore(newLocalDir(t))
	mustPut(t, store, "k", []byte("v"))
	store.Scope(OpPut)
	store.Fail(errInjected)
	if err := store.Put(ctx, "k2", nil); !errors.Is(err, errInjected) {
		t.Fatalf("Put error = %v, want the injected error", err)
	}
	if _, err := store.Get(ctx, "k", 0, -1); err != nil {
		t.Fatalf("Get outside the scope failed: %v", err)
	}
}

func TestFaultStoreStallUntilRecover(t *testing.T) {
	ctx := context.Background()
	store := NewFaultStore(newLocalDir(t))
	store.Stall()
	done := make(chan error, 2)
	for _, key := range []string{"a", "b"} {
		go func() { done <- store.Put(ctx, key, []byte(key)) }()
	}
	if err := store.WaitBlocked(ctx, 2); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("a stalled Put returned %v", err)
	default:
	}
	store.Recover()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("Put after Recover: %v", err)
		}
	}
	if keys, _ := store.List(ctx, ""); len(keys) != 2 {
		t.Fatalf("List = %q, want both stalled objects written", keys)
	}
}

func TestFaultStoreStallHonoursContext(t *testing.T) {
	store := NewFaultStore(newLocalDir(t))
	store.Stall()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- store.Put(ctx, "k", nil) }()
	if err := store.WaitBlocked(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Put error = %v, want context.Canceled", err)
	}
}

func TestFaultStoreDelayThenFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewFaultStore(newLocalDir(t))
		store.Delay(30 * time.Second)
		store.Fail(errInjected)
		start := time.Now()
		_, err := store.Head(context.Background(), "k")
		if !errors.Is(err, errInjected) {
			t.Fatalf("Head error = %v, want the injected error", err)
		}
		if waited := time.Since(start); waited != 30*time.Second {
			t.Fatalf("Head waited %v, want 30s", waited)
		}
	})
}

func TestFaultStoreRecoverReleasesDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewFaultStore(newLocalDir(t))
		mustPut(t, store, "k", []byte("v"))
		store.Delay(time.Hour)
		store.Fail(errInjected)
		done := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := store.Get(context.Background(), "k", 0, -1)
			done <- err
		}()
		synctest.Wait()
		store.Recover()
		if err := <-done; err != nil {
			t.Fatalf("Get released by Recover = %v, want success", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("Get waited %v of fake time, want 0", waited)
		}
	})
}

// A paced put through the fault store meets its faults like Put, and
// otherwise reaches the wrapped store with the same pace.
func TestFaultStorePutPaced(t *testing.T) {
	ctx := context.Background()
	store := NewFaultStore(newLocalDir(t))
	store.Fail(errInjected)
	var refused pacerLog
	if err := PutPaced(ctx, store, "k", patterned(3*writebackChunk), refused.pace); !errors.Is(err, errInjected) {
		t.Fatalf("PutPaced error = %v, want the injected error", err)
	}
	if len(refused.calls) != 0 {
		t.Fatalf("a failed PutPaced waited on the pacer for %v", refused.calls)
	}
	store.Recover()
	var log pacerLog
	if err := PutPaced(ctx, store, "k", patterned(3*writebackChunk), log.pace); err != nil {
		t.Fatal(err)
	}
	if want := []int{writebackChunk, writebackChunk, writebackChunk}; !slices.Equal(log.calls, want) {
		t.Fatalf("pacer asked for %v, want the local store's chunks %v", log.calls, want)
	}
	if got := store.Calls(OpPut); got != 2 {
		t.Errorf("Calls(OpPut) = %d, want 2", got)
	}
}
