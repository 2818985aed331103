package bench

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// setProcessIdle puts every thread of this process under SCHED_IDLE: the
// kernel runs it only when no other thread wants the CPU, and any other
// thread that wakes takes the CPU from it at once. On Linux a policy
// belongs to a thread, and a new thread takes its creator's: once every
// thread has it, the Go runtime's later threads do too. A second pass
// catches a thread started during the first.
func setProcessIdle() error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}
	for range 2 {
		err := eachThread(func(tid int) error {
			if err := unix.SchedSetAttr(tid, &attr, 0); err != nil && err != unix.ESRCH {
				return fmt.Errorf("bench: SCHED_IDLE for thread %d: %w", tid, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eachThread calls f with the id of every thread of this process, and
// stops at its first error.
func eachThread(f func(tid int) error) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("bench: threads: %w", err)
	}
	for _, task := range tasks {
		if tid, err := strconv.Atoi(task.Name()); err == nil {
			if err := f(tid); err != nil {
				return err
			}
		}
	}
	return nil
}
