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
//
// StealPercent is the share of the machine's CPU time (all CPUs, from
// /proc/stat) that the hypervisor gave to other guests while this one had
// work for it: on a shared virtual machine, a stall no process on it
// caused. It is 0 where the kernel does not account steal (bare metal).
type MachinePressure struct {
	CPUSomePercent float64 `json:"cpu_some_percent"`
	IOSomePercent  float64 `json:"io_some_percent"`
	StealPercent   float64 `json:"steal_percent"`
}

// pressureSnapshot is the cumulative stall time MachinePressure is a
// difference of; ok is false where PSI cannot be read (not Linux, a kernel
// without it, or a container that hides it).
type pressureSnapshot struct {
	at          time.Time
	cpuUs, ioUs uint64
	cpu         cpuTimes
	ok          bool
}

func takePressureSnapshot() pressureSnapshot {
	s := pressureSnapshot{at: time.Now()}
	cpu, err1 := readPressureSome("/proc/pressure/cpu")
	io, err2 := readPressureSome("/proc/pressure/io")
	times, err3 := readCPUTimes()
	if err1 == nil && err2 == nil && err3 == nil {
		s.cpuUs, s.ioUs, s.cpu, s.ok = cpu, io, times, true
	}
	return s
}

// since is the pressure over the window from earlier to s, or nil.
func (s pressureSnapshot) since(earlier pressureSnapshot) *MachinePressure {
	wall := s.at.Sub(earlier.at).Microseconds()
	if !s.ok || !earlier.ok || wall <= 0 || s.cpuUs < earlier.cpuUs || s.ioUs < earlier.ioUs {
		return nil
	}
	steal, ok := s.cpu.stealPercent(earlier.cpu)
	if !ok {
		return nil
	}
	return &MachinePressure{
		CPUSomePercent: round2(100 * float64(s.cpuUs-earlier.cpuUs) / float64(wall)),
		IOSomePercent:  round2(100 * float64(s.ioUs-earlier.ioUs) / float64(wall)),
		StealPercent:   steal,
	}
}

// cpuTimes is the machine's cumulative CPU time in clock ticks, from the
// "cpu" line of /proc/stat: all of it, and the part stolen by the
// hypervisor.
type cpuTimes struct {
	total, steal uint64
}

// stealPercent is the share of the CPU time from earlier to t that was
// stolen, rounded to hundredths; ok is false when the counters went
// backwards. A window shorter than a clock tick (10 ms) may see no tick
// at all, and none stolen.
func (t cpuTimes) stealPercent(earlier cpuTimes) (float64, bool) {
	if t.total < earlier.total || t.steal < earlier.steal {
		return 0, false
	}
	if t.total == earlier.total {
		return 0, true
	}
	return round2(100 * float64(t.steal-earlier.steal) / float64(t.total-earlier.total)), true
}

func readCPUTimes() (cpuTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}, err
	}
	return parseCPUTimes(b)
}

// parseCPUTimes reads the summary line of /proc/stat: "cpu  user nice
// system idle iowait irq softirq steal guest guest_nice". The total is
// the first eight fields: guest time is already counted in user and nice.
func parseCPUTimes(b []byte) (cpuTimes, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return cpuTimes{}, errors.New("bench: no \"cpu\" line with a steal field in /proc/stat")
	}
	var t cpuTimes
	for i, v := range f[1:9] {
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return cpuTimes{}, err
		}
		t.total += n
		if i == 7 {
			t.steal = n
		}
	}
	return t, nil
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
