//go:build !linux

package bench

import "errors"

// allThreadsIdle is Linux only (see sched_linux_test.go).
func allThreadsIdle() error { return errors.New("SCHED_IDLE is Linux only") }
