// Package yield copies large buffers in steps that let the Go scheduler in.
//
// A copy into memory the process has not touched before runs at the speed of
// page faults, not of memmove: on the Firecracker VMs floe is measured on a
// fresh page costs about 18 µs, so 64 MiB takes a third of a second. The
// runtime cannot preempt a goroutine inside memmove (it is assembly with no
// safe points), and a loop of append calls has no other preemption point, so
// such a copy holds its P for its whole length and a stop-the-world waits
// for it with the other P idle. A Produce behind it waits too: compaction's
// object assembly once held both Ps for 384 ms this way (runtime trace, see
// docs/benchmarks.md).
//
// Copy and Counter break a copy into steps of Step bytes and call
// runtime.Gosched between them, which costs about a microsecond when nothing
// else is runnable.
package yield

import "runtime"

// Step is how many bytes are copied between two yields: 1 MiB, at most about
// 5 ms of page faults on the slowest memory measured.
const Step = 1 << 20

// Copy is copy(dst, src) for large buffers: it copies Step bytes at a time
// and yields the processor between steps.
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	for done := 0; done < n; {
		step := min(Step, n-done)
		copy(dst[done:done+step], src[done:done+step])
		if done += step; done < n {
			runtime.Gosched()
		}
	}
	return n
}

// Counter yields the processor each time Step more bytes have been counted:
// for loops that copy many small pieces (appending record batches to an
// object), where no single copy is long but all of them together are.
// The zero value is ready to use; a Counter belongs to one goroutine.
type Counter struct{ pending int }

// Add counts n bytes copied and yields if a step is complete.
func (c *Counter) Add(n int) {
	if c.pending += n; c.pending >= Step {
		c.pending = 0
		runtime.Gosched()
	}
}
