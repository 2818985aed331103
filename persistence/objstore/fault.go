package objstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Op names one Store method, as a bit so that a fault can cover several.
type Op uint8

// The operations a FaultStore can fault.
const (
	OpPut Op = 1 << iota
	OpGet
	OpHead
	OpList
	OpDelete

	// AllOps covers every method.
	AllOps = OpPut | OpGet | OpHead | OpList | OpDelete
)

func (op Op) String() string {
	switch op {
	case OpPut:
		return "put"
	case OpGet:
		return "get"
	case OpHead:
		return "head"
	case OpList:
		return "list"
	case OpDelete:
		return "delete"
	default:
		return fmt.Sprintf("ops(%#x)", uint8(op))
	}
}

// FaultStore wraps a Store and injects faults on command, for tests of what
// the broker does when object storage fails or stalls. Faults last until
// Recover. With several faults set, a call first waits (Stall, then Delay)
// and then fails (Fail).
//
// Tests synchronise with WaitBlocked rather than sleeping: stall the store,
// start the code under test, WaitBlocked until it is stuck in the store,
// assert, Recover.
type FaultStore struct {
	inner Store

	// mu guards every field below; it is never held while waiting or while
	// calling inner.
	mu    sync.Mutex
	scope Op            // operations the faults apply to
	err   error         // returned instead of calling inner, if not nil
	delay time.Duration // added before each call
	stall bool          // calls wait until Recover
	// recovered is closed by Recover, releasing every waiting call, and
	// replaced by a fresh channel for the next faults.
	recovered chan struct{}
	// blocked counts calls now waiting in a Stall or Delay; blockedChanged
	// is closed and replaced whenever it changes, to wake WaitBlocked.
	blocked        int
	blockedChanged chan struct{}
	calls          [5]int64 // calls per Op bit, faulted or not
}

var (
	_ Store       = (*FaultStore)(nil)
	_ PacedPutter = (*FaultStore)(nil)
)

// NewFaultStore wraps inner with no faults set.
func NewFaultStore(inner Store) *FaultStore {
	return &FaultStore{
		inner:          inner,
		scope:          AllOps,
		recovered:      make(chan struct{}),
		blockedChanged: make(chan struct{}),
	}
}

// Fail makes every call in scope return err (wrapped with the operation and
// key) without reaching the wrapped store.
func (f *FaultStore) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Delay makes every call in scope wait d (or until Recover or its context
// ends) before going on.
func (f *FaultStore) Delay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Stall makes every call in scope wait until Recover or until its context
// ends: an upload that hangs.
func (f *FaultStore) Stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stall = true
}

// Scope limits the faults to the given operations (AllOps by default), e.g.
// OpPut to stall uploads while cold reads go on. It stays set across
// Recover.
func (f *FaultStore) Scope(ops Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scope = ops
}

// Recover clears every fault and releases the calls waiting in a Stall or
// Delay; they then proceed to the wrapped store.
func (f *FaultStore) Recover() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.delay, f.stall = nil, 0, false
	close(f.recovered)
	f.recovered = make(chan struct{})
}

// Calls returns how many calls of op have been made, faulted or not.
func (f *FaultStore) Calls(op Op) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var total int64
	for bit := range f.calls {
		if op&(1<<bit) != 0 {
			total += f.calls[bit]
		}
	}
	return total
}

// WaitBlocked returns once at least n calls are waiting in a Stall or Delay,
// or with ctx's error.
func (f *FaultStore) WaitBlocked(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		blocked, changed := f.blocked, f.blockedChanged
		f.mu.Unlock()
		if blocked >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fault is one call's view of the faults, taken when the call starts.
type fault struct {
	err       error
	delay     time.Duration
	stall     bool
	recovered <-chan struct{}
}

func (f *FaultStore) begin(op Op) fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for bit := range f.calls {
		if op == 1<<bit {
			f.calls[bit]++
		}
	}
	if f.scope&op == 0 {
		return fault{}
	}
	return fault{err: f.err, delay: f.delay, stall: f.stall, recovered: f.recovered}
}

func (f *FaultStore) addBlocked(delta int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocked += delta
	close(f.blockedChanged)
	f.blockedChanged = make(chan struct{})
}

// inject applies the faults in force when the call began. A nil return means
// the call goes on to the wrapped store.
func (f *FaultStore) inject(ctx context.Context, op Op, key string) error {
	current := f.begin(op)
	if !current.stall && current.delay <= 0 && current.err == nil {
		return nil
	}
	if current.stall || current.delay > 0 {
		if recovered, err := f.wait(ctx, current); recovered || err != nil {
			return err
		}
	}
	if current.err != nil {
		return fmt.Errorf("objstore: injected %s fault on %q: %w", op, key, current.err)
	}
	return nil
}

// wait blocks for a stall or delay. recovered reports that Recover released
// the call, which then skips the remaining faults.
func (f *FaultStore) wait(ctx context.Context, current fault) (recovered bool, err error) {
	f.addBlocked(1)
	defer f.addBlocked(-1)
	var timeout <-chan time.Time
	if !current.stall {
		timer := time.NewTimer(current.delay)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-current.recovered:
		return true, nil
	case <-timeout:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Put injects faults, then calls the wrapped store.
func (f *FaultStore) Put(ctx context.Context, key string, data []byte) error {
	if err := f.inject(ctx, OpPut, key); err != nil {
		return err
	}
	return f.inner.Put(ctx, key, data)
}

// PutPaced injects faults (as Put), then puts through the wrapped store with
// the same pace.
func (f *FaultStore) PutPaced(ctx context.Context, key string, data []byte, pace Pacer) error {
	if err := f.inject(ctx, OpPut, key); err != nil {
		return err
	}
	return PutPaced(ctx, f.inner, key, data, pace)
}

// Get injects faults, then calls the wrapped store.
func (f *FaultStore) Get(ctx context.Context, key string, offset, length int64) ([]byte, error) {
	if err := f.inject(ctx, OpGet, key); err != nil {
		return nil, err
	}
	return f.inner.Get(ctx, key, offset, length)
}

// GetInto injects faults (as Get), then calls the wrapped store.
func (f *FaultStore) GetInto(ctx context.Context, key string, offset int64, dst ...[]byte) error {
	if err := f.inject(ctx, OpGet, key); err != nil {
		return err
	}
	return f.inner.GetInto(ctx, key, offset, dst...)
}

// Head injects faults, then calls the wrapped store.
func (f *FaultStore) Head(ctx context.Context, key string) (int64, error) {
	if err := f.inject(ctx, OpHead, key); err != nil {
		return 0, err
	}
	return f.inner.Head(ctx, key)
}

// List injects faults, then calls the wrapped store.
func (f *FaultStore) List(ctx context.Context, prefix string) ([]string, error) {
	if err := f.inject(ctx, OpList, prefix); err != nil {
		return nil, err
	}
	return f.inner.List(ctx, prefix)
}

// Delete injects faults, then calls the wrapped store.
func (f *FaultStore) Delete(ctx context.Context, key string) error {
	if err := f.inject(ctx, OpDelete, key); err != nil {
		return err
	}
	return f.inner.Delete(ctx, key)
}
