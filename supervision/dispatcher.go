package supervision

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// PoolDispatcher runs mailbox activations on a fixed set of worker goroutines.
// protoactor's default dispatcher starts a goroutine per activation; with many
// small actors under load that let latency reach seconds, while a pool of
// GOMAXPROCS workers kept it at tens of milliseconds (see LIBRARIES.md).
//
// Schedule never blocks: an event-loop goroutine sends to partition actors and
// must not wait. The queue is bounded by the number of actors on the pool,
// since a mailbox schedules at most one activation at a time.
type PoolDispatcher struct {
	throughput int

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []func() // guarded by mu
	head    int      // guarded by mu
	stopped bool     // guarded by mu

	depth atomic.Int64 // len(queue)-head, for the gauge
	wg    sync.WaitGroup
}

// NewPoolDispatcher starts workers goroutines. throughput is how many messages
// one activation handles before yielding its worker.
func NewPoolDispatcher(workers, throughput int) *PoolDispatcher {
	d, _ := newPoolDispatcher(workers, throughput, nil)
	return d
}

// NewNicedDispatcher starts workers goroutines, each wired for good to an OS
// thread of its own that runs at CPU priority nice (1 to 19: below the rest
// of the process, whose threads are at 0). When the CPUs are short, the
// kernel runs the process's other threads first — the network loops, the
// WAL, the partition actors — and these when a CPU is free. An activation
// may block its worker (a read from the object store), as on protoactor's
// default dispatcher; so that no actor waits for another's I/O, give the
// dispatcher as many workers as actors.
//
// If a thread's priority cannot be set, the dispatcher works on at normal
// priority and the error is returned.
func NewNicedDispatcher(workers, nice int) (*PoolDispatcher, error) {
	d, err := newPoolDispatcher(workers, 0, func() error { return lockNiced(nice) })
	if err != nil {
		err = fmt.Errorf("supervision: lowering a worker thread's priority to nice %d: %w", nice, err)
	}
	return d, err
}

// lockNiced wires the calling goroutine to its OS thread for the rest of its
// life and sets that thread's nice value (on Linux, setpriority given a
// thread id changes that thread alone). The goroutine never unlocks: when it
// returns, the runtime ends the thread rather than hand a lowered thread to
// other goroutines.
func lockNiced(nice int) error {
	runtime.LockOSThread()
	return setThreadNice(nice)
}

// setThreadNice sets the calling thread's nice value; a variable so that a
// test can make it fail (as it does for an unprivileged process asked for
// a value below its own).
var setThreadNice = func(nice int) error {
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), nice)
}

// newPoolDispatcher starts the workers; each runs setup first, if given, and
// newPoolDispatcher returns once every setup has, with the first error.
func newPoolDispatcher(workers, throughput int, setup func() error) (*PoolDispatcher, error) {
	if workers < 1 {
		workers = 1
	}
	if throughput < 1 {
		throughput = 300
	}
	d := &PoolDispatcher{throughput: throughput}
	d.cond = sync.NewCond(&d.mu)
	d.wg.Add(workers)
	errs := make(chan error, workers)
	for i := 0; i < workers; i++ {
		go func() {
			if setup != nil {
				errs <- setup()
			}
			d.work()
		}()
	}
	var first error
	for i := 0; setup != nil && i < workers; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return d, first
}

// Schedule queues fn for a worker.
func (d *PoolDispatcher) Schedule(fn func()) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.queue = append(d.queue, fn)
	d.depth.Add(1)
	d.mu.Unlock()
	d.cond.Signal()
}

// Throughput implements actor.Dispatcher.
func (d *PoolDispatcher) Throughput() int { return d.throughput }

// QueueDepth is the number of activations waiting for a worker.
func (d *PoolDispatcher) QueueDepth() int64 { return d.depth.Load() }

// Stop lets the workers finish what is queued and waits for them.
func (d *PoolDispatcher) Stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cond.Broadcast()
	d.wg.Wait()
}

func (d *PoolDispatcher) work() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for d.head == len(d.queue) && !d.stopped {
			d.cond.Wait()
		}
		if d.head == len(d.queue) {
			d.mu.Unlock()
			return
		}
		fn := d.queue[d.head]
		d.queue[d.head] = nil
		d.head++
		if d.head == len(d.queue) {
			d.queue = d.queue[:0]
			d.head = 0
		}
		d.depth.Add(-1)
		d.mu.Unlock()
		fn()
	}
}
