package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// scrapeTimeout bounds one read of the broker's metrics endpoint.
const scrapeTimeout = 5 * time.Second

// brokerRSS returns the broker's resident memory in bytes and where it
// came from: /proc/<pid>/status when pid > 0, else the Prometheus gauge
// process_resident_memory_bytes at metricsURL. Neither given: source "".
func brokerRSS(ctx context.Context, pid int, metricsURL string) (int64, string, error) {
	switch {
	case pid > 0:
		v, err := procRSS(fmt.Sprintf("/proc/%d/status", pid))
		return v, "proc", err
	case metricsURL != "":
		v, err := scrapeRSS(ctx, metricsURL)
		return v, "metrics", err
	}
	return 0, "", nil
}

// procRSS reads VmRSS (in kB) from a /proc/<pid>/status file.
func procRSS(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("bench: %s: odd VmRSS line %q", path, sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: %s: %w", path, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: %s: %w", path, err)
	}
	return 0, fmt.Errorf("bench: %s has no VmRSS", path)
}

// scrapeRSS reads process_resident_memory_bytes from a Prometheus text
// exposition.
func scrapeRSS(ctx context.Context, url string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("bench: metrics url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench: scrape %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes")
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		fields := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return 0, fmt.Errorf("bench: scrape %s: %w", url, err)
		}
		return int64(v), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	return 0, fmt.Errorf("bench: %s has no process_resident_memory_bytes", url)
}
