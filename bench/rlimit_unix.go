//go:build unix

package bench

import (
	"fmt"
	"syscall"
)

// raiseNoFile raises the soft limit on open files to the hard limit (the
// connections scenario needs one descriptor per connection) and returns
// the new soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return uint64(lim.Cur), nil
}
