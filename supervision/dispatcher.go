package supervision

import (
	"sync"
	"sync/atomic"
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
	if workers < 1 {
		workers = 1
	}
	if throughput < 1 {
		throughput = 300
	}
	d := &PoolDispatcher{throughput: throughput}
	d.cond = sync.NewCond(&d.mu)
	d.wg.Add(workers)
	for i := 0; i < workers; i++ {
		go d.work()
	}
	return d
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
