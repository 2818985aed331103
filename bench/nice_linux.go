package bench

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// setProcessNice sets the nice value of every thread of this process. On
// Linux a nice value belongs to a thread, and a new thread takes its
// creator's: once every thread has it, the Go runtime's later threads do
// too. A second pass catches a thread started during the first.
func setProcessNice(nice int) error {
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("bench: nice: %w", err)
		}
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil {
				continue
			}
			if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
				return fmt.Errorf("bench: nice %d for thread %d: %w", nice, tid, err)
			}
		}
	}
	return nil
}
