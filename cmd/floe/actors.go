package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/floe-io/floe/supervision"
)

// actorsTop is `floe actors`: a terminal view of /debug/actors, refreshed
// like top.
func actorsTop(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http", "127.0.0.1:9644", "the broker's admin listener")
	interval := fs.Duration("interval", time.Second, "refresh interval")
	sortBy := fs.String("sort", "depth", "sort by depth, rate, p99, restarts or name")
	limit := fs.Int("limit", 40, "rows to show (0 = all)")
	once := fs.Bool("once", false, "print one snapshot and exit")
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "floe actors:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: 5 * time.Second}
	url := "http://" + *addr + "/debug/actors?format=json"
	for {
		view, err := fetchActors(ctx, client, url)
		if err != nil {
			fmt.Fprintln(stderr, "floe actors:", err)
			if *once {
				return 1
			}
		} else {
			if !*once {
				fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear screen
			}
			renderActors(stdout, view, *sortBy, *limit)
		}
		if *once {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*interval):
		}
	}
}

func fetchActors(ctx context.Context, client *http.Client, url string) (supervision.ActorsView, error) {
	var v supervision.ActorsView
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return v, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return v, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

type topRow struct {
	pool string
	supervision.ActorRow
}

func renderActors(w io.Writer, v supervision.ActorsView, sortBy string, limit int) {
	var rows []topRow
	total := map[string]int{}
	for _, p := range v.Pools {
		total[p.Name] = len(p.Actors)
		for _, a := range p.Actors {
			rows = append(rows, topRow{pool: p.Name, ActorRow: a})
		}
	}
	less := map[string]func(a, b topRow) bool{
		"depth": func(a, b topRow) bool {
			return a.MailboxDepth > b.MailboxDepth || a.MailboxDepth == b.MailboxDepth && a.Rate > b.Rate
		},
		"rate":     func(a, b topRow) bool { return a.Rate > b.Rate },
		"p99":      func(a, b topRow) bool { return a.P99Micros > b.P99Micros },
		"restarts": func(a, b topRow) bool { return a.Restarts > b.Restarts },
		"name":     func(a, b topRow) bool { return a.Name < b.Name },
	}[sortBy]
	if less == nil {
		less = func(a, b topRow) bool { return a.MailboxDepth > b.MailboxDepth }
	}
	sort.SliceStable(rows, func(i, j int) bool { return less(rows[i], rows[j]) })
	var pools []string
	for _, p := range v.Pools {
		pools = append(pools, fmt.Sprintf("%s %d", p.Name, total[p.Name]))
	}
	fmt.Fprintf(w, "floe actors  %s  dead letters %d  cpu queue %d  pools: %s\n\n",
		v.Time.Format("15:04:05"), v.DeadLetters, v.CPUDispatcherWait, strings.Join(pools, ", "))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "POOL\tACTOR\tMAILBOX\tMSG/S\tP99 µs\tHANDLED\tRESTARTS\t")
	for i, r := range rows {
		if limit > 0 && i == limit {
			break
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%d\t%d\t\n", r.pool, r.Name, r.MailboxDepth, r.Rate, r.P99Micros, r.Handled, r.Restarts)
	}
	_ = tw.Flush()
}
