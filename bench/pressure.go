package bench

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"strconv"
	"time"
)

// MachinePressure is the bench machine's Linux pressure stall information
// (/proc/pressure, PSI) over one window: the share of wall time in which
// at least one task was runnable but waited for a CPU, and in which at
// least one waited for I/O. When the broker runs on the bench's machine, a
// rise here during the catch-up is contention for the machine itself,
// which no process's own numbers show: a Go program's scheduler latency
// counts waits for a P, not for a CPU.
type MachinePressure struct {
	CPUSomePercent float64 `json:"cpu_some_percent"`
	IOSomePercent  float64 `json:"io_some_percent"`
}

// pressureSnapshot is the cumulative stall time MachinePressure is a
// difference of; ok is false where PSI cannot be read (not Linux, a kernel
// without it, or a container that hides it).
type pressureSnapshot struct {
	at          time.Time
	cpuUs, ioUs uint64
	ok          bool
}

func takePressureSnapshot() pressureSnapshot {
	s := pressureSnapshot{at: time.Now()}
	cpu, err1 := readPressureSome("/proc/pressure/cpu")
	io, err2 := readPressureSome("/proc/pressure/io")
	if err1 == nil && err2 == nil {
		s.cpuUs, s.ioUs, s.ok = cpu, io, true
	}
	return s
}

// since is the pressure over the window from earlier to s, or nil.
func (s pressureSnapshot) since(earlier pressureSnapshot) *MachinePressure {
	wall := s.at.Sub(earlier.at).Microseconds()
	if !s.ok || !earlier.ok || wall <= 0 || s.cpuUs < earlier.cpuUs || s.ioUs < earlier.ioUs {
		return nil
	}
	return &MachinePressure{
		CPUSomePercent: round2(100 * float64(s.cpuUs-earlier.cpuUs) / float64(wall)),
		IOSomePercent:  round2(100 * float64(s.ioUs-earlier.ioUs) / float64(wall)),
	}
}

func readPressureSome(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parsePressureSome(b)
}

// parsePressureSome returns the total (µs) of the "some" line of a PSI
// file: "some avg10=1.80 avg60=3.74 avg300=9.35 total=14089747829".
func parsePressureSome(b []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || string(f[0]) != "some" {
			continue
		}
		for _, kv := range f[1:] {
			if v, ok := bytes.CutPrefix(kv, []byte("total=")); ok {
				return strconv.ParseUint(string(v), 10, 64)
			}
		}
	}
	return 0, errors.New("bench: no \"some ... total=\" in pressure file")
}
