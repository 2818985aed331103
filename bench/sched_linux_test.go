package bench

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// allThreadsIdle checks that every thread of this process runs under
// SCHED_IDLE.
func allThreadsIdle() error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, task := range tasks {
		tid, err := strconv.Atoi(task.Name())
		if err != nil {
			continue
		}
		attr, err := unix.SchedGetAttr(tid, 0)
		if err == unix.ESRCH {
			continue // the thread ended
		}
		if err != nil {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
		if attr.Policy != unix.SCHED_IDLE {
			return fmt.Errorf("thread %d under policy %d, want SCHED_IDLE (%d threads)", tid, attr.Policy, len(tasks))
		}
	}
	return nil
}
