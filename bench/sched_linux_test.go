package bench

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// allThreadsIdle checks that every thread of this process runs under
// SCHED_IDLE.
func allThreadsIdle() error {
	return eachThread(func(tid int) error {
		attr, err := unix.SchedGetAttr(tid, 0)
		switch {
		case err == unix.ESRCH:
			return nil // the thread ended
		case err != nil:
			return fmt.Errorf("thread %d: %w", tid, err)
		case attr.Policy != unix.SCHED_IDLE:
			return fmt.Errorf("thread %d under policy %d, want SCHED_IDLE", tid, attr.Policy)
		}
		return nil
	})
}
