//go:build !linux

package bench

import "errors"

// setProcessIdle is Linux only (see sched_linux.go).
func setProcessIdle() error {
	return errors.New("bench: a consumer process runs under SCHED_IDLE on Linux only")
}
