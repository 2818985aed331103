package supervision

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadNice reads the nice value of the calling goroutine's current OS
// thread. Lock the goroutine to its thread first, or the answer may be
// another thread's.
func threadNice() (int, error) {
	return niceOf("/proc/thread-self/stat")
}

// niceOf reads field 19 of a /proc stat file, the nice value.
func niceOf(statPath string) (int, error) {
	stat, err := os.ReadFile(statPath)
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// the fields after it start with field 3.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return strconv.Atoi(fields[19-3])
}

// nicedThreads lists the process's threads at the given nice value.
func nicedThreads(nice int) []string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var at []string
	for _, task := range tasks {
		if n, err := niceOf("/proc/self/task/" + task.Name() + "/stat"); err == nil && n == nice {
			at = append(at, task.Name())
		}
	}
	return at
}

func TestNicedDispatcherRunsActivationsOnNicedThreads(t *testing.T) {
	runtime.LockOSThread()
	own, err := threadNice()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	if own != 0 {
		t.Fatalf("the test's own thread is at nice %d; the test needs 0 to tell them apart", own)
	}
	d, err := NewNicedDispatcher(3, 7)
	if err != nil {
		t.Fatal(err)
	}
	const activations = 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		nices = map[int]int{}
	)
	wg.Add(activations)
	for range activations {
		d.Schedule(func() {
			defer wg.Done()
			n, err := threadNice()
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			nices[n]++
			mu.Unlock()
		})
	}
	wg.Wait()
	d.Stop()
	if len(nices) != 1 || nices[7] != activations {
		t.Fatalf("activations by their thread's nice value: %v; want all %d at 7", nices, activations)
	}
	waitNoThreadsAt(t, 7, "after Stop")
}

// waitNoThreadsAt fails the test unless, within 5 s, no thread of the
// process is at the given nice value: a worker's thread ends with it (the
// runtime ends a locked thread shortly after its goroutine returns), so
// none is left for other goroutines to run on. The main thread is the
// exception: the runtime never ends it, and wedges it instead, running
// nothing.
func waitNoThreadsAt(t *testing.T, nice int, when string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for left := nicedThreads(nice); len(left) > 0 && !slices.Equal(left, []string{strconv.Itoa(os.Getpid())}); left = nicedThreads(nice) {
		if time.Now().After(deadline) {
			t.Fatalf("threads %v are still at nice %d %s", left, nice, when)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// When a worker's priority cannot be set, NewNicedDispatcher says so and
// still returns a dispatcher that runs every activation (at normal
// priority), so that the caller can log the error and go on.
func TestNicedDispatcherWorksWhenPriorityFails(t *testing.T) {
	set := setThreadNice
	t.Cleanup(func() { setThreadNice = set })
	setThreadNice = func(int) error { return unix.EPERM }
	d, err := NewNicedDispatcher(2, 5)
	if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "nice 5") {
		t.Fatalf("error %v, want EPERM for nice 5", err)
	}
	if d == nil {
		t.Fatal("no dispatcher")
	}
	defer d.Stop()
	var wg sync.WaitGroup
	wg.Add(10)
	for range 10 {
		d.Schedule(wg.Done)
	}
	wg.Wait()
}
