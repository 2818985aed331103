//go:build !linux

package bench

import "errors"

// setProcessNice is Linux only (see nice_linux.go).
func setProcessNice(int) error {
	return errors.New("bench: a consumer process's nice value is set on Linux only")
}
