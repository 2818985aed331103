//go:build !unix

package bench

// raiseNoFile is a no-op where there is no RLIMIT_NOFILE.
func raiseNoFile() (uint64, error) { return 0, nil }
